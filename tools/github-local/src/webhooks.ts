import { createHmac, randomUUID } from 'node:crypto';
import { Webhooks } from '@octokit/webhooks';
import { validateWebhook, WEBHOOKS, type ValidationIssue, type WebhookName } from './openapi-validator.js';

/**
 * Webhook deliveries of github-local, sent like GitHub sends them: `POST <url>` with the JSON
 * payload and the headers `X-GitHub-Event`, `X-GitHub-Delivery` (a UUID), `X-Hub-Signature-256`
 * (`sha256=<HMAC-SHA256 of the raw body with the secret>`, made with `@octokit/webhooks`'
 * `sign`), the legacy `X-Hub-Signature` (`sha1=...`), `X-GitHub-Hook-ID`,
 * `X-GitHub-Hook-Installation-Target-Type`/`-ID`, `User-Agent: GitHub-Hookshot/github-local`,
 * `Content-Type: application/json`. See https://docs.github.com/webhooks/webhook-events-and-payloads.
 *
 * Deliveries are queued and sent one at a time in the order the events happened. A payload is
 * built when its turn comes (from records copied at the time of the event) and validated against
 * the OpenAPI description's `x-webhooks` schema first; a payload that does not match is not sent
 * (status `invalid`). Connection failures are retried ({@link ATTEMPTS} attempts in all);
 * a receiver's HTTP answer, whatever its status, ends the delivery (GitHub does not retry either).
 * Nothing here throws into the server: failures are recorded in {@link WebhookDelivery}.
 */

/** Where and how to deliver webhooks (the `webhook` option of the server). */
export interface WebhookOptions {
  /** Receiver URL, e.g. `http://127.0.0.1:8080/webhooks`. */
  url: string;
  /** Shared secret for `X-Hub-Signature-256`; empty string: no signature headers (as GitHub without a secret). */
  secret: string;
}

/** One delivery attempt series as tests see it (`GithubLocal.deliveries()`). */
export interface WebhookDelivery {
  /** `X-GitHub-Delivery` UUID; a redelivery has the id of the delivery it repeats. */
  id: string;
  /** `X-GitHub-Event`, e.g. `pull_request`. */
  event: string;
  /** The payload's `action` (`opened`, `submitted`, ...), null for `push`. */
  action: string | null;
  /**
   * `pending` until answered; then the receiver's HTTP status code; `failed` when the receiver
   * could not be reached after all attempts, the payload could not be built, or the server closed
   * first; `invalid` when the payload did not match GitHub's schema (not sent; see `error`).
   */
  status: 'pending' | 'failed' | 'invalid' | number;
  /** POST attempts made (0 while queued, or when never sent). */
  attempts: number;
  /** Whether this entry is a `redeliver()` of an earlier delivery. */
  redelivery: boolean;
  /** Why the delivery `failed` or is `invalid`. */
  error?: string;
}

/** POST attempts per delivery when the receiver cannot be reached (connection refused, reset, timeout). */
const ATTEMPTS = 3;
/** Wait before attempt 2, 3, ... (ms). */
const RETRY_DELAYS = [200, 800];
/** Per-attempt timeout (GitHub gives receivers 10 s). */
const TIMEOUT_MS = 10_000;

interface Queued {
  record: WebhookDelivery;
  name: WebhookName;
  /** Builds the payload (delivery) or undefined (redelivery: uses `original.body`). */
  build?: () => Promise<Record<string, unknown>>;
  original?: Queued;
  /** Raw JSON body once built and valid. */
  body?: string;
  targetType?: string;
  targetId?: string;
}

/** Sends and records webhook deliveries for one server; see the module comment. */
export class WebhookSender {
  private readonly queue: Queued[] = [];
  private readonly all: Queued[] = [];
  private readonly signer: Webhooks | undefined;
  private readonly aborter = new AbortController();
  private running: Promise<void> | undefined;
  private closed = false;

  /**
   * @param options receiver URL and secret
   * @param context `hookId` for `X-GitHub-Hook-ID`; `appId` when a GitHub App is configured
   *   (payloads with `installation` are then announced as target type `integration`);
   *   `log` receives delivery problems (never throws).
   */
  constructor(
    private readonly options: WebhookOptions,
    private readonly context: {
      hookId: number;
      appId?: number;
      log: (level: 'warn' | 'error', message: string, details: Record<string, unknown>) => void;
    },
  ) {
    this.signer = options.secret === '' ? undefined : new Webhooks({ secret: options.secret });
  }

  /**
   * Queues a delivery of webhook `name`; `build` makes its payload when its turn comes (it
   * must use data captured now, not live records). Returns the new `X-GitHub-Delivery` id.
   */
  enqueue(name: WebhookName, build: () => Promise<Record<string, unknown>>): string {
    const hook = WEBHOOKS[name];
    const item: Queued = {
      record: { id: randomUUID(), event: hook.event, action: hook.action, status: 'pending', attempts: 0, redelivery: false },
      name,
      build,
    };
    this.push(item);
    return item.record.id;
  }

