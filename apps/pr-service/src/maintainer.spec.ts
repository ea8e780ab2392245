import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Octokit } from '@octokit/rest';
import { createGithubClient } from '@remediation/github';
import { type GithubLocal, USER_HEADER, startGithubLocal } from '@remediation/github-local';
import {
  type Database,
  PatchVersionEntity,
  PullRequestEntity,
  createPatchExecution,
  createRemediation,
  ensureDatabaseExists,
  loadExecution,
  loadPullRequest,
  migrate,
  openDatabase,
} from '@remediation/persistence';
import { createLogger } from '@remediation/service-runtime';
import { dropDatabase, freshDatabaseUrl } from '@remediation/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGithubProvider } from './adapters/github.js';
import { PullRequestMaintainer } from './maintainer.js';

/**
 * The polling path of the maintainer (webhooks: test/pull-requests/maintenance.test.ts): a pass
 * over an open pull request on github-local through the GitHub provider, against PostgreSQL,
 * without a model (triage by the rules only).
 */
const databaseUrl = freshDatabaseUrl('pr_poll');
const BOT = { GIT_AUTHOR_NAME: 'Remediation', GIT_AUTHOR_EMAIL: 'bot@example.com', GIT_COMMITTER_NAME: 'Remediation', GIT_COMMITTER_EMAIL: 'bot@example.com' };
const CAROL = { GIT_AUTHOR_NAME: 'Carol', GIT_AUTHOR_EMAIL: 'carol@example.com', GIT_COMMITTER_NAME: 'Carol', GIT_COMMITTER_EMAIL: 'carol@example.com' };
let EXECUTION: string;
const at = { owner: 'acme', repo: 'shop' };
const asAlice = { headers: { [USER_HEADER]: 'alice' } };

let root: string;
let work: string;
let server: GithubLocal;
let db: Database;
let octokit: Octokit;
let maintainer: PullRequestMaintainer;
let number: number;

const git = (env: Record<string, string>, ...args: string[]) => execFileSync('git', args, { cwd: work, env: { ...process.env, ...env }, encoding: 'utf8' }).trim();
/** Commits `file` on `branch` as `env`'s author and pushes it; returns the commit. */
function commit(env: Record<string, string>, branch: string, file: string): string {
  git(env, 'checkout', '-q', branch);
  writeFileSync(join(work, file), `${file}\n`);
  git(env, 'add', '.');
  git(env, 'commit', '-q', '-m', `add ${file}`);
  git(env, 'push', '-q', 'origin', branch);
  return git(env, 'rev-parse', 'HEAD');
}
const sql = async <T>(query: string, params: unknown[] = []) => db.em().getConnection().execute<T[]>(query, params);
const reviewRows = () => sql<{ kind: string; actionable: boolean | null; triaged_by: string | null }>('select kind, actionable, triaged_by from review_feedback order by id');

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'pr-maintainer-'));
  work = join(root, 'work');
  const bare = join(root, 'remotes', 'acme', 'shop.git');
  mkdirSync(join(root, 'remotes', 'acme'), { recursive: true });
  execFileSync('git', ['init', '-q', '--bare', '-b', 'main', bare]);
  execFileSync('git', ['clone', '-q', bare, work], { stdio: 'ignore' });
  git(BOT, 'checkout', '-q', '-b', 'main');
  writeFileSync(join(work, 'README.md'), 'shop\n');
  git(BOT, 'add', '.');
  git(BOT, 'commit', '-q', '-m', 'init');
  git(BOT, 'push', '-q', 'origin', 'main');
  const base = git(BOT, 'rev-parse', 'HEAD');
  git(BOT, 'checkout', '-q', '-b', 'fix');
  const head = commit(BOT, 'fix', 'package.json');

  server = await startGithubLocal({ reposRoot: join(root, 'remotes') });
  const quiet = () => undefined;
  octokit = new Octokit({ auth: 'ghp_test', baseUrl: server.url, log: { debug: quiet, info: quiet, warn: console.warn, error: quiet } });
  const provider = createGithubProvider(createGithubClient({ apiUrl: server.url, auth: { kind: 'token', token: 'ghp_test' } }));
  const opened = await (await provider.connect('acme/shop')).open({ title: 'Upgrade', body: 'b', headBranch: 'fix', baseBranch: 'main', draft: false });
  number = opened.number;

  await ensureDatabaseExists(databaseUrl);
  db = await openDatabase(databaseUrl, { poolMax: 2 });
  await migrate(db);
  await createRemediation(db, { id: 'rem_1', codebase: { repository: bare, baseBranch: 'main' }, scan: {}, idempotencyKey: null, worker: 'spec' });
  EXECUTION = await createPatchExecution(
    db,
    { remediationId: 'rem_1', tier: 'minimal', selectedTargets: null, branchName: 'fix', asDraft: false, idempotencyKey: null, allowEdits: [], targets: [] },
    'spec',
  );
  await db.em().transactional(async (tx) => {
    const now = new Date();
    await tx.insert(PatchVersionEntity, { executionId: EXECUTION, version: 1, ref: 'refs/remediation/1', sha: head, baseCommit: base, changedPaths: ['package.json'], createdAt: now, proof: [], proofPassed: true, iteration: null, agent: null });
    await tx.insert(PullRequestEntity, {
      id: 'pr_1',
      executionId: EXECUTION,
      patchVersion: 1,
      provider: 'github',
      repository: 'acme/shop',
      number,
      url: opened.url,
      state: 'open',
      draft: false,
      headBranch: 'fix',
      baseBranch: 'main',
      headSha: head,
      createdAt: now,
      updatedAt: now,
      checks: [],
      rebaseStopped: null,
      rebaseHead: null,
      lastError: null,
    });
    // The execution's earlier steps (workspace, patch, push, open) are not this spec's: it starts on the open PR.
    await tx.execute("update executions set state = 'pr_opened', step = null, base_commit = ?, pull_request_id = 'pr_1' where id = ?", [base, EXECUTION]);
  });
  maintainer = new PullRequestMaintainer({
    db,
    provider,
    agent: { agent: null, policy: { neverShipLeavingCritical: true } },
    worker: 'spec',
    logger: createLogger('pr-service-spec', 'silent'),
    botLogins: ['github-local'],
    commitAuthorEmail: 'bot@example.com',
    feedFailingChecks: true,
  });
}, 120_000);

