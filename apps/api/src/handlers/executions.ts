import { randomBytes } from 'node:crypto';
import {
  type CreatePullRequestRequest,
  type FeedbackBody,
  type FeedbackRequest,
  DIFF_RPC_SUBJECT,
  DiffReply,
  type DiffResponse,
  type PullRequestBody,
  defaultBranchName,
  providerRepository,
} from '@remediation/contracts';
import { NotFoundError, RemediationError, TransientError, describeError } from '@remediation/errors';
import {
  ExecutionEntity,
  PatchVersionEntity,
  PullRequestEntity,
  RemediationEntity,
  applyTransition,
  feedbackBody,
  startFeedbackIteration,
  pullRequestBody,
} from '@remediation/persistence';
import type { ApiContext } from '../server.js';

/**
 * `GET /v1/executions/:id/diff`: unified diff of the latest patch version (or `version`), asked
 * of git-gateway (which owns the mirrors) over NATS request/reply.
 * @throws NotFoundError; RemediationError `PATCH_NOT_READY` (409); TransientError `UPSTREAM_UNAVAILABLE`
 */
export async function getDiff(ctx: ApiContext, id: string, version?: number): Promise<DiffResponse> {
  const em = ctx.db.em();
  const exec = await em.findOne(ExecutionEntity, { id });
  if (!exec) throw new NotFoundError('execution', id);
  const versions = await em.find(PatchVersionEntity, { executionId: id }, { orderBy: { version: 'desc' } });
  const pv = version === undefined ? versions[0] : versions.find((v) => v.version === version);
  if (!pv) {
    throw new RemediationError('PATCH_NOT_READY', version === undefined ? `execution ${id} has no patch version yet` : `execution ${id} has no patch version ${version}`);
  }
  const rem = await em.findOneOrFail(RemediationEntity, { id: exec.remediationId });
  let reply: DiffReply;
  try {
    const msg = await ctx.nats.nc.request(
      DIFF_RPC_SUBJECT,
      JSON.stringify({ repository: rem.codebase.repository, baseCommit: pv.baseCommit, sha: pv.sha }),
      { timeout: 30_000 },
    );
    reply = DiffReply.parse(msg.json());
  } catch (err) {
    throw new TransientError('UPSTREAM_UNAVAILABLE', `git-gateway did not answer the diff request: ${describeError(err)}`);
  }
  if (!reply.ok) throw new RemediationError(reply.code, reply.message);
  return { executionId: id, version: pv.version, baseCommit: pv.baseCommit, sha: pv.sha, diff: reply.diff };
}

/**
 * `POST /v1/executions/:id/pull-requests`: approves a patch version (the latest by default) and
 * asks for its pull request. Creates the PR record (`opening`) and moves the execution to
 * `pr_opening` in one transaction; git-gateway pushes the branch, then pr-service opens the PR.
 * @throws NotFoundError; RemediationError `PATCH_NOT_READY` / `INVALID_TRANSITION` (409)
 */
