import type { OutboxBacklog } from '@remediation/metrics';
import type { Database } from './database.js';

/** One outbox row ready to publish. */
export interface OutboxMessage {
  id: number;
  /** Used as `Nats-Msg-Id`, so a republish inside the stream's duplicate window is dropped. */
  msgId: string;
  subject: string;
  payload: Record<string, unknown>;
}

/**
 * Publishes up to `limit` unpublished outbox rows, oldest first (all publishes started at once, in
 * that order), and marks them published, in one transaction holding row locks (`FOR UPDATE SKIP LOCKED`, so several relays share the work).
 * If `publish` throws, the transaction rolls back and the rows stay unpublished (retried later);
 * a crash after publishing but before commit republishes with the same `Nats-Msg-Id`.
 *
 * @returns the number of rows published.
 */
export async function relayOutboxBatch(
  db: Database,
  publish: (message: OutboxMessage) => Promise<void>,
  limit = 100,
  afterPublish?: () => Promise<void>,
): Promise<number> {
  return db.em().transactional(async (tx) => {
    const rows = await tx.execute<Array<{ id: string; msg_id: string; subject: string; payload: Record<string, unknown> }>>(
      'select id, msg_id, subject, payload from outbox where published_at is null order by id limit ? for update skip locked',
      [limit],
    );
    if (rows.length === 0) return 0;
    // All at once: the publishes leave in order on one connection and their acks are awaited
    // together (one round trip per batch instead of one per row).
    await Promise.all(rows.map((row) => publish({ id: Number(row.id), msgId: row.msg_id, subject: row.subject, payload: row.payload })));
    if (afterPublish) await afterPublish();
    await tx.execute(`update outbox set published_at = now() where id in (${rows.map(() => '?').join(', ')})`, rows.map((r) => r.id));
    return rows.length;
  });
}

/**
 * The unpublished outbox rows: how many, and the oldest one's age in seconds (0 when none). One
 * query over the partial index of unpublished rows (a gauge for /metrics).
 */
export async function outboxBacklog(db: Database): Promise<OutboxBacklog> {
  const rows = await db
    .em()
    .execute<Array<{ n: string; age: string | null }>>(
      'select count(*) as n, extract(epoch from now() - min(created_at)) as age from outbox where published_at is null',
    );
  return { messages: Number(rows[0]?.n ?? 0), oldestAgeSeconds: Math.max(0, Number(rows[0]?.age ?? 0)) };
}

const outboxListeners = new WeakMap<Database, Set<() => void>>();

/**
 * Registers `listener` to be called whenever this process commits outbox rows through `db`
 * (`outboxWritten`): the outbox relay publishes them at once instead of at its next poll.
 * @returns a function that removes the listener.
 */
export function onOutboxWritten(db: Database, listener: () => void): () => void {
  let set = outboxListeners.get(db);
  if (!set) outboxListeners.set(db, (set = new Set()));
  set.add(listener);
  return () => set.delete(listener);
}

/** Tells this process's relays (`onOutboxWritten`) that a transaction through `db` committed outbox rows. */
export function outboxWritten(db: Database): void {
  for (const listener of outboxListeners.get(db) ?? []) listener();
}
