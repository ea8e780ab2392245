import { timeGit } from '@remediation/metrics';
import type { CommandHandler } from '@remediation/messaging';
import { patchRef } from '@remediation/contracts';
import { InvalidInputError } from '@remediation/errors';
import {
  type NewPatchVersion,
  assertApprovable,
  insertIteration,
  loadPushContext,
  nextIterationNumber,
  pullRequestFailed,
  recordPush,
} from '@remediation/persistence';
import { assertRepositoryAllowed, ensureMirror, resolveBranch } from '../adapters/mirror.js';
import { rebasePatch } from '../adapters/rebase.js';
import { pushBranch, remoteBranchSha } from '../adapters/push.js';
import { checkpointRef, deleteCheckpoint } from '../adapters/workspace/index.js';
import { removeWorkspace } from './release.js';
import { type GatewayDeps, remoteCredentials } from './workspace.js';

/**
 * Re-applies the patch on the base branch's new head (the command's `onConflict: 'reapply'`):
 * drops this node's workspace and checkpoint (they are on the old base), records the
 * `rebase_reapply` iteration (the patcher re-runs the deterministic bumps on the new head and the
 * agent re-does the previous version's code changes, given its diff) and reports
 * `rebase.conflicted` with the new base commit (the state machine moves to `workspace`).
 */
async function reapplyOnNewHead(
  ctx: Parameters<CommandHandler['handle']>[0],
  deps: GatewayDeps,
  input: { executionId: string; mirrorPath: string; baseBranch: string; fromVersion: number; head: string; reason: string },
): Promise<void> {
  await removeWorkspace(deps, input.executionId);
  await deleteCheckpoint({ mirrorPath: input.mirrorPath, ref: checkpointRef(input.executionId) }).catch(() => undefined);
  const iteration = await nextIterationNumber(deps.db, input.executionId);
  const message = `${input.baseBranch} moved to ${input.head.slice(0, 12)} and patch version ${input.fromVersion} does not rebase cleanly (${input.reason}): re-applying it on the new head`;
  await ctx.transition({
    executionId: input.executionId,
    event: { type: 'rebase.conflicted', error: { code: 'REBASE_CONFLICT', message }, iteration },
    details: { head: input.head, fromVersion: input.fromVersion, iteration, reason: input.reason },
    set: { baseCommit: input.head },
    mutate: (tx) =>
      insertIteration(tx, { executionId: input.executionId, number: iteration, reason: 'rebase_reapply', feedbackId: null, baseVersion: input.fromVersion, detail: input.reason }),
  });
}

/**
 * `branch.push`: executes the command's push instruction (decided by the state machine, see
 * `PushInstruction`): pushes `push.patchVersion` to the pull request's head branch on the
 * codebase's remote, with a lease: the branch must be absent, already at our SHA (nothing to do),
 * or at one of this execution's earlier patch versions; a branch holding anything else is someone
 * else's: refused with `BRANCH_NOT_OURS`. Only an approvable version is pushed
 * (`assertApprovable`). When the base branch moved since the version was made, the version is
 * first rebased server-side onto the current head as a new patch version (or the one already made
 * there is reused); a rebase that cannot be done cleanly fails the step (`REBASE_CONFLICT` /
 * `BASE_REWRITTEN`) or, with `onConflict: 'reapply'`, re-applies the patch on the new head.
 * @throws InvalidInputError `COMMAND_INVALID` (no pull request or no instruction), `REPOSITORY_NOT_ALLOWED`
 *   (codebase policy), `BRANCH_IS_BASE` (the head branch is the base branch),
 *   `PATCH_VERSION_NOT_FOUND`, `PATCH_NOT_APPROVABLE`, `REBASE_CONFLICT`, `BASE_REWRITTEN`, `BRANCH_NOT_OURS`.
 */
