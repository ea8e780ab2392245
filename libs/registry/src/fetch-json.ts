import { InvalidInputError, RemediationError, TransientError } from '@remediation/errors';
import pRetry, { AbortError } from 'p-retry';

/** How a registry source talks HTTP: shared by every ecosystem's registry source. */
export interface RegistryHttpOptions {
  /** `fetch` to use (tests inject one). */
  fetch: typeof globalThis.fetch;
  /** Per-request timeout, ms. */
  timeoutMs: number;
  /** Retries after the first attempt (network errors, timeouts, 408, 429, 5xx). */
  retries: number;
  /** First and largest retry delay, ms (exponential, factor 2, randomised). */
  minRetryDelayMs: number;
  maxRetryDelayMs: number;
  /** Extra request headers (credentials); never put in errors. */
  headers: Record<string, string>;
  /** What the server is called in messages: `registry` (npm), `index` (PyPI), … */
  kind: string;
  /** The server's base URL as shown in messages. */
  label: string;
}

/** A status a retry may change (408, 429, 5xx): retried by p-retry. */
class RetryableStatusError extends Error {
  constructor(
    readonly status: number,
    kind: string,
    url: string,
  ) {
    super(`${kind} answered ${status} for ${url}`);
    this.name = 'RetryableStatusError';
  }
}

/**
 * GETs `url` and returns `parse(<JSON body>)` (or `parse(<text body>)` with `body: 'text'`, for
 * documents that are not one JSON value, such as Cargo's newline-delimited sparse index files),
 * with the registry sources' one policy: 404 →
 * `PACKAGE_NOT_FOUND` at once; 408, 429, 5xx, network errors and timeouts retried with
 * exponential backoff (p-retry); another 4xx → `REGISTRY_UNAVAILABLE` at once (401/403 name the
 * credentials). A body that is not JSON is retried, or refused at once with `invalidBody()` when
 * given. Errors thrown by `parse` are final.
 * @throws InvalidInputError `PACKAGE_NOT_FOUND`, or what `parse`/`invalidBody` throw.
 * @throws TransientError `REGISTRY_UNAVAILABLE` after the retries or on another 4xx; `details`
 *   carry name, url, attempts and status.
 */
export async function fetchRegistryJson<T>(
  http: RegistryHttpOptions,
  request: { name: string; url: string; accept: string; parse: (body: unknown) => T; invalidBody?: () => Error; body?: 'json' | 'text' },
): Promise<T> {
  const { name, url } = request;
  let attempts = 0;
  const attempt = async (): Promise<T> => {
    attempts++;
    const response = await http.fetch(url, {
      headers: { accept: request.accept, ...http.headers },
      signal: AbortSignal.timeout(http.timeoutMs),
      redirect: 'follow',
    });
    if (response.status === 404) {
      await response.body?.cancel();
      throw new AbortError(new InvalidInputError('PACKAGE_NOT_FOUND', `package ${name} was not found on ${http.label}`, { details: { name, url, status: 404 } }));
    }
    if (response.status >= 500 || response.status === 408 || response.status === 429) {
      await response.body?.cancel();
      throw new RetryableStatusError(response.status, http.kind, url);
    }
    if (!response.ok) {
      await response.body?.cancel();
      const hint = response.status === 401 || response.status === 403 ? ` (check the ${http.kind} credentials)` : '';
      throw new AbortError(
        new TransientError('REGISTRY_UNAVAILABLE', `${http.kind} answered ${response.status} for ${url}${hint}`, { details: { name, url, status: response.status } }),
      );
    }
    let body: unknown;
    try {
      body = request.body === 'text' ? await response.text() : await response.json();
    } catch (err) {
      if (request.invalidBody) throw new AbortError(request.invalidBody());
      throw err;
    }
    try {
      return request.parse(body);
    } catch (err) {
      throw new AbortError(err as Error);
    }
  };
  try {
    return await pRetry(attempt, { retries: http.retries, minTimeout: http.minRetryDelayMs, maxTimeout: http.maxRetryDelayMs, factor: 2, randomize: true });
  } catch (err) {
    if (err instanceof RemediationError) throw err;
    const status = err instanceof RetryableStatusError ? err.status : undefined;
    const reason =
      err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError') ? `timed out after ${http.timeoutMs} ms` : err instanceof Error ? err.message : String(err);
    throw new TransientError('REGISTRY_UNAVAILABLE', `${http.kind} ${http.label} unavailable for ${name} after ${attempts} attempt(s): ${reason}`, {
      cause: err,
      details: { name, url, attempts, ...(status !== undefined ? { status } : {}) },
    });
  }
}