export async function requestPullRequest(
  ctx: ApiContext,
  id: string,
  body: CreatePullRequestRequest,
): Promise<PullRequestBody> {
  const em = ctx.db.em();
  const exec = await em.findOne(ExecutionEntity, { id });
  if (!exec) throw new NotFoundError('execution', id);
  const versions = await em.find(PatchVersionEntity, { executionId: id }, { orderBy: { version: 'desc' } });
  const pv = body.patchVersion === undefined ? versions[0] : versions.find((v) => v.version === body.patchVersion);
  if (!pv) throw new RemediationError('PATCH_NOT_READY', `execution ${id} has no patch version${body.patchVersion ? ` ${body.patchVersion}` : ''}`);
  if (!pv.proofPassed) {
    // MISSION.md "Proof of remediation": a version whose manifests still admit a vulnerable
    // version is not offered for approval.
    const failing = (pv.proof ?? []).filter((p) => !p.remediated);
    throw new RemediationError(
      'PATCH_NOT_APPROVABLE',
      `patch version ${pv.version} of ${id} fails its proof of remediation: ${failing.map((p) => `${p.target}: ${p.reason}`).join('; ') || 'no target proven'}`,
      { details: { patchVersion: pv.version, proof: pv.proof } },
    );
  }
  const rem = await em.findOneOrFail(RemediationEntity, { id: exec.remediationId });
  const repo = providerRepository(rem.codebase)!;
  const prId = `pr_${randomBytes(8).toString('hex')}`;
  await applyTransition(ctx.db, {
    executionId: id,
    event: { type: 'pull_request.requested', pullRequestId: prId },
    worker: ctx.worker,
    details: { pullRequestId: prId, patchVersion: pv.version },
    mutate: async (tx) => {
      await tx.insert(PullRequestEntity, {
        id: prId,
        executionId: id,
        patchVersion: pv.version,
        provider: 'github',
        repository: `${repo.owner}/${repo.repo}`,
        number: null,
        url: null,
        state: 'opening',
        draft: exec.asDraft,
        headBranch: exec.branchName ?? defaultBranchName(id),
        baseBranch: exec.baseBranch ?? 'main',
        headSha: pv.sha,
        createdAt: new Date(),
        updatedAt: new Date(),
      } as never);
    },
  });
  const pr = await ctx.db.em().findOneOrFail(PullRequestEntity, { id: prId });
  return pullRequestBody(pr);
}

/**
 * `POST /v1/executions/:id/feedback`: review feedback on the latest patch version. Stores it and
 * starts the next iteration on the same workspace (the execution goes back to `patch_running`,
 * step `editing`); the patcher's agent gets the feedback and the previous version's diff, and
 * git-gateway commits the result as the next patch version, listed with this feedback.
 * @throws NotFoundError; RemediationError `PATCH_NOT_READY` (409) when no version exists yet;
 *   InvalidTransitionError (409) unless the execution is `patch_generated` or `pr_opened`.
 */
export async function submitFeedback(ctx: ApiContext, id: string, body: FeedbackRequest): Promise<FeedbackBody> {
  return feedbackBody(await startFeedbackIteration(ctx.db, { executionId: id, worker: ctx.worker, source: 'api', text: body.text, comments: body.comments }));
}

/**
 * `POST /v1/executions/:id/retry`: resumes a failed execution (plan or patch) at the step that
 * failed; completed steps are not redone (their results are in the database and the mirror).
 * @throws NotFoundError; InvalidTransitionError (409) when the execution is not failed.
 */
export async function retryExecution(ctx: ApiContext, id: string): Promise<void> {
  const exec = await ctx.db.em().findOne(ExecutionEntity, { id });
  if (!exec) throw new NotFoundError('execution', id);
  await applyTransition(ctx.db, {
    executionId: id,
    event: { type: 'retry.requested', ...(exec.pullRequestId ? { pullRequestId: exec.pullRequestId } : {}) },
    worker: ctx.worker,
    details: { failedStep: exec.failedStep, previousError: exec.errorCode ? { code: exec.errorCode, message: exec.errorMessage } : null },
    mutate: async (tx) => {
      if (exec.pullRequestId && exec.state === 'pr_failed') {
        await tx.nativeUpdate(PullRequestEntity, { id: exec.pullRequestId }, { state: 'opening', updatedAt: new Date() });
      }
    },
  });
}

/**
 * `POST /v1/executions/:id/cancel`: stops a running execution (plan or patch). The worker
 * notices at its next heartbeat and stops; git-gateway releases the workspace.
 * @throws NotFoundError; InvalidTransitionError (409) when the execution is not running.
 */
export async function cancelExecution(ctx: ApiContext, id: string, reason: string): Promise<void> {
  const exec = await ctx.db.em().findOne(ExecutionEntity, { id });
  if (!exec) throw new NotFoundError('execution', id);
  await applyTransition(ctx.db, {
    executionId: id,
    event: { type: 'cancel.requested', reason },
    worker: ctx.worker,
    set: { errorCode: 'CANCELLED', errorMessage: reason },
    mutate: async (tx) => {
      if (exec.pullRequestId && exec.state === 'pr_opening') {
        await tx.nativeUpdate(PullRequestEntity, { id: exec.pullRequestId }, { state: 'failed', updatedAt: new Date() });
      }
    },
  });
}
