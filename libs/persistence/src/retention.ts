import { TERMINAL_STATES } from '@remediation/contracts';
import type { Database } from './database.js';

/**
 * How long operational records are kept, in ms (0 keeps them forever). They only serve delivery
 * and diagnosis. The source of truth (executions, their state history, patch versions, pull
 * requests) is pruned per tenant instead, as the tenant's `executionRetentionDays` says
 * ({@link pruneExpiredRemediations}).
 */
export interface RetentionPolicy {
  /** Published outbox rows. Must outlast the stream's duplicate window (10 min), which it protects. */
  outboxMs: number;
  /** Processed-message records (the inbox de-duplicating a redelivered command): past the redelivery horizon. */
  processedMessagesMs: number;
  /** Finished step attempts (worker, delivery count, outcome, error). */
  stepAttemptsMs: number;
  /** Progress heartbeats in the history (`event = 'heartbeat'`); state transitions and named events stay. */
  heartbeatsMs: number;
  /** Received GitHub webhook delivery ids (de-duplication of redeliveries). */
  webhookDeliveriesMs: number;
}

/** Defaults: outbox and inbox 1 day and 7 days, attempts and heartbeats 30 days, webhook deliveries 7 days. */
export const DEFAULT_RETENTION: RetentionPolicy = {
  outboxMs: 24 * 3600_000,
  processedMessagesMs: 7 * 24 * 3600_000,
  stepAttemptsMs: 30 * 24 * 3600_000,
  heartbeatsMs: 30 * 24 * 3600_000,
  webhookDeliveriesMs: 7 * 24 * 3600_000,
};

/**
 * Rows deleted per table by one `pruneExpired` call; `remediations` and `executions` count the
 * finished remediations pruned by their tenant's retention and their executions (the rows below
 * those executions went with them).
 */
export type PruneCounts = Record<'outbox' | 'processed_messages' | 'step_attempts' | 'heartbeats' | 'webhook_deliveries' | 'remediations' | 'executions', number>;

/**
 * Each table's prunable rows older than a cutoff, by the index migration 0016 made for it. `key`
 * names the rows (a primary key or `ctid`); `where` selects expired ones given the cutoff as `?`,
 * oldest first by `order`.
 */
const TABLES: Array<{ count: keyof PruneCounts; table: string; key: string; where: string; order: string; policy: keyof RetentionPolicy }> = [
  { count: 'outbox', table: 'outbox', key: 'id', where: 'published_at is not null and published_at < ?', order: 'published_at', policy: 'outboxMs' },
  { count: 'processed_messages', table: 'processed_messages', key: 'ctid', where: 'processed_at < ?', order: 'processed_at', policy: 'processedMessagesMs' },
  { count: 'step_attempts', table: 'step_attempts', key: 'id', where: 'finished_at is not null and finished_at < ?', order: 'finished_at', policy: 'stepAttemptsMs' },
  { count: 'heartbeats', table: 'history', key: 'id', where: `event = 'heartbeat' and at < ?`, order: 'at', policy: 'heartbeatsMs' },
  { count: 'webhook_deliveries', table: 'webhook_deliveries', key: 'delivery_id', where: 'received_at < ?', order: 'received_at', policy: 'webhookDeliveriesMs' },
];

/** Key of the transaction-level advisory lock that lets one process prune at a time. */
const PRUNE_LOCK_KEY = 0x7072756e; // "prun"

/**
 * Deletes the operational records older than `policy` says, in batches of `batchSize` rows, each
 * batch its own short transaction (no long locks; concurrent writers are not blocked on a table),
 * until a batch comes back short or `maxBatches` per table ran (the next call goes on); then the
 * finished remediations past their tenant's retention ({@link pruneExpiredRemediations}, batches of
 * `remediationBatchSize`). Only one process prunes at a time: a batch that cannot take the advisory
 * lock (`pg_try_advisory_xact_lock`) ends the call with what was done.
 * @param now the clock, for tests (default `new Date()`).
 * @returns rows deleted per table.
 * @throws the database's error (the caller logs it and tries at its next interval).
 */
