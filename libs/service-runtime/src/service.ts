import Fastify, { type FastifyInstance } from 'fastify';
import { describeError } from '@remediation/errors';
import {
  type CommandHandler,
  DEFAULT_STREAMS,
  type NatsHandles,
  type RunningConsumer,
  type RunningRelay,
  connectNats,
  ensureStreams,
  startCommandConsumer,
  startOutboxRelay,
  queuedCommandAge,
  startReconciler,
} from '@remediation/messaging';
import { Step } from '@remediation/contracts';
import { faultsFromEnv } from './faults.js';
import { LOG_REDACTION } from './redaction.js';

/** The same staleness threshold for every step (tests and small deployments). */
function staleForAllSteps(ms: number): Partial<Record<Step, number>> {
  return Object.fromEntries(Step.options.map((s) => [s, ms]));
}
import { type Database, countExecutionsByState, openDatabase, outboxBacklog, renewNodeLease } from '@remediation/persistence';
import { startRetentionSweep } from './retention.js';
import pino, { type Logger } from 'pino';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { defineDomainMetrics, executionMetrics } from '@remediation/metrics';
import type { BaseEnv } from '@remediation/config';

/** What a service gets once its infrastructure is up. */
export interface ServiceContext {
  name: string;
  /** `<name>:<pid>`, recorded in history rows. */
  worker: string;
  /** `NODE_ID`: the worker node this process belongs to (docs/decisions/0021). */
  nodeId: string;
  env: BaseEnv;
  db: Database;
  nats: NatsHandles;
  logger: Logger;
  metrics: Registry;
}

/** What a service declares. */
export interface ServiceDefinition {
  /** Service name: `api`, `planner`, `patcher`, `git-gateway`, `pr-service`. */
  name: string;
  env: BaseEnv;
  /**
   * The service is part of a worker node (git-gateway, patcher: they share the node's
   * `LOCAL_ROOT`): it renews the node's lease every third of `NODE_LEASE_MS` and runs the
   * commands that need workspace files only for workspaces its node holds (docs/decisions/0021).
   */
  node?: boolean;
  /** Command handlers this service owns (one durable consumer each). */
  handlers?: (ctx: ServiceContext) => CommandHandler[];
  /**
   * The service's own HTTP app (the API). Health routes are added to it and it listens on
   * `listen`; without it a small server on `HEALTH_PORT` serves them.
   */
  http?: (ctx: ServiceContext) => Promise<FastifyInstance<any, any, any, any, any>>;
  /** Where `http` listens. */
  listen?: { port: number; host: string };
  /**
   * Report the gauges read from PostgreSQL at scrape time (executions by state, outbox backlog).
   * The tables are shared, so one service does (the API); the others would repeat its numbers.
   */
  databaseGauges?: boolean;
  /**
   * Run the retention sweep (`PRUNE_INTERVAL_MS`, `startRetentionSweep`). The tables are shared, so
   * one service does (the API); its replicas take turns through the sweep's advisory lock.
   */
  retentionSweep?: boolean;
  /**
   * Pooled PostgreSQL connections kept open (`openDatabase`'s `poolMin`; default 0): the planner
   * keeps those its advisory look-up uses at once.
   */
  databasePoolMin?: number;
  /** Extra start-up; the returned function is called on shutdown. */
  start?: (ctx: ServiceContext) => Promise<(() => Promise<void>) | void>;
}

/** A running service. */
export interface RunningService {
  ctx: ServiceContext;
  /** URL of the health/metrics server. */
  healthUrl: string;
  stop(): Promise<void>;
}

/**
 * Creates the process logger (JSON lines on stderr), with credentials censored by field name
 * (authorization headers, API keys, tokens, private keys, webhook secrets: see redaction.ts).
 * The API's Fastify logs through this logger too (`loggerInstance`).
 * @param destination where lines go; default stderr (tests pass a stream).
 */
export function createLogger(name: string, level: string, destination: pino.DestinationStream = pino.destination(2)): Logger {
  return pino({ name, level, base: { service: name, pid: process.pid }, redact: LOG_REDACTION }, destination);
}

/**
 * Starts a service: connects to PostgreSQL and NATS, ensures the streams, starts the outbox
 * relay, one durable consumer per handler, and serves `/healthz` (process alive), `/readyz`
 * (database and NATS reachable) and `/metrics` (Prometheus text format).
 * @throws when the database or NATS cannot be reached at start.
 */
