import { LRUCache } from 'lru-cache';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type JWTPayload, type JWTVerifyGetKey, createRemoteJWKSet, errors as joseErrors, jwtVerify } from 'jose';
import { z } from 'zod';
import { API_KEY_PREFIX, type Database, type Scope, TENANT_ID_PATTERN, findApiKey } from '@remediation/persistence';

/**
 * Authentication and scopes of the API (issue 11; docs/decisions/0010-authentication-and-tenancy.md).
 * Every `/v1/` route needs credentials; health, readiness, metrics and the OpenAPI description do
 * not. Two kinds of credentials, both carrying a tenant and scopes:
 * - a JWT in `Authorization: Bearer <jwt>`, verified against the issuer's JWKS (RFC 7517/7519:
 *   signature, `iss`, `aud`, `exp`/`nbf`), tenant from the claim `AUTH_TENANT_CLAIM` (default
 *   `tenant`), scopes from `scope` (space-separated, RFC 8693 §4.2) or `scp` (array or string);
 * - an API key of a service account (`Authorization: Bearer rk_…` or `X-API-Key: rk_…`), looked up
 *   by its SHA-256 (keys are stored hashed, `./run admin api-key-create` prints one once).
 * No or bad credentials → 401 with `WWW-Authenticate: Bearer` (RFC 6750 §3); a missing scope → 403.
 */

/**
 * Signature algorithms accepted on bearer tokens (asymmetric only: a JWKS publishes public keys, so
 * an HMAC token could only be "signed" with a public key). Tokens must carry `exp` (RFC 7519 §4.1.4).
 */
const JWT_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

/** Who is calling, set on every authenticated request. */
export interface Caller {
  /** The tenant every query of the request is scoped to. */
  tenant: string;
  scopes: string[];
  /** The JWT's `sub`, or `api-key:<key id>`. */
  subject: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated caller (on `/v1/` routes; `undefined` on public routes). */
    caller: Caller;
  }
  interface FastifyContextConfig {
    /** The scope a `/v1/` route needs (`admin` when a route names none: deny by default). */
    scope?: Scope;
  }
}

/** JWT verification settings (the API's env `AUTH_*`); absent = JWTs are refused, API keys only. */
export interface JwtSettings {
  /** The issuer's JWKS URL (e.g. `https://issuer.example/.well-known/jwks.json`). */
  jwksUrl: string;
  /** Expected `iss`. */
  issuer: string;
  /** Expected `aud`. */
  audience: string;
  /** Claim holding the tenant id (default `tenant`). */
  tenantClaim: string;
}

/** The API's authentication env (README "Configuration"). All three of URL, issuer and audience, or none. */
export const AuthEnv = z
  .object({
    AUTH_JWKS_URL: z.string().url().optional(),
    AUTH_ISSUER: z.string().min(1).optional(),
    AUTH_AUDIENCE: z.string().min(1).optional(),
    AUTH_TENANT_CLAIM: z.string().min(1).default('tenant'),
  })
  .refine((e) => [e.AUTH_JWKS_URL, e.AUTH_ISSUER, e.AUTH_AUDIENCE].filter(Boolean).length % 3 === 0, {
    message: 'set AUTH_JWKS_URL, AUTH_ISSUER and AUTH_AUDIENCE together (or none: API keys only)',
  });

/** JwtSettings from the parsed env, or undefined when JWTs are not configured. */
export function jwtSettingsFromEnv(env: z.infer<typeof AuthEnv>): JwtSettings | undefined {
  if (!env.AUTH_JWKS_URL || !env.AUTH_ISSUER || !env.AUTH_AUDIENCE) return undefined;
  return { jwksUrl: env.AUTH_JWKS_URL, issuer: env.AUTH_ISSUER, audience: env.AUTH_AUDIENCE, tenantClaim: env.AUTH_TENANT_CLAIM };
}

/** Whether `scopes` grant `needed` (`admin` grants everything). */
export function hasScope(scopes: readonly string[], needed: Scope): boolean {
  return scopes.includes('admin') || scopes.includes(needed);
}

class Unauthorized extends Error {
  readonly statusCode = 401;
  readonly code = 'UNAUTHENTICATED';
  constructor(
    message: string,
    readonly bearerError?: 'invalid_token',
  ) {
    super(message);
  }
}

/** Window of the failed-authentication count, ms. */
const FAILURE_WINDOW_MS = 60_000;
/** Failed authentications from one address per window before it gets 429 (then until the window ends). */
export const MAX_FAILURES_PER_WINDOW = 100;

/**
 * Installs the authentication hook on `app` (before body parsing: an unauthenticated caller cannot
 * make the API parse a large scan). Routes declare their scope with `config: { scope }`. An address
 * with {@link MAX_FAILURES_PER_WINDOW} failed authentications within a minute gets 429
 * `AUTHENTICATION_RATE_LIMITED` with `Retry-After` until the minute is over.
 */
