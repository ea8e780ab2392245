import {
  type CreateExecutionInput,
  type CreateRemediationRequest,
  ExecutionEvent,
  ExecutionResponse,
  HistoryResponse,
  ProgressEvent,
  PullRequestBody,
  RemediationResponse,
} from '@remediation/contracts';
import { createParser } from 'eventsource-parser';
import type { z } from 'zod';

/** Error answered by the API: carries the HTTP status and the API's error code. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/**
 * Credentials of the API (issue 11): an API key of a service account (sent as `X-API-Key`) or a
 * JWT of the configured issuer (sent as `Authorization: Bearer`).
 */
export interface Credentials {
  apiKey?: string;
  token?: string;
}

/** One event of an execution's events stream: its id (the stream sequence) and the parsed payload. */
export type StreamedEvent = { id: string; type: 'state'; event: ExecutionEvent } | { id: string; type: 'progress'; event: ProgressEvent };

/** A small typed client of the HTTP API v1 (responses validated with the contract schemas). */
export class RemediationClient {
  constructor(
    private readonly baseUrl: string,
    private readonly credentials: Credentials = {},
  ) {}

  private async request(method: string, path: string, headers: Record<string, string>, body?: unknown, signal?: AbortSignal): Promise<Response> {
    try {
      return await fetch(new URL(path, this.baseUrl), {
        method,
        headers: {
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(this.credentials.token ? { authorization: `Bearer ${this.credentials.token}` } : {}),
          ...(this.credentials.apiKey ? { 'x-api-key': this.credentials.apiKey } : {}),
          ...headers,
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        ...(signal ? { signal } : {}),
      });
    } catch (err) {
      if (signal?.aborted) throw err;
      throw new ApiError(0, 'API_UNREACHABLE', `cannot reach the API at ${this.baseUrl}: ${(err as Error).message}`);
    }
  }

  private async call<S extends z.ZodType>(schema: S, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<z.infer<S>> {
    const res = await this.request(method, path, { accept: 'application/json', ...headers }, body);
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      throw new ApiError(res.status, 'API_BAD_RESPONSE', `${method} ${path}: not JSON (${res.status}): ${text.slice(0, 200)}`);
    }
    if (!res.ok) {
      const e = json as { code?: string; message?: string } | undefined;
      throw new ApiError(res.status, e?.code ?? 'HTTP_' + res.status, `${method} ${path} → ${res.status} ${e?.code ?? ''}: ${e?.message ?? text}`);
    }
    return schema.parse(json);
  }

  createRemediation(body: CreateRemediationRequest, idempotencyKey?: string) {
    return this.call(RemediationResponse, 'POST', '/v1/remediations', body, idempotencyKey ? { 'idempotency-key': idempotencyKey } : {});
  }
  getRemediation(id: string) {
    return this.call(RemediationResponse, 'GET', `/v1/remediations/${encodeURIComponent(id)}`);
  }
  /** Starts a patch execution; the body names the tier `tier` (`upgradeOption` is its v1 alias). */
  createExecution(remediationId: string, body: CreateExecutionInput) {
    return this.call(ExecutionResponse, 'POST', `/v1/remediations/${encodeURIComponent(remediationId)}/executions`, body);
  }
  getExecution(id: string) {
    return this.call(ExecutionResponse, 'GET', `/v1/executions/${encodeURIComponent(id)}`);
  }
  getHistory(id: string) {
    return this.call(HistoryResponse, 'GET', `/v1/executions/${encodeURIComponent(id)}/history`);
  }
  requestPullRequest(executionId: string, patchVersion?: number) {
    return this.call(PullRequestBody, 'POST', `/v1/executions/${encodeURIComponent(executionId)}/pull-requests`, patchVersion ? { patchVersion } : {});
  }

  /**
   * The execution's events (`GET /v1/executions/:id/events`, Server-Sent Events parsed with
   * eventsource-parser): its stored state changes and progress, then live ones, after
   * `lastEventId` when given. Ends when the server closes the stream or `signal` aborts; events of
   * other types are skipped, payloads validated with the contracts.
   * @throws ApiError as the other calls (`ROUTE_NOT_FOUND` from a server without the route);
   *   `API_BAD_RESPONSE` for an answer that is not `text/event-stream` or an event that breaks its contract.
   */
  async *executionEvents(executionId: string, options: { lastEventId?: string | undefined; signal?: AbortSignal } = {}): AsyncGenerator<StreamedEvent> {
    const path = `/v1/executions/${encodeURIComponent(executionId)}/events`;
    const res = await this.request('GET', path, { accept: 'text/event-stream', ...(options.lastEventId ? { 'last-event-id': options.lastEventId } : {}) }, undefined, options.signal);
    if (!res.ok) {
      const text = await res.text();
      let e: { code?: string; message?: string } | undefined;
      try {
        e = JSON.parse(text) as typeof e;
      } catch {
        e = undefined;
      }
      throw new ApiError(res.status, e?.code ?? 'HTTP_' + res.status, `GET ${path} → ${res.status} ${e?.code ?? ''}: ${e?.message ?? text.slice(0, 200)}`);
    }
    if (!res.body || !/^text\/event-stream/.test(res.headers.get('content-type') ?? '')) {
      await res.body?.cancel();
      throw new ApiError(res.status, 'API_BAD_RESPONSE', `GET ${path}: not an event stream (${res.headers.get('content-type') ?? 'no content type'})`);
    }
    const queue: StreamedEvent[] = [];
    let broken: ApiError | null = null;
    const parser = createParser({
      onEvent: (m) => {
        const parse = m.event === 'state' ? ExecutionEvent.safeParse(safeJson(m.data)) : m.event === 'progress' ? ProgressEvent.safeParse(safeJson(m.data)) : null;
        if (!parse) return;
        if (!parse.success) {
          broken ??= new ApiError(200, 'API_BAD_RESPONSE', `GET ${path}: event ${m.id ?? '?'} (${m.event}) breaks its contract: ${parse.error.message}`);
          return;
        }
        queue.push({ id: m.id ?? '', type: m.event, event: parse.data } as StreamedEvent);
      },
    });
    const decoder = new TextDecoder();
    for await (const chunk of res.body) {
      parser.feed(decoder.decode(chunk as Uint8Array, { stream: true }));
      if (broken) throw broken;
      while (queue.length) yield queue.shift()!;
    }
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
