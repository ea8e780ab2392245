import type { JetStreamClient } from '@nats-io/jetstream';
import { type ProgressEvent, progressSubject } from '@remediation/contracts';
import { describeError } from '@remediation/errors';
import { type ProgressDropReason, type Registry, messagingMetrics } from '@remediation/metrics';
import type { Logger } from 'pino';

/** Publishes are given this long for JetStream's acknowledgement, ms; an unanswered one counts as dropped. */
const PUBLISH_TIMEOUT_MS = 5_000;

/** Default most publishes waiting for their acknowledgement at once; more are dropped (NATS away or slow). */
export const DEFAULT_MAX_PROGRESS_IN_FLIGHT = 100;

/** Publishes public progress events (docs/decisions/0019): best-effort, never blocking or failing the caller. */
export interface ProgressPublisher {
  /**
   * Publishes `event` on `remediation.evt.v1.<tenant>.progress.<step>` without waiting. A publish
   * that fails or times out, or one past the in-flight bound, is dropped and counted; the step's
   * history row is the record.
   */
  publish(tenant: string, event: ProgressEvent): void;
  /** Publishes not stored (failed, timed out, or dropped at the bound) since start. */
  readonly dropped: number;
  /** Waits for the publishes in flight (shutdown, tests). */
  settle(): Promise<void>;
}

/**
 * A {@link ProgressPublisher} over JetStream: `js.publish` (the stream stores it and acknowledges),
 * no `Nats-Msg-Id` (each heartbeat is published once; nothing retries it), at most `maxInFlight`
 * publishes waiting for their acknowledgement (default {@link DEFAULT_MAX_PROGRESS_IN_FLIGHT}).
 * Failures are logged at `debug`, the first and every 100th at `warn`, and each is counted in
 * `metrics` as `remediation_progress_events_dropped_total{reason}` (docs/operations.md).
 */
export function jetStreamProgressPublisher(
  js: JetStreamClient,
  logger: Logger,
  options: { maxInFlight?: number; metrics?: Registry | undefined } = {},
): ProgressPublisher {
  const maxInFlight = options.maxInFlight ?? DEFAULT_MAX_PROGRESS_IN_FLIGHT;
  const counter = options.metrics ? messagingMetrics(options.metrics).progressDropped : null;
  const inFlight = new Set<Promise<void>>();
  let dropped = 0;
  const drop = (err: unknown, subject: string, reason: ProgressDropReason) => {
    dropped++;
    counter?.inc({ reason });
    const level = dropped === 1 || dropped % 100 === 0 ? 'warn' : 'debug';
    logger[level]({ err: describeError(err), subject, dropped }, 'progress event not published (best-effort)');
  };
  return {
    publish(tenant, event) {
      const subject = progressSubject(tenant, event.step);
      if (inFlight.size >= maxInFlight) {
        drop(new Error(`${maxInFlight} progress publishes already waiting`), subject, 'in_flight_limit');
        return;
      }
      const p: Promise<void> = js
        .publish(subject, JSON.stringify(event), { timeout: PUBLISH_TIMEOUT_MS })
        .then(() => undefined, (err: unknown) => drop(err, subject, 'publish_failed'))
        .finally(() => inFlight.delete(p));
      inFlight.add(p);
    },
    get dropped() {
      return dropped;
    },
    async settle() {
      await Promise.allSettled([...inFlight]);
    },
  };
}
