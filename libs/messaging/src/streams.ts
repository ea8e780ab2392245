import { AckPolicy, DeliverPolicy, type JetStreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { TimeoutError, nanos } from '@nats-io/nats-core';
import pRetry from 'p-retry';
import { SUBJECT_PREFIX } from '@remediation/contracts';

/**
 * Stream layout (docs/architecture.md "Streams and consumers"): a work-queue stream for commands and
 * a limits stream for public events. Names are prefixed so tests can run side by side.
 */
export interface StreamNames {
  /** Work-queue stream holding `remediation.cmd.>`. */
  commands: string;
  /** Limits stream holding `remediation.evt.>` for other teams (retained for days). */
  events: string;
  /**
   * Replicas of both streams (`num_replicas`; their consumers inherit it). Default 1; 3 in
   * production on a 3-server JetStream cluster (docs/deployment.md). More than 1 needs a
   * clustered nats-server: a single server refuses it.
   */
  replicas?: number;
}

/** Default stream names. */
export const DEFAULT_STREAMS: StreamNames = { commands: 'REMEDIATION_COMMANDS', events: 'REMEDIATION_EVENTS' };

/** Retention of public events: 7 days, in milliseconds. */
export const EVENT_RETENTION_MS = 7 * 24 * 3600 * 1000;

/** Duplicate window for `Nats-Msg-Id` de-duplication: 10 minutes, in milliseconds. */
export const DUPLICATE_WINDOW_MS = 10 * 60 * 1000;

/**
 * Creates the streams if missing, or updates them (e.g. to `names.replicas`; idempotent; safe
 * from several processes).
 * @param subjectPrefix subject root (default `remediation`); tests may isolate with their own.
 */
export async function ensureStreams(
  jsm: JetStreamManager,
  names: StreamNames = DEFAULT_STREAMS,
  subjectPrefix: string = SUBJECT_PREFIX,
): Promise<void> {
  await upsertStream(jsm, {
    name: names.commands,
    subjects: [`${subjectPrefix}.cmd.>`],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
    num_replicas: names.replicas ?? 1,
  });
  await upsertStream(jsm, {
    name: names.events,
    subjects: [`${subjectPrefix}.evt.>`],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    max_age: nanos(EVENT_RETENTION_MS),
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
    num_replicas: names.replicas ?? 1,
  });
}

/**
 * Runs a JetStream API request again when it timed out: on a cluster, creating a replicated
 * stream or consumer waits for its peers to elect a leader, which can outlast the client's request
 * timeout (5 s) right after the cluster starts or loses a server. The requests are idempotent.
 * Up to 8 tries over ≤ 60 s; other errors are thrown at once.
 */
function retryingTimeouts<T>(fn: () => Promise<T>): Promise<T> {
  return pRetry(fn, { retries: 7, minTimeout: 250, maxTimeout: 4_000, maxRetryTime: 60_000, shouldRetry: ({ error }) => isTimeout(error) });
}

function isTimeout(err: unknown): boolean {
  return err instanceof TimeoutError || /timeout/i.test(String((err as Error)?.message));
}

async function upsertStream(
  jsm: JetStreamManager,
  config: { name: string; subjects: string[] } & Record<string, unknown>,
): Promise<void> {
  await retryingTimeouts(() => upsertStreamOnce(jsm, config));
}

async function upsertStreamOnce(
  jsm: JetStreamManager,
  config: { name: string; subjects: string[] } & Record<string, unknown>,
): Promise<void> {
  try {
    await jsm.streams.info(config.name);
    await jsm.streams.update(config.name, config as never);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    try {
      await jsm.streams.add(config as never);
    } catch (addErr) {
      // Another process created it between our info and add.
      if (!/already in use|exists/i.test(String((addErr as Error).message))) throw addErr;
    }
  }
}

/** Durable pull consumer settings for one command kind. */
export interface ConsumerSettings {
  stream: string;
  durable: string;
  filterSubject: string;
  /** How long a delivery may go without ack or `working()` before redelivery, in ms. */
  ackWaitMs: number;
  /** Deliveries before the message is given up (dead-lettered by the runtime). */
  maxDeliver: number;
}

/**
 * Creates or updates a durable pull consumer. No `backoff` is set: on NATS 2.9 it applies only to
 * ack timeouts and needs `max_deliver` > its length; retry delays are computed by the runtime and
 * passed to `nak(delayMs)` (docs/architecture.md facts about NATS 2.9.10). A request that times
 * out (a cluster electing the consumer's leader) is tried again.
 */
export async function ensureConsumer(jsm: JetStreamManager, s: ConsumerSettings): Promise<void> {
  await retryingTimeouts(() => ensureConsumerOnce(jsm, s));
}

async function ensureConsumerOnce(jsm: JetStreamManager, s: ConsumerSettings): Promise<void> {
  const config = {
    durable_name: s.durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    filter_subject: s.filterSubject,
    ack_wait: nanos(s.ackWaitMs),
    max_deliver: s.maxDeliver,
    max_ack_pending: 1000,
  };
  let existing: { config: { filter_subject?: string } } | null = null;
  try {
    existing = (await jsm.consumers.info(s.stream, s.durable)) as unknown as { config: { filter_subject?: string } };
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  if (existing && existing.config.filter_subject !== s.filterSubject) {
    // NATS 2.9 cannot change a consumer's filter: replace it. On a work-queue stream the
    // messages stay in the stream and go to the new consumer.
    await jsm.consumers.delete(s.stream, s.durable).catch(() => undefined);
    existing = null;
  }
  if (existing) {
    await jsm.consumers.update(s.stream, s.durable, config as never);
    return;
  }
  try {
    await jsm.consumers.add(s.stream, config as never);
  } catch (err) {
    // Another replica created it first with the same settings.
    if (!/already (exists|in use)/i.test(String((err as Error).message))) throw err;
  }
}

function isNotFound(err: unknown): boolean {
  const e = err as { code?: unknown; api_error?: { err_code?: number }; message?: string };
  return (
    e?.api_error?.err_code === 10059 ||
    e?.api_error?.err_code === 10014 ||
    /not found/i.test(String(e?.message ?? ''))
  );
}
