import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_STREAMS, connectNats, ensureStreams, startOutboxRelay } from '@remediation/messaging';
import { type Database, ensureDatabaseExists, migrate, openDatabase, outboxWritten } from '@remediation/persistence';
import { createLogger } from '@remediation/service-runtime';
import { type OwnNatsServer, startNatsServer } from '@remediation/stack';
import { repoRoot } from '@remediation/testing';
import { dropDatabase, freshDatabaseUrl } from '../support/environment.js';

/**
 * docs/reliability.md scenario 4: a relay killed after publishing and before marking its outbox rows.
 * The republish carries the same `Nats-Msg-Id` and JetStream drops it (inside the duplicate
 * window); beyond the window the consumers' claim/inbox checks apply (processes.test.ts, 4).
 */
let dir: string;
let nats: OwnNatsServer;
let databaseUrl: string;
let db: Database;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rem-relay-'));
  nats = await startNatsServer(join(dir, 'nats'));
  databaseUrl = freshDatabaseUrl('relay');
  await ensureDatabaseExists(databaseUrl);
  db = await openDatabase(databaseUrl);
  await migrate(db);
}, 60_000);

afterAll(async () => {
  await db?.close();
  await nats?.stop();
  await dropDatabase(databaseUrl).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

describe('outbox relay', () => {
  it('4. killed after publishing, before marking: the republish is de-duplicated', async () => {
    const handles = await connectNats(nats.url, 'relay-test');
    await ensureStreams(handles.jsm, DEFAULT_STREAMS);
    for (let i = 1; i <= 3; i++) {
      await db.em().execute('insert into outbox (msg_id, subject, payload) values (?, ?, ?::jsonb)', [
        `rem_test.patch.1:${i}:0`,
        'remediation.evt.v1.default.execution.patch_running',
        JSON.stringify({ n: i }),
      ]);
    }
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/faults/relay-child.ts'], {
      cwd: repoRoot,
      env: { ...process.env, DATABASE_URL: databaseUrl, NATS_URL: nats.url, FAULT_INJECT: 'relay-after-publish=kill' },
      stdio: 'ignore',
    });
    const signal = await new Promise<string | null>((r) => child.once('exit', (_c, s) => r(s)));
    expect(signal).toBe('SIGKILL');
    const unpublished = await db.em().execute<Array<{ n: string }>>('select count(*) as n from outbox where published_at is null');
    expect(Number(unpublished[0]!.n)).toBe(3); // the kill rolled back the marking
    const before = await handles.jsm.streams.info(DEFAULT_STREAMS.events);
    expect(before.state.messages).toBe(3); // but the messages were published

    const relay = startOutboxRelay({ db, js: handles.js, logger: createLogger('relay-test', 'silent') });
    await relay.flush(); // republishes the three rows (or its first tick already did)
    await relay.stop();
    const after = await handles.jsm.streams.info(DEFAULT_STREAMS.events);
    expect(after.state.messages).toBe(3); // republished with the same Nats-Msg-Id: dropped as duplicates
    const left = await db.em().execute<Array<{ n: string }>>('select count(*) as n from outbox where published_at is null');
    expect(Number(left[0]!.n)).toBe(0);
    await handles.close();
  }, 60_000);

  it('publishes rows its own process committed at once, not at its next poll (docs/decisions/0022)', async () => {
    const handles = await connectNats(nats.url, 'relay-wake-test');
    await ensureStreams(handles.jsm, DEFAULT_STREAMS);
    // The relay's transactions, counted: its first tick (a timer at 0 ms) must be over before a row
    // is inserted, or the row would go with that tick instead of waiting for the poll.
    let finished = 0;
    let running = 0;
    const relayDb: Database = {
      ...db,
      em: () => {
        const em = db.em();
        const transactional = em.transactional.bind(em);
        em.transactional = (async (...args: Parameters<typeof transactional>) => {
          running++;
          try {
            return await transactional(...args);
          } finally {
            running--;
            finished++;
          }
        }) as typeof em.transactional;
        return em;
      },
    };
    const relay = startOutboxRelay({ db: relayDb, js: handles.js, logger: createLogger('relay-test', 'silent'), intervalMs: 60_000 });
    try {
      while (finished === 0 || running > 0) await new Promise((r) => setTimeout(r, 10));
      // The first tick is over: the next poll is a minute away.
      const before = (await handles.jsm.streams.info(DEFAULT_STREAMS.events)).state.messages;
      const insert = (n: number) =>
        db.em().execute('insert into outbox (msg_id, subject, payload) values (?, ?, ?::jsonb)', [
          `rem_wake.patch.1:${n}:0`,
          'remediation.evt.v1.default.execution.patch_running',
          JSON.stringify({ n }),
        ]);
      // Without the wake-up the row waits for the poll.
      await insert(1);
      await new Promise((r) => setTimeout(r, 1_000));
      expect((await handles.jsm.streams.info(DEFAULT_STREAMS.events)).state.messages).toBe(before);
      // Woken: published well inside the poll interval.
      const started = Date.now();
      await insert(2);
      outboxWritten(relayDb);
      for (;;) {
        const left = await db.em().execute<Array<{ n: string }>>('select count(*) as n from outbox where published_at is null');
        if (Number(left[0]!.n) === 0) break;
        expect(Date.now() - started).toBeLessThan(10_000);
        await new Promise((r) => setTimeout(r, 20));
      }
      expect((await handles.jsm.streams.info(DEFAULT_STREAMS.events)).state.messages).toBe(before + 2);
    } finally {
      await relay.stop();
      await handles.close();
    }
  }, 60_000);
});
