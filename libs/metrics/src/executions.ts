import { Counter, Gauge, type Registry } from 'prom-client';
import { cachedRead, metricSet } from './metric-set.js';

/** One row of the executions table grouped by kind and state (read at scrape time). */
export interface ExecutionStateCount {
  /** `plan` or `patch`. */
  kind: string;
  /** Execution state, e.g. `patch_running`. */
  state: string;
  count: number;
  /** Seconds since the oldest `heartbeat_at` among these executions (0 for terminal states). */
  oldestHeartbeatAgeSeconds: number;
}

/** The outbox's unpublished rows (read at scrape time). */
export interface OutboxBacklog {
  messages: number;
  /** Age of the oldest unpublished row in seconds (0 when none). */
  oldestAgeSeconds: number;
}

/** Where the scrape-time execution gauges read PostgreSQL (one cheap query each). */
export interface ExecutionGaugeSources {
  executions: () => Promise<ExecutionStateCount[]>;
  outbox: () => Promise<OutboxBacklog>;
}

/** How long one scrape-time read is reused, ms. */
const SCRAPE_CACHE_MS = 2_000;

/**
 * Execution and outbox metrics (docs/operations.md "Executions"):
 *
 * - `remediation_execution_transitions_total{kind,state}`: transitions applied (counted where
 *   `applyTransition` commits), by execution kind and the state entered;
 * - `remediation_executions{kind,state}`: executions in each state now (PostgreSQL, scrape time);
 * - `remediation_execution_heartbeat_age_seconds{kind,state}`: oldest heartbeat age of the
 *   executions in an active state (stuck runs; PostgreSQL, scrape time);
 * - `remediation_outbox_backlog_messages` / `remediation_outbox_oldest_age_seconds`: unpublished
 *   outbox rows and the oldest one's age (PostgreSQL, scrape time);
 * - `remediation_outbox_published_total`: rows the relays published.
 *
 * The scrape-time gauges report only once `readFrom` was given their sources (one service, the
 * API, does so: the tables are shared, five copies would only repeat the same numbers).
 */
export const executionMetrics = metricSet((registry: Registry) => {
  let sources: ExecutionGaugeSources | null = null;
  let readExecutions: () => Promise<ExecutionStateCount[] | null> = async () => null;
  let readOutbox: () => Promise<OutboxBacklog | null> = async () => null;
  const byState = async (gauge: Gauge<'kind' | 'state'>, value: (r: ExecutionStateCount) => number) => {
    const rows = await readExecutions();
    if (!rows) return;
    gauge.reset();
    for (const r of rows) gauge.set({ kind: r.kind, state: r.state }, value(r));
  };
  const set = {
    transitions: new Counter({
      name: 'remediation_execution_transitions_total',
      help: 'State machine transitions applied, by execution kind and the state entered.',
      labelNames: ['kind', 'state'] as const,
      registers: [registry],
    }),
    current: new Gauge({
      name: 'remediation_executions',
      help: 'Executions in each state now (read from PostgreSQL at scrape time).',
      labelNames: ['kind', 'state'] as const,
      registers: [registry],
      async collect() {
        await byState(this, (r) => r.count);
      },
    }),
    heartbeatAge: new Gauge({
      name: 'remediation_execution_heartbeat_age_seconds',
      help: 'Seconds since the oldest heartbeat among executions in an active state (read at scrape time).',
      labelNames: ['kind', 'state'] as const,
      registers: [registry],
      async collect() {
        await byState(this, (r) => r.oldestHeartbeatAgeSeconds);
      },
    }),
    outboxBacklog: new Gauge({
      name: 'remediation_outbox_backlog_messages',
      help: 'Outbox rows not yet published to NATS (read from PostgreSQL at scrape time).',
      registers: [registry],
      async collect() {
        const o = await readOutbox();
        if (o) this.set(o.messages);
      },
    }),
    outboxOldestAge: new Gauge({
      name: 'remediation_outbox_oldest_age_seconds',
      help: 'Age of the oldest unpublished outbox row in seconds, 0 when none (read at scrape time).',
      registers: [registry],
      async collect() {
        const o = await readOutbox();
        if (o) this.set(o.oldestAgeSeconds);
      },
    }),
    outboxPublished: new Counter({
      name: 'remediation_outbox_published_total',
      help: 'Outbox rows published to NATS by this process.',
      registers: [registry],
    }),
    /**
     * Gives the scrape-time gauges their sources (reads cached for 2 s). Without it they stay empty.
     * @throws Error when sources were already given for this registry.
     */
    readFrom(given: ExecutionGaugeSources): void {
      if (sources) throw new Error('executionMetrics: gauge sources were already given for this registry');
      sources = given;
      readExecutions = cachedRead(given.executions, SCRAPE_CACHE_MS);
      readOutbox = cachedRead(given.outbox, SCRAPE_CACHE_MS);
    },
  };
  return set;
});

/** The execution metric set of one registry. */
export type ExecutionMetrics = ReturnType<typeof executionMetrics>;
