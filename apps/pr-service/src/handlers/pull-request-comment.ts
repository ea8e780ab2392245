import type { CommandHandler } from '@remediation/messaging';
import { type Database, loadPullRequest, recordHistory, recordPullRequestError } from '@remediation/persistence';
import type { PullRequestProvider } from '../provider.js';

/**
 * `pull_request.comment` (housekeeping, no step lease): says on an open pull request why its
 * update failed (the execution is back at `pr_opened` with the previous version); a failed rebase
 * marks the PR record `rebase_failed`. One comment per failure (keyed by the command's issue
 * time), so a redelivery does not repeat it.
 * @param onCommented called afterwards (pr-service catches a base move that happened meanwhile).
 */
export function pullRequestCommentHandler(deps: { db: Database; provider: PullRequestProvider; worker: string; onCommented?: (pullRequestId: string) => Promise<void> }): CommandHandler {
  return {
    kind: 'pull_request.comment',
    async handle(ctx) {
      const { executionId, pullRequestId, note, issuedAt } = ctx.payload;
      if (!pullRequestId || !note) return;
      const pr = await loadPullRequest(deps.db, pullRequestId);
      if (!pr || pr.number == null) return;
      const repository = await deps.provider.connect(pr.repository);
      const what = note.rebaseFailed ? 'Keeping this pull request up to date with its base branch failed' : 'Updating this pull request failed';
      const url = await repository.comment(pr.number, `note:${executionId}:${issuedAt}`, `${what}: ${note.message} (\`${note.code}\`). The pull request still holds the previous version.`);
      await recordPullRequestError(deps.db, pullRequestId, note, note.rebaseFailed);
      await recordHistory(deps.db, { executionId, event: 'pull_request.commented', worker: deps.worker, details: { pullRequestId, code: note.code, rebaseFailed: note.rebaseFailed, url } });
      await deps.onCommented?.(pullRequestId);
    },
    async giveUp(ctx, error) {
      ctx.logger.error({ error }, 'could not comment on the pull request');
    },
  };
}
