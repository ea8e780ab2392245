import { Migrator } from '@mikro-orm/migrations';
import { MikroORM, type EntityManager } from '@mikro-orm/postgresql';
import { CompiledQuery } from 'kysely';
import type { Registry } from '@remediation/metrics';
import { ALL_ENTITIES } from './entities.js';
import { releaseLostConnections } from './pool-guard.js';
import { Migration0001Initial } from './migrations/migration-0001-initial.js';
import { Migration0002Durability } from './migrations/migration-0002-durability.js';
import { Migration0003Agent } from './migrations/migration-0003-agent.js';
import { Migration0004PullRequests } from './migrations/migration-0004-pull-requests.js';
import { Migration0005Iterations } from './migrations/migration-0005-iterations.js';
import { Migration0006Tenancy } from './migrations/migration-0006-tenancy.js';
import { Migration0007AdvisoryDatabase } from './migrations/migration-0007-advisory-database.js';
import { Migration0008AdvisoryLookup } from './migrations/migration-0008-advisory-lookup.js';
import { Migration0009ExecutionTargetEcosystem } from './migrations/migration-0009-execution-target-ecosystem.js';
import { Migration0012AdvisoryKeyRanges } from './migrations/migration-0012-advisory-key-ranges.js';
import { Migration0013ExecutionTargetFix } from './migrations/migration-0013-execution-target-fix.js';
import { Migration0016Retention } from './migrations/migration-0016-retention.js';
import { Migration0017NodeWorkspaces } from './migrations/migration-0017-node-workspaces.js';
import { Migration0019ExecutionRetention } from './migrations/migration-0019-execution-retention.js';

/** An open database: the MikroORM instance and a way to get a fresh EntityManager. */
export interface Database {
  readonly orm: MikroORM;
  /** A new EntityManager (own identity map) for one unit of work. */
  em(): EntityManager;
  close(): Promise<void>;
  /** Where this process's domain metrics go (`remediation_execution_transitions_total`, …); none in tools and unit tests. */
  readonly metrics?: Registry;
}

/** Migrations in order. New migrations are appended, never edited once released. */
export const MIGRATIONS = [
  { name: '0001-initial', class: Migration0001Initial },
  { name: '0002-durability', class: Migration0002Durability },
  { name: '0003-agent', class: Migration0003Agent },
  { name: '0004-pull-requests', class: Migration0004PullRequests },
  { name: '0005-iterations', class: Migration0005Iterations },
  { name: '0006-tenancy', class: Migration0006Tenancy },
  { name: '0007-advisory-database', class: Migration0007AdvisoryDatabase },
  { name: '0008-advisory-lookup', class: Migration0008AdvisoryLookup },
  { name: '0009-execution-target-ecosystem', class: Migration0009ExecutionTargetEcosystem },
  { name: '0012-advisory-key-ranges', class: Migration0012AdvisoryKeyRanges },
  { name: '0013-execution-target-fix', class: Migration0013ExecutionTargetFix },
  { name: '0016-retention', class: Migration0016Retention },
  { name: '0017-node-workspaces', class: Migration0017NodeWorkspaces },
  { name: '0019-execution-retention', class: Migration0019ExecutionRetention },
];

/**
 * Opens a PostgreSQL connection pool through MikroORM.
 * @param url PostgreSQL URL, e.g. `postgres://postgres@127.0.0.1:5432/remediation`.
 * @param options.poolMax maximum pool connections (default 10).
 * @param options.acquireTimeoutMs how long a query waits for a free pooled connection before it
 *   fails with "timeout exceeded when trying to connect" (a database-unavailable error the consumer
 *   runtime retries), in ms (default 30,000); never forever.
 * @param options.poolMin pooled connections opened at once and then kept open however long they
 *   are idle (default 0: opened on demand, closed after 10 s idle, pg-pool's `idleTimeoutMillis`);
 *   for a service whose requests use several connections at once (the planner's advisory
 *   look-up, `ADVISORY_LOOKUP_CONNECTIONS`), so a request does not wait for new connections.
 * @param options.metrics the service's metric registry: transitions applied are counted there.
 * @throws the driver's connection error when the database is unreachable.
 */
export async function openDatabase(
  url: string,
  options: { poolMax?: number; poolMin?: number; acquireTimeoutMs?: number; debug?: boolean; metrics?: Registry } = {},
): Promise<Database> {
  const poolMin = Math.min(options.poolMin ?? 0, options.poolMax ?? 10);
  const orm = await MikroORM.init({
    clientUrl: url,
    entities: ALL_ENTITIES,
    extensions: [Migrator],
    migrations: { migrationsList: MIGRATIONS, snapshot: false, silent: true, tableName: 'schema_migrations' },
    pool: { min: poolMin, max: options.poolMax ?? 10 },
    // A connection lost while checked out goes back to the pool at once (kysely-org/kysely#1990,
    // docs/decisions/0027), and no wait for a connection is unbounded.
    driverOptions: { connectionTimeoutMillis: options.acquireTimeoutMs ?? 30_000, onPoolCreated: releaseLostConnections },
    debug: options.debug ?? false,
    allowGlobalContext: false,
    ensureDatabase: false,
  });
  // pg-pool keeps `min` connections once opened but does not open them: open them now, together.
  if (poolMin > 0) {
    const pool = orm.em.getConnection().getClient();
    await Promise.all(Array.from({ length: poolMin }, () => pool.executeQuery(CompiledQuery.raw('select 1'))));
  }
  return {
    orm,
    em: () => orm.em.fork(),
    close: () => orm.close(true),
    ...(options.metrics ? { metrics: options.metrics } : {}),
  };
}

/**
 * Applies pending migrations. Safe to call from several processes at once: a PostgreSQL
 * session advisory lock (key 727001) serialises them. The lock is taken and released on one
 * dedicated connection of `url`: taken through the pool, the unlock could run on another pooled
 * connection (it then fails and the lock stays with a connection the pool keeps busy, so the next
 * process's migrate waited for ever); a dedicated session also releases it when the process dies.
 * @param url the database URL `db` was opened with (defaults to the pool's own configuration).
 * @returns names of the migrations applied now.
 * @throws the driver's error when the database is unreachable or a migration fails.
 */
export async function migrate(db: Database, url: string = db.orm.config.get('clientUrl')!): Promise<string[]> {
  const pg = await import('pg');
  const lock = new pg.default.Client({ connectionString: url });
  await lock.connect();
  try {
    await lock.query('select pg_advisory_lock(727001)');
    const applied = await db.orm.migrator.up();
    return applied.map((m) => m.name);
  } finally {
    await lock.end();
  }
}

/**
 * Creates the database named in `url` if it does not exist, connecting to the `postgres`
 * maintenance database of the same server.
 */
export async function ensureDatabaseExists(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.replace(/^\//, ''));
  if (!/^[A-Za-z0-9_]+$/.test(name)) throw new Error(`database name ${JSON.stringify(name)} must match [A-Za-z0-9_]+`);
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const pg = await import('pg');
  const client = new pg.default.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (found.rowCount === 0) {
      try {
        await client.query(`create database "${name}"`);
      } catch (err) {
        if ((err as { code?: string }).code !== '42P04') throw err; // created concurrently
      }
    }
  } finally {
    await client.end();
  }
}
