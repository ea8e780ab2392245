import { dropDatabase, freshDatabaseUrl } from '@remediation/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, ensureDatabaseExists, migrate, openDatabase } from './database.js';
import { createRemediation } from './remediations.js';
import { DEFAULT_RETENTION, pruneExpired } from './retention.js';

/** pruneExpired against a real PostgreSQL: what is past its retention goes, the rest stays. */
const databaseUrl = freshDatabaseUrl('retention');
let db: Database;
const DAY = 24 * 3600_000;
const NOW = new Date('2026-06-01T00:00:00Z');
const ago = (ms: number) => new Date(NOW.getTime() - ms);

async function sql<T = Record<string, unknown>>(text: string, params: unknown[] = []): Promise<T[]> {
  return db.em().getConnection().execute<T[]>(text, params);
}
const count = async (text: string) => Number((await sql<{ n: string }>(`select count(*) as n from ${text}`))[0]!.n);

beforeAll(async () => {
  await ensureDatabaseExists(databaseUrl);
  db = await openDatabase(databaseUrl, { poolMax: 3 });
  await migrate(db);
  await createRemediation(db, { id: 'rem_ret', codebase: { repository: '/srv/acme/app.git', baseBranch: 'main' }, scan: { bomFormat: 'CycloneDX' }, idempotencyKey: null, worker: 'spec:1' });
  const ex = 'rem_ret.plan.1';
  // Outbox: published long ago (expired), published recently, and never published (kept whatever its age).
  await sql(`insert into outbox (msg_id, subject, payload, created_at, published_at) values
    ('old', 's', '{}', ?, ?), ('recent', 's', '{}', ?, ?), ('unpublished', 's', '{}', ?, null)`, [ago(3 * DAY), ago(3 * DAY), ago(3600_000), ago(3600_000), ago(30 * DAY)]);
  for (let i = 0; i < 25; i++) await sql(`insert into processed_messages (consumer, message_id, processed_at) values ('c', ?, ?)`, [`m${i}`, ago(8 * DAY)]);
  await sql(`insert into processed_messages (consumer, message_id, processed_at) values ('c', 'fresh', ?)`, [ago(DAY)]);
  await sql(`insert into step_attempts (execution_id, step, command, lease_attempt, delivery_count, worker, started_at, heartbeat_at, finished_at, outcome) values
    (?, 'planning', 'plan.run', 1, 1, 'w', ?, ?, ?, 'succeeded'), (?, 'planning', 'plan.run', 2, 1, 'w', ?, ?, null, null), (?, 'planning', 'plan.run', 3, 1, 'w', ?, ?, ?, 'failed')`,
    [ex, ago(40 * DAY), ago(40 * DAY), ago(40 * DAY), ex, ago(40 * DAY), ago(40 * DAY), ex, ago(DAY), ago(DAY), ago(DAY)]);
  await sql(`insert into history (execution_id, event, details, at) values (?, 'heartbeat', '{}', ?), (?, 'heartbeat', '{}', ?), (?, 'tool_call', '{}', ?)`,
    [ex, ago(31 * DAY), ex, ago(DAY), ex, ago(31 * DAY)]);
  await sql(`insert into webhook_deliveries (delivery_id, event, received_at) values ('d-old', 'pull_request', ?), ('d-new', 'pull_request', ?)`, [ago(8 * DAY), ago(DAY)]);
}, 60_000);

afterAll(async () => {
  await db?.close();
  await dropDatabase(databaseUrl).catch(() => undefined);
});

describe('pruneExpired', () => {
  it('deletes only what is past its retention, in batches, and keeps the rest', async () => {
    const transitionsBefore = await count(`history where event <> 'heartbeat'`);
    const counts = await pruneExpired(db, DEFAULT_RETENTION, { batchSize: 10, now: NOW });
    expect(counts).toEqual({ outbox: 1, processed_messages: 25, step_attempts: 1, heartbeats: 1, webhook_deliveries: 1 });
    expect((await sql<{ msg_id: string }>(`select msg_id from outbox where msg_id in ('old', 'recent', 'unpublished') order by msg_id`)).map((r) => r.msg_id)).toEqual(['recent', 'unpublished']);
    expect((await sql<{ message_id: string }>('select message_id from processed_messages')).map((r) => r.message_id)).toEqual(['fresh']);
    // The unfinished attempt stays however old; the recent finished one too.
    expect((await sql<{ lease_attempt: number }>('select lease_attempt from step_attempts order by lease_attempt')).map((r) => r.lease_attempt)).toEqual([2, 3]);
    expect(await count(`history where event = 'heartbeat'`)).toBe(1);
    expect(await count(`history where event <> 'heartbeat'`)).toBe(transitionsBefore); // transitions and named events stay
    expect((await sql<{ delivery_id: string }>('select delivery_id from webhook_deliveries')).map((r) => r.delivery_id)).toEqual(['d-new']);
    // Nothing left to prune: a second sweep deletes nothing.
    expect(Object.values(await pruneExpired(db, DEFAULT_RETENTION, { now: NOW })).every((n) => n === 0)).toBe(true);
  });

  it('a retention of 0 keeps that table forever; another process holding the lock makes the sweep skip', async () => {
    await sql(`insert into outbox (msg_id, subject, payload, created_at, published_at) values ('old2', 's', '{}', ?, ?)`, [ago(3 * DAY), ago(3 * DAY)]);
    expect((await pruneExpired(db, { ...DEFAULT_RETENTION, outboxMs: 0 }, { now: NOW })).outbox).toBe(0);
    const holder = await db.em().transactional(async (tx) => {
      await tx.execute('select pg_advisory_xact_lock(?)', [0x7072756e]);
      return pruneExpired(db, DEFAULT_RETENTION, { now: NOW });
    });
    expect(holder.outbox).toBe(0);
    expect((await pruneExpired(db, DEFAULT_RETENTION, { now: NOW })).outbox).toBe(1);
  });
});
