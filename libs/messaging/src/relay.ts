import type { JetStreamClient } from '@nats-io/jetstream';
import { describeError } from '@remediation/errors';
import { type Database, onOutboxWritten, relayOutboxBatch } from '@remediation/persistence';
import { type Registry, executionMetrics } from '@remediation/metrics';
import type { Logger } from 'pino';

/** A running outbox relay. */
export interface RunningRelay {
  stop(): Promise<void>;
  /** Publishes what is pending now (used by tests and shutdown). */
  flush(): Promise<number>;
}

/**
 * Publishes the transactional outbox to JetStream with `Nats-Msg-Id` = the outbox row's msg id,
 * polling every `intervalMs` (default 100 ms) and immediately again while batches are full, and at
 * once when this process committed outbox rows (`onOutboxWritten`: a step's next command leaves
 * without waiting for the poll; rows of other processes are found by the poll).
 * Several relays (one per app replica) share the work through row locks. While NATS or
 * PostgreSQL is away the rows stay unpublished and are retried: nothing is lost.
 */
export function startOutboxRelay(options: {
  db: Database;
  js: JetStreamClient;
  logger: Logger;
  intervalMs?: number;
  batchSize?: number;
  /** Called when a publish finds no stream (NATS lost its store): recreate the streams. */
  repairStreams?: () => Promise<void>;
  /** Hook for fault tests, called after a batch was published and before it is marked. */
  faultPoint?: (point: string) => Promise<void> | void;
  /** Where published rows are counted (`remediation_outbox_published_total`). */
  metrics?: Registry;
}): RunningRelay {
  const { db, js, logger } = options;
  const intervalMs = options.intervalMs ?? 100;
  const batchSize = options.batchSize ?? 100;
  let stopped = false;
  let running: Promise<number> | null = null;

  const flush = async (): Promise<number> => {
    while (running) await running.catch(() => 0);
    running = relayOutboxBatch(
      db,
      async (m) => {
        await js.publish(m.subject, JSON.stringify(m.payload), { msgID: m.msgId, timeout: 10_000 });
      },
      batchSize,
      async () => {
        await options.faultPoint?.('relay-after-publish');
      },
    );
    try {
      const published = await running;
      if (published && options.metrics) executionMetrics(options.metrics).outboxPublished.inc(published);
      return published;
    } finally {
      running = null;
    }
  };

  let timer: NodeJS.Timeout | undefined;
  let failures = 0;
  let ticking = false;
  /** Set when rows were written while a tick ran: the next tick starts at once. */
  let woken = false;
  const tick = async () => {
    if (stopped) return;
    ticking = true;
    let next = intervalMs;
    try {
      const n = await flush();
      failures = 0;
      if (n >= batchSize) next = 0;
    } catch (err) {
      failures++;
      next = Math.min(5_000, intervalMs * 2 ** failures);
      if (/no responders|stream not found|503/i.test(describeError(err)) && options.repairStreams) {
        await options.repairStreams().catch(() => undefined);
      }
      if (failures === 1 || failures % 20 === 0) logger.warn({ err: describeError(err) }, 'outbox relay failed; retrying');
    }
    ticking = false;
    if (!stopped) timer = setTimeout(tick, woken ? 0 : next);
    woken = false;
  };
  // While publishing fails (NATS away) the backoff stands: wakes are ignored.
  const wake = () => {
    if (stopped || failures > 0) return;
    if (ticking) {
      woken = true;
      return;
    }
    if (timer) clearTimeout(timer);
    timer = setTimeout(tick, 0);
  };
  const unsubscribe = onOutboxWritten(db, wake);
  timer = setTimeout(tick, 0);

  return {
    flush,
    async stop() {
      stopped = true;
      unsubscribe();
      if (timer) clearTimeout(timer);
      while (running) await running.catch(() => 0);
    },
  };
}
