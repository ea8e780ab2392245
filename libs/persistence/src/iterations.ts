import type { EntityManager } from '@mikro-orm/postgresql';
import type { FeedbackBody, FeedbackComment, FeedbackSource, IterationBody, IterationReason } from '@remediation/contracts';
import { RemediationError } from '@remediation/errors';
import type { Database } from './database.js';
import { FeedbackEntity, type FeedbackRow, IterationEntity, PatchVersionEntity } from './entities.js';
import { loadExecution } from './executions.js';
import { applyTransition } from './transitions.js';
import { feedbackBody, iterationBody } from './views.js';

/**
 * Iterations of a patch execution. Iteration 1 is the first run (no record); each later one is an
 * `iterations` row saying why it started: `user_feedback` (feedback through the API), `review`
 * (actionable feedback on the pull request), `rebase_reapply` (the pull request's version no longer
 * applies on its moved base and is re-applied on the new head). Feedback rows hold only what was
 * said; the iteration links to the feedback it answers.
 */

/** The iteration reason of feedback from `source`: `api` → `user_feedback`, `github` → `review`. */
export function iterationReasonOf(source: FeedbackSource): IterationReason {
  return source === 'api' ? 'user_feedback' : 'review';
}

/**
 * The number of an execution's next iteration: one more than its last iteration's (2 when it has
 * none: iteration 1 is the first run).
 * @param from the database, or the caller's transaction.
 */
export async function nextIterationNumber(from: Database | EntityManager, executionId: string): Promise<number> {
  const em = 'orm' in from ? from.em() : from;
  const last = await em.findOne(IterationEntity, { executionId }, { orderBy: { number: 'desc' }, fields: ['number'] });
  return (last?.number ?? 1) + 1;
}

/**
 * The iteration number the next feedback of an execution starts (same as `nextIterationNumber`:
 * feedback and re-applications share one numbering).
 */
export async function nextFeedbackIteration(em: EntityManager, executionId: string): Promise<number> {
  return nextIterationNumber(em, executionId);
}

/** An iteration to record. */
export interface NewIteration {
  executionId: string;
  number: number;
  reason: IterationReason;
  /** The feedback it answers (required for `review` / `user_feedback`, null for `rebase_reapply`). */
  feedbackId: number | null;
  /** The patch version it starts from. */
  baseVersion: number;
  /** Why, in words, when the reason alone does not say it (e.g. the conflicting paths). */
  detail?: string | null;
}

/**
 * Records the start of an iteration in the caller's transaction (its version is set when
 * committed, by `recordPatchVersion`).
 * @throws the database's errors: unique `(execution_id, number)` when the iteration exists; the
 *   check that only `rebase_reapply` has no feedback.
 */
export async function insertIteration(tx: EntityManager, iteration: NewIteration): Promise<void> {
  await tx.insert(IterationEntity, { ...iteration, detail: iteration.detail ?? null, patchVersion: null, createdAt: new Date() });
}

/**
 * Stores one feedback and the iteration it starts (`iteration`, on patch version `baseVersion`;
 * reason `user_feedback` for `api`, `review` for `github`) in the caller's transaction.
 * @returns the feedback's id.
 * @throws the database's errors (unique `(execution_id, number)` when the iteration exists).
 */
export async function insertFeedback(
  tx: EntityManager,
  input: { executionId: string; iteration: number; source: FeedbackSource; text: string; comments: FeedbackComment[]; baseVersion: number },
): Promise<number> {
  const id = Number(
    await tx.insert(FeedbackEntity, { executionId: input.executionId, source: input.source, text: input.text, comments: input.comments, createdAt: new Date() }),
  );
  await insertIteration(tx, { executionId: input.executionId, number: input.iteration, reason: iterationReasonOf(input.source), feedbackId: id, baseVersion: input.baseVersion });
  return id;
}

