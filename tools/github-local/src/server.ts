import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { fastify, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { bareRepoPath, branchSha, branchShas, compareBranches, defaultBranch, isAncestor, repoExists } from './git.js';
import { fullRepository, issueComment, pullRequest, pullRequestSimple, repository, type RepoFacts } from './github-shapes.js';
import { OPERATIONS, validateRequest, validateResponse, warmUpValidators, type OperationId } from './openapi-validator.js';
import { githubNow, StateStore, type CommentRecord, type PullRecord } from './state-store.js';

export type { CommentRecord, PullRecord } from './state-store.js';

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
  /** Login reported as the author of pull requests and comments (`user.login`). Default `github-local`. */
  actor?: string;
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

interface HandlerInput {
  /** Path and query parameters, coerced to their OpenAPI types, defaults filled in. */
  params: Record<string, unknown>;
  /** Validated JSON body (`{}` when absent on an operation with a body). */
  body: Record<string, unknown>;
  request: FastifyRequest;
}

interface HandlerOutput {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** Parses `Authorization: token X` / `Bearer X`; any non-empty token is accepted. */
function hasCredentials(header: string | undefined): boolean {
  return header !== undefined && /^(token|bearer)\s+\S+/i.test(header.trim());
}

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

/**
 * Starts a local GitHub-compatible REST server over the bare repositories in `reposRoot`,
 * for the real `@octokit/rest` client (`new Octokit({ auth, baseUrl: gh.url })`).
 *
 * Served operations (GitHub REST API 2022-11-28), each validated against GitHub's OpenAPI
 * description (request: 422 naming the failing path; response: 500 listing the violations):
 * - `GET /repos/{owner}/{repo}` — https://docs.github.com/rest/repos/repos#get-a-repository
 *   (404 when `<reposRoot>/<owner>/<repo>.git` is not a git repo; `default_branch` from its HEAD)
 * - `GET /repos/{owner}/{repo}/pulls` — https://docs.github.com/rest/pulls/pulls#list-pull-requests
 *   (filters `state`, `head` as `owner:branch` — ignored without the `owner:` prefix, as on GitHub —
 *   `base`; `sort`, `direction`, `per_page`, `page`, `Link` header)
 * - `POST /repos/{owner}/{repo}/pulls` — https://docs.github.com/rest/pulls/pulls#create-a-pull-request
 *   (422 `Validation Failed` when head or base branch is missing, when head has no commits beyond base,
 *   or when an open PR for the same head and base exists)
 * - `GET /repos/{owner}/{repo}/pulls/{pull_number}` — https://docs.github.com/rest/pulls/pulls#get-a-pull-request
 * - `PATCH /repos/{owner}/{repo}/pulls/{pull_number}` — https://docs.github.com/rest/pulls/pulls#update-a-pull-request
 * - `POST /repos/{owner}/{repo}/issues/{issue_number}/comments` — https://docs.github.com/rest/issues/comments#create-an-issue-comment
 * - `GET /repos/{owner}/{repo}/issues/{issue_number}/comments` — https://docs.github.com/rest/issues/comments#list-issue-comments
 *
 * Every request needs `Authorization: token X` or `Bearer X` (any token), else 401
 * `Requires authentication`. `head.sha`/`base.sha` are read from the bare repo at creation and
 * again on every GET while the PR is open. State is kept in memory and written to
 * `<reposRoot>/.github-local/state.json` on each change, and loaded from it at start.
 *
 * @throws Error when the port is taken, the state file is unreadable, or the OpenAPI description is missing.
 */
export async function startGithubLocal(options: GithubLocalOptions): Promise<GithubLocal> {
  const reposRoot = resolve(options.reposRoot);
  const actor = options.actor ?? 'github-local';
  const store = new StateStore(reposRoot);
  warmUpValidators();

  const app: FastifyInstance = fastify({
    logger: options.logger ? { level: 'info', stream: process.stderr } : false,
    exposeHeadRoutes: false,
  });
  let baseUrl = '';

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

  /** Registers operation `op` at fastify route `url` with auth, request and response validation. */
  function serve(op: OperationId, url: string, handler: (input: HandlerInput) => Promise<HandlerOutput>): void {
    app.route({
      method: OPERATIONS[op].method.toUpperCase() as 'GET' | 'POST' | 'PATCH',
      url,
      handler: async (request, reply) => {
        let output: HandlerOutput;
        try {
          if (!hasCredentials(request.headers.authorization)) {
            throw new GithubError(401, {
              message: 'Requires authentication',
              documentation_url: OPERATIONS[op].docs,
              status: '401',
            });
          }
          const checked = validateRequest(op, {
            params: request.params as Record<string, unknown>,
            query: request.query as Record<string, unknown>,
            body: request.body,
          });
          if (!checked.valid) {
            throw new GithubError(422, { message: checked.message, documentation_url: OPERATIONS[op].docs, status: '422' });
          }
          output = await handler({ params: checked.params, body: checked.body as Record<string, unknown>, request });
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

  /** Re-reads head/base SHAs of open PRs from the bare repo; saves when one moved. */
  async function refreshShas(gitDir: string, pulls: PullRecord[]): Promise<void> {
    const open = pulls.filter((p) => p.state === 'open');
    if (open.length === 0) return;
    const shas = await branchShas(gitDir);
    let changed = false;
    for (const pull of open) {
      const head = shas.get(pull.head.ref);
      const base = shas.get(pull.base.ref);
      if (head !== undefined && head !== pull.head.sha) {
        pull.head.sha = head;
        pull.updatedAt = githubNow();
        changed = true;
      }
      if (base !== undefined && base !== pull.base.sha) {
        pull.base.sha = base;
        changed = true;
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
    );
  }

  function openDuplicate(owner: string, repo: string, head: string, base: string, except?: number): PullRecord | undefined {
    return store
      .pulls(owner, repo)
      .find((p) => p.state === 'open' && p.head.ref === head && p.base.ref === base && p.number !== except);
  }

  serve('repos/get', '/repos/:owner/:repo', async ({ params }) => {
    const gitDir = await requireRepo('repos/get', params);
    const facts = await repoFacts(String(params['owner']), String(params['repo']), gitDir);
    return { status: 200, body: fullRepository(facts) };
  });

  serve('pulls/create', '/repos/:owner/:repo/pulls', async ({ params, body }) => {
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
      user: actor,
      maintainerCanModify: body['maintainer_can_modify'] === true,
      createdAt: now,
      updatedAt: now,
      closedAt: null,
    });
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
    const { page, pageNumber, lastPage } = paginate(selected, params);
    const facts = await repoFacts(owner, repo, gitDir);
    const repoJson = repository(facts);
    const link = linkHeader(baseUrl, request, pageNumber, lastPage);
    return {
      status: 200,
      body: page.map((p) => pullRequestSimple(facts, repoJson, p)),
      ...(link ? { headers: { link } } : {}),
    };
  });

  serve('pulls/get', '/repos/:owner/:repo/pulls/:pull_number', async ({ params }) => {
    const gitDir = await requireRepo('pulls/get', params);
    const pull = store.pull(String(params['owner']), String(params['repo']), Number(params['pull_number']));
    if (!pull) throw notFound('pulls/get');
    await refreshShas(gitDir, [pull]);
    return { status: 200, body: await renderPull(gitDir, pull) };
  });

  serve('pulls/update', '/repos/:owner/:repo/pulls/:pull_number', async ({ params, body }) => {
    const op = 'pulls/update';
    const owner = String(params['owner']);
    const repo = String(params['repo']);
    const gitDir = await requireRepo(op, params);
    const pull = store.pull(owner, repo, Number(params['pull_number']));
    if (!pull) throw notFound(op);
    const newBase = typeof body['base'] === 'string' ? body['base'] : undefined;
    const newBaseSha = newBase === undefined ? undefined : await branchSha(gitDir, newBase);
    if (newBase !== undefined && newBaseSha === undefined) {
      throw validationFailed(op, [{ resource: 'PullRequest', field: 'base', code: 'invalid' }]);
    }
    const reopening = body['state'] === 'open' && pull.state === 'closed';
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
    if (typeof body['title'] === 'string') pull.title = body['title'];
    if (typeof body['body'] === 'string') pull.body = body['body'];
    if (typeof body['maintainer_can_modify'] === 'boolean') pull.maintainerCanModify = body['maintainer_can_modify'];
    if (newBase !== undefined && newBaseSha !== undefined) pull.base = { ref: newBase, sha: newBaseSha };
    if (body['state'] === 'closed' && pull.state === 'open') {
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
    return { status: 200, body: await renderPull(gitDir, pull) };
  });

  serve('issues/create-comment', '/repos/:owner/:repo/issues/:issue_number/comments', async ({ params, body }) => {
    const op = 'issues/create-comment';
    const owner = String(params['owner']);
    const repo = String(params['repo']);
    await requireRepo(op, params);
    const pull = store.pull(owner, repo, Number(params['issue_number']));
    if (!pull) throw notFound(op);
    const now = githubNow();
    pull.updatedAt = now;
    const comment = store.addComment({
      owner,
      repo,
      issueNumber: pull.number,
      body: String(body['body']),
      user: actor,
      createdAt: now,
      updatedAt: now,
    });
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
    const { page, pageNumber, lastPage } = paginate(selected, params);
    const link = linkHeader(baseUrl, request, pageNumber, lastPage);
    return {
      status: 200,
      body: page.map((c) => issueComment(baseUrl, c)),
      ...(link ? { headers: { link } } : {}),
    };
  });

  const host = options.host ?? '127.0.0.1';
  await app.listen({ port: options.port ?? 0, host });
  const address = app.server.address() as AddressInfo;
  const urlHost =
    host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '[::1]' : host.includes(':') ? `[${host}]` : host;
  baseUrl = options.publicUrl?.replace(/\/+$/, '') ?? `http://${urlHost}:${address.port}`;

  let closing: Promise<void> | undefined;
  return {
    url: baseUrl,
    stateFile: store.file,
    close: () => (closing ??= app.close()),
    pulls: (owner, repo) => structuredClone(store.pulls(owner, repo)).sort((a, b) => a.number - b.number),
    comments: (owner, repo, number) => structuredClone(store.comments(owner, repo, number)),
  };
}
