import { createHmac, generateKeyPairSync, sign } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAppAuth } from '@octokit/auth-app';
import { Octokit } from '@octokit/rest';
import { Webhooks } from '@octokit/webhooks';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGithubLocal, type GithubLocal } from './index.js';
import { openApiSpecPath, validateResponse } from './openapi-validator.js';

const GIT_ENV = {
  GIT_AUTHOR_NAME: 'Test',
  GIT_AUTHOR_EMAIL: 'test@example.com',
  GIT_COMMITTER_NAME: 'Test',
  GIT_COMMITTER_EMAIL: 'test@example.com',
};

async function git(cwd: string, ...args: string[]): Promise<string> {
  const { stdout } = await execa('git', args, { cwd, env: GIT_ENV });
  return String(stdout).trim();
}

let root: string;
let reposRoot: string;
let work: string;
let gh: GithubLocal;
let octokit: Octokit;

/** Creates `branch` from local main in the work clone with one commit changing `file`, and pushes it. */
async function pushBranch(branch: string, file: string, content: string): Promise<string> {
  await git(work, 'checkout', '-q', '-B', branch, 'main');
  await writeFile(join(work, file), content);
  await git(work, 'add', file);
  await git(work, 'commit', '-q', '-m', `change ${file} on ${branch}`);
  await git(work, 'push', '-q', '-f', 'origin', branch);
  return git(work, 'rev-parse', 'HEAD');
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'github-local-spec-'));
  reposRoot = join(root, 'remotes');
  work = join(root, 'work');
  await mkdir(join(reposRoot, 'acme'), { recursive: true });
  const bare = join(reposRoot, 'acme', 'widgets.git');
  await execa('git', ['init', '-q', '--bare', '-b', 'main', bare]);
  await execa('git', ['clone', '-q', bare, work]);
  await git(work, 'checkout', '-q', '-b', 'main');
  await writeFile(join(work, 'package.json'), '{"name":"widgets"}\n');
  await git(work, 'add', 'package.json');
  await git(work, 'commit', '-q', '-m', 'init');
  await git(work, 'push', '-q', 'origin', 'main');
  await pushBranch('fix', 'fix.txt', 'fix\n');
  await pushBranch('fix-draft', 'draft.txt', 'draft\n');
  await git(work, 'push', '-q', 'origin', 'main:refs/heads/same-as-main');

  gh = await startGithubLocal({ reposRoot });
  octokit = client(gh.url);
});

/** Octokit against github-local; request logs off (expected 4xx would print one line each). */
function client(baseUrl: string, auth: string | null = 'test-token'): Octokit {
  const quiet = () => undefined;
  return new Octokit({ ...(auth ? { auth } : {}), baseUrl, log: { debug: quiet, info: quiet, warn: console.warn, error: quiet } });
}

afterAll(async () => {
  await gh?.close();
  await rm(root, { recursive: true, force: true });
});

