import { describe, expect, it } from 'vitest';
import { TransientError } from '@remediation/errors';
import { githubRequestError, isRetryableGithubError } from './errors.js';

const requestError = (status: number, headers: Record<string, string> = {}, message = 'x') => Object.assign(new Error(message), { status, response: { headers } });

describe('GitHub errors: permanent statuses are not retried', () => {
  it.each([400, 401, 403, 404, 410, 414, 422])('%i → GITHUB_REQUEST_REJECTED, not retryable', (status) => {
    expect(isRetryableGithubError(requestError(status))).toBe(false);
    expect(githubRequestError(requestError(status), 'GitHub get')).toMatchObject({ code: 'GITHUB_REQUEST_REJECTED', retryable: false, details: { status } });
  });

  it.each([408, 429, 500, 502, 503])('%i → GITHUB_UNAVAILABLE, retryable', (status) => {
    expect(githubRequestError(requestError(status), 'GitHub get')).toMatchObject({ code: 'GITHUB_UNAVAILABLE', retryable: true });
  });

  it('keeps rate limits (403 with x-ratelimit-remaining 0, retry-after, or a secondary limit message) retryable', () => {
    expect(isRetryableGithubError(requestError(403, { 'x-ratelimit-remaining': '0' }))).toBe(true);
    expect(isRetryableGithubError(requestError(403, { 'retry-after': '60' }))).toBe(true);
    expect(isRetryableGithubError(requestError(403, {}, 'You have exceeded a secondary rate limit'))).toBe(true);
  });

  it('keeps network errors retryable and passes project errors through', () => {
    expect(isRetryableGithubError(new Error('ECONNRESET'))).toBe(true);
    const own = new TransientError('X', 'y');
    expect(githubRequestError(own, 'w')).toBe(own);
  });
});
