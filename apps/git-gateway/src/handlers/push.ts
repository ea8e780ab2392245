import type { CommandHandler } from '@remediation/messaging';
import { patchRef } from '@remediation/contracts';
import { InvalidInputError } from '@remediation/errors';
import {
  PatchVersionEntity,
  PullRequestEntity,
  pullRequestFailed,
  RemediationEntity,
} from '@remediation/persistence';
import { git } from '../adapters/git.js';
import { ensureMirror, resolveBranch } from '../adapters/mirror.js';
import { rebasePatch } from '../adapters/rebase.js';
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
      const em = deps.db.em();
      const pr = await em.findOneOrFail(PullRequestEntity, { id: pullRequestId });
      const rem = await em.findOneOrFail(RemediationEntity, { id: remediationId });
      const versions = await em.find(PatchVersionEntity, { executionId });
      const pv = versions.find((v) => v.version === pr.patchVersion);
      if (!pv) throw new InvalidInputError('PATCH_VERSION_NOT_FOUND', `patch version ${pr.patchVersion} of ${executionId} not found`);
      const mirror = await ensureMirror({ dataRoot: deps.dataRoot, repository: rem.codebase.repository, ...(deps.mirrorSource ? { source: deps.mirrorSource } : {}) });
      // Keep the pull request free of unrelated changes: when the base branch moved since the
      // patch was made, rebase it server-side onto the current head first (a new patch version).
      const head = await resolveBranch({ mirrorPath: mirror.mirrorPath, branch: pr.baseBranch });
      let toPush: { version: number; sha: string } = pv;
      let rebased: { version: number; ref: string; sha: string; baseCommit: string; changedPaths: string[] } | null = null;
      if (head.commit !== pv.baseCommit) {
        const onHead = versions.find((v) => v.baseCommit === head.commit && v.version > pv.version);
        if (onHead) {
          toPush = onHead;
        } else {
          const version = Math.max(...versions.map((v) => v.version)) + 1;
          const ref = patchRef(executionId, version);
          const r = await rebasePatch({ mirrorPath: mirror.mirrorPath, patchCommit: pv.sha, oldBase: pv.baseCommit, newBase: head.commit, ref, author: deps.commitAuthor });
          if (r.kind === 'rebased') {
            rebased = { version, ref, sha: r.sha, baseCommit: head.commit, changedPaths: r.changedPaths };
            toPush = rebased;
          } else if (r.kind === 'conflict') {
            throw new InvalidInputError(
              'REBASE_CONFLICT',
              `${pr.baseBranch} moved to ${head.commit.slice(0, 12)} and the patch no longer applies cleanly (${r.paths.join(', ')}); start a new execution from the current head`,
              { details: { baseBranch: pr.baseBranch, head: head.commit, paths: r.paths } },
            );
          } else if (r.kind === 'rewritten') {
            throw new InvalidInputError(
              'BASE_REWRITTEN',
              `${pr.baseBranch} was rewritten (${r.reason}); start a new execution from the current head`,
              { details: { baseBranch: pr.baseBranch, head: head.commit } },
            );
          }
        }
      }
      const lsRemote = await git(['ls-remote', '--heads', rem.codebase.repository, `refs/heads/${pr.headBranch}`]);
      const remoteSha = lsRemote.stdout.split(/\s+/)[0] || null;
      ctx.heartbeat();
      if (remoteSha !== toPush.sha) {
        const ours = new Set([...versions.map((v) => v.sha), toPush.sha]);
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
          sha: toPush.sha,
          branch: pr.headBranch,
          expectedRemoteSha: remoteSha,
          onProgress: () => ctx.heartbeat(),
        });
      }
      await ctx.transition({
        executionId,
        event: { type: 'branch.pushed', pullRequestId },
        details: {
          branch: pr.headBranch,
          sha: toPush.sha,
          patchVersion: toPush.version,
          previousRemoteSha: remoteSha,
          ...(rebased ? { rebased: { from: pv.version, onto: rebased.baseCommit } } : {}),
        },
        mutate: async (tx) => {
          if (rebased) {
            await tx.insert(PatchVersionEntity, { executionId, ...rebased, createdAt: new Date() } as never);
          }
          if (toPush.version !== pr.patchVersion) {
            await tx.nativeUpdate(PullRequestEntity, { id: pullRequestId }, { patchVersion: toPush.version, headSha: toPush.sha, updatedAt: new Date() });
          }
        },
      });
    },
    async giveUp(ctx, error) {
      await ctx.transition(pullRequestFailed(ctx.payload.executionId, ctx.payload.pullRequestId, error));
    },
  };
}
