import { hostname } from 'node:os';
import { z } from 'zod';

/** A boolean environment variable: `true`/`1` or `false`/`0` (anything else is a validation error naming the variable). */
export const envFlag = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

/**
 * Environment shared by every service, validated once at start with zod. A bad value stops the
 * process with a message naming the variable.
 */
export const BaseEnv = z.object({
  /** PostgreSQL URL. */
  DATABASE_URL: z.string().url().default('postgres://postgres@127.0.0.1:5432/remediation'),
  /** Comma-separated NATS server URLs. */
  NATS_URL: z.string().min(1).default('nats://127.0.0.1:4222'),
  /** Replicas of the JetStream streams: 1, or 3 on a 3-server cluster (docs/deployment.md). */
  NATS_REPLICAS: z.coerce.number().int().min(1).max(5).default(1),
  /** Log level (pino). */
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Port of /healthz, /readyz and /metrics (the API serves them on its own port). */
  HEALTH_PORT: z.coerce.number().int().min(0).max(65535).default(0),
  /** Interface of that port: loopback by default; `0.0.0.0` where a scraper in another container or pod reads /metrics. */
  HEALTH_HOST: z.string().min(1).default('127.0.0.1'),
  /** ack_wait of command consumers, in ms. */
  ACK_WAIT_MS: z.coerce.number().int().positive().default(60_000),
  /** Deliveries of a command before it is given up. */
  MAX_DELIVER: z.coerce.number().int().min(2).max(100).default(5),
  /** First retry delay, in ms. */
  RETRY_BASE_MS: z.coerce.number().int().positive().default(1_000),
  /** Commands one process handles at once, per command kind it consumes (its durable consumer's pull batch). */
  CONSUMER_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(4),
  /** Longest a step may run in one process before it is abandoned to a redelivery, ms. */
  STEP_TIMEOUT_MS: z.coerce.number().int().positive().default(30 * 60_000),
  /** Reconciler sweep interval, ms. */
  RECONCILE_INTERVAL_MS: z.coerce.number().int().positive().default(15_000),
  /** Staleness threshold for every step, ms (default: per-step values, 5–30 min). */
  RECONCILE_STALE_MS: z.coerce.number().int().positive().optional(),
  /** Re-issues of a stale step before its run is failed. */
  RECONCILE_MAX_REISSUES: z.coerce.number().int().min(0).default(3),
  /** Interval of the retention sweep pruning operational records, ms (`0`: never prune). */
  PRUNE_INTERVAL_MS: z.coerce.number().int().min(0).default(10 * 60_000),
  /** Retention of published outbox rows, ms; at least the stream's 10-minute duplicate window. */
  RETENTION_OUTBOX_MS: z.coerce.number().int().min(10 * 60_000).default(24 * 3600_000),
  /** Retention of processed-message records (command de-duplication), ms; at least 1 hour. */
  RETENTION_PROCESSED_MESSAGES_MS: z.coerce.number().int().min(3600_000).default(7 * 24 * 3600_000),
  /** Retention of finished step attempts, ms. */
  RETENTION_STEP_ATTEMPTS_MS: z.coerce.number().int().positive().default(30 * 24 * 3600_000),
  /** Retention of progress heartbeats in the history, ms. */
  RETENTION_HEARTBEATS_MS: z.coerce.number().int().positive().default(30 * 24 * 3600_000),
  /** Retention of received webhook delivery ids, ms; at least 1 hour. */
  RETENTION_WEBHOOK_DELIVERIES_MS: z.coerce.number().int().min(3600_000).default(7 * 24 * 3600_000),
  /** Fault injection for the fault suite only (see faults.ts). */
  FAULT_INJECT: z.string().optional(),
  /** Persistent data root: mirrors and base snapshots. */
  DATA_ROOT: z.string().min(1).default('.data/persistent'),
  /** Local (non-network) root: overlay upper/work dirs. */
  LOCAL_ROOT: z.string().min(1).default('.data/local'),
  /**
   * This worker node (the git-gateway and patcher sharing one `LOCAL_ROOT`): a NATS subject token,
   * letters, digits, `-` and `_` (docs/decisions/0021). Default: the host name, other characters
   * replaced by `-`.
   */
  NODE_ID: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, - and _ only (1-64): it is a NATS subject token')
    .default(defaultNodeId()),
  /**
   * Lease of a node's liveness, ms: each git-gateway and patcher renews it every third of this; when
   * it lapses, another node takes over the node's workspaces (rebuilt from their checkpoints).
   */
  NODE_LEASE_MS: z.coerce.number().int().min(500).default(15_000),
});
export type BaseEnv = z.infer<typeof BaseEnv>;

/** The default `NODE_ID`: the host name with every character but letters, digits, `-`, `_` replaced by `-` (at most 64). */
export function defaultNodeId(host: string = hostname()): string {
  return host.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 64) || 'node';
}

/**
 * Parses `env` with `schema`.
 * @throws Error listing every invalid variable with its problem, e.g. `NATS_URL: Required`.
 */
export function loadEnv<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(env)'}: ${i.message}`);
    throw new Error(`invalid environment:\n${lines.join('\n')}`);
  }
  return parsed.data;
}
