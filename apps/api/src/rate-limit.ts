import { createHash } from 'node:crypto';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';

/** Request rate limit per caller (issue 11). Environment: `API_RATE_LIMIT_MAX`, `API_RATE_LIMIT_WINDOW_MS`. */
export interface RateLimitConfig {
  /** Requests a caller may make per window; 0 turns the limit off. Default 1200. */
  max: number;
  /** Window length in milliseconds. Default 60,000. */
  windowMs: number;
}

/** Defaults of {@link RateLimitConfig}: 1200 requests a minute (20/s) per caller. */
export const DEFAULT_RATE_LIMIT: RateLimitConfig = { max: 1200, windowMs: 60_000 };

/** Paths never limited: probes and scrapes must keep answering while callers are throttled. */
const UNLIMITED_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * Who a request counts against: the authenticated tenant (`request.caller.tenant`: authentication
 * runs first, see server.ts), else a hash of the credential it presents (`authorization` or
 * `x-api-key`; never the credential itself, which would end up in the limiter's memory), else
 * its IP address.
 */
export function rateLimitKey(req: FastifyRequest): string {
  const tenant = req.caller?.tenant;
  if (tenant) return `tenant:${tenant}`;
  const credential = req.headers['authorization'] ?? req.headers['x-api-key'];
  const text = Array.isArray(credential) ? credential.join(',') : credential;
  if (text) return `credential:${createHash('sha256').update(text).digest('hex').slice(0, 32)}`;
  return `ip:${req.ip}`;
}

/**
 * Registers @fastify/rate-limit on every route (those added later included) except
 * `/healthz`, `/readyz` and `/metrics`: over `max` requests in `windowMs` per
 * {@link rateLimitKey} answer 429 `RATE_LIMITED` with the project's error body and a
 * `Retry-After` header (seconds). Checked when the request arrives, before its body is read.
 */
export async function installRateLimit(app: FastifyInstance<any, any, any, any, any>, config: RateLimitConfig): Promise<void> {
  if (config.max <= 0) return;
  await app.register(rateLimit, {
    global: true,
    max: config.max,
    timeWindow: config.windowMs,
    keyGenerator: rateLimitKey,
    allowList: (req) => UNLIMITED_PATHS.has(req.url.split('?', 1)[0]!),
    errorResponseBuilder: (_req, context) =>
      Object.assign(new Error(`rate limit of ${context.max} requests per ${config.windowMs} ms exceeded; retry in ${context.after}`), {
        statusCode: 429,
        code: 'RATE_LIMITED',
      }),
  });
}
