/**
 * What every service's logger censors (pino `redact`, https://getpino.io/#/docs/redaction):
 * credentials by the name of the field that holds them, wherever a log line carries them (at the
 * top level or nested up to {@link DEPTH} objects deep, e.g. `err.request.headers.authorization`
 * of an Octokit error or `req.headers.authorization` of a Fastify request). The value is
 * replaced by {@link REDACTED}. See docs/security.md ("Redaction").
 *
 * Redaction by field name is the last line of defence: code never logs a credential on purpose
 * (tokens are minted per operation and passed to Octokit or git's askpass only; git's stderr is
 * redacted by value in git-gateway's `git()`).
 */

/** What a redacted value is replaced by. */
export const REDACTED = '[redacted]';

/** Fields holding a credential (exact, case-sensitive names as they appear in objects and env). */
export const SECRET_FIELDS: readonly string[] = [
  'authorization',
  'Authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
  'token',
  'accessToken',
  'access_token',
  'installationToken',
  'refreshToken',
  'jwt',
  'password',
  'secret',
  'webhookSecret',
  'privateKey',
  'private_key',
  'apiKey',
  'api_key',
  'GITHUB_TOKEN',
  'GITHUB_APP_PRIVATE_KEY',
  'GITHUB_WEBHOOK_SECRET',
  'ANTHROPIC_API_KEY',
];

/** How many levels of nesting above a secret field are covered (`*.*.*.token`). */
const DEPTH = 4;

/** `a.b` or `a["x-y"]`: pino's path syntax for a key that is not an identifier. */
function key(prefix: string, field: string): string {
  const part = /^[A-Za-z_$][\w$]*$/.test(field) ? field : `["${field}"]`;
  if (prefix === '') return part;
  return part.startsWith('[') ? `${prefix}${part}` : `${prefix}.${part}`;
}

/**
 * pino `redact.paths` for {@link SECRET_FIELDS} at the top level and under up to {@link DEPTH}
 * levels of objects (`token`, `*.token`, `*.*.token`, …).
 */
export const REDACT_PATHS: readonly string[] = SECRET_FIELDS.flatMap((field) =>
  Array.from({ length: DEPTH + 1 }, (_, depth) => key(Array.from({ length: depth }, () => '*').join('.'), field)),
);

/** The `redact` option of every service logger. */
export const LOG_REDACTION: { paths: string[]; censor: string } = { paths: [...REDACT_PATHS], censor: REDACTED };
