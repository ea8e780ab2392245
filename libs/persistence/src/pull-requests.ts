import type { EntityManager } from '@mikro-orm/postgresql';
import type { PullRequestCheck, PullRequestState } from '@remediation/contracts';
import { NotFoundError } from '@remediation/errors';
import type { Database } from './database.js';
import {
  type ExecutionRow,
  type ExecutionTargetRow,
  type PatchVersionRow,
  type PullRequestRow,
  type ReviewFeedbackRow,
  ExecutionEntity,
  ExecutionTargetEntity,
  PatchVersionEntity,
  PullRequestEntity,
  ReviewFeedbackEntity,
} from './entities.js';
import { loadVersionIteration } from './iterations.js';
import { recordHistory } from './transitions.js';

/**
 * The pull-request surface of the database, for pr-service: its PR records, the feedback read
 * from the provider with its triage, and webhook deliveries. Named functions instead of ORM calls
 * in the service; the tables are those of migration 0004 (docs/decisions/0007).
 */

/** A `pull_requests` row. */
export type PullRequestRecord = PullRequestRow;
/** A `review_feedback` row: a comment, review or failing check read from the provider. */
export type ReviewFeedbackRecord = ReviewFeedbackRow;

/** PR record states of a pull request open on the provider, which pr-service maintains. */
export const OPEN_PULL_REQUEST_STATES: readonly PullRequestState[] = ['open', 'rebase_failed'];

/** Whether a PR record is open on the provider (one of {@link OPEN_PULL_REQUEST_STATES}). */
export function isOpenPullRequest(pr: Pick<PullRequestRecord, 'state'>): boolean {
  return OPEN_PULL_REQUEST_STATES.includes(pr.state);
}

/** The PR record `id`, or null. */
export async function loadPullRequest(db: Database, id: string): Promise<PullRequestRecord | null> {
  return db.em().findOne(PullRequestEntity, { id });
}

/** The PR record of pull request `number` in `repository` (`owner/name`), whatever its state, or null. */
export async function findPullRequestByNumber(db: Database, repository: string, number: number): Promise<PullRequestRecord | null> {
  return db.em().findOne(PullRequestEntity, { repository, number });
}

/**
 * Open pull requests (state `open` or `rebase_failed`, with a number), optionally only those of
 * `repository` onto `baseBranch` (index `pull_requests_open_idx`).
 */
export async function listOpenPullRequests(db: Database, onto?: { repository: string; baseBranch: string }): Promise<PullRequestRecord[]> {
  return db.em().find(PullRequestEntity, { ...(onto ?? {}), state: { $in: [...OPEN_PULL_REQUEST_STATES] }, number: { $ne: null } });
}

/** PR records of `repository` whose head is commit `headSha` (any state). */
export async function listPullRequestsAtHead(db: Database, repository: string, headSha: string): Promise<PullRequestRecord[]> {
  return db.em().find(PullRequestEntity, { repository, headSha });
}

/** A pull request with what its commands work on. */
export interface PullRequestWithExecution {
  pullRequest: PullRequestRecord;
  execution: ExecutionRow;
  /** The patch version the pull request shows (`pullRequest.patchVersion`). */
  version: PatchVersionRow;
  /** The execution's targets, by name. */
  targets: ExecutionTargetRow[];
  /**
   * The iteration that made that version (review, user feedback or re-application) with the
   * feedback it answers; null for the first version.
   */
  delivered: Awaited<ReturnType<typeof loadVersionIteration>>;
}

/**
 * Loads a PR record with its execution, the patch version it shows, the execution's targets and
 * the iteration that made that version.
 * @throws NotFoundError when the PR record, its execution or its patch version does not exist.
 */
export async function loadPullRequestWithExecution(db: Database, pullRequestId: string): Promise<PullRequestWithExecution> {
  const em = db.em();
  const pullRequest = await em.findOne(PullRequestEntity, { id: pullRequestId });
  if (!pullRequest) throw new NotFoundError('pull request', pullRequestId);
  const { executionId } = pullRequest;
  const [execution, version, targets] = await Promise.all([
    em.findOne(ExecutionEntity, { id: executionId }),
    em.findOne(PatchVersionEntity, { executionId, version: pullRequest.patchVersion }),
    em.find(ExecutionTargetEntity, { executionId }, { orderBy: { name: 'asc' } }),
  ]);
  if (!execution) throw new NotFoundError('execution', executionId);
  if (!version) throw new NotFoundError('patch version', `${executionId}#${pullRequest.patchVersion}`);
  const delivered = await loadVersionIteration(db, executionId, version.version);
  return { pullRequest, execution, version, targets, delivered };
}

