import type { CommandHandler } from '@remediation/messaging';
import { type Registry, pullRequestMetrics } from '@remediation/metrics';
import { type Database, pullRequestFailed, recordPullRequestOpened } from '@remediation/persistence';
import { pullRequestBody, pullRequestTitle } from '../body.js';
import type { PullRequestProvider } from '../provider.js';
import { loadPullRequestContext } from './pull-request-context.js';

/**
 * `pull_request.open`: opens the pull request for the pushed branch through the provider and
 * records number, URL and head on the PR record in the same transaction as `pr_opened`. A
 * redelivery after the provider accepted the PR gets the existing open PR for the head branch
 * instead of opening a second one (see {@link ProviderRepository.open}).
 */
export function pullRequestOpenHandler(deps: { db: Database; worker: string; provider: PullRequestProvider; metrics?: Registry }): CommandHandler {
  return {
    kind: 'pull_request.open',
    async handle(ctx) {
      const { executionId } = ctx.payload;
      const { pr, body: input, pullRequestId } = await loadPullRequestContext(deps.db, ctx.payload);
      // Credentials obtained for this operation (GitHub App installation token scoped to the repository).
      const repository = await deps.provider.connect(pr.repository);
      ctx.heartbeat();
      const opened = await repository.open({
        title: pullRequestTitle(input),
        body: pullRequestBody(input),
        headBranch: pr.headBranch,
        baseBranch: pr.baseBranch,
        draft: pr.draft,
      });
      await ctx.transition({
        executionId,
        event: { type: 'pull_request.opened', pullRequestId, number: opened.number, url: opened.url },
        mutate: (tx) => recordPullRequestOpened(tx, pullRequestId, { number: opened.number, url: opened.url, headSha: opened.headSha }),
      });
      if (deps.metrics) pullRequestMetrics(deps.metrics).pullRequests.inc({ provider: deps.provider.name, action: 'opened' });
    },
    async giveUp(ctx, error) {
      await ctx.transition(pullRequestFailed(ctx.payload.executionId, ctx.payload.pullRequestId, error));
    },
  };
}
