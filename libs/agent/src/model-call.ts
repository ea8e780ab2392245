import { setTimeout as sleep } from 'node:timers/promises';
import type Anthropic from '@anthropic-ai/sdk';
import { AnthropicError, APIConnectionError, APIError, APIUserAbortError } from '@anthropic-ai/sdk';
import type { Message, MessageCreateParamsNonStreaming } from '@anthropic-ai/sdk/resources/messages';
import { AgentAccessDeniedError, AgentApiUnavailableError, AgentCancelledError, AgentRequestInvalidError } from './errors.js';

/**
 * Our retry on top of the SDK's. The SDK (`maxRetries`, default 2) already retries 408, 409,
 * 429, 5xx and 529 with exponential backoff honouring `retry-after` (SDK README "Retries"),
 * invisibly. On top, we retry what the SDK cannot or what should be visible: 529
 * `overloaded_error` after the SDK gave up, and errors that arrive as an SSE `error` event
 * mid-stream (`overloaded_error`, `api_error`, `rate_limit_error`; "Streaming Messages", "Error
 * events"), which the SDK never retries. Each of our retries calls `onRetry` first.
 */
export interface ModelRetryOptions {
  /** Our retries of an overloaded / mid-stream error; default 3. */
  overloadedRetries?: number;
  /** First backoff delay in ms (doubled each retry, ±25 % jitter) when no `retry-after`; default 2000. */
  baseDelayMs?: number;
  /** Cap of one backoff delay in ms; default 30 000. */
  maxDelayMs?: number;
  /** SDK `maxRetries` per request; default: the client's (2 unless configured). */
  sdkMaxRetries?: number;
}

/** What `onRetry` learns about one of our retries. */
export interface ModelRetryEvent {
  /** 1 for the first retry. */
  attempt: number;
  /** Wait before the retry, ms. */
  delayMs: number;
  /** HTTP status (undefined for a mid-stream error event). */
  status: number | undefined;
  /** API `error.type`, e.g. `overloaded_error`. */
  type: string | null;
  message: string;
}

/** Options of {@link createMessage}. */
export interface CreateMessageOptions {
  /** Stream (`messages.stream` + `finalMessage()`) or not (`messages.create`); default true. */
  stream?: boolean;
  signal?: AbortSignal;
  retry?: ModelRetryOptions;
  /** Awaited before each of our retries (e.g. a heartbeat). */
  onRetry?: (event: ModelRetryEvent) => void | Promise<void>;
}

function isOurRetry(error: APIError): boolean {
  if (error.status === 529 || error.type === 'overloaded_error') return true;
  return error.status === undefined && (error.type === 'api_error' || error.type === 'rate_limit_error');
}

function retryAfterMs(error: APIError): number | undefined {
  const headers = error.headers as Headers | undefined;
  const ms = Number(headers?.get?.('retry-after-ms'));
  if (Number.isFinite(ms) && ms > 0) return ms;
  const s = Number(headers?.get?.('retry-after'));
  if (Number.isFinite(s) && s > 0) return s * 1000;
  return undefined;
}

function errorDetails(error: APIError, attempts: number): Record<string, unknown> {
  return { status: error.status ?? null, type: error.type ?? null, requestId: error.requestID ?? null, apiMessage: error.apiMessage ?? null, attempts };
}

/**
 * Maps an SDK error to the project's errors (see `errors.ts` for the codes): 401/402/403 →
 * AGENT_API_ACCESS_DENIED; 408/409/429/5xx/529, mid-stream error events and connection errors →
 * AGENT_API_UNAVAILABLE (retryable); other 4xx and SDK-side refusals → AGENT_REQUEST_INVALID.
 * An abort becomes {@link AgentCancelledError}. Other errors are returned unchanged.
 * Status codes: "Errors" page of the API reference.
 */
export function toAgentError(error: unknown, attempts: number, signal?: AbortSignal): unknown {
  if (error instanceof APIUserAbortError || signal?.aborted) return new AgentCancelledError();
  if (error instanceof APIConnectionError) {
    return new AgentApiUnavailableError(`Messages API unreachable after ${attempts} attempt(s): ${error.message}`, { cause: error, details: { attempts } });
  }
  if (error instanceof APIError) {
    const status = error.status;
    const what = `${status ?? 'stream error'} ${error.type ?? ''}: ${error.apiMessage ?? error.message}`.replace(/\s+/g, ' ');
    const details = errorDetails(error, attempts);
    if (status === 401 || status === 402 || status === 403) return new AgentAccessDeniedError(`Messages API refused access (${what})`, { cause: error, details });
    if (status === undefined || status === 408 || status === 409 || status === 429 || status >= 500) {
      return new AgentApiUnavailableError(`Messages API unavailable after ${attempts} attempt(s) (${what})`, { cause: error, details });
    }
    return new AgentRequestInvalidError(`Messages API rejected the request (${what})`, { cause: error, details });
  }
  if (error instanceof AnthropicError) return new AgentRequestInvalidError(`the SDK refused the request: ${error.message}`, { cause: error });
  return error;
}

/**
 * One Messages API call ("Create a Message", https://docs.anthropic.com/en/api/messages) with
 * the SDK's retries plus ours ({@link ModelRetryOptions}).
 * @returns the complete `Message` (streamed and accumulated by the SDK, or JSON).
 * @throws AgentCancelledError when `signal` aborts; AgentApiUnavailableError (retryable),
 *   AgentRequestInvalidError, AgentAccessDeniedError otherwise.
 */
export async function createMessage(client: Anthropic, params: MessageCreateParamsNonStreaming, options: CreateMessageOptions = {}): Promise<Message> {
  const retry = options.retry ?? {};
  const maxOurRetries = retry.overloadedRetries ?? 3;
  const base = retry.baseDelayMs ?? 2000;
  const cap = retry.maxDelayMs ?? 30_000;
  const requestOptions = { ...(options.signal ? { signal: options.signal } : {}), ...(retry.sdkMaxRetries !== undefined ? { maxRetries: retry.sdkMaxRetries } : {}) };
  for (let attempt = 1; ; attempt++) {
    try {
      if (options.stream ?? true) {
        const { stream: _ignored, ...body } = params as MessageCreateParamsNonStreaming & { stream?: boolean };
        return await client.messages.stream(body, requestOptions).finalMessage();
      }
      return await client.messages.create({ ...params, stream: false }, requestOptions);
    } catch (error) {
      if (error instanceof APIError && !(error instanceof APIUserAbortError) && !options.signal?.aborted && isOurRetry(error) && attempt <= maxOurRetries) {
        const delayMs = Math.round(retryAfterMs(error) ?? Math.min(cap, base * 2 ** (attempt - 1)) * (1 - Math.random() * 0.25));
        await options.onRetry?.({ attempt, delayMs, status: error.status, type: error.type ?? null, message: error.apiMessage ?? error.message });
        try {
          await sleep(delayMs, undefined, options.signal ? { signal: options.signal } : {});
        } catch {
          throw new AgentCancelledError();
        }
        continue;
      }
      throw toAgentError(error, attempt, options.signal);
    }
  }
}