describe('github-local with @octokit/rest', () => {
  it('gets a repository with default_branch from the bare repo HEAD', async () => {
    const { status, data } = await octokit.rest.repos.get({ owner: 'acme', repo: 'widgets' });
    expect(status).toBe(200);
    expect(data).toMatchObject({ full_name: 'acme/widgets', default_branch: 'main', owner: { login: 'acme' } });
    expect(data.html_url).toBe(`${gh.url}/acme/widgets`);
  });

  it('answers 404 for a repository that does not exist', async () => {
    await expect(octokit.rest.repos.get({ owner: 'acme', repo: 'nope' })).rejects.toMatchObject({
      status: 404,
      response: { data: { message: 'Not Found' } },
    });
  });

  it('creates a pull request (draft false) and reads it back', async () => {
    const headSha = await git(work, 'rev-parse', 'origin/fix');
    const created = await octokit.rest.pulls.create({
      owner: 'acme',
      repo: 'widgets',
      title: 'Bump lodash',
      head: 'fix',
      base: 'main',
      body: 'Fixes CVE-1',
      draft: false,
    });
    expect(created.status).toBe(201);
    expect(created.headers.location).toBe(`${gh.url}/repos/acme/widgets/pulls/1`);
    expect(created.data).toMatchObject({
      number: 1,
      state: 'open',
      draft: false,
      title: 'Bump lodash',
      body: 'Fixes CVE-1',
      html_url: `${gh.url}/acme/widgets/pull/1`,
      head: { ref: 'fix', sha: headSha, label: 'acme:fix', repo: { full_name: 'acme/widgets' } },
      base: { ref: 'main', repo: { full_name: 'acme/widgets' } },
      commits: 1,
      changed_files: 1,
      mergeable: true,
    });

    const { data } = await octokit.rest.pulls.get({ owner: 'acme', repo: 'widgets', pull_number: 1 });
    expect(data).toMatchObject({ number: 1, title: 'Bump lodash', draft: false, head: { sha: headSha } });
    expect(gh.pulls('acme', 'widgets')).toHaveLength(1);
  });

  it('creates a draft pull request with the next number', async () => {
    const created = await octokit.rest.pulls.create({
      owner: 'acme',
      repo: 'widgets',
      title: 'Draft bump',
      head: 'acme:fix-draft',
      base: 'main',
      draft: true,
    });
    expect(created.data).toMatchObject({ number: 2, draft: true, mergeable_state: 'draft', body: null });
    const { data } = await octokit.rest.pulls.get({ owner: 'acme', repo: 'widgets', pull_number: 2 });
    expect(data.draft).toBe(true);
  });

  it('answers 422 like GitHub when the head branch does not exist', async () => {
    await expect(
      octokit.rest.pulls.create({ owner: 'acme', repo: 'widgets', title: 'x', head: 'missing', base: 'main' }),
    ).rejects.toMatchObject({
      status: 422,
      response: {
        data: {
          message: 'Validation Failed',
          errors: [{ resource: 'PullRequest', field: 'head', code: 'invalid' }],
          documentation_url: 'https://docs.github.com/rest/pulls/pulls#create-a-pull-request',
        },
      },
    });
  });

  it('answers 422 when the base branch does not exist or head has no new commits', async () => {
    await expect(
      octokit.rest.pulls.create({ owner: 'acme', repo: 'widgets', title: 'x', head: 'fix', base: 'nope' }),
    ).rejects.toMatchObject({ status: 422, response: { data: { errors: [{ field: 'base', code: 'invalid' }] } } });
    await expect(
      octokit.rest.pulls.create({ owner: 'acme', repo: 'widgets', title: 'x', head: 'same-as-main', base: 'main' }),
    ).rejects.toMatchObject({
      status: 422,
      response: { data: { errors: [{ code: 'custom', message: 'No commits between main and same-as-main' }] } },
    });
  });

  it('answers 422 for a second open pull request with the same head and base', async () => {
    await expect(
      octokit.rest.pulls.create({ owner: 'acme', repo: 'widgets', title: 'again', head: 'fix', base: 'main' }),
    ).rejects.toMatchObject({
      status: 422,
      response: {
        data: {
          message: 'Validation Failed',
          errors: [{ resource: 'PullRequest', code: 'custom', message: 'A pull request already exists for acme:fix.' }],
        },
      },
    });
  });

  it('lists pull requests filtered by head, base and state', async () => {
    const byHead = await octokit.rest.pulls.list({ owner: 'acme', repo: 'widgets', head: 'acme:fix' });
    expect(byHead.data.map((p) => p.number)).toEqual([1]);
    const none = await octokit.rest.pulls.list({ owner: 'acme', repo: 'widgets', head: 'acme:other' });
    expect(none.data).toEqual([]);
    const all = await octokit.rest.pulls.list({ owner: 'acme', repo: 'widgets', state: 'all', base: 'main' });
    expect(all.data.map((p) => p.number)).toEqual([2, 1]);
    const paged = await octokit.paginate(octokit.rest.pulls.list, { owner: 'acme', repo: 'widgets', per_page: 1 });
    expect(paged.map((p) => p.number)).toEqual([2, 1]);
  });

  it('re-reads head.sha from the bare repo on GET', async () => {
    await git(work, 'checkout', '-q', 'fix');
    await writeFile(join(work, 'fix.txt'), 'fix v2\n');
    await git(work, 'commit', '-q', '-am', 'fix v2');
    await git(work, 'push', '-q', 'origin', 'fix');
    const newSha = await git(work, 'rev-parse', 'HEAD');
    const { data } = await octokit.rest.pulls.get({ owner: 'acme', repo: 'widgets', pull_number: 1 });
    expect(data.head.sha).toBe(newSha);
    expect(data.commits).toBe(2);
  });

  it('updates a pull request (title, body, state)', async () => {
    const updated = await octokit.rest.pulls.update({
      owner: 'acme',
      repo: 'widgets',
      pull_number: 2,
      title: 'Draft bump v2',
      body: 'new body',
      state: 'closed',
    });
    expect(updated.data).toMatchObject({ title: 'Draft bump v2', body: 'new body', state: 'closed' });
    expect(updated.data.closed_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    const open = await octokit.rest.pulls.list({ owner: 'acme', repo: 'widgets' });
    expect(open.data.map((p) => p.number)).toEqual([1]);
    const reopened = await octokit.rest.pulls.update({ owner: 'acme', repo: 'widgets', pull_number: 2, state: 'open' });
    expect(reopened.data).toMatchObject({ state: 'open', closed_at: null });
    await expect(
      octokit.rest.pulls.update({ owner: 'acme', repo: 'widgets', pull_number: 2, base: 'nope' }),
    ).rejects.toMatchObject({ status: 422 });
    await expect(octokit.rest.pulls.get({ owner: 'acme', repo: 'widgets', pull_number: 99 })).rejects.toMatchObject({
      status: 404,
    });
  });

  it('creates and lists issue comments on a pull request', async () => {
    const first = await octokit.rest.issues.createComment({ owner: 'acme', repo: 'widgets', issue_number: 1, body: 'one' });
    expect(first.status).toBe(201);
    expect(first.data.html_url).toBe(`${gh.url}/acme/widgets/pull/1#issuecomment-${first.data.id}`);
    await octokit.rest.issues.createComment({ owner: 'acme', repo: 'widgets', issue_number: 1, body: 'two' });
    const { data } = await octokit.rest.issues.listComments({ owner: 'acme', repo: 'widgets', issue_number: 1 });
    expect(data.map((c) => c.body)).toEqual(['one', 'two']);
    const pull = await octokit.rest.pulls.get({ owner: 'acme', repo: 'widgets', pull_number: 1 });
    expect(pull.data.comments).toBe(2);
    await expect(
      octokit.rest.issues.createComment({ owner: 'acme', repo: 'widgets', issue_number: 42, body: 'x' }),
    ).rejects.toMatchObject({ status: 404 });
  });

  it('answers 401 without an authorization header', async () => {
    const anonymous = client(gh.url, null);
    await expect(anonymous.rest.repos.get({ owner: 'acme', repo: 'widgets' })).rejects.toMatchObject({
      status: 401,
      response: { data: { message: 'Requires authentication' } },
    });
  });

  it('answers 422 naming the field for a request body that violates the OpenAPI schema', async () => {
    const response = await fetch(`${gh.url}/repos/acme/widgets/pulls`, {
      method: 'POST',
      headers: { authorization: 'Bearer test-token', 'content-type': 'application/json' },
      body: JSON.stringify({ title: 123, head: 'fix', base: 'main' }),
    });
    expect(response.status).toBe(422);
    const body = (await response.json()) as { message: string };
    expect(body.message).toBe("Invalid request.\n\nFor 'properties/title', 123 is not a string.");

    const missing = await fetch(`${gh.url}/repos/acme/widgets/pulls`, {
      method: 'POST',
      headers: { authorization: 'token t', 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'x', base: 'main' }),
    });
    expect(missing.status).toBe(422);
    expect(((await missing.json()) as { message: string }).message).toContain('"head" wasn\'t supplied.');

    const badParam = await fetch(`${gh.url}/repos/acme/widgets/pulls?state=merged`, {
      headers: { authorization: 'token t' },
    });
    expect(badParam.status).toBe(422);
    expect(((await badParam.json()) as { message: string }).message).toContain("For 'state'");
  });

  it('keeps pull requests and comments across a restart', async () => {
    const stateFile = join(reposRoot, '.github-local', 'state.json');
    expect(gh.stateFile).toBe(stateFile);
    expect(existsSync(stateFile)).toBe(true);
    await gh.close();
    gh = await startGithubLocal({ reposRoot });
    octokit = client(gh.url);
    const { data } = await octokit.rest.pulls.get({ owner: 'acme', repo: 'widgets', pull_number: 1 });
    expect(data).toMatchObject({ number: 1, title: 'Bump lodash', comments: 2 });
    const saved = JSON.parse(await readFile(stateFile, 'utf8')) as { version: number };
    expect(saved.version).toBe(1);
    await pushBranch('fix-3', 'three.txt', '3\n');
    const third = await octokit.rest.pulls.create({ owner: 'acme', repo: 'widgets', title: 't', head: 'fix-3', base: 'main' });
    expect(third.data.number).toBe(3);
  });

  it('lets exactly one of two concurrent identical creates through', async () => {
    await pushBranch('fix-race', 'race.txt', 'race\n');
    const attempt = () =>
      octokit.rest.pulls.create({ owner: 'acme', repo: 'widgets', title: 'race', head: 'fix-race', base: 'main' }).then(
        (r) => r.status,
        (e: { status: number }) => e.status,
      );
    const statuses = await Promise.all([attempt(), attempt(), attempt()]);
    expect(statuses.sort()).toEqual([201, 422, 422]);
  });
});

