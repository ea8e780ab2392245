import { type Registry, pullRequestMetrics } from '@remediation/metrics';
import { readFileSync } from 'node:fs';
import { createAppAuth } from '@octokit/auth-app';
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import { Octokit } from '@octokit/rest';
import { InvalidInputError, TransientError, describeError } from '@remediation/errors';
import { z } from 'zod';
import { PERMANENT_GITHUB_STATUSES } from './errors.js';

/** Octokit with the retry and throttling plugins (GitHub's "best practices for using the REST API"). */
export const GithubOctokit = Octokit.plugin(retry, throttling);
export type GithubOctokit = InstanceType<typeof GithubOctokit>;

/**
 * GitHub settings from the environment. Auth is a GitHub App (preferred: installation tokens
 * minted for each operation, scoped to the repository) or a token. Secrets are read here and
 * handed to Octokit only; they never go into messages, logs or the database.
 */
export const GithubEnv = z.object({
  /** REST base URL, e.g. `https://api.github.com` or the local GitHub-compatible server. */
  GITHUB_API_URL: z.string().url().default('https://api.github.com'),
  /** A token (PAT or an installation token minted elsewhere); used when no App is configured. */
  GITHUB_TOKEN: z.string().min(1).optional(),
  /** GitHub App id; with a private key, installation tokens are minted per operation. */
  GITHUB_APP_ID: z.coerce.number().int().positive().optional(),
  /** The App's private key (PEM), or a path to it in GITHUB_APP_PRIVATE_KEY_FILE. */
  GITHUB_APP_PRIVATE_KEY: z.string().min(1).optional(),
  GITHUB_APP_PRIVATE_KEY_FILE: z.string().min(1).optional(),
  /** Installation id; looked up per repository (`GET /repos/{owner}/{repo}/installation`) when unset. */
  GITHUB_APP_INSTALLATION_ID: z.coerce.number().int().positive().optional(),
});
export type GithubEnv = z.infer<typeof GithubEnv>;

/** How to authenticate to GitHub. */
export type GithubAuth =
  | { kind: 'token'; token: string }
  | { kind: 'app'; appId: number; privateKey: string; installationId?: number };

/**
 * The auth configured in the environment.
 * @throws InvalidInputError `GITHUB_AUTH_MISSING` when neither an App (id + key) nor a token is set,
 *   `GITHUB_APP_KEY_UNREADABLE` when the key file cannot be read.
 */
export function githubAuthFromEnv(env: GithubEnv): GithubAuth {
  if (env.GITHUB_APP_ID !== undefined) {
    let privateKey = env.GITHUB_APP_PRIVATE_KEY;
    if (!privateKey && env.GITHUB_APP_PRIVATE_KEY_FILE) {
      try {
        privateKey = readFileSync(env.GITHUB_APP_PRIVATE_KEY_FILE, 'utf8');
      } catch (err) {
        throw new InvalidInputError('GITHUB_APP_KEY_UNREADABLE', `GITHUB_APP_PRIVATE_KEY_FILE ${env.GITHUB_APP_PRIVATE_KEY_FILE}: ${describeError(err)}`);
      }
    }
    if (!privateKey) throw new InvalidInputError('GITHUB_AUTH_MISSING', 'GITHUB_APP_ID is set but neither GITHUB_APP_PRIVATE_KEY nor GITHUB_APP_PRIVATE_KEY_FILE');
    return { kind: 'app', appId: env.GITHUB_APP_ID, privateKey, ...(env.GITHUB_APP_INSTALLATION_ID ? { installationId: env.GITHUB_APP_INSTALLATION_ID } : {}) };
  }
  if (env.GITHUB_TOKEN) return { kind: 'token', token: env.GITHUB_TOKEN };
  throw new InvalidInputError('GITHUB_AUTH_MISSING', 'set GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY (a GitHub App), or GITHUB_TOKEN');
}

/** Retries of a rate-limited request before it fails (throttling plugin). */
const RATE_LIMIT_RETRIES = 3;

/** Options of {@link createGithubClient}. */
export interface GithubClientOptions {
  apiUrl: string;
  auth: GithubAuth;
  /** Per-request timeout, ms; default 30 000. */
  timeoutMs?: number;
  /**
   * Where API requests (`remediation_provider_requests_total`) and the rate limit left
   * (`remediation_provider_rate_limit_remaining`, from `x-ratelimit-remaining`) are reported.
   */
  metrics?: Registry;
}

