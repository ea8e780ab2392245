import type { JetStreamClient, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { COMMAND_STEPS, type CommandKind, CommandPayload, NODE_AFFINE_COMMANDS, commandFilterSubject } from '@remediation/contracts';
import { InvalidTransitionError, RemediationError, describeError, errorInfo, isRemediationError } from '@remediation/errors';
import {
  AlreadyProcessedError,
  type ApplyTransitionOptions,
  type AppliedTransition,
  type ClaimedStep,
  type Database,
  type Lease,
  LeaseLostError,
  applyTransition,
  claimStep,
  claimWorkspace,
  finishStep,
  heartbeatStep,
  isDatabaseUnavailable,
  recordDeadLetter,
  recordHistory,
  recordRedirect,
} from '@remediation/persistence';
import { type AttemptOutcome, type Registry, messagingMetrics, secondsSince } from '@remediation/metrics';
import type { Logger } from 'pino';
import { type ProgressPublisher, jetStreamProgressPublisher } from './progress.js';
import { type StreamNames, ensureConsumer, ensureStreams } from './streams.js';

/** What the consumer runtime uses of a delivery: one JetStream message, or several deliveries of one joined. */
type Delivery = Pick<JsMsg, 'info' | 'seq' | 'subject' | 'headers' | 'json' | 'working' | 'ack' | 'nak' | 'term'>;

/** The execution left the step's state while the handler ran (a user cancelled it). */
export class StepCancelledError extends RemediationError {
  constructor(executionId: string) {
    super('STEP_CANCELLED', `execution ${executionId} was cancelled`, { retryable: false });
    this.name = 'StepCancelledError';
  }
}

/** What a command handler gets for one delivery. */
export interface CommandContext {
  payload: CommandPayload;
  /** 1 for the first delivery. */
  deliveryCount: number;
  /** The lease claimed for this step (null for housekeeping commands). */
  lease: Lease | null;
  /** Aborted when the lease is lost, the execution is cancelled, or the step timed out. */
  signal: AbortSignal;
  /**
   * A sign of life: `msg.working()` (resets `ack_wait`) and, with `details`, a history row
   * (`event` defaults to `heartbeat`; e.g. `{ received: 450, total: 1000 }`, `{ tool: 'read_file' }`)
   * and the same as a public progress event once that row is written (docs/decisions/0019).
   * Unnamed progress is recorded at most once a second; every named event is.
   * @throws StepCancelledError / LeaseLostError once the runtime learned the step is no longer ours.
   */
  heartbeat(details?: Record<string, unknown> & { event?: string }): void;
  /**
   * `applyTransition` fenced by this delivery's lease and recorded in the inbox.
   * @throws the stop reason (StepCancelledError, LeaseLostError, `STEP_TIMEOUT`) once `signal` fired:
   *   a stopped step commits nothing more.
   */
  transition(options: Omit<ApplyTransitionOptions, 'worker' | 'lease' | 'inbox'>): Promise<AppliedTransition>;
  logger: Logger;
}

/** A command handler owned by one app. */
export interface CommandHandler {
  kind: CommandKind;
  /** Does the step and applies its transition (with `ctx.transition`) before returning. */
  handle(ctx: CommandContext): Promise<void>;
  /**
   * Called once when the command will not be retried (non-retryable error, or deliveries
   * exhausted): marks the run failed with the reason (through `ctx.transition`).
   */
  giveUp(ctx: CommandContext, error: { code: string; message: string }): Promise<void>;
}

/** Settings for `startCommandConsumer`. */
export interface ConsumerRuntimeOptions {
  /** Core connection, for the MAX_DELIVERIES advisory. */
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  db: Database;
  streams: StreamNames;
  handler: CommandHandler;
  logger: Logger;
  /** `<service>:<pid>`: lease owner and history worker. */
  worker: string;
  /**
   * This process's node (`NODE_ID`, docs/decisions/0021). With it, the commands that need the
   * workspace's files (`NODE_AFFINE_COMMANDS`) run only on the node holding the workspace: a
   * delivery for a workspace another live node holds is sent back (`nak` after a short delay,
   * not counted as a try); one whose holder's lease expired is taken over. Absent: no affinity.
   */
  nodeId?: string;
  /** ack_wait in ms (default 60 000). */
  ackWaitMs?: number;
  /** Deliveries before giving up (default 5). */
  maxDeliver?: number;
  /** First retry delay in ms (default 1 000), doubled per delivery, capped at `retryMaxMs`. */
  retryBaseMs?: number;
  /** Cap of the retry delay in ms (default 60 000). */
  retryMaxMs?: number;
  /** Messages handled at once by this process (default 4). */
  concurrency?: number;
  /** Longest a step may run in this process before it is abandoned to a redelivery, ms (default 30 min). */
  stepTimeoutMs?: number;
  /** Hook for fault tests: called at named points; may kill the process. */
  faultPoint?: (point: string, kind: CommandKind) => Promise<void> | void;
  /** Where step attempts, durations, redeliveries, dead letters and the consumer's backlog are reported. */
  metrics?: Registry;
  /**
   * Where recorded heartbeats go as public progress events (default: published on `js`, see
   * progress.ts); `null` publishes none.
   */
  progress?: ProgressPublisher | null;
}

/** A running consumer. */
export interface RunningConsumer {
  stop(): Promise<void>;
}

/**
 * Retry delay for the `deliveryCount`-th failed delivery: exponential with jitter in
 * [delay/2, delay] (AWS Architecture Blog, "Exponential Backoff And Jitter"), in ms.
 */
export function retryDelayMs(deliveryCount: number, baseMs: number, maxMs: number): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.max(0, deliveryCount - 1));
  return Math.round(exp / 2 + Math.random() * (exp / 2));
}