describe('OpenAPI response validation', () => {
  it('uses the api.github.com description of @octokit/openapi', () => {
    expect(openApiSpecPath()).toMatch(/node_modules\/@octokit\/openapi\/generated\/api\.github\.com\.json$/);
  });

  it('accepts a served pull request and rejects one missing `number`', async () => {
    const { data } = await octokit.rest.pulls.get({ owner: 'acme', repo: 'widgets', pull_number: 1 });
    expect(validateResponse('pulls/get', 200, data)).toEqual({ valid: true });
    const { number: _number, ...withoutNumber } = data;
    const result = validateResponse('pulls/get', 200, withoutNumber);
    expect(result.valid).toBe(false);
    expect(result.valid ? [] : result.issues).toContainEqual(
      expect.objectContaining({ keyword: 'required', params: { missingProperty: 'number' } }),
    );
    expect(validateResponse('pulls/create', 201, { ...data, head: { ...data.head, repo: null } }).valid).toBe(false);
    expect(validateResponse('pulls/list', 200, [data]).valid).toBe(true);
    expect(validateResponse('repos/get', 204, {}).valid).toBe(false);
  });

  it('answers 500 listing the violations when the server would send a non-GitHub shape', async () => {
    const otherRoot = join(root, 'drift');
    await execa('git', ['init', '-q', '--bare', '-b', 'main', join(otherRoot, 'acme', 'drift.git')]);
    await mkdir(join(otherRoot, '.github-local'), { recursive: true });
    const now = '2024-01-01T00:00:00Z';
    const pull = {
      id: 1, number: 1, owner: 'acme', repo: 'drift', title: 'x', body: null, state: 'open',
      draft: 'yes', // not a boolean: the rendered PR violates the schema
      head: { ref: 'a', sha: 'a'.repeat(40) }, base: { ref: 'main', sha: 'b'.repeat(40) },
      user: 'github-local', maintainerCanModify: false, createdAt: now, updatedAt: now, closedAt: null,
    };
    await writeFile(
      join(otherRoot, '.github-local', 'state.json'),
      JSON.stringify({ version: 1, nextPullId: 2, nextCommentId: 1, repos: { 'acme/drift': { nextNumber: 2, pulls: [pull], comments: [] } } }),
    );
    const drift = await startGithubLocal({ reposRoot: otherRoot });
    try {
      const response = await fetch(`${drift.url}/repos/acme/drift/pulls/1`, { headers: { authorization: 'token t' } });
      expect(response.status).toBe(500);
      const body = (await response.json()) as { message: string; errors: Array<{ instancePath: string }> };
      expect(body.message).toContain('does not match GitHub');
      expect(body.errors).toContainEqual(expect.objectContaining({ instancePath: '/draft' }));
    } finally {
      await drift.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Reviews, commits, branches, merges, check runs; GitHub App auth; webhooks.

/** Creates `<reposRoot>/<owner>/<repo>.git` with one commit on main (`files`), and a work clone at `work`. */
async function makeRepo(reposRoot: string, owner: string, repo: string, work: string, files: Record<string, string>): Promise<void> {
  const bare = join(reposRoot, owner, `${repo}.git`);
  await mkdir(join(reposRoot, owner), { recursive: true });
  await execa('git', ['init', '-q', '--bare', '-b', 'main', bare]);
  await execa('git', ['clone', '-q', bare, work]);
  await git(work, 'checkout', '-q', '-b', 'main');
  for (const [file, content] of Object.entries(files)) await writeFile(join(work, file), content);
  await git(work, 'add', '.');
  await git(work, 'commit', '-q', '-m', 'init');
  await git(work, 'push', '-q', 'origin', 'main');
}

/**
 * Commits `files` on `branch` of clone `work` (created from `from` when given, else continued)
 * with `message`, pushes it, and returns the new SHA. `env` overrides the author/committer.
 */
async function commitOn(
  work: string,
  branch: string,
  files: Record<string, string>,
  options: { from?: string; message?: string; env?: Record<string, string> } = {},
): Promise<string> {
  if (options.from) await git(work, 'checkout', '-q', '-B', branch, options.from);
  else await git(work, 'checkout', '-q', branch);
  for (const [file, content] of Object.entries(files)) await writeFile(join(work, file), content);
  await git(work, 'add', '.');
  await execa('git', ['commit', '-q', '-m', options.message ?? `update ${Object.keys(files).join(', ')}`], {
    cwd: work,
    env: { ...GIT_ENV, ...options.env },
  });
  await git(work, 'push', '-q', '-f', 'origin', branch);
  return git(work, 'rev-parse', 'HEAD');
}

/** `git --git-dir <bare> ...` output, trimmed. */
async function bareGit(bare: string, ...args: string[]): Promise<string> {
  const { stdout } = await execa('git', ['--git-dir', bare, ...args]);
  return String(stdout).trim();
}

describe('reviews, commits, branches, merges and check runs', () => {
  let reposRoot2: string;
  let work2: string;
  let bare: string;
  let server: GithubLocal;
  let api: Octokit;
  const repo = { owner: 'acme', repo: 'gadgets' };
  /** Per-request option making the call act as login `alice` (a human reviewer). */
  const asAlice = { headers: { 'x-github-local-user': 'alice' } };

  beforeAll(async () => {
    reposRoot2 = join(root, 'remotes-2');
    work2 = join(root, 'work-2');
    bare = join(reposRoot2, 'acme', 'gadgets.git');
    await makeRepo(reposRoot2, 'acme', 'gadgets', work2, { 'lib.txt': 'a\nb\nc\n', 'other.txt': 'x\n' });
    server = await startGithubLocal({ reposRoot: reposRoot2, actor: 'remediation-bot' });
    api = client(server.url);
  });

  afterAll(async () => {
    await server?.close();
  });

  it('gets a branch with its head commit, also for names with a slash', async () => {
    const sha = await commitOn(work2, 'deps/lodash', { 'lib.txt': 'a\nB\nc\nd\n' }, { from: 'main', message: 'Bump lodash\n\nFixes CVE-1' });
    const { data } = await api.rest.repos.getBranch({ ...repo, branch: 'deps/lodash' });
    expect(data).toMatchObject({
      name: 'deps/lodash',
      protected: false,
      commit: { sha, commit: { message: 'Bump lodash\n\nFixes CVE-1', author: { name: 'Test', email: 'test@example.com' } } },
    });
    expect(data.commit.commit.author?.date).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    await expect(api.rest.repos.getBranch({ ...repo, branch: 'nope' })).rejects.toMatchObject({
      status: 404,
      response: { data: { message: 'Branch not found' } },
    });
  });

  it('lists the commits of a pull request, oldest first, with authors from the bare repo', async () => {
    const second = await commitOn(work2, 'deps/lodash', { 'other.txt': 'y\n' }, {
      message: 'second',
      env: { GIT_AUTHOR_NAME: 'Alice', GIT_AUTHOR_EMAIL: '42+alice@users.noreply.github.com' },
    });
    const pull = await api.rest.pulls.create({ ...repo, title: 'Bump lodash', head: 'deps/lodash', base: 'main' });
    expect(pull.data.user?.login).toBe('remediation-bot');
    const { data } = await api.rest.pulls.listCommits({ ...repo, pull_number: pull.data.number });
    expect(data.map((c) => c.commit.message)).toEqual(['Bump lodash\n\nFixes CVE-1', 'second']);
    expect(data[1]).toMatchObject({
      sha: second,
      commit: { author: { name: 'Alice', email: '42+alice@users.noreply.github.com' }, committer: { name: 'Test' } },
      author: { login: 'alice' },
      committer: null,
    });
    expect(data[1]!.parents[0]!.sha).toBe(data[0]!.sha);
  });

  it('creates reviews as a chosen user and refuses approving one\'s own pull request', async () => {
    await expect(api.rest.pulls.createReview({ ...repo, pull_number: 1, event: 'APPROVE' })).rejects.toMatchObject({
      status: 422,
      response: { data: { message: 'Unprocessable Entity', errors: ['Can not approve your own pull request'] } },
    });
    const approved = await api.rest.pulls.createReview({ ...repo, pull_number: 1, event: 'APPROVE', body: 'LGTM', ...asAlice });
    expect(approved.data).toMatchObject({ state: 'APPROVED', body: 'LGTM', user: { login: 'alice' }, author_association: 'NONE' });
    expect(approved.data.html_url).toBe(`${server.url}/acme/gadgets/pull/1#pullrequestreview-${approved.data.id}`);
    expect(approved.data.submitted_at).toMatch(/Z$/);
    const pending = await api.rest.pulls.createReview({ ...repo, pull_number: 1, ...asAlice });
    expect(pending.data.state).toBe('PENDING');
    expect(pending.data.submitted_at).toBeUndefined();
    await expect(
      api.rest.pulls.createReview({ ...repo, pull_number: 1, event: 'REQUEST_CHANGES', ...asAlice }),
    ).rejects.toMatchObject({ status: 422 });
  });

  it('stores review comments located in the diff, and lists reviews and review comments', async () => {
    const { data: pull } = await api.rest.pulls.get({ ...repo, pull_number: 1 });
    const review = await api.rest.pulls.createReview({
      ...repo,
      pull_number: 1,
      event: 'REQUEST_CHANGES',
      body: 'Please pin',
      comments: [
        { path: 'lib.txt', line: 2, body: 'why B?' },
        { path: 'lib.txt', position: 2, body: 'b removed' },
      ],
      ...asAlice,
    });
    expect(review.data.state).toBe('CHANGES_REQUESTED');
    const { data: comments } = await api.rest.pulls.listReviewComments({ ...repo, pull_number: 1 });
    expect(comments).toHaveLength(2);
    expect(comments[0]).toMatchObject({
      path: 'lib.txt',
      line: 2,
      side: 'RIGHT',
      position: 3,
      diff_hunk: '@@ -1,3 +1,4 @@\n a\n-b\n+B',
      commit_id: pull.head.sha,
      pull_request_review_id: review.data.id,
      user: { login: 'alice' },
      body: 'why B?',
    });
    expect(comments[1]).toMatchObject({ line: 2, side: 'LEFT', position: 2, body: 'b removed' });
    const { data: reviews } = await api.rest.pulls.listReviews({ ...repo, pull_number: 1 });
    expect(reviews.map((r) => r.state)).toEqual(['APPROVED', 'PENDING', 'CHANGES_REQUESTED']);
    const after = await api.rest.pulls.get({ ...repo, pull_number: 1 });
    expect(after.data.review_comments).toBe(2);

    for (const bad of [{ path: 'missing.txt', line: 1 }, { path: 'lib.txt', line: 40 }]) {
      await expect(
        api.rest.pulls.createReview({ ...repo, pull_number: 1, event: 'COMMENT', body: 'x', comments: [{ ...bad, body: 'x' }], ...asAlice }),
      ).rejects.toMatchObject({ status: 422 });
    }
    await expect(api.rest.pulls.listReviews({ ...repo, pull_number: 99 })).rejects.toMatchObject({ status: 404 });
  });

  it('creates check runs and lists them for a branch or SHA', async () => {
    const { data: pull } = await api.rest.pulls.get({ ...repo, pull_number: 1 });
    const queued = await api.rest.checks.create({ ...repo, name: 'ci', head_sha: pull.head.sha });
    expect(queued.status).toBe(201);
    expect(queued.data).toMatchObject({ name: 'ci', status: 'queued', conclusion: null, head_sha: pull.head.sha, app: null });
    const done = await api.rest.checks.create({ ...repo, name: 'ci', head_sha: pull.head.sha, conclusion: 'success' });
    expect(done.data).toMatchObject({ status: 'completed', conclusion: 'success', pull_requests: [{ number: 1 }] });
    expect(done.data.completed_at).toMatch(/Z$/);
    await api.rest.checks.create({ ...repo, name: 'lint', head_sha: pull.head.sha, status: 'in_progress' });

    const latest = await api.rest.checks.listForRef({ ...repo, ref: 'deps/lodash' });
    expect(latest.data.total_count).toBe(2);
    expect(latest.data.check_runs.map((r) => [r.name, r.status])).toEqual([
      ['lint', 'in_progress'],
      ['ci', 'completed'],
    ]);
    const all = await api.rest.checks.listForRef({ ...repo, ref: pull.head.sha, filter: 'all', check_name: 'ci' });
    expect(all.data.check_runs.map((r) => r.id)).toEqual([done.data.id, queued.data.id]);
    // Paginated like GitHub (`per_page`, `page`, `Link`): Octokit's paginate follows the pages.
    const firstPage = await api.rest.checks.listForRef({ ...repo, ref: pull.head.sha, filter: 'all', per_page: 1 });
    expect(firstPage.data.check_runs).toHaveLength(1);
    expect(firstPage.headers.link).toMatch(/[?&]page=2[^>]*>; rel="next"/);
    const paged = await api.paginate(api.rest.checks.listForRef, { ...repo, ref: pull.head.sha, filter: 'all', per_page: 1 });
    expect(paged.map((r) => r.name)).toEqual(['lint', 'ci', 'ci']);
    const none = await api.rest.checks.listForRef({ ...repo, ref: 'main' });
    expect(none.data).toEqual({ total_count: 0, check_runs: [] });

    await expect(api.rest.checks.create({ ...repo, name: 'ci', head_sha: 'f'.repeat(40) })).rejects.toMatchObject({ status: 422 });
    await expect(
      api.rest.checks.create({ ...repo, name: 'ci', head_sha: pull.head.sha, status: 'completed' }),
    ).rejects.toMatchObject({ status: 422 });
    await expect(api.rest.checks.listForRef({ ...repo, ref: 'no-such-branch' })).rejects.toMatchObject({ status: 422 });
  });

  it('merges a pull request with a merge commit in the bare repo', async () => {
    const { data: pull } = await api.rest.pulls.get({ ...repo, pull_number: 1 });
    const mainBefore = await bareGit(bare, 'rev-parse', 'main');
    await expect(api.rest.pulls.merge({ ...repo, pull_number: 1, sha: mainBefore })).rejects.toMatchObject({
      status: 409,
      response: { data: { message: 'Head branch was modified. Review and try the merge again.' } },
    });
    const merged = await api.rest.pulls.merge({ ...repo, pull_number: 1, sha: pull.head.sha, ...asAlice });
    expect(merged.data).toMatchObject({ merged: true, message: 'Pull Request successfully merged' });
    expect(await bareGit(bare, 'rev-parse', 'main')).toBe(merged.data.sha);
    expect((await bareGit(bare, 'log', '-1', '--format=%P', 'main')).split(' ')).toEqual([mainBefore, pull.head.sha]);
    expect(await bareGit(bare, 'log', '-1', '--format=%s|%an|%cn', 'main')).toBe(
      'Merge pull request #1 from acme/deps/lodash|alice|GitHub',
    );
    expect(await bareGit(bare, 'show', 'main:lib.txt')).toBe('a\nB\nc\nd');

    const { data } = await api.rest.pulls.get({ ...repo, pull_number: 1 });
    expect(data).toMatchObject({ state: 'closed', merged: true, merge_commit_sha: merged.data.sha, merged_by: { login: 'alice' } });
    expect(data.merged_at).toBe(data.closed_at);
    expect(server.pulls('acme', 'gadgets')[0]).toMatchObject({ mergedBy: 'alice', mergeCommitSha: merged.data.sha });
    await expect(api.rest.pulls.merge({ ...repo, pull_number: 1 })).rejects.toMatchObject({
      status: 405,
      response: { data: { message: 'Pull Request is not mergeable' } },
    });
    await expect(api.rest.pulls.update({ ...repo, pull_number: 1, state: 'open' })).rejects.toMatchObject({ status: 422 });
  });

  it('squashes and rebases, and refuses conflicting or draft pull requests', async () => {
    await commitOn(work2, 'squash-me', { 'a.txt': '1\n' }, { from: 'origin/main', message: 'one' });
    await commitOn(work2, 'squash-me', { 'b.txt': '2\n' }, { message: 'two' });
    const squash = await api.rest.pulls.create({ ...repo, title: 'Squash', head: 'squash-me', base: 'main' });
    const squashed = await api.rest.pulls.merge({ ...repo, pull_number: squash.data.number, merge_method: 'squash' });
    expect(await bareGit(bare, 'log', '-1', '--format=%P', 'main')).not.toContain(' ');
    expect(await bareGit(bare, 'log', '-1', '--format=%B', squashed.data.sha)).toBe(`Squash (#${squash.data.number})\n\n* one\n\n* two`);

    await git(work2, 'fetch', '-q', 'origin');
    await commitOn(work2, 'rebase-me', { 'c.txt': '3\n' }, { from: 'origin/main', message: 'three' });
    await commitOn(work2, 'rebase-me', { 'd.txt': '4\n' }, { message: 'four' });
    await commitOn(work2, 'conflict', { 'lib.txt': 'conflict\n' }, { from: 'origin/main', message: 'conflicting' });
    await git(work2, 'checkout', '-q', 'main');
    await git(work2, 'pull', '-q', '--ff-only', 'origin', 'main');
    await commitOn(work2, 'main', { 'lib.txt': 'moved on\n' }, { message: 'main moves' });
    const rebase = await api.rest.pulls.create({ ...repo, title: 'Rebase', head: 'rebase-me', base: 'main' });
    const rebased = await api.rest.pulls.merge({ ...repo, pull_number: rebase.data.number, merge_method: 'rebase' });
    expect(await bareGit(bare, 'log', '-3', '--format=%s|%cn', 'main')).toBe('four|GitHub\nthree|GitHub\nmain moves|Test');
    expect(rebased.data.sha).toBe(await bareGit(bare, 'rev-parse', 'main'));

    const conflict = await api.rest.pulls.create({ ...repo, title: 'Conflict', head: 'conflict', base: 'main' });
    expect(conflict.data.mergeable).toBe(false);
    const mainNow = await bareGit(bare, 'rev-parse', 'main');
    await expect(api.rest.pulls.merge({ ...repo, pull_number: conflict.data.number })).rejects.toMatchObject({
      status: 405,
      response: { data: { message: 'Pull Request is not mergeable' } },
    });
    expect(await bareGit(bare, 'rev-parse', 'main')).toBe(mainNow);
    await commitOn(work2, 'drafty', { 'e.txt': '5\n' }, { from: 'origin/main' });
    const draft = await api.rest.pulls.create({ ...repo, title: 'Draft', head: 'drafty', base: 'main', draft: true });
    await expect(api.rest.pulls.merge({ ...repo, pull_number: draft.data.number })).rejects.toMatchObject({ status: 405 });
  });
});

/** An RS256 JWT over `claims` signed with `privateKey` (PEM), as a GitHub App makes one. */
function signJwt(privateKey: string, claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const unsigned = `${part({ alg: 'RS256', typ: 'JWT' })}.${part(claims)}`;
  return `${unsigned}.${sign('RSA-SHA256', Buffer.from(unsigned), privateKey).toString('base64url')}`;
}

function rsaKeys(): { publicKey: string; privateKey: string } {
  return generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}

describe('GitHub App authentication', () => {
  const appId = 4242;
  let keys: { publicKey: string; privateKey: string };
  let appRoot: string;
  let server: GithubLocal;
  const quiet = () => undefined;
  const log = { debug: quiet, info: quiet, warn: quiet, error: quiet };

  /** Octokit authenticating as installation `installationId` of the app with `@octokit/auth-app`. */
  function appClient(installationId: number, privateKey = keys.privateKey): Octokit {
    return new Octokit({ authStrategy: createAppAuth, auth: { appId, privateKey, installationId }, baseUrl: server.url, log });
  }

  beforeAll(async () => {
    keys = rsaKeys();
    appRoot = join(root, 'remotes-app');
    await makeRepo(appRoot, 'octo', 'app-repo', join(root, 'work-app'), { 'a.txt': 'a\n' });
    await makeRepo(appRoot, 'octo', 'private', join(root, 'work-private'), { 'a.txt': 'a\n' });
    await makeRepo(appRoot, 'other', 'thing', join(root, 'work-thing'), { 'a.txt': 'a\n' });
    await makeRepo(appRoot, 'other', 'hidden', join(root, 'work-hidden'), { 'a.txt': 'a\n' });
    await commitOn(join(root, 'work-app'), 'fix', { 'a.txt': 'b\n' }, { from: 'main' });
    server = await startGithubLocal({
      reposRoot: appRoot,
      app: {
        appId,
        publicKeyPem: keys.publicKey,
        installations: [
          { id: 101, owner: 'octo' },
          { id: 202, owner: 'other', repos: ['thing'] },
        ],
      },
    });
  });

  afterAll(async () => {
    await server?.close();
  });

  it('mints installation tokens for @octokit/auth-app and accepts them on repository endpoints', async () => {
    const octo = appClient(101);
    const { data: repoData } = await octo.rest.repos.get({ owner: 'octo', repo: 'app-repo' });
    expect(repoData.full_name).toBe('octo/app-repo');
    const created = await octo.rest.pulls.create({ owner: 'octo', repo: 'app-repo', title: 'Fix', head: 'fix', base: 'main' });
    expect(created.status).toBe(201);
    expect(server.tokensIssued()).toBe(1); // auth-app caches the token

    const auth = (await octo.auth({ type: 'installation' })) as { token: string; expiresAt: string; repositorySelection: string };
    expect(auth.token).toMatch(/^ghs_[A-Za-z0-9]{36}$/);
    expect(Date.parse(auth.expiresAt) - Date.now()).toBeGreaterThan(59 * 60 * 1000);
    expect(auth.repositorySelection).toBe('all');
    // The same token works from a plain client.
    const plain = client(server.url, auth.token);
    expect((await plain.rest.pulls.list({ owner: 'octo', repo: 'app-repo' })).data).toHaveLength(1);
  });

  it('gets the installation of a repository with the app JWT', async () => {
    const octo = appClient(101);
    const { data } = await octo.rest.apps.getRepoInstallation({ owner: 'octo', repo: 'private' });
    expect(data).toMatchObject({ id: 101, app_id: appId, account: { login: 'octo' }, repository_selection: 'all' });
    const other = await octo.rest.apps.getRepoInstallation({ owner: 'other', repo: 'thing' });
    expect(other.data).toMatchObject({ id: 202, repository_selection: 'selected' });
    await expect(octo.rest.apps.getRepoInstallation({ owner: 'other', repo: 'hidden' })).rejects.toMatchObject({ status: 404 });
  });

  it('refuses plain tokens, JWTs on repository endpoints, and repositories outside the installation', async () => {
    await expect(client(server.url, 'test-token').rest.repos.get({ owner: 'octo', repo: 'app-repo' })).rejects.toMatchObject({
      status: 401,
      response: { data: { message: 'Bad credentials' } },
    });
    const jwt = signJwt(keys.privateKey, { iss: appId, iat: Math.floor(Date.now() / 1000) - 30, exp: Math.floor(Date.now() / 1000) + 500 });
    await expect(client(server.url, jwt).rest.repos.get({ owner: 'octo', repo: 'app-repo' })).rejects.toMatchObject({ status: 401 });
    const thing = appClient(202);
    await expect(thing.rest.repos.get({ owner: 'other', repo: 'thing' })).resolves.toMatchObject({ status: 200 });
    await expect(thing.rest.repos.get({ owner: 'other', repo: 'hidden' })).rejects.toMatchObject({
      status: 403,
      response: { data: { message: 'Resource not accessible by integration' } },
    });
    await expect(thing.rest.repos.get({ owner: 'octo', repo: 'app-repo' })).rejects.toMatchObject({ status: 403 });
  });

  it('narrows tokens to the requested repositories and permissions', async () => {
    const jwtClient = client(server.url, signJwt(keys.privateKey, { iss: String(appId), iat: Math.floor(Date.now() / 1000) - 30, exp: Math.floor(Date.now() / 1000) + 570 }));
    const minted = await jwtClient.rest.apps.createInstallationAccessToken({
      installation_id: 101,
      repositories: ['app-repo'],
      permissions: { pull_requests: 'read', metadata: 'read' },
    });
    expect(minted.status).toBe(201);
    expect(minted.data).toMatchObject({
      repository_selection: 'selected',
      permissions: { pull_requests: 'read', metadata: 'read' },
      repositories: [{ full_name: 'octo/app-repo' }],
    });
    const scoped = client(server.url, minted.data.token);
    await expect(scoped.rest.pulls.list({ owner: 'octo', repo: 'app-repo' })).resolves.toMatchObject({ status: 200 });
    await expect(scoped.rest.repos.get({ owner: 'octo', repo: 'private' })).rejects.toMatchObject({ status: 403 });
    await expect(
      scoped.rest.issues.createComment({ owner: 'octo', repo: 'app-repo', issue_number: 1, body: 'x' }),
    ).rejects.toMatchObject({ status: 403 });

    await expect(
      jwtClient.rest.apps.createInstallationAccessToken({ installation_id: 202, repositories: ['hidden'] }),
    ).rejects.toMatchObject({ status: 422 });
    await expect(
      jwtClient.rest.apps.createInstallationAccessToken({ installation_id: 101, permissions: { administration: 'write' } }),
    ).rejects.toMatchObject({ status: 422 });
    await expect(jwtClient.rest.apps.createInstallationAccessToken({ installation_id: 999 })).rejects.toMatchObject({ status: 404 });
  });

  it('verifies the JWT: signature, issuer, expiry and lifetime', async () => {
    const now = Math.floor(Date.now() / 1000);
    const mint = (token: string) => client(server.url, token).rest.apps.createInstallationAccessToken({ installation_id: 101 });
    const other = rsaKeys();
    await expect(mint(signJwt(other.privateKey, { iss: appId, iat: now - 30, exp: now + 500 }))).rejects.toMatchObject({
      status: 401,
      response: { data: { message: 'A JSON web token could not be decoded' } },
    });
    await expect(mint(signJwt(keys.privateKey, { iss: 1, iat: now - 30, exp: now + 500 }))).rejects.toMatchObject({ status: 404 });
    await expect(mint(signJwt(keys.privateKey, { iss: appId, iat: now - 700, exp: now - 100 }))).rejects.toMatchObject({
      status: 401,
      response: { data: { message: expect.stringContaining("'Expiration time' claim ('exp') must be a numeric value") } },
    });
    await expect(mint(signJwt(keys.privateKey, { iss: appId, iat: now - 30, exp: now + 900 }))).rejects.toMatchObject({
      status: 401,
      response: { data: { message: "'Expiration time' claim ('exp') is too far in the future" } },
    });
    await expect(mint('not-a-jwt')).rejects.toMatchObject({ status: 401 });
    await expect(appClient(101, other.privateKey).rest.repos.get({ owner: 'octo', repo: 'app-repo' })).rejects.toMatchObject({ status: 401 });
  });

  it('refuses installation tokens once expired', async () => {
    const shortRoot = join(root, 'remotes-short');
    await makeRepo(shortRoot, 'octo', 'short', join(root, 'work-short'), { 'a.txt': 'a\n' });
    const short = await startGithubLocal({
      reposRoot: shortRoot,
      // `*`: installed on every account (what tools/stack passes as `--installation 1:*`).
      app: { appId, publicKeyPem: keys.publicKey, installations: [{ id: 1, owner: '*' }], tokenTtlSeconds: 1 },
    });
    try {
      const installed = await new Octokit({
        authStrategy: createAppAuth,
        auth: { appId, privateKey: keys.privateKey },
        baseUrl: short.url,
        log,
      }).rest.apps.getRepoInstallation({ owner: 'octo', repo: 'short' });
      expect(installed.data).toMatchObject({ id: 1, account: { login: 'octo' }, repository_selection: 'all' });
      const now = Math.floor(Date.now() / 1000);
      const jwt = client(short.url, signJwt(keys.privateKey, { iss: appId, iat: now - 30, exp: now + 500 }));
      const { data } = await jwt.rest.apps.createInstallationAccessToken({ installation_id: 1, repositories: ['short'] });
      expect(data.repositories?.map((r) => r.full_name)).toEqual(['octo/short']);
      const tokenClient = client(short.url, data.token);
      await expect(tokenClient.rest.repos.get({ owner: 'octo', repo: 'short' })).resolves.toMatchObject({ status: 200 });
      await new Promise((r) => setTimeout(r, Date.parse(data.expires_at) - Date.now() + 50));
      await expect(tokenClient.rest.repos.get({ owner: 'octo', repo: 'short' })).rejects.toMatchObject({
        status: 401,
        response: { data: { message: 'Bad credentials' } },
      });
      expect(short.tokensIssued()).toBe(1);
    } finally {
      await short.close();
    }
  });

  it('answers 404 on app endpoints when no app is configured', async () => {
    await expect(octokit.rest.apps.createInstallationAccessToken({ installation_id: 1 })).rejects.toMatchObject({
      status: 404,
      response: { data: { message: 'Integration not found' } },
    });
    expect(gh.tokensIssued()).toBe(0);
  });
});

/** One request a test webhook receiver got. */
interface Received {
  headers: Record<string, string>;
  body: string;
  payload: Record<string, any>;
}

/**
 * A webhook receiver on a free port: records every request; `dropNext` closes the next n
 * connections without answering (a connection error for the sender).
 */
async function startReceiver(): Promise<{ url: string; received: Received[]; dropNext(n: number): void; close(): Promise<void> }> {
  const received: Received[] = [];
  let drop = 0;
  const server = createServer((request, response) => {
    if (drop > 0) {
      drop--;
      request.socket.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      received.push({ headers: request.headers as Record<string, string>, body, payload: JSON.parse(body) as Record<string, any> });
      response.writeHead(202).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    received,
    dropNext: (n) => {
      drop = n;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** `@octokit/webhooks-examples` for api.github.com: `[{ name, actions, examples: [payload...] }]`. */
const EXAMPLES = createRequire(import.meta.url)('@octokit/webhooks-examples') as Array<{
  name: string;
  examples: Array<Record<string, any>>;
}>;

/**
 * Expects `payload` of webhook `event`/`action` to have every key that all of GitHub's examples
 * of that event and action have, at the top level and in its `pull_request`, `review`,
 * `comment`, `issue`, `check_run`, `repository`, `sender`, `pusher` and `head_commit` objects.
 */
function expectKeysLikeExamples(event: string, action: string | undefined, payload: Record<string, any>): void {
  const examples = EXAMPLES.find((e) => e.name === event)!.examples.filter((e) => e['action'] === action);
  expect(examples.length, `examples of ${event}.${action}`).toBeGreaterThan(0);
  const common = (objects: Array<Record<string, unknown>>) =>
    objects.map((o) => Object.keys(o)).reduce((acc, keys) => acc.filter((k) => keys.includes(k)));
  const missing = (have: Record<string, unknown>, objects: Array<Record<string, unknown>>) =>
    common(objects).filter((k) => !(k in have));
  expect(missing(payload, examples), `${event}.${action} top-level keys`).toEqual([]);
  for (const part of ['pull_request', 'review', 'comment', 'issue', 'check_run', 'repository', 'sender', 'pusher', 'head_commit']) {
    const objects = examples.map((e) => e[part]).filter((o) => o !== null && typeof o === 'object');
    if (objects.length === 0) continue;
    expect(payload[part], `${event}.${action} ${part}`).toBeTypeOf('object');
    expect(missing(payload[part], objects), `${event}.${action} ${part} keys`).toEqual([]);
  }
}

describe('webhooks', () => {
  const appId = 77;
  const secret = 'hook-secret';
  let keys: { publicKey: string; privateKey: string };
  let hookRoot: string;
  let hookWork: string;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let server: GithubLocal;
  let api: Octokit;
  const repo = { owner: 'octo', repo: 'hooked' };
  const asAlice = { headers: { 'x-github-local-user': 'alice' } };

  /** Deliveries received so far for `event` (and `action`), after the queue settled. */
  async function receivedFor(event: string, action?: string): Promise<Received[]> {
    await server.webhooksSettled();
    return receiver.received.filter(
      (r) => r.headers['x-github-event'] === event && (action === undefined || r.payload['action'] === action),
    );
  }

  beforeAll(async () => {
    keys = rsaKeys();
    hookRoot = join(root, 'remotes-hooks');
    hookWork = join(root, 'work-hooks');
    await makeRepo(hookRoot, 'octo', 'hooked', hookWork, { 'lib.txt': 'a\nb\nc\n' });
    await commitOn(hookWork, 'fix', { 'lib.txt': 'a\nB\nc\n' }, { from: 'main', message: 'fix b' });
    receiver = await startReceiver();
    server = await startGithubLocal({
      reposRoot: hookRoot,
      actor: 'remediation-bot',
      app: { appId, publicKeyPem: keys.publicKey, installations: [{ id: 9, owner: 'octo' }] },
      webhook: { url: receiver.url, secret },
    });
    const quiet = () => undefined;
    api = new Octokit({
      authStrategy: createAppAuth,
      auth: { appId, privateKey: keys.privateKey, installationId: 9 },
      baseUrl: server.url,
      log: { debug: quiet, info: quiet, warn: quiet, error: quiet },
    });
  });

  afterAll(async () => {
    await server?.close();
    await receiver?.close();
  });

  it('sends pull_request opened, signed like GitHub, with a payload shaped like GitHub\'s', async () => {
    const { data: pull } = await api.rest.pulls.create({ ...repo, title: 'Fix b', head: 'fix', base: 'main' });
    const [opened] = await receivedFor('pull_request', 'opened');
    expect(opened).toBeDefined();
    const { headers, body, payload } = opened!;
    expect(headers).toMatchObject({
      'content-type': 'application/json',
      'x-github-event': 'pull_request',
      'x-github-hook-installation-target-type': 'integration',
      'x-github-hook-installation-target-id': String(appId),
    });
    expect(headers['user-agent']).toMatch(/^GitHub-Hookshot\//);
    expect(headers['x-github-delivery']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(headers['x-hub-signature-256']).toBe(`sha256=${createHmac('sha256', secret).update(body).digest('hex')}`);
    const verifier = new Webhooks({ secret });
    expect(await verifier.verify(body, headers['x-hub-signature-256']!)).toBe(true);
    expect(payload).toMatchObject({
      action: 'opened',
      number: pull.number,
      pull_request: { number: pull.number, state: 'open', merged: false, head: { sha: pull.head.sha } },
      repository: { full_name: 'octo/hooked' },
      sender: { login: 'remediation-bot' },
      installation: { id: 9 },
    });
    expectKeysLikeExamples('pull_request', 'opened', payload);

    // @octokit/webhooks accepts the delivery end to end.
    const seen: string[] = [];
    verifier.on('pull_request.opened', ({ id, payload: p }) => {
      seen.push(`${id}:${p.pull_request.number}`);
    });
    await verifier.verifyAndReceive({
      id: headers['x-github-delivery']!,
      name: 'pull_request',
      payload: body,
      signature: headers['x-hub-signature-256']!,
    });
    expect(seen).toEqual([`${headers['x-github-delivery']}:${pull.number}`]);
  });

  it('sends push on notifyPush and pull_request synchronize when the head moved', async () => {
    const before = await git(hookWork, 'rev-parse', 'origin/fix');
    const after = await commitOn(hookWork, 'fix', { 'new.txt': 'n\n' }, { message: 'add new' });
    await server.notifyPush('octo', 'hooked', 'fix', { pusher: 'alice' });
    const [push] = await receivedFor('push');
    expect(push!.payload).toMatchObject({
      ref: 'refs/heads/fix',
      before,
      after,
      created: false,
      deleted: false,
      forced: false,
      pusher: { name: 'alice' },
      sender: { login: 'alice' },
      commits: [{ id: after, message: 'add new', added: ['new.txt'], removed: [], modified: [] }],
      head_commit: { id: after },
    });
    expectKeysLikeExamples('push', undefined, push!.payload);
    const [sync] = await receivedFor('pull_request', 'synchronize');
    expect(sync!.payload).toMatchObject({ before, after, pull_request: { head: { sha: after } } });
    expectKeysLikeExamples('pull_request', 'synchronize', sync!.payload);

    // Nothing moved: nothing sent. A new branch: created, from the zero SHA.
    const count = receiver.received.length;
    await server.notifyPush('octo', 'hooked', 'fix');
    await server.webhooksSettled();
    expect(receiver.received).toHaveLength(count);
    const fresh = await commitOn(hookWork, 'feature', { 'f.txt': 'f\n' }, { from: 'origin/main', message: 'feature' });
    await server.notifyPush('octo', 'hooked', 'feature');
    const created = (await receivedFor('push')).at(-1)!;
    expect(created.payload).toMatchObject({ created: true, before: '0'.repeat(40), after: fresh, commits: [{ id: fresh }] });
    await expect(server.notifyPush('octo', 'nope', 'main')).rejects.toThrow(/not a repository/);
  });

  it('sends pull_request_review submitted and pull_request_review_comment created', async () => {
    await api.rest.pulls.createReview({
      ...repo,
      pull_number: 1,
      event: 'COMMENT',
      body: 'a few notes',
      comments: [{ path: 'lib.txt', line: 2, body: 'why B?' }],
      ...asAlice,
    });
    const [review] = await receivedFor('pull_request_review', 'submitted');
    expect(review!.payload).toMatchObject({
      review: { state: 'commented', body: 'a few notes', user: { login: 'alice' } },
      pull_request: { number: 1 },
      sender: { login: 'alice' },
    });
    expectKeysLikeExamples('pull_request_review', 'submitted', review!.payload);
    const [comment] = await receivedFor('pull_request_review_comment', 'created');
    expect(comment!.payload).toMatchObject({
      comment: { path: 'lib.txt', line: 2, body: 'why B?', pull_request_review_id: review!.payload['review'].id },
    });
    expectKeysLikeExamples('pull_request_review_comment', 'created', comment!.payload);
  });

  it('sends issue_comment created with issue.pull_request set', async () => {
    await api.rest.issues.createComment({ ...repo, issue_number: 1, body: '/rebase', ...asAlice });
    const [created] = await receivedFor('issue_comment', 'created');
    expect(created!.payload).toMatchObject({
      issue: { number: 1, pull_request: { url: `${server.url}/repos/octo/hooked/pulls/1`, merged_at: null } },
      comment: { body: '/rebase', user: { login: 'alice' } },
    });
    expectKeysLikeExamples('issue_comment', 'created', created!.payload);
  });

  it('sends check_run created and completed', async () => {
    const { data: pull } = await api.rest.pulls.get({ ...repo, pull_number: 1 });
    const { data: run } = await api.rest.checks.create({ ...repo, name: 'ci', head_sha: pull.head.sha, conclusion: 'failure' });
    expect(run.app).toMatchObject({ id: appId, slug: 'github-local' });
    const [created] = await receivedFor('check_run', 'created');
    const [completed] = await receivedFor('check_run', 'completed');
    expect(completed!.payload).toMatchObject({
      check_run: { id: run.id, conclusion: 'failure', pull_requests: [{ number: 1 }], check_suite: { head_branch: 'fix' } },
    });
    expectKeysLikeExamples('check_run', 'created', created!.payload);
    expectKeysLikeExamples('check_run', 'completed', completed!.payload);
  });

  it('sends pull_request closed with merged true on merge (and push of the base), false on close', async () => {
    const mainBefore = await git(hookWork, 'rev-parse', 'origin/main');
    const { data: merged } = await api.rest.pulls.merge({ ...repo, pull_number: 1 });
    const [closed] = await receivedFor('pull_request', 'closed');
    expect(closed!.payload).toMatchObject({
      pull_request: { merged: true, state: 'closed', merge_commit_sha: merged.sha, merged_by: { login: 'remediation-bot' } },
    });
    expectKeysLikeExamples('pull_request', 'closed', closed!.payload);
    const basePush = (await receivedFor('push')).at(-1)!;
    expect(basePush.payload).toMatchObject({ ref: 'refs/heads/main', before: mainBefore, after: merged.sha, head_commit: { id: merged.sha } });

    await api.rest.pulls.create({ ...repo, title: 'Feature', head: 'feature', base: 'main' });
    await api.rest.pulls.update({ ...repo, pull_number: 2, state: 'closed', title: 'Feature (dropped)' });
    const [edited] = await receivedFor('pull_request', 'edited');
    expect(edited!.payload['changes']).toEqual({ title: { from: 'Feature' } });
    const unmerged = (await receivedFor('pull_request', 'closed')).at(-1)!;
    expect(unmerged.payload).toMatchObject({ number: 2, pull_request: { merged: false, merged_at: null, state: 'closed' } });
  });

  it('redelivers with the same delivery id and body, and records every delivery', async () => {
    const [opened] = await receivedFor('pull_request', 'opened');
    const id = opened!.headers['x-github-delivery']!;
    server.redeliver(id);
    const again = (await receivedFor('pull_request', 'opened')).filter((r) => r.headers['x-github-delivery'] === id);
    expect(again).toHaveLength(2);
    expect(again[1]!.body).toBe(again[0]!.body);
    expect(again[1]!.headers['x-hub-signature-256']).toBe(again[0]!.headers['x-hub-signature-256']);
    expect(() => server.redeliver('no-such-id')).toThrow(/no webhook delivery/);

    const deliveries = server.deliveries();
    expect(deliveries.filter((d) => d.id === id).map((d) => d.redelivery)).toEqual([false, true]);
    expect(deliveries.every((d) => d.status === 202)).toBe(true);
    expect(deliveries.map((d) => `${d.event}.${d.action ?? ''}`)).toEqual(
      receiver.received.map((r) => `${r.headers['x-github-event']}.${(r.payload['action'] as string | undefined) ?? ''}`),
    );
  });

  it('retries on connection errors and never fails requests when the receiver is down', async () => {
    receiver.dropNext(1);
    await api.rest.issues.createComment({ ...repo, issue_number: 2, body: 'retry me' });
    await server.webhooksSettled();
    expect(server.deliveries().at(-1)).toMatchObject({ event: 'issue_comment', status: 202, attempts: 2 });

    const downRoot = join(root, 'remotes-down');
    await makeRepo(downRoot, 'octo', 'down', join(root, 'work-down'), { 'a.txt': 'a\n' });
    await commitOn(join(root, 'work-down'), 'x', { 'a.txt': 'b\n' }, { from: 'main' });
    const closedPort = await startReceiver();
    await closedPort.close();
    const down = await startGithubLocal({ reposRoot: downRoot, webhook: { url: closedPort.url, secret } });
    try {
      const plain = client(down.url);
      await expect(plain.rest.pulls.create({ owner: 'octo', repo: 'down', title: 't', head: 'x', base: 'main' })).resolves.toMatchObject({
        status: 201,
      });
      await down.webhooksSettled();
      expect(down.deliveries()).toEqual([
        expect.objectContaining({ event: 'pull_request', action: 'opened', status: 'failed', attempts: 3 }),
      ]);
      expect((await plain.rest.pulls.get({ owner: 'octo', repo: 'down', pull_number: 1 })).status).toBe(200);
    } finally {
      await down.close();
    }
  });
});
