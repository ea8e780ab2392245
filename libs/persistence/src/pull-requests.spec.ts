import { dropDatabase, freshDatabaseUrl } from '@remediation/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Database,
  ExecutionEntity,
  PatchVersionEntity,
  PullRequestEntity,
  claimReviewFeedbackTriage,
  ensureDatabaseExists,
  findPullRequestByNumber,
  isPatchVersionCommit,
  isWebhookDeliveryHandled,
  listOpenPullRequests,
  listPullRequestsAtHead,
  listUntriagedReviewFeedback,
  listWaitingReviewFeedback,
  loadPullRequestWithExecution,
  migrate,
  openDatabase,
  recordPullRequestClosed,
  recordPullRequestError,
  recordPullRequestOpened,
  recordRebaseStopped,
  recordReviewFeedback,
  recordReviewFeedbackTriage,
  recordWebhookDelivery,
} from './index.js';
import { createExecutionInTx } from './transitions.js';

/** The pull-request surface of the database (pull-requests.ts) against PostgreSQL. */
const databaseUrl = freshDatabaseUrl('pull_requests');
let db: Database;

beforeAll(async () => {
  await ensureDatabaseExists(databaseUrl);
  db = await openDatabase(databaseUrl, { poolMax: 2 });
  await migrate(db);
  await db.em().transactional(async (tx) => {
    await tx.execute("insert into remediations (id, tenant_id, codebase, scan, execution_seq, created_at) values ('rem_1', 'default', '{}', '{}', 1, now())");
    await createExecutionInTx(tx, { id: 'rem_1.patch.1', remediationId: 'rem_1', tenant: 'default', kind: 'patch', tier: 'minimal' }, 'spec');
    await tx.insert(PatchVersionEntity, {
      executionId: 'rem_1.patch.1',
      version: 1,
      ref: 'refs/remediation/rem_1/1',
      sha: 'a'.repeat(40),
      baseCommit: 'b'.repeat(40),
      changedPaths: ['package.json'],
      createdAt: new Date(),
      proof: [],
      proofPassed: true,
      iteration: null,
      agent: null,
    });
    await tx.insert(PullRequestEntity, {
      id: 'pr_1',
      executionId: 'rem_1.patch.1',
      patchVersion: 1,
      provider: 'github',
      repository: 'acme/shop',
      number: null,
      url: null,
      state: 'opening',
      draft: false,
      headBranch: 'fix',
      baseBranch: 'main',
      headSha: null,
      createdAt: new Date(),
      updatedAt: new Date(),
      checks: [],
      rebaseStopped: null,
      rebaseHead: null,
      lastError: null,
    });
  });
}, 60_000);

afterAll(async () => {
  await db?.close();
  await dropDatabase(databaseUrl);
});

