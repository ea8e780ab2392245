import { dropDatabase, freshDatabaseUrl } from '@remediation/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, ensureDatabaseExists, openDatabase } from './database.js';
import { isDatabaseUnavailable } from './availability.js';

/**
 * Connections the server kills inside a transaction (pg_terminate_backend, as in a failover) must
 * not stay checked out of the pool (kysely-org/kysely#1990; docs/decisions/0027): against a real
 * PostgreSQL, more such losses than the pool has connections, then ordinary queries.
 */
const databaseUrl = freshDatabaseUrl('pool_guard');
let db: Database;
let admin: pg.Client;
const POOL_MAX = 2;

beforeAll(async () => {
  await ensureDatabaseExists(databaseUrl);
  db = await openDatabase(databaseUrl, { poolMax: POOL_MAX, acquireTimeoutMs: 5_000 });
  admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
}, 60_000);

afterAll(async () => {
  await admin?.end();
  // A pool still holding lost connections never finishes closing (pg-pool waits for them).
  await within(10_000, db?.close() ?? Promise.resolve()).catch(() => undefined);
  await dropDatabase(databaseUrl).catch(() => undefined);
});

/** A transaction whose connection is terminated by the server before its commit. */
async function transactionKilledBeforeCommit(): Promise<unknown> {
  try {
    await db.em().transactional(async (tx) => {
      const [row] = await tx.execute<Array<{ pid: number }>>('select pg_backend_pid() as pid');
      await admin.query('select pg_terminate_backend($1)', [row!.pid]);
      // The server closes the socket; wait until the client has seen it.
      await new Promise((r) => setTimeout(r, 100));
    });
  } catch (err) {
    return err;
  }
  return null;
}

/** `promise`'s value, or an error naming the wait when it takes longer than `ms`. */
function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms: the pool's connections are still held`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

describe('connections lost while checked out', () => {
  it('go back to the pool, so queries after more losses than pool connections still run', async () => {
    for (let i = 0; i < POOL_MAX * 3; i++) {
      const err = await within(4_000, transactionKilledBeforeCommit());
      expect(err, 'the commit on a terminated connection fails').not.toBeNull();
      expect(isDatabaseUnavailable(err)).toBe(true);
    }
    // Before the guard every connection of the pool was held by a dead transaction here, and this
    // query waited for a free one (forever without an acquire timeout).
    const rows = await within(4_000, db.em().execute<Array<{ one: number }>>('select 1 as one'));
    expect(rows).toEqual([{ one: 1 }]);
    const rowsInTx = await within(4_000, db.em().transactional((tx) => tx.execute<Array<{ two: number }>>('select 2 as two')));
    expect(rowsInTx).toEqual([{ two: 2 }]);
  });

  it('a query waiting for a connection gives up after the acquire timeout with a database-unavailable error', async () => {
    const short = await openDatabase(databaseUrl, { poolMax: 1, acquireTimeoutMs: 300 });
    try {
      const holding = short.em().transactional(async (tx) => {
        await tx.execute('select pg_sleep(1.5)');
      });
      const waited = await short.em().execute('select 1').then(
        () => null,
        (err: unknown) => err,
      );
      expect(String((waited as Error)?.message)).toMatch(/timeout exceeded when trying to connect/);
      expect(isDatabaseUnavailable(waited)).toBe(true);
      await holding;
    } finally {
      await short.close();
    }
  });
});
