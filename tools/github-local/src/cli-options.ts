import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { GithubLocalOptions } from './server.js';

/** Usage text of the CLI (printed to stderr on bad arguments). */
export const USAGE =
  'usage: github-local --port <0-65535> --repos-root <dir> [--host <addr>] [--public-url <url>] [--actor <login>] [--log]\n' +
  '         [--webhook-url <url> [--webhook-secret <secret>]]\n' +
  '         [--app-id <id> --app-public-key <pem file> --installation <id>:<owner>[:<repo>,<repo>...] ...\n' +
  '          [--app-slug <slug>] [--token-ttl <seconds>] [--issued-tokens-file <file>]]\n' +
  '       env fallbacks: GITHUB_LOCAL_PORT, GITHUB_LOCAL_REPOS_ROOT, GITHUB_LOCAL_HOST, GITHUB_LOCAL_PUBLIC_URL,\n' +
  '       GITHUB_LOCAL_ACTOR, GITHUB_LOCAL_LOG=1, GITHUB_LOCAL_WEBHOOK_URL, GITHUB_LOCAL_WEBHOOK_SECRET,\n' +
  '       GITHUB_LOCAL_APP_ID, GITHUB_LOCAL_APP_PUBLIC_KEY (file), GITHUB_LOCAL_INSTALLATIONS (space-separated),\n' +
  '       GITHUB_LOCAL_APP_SLUG, GITHUB_LOCAL_TOKEN_TTL\n';

/** Outcome of {@link parseCliOptions}: server options, or what is wrong with the arguments. */
export type CliParse = { ok: true; options: GithubLocalOptions } | { ok: false; error: string };

/**
 * Parses `--installation` values: `<id>:<owner>` (all of the owner's repositories) or
 * `<id>:<owner>:<repo>,<repo>` (only those), e.g. `101:acme` or `102:acme:widgets,gadgets`;
 * owner `*` installs the app on every account (`1:*`).
 * @throws Error naming the malformed value.
 */
export function parseInstallation(text: string): { id: number; owner: string; repos?: string[] } {
  const match = /^(\d+):([^:\s]+)(?::([^:\s]+))?$/.exec(text);
  if (!match) throw new Error(`--installation ${text}: expected <id>:<owner>[:<repo>,<repo>...]`);
  const repos = match[3]?.split(',').filter((r) => r !== '');
  return { id: Number(match[1]), owner: match[2]!, ...(repos && repos.length > 0 ? { repos } : {}) };
}

/**
 * Turns the CLI's arguments and environment into {@link GithubLocalOptions} (flags win over
 * env, see {@link USAGE}). `--app-public-key` names a PEM file, read here. App flags come
 * together: `--app-id` needs `--app-public-key` and at least one `--installation`.
 */
export function parseCliOptions(args: string[], env: NodeJS.ProcessEnv): CliParse {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        port: { type: 'string' },
        'repos-root': { type: 'string' },
        host: { type: 'string' },
        'public-url': { type: 'string' },
        actor: { type: 'string' },
        log: { type: 'boolean' },
        'webhook-url': { type: 'string' },
        'webhook-secret': { type: 'string' },
        'app-id': { type: 'string' },
        'app-public-key': { type: 'string' },
        'app-slug': { type: 'string' },
        'token-ttl': { type: 'string' },
        'issued-tokens-file': { type: 'string' },
        installation: { type: 'string', multiple: true },
      },
      strict: true,
    }));
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
  const port = Number(values.port ?? env['GITHUB_LOCAL_PORT'] ?? '3900');
  const reposRoot = values['repos-root'] ?? env['GITHUB_LOCAL_REPOS_ROOT'];
  if (!Number.isInteger(port) || port < 0 || port > 65535) return { ok: false, error: 'port must be 0-65535' };
  if (reposRoot === undefined || reposRoot === '') return { ok: false, error: '--repos-root is required' };
  const publicUrl = values['public-url'] ?? env['GITHUB_LOCAL_PUBLIC_URL'];
  const actor = values.actor ?? env['GITHUB_LOCAL_ACTOR'];
  const options: GithubLocalOptions = {
    port,
    reposRoot,
    host: values.host ?? env['GITHUB_LOCAL_HOST'] ?? '127.0.0.1',
    logger: values.log ?? env['GITHUB_LOCAL_LOG'] === '1',
    ...(publicUrl ? { publicUrl } : {}),
    ...(actor ? { actor } : {}),
  };

  const webhookUrl = values['webhook-url'] ?? env['GITHUB_LOCAL_WEBHOOK_URL'];
  const webhookSecret = values['webhook-secret'] ?? env['GITHUB_LOCAL_WEBHOOK_SECRET'];
  if (webhookUrl) {
    try {
      new URL(webhookUrl);
    } catch {
      return { ok: false, error: `--webhook-url ${webhookUrl} is not a URL` };
    }
    options.webhook = { url: webhookUrl, secret: webhookSecret ?? '' };
  } else if (webhookSecret) {
    return { ok: false, error: '--webhook-secret needs --webhook-url' };
  }

  const appIdText = values['app-id'] ?? env['GITHUB_LOCAL_APP_ID'];
  const keyFile = values['app-public-key'] ?? env['GITHUB_LOCAL_APP_PUBLIC_KEY'];
  const installationTexts =
    values.installation ?? (env['GITHUB_LOCAL_INSTALLATIONS'] ?? '').split(/\s+/).filter((t) => t !== '');
  if (appIdText === undefined || appIdText === '') {
    if (keyFile || installationTexts.length > 0) return { ok: false, error: '--app-public-key/--installation need --app-id' };
    return { ok: true, options };
  }
  const appId = Number(appIdText);
  if (!Number.isInteger(appId) || appId <= 0) return { ok: false, error: `--app-id ${appIdText} is not a positive integer` };
  if (!keyFile) return { ok: false, error: '--app-id needs --app-public-key <pem file>' };
  if (installationTexts.length === 0) return { ok: false, error: '--app-id needs at least one --installation <id>:<owner>' };
  let publicKeyPem: string;
  let installations: Array<{ id: number; owner: string; repos?: string[] }>;
  try {
    publicKeyPem = readFileSync(keyFile, 'utf8');
    installations = installationTexts.map(parseInstallation);
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
  const slug = values['app-slug'] ?? env['GITHUB_LOCAL_APP_SLUG'];
  const ttlText = values['token-ttl'] ?? env['GITHUB_LOCAL_TOKEN_TTL'];
  const ttl = ttlText === undefined ? undefined : Number(ttlText);
  if (ttl !== undefined && (!Number.isInteger(ttl) || ttl <= 0)) return { ok: false, error: `--token-ttl ${ttlText} is not a positive integer` };
  options.app = {
    appId,
    publicKeyPem,
    installations,
    ...(slug ? { slug } : {}),
    ...(ttl !== undefined ? { tokenTtlSeconds: ttl } : {}),
    ...(values['issued-tokens-file'] ? { issuedTokensFile: values['issued-tokens-file'] } : {}),
  };
  return { ok: true, options };
}