describe('pull-request persistence', () => {
  it('finds a pull request once opened: by number, as open onto its base, and by head', async () => {
    expect(await listOpenPullRequests(db)).toEqual([]);
    await db.em().transactional((tx) => recordPullRequestOpened(tx, 'pr_1', { number: 7, url: 'https://x/pull/7', headSha: 'a'.repeat(40) }));
    expect(await findPullRequestByNumber(db, 'acme/shop', 7)).toMatchObject({ id: 'pr_1', state: 'open', url: 'https://x/pull/7' });
    expect((await listOpenPullRequests(db, { repository: 'acme/shop', baseBranch: 'main' })).map((p) => p.id)).toEqual(['pr_1']);
    expect(await listOpenPullRequests(db, { repository: 'acme/shop', baseBranch: 'develop' })).toEqual([]);
    expect((await listPullRequestsAtHead(db, 'acme/shop', 'a'.repeat(40))).map((p) => p.id)).toEqual(['pr_1']);
    expect(await isPatchVersionCommit(db, 'rem_1.patch.1', 'a'.repeat(40))).toBe(true);
    expect(await isPatchVersionCommit(db, 'rem_1.patch.1', 'c'.repeat(40))).toBe(false);
    await recordPullRequestError(db, 'pr_1', { code: 'REBASE_FAILED', message: 'conflict' }, true);
    expect((await listOpenPullRequests(db)).map((p) => [p.state, p.lastError])).toEqual([['rebase_failed', { code: 'REBASE_FAILED', message: 'conflict' }]]);
  });

  it('loads a pull request with its execution, version and targets, and names what is missing', async () => {
    const loaded = await loadPullRequestWithExecution(db, 'pr_1');
    expect(loaded).toMatchObject({ pullRequest: { id: 'pr_1' }, execution: { id: 'rem_1.patch.1', tier: 'minimal' }, version: { version: 1 }, targets: [], delivered: null });
    await expect(loadPullRequestWithExecution(db, 'pr_none')).rejects.toMatchObject({ code: 'NOT_FOUND', message: 'pull request pr_none not found' });
  });

  it('stores an item of feedback once, and lets one claim its triage; an old claim is taken over', async () => {
    const pr = { id: 'pr_1', executionId: 'rem_1.patch.1' };
    const item = { kind: 'review' as const, providerId: 70_001, author: 'alice', body: 'Please pin it.', state: 'CHANGES_REQUESTED' };
    const id = await recordReviewFeedback(db, pr, item);
    expect(id).toEqual(expect.any(Number));
    expect(await recordReviewFeedback(db, pr, item)).toBeNull();
    expect(await recordReviewFeedback(db, pr, { ...item, kind: 'issue_comment' })).toEqual(expect.any(Number)); // unique per kind

    expect(await claimReviewFeedbackTriage(db, id!)).toBe(true);
    expect(await claimReviewFeedbackTriage(db, id!)).toBe(false);
    expect(await claimReviewFeedbackTriage(db, id!, 60_000)).toBe(false); // claimed just now
    expect((await listUntriagedReviewFeedback(db, 60_000)).map((r) => r.id)).toEqual([]);
    await new Promise((r) => setTimeout(r, 20));
    expect((await listUntriagedReviewFeedback(db, 10)).map((r) => r.id)).toContain(id);
    expect(await claimReviewFeedbackTriage(db, id!, 10)).toBe(true);

    await db.em().transactional((tx) => recordReviewFeedbackTriage(tx, id!, { actionable: true, reasoning: 'asks for a change', triagedBy: 'model' }));
    expect(await claimReviewFeedbackTriage(db, id!, 0)).toBe(false); // triaged
    expect((await listWaitingReviewFeedback(db)).map((r) => [r.id, r.actionable, r.triagedBy])).toEqual([[id, true, 'model']]);
  });

  it('records a stopped rebase with its history entry, and a merged pull request', async () => {
    await recordRebaseStopped(db, { id: 'pr_1', executionId: 'rem_1.patch.1' }, 'bob pushed 1 commit(s)', 'spec');
    const history = await db.em().getConnection().execute<Array<{ event: string }>>("select event from history where event = 'pull_request.rebase_stopped'");
    expect(history).toHaveLength(1);
    await recordPullRequestClosed(db, 'pr_1', true);
    const pr = await findPullRequestByNumber(db, 'acme/shop', 7);
    expect(pr).toMatchObject({ state: 'merged', rebaseStopped: 'bob pushed 1 commit(s)' });
    expect(await listOpenPullRequests(db)).toEqual([]);
    expect((await db.em().findOneOrFail(ExecutionEntity, { id: 'rem_1.patch.1' })).state).toBe('patch_running'); // no transition here
  });

  it('records a webhook delivery once', async () => {
    expect(await isWebhookDeliveryHandled(db, 'd-1')).toBe(false);
    await recordWebhookDelivery(db, { deliveryId: 'd-1', event: 'push', action: null });
    await recordWebhookDelivery(db, { deliveryId: 'd-1', event: 'push', action: null });
    expect(await isWebhookDeliveryHandled(db, 'd-1')).toBe(true);
  });
});