export async function startService(def: ServiceDefinition): Promise<RunningService> {
  const logger = createLogger(def.name, def.env.LOG_LEVEL);
  const metrics = new Registry();
  metrics.setDefaultLabels({ service: def.name });
  collectDefaultMetrics({ register: metrics });
  defineDomainMetrics(metrics);
  const db = await openDatabase(def.env.DATABASE_URL, { metrics, ...(def.databasePoolMin !== undefined ? { poolMin: def.databasePoolMin } : {}) });
  if (def.databaseGauges) executionMetrics(metrics).readFrom({ executions: () => countExecutionsByState(db), outbox: () => outboxBacklog(db) });
  const nats = await connectNats(def.env.NATS_URL, def.name);
  const streams = { ...DEFAULT_STREAMS, replicas: def.env.NATS_REPLICAS };
  await ensureStreams(nats.jsm, streams);
  const ctx: ServiceContext = { name: def.name, worker: `${def.name}:${process.pid}`, nodeId: def.env.NODE_ID, env: def.env, db, nats, logger, metrics };
  const nodeLease = def.node ? await startNodeLease(db, def.env.NODE_ID, def.env.NODE_LEASE_MS, logger) : null;
  const faultPoint = faultsFromEnv(def.env.FAULT_INJECT, (m) => logger.warn(m));
  const relay: RunningRelay = startOutboxRelay({
    db,
    js: nats.js,
    logger,
    repairStreams: () => ensureStreams(nats.jsm, streams),
    faultPoint,
    metrics,
  });
  const reconciler = startReconciler({
    db,
    logger,
    worker: ctx.worker,
    intervalMs: def.env.RECONCILE_INTERVAL_MS,
    maxReissues: def.env.RECONCILE_MAX_REISSUES,
    queuedFor: queuedCommandAge(nats.jsm, DEFAULT_STREAMS.commands),
    metrics,
    ...(def.env.RECONCILE_STALE_MS ? { staleAfterMs: staleForAllSteps(def.env.RECONCILE_STALE_MS) } : {}),
  });
  const retention = def.retentionSweep ? startRetentionSweep(db, def.env, logger) : { stop: async () => undefined };
  // Start-up work (e.g. choosing git-gateway's workspace driver) runs before consumers take work.
  const extraStop = (await def.start?.(ctx)) ?? undefined;
  const consumers: RunningConsumer[] = [];
  for (const handler of def.handlers?.(ctx) ?? []) {
    consumers.push(
      await startCommandConsumer({
        js: nats.js,
        jsm: nats.jsm,
        db,
        nc: nats.nc,
        worker: ctx.worker,
        ...(def.node ? { nodeId: def.env.NODE_ID } : {}),
        faultPoint,
        streams,
        handler,
        logger,
        ackWaitMs: def.env.ACK_WAIT_MS,
        maxDeliver: def.env.MAX_DELIVER,
        retryBaseMs: def.env.RETRY_BASE_MS,
        stepTimeoutMs: def.env.STEP_TIMEOUT_MS,
        concurrency: def.env.CONSUMER_CONCURRENCY,
        metrics,
      }),
    );
  }
  const http = def.http ? await def.http(ctx) : Fastify({ logger: false });
  addHealthRoutes(http, ctx);
  const listen = def.http && def.listen ? def.listen : { port: def.env.HEALTH_PORT, host: def.env.HEALTH_HOST };
  const healthUrl = await http.listen(listen);
  logger.info({ healthUrl, consumers: consumers.length }, `${def.name} started`);

  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      logger.info(`${def.name} stopping`);
      await Promise.allSettled(consumers.map((c) => c.stop()));
      nodeLease?.stop();
      if (extraStop) await extraStop().catch((err) => logger.error({ err: describeError(err) }, 'stop failed'));
      await http.close();
      await reconciler.stop();
      await retention.stop();
      await relay.stop();
      await nats.close();
      await db.close();
    })());
  return { ctx, healthUrl, stop };
}

/**
 * Renews the node's lease now (before any command is taken) and then every third of `leaseMs`.
 * A failed renewal is logged and tried again at the next tick: a node cut off from PostgreSQL
 * longer than its lease loses its workspaces to other nodes (their commits fence its own).
 * @throws when the first renewal fails (start-up then fails: the database is unreachable).
 */
async function startNodeLease(db: Database, nodeId: string, leaseMs: number, logger: Logger): Promise<{ stop(): void }> {
  await renewNodeLease(db, nodeId, leaseMs);
  const timer = setInterval(() => {
    renewNodeLease(db, nodeId, leaseMs).catch((err) => logger.warn({ err: describeError(err), nodeId }, 'node lease not renewed'));
  }, Math.max(100, Math.floor(leaseMs / 3)));
  return { stop: () => clearInterval(timer) };
}

function addHealthRoutes(http: FastifyInstance<any, any, any, any, any>, ctx: ServiceContext): void {
  http.get('/healthz', { schema: { hide: true } as never }, async () => ({ status: 'ok' }));
  http.get('/readyz', { schema: { hide: true } as never }, async (_req, reply) => {
    const problems: string[] = [];
    try {
      await ctx.db.em().execute('select 1');
    } catch (err) {
      problems.push(`database: ${describeError(err)}`);
    }
    if (ctx.nats.nc.isClosed()) problems.push('nats: connection closed');
    if (problems.length) return reply.code(503).send({ status: 'unready', problems });
    return { status: 'ready' };
  });
  http.get('/metrics', { schema: { hide: true } as never }, async (_req, reply) => {
    reply.header('content-type', ctx.metrics.contentType);
    return ctx.metrics.metrics();
  });
}

/**
 * Runs `def` as the process's main: starts it, stops cleanly on SIGTERM/SIGINT, exits non-zero
 * with a clear message when start-up fails.
 */
export async function runMain(def: () => ServiceDefinition): Promise<void> {
  let service: RunningService;
  try {
    service = await startService(def());
  } catch (err) {
    process.stderr.write(`failed to start: ${describeError(err)}\n`);
    process.exit(1);
  }
  const shutdown = async (signal: string) => {
    service.ctx.logger.info({ signal }, 'shutdown requested');
    await service.stop();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}