/**
 * Deliveries a node-affine consumer may spend on sending commands to the node holding the
 * workspace, on top of `maxDeliver` (NATS `max_deliver`). With {@link redirectDelayMs} capped at
 * 2 s this lets a command wait ~30 min for a busy holder before JetStream gives it up.
 */
export const REDIRECT_ALLOWANCE = 1000;

/**
 * Delay before a command sent back from a node that does not hold the workspace is delivered
 * again, for its `redirects`-th return: 100 ms growing by 100 ms a return up to 2 s, with jitter
 * in [delay/2, delay] (spreads the retries over the nodes, which pull in turn).
 */
export function redirectDelayMs(redirects: number): number {
  const d = Math.min(2_000, 100 * Math.max(1, redirects));
  return Math.round(d / 2 + Math.random() * (d / 2));
}

/** Durable consumer name of a command kind, e.g. `cmd-plan-run`. */
export function durableName(kind: CommandKind): string {
  return `cmd-${kind.replace(/[._]/g, '-')}`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Consumes one command kind through a durable pull consumer shared by all replicas
 * (docs/architecture.md "Streams and consumers", docs/reliability.md):
 *
 * - claims the step first (lease = fencing token, a `step_attempts` row); a command whose
 *   execution is not at the step is acked without effect;
 * - keeps the delivery alive with `working()` and refreshes `heartbeat_at` while the handler runs;
 *   a paused or dead process stops doing so and loses the lease after `ack_wait`;
 * - acks only after the handler's transaction committed; that transaction is fenced by the lease
 *   and records the message in the inbox (`processed_messages`);
 * - database outages are retried in process while the message is kept alive: they do not burn
 *   deliveries;
 * - retryable errors: `nak(delay)` with our exponential delay; non-retryable errors or the last
 *   delivery: the run is failed with the reason (`giveUp`), an exhausted message is kept in
 *   `dead_letters`, and the message is terminated (removed from the work queue).
 */
export async function startCommandConsumer(options: ConsumerRuntimeOptions): Promise<RunningConsumer> {
  const { js, jsm, db, streams, handler, logger, worker } = options;
  const ackWaitMs = options.ackWaitMs ?? 60_000;
  const maxDeliver = options.maxDeliver ?? 5;
  const retryBaseMs = options.retryBaseMs ?? 1_000;
  const retryMaxMs = options.retryMaxMs ?? 60_000;
  const concurrency = options.concurrency ?? 4;
  const stepTimeoutMs = options.stepTimeoutMs ?? 30 * 60_000;
  const fault = options.faultPoint ?? (() => undefined);
  const progress = options.progress === undefined ? jetStreamProgressPublisher(js, logger, { metrics: options.metrics }) : options.progress;
  const durable = durableName(handler.kind);
  const filterSubject = commandFilterSubject(handler.kind);
  const nodeId = options.nodeId && NODE_AFFINE_COMMANDS.has(handler.kind) ? options.nodeId : null;
  // Returns to the holder's node are not tries: JetStream's bound leaves room for them.
  const settings = { stream: streams.commands, durable, filterSubject, ackWaitMs, maxDeliver: nodeId ? maxDeliver + REDIRECT_ALLOWANCE : maxDeliver };
  const log = logger.child({ consumer: durable });
  let stopping = false;
  const metrics = options.metrics ? messagingMetrics(options.metrics) : null;
  const labels = { consumer: durable };

  await ensureConsumer(jsm, settings);
  const unwatch = metrics?.watchConsumer(durable, async () => {
    const info = await jsm.consumers.info(streams.commands, durable);
    return { pending: info.num_pending, ackPending: info.num_ack_pending, redelivered: info.num_redelivered };
  });
  const inFlight = new Set<Promise<void>>();

  // Deliveries that ran out through ack timeouts (the worker died or hung every time) never reach
  // our give-up path; NATS announces them once, over core NATS (not stored). Dead-letter them and
  // fail the run; the reconciler covers advisories nobody heard.
  const advisories = options.nc.subscribe(`$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${streams.commands}.${durable}`, {
    queue: `${durable}-max-deliveries`,
    callback: (err, m) => {
      if (err) return;
      void (async () => {
        const adv = JSON.parse(m.string()) as { stream: string; stream_seq: number; deliveries: number };
        const stored = await jsm.streams.getMessage(adv.stream, { seq: adv.stream_seq }).catch(() => null);
        if (!stored) return;
        const parsed = CommandPayload.safeParse(stored.json());
        const error = {
          code: 'MAX_DELIVERIES',
          message: `no acknowledgement after ${adv.deliveries} deliveries of ${stored.subject}: the worker died or hung each time`,
        };
        await recordDeadLetter(db, {
          stream: adv.stream,
          streamSeq: adv.stream_seq,
          subject: stored.subject,
          messageId: stored.header?.get('Nats-Msg-Id') || null,
          payload: parsed.success ? (parsed.data as unknown as Record<string, unknown>) : null,
          deliveries: adv.deliveries,
          executionId: parsed.success ? parsed.data.executionId : null,
          error,
        });
        if (parsed.success) {
          await applyTransition(db, { executionId: parsed.data.executionId, event: { type: 'step.abandoned', error }, worker }).catch((e) => {
            if (!(e instanceof InvalidTransitionError)) throw e;
          });
        }
        await jsm.streams.deleteMessage(adv.stream, adv.stream_seq).catch(() => undefined);
        metrics?.deadLetters.inc({ ...labels, reason: 'max_deliveries' });
        log.error({ streamSeq: adv.stream_seq, executionId: parsed.success ? parsed.data.executionId : null }, 'deliveries exhausted: dead-lettered');
      })().catch((e) => log.error({ err: describeError(e) }, 'could not handle MAX_DELIVERIES advisory'));
    },
  });

  /** How often a delivery being worked on tells JetStream so: well inside `ackWaitMs`. */
  const workingIntervalMs = Math.max(250, Math.min(10_000, Math.floor(ackWaitMs / 3)));

  /**
   * Runs `fn`, retrying while the database is unavailable, keeping the delivery alive while it
   * waits between tries: `working()` every `workingIntervalMs` of the backoff, which grows to 5 s,
   * longer than a short ack_wait (a redelivery meanwhile would burn one of `maxDeliver`). A try
   * itself is not kept alive: a query that hangs lets the delivery time out and be redelivered,
   * rather than holding the message forever.
   */
  async function withDatabase<T>(msg: Delivery, what: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (!isDatabaseUnavailable(err) || stopping) throw err;
        if (attempt === 1 || attempt % 10 === 0) log.warn({ err: describeError(err), what }, 'database unavailable: holding the message and retrying');
        for (let left = Math.min(5_000, 250 * attempt); left > 0; left -= workingIntervalMs) {
          msg.working();
          await sleep(Math.min(left, workingIntervalMs));
        }
      }
    }
  }

  /**
   * Deliveries of the commands this process is handling now, by message id, latest last. JetStream
   * redelivers a message whose ack_wait passed without a `working()` from its holder; after an
   * event-loop stall (GC, CPU starvation, a paused process) that redelivery can reach this same
   * process while the first delivery still runs. Handled again, it would claim the step anew and
   * fence the running attempt, whose work is then thrown away (the chaos run under load showed a
   * dozen such attempts in 30 executions). It joins the running delivery instead: kept alive with
   * it, and answered (ack, nak, term) with it, on the latest delivery's reply subject.
   */
  const running = new Map<string, JsMsg[]>();
  const messageIdOf = (msg: JsMsg) => msg.headers?.get('Nats-Msg-Id') || `${msg.info.stream}:${msg.seq}`;

  /** `first` and the deliveries that joined it, acting as one: see {@link running}. */
  function joinedDeliveries(first: JsMsg, deliveries: JsMsg[]): Delivery {
    const latest = () => deliveries[deliveries.length - 1]!;
    return {
      info: first.info,
      seq: first.seq,
      subject: first.subject,
      headers: first.headers,
      json: <T>() => first.json<T>(),
      working: () => {
        for (const d of deliveries) d.working();
      },
      ack: () => latest().ack(),
      nak: (delay?: number) => latest().nak(delay),
      term: (reason?: string) => latest().term(reason),
    };
  }

  async function process(msg: JsMsg): Promise<void> {
    const started = Date.now();
    if (msg.info.deliveryCount > 1) metrics?.redeliveries.inc(labels);
    const messageId = messageIdOf(msg);
    const joined = running.get(messageId);
    if (joined) {
      joined.push(msg);
      msg.working();
      log.info({ subject: msg.subject, deliveryCount: msg.info.deliveryCount }, 'redelivered while this process still handles it: joined the running delivery');
      metrics?.attempts.inc({ ...labels, outcome: 'joined' });
      return;
    }
    const deliveries = [msg];
    running.set(messageId, deliveries);
    let outcome: AttemptOutcome;
    try {
      outcome = await handleDelivery(joinedDeliveries(msg, deliveries));
    } finally {
      running.delete(messageId);
    }
    if (!metrics) return;
    metrics.attempts.inc({ ...labels, outcome });
    metrics.duration.observe({ ...labels, outcome }, secondsSince(started));
  }

  async function handleDelivery(msg: Delivery): Promise<AttemptOutcome> {
    const deliveryCount = msg.info.deliveryCount;
    const messageId = msg.headers?.get('Nats-Msg-Id') || `${msg.info.stream}:${msg.seq}`;
    let payload: CommandPayload;
    try {
      payload = CommandPayload.parse(msg.json());
    } catch (err) {
      log.error({ err: describeError(err), subject: msg.subject }, 'malformed command: dead-lettered');
      await recordDeadLetter(db, {
        stream: msg.info.stream,
        streamSeq: msg.seq,
        subject: msg.subject,
        messageId,
        payload: null,
        deliveries: deliveryCount,
        executionId: null,
        error: { code: 'COMMAND_MALFORMED', message: describeError(err) },
      }).catch(() => undefined);
      metrics?.deadLetters.inc({ ...labels, reason: 'malformed' });
      msg.term('malformed command payload');
      return 'failed';
    }
    const mlog = log.child({ executionId: payload.executionId, deliveryCount });
    // Node affinity (docs/decisions/0021): only the node holding the workspace does the step; a
    // holder whose lease expired is replaced by this node, which rebuilds it from its checkpoint.
    let redirects = 0;
    if (nodeId) {
      const claim = await withDatabase(msg, 'workspace owner', () => claimWorkspace(db, payload.executionId, nodeId, messageId));
      if (!claim.mine) {
        await withDatabase(msg, 'redirect', () => recordRedirect(db, payload.executionId, messageId));
        const delay = redirectDelayMs(claim.redirects + 1);
        mlog.debug({ owner: claim.owner, delayMs: delay }, 'workspace held by another live node: sent back for it');
        msg.nak(delay);
        return 'redirected';
      }
      redirects = claim.redirects;
      if (claim.takeover) {
        mlog.warn({ previousNode: claim.previousOwner, node: nodeId }, 'took over the workspace of a node whose lease expired');
        await withDatabase(msg, 'takeover history', () =>
          recordHistory(db, { executionId: payload.executionId, event: 'workspace.taken_over', worker, details: { previousNode: claim.previousOwner, node: nodeId, command: handler.kind } }),
        );
      }
    }
    /** Tries of this command: its deliveries less those sent back to the holder's node. */
    const tries = deliveryCount - redirects;
    const spec = COMMAND_STEPS[handler.kind];
    if (spec) await fault('before-claim', handler.kind);
    const claimed: ClaimedStep | null = spec
      ? await withDatabase(msg, 'claim', () =>
          claimStep(db, { executionId: payload.executionId, states: spec.states, step: spec.step, command: handler.kind, worker, deliveryCount }),
        )
      : null;
    if (spec && !claimed) {
      mlog.info('execution is not at this step (already done, or cancelled): acked without effect');
      msg.ack();
      return 'skipped';
    }
    const abort = new AbortController();
    let abortReason: RemediationError | null = null;
    const stopWith = (e: RemediationError) => {
      if (!abortReason) {
        abortReason = e;
        abort.abort(e);
      }
    };
    let committed = false;
    let lastWorking = 0;
    let lastHistory = 0;
    const beat = (history?: { event: string; details: Record<string, unknown> }) => {
      if (!claimed || !spec) return;
      const at = new Date().toISOString();
      void heartbeatStep(db, claimed, payload.executionId, history)
        .then((r) => {
          // Published only once the history row is written under a lease still ours: a fenced
          // worker's progress never reaches the public stream (docs/decisions/0019).
          if (r === 'ok' && history && progress) {
            progress.publish(claimed.tenant, {
              schema: 'remediation.progress.v1',
              remediationId: payload.remediationId,
              executionId: payload.executionId,
              step: spec.step,
              event: history.event,
              details: history.details,
              attempt: claimed.lease.attempt,
              at,
            });
          }
          // After this delivery's own commit the lease is released: that is not a lost lease.
          if (committed) return;
          if (r === 'lost') stopWith(new LeaseLostError(payload.executionId, claimed.lease));
          if (r === 'cancelled') stopWith(new StepCancelledError(payload.executionId));
        })
        .catch(() => undefined);
    };
    // Liveness of this process: keep the delivery and the lease while the handler runs.
    const keepAlive = setInterval(() => {
      msg.working();
      beat();
    }, workingIntervalMs);
    const timeout = setTimeout(
      () => stopWith(new RemediationError('STEP_TIMEOUT', `step ran longer than ${stepTimeoutMs} ms`, { retryable: true })),
      stepTimeoutMs,
    );
    const applyFenced: CommandContext['transition'] = async (t) => {
      const applied = await applyTransition(db, {
        ...t,
        worker,
        ...(claimed ? { lease: claimed.lease } : {}),
        inbox: { consumer: durable, messageId },
      });
      committed = true;
      return applied;
    };
    const ctx: CommandContext = {
      payload,
      deliveryCount,
      lease: claimed?.lease ?? null,
      signal: abort.signal,
      logger: mlog,
      heartbeat(details) {
        if (abortReason) throw abortReason;
        const now = Date.now();
        if (now - lastWorking >= 1000) {
          lastWorking = now;
          msg.working();
        }
        // Progress heartbeats are recorded at most once a second; named ones (e.g. `tool_call`)
        // are events the history must show, so each is recorded.
        if (details && (details.event !== undefined || now - lastHistory >= 1000)) {
          if (details.event === undefined) lastHistory = now;
          const { event = 'heartbeat', ...rest } = details;
          beat({ event, details: rest });
        }
      },
      // A step that was stopped (timed out, cancelled, lease lost) commits nothing more: a handler
      // that went on after its signal fired (e.g. an agent run that returned `cancelled`) would
      // otherwise record a half-done result under a lease that is still valid.
      transition: (t) => (abortReason ? Promise.reject(abortReason) : applyFenced(t)),
    };
    const finish = (outcome: Parameters<typeof finishStep>[2], error?: { code: string; message: string }) =>
      claimed ? withDatabase(msg, 'finish', () => finishStep(db, claimed.attemptId, outcome, error)).catch(() => undefined) : undefined;
    try {
      await fault(`before-handle`, handler.kind);
      await withDatabase(msg, 'handle', () => handler.handle(ctx));
      if (abortReason && !committed) throw abortReason;
      await fault('after-commit-before-ack', handler.kind);
      await finish('succeeded');
      msg.ack();
      return 'succeeded';
    } catch (caught) {
      // Once the step is no longer ours (cancelled, lease lost, timed out), that is the outcome,
      // whatever the handler tripped over on its way out (e.g. its workspace being released).
      const err = abortReason ?? caught;
      if (err instanceof InvalidTransitionError || err instanceof AlreadyProcessedError) {
        mlog.info({ reason: (err as Error).message }, 'step already applied: acked without effect');
        await finish('succeeded');
        msg.ack();
        return 'skipped';
      }
      if (err instanceof LeaseLostError) {
        // Another delivery owns the step now; leave its message alone (no ack, no nak).
        mlog.warn('lease lost to another worker: result discarded');
        await finish('fenced', errorInfo(err, 'LEASE_LOST'));
        metrics?.fencedCommits.inc(labels);
        return 'fenced';
      }
      if (err instanceof StepCancelledError) {
        mlog.info('execution cancelled: stopping');
        await finish('cancelled');
        msg.ack();
        return 'cancelled';
      }
      const info = errorInfo(err, 'STEP_FAILED');
      const retryable = isRemediationError(err) ? err.retryable : true;
      if (retryable && tries < maxDeliver) {
        const delay = retryDelayMs(tries, retryBaseMs, retryMaxMs);
        mlog.warn({ err: info.message, delayMs: delay }, 'retryable failure: nak with delay');
        await finish('retrying', info);
        msg.nak(delay);
        return 'retrying';
      }
      const reason = retryable ? { code: info.code, message: `gave up after ${tries} deliveries: ${info.message}` } : info;
      mlog.error({ err: reason.message, retryable }, 'giving up on command');
      try {
        await withDatabase(msg, 'give up', async () => {
          if (retryable) {
            await recordDeadLetter(db, {
              stream: msg.info.stream,
              streamSeq: msg.seq,
              subject: msg.subject,
              messageId,
              payload: payload as unknown as Record<string, unknown>,
              deliveries: tries,
              executionId: payload.executionId,
              error: reason,
            });
          }
          // Recording the failure is this delivery's last act, also after a step timeout (the
          // lease still fences it).
          await handler.giveUp({ ...ctx, transition: applyFenced }, reason);
        });
        await finish(retryable ? 'abandoned' : 'failed', reason);
        if (retryable) metrics?.deadLetters.inc({ ...labels, reason: 'exhausted' });
        msg.term(reason.message.slice(0, 200));
        return retryable ? 'abandoned' : 'failed';
      } catch (giveUpErr) {
        if (giveUpErr instanceof InvalidTransitionError || giveUpErr instanceof LeaseLostError || (isRemediationError(giveUpErr) && !giveUpErr.retryable)) {
          mlog.warn({ err: describeError(giveUpErr) }, 'failure not recordable (already terminal, fenced or unknown run): terminated');
          await finish('failed', reason);
          msg.term('already terminal or unknown run');
          return 'failed';
        }
        mlog.error({ err: describeError(giveUpErr) }, 'could not record failure: nak for retry');
        msg.nak(retryDelayMs(deliveryCount, retryBaseMs, retryMaxMs));
        return 'retrying';
      }
    } finally {
      clearInterval(keepAlive);
      clearTimeout(timeout);
    }
  }

  // Watchdog: a server that lost its store (or a consumer deleted by an operator) does not always
  // tell its pull clients; check the durable exists every few seconds and recreate what is gone.
  const watchdog = setInterval(() => {
    if (stopping) return;
    void jsm.consumers
      .info(streams.commands, durable)
      .catch(async (err) => {
        if (!/not found/i.test(String((err as Error)?.message ?? err))) return;
        log.warn('durable consumer missing: recreating stream and consumer');
        await ensureStreams(jsm, streams);
        await ensureConsumer(jsm, settings);
        // Pull afresh from the recreated consumer instead of waiting out the client's backoff.
        await messages?.close().catch(() => undefined);
      })
      .catch(() => undefined);
  }, Math.max(1000, Math.min(10_000, ackWaitMs)));

  let messages: Awaited<ReturnType<Awaited<ReturnType<typeof js.consumers.get>>['consume']>> | null = null;
  const loop = (async () => {
    while (!stopping) {
      try {
        const consumer = await js.consumers.get(streams.commands, durable);
        messages = await consumer.consume({ max_messages: concurrency });
        const current = messages;
        // Streams or consumers can vanish (NATS restarted without its store): recreate them.
        void (async () => {
          for await (const s of current.status()) {
            if (s.type === 'consumer_not_found' || s.type === 'stream_not_found' || s.type === 'consumer_deleted') {
              log.warn({ status: s.type }, 'consumer missing: recreating stream and consumer');
              await ensureStreams(jsm, streams).catch(() => undefined);
              await ensureConsumer(jsm, settings).catch(() => undefined);
              await current.close().catch(() => undefined); // the loop below pulls afresh
              break;
            }
          }
        })().catch(() => undefined);
        for await (const msg of current) {
          const p = process(msg).catch((err) => log.error({ err: describeError(err) }, 'unexpected handler crash'));
          inFlight.add(p);
          void p.finally(() => inFlight.delete(p));
          while (inFlight.size >= concurrency) await Promise.race(inFlight);
        }
      } catch (err) {
        if (stopping) break;
        log.warn({ err: describeError(err) }, 'consume loop failed: recreating consumer');
        await sleep(1000);
        await ensureStreams(jsm, streams).catch(() => undefined);
        await ensureConsumer(jsm, settings).catch(() => undefined);
      }
      if (!stopping) await sleep(200);
    }
  })();

  return {
    async stop() {
      stopping = true;
      unwatch?.();
      clearInterval(watchdog);
      advisories.unsubscribe();
      await messages?.close().catch(() => undefined);
      await loop.catch(() => undefined);
      await Promise.allSettled([...inFlight]);
      await progress?.settle();
    },
  };
}
