import type { CommandPayload } from '@remediation/contracts';
import { InvalidInputError } from '@remediation/errors';
import { type Database, executionTargetBody, loadPullRequestWithExecution, planOfExecution } from '@remediation/persistence';
import type { PullRequestBodyInput } from '../body.js';

/**
 * What a pull-request command works on: the PR record, the patch version the PR shows, the
 * iteration that made it (with the feedback it answers, if any), and the default body's input (targets, the plan the execution was made from, that
 * version's agent run and paths).
 * @throws InvalidInputError `COMMAND_INVALID` when the command has no `pullRequestId` or names a
 *   pull request of another execution; NotFoundError when the PR record, execution or version is
 *   missing.
 */
export async function loadPullRequestContext(db: Database, payload: CommandPayload) {
  const { executionId, remediationId, pullRequestId } = payload;
  if (!pullRequestId) throw new InvalidInputError('COMMAND_INVALID', `${payload.kind} without pullRequestId`);
  const [loaded, plan] = await Promise.all([loadPullRequestWithExecution(db, pullRequestId), planOfExecution(db, executionId)]);
  const { pullRequest: pr, execution: exec, version, targets, delivered } = loaded;
  if (pr.executionId !== executionId) {
    throw new InvalidInputError('COMMAND_INVALID', `${payload.kind}: pull request ${pullRequestId} belongs to execution ${pr.executionId}, not ${executionId}`);
  }
  const body: PullRequestBodyInput = {
    remediationId,
    executionId,
    tier: exec.tier ?? 'minimal',
    plan,
    targets: targets.map(executionTargetBody),
    agent: version.agent ?? null,
    changedPaths: version.changedPaths,
  };
  return { pr, version, delivered, body, pullRequestId };
}