  /**
   * Queues a repeat of delivery `id` with the same `X-GitHub-Delivery` id, headers and body
   * (as GitHub's "Redeliver" does), to test receivers against duplicate deliveries.
   * @throws Error when no delivery has that id.
   */
  redeliver(id: string): void {
    const original = this.all.find((q) => q.record.id === id && !q.record.redelivery);
    if (!original) throw new Error(`github-local: no webhook delivery ${id}`);
    this.push({ record: { ...original.record, status: 'pending', attempts: 0, redelivery: true }, name: original.name, original });
  }

  /** Copies of all deliveries, in the order they were queued. */
  deliveries(): WebhookDelivery[] {
    return this.all.map((q) => ({ ...q.record }));
  }

  /** Resolves once every queued delivery has been answered or given up (at once when none is pending). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Stops sending: aborts the delivery in flight and marks queued ones `failed`. Safe to call twice. */
  async close(): Promise<void> {
    this.closed = true;
    this.aborter.abort();
    await this.idle();
    for (const item of this.queue.splice(0)) this.fail(item, 'github-local server closed');
  }

  private push(item: Queued): void {
    this.all.push(item);
    if (this.closed) {
      this.fail(item, 'github-local server closed');
      return;
    }
    this.queue.push(item);
    this.kick();
  }

  /** Starts the sending loop unless it runs; restarts it if an item arrived as it was ending. */
  private kick(): void {
    if (this.running) return;
    this.running = this.pump().finally(() => {
      this.running = undefined;
      if (this.queue.length > 0 && !this.closed) this.kick();
    });
  }

  private fail(item: Queued, error: string): void {
    item.record.status = 'failed';
    item.record.error = error;
  }

  private async pump(): Promise<void> {
    while (this.queue.length > 0) {
      const item = this.queue.shift()!;
      if (this.closed) {
        this.fail(item, 'github-local server closed');
        continue;
      }
      try {
        await this.deliver(item);
      } catch (error) {
        this.fail(item, error instanceof Error ? error.message : String(error));
        this.context.log('error', 'github-local webhook delivery failed', { id: item.record.id, error: item.record.error });
      }
    }
  }

  /** Builds and validates the body of a first delivery; false when it must not be sent. */
  private async prepare(item: Queued): Promise<boolean> {
    if (item.original) {
      const { original } = item;
      if (original.body === undefined) {
        this.fail(item, `original delivery has no body (${original.record.status})`);
        return false;
      }
      item.body = original.body;
      item.targetType = original.targetType;
      item.targetId = original.targetId;
      return true;
    }
    const payload = await item.build!();
    const check = validateWebhook(item.name, payload);
    if (!check.valid) {
      item.record.status = 'invalid';
      item.record.error = summarize(check.issues);
      this.context.log('error', "github-local webhook payload violates GitHub's schema (not sent)", {
        name: item.name,
        issues: check.issues,
      });
      return false;
    }
    item.body = JSON.stringify(payload);
    const installation = payload['installation'] !== undefined && this.context.appId !== undefined;
    item.targetType = installation ? 'integration' : 'repository';
    item.targetId = String(
      installation ? this.context.appId : ((payload['repository'] as { id?: number } | undefined)?.id ?? 0),
    );
    return true;
  }

  private async deliver(item: Queued): Promise<void> {
    if (!(await this.prepare(item))) return;
    const body = item.body!;
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'GitHub-Hookshot/github-local',
      'x-github-event': item.record.event,
      'x-github-delivery': item.record.id,
      'x-github-hook-id': String(this.context.hookId),
      'x-github-hook-installation-target-type': item.targetType!,
      'x-github-hook-installation-target-id': item.targetId!,
    };
    if (this.signer) {
      headers['x-hub-signature-256'] = await this.signer.sign(body);
      headers['x-hub-signature'] = `sha1=${createHmac('sha1', this.options.secret).update(body).digest('hex')}`;
    }
    let lastError = '';
    for (let attempt = 1; attempt <= ATTEMPTS && !this.closed; attempt++) {
      if (attempt > 1) await delay(RETRY_DELAYS[attempt - 2] ?? 1000, this.aborter.signal);
      if (this.closed) break;
      item.record.attempts = attempt;
      try {
        const response = await fetch(this.options.url, {
          method: 'POST',
          headers,
          body,
          signal: AbortSignal.any([this.aborter.signal, AbortSignal.timeout(TIMEOUT_MS)]),
        });
        await response.arrayBuffer().catch(() => undefined);
        item.record.status = response.status;
        return;
      } catch (error) {
        lastError = describe(error);
        this.context.log('warn', 'github-local webhook receiver unreachable', {
          id: item.record.id,
          attempt,
          error: lastError,
        });
      }
    }
    this.fail(item, this.closed ? 'github-local server closed' : `receiver unreachable: ${lastError}`);
  }
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: unknown }).cause;
  return cause instanceof Error ? `${error.message}: ${cause.message}` : error.message;
}

function summarize(issues: ValidationIssue[]): string {
  return issues
    .slice(0, 5)
    .map((i) => `${i.instancePath || '/'} ${i.message}`)
    .join('; ');
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}
