import { randomBytes } from 'node:crypto';
import {
  type CreatePullRequestRequest,
  type DiffResponse,
  type FeedbackBody,
  type FeedbackRequest,
  type PullRequestBody,
  providerRepository,
} from '@remediation/contracts';
import { InvalidInputError } from '@remediation/errors';
import { patchVersionDiff } from '@remediation/messaging';
import {
  assertApprovable,
  cancelExecution as cancel,
  loadPatchVersion,
  requestPullRequest as request,
  retryExecution as retry,
  startFeedbackIteration,
} from '@remediation/persistence';
import type { Caller } from '../auth.js';
import type { ApiContext } from '../server.js';

/**
 * `GET /v1/executions/:id/diff`: unified diff of the latest patch version (or `version`), asked
 * of git-gateway (which owns the mirrors) over NATS request/reply.
 * Another tenant's execution is not found (404).
 * @throws NotFoundError; RemediationError `PATCH_NOT_READY` (409); TransientError `UPSTREAM_UNAVAILABLE` (503)
 */
export async function getDiff(ctx: ApiContext, caller: Caller, id: string, version?: number): Promise<DiffResponse> {
  const { patchVersion: pv, codebase } = await loadPatchVersion(ctx.db, id, version, caller.tenant);
  const diff = await patchVersionDiff(ctx.nats.nc, { repository: codebase.repository, baseCommit: pv.baseCommit, sha: pv.sha });
  return { executionId: id, version: pv.version, baseCommit: pv.baseCommit, sha: pv.sha, diff };
}

/**
 * `POST /v1/executions/:id/pull-requests`: approves a patch version (the latest by default) and
 * asks for its pull request. Creates the PR record (`opening`) and moves the execution to
 * `pr_opening` in one transaction; git-gateway pushes the branch, then pr-service opens the PR.
 * Another tenant's execution is not found (404).
 * @throws NotFoundError; RemediationError `PATCH_NOT_READY` / `PATCH_NOT_APPROVABLE` / `INVALID_TRANSITION` (409)
 */
export async function requestPullRequest(ctx: ApiContext, caller: Caller, id: string, body: CreatePullRequestRequest): Promise<PullRequestBody> {
  const { execution, patchVersion, codebase } = await loadPatchVersion(ctx.db, id, body.patchVersion, caller.tenant);
  assertApprovable(patchVersion);
  const repo = providerRepository(codebase);
  if (!repo) throw new InvalidInputError('CODEBASE_INVALID', `cannot derive the pull-request repository of ${JSON.stringify(codebase.repository)}`);
  return request(ctx.db, {
    execution,
    patchVersion,
    pullRequestId: `pr_${randomBytes(8).toString('hex')}`,
    repository: `${repo.owner}/${repo.repo}`,
    worker: ctx.worker,
  });
}

/**
 * `POST /v1/executions/:id/feedback`: review feedback on the latest patch version. Stores it and
 * starts the next iteration (reason `user_feedback`) on the same workspace (the execution goes back
 * to `patch_running`, step `editing`); the patcher's agent gets the feedback and the previous
 * version's diff, and git-gateway commits the result as the next patch version, listed with this
 * feedback.
 * Another tenant's execution is not found (404).
 * @throws NotFoundError; RemediationError `PATCH_NOT_READY` (409) when no version exists yet;
 *   InvalidTransitionError (409) unless the execution is `patch_generated` or `pr_opened`.
 */
export async function submitFeedback(ctx: ApiContext, caller: Caller, id: string, body: FeedbackRequest): Promise<FeedbackBody> {
  return startFeedbackIteration(ctx.db, { executionId: id, tenant: caller.tenant, worker: ctx.worker, source: 'api', text: body.text, comments: body.comments });
}

/**
 * `POST /v1/executions/:id/retry`: resumes a failed execution (plan or patch) at the step that
 * failed; completed steps are not redone (their results are in the database and the mirror).
 * Another tenant's execution is not found (404).
 * @throws NotFoundError; InvalidTransitionError (409) when the execution is not failed.
 */
export async function retryExecution(ctx: ApiContext, caller: Caller, id: string): Promise<void> {
  await retry(ctx.db, id, ctx.worker, caller.tenant);
}

/**
 * `POST /v1/executions/:id/cancel`: stops a running execution (plan or patch). The worker
 * notices at its next heartbeat and stops; git-gateway releases the workspace.
 * Another tenant's execution is not found (404).
 * @throws NotFoundError; InvalidTransitionError (409) when the execution is not running.
 */
export async function cancelExecution(ctx: ApiContext, caller: Caller, id: string, reason: string): Promise<void> {
  await cancel(ctx.db, id, reason, ctx.worker, caller.tenant);
}
