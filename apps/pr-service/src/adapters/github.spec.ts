import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Octokit } from '@octokit/rest';
import { createGithubClient } from '@remediation/github';
import { type GithubLocal, USER_HEADER, startGithubLocal } from '@remediation/github-local';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProviderRepository, PullRequestProvider } from '../provider.js';
import { createGithubProvider } from './github.js';

/**
 * The GitHub adapter of the pull-request provider against github-local (GitHub's REST API,
 * validated against its OpenAPI description, paginated like GitHub: at most 100 per page, `Link`
 * headers): every list is read to its end, opening is idempotent, comments are said once.
 */
const GIT_ENV = { ...process.env, GIT_AUTHOR_NAME: 'Bot', GIT_AUTHOR_EMAIL: 'bot@example.com', GIT_COMMITTER_NAME: 'Bot', GIT_COMMITTER_EMAIL: 'bot@example.com' };
/** More than one page of 100. */
const MANY = 105;
const LINES = Array.from({ length: MANY }, (_, i) => `line ${i + 1}`).join('\n') + '\n';

let root: string;
let server: GithubLocal;
let provider: PullRequestProvider;
let octokit: Octokit;
let repository: ProviderRepository;
let number: number;
let headSha: string;

const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, env: GIT_ENV, encoding: 'utf8' }).trim();
const asAlice = { headers: { [USER_HEADER]: 'alice' } };
const at = { owner: 'acme', repo: 'shop' };

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'pr-provider-github-'));
  const bare = join(root, 'remotes', 'acme', 'shop.git');
  const work = join(root, 'work');
  mkdirSync(join(root, 'remotes', 'acme'), { recursive: true });
  git(root, 'init', '-q', '--bare', '-b', 'main', bare);
  git(root, 'clone', '-q', bare, work);
  git(work, 'checkout', '-q', '-b', 'main');
  writeFileSync(join(work, 'README.md'), 'shop\n');
  git(work, 'add', '.');
  git(work, 'commit', '-q', '-m', 'init');
  git(work, 'push', '-q', 'origin', 'main');
  // The PR branch: one file of MANY lines (a review comment on each), then MANY - 1 more commits.
  git(work, 'checkout', '-q', '-b', 'fix');
  writeFileSync(join(work, 'lines.txt'), LINES);
  git(work, 'add', '.');
  git(work, 'commit', '-q', '-m', 'lines');
  for (let i = 2; i <= MANY; i++) git(work, 'commit', '-q', '--allow-empty', '-m', `commit ${i}`);
  git(work, 'push', '-q', 'origin', 'fix');
  headSha = git(work, 'rev-parse', 'HEAD');

  server = await startGithubLocal({ reposRoot: join(root, 'remotes') });
  provider = createGithubProvider(createGithubClient({ apiUrl: server.url, auth: { kind: 'token', token: 'ghp_test' } }));
  const quiet = () => undefined;
  octokit = new Octokit({ auth: 'ghp_test', baseUrl: server.url, log: { debug: quiet, info: quiet, warn: console.warn, error: quiet } });
  repository = await provider.connect('acme/shop');
  ({ number } = await repository.open({ title: 'Upgrade', body: 'body', headBranch: 'fix', baseBranch: 'main', draft: false }));
}, 120_000);