export async function pruneExpired(
  db: Database,
  policy: RetentionPolicy,
  options: { batchSize?: number; remediationBatchSize?: number; maxBatches?: number; now?: Date } = {},
): Promise<PruneCounts> {
  const batchSize = options.batchSize ?? 1000;
  const maxBatches = options.maxBatches ?? 100;
  const now = options.now ?? new Date();
  const counts: PruneCounts = { outbox: 0, processed_messages: 0, step_attempts: 0, heartbeats: 0, webhook_deliveries: 0, remediations: 0, executions: 0 };
  for (const t of TABLES) {
    const keepMs = policy[t.policy];
    if (keepMs <= 0) continue;
    const cutoff = new Date(now.getTime() - keepMs);
    for (let batch = 0; batch < maxBatches; batch++) {
      const deleted = await db.em().transactional(async (tx) => {
        if (!(await takePruneLock(tx))) return -1;
        const rows = await tx.execute<Array<{ n: string }>>(
          `with expired as (select ${t.key} from ${t.table} where ${t.where} order by ${t.order} limit ?)
           , gone as (delete from ${t.table} where ${t.key} in (select ${t.key} from expired) returning 1)
           select count(*) as n from gone`,
          [cutoff, batchSize],
        );
        return Number(rows[0]?.n ?? 0);
      });
      if (deleted < 0) return counts; // another process is pruning
      counts[t.count] += deleted;
      if (deleted < batchSize) break;
    }
  }
  const pruned = await pruneExpiredRemediations(db, { batchSize: options.remediationBatchSize ?? 50, maxBatches, now });
  counts.remediations = pruned.remediations;
  counts.executions = pruned.executions;
  return counts;
}

type Tx = Parameters<Parameters<ReturnType<Database['em']>['transactional']>[0]>[0];

/** Takes the prune lock for the rest of the transaction; false when another process holds it. */
async function takePruneLock(tx: Tx): Promise<boolean> {
  const [lock] = await tx.execute<Array<{ ok: boolean }>>('select pg_try_advisory_xact_lock(?) as ok', [PRUNE_LOCK_KEY]);
  return lock?.ok === true;
}

/** Pull-request states of a PR still open on the provider (or being opened): its remediation is kept. */
const OPEN_PULL_REQUEST_STATES = ['opening', 'open', 'rebase_failed'] as const;

const sqlList = (values: Iterable<string>) => [...values].map((v) => `'${v}'`).join(', ');

/**
 * A finished remediation `r` past the cutoff `?` (three times): created before it, and every
 * execution terminal (TERMINAL_STATES) and completed before it, and none of its pull requests open.
 * A plan execution is kept while any patch execution of its remediation is (a patch execution reads
 * its plan, and the remediation view needs one), so the unit pruned is the whole remediation.
 */
const FINISHED_BEFORE_CUTOFF = `r.created_at < ?
  and not exists (select 1 from executions e where e.remediation_id = r.id
                   and (e.state not in (${sqlList(TERMINAL_STATES)}) or e.completed_at is null or e.completed_at >= ?))
  and not exists (select 1 from executions e join pull_requests p on p.execution_id = e.id
                   where e.remediation_id = r.id and p.state in (${sqlList(OPEN_PULL_REQUEST_STATES)}))`;

/**
 * Tables below an execution, deleted children first (foreign keys: review feedback → pull
 * requests and feedback; patch versions → iterations → feedback); `plan_packages` and
 * `workspace_owners` cascade.
 * retention.spec.ts checks this covers every foreign key to `executions`.
 */
export const EXECUTION_CHILD_TABLES = [
  'review_feedback',
  'patch_versions',
  'iterations',
  'feedback',
  'agent_conversations',
  'pull_requests',
  'execution_targets',
  'history',
  'step_attempts',
  'plan_packages',
  'workspace_owners',
] as const;