export function installAuthentication(app: FastifyInstance<any, any, any, any, any>, options: { db: Database; jwt?: JwtSettings | undefined }): void {
  const jwks: JWTVerifyGetKey | undefined = options.jwt ? createRemoteJWKSet(new URL(options.jwt.jwksUrl)) : undefined;
  app.decorateRequest('caller', undefined as unknown as Caller);
  // Failed authentications per client address in the last minute: the per-tenant rate limit only
  // sees authenticated callers, so guessing keys is limited here (each guess costs a lookup).
  const failures = new LRUCache<string, { count: number; since: number }>({ max: 10_000, ttl: FAILURE_WINDOW_MS });
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    // The matched route's pattern, not the raw URL: an encoded or oddly written path that reaches
    // a /v1/ route is still authenticated.
    if (!req.routeOptions.url?.startsWith('/v1/')) return; // health, readiness, metrics, OpenAPI, 404
    const failed = failures.get(req.ip);
    if (failed && failed.count >= MAX_FAILURES_PER_WINDOW) {
      const retryAfter = Math.max(1, Math.ceil((failed.since + FAILURE_WINDOW_MS - Date.now()) / 1000));
      return reply
        .code(429)
        .header('retry-after', String(retryAfter))
        .send({ code: 'AUTHENTICATION_RATE_LIMITED', message: `${failed.count} failed authentications from this address within a minute; retry in ${retryAfter} s` });
    }
    try {
      req.caller = await authenticate(req, options.db, jwks, options.jwt);
    } catch (err) {
      if (!(err instanceof Unauthorized)) throw err;
      const now = Date.now();
      failures.set(req.ip, failed ? { count: failed.count + 1, since: failed.since } : { count: 1, since: now }, { ttl: failed ? Math.max(1, failed.since + FAILURE_WINDOW_MS - now) : FAILURE_WINDOW_MS });
      const challenge = err.bearerError ? `Bearer realm="remediation", error="${err.bearerError}"` : 'Bearer realm="remediation"';
      return reply.code(401).header('www-authenticate', challenge).send({ code: err.code, message: err.message });
    }
    const needed: Scope = req.routeOptions.config?.scope ?? 'admin';
    if (!hasScope(req.caller.scopes, needed)) {
      return reply
        .code(403)
        .header('www-authenticate', `Bearer realm="remediation", error="insufficient_scope", scope="${needed}"`)
        .send({ code: 'FORBIDDEN', message: `this request needs the scope ${needed}; the credentials carry ${req.caller.scopes.join(' ') || 'none'}`, details: { needed } });
    }
  });
}

async function authenticate(req: FastifyRequest, db: Database, jwks: JWTVerifyGetKey | undefined, jwt: JwtSettings | undefined): Promise<Caller> {
  const header = req.headers.authorization;
  const apiKeyHeader = req.headers['x-api-key'];
  let credential: string | undefined;
  if (typeof header === 'string' && header.length > 0) {
    const m = /^Bearer +(\S+)\s*$/i.exec(header);
    if (!m) throw new Unauthorized('the Authorization header must be "Bearer <token or API key>"', 'invalid_token');
    credential = m[1]!;
  } else if (typeof apiKeyHeader === 'string' && apiKeyHeader.length > 0) {
    credential = apiKeyHeader;
    if (!credential.startsWith(API_KEY_PREFIX)) throw new Unauthorized(`X-API-Key must hold an API key (${API_KEY_PREFIX}…)`, 'invalid_token');
  }
  if (!credential) throw new Unauthorized('credentials required: Authorization: Bearer <JWT or API key>, or X-API-Key');
  if (credential.startsWith(API_KEY_PREFIX)) {
    const key = await findApiKey(db, credential);
    if (!key) throw new Unauthorized('unknown or revoked API key', 'invalid_token');
    return { tenant: key.tenant, scopes: key.scopes, subject: `api-key:${key.keyId}` };
  }
  if (!jwks || !jwt) throw new Unauthorized('bearer tokens are not accepted by this deployment (AUTH_JWKS_URL unset); use an API key', 'invalid_token');
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(credential, jwks, { issuer: jwt.issuer, audience: jwt.audience, algorithms: JWT_ALGORITHMS, requiredClaims: ['exp'] }));
  } catch (err) {
    throw new Unauthorized(`invalid bearer token: ${describeJoseError(err)}`, 'invalid_token');
  }
  const tenant = payload[jwt.tenantClaim];
  if (typeof tenant !== 'string' || !TENANT_ID_PATTERN.test(tenant)) {
    throw new Unauthorized(`the token's ${jwt.tenantClaim} claim must name a tenant (${TENANT_ID_PATTERN.source})`, 'invalid_token');
  }
  return { tenant, scopes: scopesOf(payload), subject: payload.sub ?? '(no sub)' };
}

/** Scopes of a token: `scope` (space-separated string) or `scp` (array or space-separated string). */
function scopesOf(payload: JWTPayload): string[] {
  const raw = payload['scope'] ?? payload['scp'];
  if (typeof raw === 'string') return raw.split(' ').filter(Boolean);
  if (Array.isArray(raw)) return raw.filter((s): s is string => typeof s === 'string');
  return [];
}

/** A short reason without the token: expired, wrong issuer/audience, bad signature, unreadable. */
function describeJoseError(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return 'expired';
  if (err instanceof joseErrors.JWTClaimValidationFailed) return `claim ${err.claim} ${err.reason === 'check_failed' ? 'does not match' : err.reason}`;
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'signature does not verify';
  if (err instanceof joseErrors.JWKSNoMatchingKey) return 'no key of the issuer matches';
  if (err instanceof joseErrors.JOSEError) return err.code;
  return 'unreadable';
}
