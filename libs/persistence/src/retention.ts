import type { Database } from './database.js';

/**
 * How long operational records are kept, in ms (0 keeps them forever). They only serve delivery
 * and diagnosis; the source of truth (executions, their state history, patch versions, pull
 * requests) is not pruned here.
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

/** Rows deleted per table by one `pruneExpired` call. */
export type PruneCounts = Record<'outbox' | 'processed_messages' | 'step_attempts' | 'heartbeats' | 'webhook_deliveries', number>;

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
 * until a batch comes back short or `maxBatches` per table ran (the next call goes on). Only one
 * process prunes at a time: a batch that cannot take the advisory lock
 * (`pg_try_advisory_xact_lock`) ends the call with what was done.
 * @param now the clock, for tests (default `new Date()`).
 * @returns rows deleted per table.
 * @throws the database's error (the caller logs it and tries at its next interval).
 */
export async function pruneExpired(
  db: Database,
  policy: RetentionPolicy,
  options: { batchSize?: number; maxBatches?: number; now?: Date } = {},
): Promise<PruneCounts> {
  const batchSize = options.batchSize ?? 1000;
  const maxBatches = options.maxBatches ?? 100;
  const now = options.now ?? new Date();
  const counts: PruneCounts = { outbox: 0, processed_messages: 0, step_attempts: 0, heartbeats: 0, webhook_deliveries: 0 };
  for (const t of TABLES) {
    const keepMs = policy[t.policy];
    if (keepMs <= 0) continue;
    const cutoff = new Date(now.getTime() - keepMs);
    for (let batch = 0; batch < maxBatches; batch++) {
      const deleted = await db.em().transactional(async (tx) => {
        const [lock] = await tx.execute<Array<{ ok: boolean }>>('select pg_try_advisory_xact_lock(?) as ok', [PRUNE_LOCK_KEY]);
        if (!lock?.ok) return -1;
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
  return counts;
}