/**
 * Prunes the finished remediations of every tenant with an `execution_retention_days`: a
 * remediation whose executions are all terminal and completed more than that many days before
 * `now`, with no pull request still open, goes with its executions and every row below them
 * (targets, history, step attempts, patch versions, iterations, feedback, agent conversations,
 * pull requests, review feedback, plan packages, workspace owners). Executions that are not terminal are never
 * pruned, nor is their remediation; tenants with a null retention keep everything. Dead letters
 * (operator records, no foreign key) and outbox rows are not touched here.
 *
 * Works in batches of `batchSize` remediations, each its own transaction under the prune advisory
 * lock: the remediation rows and their executions are locked with `skip locked` (a remediation
 * being re-planned, or an execution in a transition, is left for the next sweep), the condition is
 * checked again on the locked rows, then the rows are deleted by their indexes. Stops per tenant
 * when a batch comes back short or `maxBatches` ran.
 * @param now the clock, for tests (default `new Date()`).
 * @returns remediations and executions deleted (another process holding the prune lock ends the call with what was done).
 * @throws the database's error (the caller logs it and tries at its next interval).
 */
export async function pruneExpiredRemediations(
  db: Database,
  options: { batchSize?: number; maxBatches?: number; now?: Date } = {},
): Promise<{ remediations: number; executions: number }> {
  const batchSize = options.batchSize ?? 50;
  const maxBatches = options.maxBatches ?? 100;
  const now = options.now ?? new Date();
  const done = { remediations: 0, executions: 0 };
  const tenants = await db
    .em()
    .execute<Array<{ id: string; days: number }>>('select id, execution_retention_days as days from tenants where execution_retention_days is not null order by id');
  for (const tenant of tenants) {
    const cutoff = new Date(now.getTime() - tenant.days * 24 * 3600_000);
    for (let batch = 0; batch < maxBatches; batch++) {
      const deleted = await db.em().transactional(async (tx) => {
        if (!(await takePruneLock(tx))) return null;
        const candidates = await tx.execute<Array<{ id: string }>>(
          `select r.id from remediations r where r.tenant_id = ? and ${FINISHED_BEFORE_CUTOFF}
           order by r.created_at limit ? for update of r skip locked`,
          [tenant.id, cutoff, cutoff, batchSize],
        );
        if (candidates.length === 0) return { remediations: 0, executions: 0, seen: 0 };
        const ids = candidates.map((c) => c.id);
        // Every execution of a remediation must be locked here, else it is left for the next sweep.
        const all = await tx.execute<Array<{ remediation_id: string; n: string }>>(
          'select remediation_id, count(*) as n from executions where remediation_id in (?) group by remediation_id',
          [ids],
        );
        const locked = await tx.execute<Array<{ remediation_id: string }>>('select remediation_id from executions where remediation_id in (?) for update skip locked', [ids]);
        const lockedCount = new Map<string, number>();
        for (const l of locked) lockedCount.set(l.remediation_id, (lockedCount.get(l.remediation_id) ?? 0) + 1);
        const whole = ids.filter((id) => all.every((a) => a.remediation_id !== id || lockedCount.get(id) === Number(a.n)));
        // The condition again, on the locked rows (a transition committed since the first read is seen now).
        const prunable = whole.length
          ? (await tx.execute<Array<{ id: string }>>(`select r.id from remediations r where r.id in (?) and ${FINISHED_BEFORE_CUTOFF}`, [whole, cutoff, cutoff])).map((r) => r.id)
          : [];
        let executions = 0;
        if (prunable.length) {
          const executionIds = (await tx.execute<Array<{ id: string }>>('select id from executions where remediation_id in (?)', [prunable])).map((e) => e.id);
          if (executionIds.length) {
            for (const table of EXECUTION_CHILD_TABLES) await tx.execute(`delete from ${table} where execution_id in (?)`, [executionIds]);
            await tx.execute('delete from executions where id in (?)', [executionIds]);
            executions = executionIds.length; // all locked above, and a new one needs the remediation's row lock
          }
          await tx.execute('delete from remediations where id in (?)', [prunable]);
        }
        return { remediations: prunable.length, executions, seen: candidates.length };
      });
      if (!deleted) return done; // another process is pruning
      done.remediations += deleted.remediations;
      done.executions += deleted.executions;
      if (deleted.seen < batchSize || deleted.remediations === 0) break; // done, or the rest is busy: the next sweep
    }
  }
  return done;
}
