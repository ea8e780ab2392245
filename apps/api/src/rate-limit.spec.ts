import type { FastifyRequest } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { type ApiUnderTest, apiUnderTest } from '../test-support/api-under-test.js';
import { MAX_FAILURES_PER_WINDOW } from './auth.js';
import { rateLimitKey } from './rate-limit.js';

describe('rate limit per tenant', () => {
  let api: ApiUnderTest | undefined;
  afterEach(async () => {
    await api?.close();
    api = undefined;
  });
  // Validation refuses the body (400) after authentication and the limiter ran.
  const call = (headers: Record<string, string> = api!.as()) =>
    api!.app.inject({ method: 'POST', url: '/v1/remediations/rem_x/executions', headers, payload: {} });

  it('answers 429 RATE_LIMITED with Retry-After and the error body once a caller exceeds the limit', async () => {
    api = await apiUnderTest('api_rate', { rateLimit: { max: 3, windowMs: 60_000 } });
    for (let i = 0; i < 3; i++) expect((await call()).statusCode).toBe(400);
    const limited = await call();
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(limited.json()).toEqual({ code: 'RATE_LIMITED', message: expect.stringMatching(/^rate limit of 3 requests per 60000 ms exceeded; retry in /) });
  });

  it('counts each tenant apart and never limits health, readiness or metrics', async () => {
    api = await apiUnderTest('api_rate2', { rateLimit: { max: 2, windowMs: 60_000 } }, ['alice', 'bob']);
    for (let i = 0; i < 2; i++) expect((await call(api.as('alice'))).statusCode).toBe(400);
    expect((await call(api.as('alice'))).statusCode).toBe(429);
    expect((await call(api.as('bob'))).statusCode).toBe(400);
    for (let i = 0; i < 5; i++) {
      for (const path of ['/healthz', '/readyz', '/metrics']) expect((await api.app.inject({ method: 'GET', url: path })).statusCode).toBe(200);
    }
  });

  it('guessing credentials is limited per address: after MAX_FAILURES_PER_WINDOW failures, 429 with Retry-After', async () => {
    api = await apiUnderTest('api_rate4', { rateLimit: { max: 0 } });
    for (let i = 0; i < MAX_FAILURES_PER_WINDOW; i++) expect((await call({ 'x-api-key': `rk_guess${i}` })).statusCode).toBe(401);
    const limited = await call({ 'x-api-key': 'rk_one-more' });
    expect(limited.statusCode).toBe(429);
    expect(limited.json()).toMatchObject({ code: 'AUTHENTICATION_RATE_LIMITED' });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(60);
    // Health, readiness and metrics are never limited.
    expect((await api.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
  });

  it('is off with max 0', async () => {
    api = await apiUnderTest('api_rate3', { rateLimit: { max: 0 } });
    for (let i = 0; i < 5; i++) expect((await call()).statusCode).toBe(400);
  });

  it('keys on the authenticated tenant when present, else a credential hash, else the IP', () => {
    const req = (extra: Record<string, unknown>) => ({ headers: {}, ip: '10.0.0.1', ...extra }) as unknown as FastifyRequest;
    expect(rateLimitKey(req({ caller: { tenant: 'acme', scopes: [], subject: 'key_1' }, headers: { authorization: 'Bearer x' } }))).toBe('tenant:acme');
    const hashed = rateLimitKey(req({ headers: { authorization: 'Bearer secret-token' } }));
    expect(hashed).toMatch(/^credential:[0-9a-f]{32}$/);
    expect(hashed).not.toContain('secret');
    expect(rateLimitKey(req({}))).toBe('ip:10.0.0.1');
  });
});
