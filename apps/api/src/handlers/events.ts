import type { ServerResponse } from 'node:http';
import { type Consumer, type ConsumerMessages, DeliverPolicy, type JsMsg } from '@nats-io/jetstream';
import { tenantEventsFilterSubject } from '@remediation/contracts';
import { InvalidInputError } from '@remediation/errors';
import { DEFAULT_STREAMS } from '@remediation/messaging';
import { getRemediationView, loadExecution } from '@remediation/persistence';
import type { FastifyReply } from 'fastify';
import type { Caller } from '../auth.js';
import type { ApiContext } from '../server.js';

/**
 * Live progress as Server-Sent Events (issue 16; docs/decisions/0019; wire format:
 * https://html.spec.whatwg.org/multipage/server-sent-events.html):
 * `GET /v1/executions/:id/events` and `GET /v1/remediations/:id/events`.
 *
 * Fed by the public stream REMEDIATION_EVENTS through an ordered consumer (ephemeral, no acks)
 * filtered to the caller's tenant (`remediation.evt.v1.<tenant>.>`), keeping the events of the
 * execution (or of every execution of the remediation). Each event is written as
 * `id: <stream sequence>`, `event: state` (data: the ExecutionEvent) or `event: progress`
 * (data: the ProgressEvent), then a blank line; a comment line `: keep-alive` every
 * `keepAliveMs`. Without `Last-Event-ID` the stream starts at the stored events of the
 * execution (from its start, less {@link START_MARGIN_MS}) and then follows live; with
 * `Last-Event-ID: <n>` it starts at stream sequence n + 1. The consumer is deleted when the client
 * goes away or the API shuts down.
 */

/** Events start being read this long before the execution (remediation) started, ms: clock skew between PostgreSQL and NATS. */
export const START_MARGIN_MS = 60_000;

/** Default interval of the `: keep-alive` comment, ms (15 s). */
export const DEFAULT_KEEP_ALIVE_MS = 15_000;

/** Options of the events routes. */
export interface EventsOptions {
  /** Interval of the `: keep-alive` comment line, ms (default {@link DEFAULT_KEEP_ALIVE_MS}). */
  keepAliveMs: number;
  /** Stream of the public events (default `REMEDIATION_EVENTS`). */
  stream: string;
}

/** Default events options. */
export const DEFAULT_EVENTS_OPTIONS: EventsOptions = { keepAliveMs: DEFAULT_KEEP_ALIVE_MS, stream: DEFAULT_STREAMS.events };

/** What one events request follows: events whose payload's `field` equals `id`, from `since` on. */
interface EventsScope {
  field: 'executionId' | 'remediationId';
  id: string;
  /** When the execution (remediation) started: replay starts here less {@link START_MARGIN_MS}. */
  since: Date;
}

/**
 * The open event streams of one API, ended when it shuts down (an SSE response never ends on its
 * own, so the server's close would wait for it).
 */
export class EventStreams {
  private readonly open = new Set<() => Promise<void>>();

  constructor(
    private readonly ctx: ApiContext,
    private readonly options: EventsOptions,
  ) {}

  /** Streams open now. */
  get size(): number {
    return this.open.size;
  }

  /**
   * `GET /v1/executions/:id/events`: the caller's execution, else 404 (also for another tenant's).
   * @throws NotFoundError; InvalidInputError `REQUEST_INVALID` for a bad `Last-Event-ID`.
   */
  async execution(caller: Caller, id: string, lastEventId: string | undefined, reply: FastifyReply): Promise<void> {
    const start = parseLastEventId(lastEventId);
    const execution = await loadExecution(this.ctx.db, id, caller.tenant);
    await this.serve(caller, { field: 'executionId', id, since: execution.startedAt }, start, reply);
  }

  /**
   * `GET /v1/remediations/:id/events`: every execution (plans and patches) of the caller's
   * remediation, else 404 (also for another tenant's).
   * @throws NotFoundError; InvalidInputError `REQUEST_INVALID` for a bad `Last-Event-ID`.
   */
  async remediation(caller: Caller, id: string, lastEventId: string | undefined, reply: FastifyReply): Promise<void> {
    const start = parseLastEventId(lastEventId);
    const remediation = await getRemediationView(this.ctx.db, id, caller.tenant);
    await this.serve(caller, { field: 'remediationId', id, since: new Date(remediation.createdAt) }, start, reply);
  }