/**
 * Starts a feedback iteration: stores the feedback and its iteration on the latest patch version
 * and applies `feedback.received` in the same transaction (`patch_generated` → `patch_running`, or
 * `pr_opened` → `changes_requested`). Shared by the API (`POST /v1/executions/:id/feedback`,
 * reason `user_feedback`) and pr-service (actionable review feedback, reason `review`).
 * @param input.onStored runs inside the transaction with the new feedback id (e.g. to link the
 *   review comment that asked for it).
 * @returns the stored feedback.
 * @throws NotFoundError; RemediationError `PATCH_NOT_READY` when no version exists;
 *   InvalidTransitionError when the execution is not in a state that takes feedback.
 */
export async function startFeedbackIteration(
  db: Database,
  input: {
    executionId: string;
    /** When given (the API gives the caller's), another tenant's execution is not found. */
    tenant?: string;
    worker: string;
    source: FeedbackSource;
    text: string;
    comments: FeedbackComment[];
    onStored?: (tx: EntityManager, feedbackId: number) => Promise<void>;
  },
): Promise<FeedbackBody> {
  const id = input.executionId;
  await loadExecution(db, id, input.tenant);
  const latest = await db.em().findOne(PatchVersionEntity, { executionId: id }, { orderBy: { version: 'desc' }, fields: ['version'] });
  if (!latest) throw new RemediationError('PATCH_NOT_READY', `execution ${id} has no patch version to give feedback on`);
  const iteration = await nextIterationNumber(db, id);
  await applyTransition(db, {
    executionId: id,
    event: { type: 'feedback.received', iteration },
    worker: input.worker,
    details: { iteration, baseVersion: latest.version, source: input.source, comments: input.comments.length },
    mutate: async (tx) => {
      const feedbackId = await insertFeedback(tx, { executionId: id, iteration, source: input.source, text: input.text, comments: input.comments, baseVersion: latest.version });
      await input.onStored?.(tx, feedbackId);
    },
  });
  const em = db.em();
  const row = await em.findOneOrFail(IterationEntity, { executionId: id, number: iteration });
  return feedbackBody(await em.findOneOrFail(FeedbackEntity, { id: row.feedbackId! }), row);
}

/** The iteration a patch execution is in, as the editing and committing steps need it. */
export interface CurrentIteration {
  number: number;
  reason: IterationReason;
  /** The patch version it started from. */
  baseVersion: number;
  detail: string | null;
  /** What was said (`review`, `user_feedback`); null for `rebase_reapply`. */
  feedback: { text: string; comments: FeedbackComment[] } | null;
}

/**
 * The iteration an execution's editing and committing steps work on: its latest iteration while it
 * has not made a version yet, with the feedback it answers; null during the first run (iteration 1).
 */
export async function currentIteration(db: Database, executionId: string): Promise<CurrentIteration | null> {
  const em = db.em();
  const last = await em.findOne(IterationEntity, { executionId }, { orderBy: { number: 'desc' } });
  if (!last || last.patchVersion != null) return null;
  const feedback = last.feedbackId != null ? await em.findOneOrFail(FeedbackEntity, { id: last.feedbackId }) : null;
  return {
    number: last.number,
    reason: last.reason,
    baseVersion: last.baseVersion,
    detail: last.detail ?? null,
    feedback: feedback ? { text: feedback.text, comments: feedback.comments } : null,
  };
}

/**
 * The iteration a patch version delivers, with the feedback it answers: null for the first version
 * and for a server-side rebase of a version a pull request already showed.
 */
export async function loadVersionIteration(
  db: Database,
  executionId: string,
  version: number,
): Promise<{ iteration: IterationBody; feedback: FeedbackRow | null } | null> {
  const em = db.em();
  const pv = await em.findOne(PatchVersionEntity, { executionId, version }, { fields: ['iteration'] });
  if (pv?.iteration == null) return null;
  const row = await em.findOneOrFail(IterationEntity, { executionId, number: pv.iteration });
  const feedback = row.feedbackId != null ? await em.findOneOrFail(FeedbackEntity, { id: row.feedbackId }) : null;
  return { iteration: iterationBody(row), feedback };
}
