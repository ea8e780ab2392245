import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { SLOW_SECONDS_BUCKETS, cachedRead, metricSet } from './metric-set.js';

/**
 * How a step attempt (one delivery of a command) ended: the runtime's outcomes
 * (`step_attempts.outcome`) plus `skipped` (the execution was not at the step, or the message
 * was already processed: acked without effect) and `redirected` (a node-affine command that
 * reached a node not holding the execution's workspace: sent back for that node, docs/decisions/0021)
 * and `joined` (a redelivery that reached this process while it still handled an earlier delivery
 * of the same message: answered with it, not handled twice).
 */
export type AttemptOutcome = 'succeeded' | 'retrying' | 'failed' | 'abandoned' | 'fenced' | 'cancelled' | 'skipped' | 'redirected' | 'joined';

/** Why a command was dead-lettered. */
export type DeadLetterReason = 'exhausted' | 'max_deliveries' | 'malformed';

/**
 * Why a public progress event was dropped by its best-effort publisher: `publish_failed` (JetStream
 * refused it or did not acknowledge within 5 s: NATS away or slow) or `in_flight_limit` (too many
 * publishes already waiting for their acknowledgement).
 */
export type ProgressDropReason = 'publish_failed' | 'in_flight_limit';

/** JetStream's view of one durable consumer (from consumer info). */
export interface ConsumerBacklog {
  /** Messages not yet delivered (`num_pending`). */
  pending: number;
  /** Delivered, not yet acknowledged (`num_ack_pending`). */
  ackPending: number;
  /** Delivered more than once and not yet acknowledged (`num_redelivered`). */
  redelivered: number;
}

/** How long one JetStream consumer-info read is reused, ms. */
const CONSUMER_INFO_CACHE_MS = 5_000;

/**
 * Command runtime metrics (docs/operations.md "Steps and messaging"). The `consumer` label is the
 * durable consumer's name (`cmd-plan-run`, …: one per command kind), never an id.
 */
export const messagingMetrics = metricSet((registry: Registry) => {
  const consumers = new Map<string, () => Promise<ConsumerBacklog | null>>();
  const backlogGauge = (name: string, help: string, pick: (b: ConsumerBacklog) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['consumer'] as const,
      registers: [registry],
      async collect() {
        const read = await Promise.all([...consumers].map(async ([consumer, info]) => [consumer, await info()] as const));
        for (const [consumer, b] of read) if (b) this.set({ consumer }, pick(b));
      },
    });
  return {
    attempts: new Counter({
      name: 'remediation_step_attempts_total',
      help: 'Step attempts (command deliveries handled), by consumer and outcome.',
      labelNames: ['consumer', 'outcome'] as const,
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'remediation_step_duration_seconds',
      help: 'Time from a delivery being taken to its outcome, by consumer and outcome, in seconds.',
      labelNames: ['consumer', 'outcome'] as const,
      buckets: SLOW_SECONDS_BUCKETS,
      registers: [registry],
    }),
    redeliveries: new Counter({
      name: 'remediation_redeliveries_total',
      help: 'Deliveries of a command after its first (retries, ack timeouts, re-issues).',
      labelNames: ['consumer'] as const,
      registers: [registry],
    }),
    fencedCommits: new Counter({
      name: 'remediation_fenced_commits_total',
      help: 'Results discarded because the step lease had passed to another delivery.',
      labelNames: ['consumer'] as const,
      registers: [registry],
    }),
    deadLetters: new Counter({
      name: 'remediation_dead_letters_total',
      help: 'Commands moved to dead_letters, by consumer and reason (exhausted, max_deliveries, malformed).',
      labelNames: ['consumer', 'reason'] as const,
      registers: [registry],
    }),
    reissues: new Counter({
      name: 'remediation_reconciler_reissues_total',
      help: 'Commands the reconciler issued again for runs with a stale heartbeat, by step.',
      labelNames: ['step'] as const,
      registers: [registry],
    }),
    progressDropped: new Counter({
      name: 'remediation_progress_events_dropped_total',
      help: 'Public progress events not published (best-effort; the history row stays the record), by reason (publish_failed, in_flight_limit).',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    staleFailures: new Counter({
      name: 'remediation_reconciler_failed_total',
      help: 'Runs the reconciler failed with STALE_STEP after their re-issues ran out, by step.',
      labelNames: ['step'] as const,
      registers: [registry],
    }),
    consumerPending: backlogGauge(
      'remediation_jetstream_consumer_pending_messages',
      'Commands waiting in JetStream for this durable consumer (num_pending, read at scrape time).',
      (b) => b.pending,
    ),
    consumerAckPending: backlogGauge(
      'remediation_jetstream_consumer_ack_pending_messages',
      'Commands delivered and not yet acknowledged (num_ack_pending, read at scrape time).',
      (b) => b.ackPending,
    ),
    consumerRedelivered: backlogGauge(
      'remediation_jetstream_consumer_redelivered_messages',
      'Unacknowledged commands delivered more than once (num_redelivered, read at scrape time).',
      (b) => b.redelivered,
    ),
    /**
     * Reports a durable consumer's backlog gauges from `info` (JetStream consumer info, read at
     * scrape time and reused for 5 s). The returned function stops reporting it.
     */
    watchConsumer(consumer: string, info: () => Promise<ConsumerBacklog>): () => void {
      consumers.set(consumer, cachedRead(info, CONSUMER_INFO_CACHE_MS));
      return () => consumers.delete(consumer);
    },
  };
});

/** The messaging metric set of one registry. */
export type MessagingMetrics = ReturnType<typeof messagingMetrics>;
