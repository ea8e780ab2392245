import type { CommandHandler } from '@remediation/messaging';
import { InvalidInputError } from '@remediation/errors';
import {
  loadExecution,
  PatchVersionEntity,
  PullRequestEntity,
  RemediationEntity,
} from '@remediation/persistence';
import { git } from '../adapters/git.js';
import { ensureMirror } from '../adapters/mirror.js';
import { pushBranch } from '../adapters/push.js';
import type { GatewayDeps } from './workspace.js';

/**
 * `branch.push`: pushes the approved patch version to the pull request's head branch on the
 * codebase's remote, with a lease: the branch must be absent, already at our SHA (nothing to
 * do), or at one of this execution's earlier patch versions. A branch holding anything else is
 * someone else's: refused with `BRANCH_NOT_OURS`.
 */
export function branchPushHandler(deps: GatewayDeps): CommandHandler {
  return {
    kind: 'branch.push',
    async handle(ctx) {
      const { executionId, remediationId, pullRequestId } = ctx.payload;
      if (!pullRequestId) throw new InvalidInputError('COMMAND_INVALID', 'branch.push without pullRequestId');
      await loadExecution(deps.db, executionId);
      const em = deps.db.em();
      const pr = await em.findOneOrFail(PullRequestEntity, { id: pullRequestId });
      const rem = await em.findOneOrFail(RemediationEntity, { id: remediationId });
      const versions = await em.find(PatchVersionEntity, { executionId });
      const pv = versions.find((v) => v.version === pr.patchVersion);
      if (!pv) throw new InvalidInputError('PATCH_VERSION_NOT_FOUND', `patch version ${pr.patchVersion} of ${executionId} not found`);
      const mirror = await ensureMirror({ dataRoot: deps.dataRoot, repository: rem.codebase.repository, ...(deps.mirrorSource ? { source: deps.mirrorSource } : {}) });
      const lsRemote = await git(['ls-remote', '--heads', rem.codebase.repository, `refs/heads/${pr.headBranch}`]);
      const remoteSha = lsRemote.stdout.split(/\s+/)[0] || null;
      ctx.heartbeat();
      if (remoteSha !== pv.sha) {
        const ours = new Set(versions.map((v) => v.sha));
        if (remoteSha !== null && !ours.has(remoteSha)) {
          throw new InvalidInputError(
            'BRANCH_NOT_OURS',
            `branch ${pr.headBranch} already exists on the remote at ${remoteSha}, which is not a patch version of ${executionId}; choose another branchName`,
            { details: { branch: pr.headBranch, remoteSha } },
          );
        }
        await pushBranch({
          mirrorPath: mirror.mirrorPath,
          remote: rem.codebase.repository,
          sha: pv.sha,
          branch: pr.headBranch,
          expectedRemoteSha: remoteSha,
          onProgress: () => ctx.heartbeat(),
        });
      }
      await ctx.transition({
        executionId,
        event: { type: 'branch.pushed', pullRequestId },
        details: { branch: pr.headBranch, sha: pv.sha, previousRemoteSha: remoteSha },
      });
    },
    async giveUp(ctx, error) {
      const { executionId, pullRequestId } = ctx.payload;
      await ctx.transition({
        executionId,
        event: { type: 'pull_request.failed', pullRequestId: pullRequestId ?? '', error },
        mutate: async (tx) => {
          if (pullRequestId) await tx.nativeUpdate(PullRequestEntity, { id: pullRequestId }, { state: 'failed', updatedAt: new Date() });
        },
      });
    },
  };
}
