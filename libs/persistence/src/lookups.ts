import type { EntityManager } from '@mikro-orm/postgresql';
import type { FeedbackComment, PlannerOutput } from '@remediation/contracts';
import { NotFoundError, RemediationError } from '@remediation/errors';
import type { Database } from './database.js';
import { ExecutionEntity, FeedbackEntity, PatchVersionEntity } from './entities.js';
import { applyTransition } from './transitions.js';

/**
 * Loads an execution a command handler works on. The consumer runtime has already claimed the
 * step (lease); the handler's commit is fenced by it, so no state check is needed here.
 * @throws NotFoundError when the execution does not exist (a command for an unknown run).
 */
export async function loadExecution(db: Database, executionId: string) {
  const exec = await db.em().findOne(ExecutionEntity, { id: executionId });
  if (!exec) throw new NotFoundError('execution', executionId);
  return exec;
}

/** The PlannerOutput of the remediation's latest generated plan, or null. */
export async function latestPlan(db: Database, remediationId: string): Promise<PlannerOutput | null> {
  const row = await db
    .em()
    .findOne(ExecutionEntity, { remediationId, kind: 'plan', state: 'plan_generated' }, { orderBy: { startedAt: 'desc' } });
  return row?.plan ?? null;
}

/**
 * Starts a feedback iteration: stores the feedback on the latest patch version and applies
 * `feedback.received` in the same transaction (`patch_generated` → `patch_running`, or
 * `pr_opened` → `changes_requested`). Shared by the API (`POST /v1/executions/:id/feedback`) and
 * pr-service (actionable review feedback on the pull request).
 * @param input.onStored runs inside the transaction with the new feedback id (e.g. to link the
 *   review comment that asked for it).
 * @returns the stored feedback row.
 * @throws NotFoundError; RemediationError `PATCH_NOT_READY` when no version exists;
 *   InvalidTransitionError when the execution is not in a state that takes feedback.
 */
export async function startFeedbackIteration(
  db: Database,
  input: {
    executionId: string;
    worker: string;
    source: 'api' | 'github';
    text: string;
    comments: FeedbackComment[];
    onStored?: (tx: EntityManager, feedbackId: number) => Promise<void>;
  },
) {
  const em = db.em();
  const id = input.executionId;
  const exec = await em.findOne(ExecutionEntity, { id });
  if (!exec) throw new NotFoundError('execution', id);
  const latest = await em.findOne(PatchVersionEntity, { executionId: id }, { orderBy: { version: 'desc' } });
  if (!latest) throw new RemediationError('PATCH_NOT_READY', `execution ${id} has no patch version to give feedback on`);
  const iteration = await nextFeedbackIteration(em, id);
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
  return db.em().findOneOrFail(FeedbackEntity, { executionId: id, iteration });
}

/**
 * The iteration number the next feedback of an execution starts: one more than the last
 * feedback's (iteration 1 is the first patch run, which has no feedback).
 */
export async function nextFeedbackIteration(em: EntityManager, executionId: string): Promise<number> {
  const last = await em.findOne(FeedbackEntity, { executionId }, { orderBy: { iteration: 'desc' } });
  return (last?.iteration ?? 1) + 1;
}

/**
 * Stores one feedback (the start of iteration `iteration`, on patch version `baseVersion`) in the
 * caller's transaction; its `patchVersion` is set when the iteration's version is committed.
 * @returns the feedback's id.
 * @throws the database's errors (unique `(execution_id, iteration)` when the iteration exists).
 */
export async function insertFeedback(
  tx: EntityManager,
  input: { executionId: string; iteration: number; source: 'api' | 'github' | 'rebase'; text: string; comments: FeedbackComment[]; baseVersion: number },
): Promise<number> {
  return Number(await tx.insert(FeedbackEntity, { ...input, patchVersion: null, createdAt: new Date() } as never));
}
