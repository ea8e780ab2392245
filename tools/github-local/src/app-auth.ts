import { createHash, createPublicKey, randomInt, verify, type KeyObject } from 'node:crypto';

/**
 * GitHub App authentication as api.github.com does it
 * (https://docs.github.com/apps/creating-github-apps/authenticating-with-a-github-app/about-authentication-with-a-github-app):
 * the app signs a JWT (RS256, claims `iss` = app id, `iat`, `exp` at most 10 minutes after `iat`)
 * with its private key and trades it for installation access tokens (`ghs_...`, one hour);
 * repository endpoints then take only such tokens.
 */

/** The `app` option of the server: one GitHub App and where it is installed. */
export interface GithubAppOptions {
  /** The app's id (JWT `iss` must equal it, as a number or a string). */
  appId: number;
  /** PEM of the app's public key (SPKI `BEGIN PUBLIC KEY` or PKCS#1 `BEGIN RSA PUBLIC KEY`); JWTs are verified with it. */
  publicKeyPem: string;
  /**
   * Installations of the app: `id` (the `installation_id` of `POST /app/installations/{id}/access_tokens`),
   * the account `owner` whose repositories it covers (`*`: every account of the server), and
   * optionally `repos`, the only repository names it covers (all of the owner's when absent).
   */
  installations: Array<{ id: number; owner: string; repos?: string[] }>;
  /** The app's slug (`app_slug`, check runs' `app.slug`). Default `github-local`. */
  slug?: string;
  /** Lifetime of minted installation tokens in seconds. Default 3600 (GitHub's one hour). */
  tokenTtlSeconds?: number;
  /**
   * Tests only: a file each minted installation token is appended to (one a line), so a test can
   * check that no token the services used ends up in their logs, database or messages.
   */
  issuedTokensFile?: string;
}

/** One installation of the configured app. */
export type AppInstallation = GithubAppOptions['installations'][number];

/** Permissions every installation has (and the most a token can ask for): what the service needs. */
export const INSTALLATION_PERMISSIONS: Readonly<Record<string, string>> = {
  checks: 'write',
  contents: 'write',
  issues: 'write',
  metadata: 'read',
  pull_requests: 'write',
  statuses: 'write',
};

/** Events the app's installations subscribe to (those github-local sends). */
export const INSTALLATION_EVENTS: readonly string[] = [
  'check_run',
  'issue_comment',
  'pull_request',
  'pull_request_review',
  'pull_request_review_comment',
  'push',
];

/** Outcome of {@link verifyAppJwt}: the claims, or GitHub's status and message for the failure. */
export type JwtCheck =
  | { ok: true; iss: string; iat: number; exp: number }
  | { ok: false; status: 401 | 404; message: string };

/** Messages api.github.com answers for bad app JWTs (`@octokit/auth-app` matches the time ones to correct clock skew). */
export const JWT_MESSAGES = {
  undecodable: 'A JSON web token could not be decoded',
  expired:
    "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires",
  tooLong: "'Expiration time' claim ('exp') is too far in the future",
  issuedAt: "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued",
  notFound: 'Integration not found',
} as const;

/** Parses a PEM public key for {@link verifyAppJwt}. @throws Error when the PEM is not a public key. */
export function loadPublicKey(pem: string): KeyObject {
  return createPublicKey(pem.replace(/\\n/g, '\n'));
}

/**
 * Verifies an app JWT (`Authorization: Bearer <jwt>`) with node:crypto: header `alg` RS256,
 * signature by the key matching `publicKey`, `iss` equal to `appId` (number or numeric string),
 * `exp` in the future and at most 600 s after `iat`, `iat` not more than 60 s in the future.
 * @param now Unix seconds to check against (default: now).
 */
export function verifyAppJwt(token: string, appId: number, publicKey: KeyObject, now = Date.now() / 1000): JwtCheck {
  const parts = token.split('.');
  const fail = (status: 401 | 404, message: string): JwtCheck => ({ ok: false, status, message });
  if (parts.length !== 3) return fail(401, JWT_MESSAGES.undecodable);
  const [headerText, payloadText, signature] = parts as [string, string, string];
  let header: { alg?: unknown };
  let claims: { iss?: unknown; iat?: unknown; exp?: unknown };
  try {
    header = JSON.parse(Buffer.from(headerText, 'base64url').toString('utf8')) as typeof header;
    claims = JSON.parse(Buffer.from(payloadText, 'base64url').toString('utf8')) as typeof claims;
  } catch {
    return fail(401, JWT_MESSAGES.undecodable);
  }
  if (header === null || typeof header !== 'object' || claims === null || typeof claims !== 'object') {
    return fail(401, JWT_MESSAGES.undecodable);
  }
  if (header.alg !== 'RS256') return fail(401, JWT_MESSAGES.undecodable);
  const signed = verify(
    'RSA-SHA256',
    Buffer.from(`${headerText}.${payloadText}`),
    publicKey,
    Buffer.from(signature, 'base64url'),
  );
  if (!signed) return fail(401, JWT_MESSAGES.undecodable);
  if ((typeof claims.iss !== 'number' && typeof claims.iss !== 'string') || String(claims.iss) !== String(appId)) {
    return fail(404, JWT_MESSAGES.notFound);
  }
  const { iat, exp } = claims;
  if (typeof iat !== 'number' || !Number.isFinite(iat) || iat > now + 60) return fail(401, JWT_MESSAGES.issuedAt);
  if (typeof exp !== 'number' || !Number.isFinite(exp) || exp <= now) return fail(401, JWT_MESSAGES.expired);
  if (exp - iat > 600) return fail(401, JWT_MESSAGES.tooLong);
  return { ok: true, iss: String(claims.iss), iat, exp };
}

/** Whether `token` looks like a JWT (three base64url parts) rather than a `ghs_`/`ghp_` token. */
export function looksLikeJwt(token: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token);
}

const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A new installation access token in GitHub's format: `ghs_` and 36 base62 characters. */
export function newInstallationToken(): string {
  let text = 'ghs_';
  for (let i = 0; i < 36; i++) text += BASE62[randomInt(BASE62.length)];
  return text;
}

/** SHA-256 (hex) of a token: how minted tokens are stored and looked up. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Whether `installation` covers repository `owner/repo` (same account or `*`; in `repos` when it has a list). */
export function covers(installation: AppInstallation, owner: string, repo: string): boolean {
  return (
    (installation.owner === '*' || installation.owner === owner) &&
    (installation.repos === undefined || installation.repos.includes(repo))
  );
}