/** GitHub access for one service: clients and push credentials, minted per operation. */
export interface GithubClient {
  /**
   * An Octokit for one operation on `owner/repo`: with an App, a new installation token scoped to
   * that repository is minted now (at execution time), never stored.
   * @throws TransientError `GITHUB_AUTH_UNAVAILABLE` when the token cannot be minted (network, 5xx);
   *   InvalidInputError `GITHUB_APP_NOT_INSTALLED` when the App has no installation on the repository.
   */
  forRepository(owner: string, repo: string): Promise<GithubOctokit>;
  /**
   * Credentials for one git operation (fetch, ls-remote, push) over HTTPS on `owner/repo`
   * (`x-access-token` + a token minted now), for git's askpass; never written to disk or logs.
   */
  gitCredentials(owner: string, repo: string): Promise<{ username: string; password: string }>;
}

/**
 * Creates the GitHub client: Octokit with retry (5xx and network errors, backoff) and throttling
 * (primary and secondary rate limits respected, `retry-after` honoured, up to
 * {@link RATE_LIMIT_RETRIES} retries), authenticated by App installation tokens (minted per operation, repository-scoped) or a
 * token. Source: octokit.js docs, "Authentication" / plugin-throttling README.
 */
export function createGithubClient(options: GithubClientOptions): GithubClient {
  const make = (token?: string): GithubOctokit => observed(
    new GithubOctokit({
      ...(token === undefined ? {} : { auth: token }),
      baseUrl: options.apiUrl,
      request: { timeout: options.timeoutMs ?? 30_000 },
      // plugin-retry's own list (400, 401, 403, 404, 410, 422, 451) plus 414: a URI too long stays too long.
      retry: { doNotRetry: [...PERMANENT_GITHUB_STATUSES] },
      throttle: {
        // Wait out the limit (the plugin honours `retry-after`) and retry, a few times.
        onRateLimit: (_retryAfter: number, _o: unknown, _octokit: unknown, retryCount: number) => retryCount < RATE_LIMIT_RETRIES,
        onSecondaryRateLimit: (_retryAfter: number, _o: unknown, _octokit: unknown, retryCount: number) => retryCount < RATE_LIMIT_RETRIES,
      },
    }),
    options.metrics,
  );
  const auth = options.auth;
  const appAuth =
    auth.kind === 'app'
      ? createAppAuth({ appId: auth.appId, privateKey: auth.privateKey, request: make().request })
      : null;
  const mint = async (owner: string, repo: string): Promise<string> => {
    if (auth.kind === 'token') return auth.token;
    try {
      let installationId = auth.installationId;
      if (installationId === undefined) {
        const { token: jwt } = await appAuth!({ type: 'app' });
        const lookup = make(jwt);
        try {
          installationId = (await lookup.rest.apps.getRepoInstallation({ owner, repo })).data.id;
        } catch (err) {
          if ((err as { status?: number }).status === 404) {
            throw new InvalidInputError('GITHUB_APP_NOT_INSTALLED', `the GitHub App ${auth.appId} is not installed on ${owner}/${repo}`);
          }
          throw err;
        }
      }
      const minted = await appAuth!({ type: 'installation', installationId, repositoryNames: [repo], refresh: true });
      return minted.token;
    } catch (err) {
      if (err instanceof InvalidInputError) throw err;
      throw new TransientError('GITHUB_AUTH_UNAVAILABLE', `could not mint an installation token for ${owner}/${repo}: ${describeError(err)}`, { cause: err });
    }
  };
  return {
    async forRepository(owner, repo) {
      return make(await mint(owner, repo));
    },
    async gitCredentials(owner, repo) {
      return { username: 'x-access-token', password: await mint(owner, repo) };
    },
  };
}

/** Reports each request's outcome and the rate limit GitHub says is left (response headers). */
function observed(octokit: GithubOctokit, registry: Registry | undefined): GithubOctokit {
  if (!registry) return octokit;
  const m = pullRequestMetrics(registry);
  const labels = { provider: 'github' };
  const remaining = (headers: Record<string, unknown> | undefined) => {
    const value = Number(headers?.['x-ratelimit-remaining']);
    if (headers?.['x-ratelimit-remaining'] !== undefined && Number.isFinite(value)) m.rateLimitRemaining.set(labels, value);
  };
  octokit.hook.after('request', (response) => {
    m.providerRequests.inc({ ...labels, outcome: 'ok' });
    remaining(response.headers);
  });
  octokit.hook.error('request', (error) => {
    m.providerRequests.inc({ ...labels, outcome: 'error' });
    remaining((error as { response?: { headers?: Record<string, unknown> } }).response?.headers);
    throw error;
  });
  return octokit;
}
