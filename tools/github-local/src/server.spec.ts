import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Octokit } from '@octokit/rest';
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
