import type { CommandPayload } from '@remediation/contracts';
import { InvalidInputError } from '@remediation/errors';
import {
  type Database,
  ExecutionTargetEntity,
  PatchVersionEntity,
  PullRequestEntity,
  executionTargetBody,
  latestPlan,
  loadExecution,
} from '@remediation/persistence';
import type { PullRequestBodyInput } from '../body.js';

/**
 * What a pull-request command works on: the execution, its PR record, the patch version the PR
 * shows, and the default body's input (targets, latest plan, that version's agent run and paths).
 * @throws InvalidInputError `COMMAND_INVALID` when the command has no `pullRequestId`; the
 *   database's not-found errors when the execution, PR record or version is missing.
 */
export async function loadPullRequestContext(db: Database, payload: CommandPayload) {
  const { executionId, remediationId, pullRequestId } = payload;
  if (!pullRequestId) throw new InvalidInputError('COMMAND_INVALID', `${payload.kind} without pullRequestId`);
  const em = db.em();
  const exec = await loadExecution(db, executionId);
  const pr = await em.findOneOrFail(PullRequestEntity, { id: pullRequestId });
  const [version, targets, plan] = await Promise.all([
    em.findOneOrFail(PatchVersionEntity, { executionId, version: pr.patchVersion }),
    em.find(ExecutionTargetEntity, { executionId }, { orderBy: { name: 'asc' } }),
    latestPlan(db, remediationId),
  ]);
  const body: PullRequestBodyInput = {
    remediationId,
    executionId,
    tier: exec.tier ?? 'minimal',
    plan,
    targets: targets.map(executionTargetBody),
    agent: version.agent ?? null,
    changedPaths: version.changedPaths,
  };
  return { exec, pr, version, body, pullRequestId };
}
