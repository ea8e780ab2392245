import type { FastifyRequest } from 'fastify';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { NatsHandles } from '@remediation/messaging';
import type { Database } from '@remediation/persistence';
import { rateLimitKey } from './rate-limit.js';
import { type ApiOptions, buildApi } from './server.js';

/** The API without services; `/healthz`, `/readyz`, `/metrics` stand in for service-runtime's (added after buildApi, as there). */
async function api(options: ApiOptions) {
  const app = await buildApi({ db: {} as Database, nats: {} as NatsHandles, worker: 'spec:1', logger: pino({ level: 'silent' }) }, options);
  for (const path of ['/healthz', '/readyz', '/metrics']) app.get(path, async () => ({ status: 'ok' }));
  await app.ready();
  return app;
}

describe('rate limit per caller', () => {
  let app: Awaited<ReturnType<typeof api>> | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });
  // A route answered without the database: validation refuses the body (400) after the limiter ran.
  const call = (headers: Record<string, string> = {}) =>
    app!.inject({ method: 'POST', url: '/v1/remediations/rem_x/executions', headers, payload: {} });

  it('answers 429 RATE_LIMITED with Retry-After and the error body once a caller exceeds the limit', async () => {
    app = await api({ rateLimit: { max: 3, windowMs: 60_000 } });
    for (let i = 0; i < 3; i++) expect((await call()).statusCode).toBe(400);
    const limited = await call();
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(limited.json()).toEqual({ code: 'RATE_LIMITED', message: expect.stringMatching(/^rate limit of 3 requests per 60000 ms exceeded; retry in /) });
  });

  it('counts each credential apart and never limits health, readiness or metrics', async () => {
    app = await api({ rateLimit: { max: 2, windowMs: 60_000 } });
    const alice = { authorization: 'Bearer alice-token' };
    const bob = { 'x-api-key': 'bob-key' };
    for (let i = 0; i < 2; i++) expect((await call(alice)).statusCode).toBe(400);
    expect((await call(alice)).statusCode).toBe(429);
    expect((await call(bob)).statusCode).toBe(400);
    for (let i = 0; i < 5; i++) {
      for (const path of ['/healthz', '/readyz', '/metrics']) expect((await app.inject({ method: 'GET', url: path })).statusCode).toBe(200);
    }
  });

  it('is off with max 0', async () => {
    app = await api({ rateLimit: { max: 0 } });
    for (let i = 0; i < 5; i++) expect((await call()).statusCode).toBe(400);
  });

  it('keys on the authenticated tenant when present, else a credential hash, else the IP', () => {
    const req = (extra: Record<string, unknown>) => ({ headers: {}, ip: '10.0.0.1', ...extra }) as unknown as FastifyRequest;
    expect(rateLimitKey(req({ auth: { tenant: 'acme', scopes: [] }, headers: { authorization: 'Bearer x' } }))).toBe('tenant:acme');
    const hashed = rateLimitKey(req({ headers: { authorization: 'Bearer secret-token' } }));
    expect(hashed).toMatch(/^credential:[0-9a-f]{32}$/);
    expect(hashed).not.toContain('secret');
    expect(rateLimitKey(req({}))).toBe('ip:10.0.0.1');
  });
});
