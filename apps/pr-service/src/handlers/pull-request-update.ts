import type { CommandHandler } from '@remediation/messaging';
import { type Registry, pullRequestMetrics } from '@remediation/metrics';
import { InvalidInputError } from '@remediation/errors';
import { type Database, pullRequestFailed, recordPullRequestUpdated } from '@remediation/persistence';
import { agentNotes, pullRequestBody } from '../body.js';
import type { PullRequestProvider } from '../provider.js';
import { loadPullRequestContext } from './pull-request-context.js';

/**
 * `pull_request.update`: after git-gateway pushed a new patch version to an open pull request
 * (review iteration, rebase, or re-application on a moved base), refreshes the PR body and, for a
 * review iteration or a re-application, replies on the PR with a link to the new version; then
 * `pull_request.updated` moves the execution back to `pr_opened`. Plain rebases are noted in the
 * history only (no comment noise). A redelivery does not comment twice (one comment per version).
 * Counted in `remediation_pull_requests_total` as `rebased` (the base moved: server-side rebase or
 * re-application) or `updated` (a review iteration).
 * @param onUpdated called after the transition (pr-service starts feedback that waited and catches
 *   a base move that happened meanwhile).
 */
export function pullRequestUpdateHandler(deps: {
  db: Database;
  provider: PullRequestProvider;
  onUpdated?: (pullRequestId: string) => Promise<void>;
  metrics?: Registry;
}): CommandHandler {
  return {
    kind: 'pull_request.update',
    async handle(ctx) {
      const { executionId } = ctx.payload;
      const { pr, version, delivered, body: input, pullRequestId } = await loadPullRequestContext(deps.db, ctx.payload);
      const feedback = delivered?.feedback ?? null;
      if (pr.number == null) throw new InvalidInputError('PULL_REQUEST_NOT_OPEN', `pull request ${pullRequestId} has no number`);
      const repository = await deps.provider.connect(pr.repository);
      ctx.heartbeat();
      await repository.update(pr.number, { body: pullRequestBody(input) });
      let reply: string | null = null;
      const link = deps.provider.commitUrl(pr.url ?? '', version.sha);
      if (feedback) {
        const changed = agentNotes(input.targets);
        reply = [
          `Addressed the review feedback in patch version ${version.version} ([${version.sha.slice(0, 7)}](${link})).`,
          '',
          `> ${feedback.text.split('\n')[0]}`,
          ...(changed.length ? ['', ...changed] : []),
          ...(version.agent ? ['', `<sub>${version.agent.turns} agent turns, ${version.agent.inputTokens + version.agent.outputTokens} tokens.</sub>`] : []),
        ].join('\n');
      } else if (delivered?.iteration.reason === 'rebase_reapply') {
        reply = `The base branch moved and the previous version no longer applied cleanly, so the patch was re-applied on \`${pr.baseBranch}\` as patch version ${version.version} ([${version.sha.slice(0, 7)}](${link})).`;
      }
      if (reply) await repository.comment(pr.number, `update:${executionId}:v${version.version}`, reply);
      await ctx.transition({
        executionId,
        event: { type: 'pull_request.updated', pullRequestId },
        details: { patchVersion: version.version, sha: version.sha, reason: delivered?.iteration.reason ?? 'rebase', commented: reply !== null },
        mutate: (tx) => recordPullRequestUpdated(tx, pullRequestId, version.sha),
      });
      if (deps.metrics) {
        const rebased = !delivered || delivered.iteration.reason === 'rebase_reapply';
        pullRequestMetrics(deps.metrics).pullRequests.inc({ provider: deps.provider.name, action: rebased ? 'rebased' : 'updated' });
      }
      await deps.onUpdated?.(pullRequestId);
    },
    async giveUp(ctx, error) {
      await ctx.transition(pullRequestFailed(ctx.payload.executionId, ctx.payload.pullRequestId, error));
    },
  };
}