  /** Ends every open stream and deletes their consumers. */
  async closeAll(): Promise<void> {
    await Promise.allSettled([...this.open].map((close) => close()));
  }

  private async serve(caller: Caller, scope: EventsScope, afterSeq: number | null, reply: FastifyReply): Promise<void> {
    const consumer = await this.ctx.nats.js.consumers.get(this.options.stream, {
      filter_subjects: tenantEventsFilterSubject(caller.tenant),
      ...(afterSeq !== null
        ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: afterSeq + 1 }
        : { deliver_policy: DeliverPolicy.StartTime, opt_start_time: new Date(scope.since.getTime() - START_MARGIN_MS).toISOString() }),
    });
    const messages = await consumer.consume();
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.flushHeaders();
    let closing: Promise<void> | null = null;
    const close = () =>
      (closing ??= (async () => {
        clearInterval(keepAlive);
        this.open.delete(close);
        await stopConsumer(consumer, messages);
        if (!res.writableEnded) res.end();
      })());
    this.open.add(close);
    const keepAlive = setInterval(() => void write(res, ': keep-alive\n\n'), this.options.keepAliveMs);
    res.on('close', () => void close());
    void (async () => {
      try {
        for await (const m of messages) {
          const frame = frameOf(m, scope);
          if (frame && !(await write(res, frame))) break;
        }
      } catch (err) {
        this.ctx.logger.warn({ err: (err as Error).message, [scope.field]: scope.id }, 'event stream ended: the consumer failed');
      } finally {
        await close();
      }
    })();
  }
}

/** The SSE frame of a stored event when it belongs to `scope` (`state` or `progress`), else null. */
function frameOf(m: JsMsg, scope: EventsScope): string | null {
  const kind = eventKindOf(m.subject);
  if (!kind) return null;
  let payload: Record<string, unknown>;
  try {
    payload = m.json<Record<string, unknown>>();
  } catch {
    return null;
  }
  if (payload[scope.field] !== scope.id) return null;
  // JSON.stringify writes no line breaks: one `data:` line.
  return `id: ${m.seq}\nevent: ${kind}\ndata: ${JSON.stringify(payload)}\n\n`;
}

/** `state` for `…execution.<state>`, `progress` for `…progress.<step>`, null for other public events. */
function eventKindOf(subject: string): 'state' | 'progress' | null {
  // remediation.evt.v1.<tenant>.<kind>.<…>
  const kind = subject.split('.')[4];
  if (kind === 'execution') return 'state';
  if (kind === 'progress') return 'progress';
  return null;
}

/**
 * `Last-Event-ID` as a stream sequence (the `id:` this API sends), or null when absent.
 * @throws InvalidInputError `REQUEST_INVALID` naming the header when it is not a non-negative integer.
 */
export function parseLastEventId(value: string | undefined): number | null {
  if (value === undefined || value === '') return null;
  if (!/^\d{1,15}$/.test(value)) {
    throw new InvalidInputError('REQUEST_INVALID', `Last-Event-ID must be the id of an event this API sent (a stream sequence, digits only); got ${JSON.stringify(value.slice(0, 40))}`, {
      details: { header: 'last-event-id' },
    });
  }
  return Number(value);
}

/** Writes to the response, waiting for `drain` when its buffer is full; false once the client is gone. */
function write(res: ServerResponse, chunk: string): Promise<boolean> {
  if (res.writableEnded || res.destroyed) return Promise.resolve(false);
  if (res.write(chunk)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(ok);
    };
    const onDrain = () => done(true);
    const onClose = () => done(false);
    res.once('drain', onDrain);
    res.once('close', onClose);
  });
}

/** Stops reading and deletes the ephemeral consumer (it would otherwise linger for its inactive threshold, 5 min). */
async function stopConsumer(consumer: Consumer, messages: ConsumerMessages): Promise<void> {
  await messages.close().catch(() => undefined);
  await consumer.delete().catch(() => undefined);
}
