// The console's access to the API: the API key (kept in sessionStorage for this tab only), JSON
// calls to the authenticated /v1/ routes, and the live event stream of an execution.
import { createParser } from 'eventsource-parser';

const KEY_STORAGE = 'remediation.console.apiKey';

/** The API key of this tab, or null. */
export function apiKey() {
  return sessionStorage.getItem(KEY_STORAGE);
}

/** Keeps `key` for this tab (null forgets it). */
export function setApiKey(key) {
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  else sessionStorage.removeItem(KEY_STORAGE);
}

/** An answer of the API that was not 2xx: `status`, and the ErrorBody's `code` and `message`. */
export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = body?.code ?? `HTTP_${status}`;
    this.details = body?.details;
  }
}

/**
 * Calls `path` (e.g. `/v1/executions?state=patch_running`) with the API key; `body` is sent as JSON.
 * @returns the parsed JSON body
 * @throws ApiError on a non-2xx answer (401: the key is forgotten, the page asks again)
 */
export async function call(path, { method = 'GET', body } = {}) {
  const headers = { authorization: `Bearer ${apiKey() ?? ''}`, accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = { code: `HTTP_${res.status}`, message: text.slice(0, 200) };
  }
  if (!res.ok) {
    if (res.status === 401) {
      setApiKey(null);
      window.dispatchEvent(new CustomEvent('console:unauthenticated', { detail: parsed?.message }));
    }
    throw new ApiError(res.status, parsed);
  }
  return parsed;
}

/**
 * Follows `GET /v1/executions/:id/events` (Server-Sent Events with the Bearer header, so fetch and
 * a stream parser rather than EventSource): `event: state` carries an ExecutionEvent
 * (docs/events.md), `event: progress` `{ executionId, step, event, details, at }`; comments keep it
 * alive. Reconnects after a drop with `Last-Event-ID`.
 * @param handlers `onState(event)`, `onProgress(progress)`, `onMode(mode)` with mode `stream`,
 *   `reconnecting` or `unsupported` (the route answered 404: the caller polls instead)
 * @returns a function that stops following
 */
export function followExecution(id, handlers) {
  const controller = new AbortController();
  let lastEventId = null;
  let stopped = false;
  const run = async () => {
    while (!stopped) {
      try {
        const headers = { authorization: `Bearer ${apiKey() ?? ''}`, accept: 'text/event-stream' };
        if (lastEventId) headers['last-event-id'] = lastEventId;
        const res = await fetch(`/v1/executions/${encodeURIComponent(id)}/events`, { headers, signal: controller.signal });
        if (res.status === 404) {
          // No events route on this API (or no such execution): the caller polls instead.
          handlers.onMode('unsupported');
          return;
        }
        if (!res.ok || !res.body) throw new ApiError(res.status, await res.json().catch(() => null));
        handlers.onMode('stream');
        const parser = createParser({
          onEvent(message) {
            if (message.id) lastEventId = message.id;
            let data;
            try {
              data = JSON.parse(message.data);
            } catch {
              return;
            }
            if (message.event === 'state') handlers.onState(data);
            else if (message.event === 'progress') handlers.onProgress(data);
          },
        });
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          parser.feed(value);
        }
      } catch (err) {
        if (stopped || err?.name === 'AbortError') return;
        if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
          handlers.onMode('unsupported');
          return;
        }
      }
      if (stopped) return;
      handlers.onMode('reconnecting');
      await new Promise((r) => setTimeout(r, 2000));
    }
  };
  void run();
  return () => {
    stopped = true;
    controller.abort();
  };
}
