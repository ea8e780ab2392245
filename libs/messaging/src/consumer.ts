import type { JetStreamClient, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import { type CommandKind, CommandPayload, commandSubject } from '@remediation/contracts';
import { InvalidTransitionError, describeError, isRemediationError } from '@remediation/errors';
import type { Logger } from 'pino';
import { ensureConsumer, type StreamNames } from './streams.js';

/** What a command handler gets for one delivery. */
export interface CommandContext {
  payload: CommandPayload;
  /** 1 for the first delivery. */
  deliveryCount: number;
  /**
   * Tells JetStream the work is still alive (`msg.working()`, resets `ack_wait`). Call it at
   * least every `ackWaitMs / 2`; every tool call and progress step should.
   */
  heartbeat(): void;
  logger: Logger;
}

/** A command handler owned by one app. */
export interface CommandHandler {
  kind: CommandKind;
  /** Does the step and applies its transition (one DB transaction) before returning. */
  handle(ctx: CommandContext): Promise<void>;
  /**
   * Called once when the command will not be retried (non-retryable error, or deliveries
   * exhausted): marks the run failed with the reason. Must be idempotent.
   */
  giveUp(payload: CommandPayload, error: unknown): Promise<void>;
}

/** Settings for `startCommandConsumer`. */
export interface ConsumerRuntimeOptions {
  js: JetStreamClient;
  jsm: JetStreamManager;
  streams: StreamNames;
  handler: CommandHandler;
  logger: Logger;
  /** ack_wait in ms (default 60 000). Long steps heartbeat well inside it. */
  ackWaitMs?: number;
  /** Deliveries before giving up (default 5). */
  maxDeliver?: number;
  /** First retry delay in ms (default 1 000), doubled per delivery, capped at `retryMaxMs`. */
  retryBaseMs?: number;
  /** Cap of the retry delay in ms (default 60 000). */
  retryMaxMs?: number;
  /** Messages handled at once by this process (default 4). */
  concurrency?: number;
}

/** A running consumer. */
export interface RunningConsumer {
  /** Stops pulling, waits for in-flight handlers. */
  stop(): Promise<void>;
}

/**
 * Retry delay for the `deliveryCount`-th failed delivery: exponential with full jitter in
 * [delay/2, delay] (AWS Architecture Blog, "Exponential Backoff And Jitter"), in ms.
 */
export function retryDelayMs(deliveryCount: number, baseMs: number, maxMs: number): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.max(0, deliveryCount - 1));
  return Math.round(exp / 2 + Math.random() * (exp / 2));
}

/** Durable consumer name of a command kind, e.g. `cmd-plan-run`. */
export function durableName(kind: CommandKind): string {
  return `cmd-${kind.replace(/[._]/g, '-')}`;
}

/**
 * Consumes one command kind from the work-queue stream through a durable pull consumer shared by
 * all replicas. Acks only after the handler returned (its transaction committed). A retryable
 * error naks with our computed delay; a non-retryable one, or the last delivery, calls `giveUp`
 * and terminates the message. `InvalidTransitionError` means the step already happened (a
 * redelivery or a duplicate): acked without effect.
 */
export async function startCommandConsumer(options: ConsumerRuntimeOptions): Promise<RunningConsumer> {
  const { js, jsm, streams, handler, logger } = options;
  const ackWaitMs = options.ackWaitMs ?? 60_000;
  const maxDeliver = options.maxDeliver ?? 5;
  const retryBaseMs = options.retryBaseMs ?? 1_000;
  const retryMaxMs = options.retryMaxMs ?? 60_000;
  const concurrency = options.concurrency ?? 4;
  const durable = durableName(handler.kind);
  const filterSubject = commandSubject(handler.kind);
  await ensureConsumer(jsm, { stream: streams.commands, durable, filterSubject, ackWaitMs, maxDeliver });
  const consumer = await js.consumers.get(streams.commands, durable);
  const messages = await consumer.consume({ max_messages: concurrency });
  const inFlight = new Set<Promise<void>>();
  const log = logger.child({ consumer: durable });

  async function process(msg: JsMsg): Promise<void> {
    const deliveryCount = msg.info.deliveryCount;
    let payload: CommandPayload;
    try {
      payload = CommandPayload.parse(msg.json());
    } catch (err) {
      log.error({ err: describeError(err), subject: msg.subject }, 'malformed command: terminated');
      msg.term('malformed command payload');
      return;
    }
    const mlog = log.child({ executionId: payload.executionId, deliveryCount });
    let lastBeat = 0;
    const ctx: CommandContext = {
      payload,
      deliveryCount,
      logger: mlog,
      heartbeat() {
        const now = Date.now();
        if (now - lastBeat < 1000) return;
        lastBeat = now;
        msg.working();
      },
    };
    try {
      await handler.handle(ctx);
      msg.ack();
    } catch (err) {
      if (err instanceof InvalidTransitionError) {
        mlog.info({ reason: err.message }, 'step already applied: acked without effect');
        msg.ack();
        return;
      }
      const retryable = isRemediationError(err) ? err.retryable : true;
      if (retryable && deliveryCount < maxDeliver) {
        const delay = retryDelayMs(deliveryCount, retryBaseMs, retryMaxMs);
        mlog.warn({ err: describeError(err), delayMs: delay }, 'retryable failure: nak with delay');
        msg.nak(delay);
        return;
      }
      mlog.error({ err: describeError(err), retryable }, 'giving up on command');
      try {
        await handler.giveUp(payload, err);
        msg.term(describeError(err).slice(0, 200));
      } catch (giveUpErr) {
        if (giveUpErr instanceof InvalidTransitionError || (isRemediationError(giveUpErr) && !giveUpErr.retryable)) {
          // Already terminal, or the run no longer exists: nothing left to record.
          mlog.warn({ err: describeError(giveUpErr) }, 'failure not recordable: terminated');
          msg.term('already terminal or unknown run');
          return;
        }
        mlog.error({ err: describeError(giveUpErr) }, 'could not record failure: nak for retry');
        msg.nak(retryDelayMs(deliveryCount, retryBaseMs, retryMaxMs));
      }
    }
  }

  const loop = (async () => {
    for await (const msg of messages) {
      const p = process(msg).catch((err) => log.error({ err: describeError(err) }, 'unexpected handler crash'));
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
      while (inFlight.size >= concurrency) await Promise.race(inFlight);
    }
  })();

  return {
    async stop() {
      await messages.close();
      await loop.catch(() => undefined);
      await Promise.allSettled([...inFlight]);
    },
  };
}