/** Whether commit `sha` is one of the execution's patch versions (pushed by this service). */
export async function isPatchVersionCommit(db: Database, executionId: string, sha: string): Promise<boolean> {
  return (await db.em().count(PatchVersionEntity, { executionId, sha })) > 0;
}

/**
 * Records that the provider opened the pull request (number, URL, head), in the caller's
 * transaction (the `pull_request.opened` transition).
 */
export async function recordPullRequestOpened(tx: EntityManager, id: string, opened: { number: number; url: string; headSha: string }): Promise<void> {
  await tx.nativeUpdate(PullRequestEntity, { id }, { ...opened, state: 'open', updatedAt: new Date() });
}

/**
 * Records that the pull request shows commit `headSha` (its new patch version) now, back `open`
 * without error, in the caller's transaction (the `pull_request.updated` transition).
 */
export async function recordPullRequestUpdated(tx: EntityManager, id: string, headSha: string): Promise<void> {
  await tx.nativeUpdate(PullRequestEntity, { id }, { state: 'open', headSha, lastError: null, updatedAt: new Date() });
}

/**
 * Records a maintenance failure said on the pull request (`lastError`); a failed rebase also
 * marks the record `rebase_failed` (a rebase onto the same base head is not retried).
 */
export async function recordPullRequestError(db: Database, id: string, error: { code: string; message: string }, rebaseFailed: boolean): Promise<void> {
  await db.em().nativeUpdate(
    PullRequestEntity,
    { id },
    { lastError: { code: error.code, message: error.message }, ...(rebaseFailed ? { state: 'rebase_failed' as const } : {}), updatedAt: new Date() },
  );
}

/** Records the base branch head a rebase was asked for, in the caller's transaction (`rebase.requested`). */
export async function recordRebaseRequested(tx: EntityManager, id: string, baseHead: string): Promise<void> {
  await tx.nativeUpdate(PullRequestEntity, { id }, { rebaseHead: baseHead, updatedAt: new Date() });
}

/**
 * Records that rebasing the pull request stopped (a person pushed to its branch), with the
 * `pull_request.rebase_stopped` history entry, in one transaction.
 */
export async function recordRebaseStopped(db: Database, pr: Pick<PullRequestRecord, 'id' | 'executionId'>, reason: string, worker: string): Promise<void> {
  await recordHistory(
    db,
    { executionId: pr.executionId, event: 'pull_request.rebase_stopped', worker, details: { pullRequestId: pr.id, reason } },
    {
      mutate: async (tx) => {
        await tx.nativeUpdate(PullRequestEntity, { id: pr.id }, { rebaseStopped: reason, updatedAt: new Date() });
      },
    },
  );
}

/** Records that the pull request was merged or closed on the provider. */
export async function recordPullRequestClosed(db: Database, id: string, merged: boolean): Promise<void> {
  await db.em().nativeUpdate(PullRequestEntity, { id }, { state: merged ? 'merged' : 'closed', updatedAt: new Date() });
}

/** Records the check runs of the pull request's head as last read from the provider (replacing the previous list). */
export async function recordCheckRuns(db: Database, id: string, checks: PullRequestCheck[]): Promise<void> {
  await db.em().nativeUpdate(PullRequestEntity, { id }, { checks, updatedAt: new Date() });
}

/** A comment, review or failing check read from the provider, as stored. */
export interface ReviewFeedbackInput {
  kind: 'review' | 'review_comment' | 'issue_comment' | 'check_run';
  /** The provider's id of the item (unique per kind). */
  providerId: number;
  author: string;
  body: string;
  /** Review state (`CHANGES_REQUESTED`, …) or check conclusion. */
  state?: string | null;
  path?: string | null;
  line?: number | null;
}

/**
 * Stores one comment, review or failing check of a pull request, once: an item whose
 * `(kind, providerId)` is stored already (a redelivered webhook, or polling after a webhook) is
 * not stored again.
 * @returns the new row's id, or null when the item was stored before.
 */
