import type { CommandHandler } from '@remediation/messaging';
import { InvalidInputError, TransientError, describeError } from '@remediation/errors';
import type { GithubClient } from '@remediation/github';
import { type Database, PullRequestEntity, pullRequestFailed } from '@remediation/persistence';
import { pullRequestBody, pullRequestTitle } from '../body.js';
import { loadPullRequestContext } from './pull-request-context.js';

/**
 * `pull_request.open`: opens the pull request for the pushed branch with @octokit/rest and
 * records number, URL and state on the PR record in the same transaction as `pr_opened`.
 * A redelivery after GitHub accepted the PR finds the existing open PR for the head branch
 * instead of opening a second one.
 */
export function pullRequestOpenHandler(deps: { db: Database; worker: string; github: GithubClient }): CommandHandler {
  return {
    kind: 'pull_request.open',
    async handle(ctx) {
      const { executionId } = ctx.payload;
      const { pr, body: input, pullRequestId } = await loadPullRequestContext(deps.db, ctx.payload);
      const [owner, repo] = pr.repository.split('/') as [string, string];
      // A token minted for this operation (GitHub App installation token scoped to the repository).
      const octokit = await deps.github.forRepository(owner, repo);
      ctx.heartbeat();
      let opened: { number: number; html_url: string; head: { sha: string } };
      try {
        const res = await octokit.rest.pulls.create({
          owner,
          repo,
          title: pullRequestTitle(input),
          head: pr.headBranch,
          base: pr.baseBranch,
          body: pullRequestBody(input),
          draft: pr.draft,
        });
        opened = res.data;
      } catch (err) {
        const status = (err as { status?: number }).status;
        const message = describeError(err);
        if (status === 422 && /already exists/i.test(message)) {
          const existing = await octokit.rest.pulls.list({ owner, repo, state: 'open', head: `${owner}:${pr.headBranch}`, base: pr.baseBranch });
          if (!existing.data[0]) throw new TransientError('PULL_REQUEST_LOOKUP_FAILED', `GitHub says a PR exists for ${pr.headBranch} but none was listed`);
          opened = existing.data[0];
        } else if (status !== undefined && status >= 400 && status < 500 && status !== 429) {
          throw new InvalidInputError('PULL_REQUEST_REJECTED', `GitHub refused to open the pull request (${status}): ${message}`);
        } else {
          throw new TransientError('GITHUB_UNAVAILABLE', `opening the pull request failed: ${message}`, { cause: err });
        }
      }
      await ctx.transition({
        executionId,
        event: { type: 'pull_request.opened', pullRequestId, number: opened.number, url: opened.html_url },
        mutate: async (tx) => {
          await tx.nativeUpdate(
            PullRequestEntity,
            { id: pullRequestId },
            { number: opened.number, url: opened.html_url, state: 'open', headSha: opened.head.sha, updatedAt: new Date() },
          );
        },
      });
    },
    async giveUp(ctx, error) {
      await ctx.transition(pullRequestFailed(ctx.payload.executionId, ctx.payload.pullRequestId, error));
    },
  };
}
