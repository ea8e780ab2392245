import { randomBytes } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { fastify, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import {
  covers,
  hashToken,
  INSTALLATION_EVENTS,
  INSTALLATION_PERMISSIONS,
  loadPublicKey,
  looksLikeJwt,
  newInstallationToken,
  verifyAppJwt,
  type AppInstallation,
  type GithubAppOptions,
} from './app-auth.js';
import {
  bareRepoPath,
  branchSha,
  branchShas,
  changedPaths,
  commitsBetween,
  compareBranches,
  defaultBranch,
  fileDiff,
  isAncestor,
  listBareRepos,
  locateInDiff,
  mergePull,
  readCommit,
  repoExists,
  resolveCommitRef,
  type MergeMethod,
} from './git.js';
import {
  branchWithProtection,
  checkRun,
  commit,
  fullRepository,
  installation,
  integration,
  issueComment,
  noreplyEmail,
  pullAsIssue,
  pullRequest,
  pullRequestReview,
  pullRequestSimple,
  pushCommit,
  pushRepository,
  repository,
  reviewComment,
  simpleUser,
  stableId,
  webhookCheckSuite,
  type AppFacts,
  type RepoFacts,
} from './github-shapes.js';
import {
  OPERATIONS,
  validateRequest,
  validateResponse,
  warmUpValidators,
  warmUpWebhookValidators,
  type OperationId,
  type WebhookName,
} from './openapi-validator.js';
import {
  githubNow,
  StateStore,
  type CheckRunRecord,
  type CheckRunStatus,
  type CommentRecord,
  type PullRecord,
  type ReviewCommentRecord,
  type ReviewRecord,
  type ReviewState,
  type TokenRecord,
} from './state-store.js';
import { WebhookSender, type WebhookDelivery, type WebhookOptions } from './webhooks.js';

export type { GithubAppOptions } from './app-auth.js';
export type {
  CheckRunRecord,
  CommentRecord,
  PullRecord,
  ReviewCommentRecord,
  ReviewRecord,
} from './state-store.js';
export type { WebhookDelivery, WebhookOptions } from './webhooks.js';

/** Header choosing the login a request acts as (`user.login` of what it creates, webhook `sender`). */
export const USER_HEADER = 'x-github-local-user';

/** The all-zero SHA GitHub puts in `push` webhooks for a created branch's `before` or a deleted one's `after`. */
const ZERO_SHA = '0'.repeat(40);

/** Options of {@link startGithubLocal}. */
export interface GithubLocalOptions {
  /** TCP port to listen on; 0 (the default) picks a free one (read it back from `url`). */
  port?: number;
  /** Interface to bind; default `127.0.0.1`. `0.0.0.0`/`::` bind all, `url` then names the loopback address. */
  host?: string;
  /**
   * Folder holding the bare repositories, `<reposRoot>/<owner>/<repo>.git` (the remotes the
   * service pushes to). State is persisted to `<reposRoot>/.github-local/state.json`.
   */
  reposRoot: string;
  /** Log requests with fastify's pino logger, to stderr (stdout stays free for the CLI's ready line). Default false. */
  logger?: boolean;
  /**
   * Base URL to put in response URLs instead of the listening address, e.g. `http://github-local:3900`
   * when clients reach the server under another name (containers). No trailing slash needed.
   */
  publicUrl?: string;
  /**
   * Default login of the caller: author (`user.login`) of pull requests, comments and reviews,
   * merger, webhook `sender`. A request can act as someone else with the header
   * `x-github-local-user: <login>` (e.g. a human reviewer). Default `github-local`.
   */
  actor?: string;
  /**
   * A GitHub App. When set, `POST /app/installations/{installation_id}/access_tokens` and
   * `GET /repos/{owner}/{repo}/installation` take the app's RS256 JWT, and every other
   * endpoint takes only installation tokens this server minted (unexpired, covering the
   * repository): other credentials get 401 `Bad credentials`, uncovered repositories 403.
   * Unset (the default): any `Authorization` token is accepted and the app endpoints answer 404.
   */
  app?: GithubAppOptions;
  /**
   * Webhook receiver: after each state change the server POSTs the event GitHub would send
   * (`pull_request` opened/closed/reopened/edited/synchronize, `pull_request_review` submitted,
   * `pull_request_review_comment` created, `issue_comment` created, `check_run` created/completed,
   * `push` via {@link GithubLocal.notifyPush} and after merges), signed with `secret`.
   */
  webhook?: WebhookOptions;
}

/** A running github-local server. */
export interface GithubLocal {
  /** Base URL to give Octokit as `baseUrl`, e.g. `http://127.0.0.1:39211` (no trailing slash). */
  url: string;
  /** Absolute path of the JSON file the state is persisted to (`<reposRoot>/.github-local/state.json`). */
  stateFile: string;
  /** Stops listening and waits for in-flight requests. Safe to call twice. */
  close(): Promise<void>;
  /** Copies of the pull requests of `owner/repo`, by number ascending (empty when none or unknown repo). */
  pulls(owner: string, repo: string): PullRecord[];
  /** Copies of the comments on pull request `number` of `owner/repo`, oldest first. */
  comments(owner: string, repo: string, number: number): CommentRecord[];
  /** Number of installation access tokens minted since this server started (0 without `app`). */
  tokensIssued(): number;
  /**
   * Announces a push to `branch` of `owner/repo` (the server does not see git pushes to the
   * bare repos): queues a `push` webhook from the SHA last announced for the branch (`before`;
   * the SHA at server start, or all zeros for a branch first seen now, or `options.before`)
   * to its current SHA (`after`; all zeros when the branch is gone), then re-reads the head
   * SHAs of open pull requests, queueing `pull_request` `synchronize` for each that moved.
   * Nothing is queued when the branch did not move. `options.pusher` is the login of the
   * pusher (default the actor). Resolves once queued; see {@link webhooksSettled}.
   * @throws Error when `owner/repo` is not a repository of the server.
   */
  notifyPush(owner: string, repo: string, branch: string, options?: { before?: string; pusher?: string }): Promise<void>;
  /**
   * Queues a repeat of webhook delivery `deliveryId` with the same `X-GitHub-Delivery`, headers
   * and body (GitHub's "Redeliver"), to test duplicate handling.
   * @throws Error when no webhook is configured or no delivery has that id.
   */
  redeliver(deliveryId: string): void;
  /** Copies of all webhook deliveries (first deliveries and redeliveries) in queue order. */
  deliveries(): WebhookDelivery[];
  /** Resolves when every queued webhook delivery has been answered or given up. */
  webhooksSettled(): Promise<void>;
}

/** An error response in GitHub's shape (`basic-error` or `validation-error`), thrown by handlers. */
class GithubError extends Error {
  constructor(
    readonly statusCode: number,
    readonly body: { message: string; documentation_url: string; errors?: unknown[]; status?: string },
  ) {
    super(body.message);
  }
}

/** GitHub's `Validation Failed` 422 body for `errors` (items `{ resource, field?, code, message? }`). */
function validationFailed(op: OperationId, errors: Array<Record<string, string>>): GithubError {
  return new GithubError(422, {
    message: 'Validation Failed',
    errors,
    documentation_url: OPERATIONS[op].docs,
    status: '422',
  });
}

function notFound(op: OperationId): GithubError {
  return new GithubError(404, { message: 'Not Found', documentation_url: OPERATIONS[op].docs, status: '404' });
}

/** Who a request comes from, after authentication. */
interface Caller {
  /** Login it acts as: the `x-github-local-user` header, else the server's actor. */
  login: string;
  /** The installation token used, when a GitHub App is configured and the operation takes one. */
  token?: TokenRecord;
}

interface HandlerInput {
  /** Path and query parameters, coerced to their OpenAPI types, defaults filled in. */
  params: Record<string, unknown>;
  /** Validated JSON body (`{}` when absent on an operation with a body). */
  body: Record<string, unknown>;
  request: FastifyRequest;
  caller: Caller;
}

interface HandlerOutput {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** Token of `Authorization: token X` / `Bearer X`, or undefined when the header is absent or malformed. */
function credentials(header: string | undefined): string | undefined {
  return header === undefined ? undefined : /^(?:token|bearer)\s+(\S+)/i.exec(header.trim())?.[1];
}

/** Operations that take the GitHub App's JWT instead of an installation token. */
const APP_JWT_OPERATIONS: ReadonlySet<OperationId> = new Set([
  'apps/create-installation-access-token',
  'apps/get-repo-installation',
]);

/** Installation permission each operation needs (`write` covers `read`), as GitHub documents per endpoint. */
const PERMISSION_NEEDED: Partial<Record<OperationId, [permission: string, level: 'read' | 'write']>> = {
  'repos/get': ['metadata', 'read'],
  'repos/get-branch': ['metadata', 'read'],
  'pulls/list': ['pull_requests', 'read'],
  'pulls/get': ['pull_requests', 'read'],
  'pulls/create': ['pull_requests', 'write'],
  'pulls/update': ['pull_requests', 'write'],
  'pulls/list-commits': ['pull_requests', 'read'],
  'pulls/list-reviews': ['pull_requests', 'read'],
  'pulls/list-review-comments': ['pull_requests', 'read'],
  'pulls/create-review': ['pull_requests', 'write'],
  'pulls/merge': ['contents', 'write'],
  'issues/list-comments': ['pull_requests', 'read'],
  'issues/create-comment': ['pull_requests', 'write'],
  'checks/create': ['checks', 'write'],
  'checks/list-for-ref': ['checks', 'read'],
};

/** GitHub logins: alphanumerics and single hyphens, at most 39 characters, optionally `[bot]`. */
const LOGIN = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:\[bot\])?$/;

/** `<baseUrl><path>?<query with page=n>` links for GitHub's `Link` pagination header. */
function linkHeader(baseUrl: string, request: FastifyRequest, page: number, lastPage: number): string | undefined {
  const url = new URL(request.url, 'http://placeholder');
  const link = (n: number, rel: string) => {
    url.searchParams.set('page', String(n));
    return `<${baseUrl}${url.pathname}?${url.searchParams.toString()}>; rel="${rel}"`;
  };
  const parts: string[] = [];
  if (page > 1) parts.push(link(page - 1, 'prev'));
  if (page < lastPage) parts.push(link(page + 1, 'next'), link(lastPage, 'last'));
  if (page > 1) parts.push(link(1, 'first'));
  return parts.length > 0 ? parts.join(', ') : undefined;
}

/** One page of `items`: GitHub's `per_page` (clamped to 1..100) and 1-based `page`. */
function paginate<T>(items: T[], params: Record<string, unknown>): { page: T[]; pageNumber: number; lastPage: number } {
  const perPage = Math.min(100, Math.max(1, Number(params['per_page'] ?? 30)));
  const pageNumber = Math.max(1, Number(params['page'] ?? 1));
  const lastPage = Math.max(1, Math.ceil(items.length / perPage));
  return { page: items.slice((pageNumber - 1) * perPage, pageNumber * perPage), pageNumber, lastPage };
}

/** A paginated list response: the page's items rendered by `render`, with the `Link` header. */
function listOutput<T>(
  baseUrl: string,
  request: FastifyRequest,
  items: T[],
  params: Record<string, unknown>,
  render: (item: T) => unknown,
): HandlerOutput {
  const { page, pageNumber, lastPage } = paginate(items, params);
  const link = linkHeader(baseUrl, request, pageNumber, lastPage);
  return { status: 200, body: page.map(render), ...(link ? { headers: { link } } : {}) };
}

/**
 * Starts a local GitHub-compatible REST server over the bare repositories in `reposRoot`,
 * for the real `@octokit/rest` client (`new Octokit({ auth, baseUrl: gh.url })`, or with
 * `authStrategy: createAppAuth` from `@octokit/auth-app` when `app` is configured).
 *
 * Served operations (GitHub REST API 2022-11-28), each validated against GitHub's OpenAPI
 * description (request: 422 naming the failing path; response: 500 listing the violations):
 * - `GET /repos/{owner}/{repo}` — https://docs.github.com/rest/repos/repos#get-a-repository
 *   (404 when `<reposRoot>/<owner>/<repo>.git` is not a git repo; `default_branch` from its HEAD)
 * - `GET /repos/{owner}/{repo}/branches/{branch}` — https://docs.github.com/rest/branches/branches#get-a-branch
 *   (`commit` read from the bare repo; 404 `Branch not found`; never protected)
 * - `GET /repos/{owner}/{repo}/pulls` — https://docs.github.com/rest/pulls/pulls#list-pull-requests
 *   (filters `state`, `head` as `owner:branch` — ignored without the `owner:` prefix, as on GitHub —
 *   `base`; `sort`, `direction`, `per_page`, `page`, `Link` header)
 * - `POST /repos/{owner}/{repo}/pulls` — https://docs.github.com/rest/pulls/pulls#create-a-pull-request
 *   (422 `Validation Failed` when head or base branch is missing, when head has no commits beyond base,
 *   or when an open PR for the same head and base exists)
 * - `GET /repos/{owner}/{repo}/pulls/{pull_number}` — https://docs.github.com/rest/pulls/pulls#get-a-pull-request
 * - `PATCH /repos/{owner}/{repo}/pulls/{pull_number}` — https://docs.github.com/rest/pulls/pulls#update-a-pull-request
 * - `GET /repos/{owner}/{repo}/pulls/{pull_number}/commits` — https://docs.github.com/rest/pulls/pulls#list-commits-on-a-pull-request
 *   (`git log base..head`, oldest first, at most 250)
 * - `PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge` — https://docs.github.com/rest/pulls/pulls#merge-a-pull-request
 *   (really merges in the bare repo — `merge`, `squash` or `rebase` — and moves the base branch;
 *   405 when closed, draft, conflicting or the base moved meanwhile; 409 when `sha` is not the head)
 * - `POST /repos/{owner}/{repo}/pulls/{pull_number}/reviews` — https://docs.github.com/rest/pulls/reviews#create-a-review-for-a-pull-request
 *   (`event` APPROVE/REQUEST_CHANGES/COMMENT, none: PENDING; `comments[]` by `line`/`side` or
 *   `position`, located in the file's diff — 422 when the path or line is not in it; 422 for
 *   approving or requesting changes on one's own pull request)
 * - `GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews` — https://docs.github.com/rest/pulls/reviews#list-reviews-for-a-pull-request
 * - `GET /repos/{owner}/{repo}/pulls/{pull_number}/comments` — https://docs.github.com/rest/pulls/comments#list-review-comments-on-a-pull-request
 * - `POST /repos/{owner}/{repo}/issues/{issue_number}/comments` — https://docs.github.com/rest/issues/comments#create-an-issue-comment
 * - `GET /repos/{owner}/{repo}/issues/{issue_number}/comments` — https://docs.github.com/rest/issues/comments#list-issue-comments
 * - `POST /repos/{owner}/{repo}/check-runs` — https://docs.github.com/rest/checks/runs#create-a-check-run
 *   (`conclusion` implies `completed`; 422 when `head_sha` is not a commit of the repo)
 * - `GET /repos/{owner}/{repo}/commits/{ref}/check-runs` — https://docs.github.com/rest/checks/runs#list-check-runs-for-a-git-reference
 *   (`ref` a SHA, branch or tag; `check_name`, `status`, `filter` latest/all, `app_id`; `per_page`,
 *   `page`, `Link` header)
 * - `POST /app/installations/{installation_id}/access_tokens` — https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app
 *   (app JWT; `repositories`/`repository_ids` narrow the token, `permissions` too)
 * - `GET /repos/{owner}/{repo}/installation` — https://docs.github.com/rest/apps/apps#get-a-repository-installation-for-the-authenticated-app
 *
 * Authentication: without `app`, every request needs `Authorization: token X` or `Bearer X`
 * (any token), else 401 `Requires authentication`. With `app`, see {@link GithubLocalOptions.app}.
 * `head.sha`/`base.sha` are read from the bare repo at creation and again on every read while
 * the PR is open. State is kept in memory and written to `<reposRoot>/.github-local/state.json`
 * on each change, and loaded from it at start. Webhooks: see {@link GithubLocalOptions.webhook}.
 *
 * @throws Error when the port is taken, the state file is unreadable, the OpenAPI description is
 *   missing, or `app.publicKeyPem` is not a public key.
 */
export async function startGithubLocal(options: GithubLocalOptions): Promise<GithubLocal> {
  const reposRoot = resolve(options.reposRoot);
  const actor = options.actor ?? 'github-local';
  const store = new StateStore(reposRoot);
  warmUpValidators();
  const appConfig = options.app;
  const appKey = appConfig ? loadPublicKey(appConfig.publicKeyPem) : undefined;
  const startedAt = githubNow();
  const appFacts: AppFacts | undefined = appConfig && {
    id: appConfig.appId,
    slug: appConfig.slug ?? 'github-local',
    owner: actor,
    permissions: { ...INSTALLATION_PERMISSIONS },
    events: [...INSTALLATION_EVENTS],
    createdAt: startedAt,
  };
  let tokensIssued = 0;

  const app: FastifyInstance = fastify({
    logger: options.logger ? { level: 'info', stream: process.stderr } : false,
    exposeHeadRoutes: false,
  });
  let baseUrl = '';

  const hooks =
    options.webhook &&
    new WebhookSender(options.webhook, {
      hookId: stableId(`hook:${options.webhook.url}`),
      ...(appConfig ? { appId: appConfig.appId } : {}),
      log: (level, message, details) => app.log[level](details, message),
    });
  if (hooks) warmUpWebhookValidators();

  // Headers every api.github.com response carries that clients log or read.
  app.addHook('onSend', async (_request, reply) => {
    void reply.header('x-github-request-id', randomBytes(8).toString('hex').toUpperCase());
    void reply.header('x-github-media-type', 'github.v3; format=json');
  });

  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, text, done) => {
    if (text === '') {
      done(null, undefined);
      return;
    }
    try {
      done(null, JSON.parse(text as string));
    } catch {
      done(
        new GithubError(400, {
          message: 'Problems parsing JSON',
          documentation_url: 'https://docs.github.com/rest',
          status: '400',
        }),
        undefined,
      );
    }
  });

  app.setErrorHandler((error: unknown, request, reply) => {
    if (error instanceof GithubError) {
      void reply.status(error.statusCode).send(error.body);
      return;
    }
    const statusCode = (error as { statusCode?: number }).statusCode;
    const message = error instanceof Error ? error.message : String(error);
    if (statusCode !== undefined && statusCode >= 400 && statusCode < 500) {
      void reply
        .status(statusCode)
        .send({ message, documentation_url: 'https://docs.github.com/rest', status: String(statusCode) });
      return;
    }
    request.log.error({ err: error }, 'github-local handler failed');
    void reply
      .status(500)
      .send({ message: `github-local: ${message}`, documentation_url: 'https://docs.github.com/rest', status: '500' });
  });

  app.setNotFoundHandler((_request, reply) => {
    void reply.status(404).send({ message: 'Not Found', documentation_url: 'https://docs.github.com/rest', status: '404' });
  });

  /** Sends `output` after checking it against the operation's documented response schema. */
  function send(reply: FastifyReply, op: OperationId, output: HandlerOutput): void {
    const check = validateResponse(op, output.status, output.body);
    if (!check.valid) {
      reply.log.error({ op, status: output.status, issues: check.issues }, 'github-local response violates GitHub schema');
      void reply.status(500).send({
        message: `github-local: response ${output.status} of ${op} does not match GitHub's OpenAPI schema`,
        documentation_url: OPERATIONS[op].docs,
        status: '500',
        errors: check.issues,
      });
      return;
    }
    for (const [name, value] of Object.entries(output.headers ?? {})) void reply.header(name, value);
    void reply.status(output.status).send(output.body);
  }

  function authError(op: OperationId, status: number, message: string): GithubError {
    return new GithubError(status, { message, documentation_url: OPERATIONS[op].docs, status: String(status) });
  }

  /**
   * Checks the request's credentials for `op` (see {@link GithubLocalOptions.app}) and reads
   * the acting login from `x-github-local-user`.
   */
  function authenticate(op: OperationId, request: FastifyRequest): Caller {
    const token = credentials(request.headers.authorization);
    if (token === undefined) throw authError(op, 401, 'Requires authentication');
    const header = request.headers[USER_HEADER];
    const login = typeof header === 'string' && header !== '' ? header : actor;
    if (!LOGIN.test(login)) throw authError(op, 400, `github-local: ${USER_HEADER} is not a GitHub login: ${login}`);
    if (APP_JWT_OPERATIONS.has(op)) {
      if (!appConfig || !appKey) throw authError(op, 404, 'Integration not found');
      const check = verifyAppJwt(token, appConfig.appId, appKey);
      if (!check.ok) throw authError(op, check.status, check.message);
      return { login };
    }
    if (!appConfig) return { login };
    const record = looksLikeJwt(token) ? undefined : store.token(hashToken(token));
    if (!record || Date.parse(record.expiresAt) <= Date.now()) throw authError(op, 401, 'Bad credentials');
    const params = request.params as Record<string, string | undefined>;
    const owner = params['owner'];
    const repo = params['repo'];
    if (owner !== undefined && repo !== undefined) {
      const inst = appConfig.installations.find((i) => i.id === record.installationId);
      const covered =
        inst !== undefined && covers(inst, owner, repo) && (record.repos === null || record.repos.includes(`${owner}/${repo}`));
      if (!covered) throw authError(op, 403, 'Resource not accessible by integration');
    }
    const needed = PERMISSION_NEEDED[op];
    if (needed) {
      const granted = record.permissions[needed[0]];
      if (granted === undefined || (needed[1] === 'write' && granted !== 'write')) {
        throw authError(op, 403, 'Resource not accessible by integration');
      }
    }
    return { login, token: record };
  }

  /** Registers operation `op` at fastify route `url` with auth, request and response validation. */
  function serve(op: OperationId, url: string, handler: (input: HandlerInput) => Promise<HandlerOutput>): void {
    app.route({
      method: OPERATIONS[op].method.toUpperCase() as 'GET' | 'POST' | 'PATCH' | 'PUT',
      url,
      handler: async (request, reply) => {
        let output: HandlerOutput;
        try {
          const caller = authenticate(op, request);
          const checked = validateRequest(op, {
            params: request.params as Record<string, unknown>,
            query: request.query as Record<string, unknown>,
            // Octokit sends PUT/PATCH without parameters as an empty body (fastify hands over '').
            body: request.body === '' ? undefined : request.body,
          });
          if (!checked.valid) {
            throw new GithubError(422, { message: checked.message, documentation_url: OPERATIONS[op].docs, status: '422' });
          }
          output = await handler({
            params: checked.params,
            body: (checked.body ?? {}) as Record<string, unknown>,
            request,
            caller,
          });
        } catch (error) {
          if (!(error instanceof GithubError)) throw error;
          output = { status: error.statusCode, body: error.body };
        }
        send(reply, op, output);
        return reply;
      },
    });
  }

  /** Bare repo path of `owner/repo`, or a 404 for `op` when it is not a git repository. */
  async function requireRepo(op: OperationId, params: Record<string, unknown>): Promise<string> {
    const gitDir = bareRepoPath(reposRoot, String(params['owner']), String(params['repo']));
    if (gitDir === undefined || !(await repoExists(gitDir))) throw notFound(op);
    return gitDir;
  }

  /** The pull request `pull_number` of the request's repository, or a 404 for `op`. */
  function requirePull(op: OperationId, params: Record<string, unknown>, number = params['pull_number']): PullRecord {
    const pull = store.pull(String(params['owner']), String(params['repo']), Number(number));
    if (!pull) throw notFound(op);
    return pull;
  }

  async function repoFacts(owner: string, repo: string, gitDir: string): Promise<RepoFacts> {
    const [branch, info] = await Promise.all([defaultBranch(gitDir), stat(gitDir)]);
    const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
    return {
      baseUrl,
      owner,
      repo,
      gitDir,
      defaultBranch: branch,
      createdAt: iso(info.birthtimeMs > 0 ? info.birthtime : info.ctime),
      pushedAt: iso(info.mtime),
      openIssues: store.pulls(owner, repo).filter((p) => p.state === 'open').length,
    };
  }

  // ---------------------------------------------------------------- webhooks

  /** The installation of the configured app covering `owner/repo`, if any. */
  function installationFor(owner: string, repo: string): AppInstallation | undefined {
    return appConfig?.installations.find((i) => covers(i, owner, repo));
  }

  /** `repository`, `sender` and (with an app installed on the repo) `installation` of a webhook payload. */
  async function envelope(
    owner: string,
    repo: string,
    gitDir: string,
    sender: string,
  ): Promise<{ facts: RepoFacts; repoJson: Record<string, unknown>; common: Record<string, unknown> }> {
    const facts = await repoFacts(owner, repo, gitDir);
    const repoJson = repository(facts);
    const inst = installationFor(owner, repo);
    return {
      facts,
      repoJson,
      common: {
        // Webhook repositories carry the (here empty) custom properties GitHub's payloads have.
        repository: { ...repoJson, custom_properties: {} },
        sender: simpleUser(baseUrl, sender),
        ...(inst ? { installation: { id: inst.id, node_id: `MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9u${inst.id}` } } : {}),
      },
    };
  }

  /** Queues webhook `name` when a receiver is configured; `build` runs later, in order. */
  function emit(name: WebhookName, build: () => Promise<Record<string, unknown>>): void {
    hooks?.enqueue(name, build);
  }

  /**
   * Queues a `pull_request` webhook for `pull` as it is now (a copy is taken), e.g. `opened`;
   * `extra` is merged into the payload (`before`/`after` of `synchronize`, `changes` of `edited`).
   */
  function emitPull(
    name: 'pull-request-opened' | 'pull-request-closed' | 'pull-request-reopened' | 'pull-request-edited' | 'pull-request-synchronize',
    gitDir: string,
    pull: PullRecord,
    sender: string,
    extra: Record<string, unknown> = {},
  ): void {
    if (!hooks) return;
    const snapshot = structuredClone(pull);
    const comments = store.comments(pull.owner, pull.repo, pull.number).length;
    const reviewComments = store.reviewComments(pull.owner, pull.repo, pull.number).length;
    emit(name, async () => {
      const { facts, repoJson, common } = await envelope(snapshot.owner, snapshot.repo, gitDir, sender);
      const comparison = await compareBranches(gitDir, snapshot.base.sha, snapshot.head.sha);
      return {
        action: name.slice('pull-request-'.length),
        number: snapshot.number,
        ...extra,
        pull_request: pullRequest(facts, repoJson, snapshot, comparison, comments, reviewComments),
        ...common,
      };
    });
  }

  /**
   * Queues a `push` webhook for `branch` moving from `before` to `after` (either may be
   * {@link ZERO_SHA}: branch created / deleted), and records `after` as the branch's last
   * announced SHA.
   */
  function emitPush(owner: string, repo: string, gitDir: string, branch: string, before: string, after: string, pusher: string): void {
    store.setBranch(owner, repo, branch, after === ZERO_SHA ? undefined : after);
    if (!hooks) return;
    emit('push', async () => {
      const { facts, common } = await envelope(owner, repo, gitDir, pusher);
      const created = before === ZERO_SHA;
      const deleted = after === ZERO_SHA;
      let commits: Awaited<ReturnType<typeof commitsBetween>> = [];
      if (!deleted) {
        const defaultSha = created && branch !== facts.defaultBranch ? await branchSha(gitDir, facts.defaultBranch) : undefined;
        const from = created ? defaultSha : before;
        commits = from === undefined ? [(await readCommit(gitDir, after))!].filter(Boolean) : await commitsBetween(gitDir, from, after);
      }
      const recent = commits.slice(-20);
      const rendered = await Promise.all(
        recent.map(async (c) => pushCommit(baseUrl, owner, repo, c, await changedPaths(gitDir, c.sha))),
      );
      const head = deleted ? undefined : (await readCommit(gitDir, after));
      const headCommit =
        head === undefined
          ? null
          : (rendered.find((c) => c['id'] === head.sha) ??
            pushCommit(baseUrl, owner, repo, head, await changedPaths(gitDir, head.sha)));
      const forced = !created && !deleted && !(await isAncestor(gitDir, before, after));
      const short = (sha: string) => sha.slice(0, 12);
      return {
        ref: `refs/heads/${branch}`,
        before,
        after,
        repository: pushRepository(facts),
        pusher: { name: pusher, email: noreplyEmail(pusher) },
        sender: common['sender'],
        ...(common['installation'] ? { installation: common['installation'] } : {}),
        created,
        deleted,
        forced,
        base_ref: null,
        compare: created
          ? `${baseUrl}/${owner}/${repo}/commit/${short(after)}`
          : `${baseUrl}/${owner}/${repo}/compare/${short(before)}...${short(after)}`,
        commits: rendered,
        head_commit: headCommit,
      };
    });
  }

  /** Queues `check_run` webhook `name` for `run` as it is now. */
  function emitCheckRun(name: 'check-run-created' | 'check-run-completed', gitDir: string, run: CheckRunRecord, sender: string): void {
    if (!hooks) return;
    const snapshot = structuredClone(run);
    const pulls = structuredClone(openPullsAt(run.owner, run.repo, run.headSha));
    emit(name, async () => {
      const { facts, common } = await envelope(snapshot.owner, snapshot.repo, gitDir, sender);
      const appJson = appFacts ? integration(baseUrl, appFacts) : null;
      const rendered = checkRun(facts, snapshot, appJson, pulls);
      const headBranch = pulls[0]?.head.ref ?? null;
      return {
        action: name.slice('check-run-'.length),
        check_run: {
          ...rendered,
          check_suite: webhookCheckSuite(facts, snapshot, appJson, headBranch, rendered['pull_requests'] as unknown[]),
        },
        ...common,
      };
    });
  }

  // ---------------------------------------------------------------- pulls

  /**
   * Re-reads head/base SHAs of open PRs from the bare repo; saves when one moved and queues
   * `synchronize` for moved heads, with `sender` the pusher when known (`notifyPush`), else the actor.
   */
  async function refreshShas(gitDir: string, pulls: PullRecord[], sender = actor): Promise<void> {
    const open = pulls.filter((p) => p.state === 'open');
    if (open.length === 0) return;
    const shas = await branchShas(gitDir);
    let changed = false;
    for (const pull of open) {
      const head = shas.get(pull.head.ref);
      const base = shas.get(pull.base.ref);
      if (base !== undefined && base !== pull.base.sha) {
        pull.base.sha = base;
        changed = true;
      }
      if (head !== undefined && head !== pull.head.sha) {
        const before = pull.head.sha;
        pull.head.sha = head;
        pull.updatedAt = githubNow();
        changed = true;
        emitPull('pull-request-synchronize', gitDir, pull, sender, { before, after: head });
      }
    }
    if (changed) store.save();
  }

  async function renderPull(gitDir: string, pull: PullRecord): Promise<Record<string, unknown>> {
    const facts = await repoFacts(pull.owner, pull.repo, gitDir);
    const comparison = await compareBranches(gitDir, pull.base.sha, pull.head.sha);
    return pullRequest(
      facts,
      repository(facts),
      pull,
      comparison,
      store.comments(pull.owner, pull.repo, pull.number).length,
      store.reviewComments(pull.owner, pull.repo, pull.number).length,
    );
  }

  function openDuplicate(owner: string, repo: string, head: string, base: string, except?: number): PullRecord | undefined {
    return store
      .pulls(owner, repo)
      .find((p) => p.state === 'open' && p.head.ref === head && p.base.ref === base && p.number !== except);
  }

  /** Open pull requests of `owner/repo` whose head is commit `sha`. */
  function openPullsAt(owner: string, repo: string, sha: string): PullRecord[] {
    return store.pulls(owner, repo).filter((p) => p.state === 'open' && p.head.sha === sha);
  }

  serve('repos/get', '/repos/:owner/:repo', async ({ params }) => {
    const gitDir = await requireRepo('repos/get', params);
    const facts = await repoFacts(String(params['owner']), String(params['repo']), gitDir);
    return { status: 200, body: fullRepository(facts) };
  });

  serve('repos/get-branch', '/repos/:owner/:repo/branches/:branch', async ({ params }) => {
    const op = 'repos/get-branch';
    const owner = String(params['owner']);
    const repo = String(params['repo']);
    const gitDir = await requireRepo(op, params);
    const name = String(params['branch']);
    const sha = await branchSha(gitDir, name);
    const info = sha === undefined ? undefined : await readCommit(gitDir, sha);
    if (!info) throw new GithubError(404, { message: 'Branch not found', documentation_url: OPERATIONS[op].docs, status: '404' });
    return { status: 200, body: branchWithProtection(baseUrl, owner, repo, name, commit(baseUrl, owner, repo, info)) };
  });

  serve('pulls/create', '/repos/:owner/:repo/pulls', async ({ params, body, caller }) => {
    const op = 'pulls/create';
    const owner = String(params['owner']);
    const repo = String(params['repo']);
    const gitDir = await requireRepo(op, params);
    if (body['issue'] !== undefined) {
      throw validationFailed(op, [
        { resource: 'PullRequest', field: 'issue', code: 'invalid', message: 'github-local cannot convert issues' },
      ]);
    }
    const title = typeof body['title'] === 'string' ? body['title'] : '';
    if (title.trim() === '') throw validationFailed(op, [{ resource: 'Issue', field: 'title', code: 'missing_field' }]);
    const headSpec = String(body['head']);
    const base = String(body['base']);
    const colon = headSpec.indexOf(':');
    const headOwner = colon >= 0 ? headSpec.slice(0, colon) : owner;
    const head = colon >= 0 ? headSpec.slice(colon + 1) : headSpec;
    const [headSha, baseSha] = await Promise.all([
      headOwner === owner ? branchSha(gitDir, head) : Promise.resolve(undefined),
      branchSha(gitDir, base),
    ]);
    const errors: Array<Record<string, string>> = [];
    if (headSha === undefined) errors.push({ resource: 'PullRequest', field: 'head', code: 'invalid' });
    if (baseSha === undefined) errors.push({ resource: 'PullRequest', field: 'base', code: 'invalid' });
    if (headSha === undefined || baseSha === undefined) throw validationFailed(op, errors);
    if (await isAncestor(gitDir, headSha, baseSha)) {
      throw validationFailed(op, [{ resource: 'PullRequest', code: 'custom', message: `No commits between ${base} and ${head}` }]);
    }
    // From here on no await until the record is stored: the duplicate check and insert are atomic.
    if (openDuplicate(owner, repo, head, base)) {
      throw validationFailed(op, [
        { resource: 'PullRequest', code: 'custom', message: `A pull request already exists for ${owner}:${head}.` },
      ]);
    }
    const now = githubNow();
    const pull = store.addPull({
      owner,
      repo,
      title,
      body: typeof body['body'] === 'string' ? body['body'] : null,
      state: 'open',
      draft: body['draft'] === true,
      head: { ref: head, sha: headSha },
      base: { ref: base, sha: baseSha },
      user: caller.login,
      maintainerCanModify: body['maintainer_can_modify'] === true,
      createdAt: now,
      updatedAt: now,
      closedAt: null,
      mergedAt: null,
      mergeCommitSha: null,
      mergedBy: null,
    });
    emitPull('pull-request-opened', gitDir, pull, caller.login);
    const rendered = await renderPull(gitDir, pull);
    return { status: 201, body: rendered, headers: { location: String(rendered['url']) } };
  });

  serve('pulls/list', '/repos/:owner/:repo/pulls', async ({ params, request }) => {
    const owner = String(params['owner']);
    const repo = String(params['repo']);
    const gitDir = await requireRepo('pulls/list', params);
    const all = store.pulls(owner, repo);
    await refreshShas(gitDir, all);
    const state = String(params['state'] ?? 'open');
    const headFilter = typeof params['head'] === 'string' ? params['head'] : undefined;
    const baseFilter = typeof params['base'] === 'string' ? params['base'] : undefined;
    const sort = String(params['sort'] ?? 'created');
    const direction =
      typeof params['direction'] === 'string' ? params['direction'] : sort === 'created' ? 'desc' : 'asc';
    const sortKey = (p: PullRecord): string | number =>
      sort === 'updated' ? p.updatedAt : sort === 'popularity' ? store.comments(owner, repo, p.number).length : p.createdAt;
    const selected = all
      .filter((p) => state === 'all' || p.state === state)
      .filter((p) => {
        if (headFilter === undefined || !headFilter.includes(':')) return true;
        const colon = headFilter.indexOf(':');
        return headFilter.slice(0, colon) === owner && headFilter.slice(colon + 1) === p.head.ref;
      })
      .filter((p) => baseFilter === undefined || p.base.ref === baseFilter)
      .sort((a, b) => {
        const ka = sortKey(a);
        const kb = sortKey(b);
        const order = ka < kb ? -1 : ka > kb ? 1 : a.number - b.number;
        return direction === 'desc' ? -order : order;
      });
    const facts = await repoFacts(owner, repo, gitDir);
    const repoJson = repository(facts);
    return listOutput(baseUrl, request, selected, params, (p) => pullRequestSimple(facts, repoJson, p));
  });

  serve('pulls/get', '/repos/:owner/:repo/pulls/:pull_number', async ({ params }) => {
    const gitDir = await requireRepo('pulls/get', params);
    const pull = requirePull('pulls/get', params);
    await refreshShas(gitDir, [pull]);
    return { status: 200, body: await renderPull(gitDir, pull) };
  });

  serve('pulls/update', '/repos/:owner/:repo/pulls/:pull_number', async ({ params, body, caller }) => {
    const op = 'pulls/update';
    const owner = String(params['owner']);
    const repo = String(params['repo']);
    const gitDir = await requireRepo(op, params);
    const pull = requirePull(op, params);
    const newBase = typeof body['base'] === 'string' ? body['base'] : undefined;
    const newBaseSha = newBase === undefined ? undefined : await branchSha(gitDir, newBase);
    if (newBase !== undefined && newBaseSha === undefined) {
      throw validationFailed(op, [{ resource: 'PullRequest', field: 'base', code: 'invalid' }]);
    }
    const reopening = body['state'] === 'open' && pull.state === 'closed';
    if (reopening && pull.mergedAt !== null) {
      throw validationFailed(op, [
        { resource: 'PullRequest', field: 'state', code: 'custom', message: 'state cannot be changed. The pull request has been merged.' },
      ]);
    }
    const headSha = reopening ? await branchSha(gitDir, pull.head.ref) : undefined;
    if (reopening && headSha === undefined) {
      throw validationFailed(op, [
        {
          resource: 'PullRequest',
          field: 'state',
          code: 'custom',
          message: `state cannot be changed. The ${pull.head.ref} branch has been deleted.`,
        },
      ]);
    }
    // No await below until saved: duplicate check and update are atomic.
    const targetBase = newBase ?? pull.base.ref;
    const staysOpen = reopening || (pull.state === 'open' && body['state'] !== 'closed');
    if (staysOpen && openDuplicate(owner, repo, pull.head.ref, targetBase, pull.number)) {
      throw validationFailed(op, [
        { resource: 'PullRequest', code: 'custom', message: `A pull request already exists for ${owner}:${pull.head.ref}.` },
      ]);
    }
    const now = githubNow();
    const changes: Record<string, unknown> = {};
    if (typeof body['title'] === 'string' && body['title'] !== pull.title) {
      changes['title'] = { from: pull.title };
      pull.title = body['title'];
    }
    if (typeof body['body'] === 'string' && body['body'] !== pull.body) {
      changes['body'] = { from: pull.body ?? '' };
      pull.body = body['body'];
    }
    if (typeof body['maintainer_can_modify'] === 'boolean') pull.maintainerCanModify = body['maintainer_can_modify'];
    if (newBase !== undefined && newBaseSha !== undefined && newBase !== pull.base.ref) {
      changes['base'] = { ref: { from: pull.base.ref }, sha: { from: pull.base.sha } };
      pull.base = { ref: newBase, sha: newBaseSha };
    }
    const closing = body['state'] === 'closed' && pull.state === 'open';
    if (closing) {
      pull.state = 'closed';
      pull.closedAt = now;
    }
    if (reopening && headSha !== undefined) {
      pull.state = 'open';
      pull.closedAt = null;
      pull.head.sha = headSha;
    }
    pull.updatedAt = now;
    store.save();
    if (Object.keys(changes).length > 0) emitPull('pull-request-edited', gitDir, pull, caller.login, { changes });
    if (closing) emitPull('pull-request-closed', gitDir, pull, caller.login);
    if (reopening) emitPull('pull-request-reopened', gitDir, pull, caller.login);
    return { status: 200, body: await renderPull(gitDir, pull) };
  });

  serve('pulls/list-commits', '/repos/:owner/:repo/pulls/:pull_number/commits', async ({ params, request }) => {
    const op = 'pulls/list-commits';
    const owner = String(params['owner']);
    const repo = String(params['repo']);
    const gitDir = await requireRepo(op, params);
    const pull = requirePull(op, params);
    await refreshShas(gitDir, [pull]);
    const commits = await commitsBetween(gitDir, pull.base.sha, pull.head.sha);
    return listOutput(baseUrl, request, commits, params, (c) => commit(baseUrl, owner, repo, c));
  });

  /** Pull requests being merged right now (`owner/repo#number`): a concurrent second merge gets 405. */
  const merging = new Set<string>();

  serve('pulls/merge', '/repos/:owner/:repo/pulls/:pull_number/merge', async ({ params, body, caller }) => {
    const op = 'pulls/merge';
    const owner = String(params['owner']);
    const repo = String(params['repo']);
    const gitDir = await requireRepo(op, params);
    const pull = requirePull(op, params);
    const notAllowed = (message: string) =>
      new GithubError(405, { message, documentation_url: OPERATIONS[op].docs, status: '405' });
    const key = `${owner}/${repo}#${pull.number}`;
    if (merging.has(key)) throw notAllowed('Merge already in progress');
    merging.add(key);
    try {
      await refreshShas(gitDir, [pull]);
      if (pull.state !== 'open') throw notAllowed('Pull Request is not mergeable');
      if (pull.draft) throw notAllowed('Pull Request is still a draft');
      if (typeof body['sha'] === 'string' && body['sha'] !== pull.head.sha) {
        throw new GithubError(409, {
          message: 'Head branch was modified. Review and try the merge again.',
          documentation_url: OPERATIONS[op].docs,
          status: '409',
        });
      }
      const baseSha = await branchSha(gitDir, pull.base.ref);
      if (baseSha === undefined) throw notAllowed('Base branch was modified. Review and try the merge again.');
      const method = (typeof body['merge_method'] === 'string' ? body['merge_method'] : 'merge') as MergeMethod;
      const commits = method === 'squash' ? await commitsBetween(gitDir, baseSha, pull.head.sha) : [];
      const title =
        typeof body['commit_title'] === 'string'
          ? body['commit_title']
          : method === 'squash'
            ? `${pull.title} (#${pull.number})`
            : `Merge pull request #${pull.number} from ${owner}/${pull.head.ref}`;
      const detail =
        typeof body['commit_message'] === 'string'
          ? body['commit_message']
          : method === 'squash'
            ? commits.map((c) => `* ${c.message}`).join('\n\n')
            : pull.title;
      const outcome = await mergePull(gitDir, {
        method,
        baseRef: pull.base.ref,
        baseSha,
        headSha: pull.head.sha,
        message: detail === '' ? title : `${title}\n\n${detail}`,
        author: { name: caller.login, email: noreplyEmail(caller.login) },
        committer: { name: 'GitHub', email: 'noreply@github.com' },
      });
      if (!outcome.merged) {
        throw notAllowed(
          outcome.reason === 'conflict' ? 'Pull Request is not mergeable' : 'Base branch was modified. Review and try the merge again.',
        );
      }
      const now = githubNow();
      const previousBase = store.branches(owner, repo)[pull.base.ref] ?? baseSha;
      pull.state = 'closed';
      pull.closedAt = now;
      pull.mergedAt = now;
      pull.mergedBy = caller.login;
      pull.mergeCommitSha = outcome.sha;
      pull.updatedAt = now;
      store.save();
      emitPull('pull-request-closed', gitDir, pull, caller.login);
      emitPush(owner, repo, gitDir, pull.base.ref, previousBase, outcome.sha, caller.login);
      return { status: 200, body: { sha: outcome.sha, merged: true, message: 'Pull Request successfully merged' } };
    } finally {
      merging.delete(key);
    }
  });

  // ---------------------------------------------------------------- reviews

  serve('pulls/create-review', '/repos/:owner/:repo/pulls/:pull_number/reviews', async ({ params, body, caller }) => {
    const op = 'pulls/create-review';
    const owner = String(params['owner']);
    const repo = String(params['repo']);
    const gitDir = await requireRepo(op, params);
    const pull = requirePull(op, params);
    const unprocessable = (error: string) =>
      new GithubError(422, { message: 'Unprocessable Entity', errors: [error], documentation_url: OPERATIONS[op].docs, status: '422' });
    await refreshShas(gitDir, [pull]);
    const event = typeof body['event'] === 'string' ? body['event'] : undefined;
    const text = typeof body['body'] === 'string' ? body['body'] : '';
    const inputs = (Array.isArray(body['comments']) ? body['comments'] : []) as Array<Record<string, unknown>>;
    if (event === 'APPROVE' && caller.login === pull.user) throw unprocessable('Can not approve your own pull request');
    if (event === 'REQUEST_CHANGES' && caller.login === pull.user) {
      throw unprocessable('Can not request changes on your own pull request');
    }
    if (text.trim() === '' && (event === 'REQUEST_CHANGES' || (event === 'COMMENT' && inputs.length === 0))) {
      throw unprocessable(`Review body is required for ${event}`);
    }
    let commitId = pull.head.sha;
    if (typeof body['commit_id'] === 'string') {
      const found = await readCommit(gitDir, body['commit_id']);
      if (!found) throw unprocessable('Commit could not be resolved');
      commitId = found.sha;
    }
    const now = githubNow();
    const comments: Array<Omit<ReviewCommentRecord, 'id' | 'reviewId'>> = [];
    for (const input of inputs) {
      const path = String(input['path']);
      const diff = await fileDiff(gitDir, pull.base.sha, commitId, path);
      if (diff === '') throw unprocessable('Path could not be resolved');
      const side = input['side'] === 'LEFT' ? 'LEFT' : 'RIGHT';
      const target =
        typeof input['line'] === 'number'
          ? { line: input['line'], side: side as 'LEFT' | 'RIGHT' }
          : typeof input['position'] === 'number'
            ? { position: input['position'] }
            : undefined;
      const where = target && locateInDiff(diff, target);
      if (!where) throw unprocessable('Line could not be resolved');
      const startLine = typeof input['start_line'] === 'number' ? input['start_line'] : null;
      comments.push({
        owner,
        repo,
        pullNumber: pull.number,
        path,
        line: where.line,
        side: where.side,
        startLine,
        startSide: startLine === null ? null : input['start_side'] === 'LEFT' ? 'LEFT' : 'RIGHT',
        position: where.position,
        diffHunk: where.diffHunk,
        commitId,
        body: String(input['body']),
        user: caller.login,
        createdAt: now,
        updatedAt: now,
      });
    }
    const states: Record<string, ReviewState> = {
      APPROVE: 'APPROVED',
      REQUEST_CHANGES: 'CHANGES_REQUESTED',
      COMMENT: 'COMMENTED',
    };
    const state = event === undefined ? 'PENDING' : states[event]!;
    pull.updatedAt = now;
    const added = store.addReview(
      {
        owner,
        repo,
        pullNumber: pull.number,
        user: caller.login,
        body: text,
        state,
        commitId,
        submittedAt: state === 'PENDING' ? null : now,
      },
      comments,
    );
    if (state !== 'PENDING') emitReview(gitDir, pull, added.review, added.comments, caller.login);
    return { status: 200, body: pullRequestReview(baseUrl, added.review) };
  });

  /** Queues `pull_request_review` submitted, then `pull_request_review_comment` created per comment. */
  function emitReview(
    gitDir: string,
    pull: PullRecord,
    review: ReviewRecord,
    comments: ReviewCommentRecord[],
    sender: string,
  ): void {
    if (!hooks) return;
    const snapshot = structuredClone(pull);
    const reviewCopy = structuredClone(review);
    emit('pull-request-review-submitted', async () => {
      const { facts, repoJson, common } = await envelope(snapshot.owner, snapshot.repo, gitDir, sender);
      return {
        action: 'submitted',
        review: pullRequestReview(baseUrl, reviewCopy, true),
        pull_request: pullRequestSimple(facts, repoJson, snapshot),
        ...common,
      };
    });
    for (const comment of structuredClone(comments)) {
      emit('pull-request-review-comment-created', async () => {
        const { facts, repoJson, common } = await envelope(snapshot.owner, snapshot.repo, gitDir, sender);
        return {
          action: 'created',
          comment: reviewComment(baseUrl, comment),
          pull_request: pullRequestSimple(facts, repoJson, snapshot),
          ...common,
        };
      });
    }
  }

  serve('pulls/list-reviews', '/repos/:owner/:repo/pulls/:pull_number/reviews', async ({ params, request }) => {
    const op = 'pulls/list-reviews';
    await requireRepo(op, params);
    const pull = requirePull(op, params);
    const reviews = store.reviews(pull.owner, pull.repo, pull.number);
    return listOutput(baseUrl, request, reviews, params, (r) => pullRequestReview(baseUrl, r));
  });

  serve('pulls/list-review-comments', '/repos/:owner/:repo/pulls/:pull_number/comments', async ({ params, request }) => {
    const op = 'pulls/list-review-comments';
    await requireRepo(op, params);
    const pull = requirePull(op, params);
    const since = typeof params['since'] === 'string' ? Date.parse(params['since']) : undefined;
    const sort = typeof params['sort'] === 'string' ? params['sort'] : undefined;
    const descending = sort !== undefined && params['direction'] === 'desc';
    const key = (c: ReviewCommentRecord) => (sort === 'updated' ? c.updatedAt : c.createdAt);
    const selected = store
      .reviewComments(pull.owner, pull.repo, pull.number)
      .filter((c) => since === undefined || Date.parse(c.updatedAt) >= since)
      .sort((a, b) => {
        const order = sort === undefined ? 0 : key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0;
        return (descending ? -order : order) || (descending ? b.id - a.id : a.id - b.id);
      });
    return listOutput(baseUrl, request, selected, params, (c) => reviewComment(baseUrl, c));
  });

  // ---------------------------------------------------------------- issue comments

  serve('issues/create-comment', '/repos/:owner/:repo/issues/:issue_number/comments', async ({ params, body, caller }) => {
    const op = 'issues/create-comment';
    const owner = String(params['owner']);
    const repo = String(params['repo']);
    const gitDir = await requireRepo(op, params);
    const pull = requirePull(op, params, params['issue_number']);
    const now = githubNow();
    pull.updatedAt = now;
    const comment = store.addComment({
      owner,
      repo,
      issueNumber: pull.number,
      body: String(body['body']),
      user: caller.login,
      createdAt: now,
      updatedAt: now,
    });
    if (hooks) {
      const snapshot = structuredClone(pull);
      const commentCopy = structuredClone(comment);
      const count = store.comments(owner, repo, pull.number).length;
      emit('issue-comment-created', async () => {
        const { facts, common } = await envelope(owner, repo, gitDir, caller.login);
        return {
          action: 'created',
          issue: pullAsIssue(facts, snapshot, count),
          comment: issueComment(baseUrl, commentCopy),
          ...common,
        };
      });
    }
    const rendered = issueComment(baseUrl, comment);
    return { status: 201, body: rendered, headers: { location: String(rendered['url']) } };
  });

  serve('issues/list-comments', '/repos/:owner/:repo/issues/:issue_number/comments', async ({ params, request }) => {
    const op = 'issues/list-comments';
    const owner = String(params['owner']);
    const repo = String(params['repo']);
    await requireRepo(op, params);
    const number = Number(params['issue_number']);
    if (!store.pull(owner, repo, number)) throw notFound(op);
    const since = typeof params['since'] === 'string' ? Date.parse(params['since']) : undefined;
    const selected = store
      .comments(owner, repo, number)
      .filter((c) => since === undefined || Date.parse(c.updatedAt) >= since);
    return listOutput(baseUrl, request, selected, params, (c) => issueComment(baseUrl, c));
  });

  // ---------------------------------------------------------------- check runs

  serve('checks/create', '/repos/:owner/:repo/check-runs', async ({ params, body, caller }) => {
    const op = 'checks/create';
    const owner = String(params['owner']);
    const repo = String(params['repo']);
    const gitDir = await requireRepo(op, params);
    const headSha = String(body['head_sha']);
    const found = /^[0-9a-f]{40}$/i.test(headSha) ? await readCommit(gitDir, headSha) : undefined;
    if (!found) {
      throw validationFailed(op, [
        { resource: 'CheckRun', field: 'head_sha', code: 'invalid', message: `No commit found for SHA: ${headSha}` },
      ]);
    }
    const conclusion = typeof body['conclusion'] === 'string' ? body['conclusion'] : null;
    const status: CheckRunStatus = conclusion !== null ? 'completed' : ((body['status'] as CheckRunStatus | undefined) ?? 'queued');
    if (status === 'completed' && conclusion === null) {
      throw validationFailed(op, [{ resource: 'CheckRun', field: 'conclusion', code: 'missing_field' }]);
    }
    const now = githubNow();
    const output = (body['output'] ?? {}) as Record<string, unknown>;
    const text = (value: unknown) => (typeof value === 'string' ? value : null);
    const run = store.addCheckRun({
      owner,
      repo,
      name: String(body['name']),
      headSha: found.sha,
      status,
      conclusion,
      startedAt: text(body['started_at']) ?? now,
      completedAt: status === 'completed' ? (text(body['completed_at']) ?? now) : null,
      externalId: text(body['external_id']),
      detailsUrl: text(body['details_url']),
      output: { title: text(output['title']), summary: text(output['summary']), text: text(output['text']) },
      appId: appConfig?.appId ?? null,
      createdAt: now,
    });
    emitCheckRun('check-run-created', gitDir, run, caller.login);
    if (status === 'completed') emitCheckRun('check-run-completed', gitDir, run, caller.login);
    const facts = await repoFacts(owner, repo, gitDir);
    const appJson = appFacts ? integration(baseUrl, appFacts) : null;
    return { status: 201, body: checkRun(facts, run, appJson, openPullsAt(owner, repo, run.headSha)) };
  });

  serve('checks/list-for-ref', '/repos/:owner/:repo/commits/:ref/check-runs', async ({ params, request }) => {
    const op = 'checks/list-for-ref';
    const owner = String(params['owner']);
    const repo = String(params['repo']);
    const gitDir = await requireRepo(op, params);
    const ref = String(params['ref']);
    const sha = await resolveCommitRef(gitDir, ref);
    if (sha === undefined) {
      throw new GithubError(422, { message: `No commit found for SHA: ${ref}`, documentation_url: OPERATIONS[op].docs, status: '422' });
    }
    const name = typeof params['check_name'] === 'string' ? params['check_name'] : undefined;
    const status = typeof params['status'] === 'string' ? params['status'] : undefined;
    const appId = typeof params['app_id'] === 'number' ? params['app_id'] : undefined;
    let runs = store
      .checkRuns(owner, repo)
      .filter((r) => r.headSha === sha)
      .filter((r) => name === undefined || r.name === name)
      .filter((r) => status === undefined || r.status === status)
      .filter((r) => appId === undefined || r.appId === appId)
      .sort((a, b) => b.id - a.id);
    if ((params['filter'] ?? 'latest') === 'latest') {
      const seen = new Set<string>();
      runs = runs.filter((r) => !seen.has(r.name) && seen.add(r.name) !== undefined);
    }
    const { page, pageNumber, lastPage } = paginate(runs, params);
    const facts = await repoFacts(owner, repo, gitDir);
    const appJson = appFacts ? integration(baseUrl, appFacts) : null;
    const pulls = openPullsAt(owner, repo, sha);
    const link = linkHeader(baseUrl, request, pageNumber, lastPage);
    return {
      status: 200,
      body: { total_count: runs.length, check_runs: page.map((r) => checkRun(facts, r, appJson, pulls)) },
      ...(link ? { headers: { link } } : {}),
    };
  });

  // ---------------------------------------------------------------- GitHub App

  serve(
    'apps/create-installation-access-token',
    '/app/installations/:installation_id/access_tokens',
    async ({ params, body }) => {
      const op = 'apps/create-installation-access-token';
      const inst = appConfig?.installations.find((i) => i.id === Number(params['installation_id']));
      if (!appConfig || !inst) throw notFound(op);
      const inaccessible = () =>
        new GithubError(422, {
          message: 'There is at least one repository that does not exist or is not accessible to the parent installation.',
          documentation_url: OPERATIONS[op].docs,
          status: '422',
        });
      const accessible = (await listBareRepos(reposRoot)).filter((r) => covers(inst, r.owner, r.repo));
      const fullName = (r: { owner: string; repo: string }) => `${r.owner}/${r.repo}`;
      // Full names; names asked for match that repository name under every account the installation covers.
      let selected: string[] | null = inst.repos === undefined ? null : accessible.map(fullName);
      const names = Array.isArray(body['repositories']) ? (body['repositories'] as string[]) : [];
      const ids = Array.isArray(body['repository_ids']) ? (body['repository_ids'] as number[]) : [];
      if (names.length > 0 || ids.length > 0) {
        const picked = new Set<string>();
        for (const name of names) {
          const found = accessible.filter((r) => r.repo === name);
          if (found.length === 0) throw inaccessible();
          for (const r of found) picked.add(fullName(r));
        }
        for (const id of ids) {
          const found = accessible.find((r) => stableId(`repo:${fullName(r)}`) === id);
          if (!found) throw inaccessible();
          picked.add(fullName(found));
        }
        selected = [...picked].sort();
      }
      let permissions: Record<string, string> = { ...INSTALLATION_PERMISSIONS };
      if (body['permissions'] !== undefined) {
        permissions = body['permissions'] as Record<string, string>;
        for (const [name, level] of Object.entries(permissions)) {
          const granted = INSTALLATION_PERMISSIONS[name];
          if (granted === undefined || (level === 'write' && granted !== 'write')) {
            throw new GithubError(422, {
              message: 'The permissions requested are not granted to this installation.',
              documentation_url: OPERATIONS[op].docs,
              status: '422',
            });
          }
        }
      }
      const ttl = appConfig.tokenTtlSeconds ?? 3600;
      // Whole seconds, as GitHub formats `expires_at`, rounded up so the token lives at least `ttl`.
      const expiresAt = new Date(Math.ceil((Date.now() + ttl * 1000) / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
      const token = newInstallationToken();
      store.addToken({ tokenHash: hashToken(token), installationId: inst.id, owner: inst.owner, repos: selected, permissions, expiresAt });
      tokensIssued++;
      if (appConfig.issuedTokensFile !== undefined) appendFileSync(appConfig.issuedTokensFile, `${token}\n`);
      const repositories =
        selected === null
          ? undefined
          : await Promise.all(
              accessible
                .filter((r) => selected.includes(fullName(r)))
                .map(async (r) => repository(await repoFacts(r.owner, r.repo, r.gitDir))),
            );
      return {
        status: 201,
        body: {
          token,
          expires_at: expiresAt,
          permissions,
          repository_selection: selected === null ? 'all' : 'selected',
          ...(repositories ? { repositories } : {}),
        },
      };
    },
  );

  serve('apps/get-repo-installation', '/repos/:owner/:repo/installation', async ({ params }) => {
    const op = 'apps/get-repo-installation';
    await requireRepo(op, params);
    const owner = String(params['owner']);
    const inst = installationFor(owner, String(params['repo']));
    if (!inst || !appFacts) throw notFound(op);
    return { status: 200, body: installation(baseUrl, appFacts, inst, owner) };
  });

  const host = options.host ?? '127.0.0.1';
  await app.listen({ port: options.port ?? 0, host });
  const address = app.server.address() as AddressInfo;
  const urlHost =
    host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '[::1]' : host.includes(':') ? `[${host}]` : host;
  baseUrl = options.publicUrl?.replace(/\/+$/, '') ?? `http://${urlHost}:${address.port}`;

  // `before` of the first `push` webhook of each branch: its SHA now (branches already known keep theirs).
  if (hooks) {
    for (const { owner, repo, gitDir } of await listBareRepos(reposRoot)) {
      const known = store.branches(owner, repo);
      for (const [branch, sha] of await branchShas(gitDir)) {
        if (known[branch] === undefined) store.setBranch(owner, repo, branch, sha);
      }
    }
  }

  let closing: Promise<void> | undefined;
  return {
    url: baseUrl,
    stateFile: store.file,
    close: () => (closing ??= Promise.all([app.close(), hooks?.close()]).then(() => undefined)),
    pulls: (owner, repo) => structuredClone(store.pulls(owner, repo)).sort((a, b) => a.number - b.number),
    comments: (owner, repo, number) => structuredClone(store.comments(owner, repo, number)),
    tokensIssued: () => tokensIssued,
    notifyPush: async (owner, repo, branch, pushOptions = {}) => {
      const gitDir = bareRepoPath(reposRoot, owner, repo);
      if (gitDir === undefined || !(await repoExists(gitDir))) {
        throw new Error(`github-local: ${owner}/${repo} is not a repository under ${reposRoot}`);
      }
      const pusher = pushOptions.pusher ?? actor;
      const after = (await branchSha(gitDir, branch)) ?? ZERO_SHA;
      const before = pushOptions.before ?? store.branches(owner, repo)[branch] ?? ZERO_SHA;
      if (before !== after) emitPush(owner, repo, gitDir, branch, before, after, pusher);
      await refreshShas(gitDir, store.pulls(owner, repo), pusher);
    },
    redeliver: (deliveryId) => {
      if (!hooks) throw new Error('github-local: no webhook is configured');
      hooks.redeliver(deliveryId);
    },
    deliveries: () => hooks?.deliveries() ?? [],
    webhooksSettled: () => hooks?.idle() ?? Promise.resolve(),
  };
}