afterAll(async () => {
  await server?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('the GitHub pull-request provider', () => {
  it('opens a pull request once: opening it again returns the open one', async () => {
    const again = await repository.open({ title: 'Upgrade', body: 'body', headBranch: 'fix', baseBranch: 'main', draft: false });
    expect(again).toEqual({ number, url: expect.stringContaining(`/pull/${number}`), state: 'open', headSha });
    expect(await repository.get(number)).toEqual(again);
    expect(await repository.branchHead('fix')).toBe(headSha);
    await expect(repository.open({ title: 'x', body: 'x', headBranch: 'no-such-branch', baseBranch: 'main', draft: false })).rejects.toMatchObject({
      code: 'PULL_REQUEST_REJECTED',
    });
  });

  it(`reads every review, review comment, comment, commit and check run, past the first page of 100 (${MANY} each)`, async () => {
    for (let i = 1; i <= MANY; i++) {
      await octokit.rest.pulls.createReview({ ...at, pull_number: number, event: 'COMMENT', body: `review ${i}`, ...asAlice });
      await octokit.rest.issues.createComment({ ...at, issue_number: number, body: `comment ${i}`, ...asAlice });
      await octokit.rest.checks.create({ ...at, name: `check ${i}`, head_sha: headSha, conclusion: i === 1 ? 'failure' : 'success', output: { title: `t${i}`, summary: `s${i}` } });
    }
    const inline = Array.from({ length: MANY }, (_, i) => ({ path: 'lines.txt', line: i + 1, body: `on line ${i + 1}` }));
    await octokit.rest.pulls.createReview({ ...at, pull_number: number, event: 'COMMENT', body: 'inline', comments: inline, ...asAlice });

    const reviews = await repository.listReviews(number);
    expect(reviews).toHaveLength(MANY + 1);
    expect(reviews[0]).toEqual({ kind: 'review', providerId: expect.any(Number), author: 'alice', body: 'review 1', state: 'COMMENTED' });
    expect(new Set(reviews.map((r) => r.providerId)).size).toBe(MANY + 1);

    const reviewComments = await repository.listReviewComments(number);
    expect(reviewComments).toHaveLength(MANY);
    expect(reviewComments.map((c) => c.line).sort((a, b) => Number(a) - Number(b))).toEqual(inline.map((c) => c.line));
    expect(reviewComments[0]).toMatchObject({ kind: 'review_comment', author: 'alice', path: 'lines.txt' });

    const comments = await repository.listComments(number);
    expect(comments.map((c) => c.body)).toEqual(Array.from({ length: MANY }, (_, i) => `comment ${i + 1}`));
    expect(comments[0]).toMatchObject({ kind: 'issue_comment', author: 'alice' });

    const commits = await repository.listCommits(number);
    expect(commits).toHaveLength(MANY);
    expect(commits.at(-1)).toEqual({ sha: headSha, author: { name: 'Bot', email: 'bot@example.com' }, committer: { email: 'bot@example.com' } });

    const runs = await repository.listCheckRuns(headSha);
    expect(runs).toHaveLength(MANY);
    expect(runs.find((r) => r.name === 'check 1')).toMatchObject({ status: 'completed', conclusion: 'failure', headSha, title: 't1', summary: 's1' });
  }, 120_000);

  it('comments once per key, and updates the body', async () => {
    const url = await repository.comment(number, 'note:1', 'Updating failed.');
    expect(await repository.comment(number, 'note:1', 'Updating failed.')).toBe(url);
    const said = (await repository.listComments(number)).filter((c) => c.body.startsWith('Updating failed.'));
    expect(said).toHaveLength(1);
    expect(said[0]!.body).toContain('<!-- remediation-service:note:1 -->');
    await repository.update(number, { body: 'new body' });
    expect((await octokit.rest.pulls.get({ ...at, pull_number: number })).data.body).toBe('new body');
    expect(provider.commitUrl('https://github.com/acme/shop/pull/1', 'abc')).toBe('https://github.com/acme/shop/pull/1/commits/abc');
  });

  it('shows a merged pull request as merged', async () => {
    await octokit.rest.pulls.merge({ ...at, pull_number: number });
    expect(await repository.get(number)).toMatchObject({ number, state: 'merged' });
  });

  it('classifies a GitHub 404 as permanent (GITHUB_REQUEST_REJECTED, not retryable), not a retry', async () => {
    await expect(repository.get(987654)).rejects.toMatchObject({ code: 'GITHUB_REQUEST_REJECTED', retryable: false, details: { status: 404 } });
    await expect(repository.branchHead('no-such-branch')).rejects.toMatchObject({ retryable: false });
  });

  it('refuses a repository name that is not owner/name', async () => {
    await expect(provider.connect('shop')).rejects.toMatchObject({ code: 'REPOSITORY_INVALID' });
  });
});
