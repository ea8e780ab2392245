import { InvalidInputError, RemediationError, TransientError, describeError } from '@remediation/errors';

/**
 * HTTP statuses of GitHub answers a retry cannot change (the request itself is wrong, not
 * allowed or about something that does not exist): 400, 401, 403 (unless it is a rate limit),
 * 404, 410, 414, 422, 451. 408, 429, 5xx and network errors stay retryable (GitHub docs "Best
 * practices for using the REST API" and "Rate limits for the REST API": a primary or secondary
 * rate limit answers 403 or 429 with `retry-after` or `x-ratelimit-remaining: 0`).
 */
export const PERMANENT_GITHUB_STATUSES: readonly number[] = [400, 401, 403, 404, 410, 414, 422, 451];

/** The shape of Octokit's `RequestError` read here. */
interface GithubRequestError {
  status?: number;
  message?: string;
  response?: { headers?: Record<string, string | number | undefined> };
}

/** Whether a GitHub error is a (primary or secondary) rate limit: retried after the limit resets. */
function isRateLimit(err: GithubRequestError): boolean {
  const headers = err.response?.headers ?? {};
  return (
    err.status === 429 ||
    String(headers['x-ratelimit-remaining'] ?? '') === '0' ||
    headers['retry-after'] !== undefined ||
    /rate limit/i.test(err.message ?? '')
  );
}

/** Whether retrying the same GitHub request may succeed (see {@link PERMANENT_GITHUB_STATUSES}). */
export function isRetryableGithubError(err: unknown): boolean {
  if (err instanceof RemediationError) return err.retryable;
  const e = err as GithubRequestError;
  if (typeof e?.status !== 'number') return true;
  if (isRateLimit(e)) return true;
  return !PERMANENT_GITHUB_STATUSES.includes(e.status);
}

/**
 * A project error for a failed GitHub request: `GITHUB_REQUEST_REJECTED` (InvalidInputError, not
 * retryable; details `{ status }`) for a status a retry cannot change, else `GITHUB_UNAVAILABLE`
 * (TransientError). Project errors pass through unchanged. The message starts with `what`.
 */
export function githubRequestError(err: unknown, what: string): RemediationError {
  if (err instanceof RemediationError) return err;
  const status = (err as GithubRequestError)?.status;
  const message = `${what} failed${typeof status === 'number' ? ` (${status})` : ''}: ${describeError(err)}`;
  return isRetryableGithubError(err)
    ? new TransientError('GITHUB_UNAVAILABLE', message, { cause: err, ...(typeof status === 'number' ? { details: { status } } : {}) })
    : new InvalidInputError('GITHUB_REQUEST_REJECTED', message, { cause: err, details: { status } });
}