export async function recordReviewFeedback(db: Database, pr: Pick<PullRequestRecord, 'id' | 'executionId'>, item: ReviewFeedbackInput): Promise<number | null> {
  const result = await db
    .em()
    .createQueryBuilder(ReviewFeedbackEntity)
    .insert({
      pullRequestId: pr.id,
      executionId: pr.executionId,
      kind: item.kind,
      providerId: item.providerId,
      author: item.author,
      body: item.body,
      state: item.state ?? null,
      path: item.path ?? null,
      line: item.line ?? null,
      createdAt: new Date(),
    })
    .onConflict(['kind', 'providerId'])
    .ignore()
    .execute('run');
  const id = result.rows?.[0]?.['id'];
  return id === undefined ? null : Number(id);
}

/** One stored item, or null. */
export async function loadReviewFeedback(db: Database, id: number): Promise<ReviewFeedbackRecord | null> {
  return db.em().findOne(ReviewFeedbackEntity, { id });
}

/**
 * Claims the triage of a stored item (sets `triage_claimed_at`), in one statement, so one
 * process triages it.
 * @param takeoverAfterMs unset: claims an item nobody claimed; set: takes over an untriaged item
 *   claimed (or stored, when never claimed) longer ago than this (a triage cut off by a crash or
 *   a failing model).
 * @returns whether this call claimed it.
 */
export async function claimReviewFeedbackTriage(db: Database, id: number, takeoverAfterMs?: number): Promise<boolean> {
  const cutoff = takeoverAfterMs === undefined ? null : new Date(Date.now() - takeoverAfterMs);
  const claimed = await db.em().nativeUpdate(
    ReviewFeedbackEntity,
    {
      id,
      actionable: null,
      ...(cutoff === null
        ? { triageClaimedAt: null }
        : { $or: [{ triageClaimedAt: null, createdAt: { $lt: cutoff } }, { triageClaimedAt: { $lt: cutoff } }] }),
    },
    { triageClaimedAt: new Date() },
  );
  return claimed === 1;
}

/** Stores the triage of an item, in the caller's transaction (with its history entry and event). */
export async function recordReviewFeedbackTriage(
  tx: EntityManager,
  id: number,
  decision: { actionable: boolean; reasoning: string; triagedBy: string },
): Promise<void> {
  await tx.nativeUpdate(ReviewFeedbackEntity, { id }, decision);
}

/** Links an actionable item to the feedback (iteration) it started, in the caller's transaction. */
export async function linkReviewFeedbackIteration(tx: EntityManager, id: number, feedbackId: number): Promise<void> {
  await tx.nativeUpdate(ReviewFeedbackEntity, { id }, { feedbackId });
}

/**
 * Untriaged items left longer than `olderThanMs` (stored and never claimed, or claimed and never
 * finished), oldest first.
 */
export async function listUntriagedReviewFeedback(db: Database, olderThanMs: number): Promise<ReviewFeedbackRecord[]> {
  const cutoff = new Date(Date.now() - olderThanMs);
  return db.em().find(
    ReviewFeedbackEntity,
    { actionable: null, $or: [{ triageClaimedAt: null, createdAt: { $lt: cutoff } }, { triageClaimedAt: { $lt: cutoff } }] },
    { orderBy: { id: 'asc' } },
  );
}

/** Actionable items whose iteration has not started (their execution was busy), oldest first. */
export async function listWaitingReviewFeedback(db: Database): Promise<ReviewFeedbackRecord[]> {
  return db.em().find(ReviewFeedbackEntity, { actionable: true, feedbackId: null }, { orderBy: { id: 'asc' } });
}

/** Whether webhook delivery `deliveryId` (`X-GitHub-Delivery`) was handled already. */
export async function isWebhookDeliveryHandled(db: Database, deliveryId: string): Promise<boolean> {
  const rows = await db.em().getConnection().execute<unknown[]>('select 1 from webhook_deliveries where delivery_id = ?', [deliveryId]);
  return rows.length > 0;
}

/**
 * Records a webhook delivery as handled (after its effects: one that failed half-way is handled
 * again when redelivered). Recording it twice has no effect.
 */
export async function recordWebhookDelivery(db: Database, delivery: { deliveryId: string; event: string; action: string | null }): Promise<void> {
  await db
    .em()
    .getConnection()
    .execute('insert into webhook_deliveries (delivery_id, event, action) values (?, ?, ?) on conflict do nothing', [delivery.deliveryId, delivery.event, delivery.action]);
}
