import { dropDatabase, freshDatabaseUrl } from '@remediation/testing';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { type Database, ensureDatabaseExists, migrate, openDatabase } from './database.js';

/** `migrate` from several processes at once, against a real PostgreSQL. */
const databaseUrl = freshDatabaseUrl('migrate');
const opened: Database[] = [];

afterAll(async () => {
  for (const db of opened) await db.close();
  await dropDatabase(databaseUrl).catch(() => undefined);
});

describe('migrate', () => {
  it('serialises concurrent callers, applies each migration once and leaves no advisory lock behind', async () => {
    await ensureDatabaseExists(databaseUrl);
    for (let i = 0; i < 3; i++) opened.push(await openDatabase(databaseUrl, { poolMax: 3 }));
    // Keep the pools busy meanwhile, as a service's relay and consumers do.
    let busy = true;
    const load = opened.map(async (db) => {
      while (busy) await db.em().execute('select pg_sleep(0.005)');
    });
    const applied = await Promise.all(opened.map((db) => migrate(db)));
    busy = false;
    await Promise.all(load);
    const all = applied.flat();
    expect(all.length).toBeGreaterThan(0);
    expect(new Set(all).size).toBe(all.length); // no migration applied twice
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      // pg_locks lists the whole server's locks: other tests' migrations (their own databases) may hold the same key at this moment.
      const locks = await client.query(
        `select count(*)::int as n from pg_locks where locktype = 'advisory' and objid = 727001 and database = (select oid from pg_database where datname = current_database())`,
      );
      expect(locks.rows[0].n).toBe(0);
      const rows = await client.query('select count(*)::int as n from schema_migrations');
      expect(rows.rows[0].n).toBe(all.length);
    } finally {
      await client.end();
    }
  });
});
