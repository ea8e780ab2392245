import { dropDatabase, freshDatabaseUrl } from '@remediation/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, ensureDatabaseExists, openDatabase } from './database.js';

/**
 * `openDatabase`'s `poolMin` (the planner keeps its advisory look-up's connections open: a plan
 * then does not wait for new connections, docs/decisions/0028), against a real PostgreSQL:
 * connections of the database counted in `pg_stat_activity`.
 */
const databaseUrl = freshDatabaseUrl('pool_min');
let admin: pg.Client;
const opened: Database[] = [];

beforeAll(async () => {
  await ensureDatabaseExists(databaseUrl);
  admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
}, 60_000);

afterAll(async () => {
  for (const db of opened) await db.close();
  await admin?.end();
  await dropDatabase(databaseUrl).catch(() => undefined);
});

/** Connections to the test database other than the admin's own. */
async function connections(): Promise<number> {
  const { rows } = await admin.query<{ n: string }>(
    'select count(*) as n from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()',
  );
  return Number(rows[0]!.n);
}

describe('openDatabase poolMin', () => {
  it('opens poolMin connections at once and keeps them past the pool idle timeout; without it the idle connection closes', async () => {
    const kept = await openDatabase(databaseUrl, { poolMin: 3 });
    opened.push(kept);
    expect(await connections()).toBe(3);

    const plain = await openDatabase(databaseUrl);
    opened.push(plain);
    await plain.em().execute('select 1');
    expect(await connections()).toBe(4);

    // pg-pool closes connections idle for idleTimeoutMillis (10 s by default) above its minimum.
    await new Promise((r) => setTimeout(r, 11_500));
    expect(await connections()).toBe(3);
    const [row] = await kept.em().execute<Array<{ ok: number }>>('select 1 as ok');
    expect(row!.ok).toBe(1);
    expect(await connections()).toBe(3);
  }, 60_000);

  it('never opens more than poolMax', async () => {
    const db = await openDatabase(databaseUrl, { poolMin: 5, poolMax: 2 });
    opened.push(db);
    // The first test's database still holds its 3.
    expect(await connections()).toBe(3 + 2);
  }, 60_000);
});