export function branchPushHandler(deps: GatewayDeps): CommandHandler {
  return {
    kind: 'branch.push',
    async handle(ctx) {
      const { executionId, remediationId, pullRequestId, push } = ctx.payload;
      if (!pullRequestId) throw new InvalidInputError('COMMAND_INVALID', 'branch.push without pullRequestId');
      if (!push) throw new InvalidInputError('COMMAND_INVALID', 'branch.push without a push instruction (which patch version to push)');
      const { repository, pullRequest: pr, versions } = await loadPushContext(deps.db, { remediationId, executionId, pullRequestId });
      const pv = versions.find((v) => v.version === push.patchVersion);
      if (!pv) throw new InvalidInputError('PATCH_VERSION_NOT_FOUND', `patch version ${push.patchVersion} of ${executionId} not found`);
      assertApprovable(pv);
      assertRepositoryAllowed(repository, deps.repositoryPolicy);
      // Never push onto the base branch (the API refuses it when it knows the base; the default
      // branch is known only here, after cloning): a permanent refusal, not retried.
      if (pr.headBranch === pr.baseBranch) {
        throw new InvalidInputError('BRANCH_IS_BASE', `branch ${pr.headBranch} is the base branch of the pull request; choose another branchName`, {
          details: { branch: pr.headBranch },
        });
      }
      // Credentials minted for this operation (GitHub App installation token) for HTTPS remotes.
      const credentials = await remoteCredentials(deps, repository);
      const mirror = await timeGit(deps.metrics, 'mirror_fetch', () =>
        ensureMirror({
          dataRoot: deps.dataRoot,
          repository,
          ...(credentials ? { credentials } : {}),
          ...(deps.mirrorSource ? { source: deps.mirrorSource } : {}),
        }),
      );
      // Keep the pull request free of unrelated changes: when the base branch moved since the
      // patch was made, rebase it server-side onto the current head first (a new patch version).
      const head = await resolveBranch({ mirrorPath: mirror.mirrorPath, branch: pr.baseBranch });
      let toPush: { version: number; sha: string } = pv;
      let rebased: NewPatchVersion | null = null;
      if (head.commit !== pv.baseCommit) {
        // A version already made on this head (a re-application, or a rebase whose push failed):
        // the newest one.
        const onHead = versions.filter((v) => v.baseCommit === head.commit && v.version > pv.version).sort((a, b) => b.version - a.version)[0];
        if (onHead) {
          assertApprovable(onHead);
          toPush = onHead;
        } else {
          const version = Math.max(...versions.map((v) => v.version)) + 1;
          const ref = patchRef(executionId, version);
          const r = await timeGit(deps.metrics, 'rebase', () =>
            rebasePatch({ mirrorPath: mirror.mirrorPath, patchCommit: pv.sha, oldBase: pv.baseCommit, newBase: head.commit, ref, author: deps.commitAuthor }),
          );
          if (r.kind === 'rebased') {
            // Same change as the version it rebases: the same proof and agent work. It delivers
            // that version's iteration when the pull request does not show that version yet (a
            // review version rebased on its way: the reply is posted); a rebase of the version the
            // pull request shows delivers none.
            rebased = {
              executionId,
              version,
              ref,
              sha: r.sha,
              baseCommit: head.commit,
              changedPaths: r.changedPaths,
              proof: pv.proof,
              proofPassed: pv.proofPassed,
              iteration: pv.version !== pr.patchVersion ? (pv.iteration ?? null) : null,
              agent: pv.agent ?? null,
            };
            toPush = rebased;
          } else if (r.kind === 'up-to-date') {
            // Nothing to move (the version already sits on the head): pushed as it is.
          } else if (push.onConflict === 'reapply') {
            await reapplyOnNewHead(ctx, deps, {
              executionId,
              mirrorPath: mirror.mirrorPath,
              baseBranch: pr.baseBranch,
              fromVersion: pv.version,
              head: head.commit,
              reason: r.kind === 'conflict' ? `conflicts in ${r.paths.join(', ')}` : 'the base branch history was rewritten',
            });
            return;
          } else if (r.kind === 'conflict') {
            throw new InvalidInputError(
              'REBASE_CONFLICT',
              `${pr.baseBranch} moved to ${head.commit.slice(0, 12)} and the patch no longer applies cleanly (${r.paths.join(', ')}); start a new execution from the current head`,
              { details: { baseBranch: pr.baseBranch, head: head.commit, paths: r.paths } },
            );
          } else {
            throw new InvalidInputError(
              'BASE_REWRITTEN',
              `${pr.baseBranch} was rewritten (${r.reason}); start a new execution from the current head`,
              { details: { baseBranch: pr.baseBranch, head: head.commit } },
            );
          }
        }
      }
      const remoteSha = await remoteBranchSha({ remote: repository, branch: pr.headBranch, ...(credentials ? { credentials } : {}) });
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
        await timeGit(deps.metrics, 'push', () =>
          pushBranch({
            mirrorPath: mirror.mirrorPath,
            remote: repository,
            ...(credentials ? { credentials } : {}),
            sha: toPush.sha,
            branch: pr.headBranch,
            expectedRemoteSha: remoteSha,
            onProgress: () => ctx.heartbeat(),
          }),
        );
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
        mutate: (tx) => recordPush(tx, { pullRequest: pr, pushed: toPush, rebased }),
      });
    },
    async giveUp(ctx, error) {
      await ctx.transition(pullRequestFailed(ctx.payload.executionId, ctx.payload.pullRequestId, error));
    },
  };
}