afterAll(async () => {
  await server?.close();
  await db?.close();
  await dropDatabase(databaseUrl);
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('a polling pass over an open pull request', () => {
  it('stores every comment (past the first page of 100), review and failing check once, triaged, and shows the head\'s checks', async () => {
    for (let i = 1; i <= 105; i++) await octokit.rest.issues.createComment({ ...at, issue_number: number, body: `question ${i}?`, ...asAlice });
    await octokit.rest.issues.createComment({ ...at, issue_number: number, body: 'said by this service' }); // as github-local, a bot login
    await octokit.rest.pulls.createReview({ ...at, pull_number: number, event: 'APPROVE', body: 'LGTM', ...asAlice });
    const pr = await loadPullRequest(db, 'pr_1');
    await octokit.rest.checks.create({ ...at, name: 'unit', head_sha: pr!.headSha!, conclusion: 'failure', output: { title: '2 failing', summary: 'test/a.js' } });

    await maintainer.pollOnce();
    const rows = await reviewRows();
    expect(rows.filter((r) => r.kind === 'issue_comment')).toHaveLength(105);
    expect(rows.filter((r) => r.kind !== 'issue_comment').map((r) => r.kind).sort()).toEqual(['check_run', 'review']);
    // Without a model the rules decide: nothing here asks for a change.
    expect(rows.every((r) => r.actionable === false && r.triaged_by === 'policy')).toBe(true);
    expect((await loadPullRequest(db, 'pr_1'))!.checks).toEqual([expect.objectContaining({ name: 'unit', status: 'completed', conclusion: 'failure', headSha: pr!.headSha })]);

    await maintainer.pollOnce();
    expect(await reviewRows()).toHaveLength(107);
    expect((await loadExecution(db, EXECUTION)).state).toBe('pr_opened');
  }, 120_000);

  it('asks for a rebase when the base moved under our own head', async () => {
    const moved = commit(BOT, 'main', 'CHANGELOG.md');
    await maintainer.pollOnce();
    expect((await loadExecution(db, EXECUTION)).state).toBe('pr_updating');
    expect(await loadPullRequest(db, 'pr_1')).toMatchObject({ rebaseHead: moved, rebaseStopped: null });
    // The rebase itself is git-gateway's; the execution is back on its open PR for the next case.
    await sql("update executions set state = 'pr_opened', step = null where id = ?", [EXECUTION]);
  });

  it('stops rebasing when a person pushed to the PR branch, and says so on the PR', async () => {
    const theirs = commit(CAROL, 'fix', 'CONTRIBUTING.md');
    commit(BOT, 'main', 'LICENSE');
    await maintainer.pollOnce();
    const pr = await loadPullRequest(db, 'pr_1');
    expect(pr!.rebaseStopped).toBe(`Carol pushed 1 commit(s) to fix (${theirs.slice(0, 7)})`);
    expect((await loadExecution(db, EXECUTION)).state).toBe('pr_opened');
    const comments = await octokit.paginate(octokit.rest.issues.listComments, { ...at, issue_number: number, per_page: 100 });
    expect(comments.filter((c) => c.body?.includes('I will no longer rebase this pull request'))).toHaveLength(1);
    await maintainer.pollOnce(); // said once
    expect((await octokit.paginate(octokit.rest.issues.listComments, { ...at, issue_number: number, per_page: 100 })).length).toBe(comments.length);
  });

  it('ends the execution when the pull request was merged', async () => {
    await octokit.rest.pulls.merge({ ...at, pull_number: number });
    await maintainer.pollOnce();
    expect((await loadPullRequest(db, 'pr_1'))!.state).toBe('merged');
    expect((await loadExecution(db, EXECUTION)).state).toBe('pr_merged');
  });
});
