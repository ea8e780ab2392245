import type { CommandHandler } from '@remediation/messaging';
import { patchRef } from '@remediation/contracts';
import { InvalidInputError } from '@remediation/errors';
import {
  PatchVersionEntity,
  PullRequestEntity,
  RemediationEntity,
  insertFeedback,
  loadExecution,
  nextFeedbackIteration,
  pullRequestFailed,
} from '@remediation/persistence';
import { ensureMirror, resolveBranch } from '../adapters/mirror.js';
import { rebasePatch } from '../adapters/rebase.js';
import { pushBranch, remoteBranchSha } from '../adapters/push.js';
import { checkpointRef, deleteCheckpoint } from '../adapters/workspace/index.js';
import { removeWorkspace } from './release.js';
import { type GatewayDeps, remoteCredentials } from './workspace.js';

/**
 * Starts the re-application of the patch on the base branch's new head: drops this node's
 * workspace (it is on the old base), records a `rebase` feedback (the next iteration: the patcher
 * re-runs the deterministic bumps on the new head and the agent re-does the previous version's
 * code changes, given its diff) and moves the execution to `pr_updating`/`workspace` with the new
 * base commit (`rebase.conflicted`).
 */
async function reapplyOnNewHead(
  ctx: Parameters<CommandHandler['handle']>[0],
  deps: GatewayDeps,
  input: { executionId: string; mirrorPath: string; pr: { baseBranch: string }; pv: { version: number }; head: string; reason: string },
): Promise<void> {
  await removeWorkspace(deps, input.executionId);
  await deleteCheckpoint({ mirrorPath: input.mirrorPath, ref: checkpointRef(input.executionId) }).catch(() => undefined);
  const iteration = await nextFeedbackIteration(deps.db.em(), input.executionId);
  const message = `${input.pr.baseBranch} moved to ${input.head.slice(0, 12)} and patch version ${input.pv.version} does not rebase cleanly (${input.reason}): re-applying it on the new head`;
  await ctx.transition({
    executionId: input.executionId,
    event: { type: 'rebase.conflicted', error: { code: 'REBASE_CONFLICT', message }, iteration },
    details: { head: input.head, fromVersion: input.pv.version, iteration, reason: input.reason },
    set: { baseCommit: input.head },
    mutate: async (tx) => {
      await insertFeedback(tx, {
        executionId: input.executionId,
        iteration,
        source: 'rebase',
        text: `The base branch ${input.pr.baseBranch} moved and the previous patch version no longer applies (${input.reason}). Re-apply the same change on the new code: the manifest bumps were re-run; re-do the code changes of the previous version shown below where they are still needed.`,
        comments: [],
        baseVersion: input.pv.version,
      });
    },
  });
}

/**
 * Only a version that passes its proof of remediation goes to a pull request.
 * @throws InvalidInputError `PATCH_NOT_APPROVABLE` naming the targets whose proof failed.
 */
function assertApprovable(v: { version: number; proofPassed: boolean; proof: Array<{ target: string; remediated: boolean; reason: string }> }, where = ''): void {
  if (v.proofPassed) return;
  throw new InvalidInputError('PATCH_NOT_APPROVABLE', `patch version ${v.version}${where} fails its proof of remediation: ${v.proof.filter((p) => !p.remediated).map((p) => `${p.target}: ${p.reason}`).join('; ')}`);
}

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
      const exec = await loadExecution(deps.db, executionId);
      // Opening pushes the approved version; a review iteration pushes the version it just made
      // (only if it passes its proof of remediation); a rebase moves the PR's current version.
      const wanted = exec.state === 'changes_requested' ? Math.max(...versions.map((v) => v.version)) : pr.patchVersion;
      const pv = versions.find((v) => v.version === wanted);
      if (!pv) throw new InvalidInputError('PATCH_VERSION_NOT_FOUND', `patch version ${wanted} of ${executionId} not found`);
      assertApprovable(pv);
      // Credentials minted for this operation (GitHub App installation token) for HTTPS remotes.
      const credentials = await remoteCredentials(deps, rem.codebase.repository);
      const mirror = await ensureMirror({
        dataRoot: deps.dataRoot,
        repository: rem.codebase.repository,
        ...(credentials ? { credentials } : {}),
        ...(deps.mirrorSource ? { source: deps.mirrorSource } : {}),
      });
      // Keep the pull request free of unrelated changes: when the base branch moved since the
      // patch was made, rebase it server-side onto the current head first (a new patch version).
      const head = await resolveBranch({ mirrorPath: mirror.mirrorPath, branch: pr.baseBranch });
      let toPush: { version: number; sha: string } = pv;
      let rebased: { version: number; ref: string; sha: string; baseCommit: string; changedPaths: string[] } | null = null;
      if (head.commit !== pv.baseCommit) {
        // A version already made on this head (a re-application, or a rebase whose push failed):
        // the newest one, pushed only if it passes its proof of remediation.
        const onHead = versions.filter((v) => v.baseCommit === head.commit && v.version > pv.version).sort((a, b) => b.version - a.version)[0];
        if (onHead) {
          assertApprovable(onHead, ` (on ${head.commit.slice(0, 12)})`);
          toPush = onHead;
        } else {
          const version = Math.max(...versions.map((v) => v.version)) + 1;
          const ref = patchRef(executionId, version);
          const r = await rebasePatch({ mirrorPath: mirror.mirrorPath, patchCommit: pv.sha, oldBase: pv.baseCommit, newBase: head.commit, ref, author: deps.commitAuthor });
          if (r.kind === 'rebased') {
            rebased = { version, ref, sha: r.sha, baseCommit: head.commit, changedPaths: r.changedPaths };
            toPush = rebased;
          } else if (exec.state === 'pr_updating') {
            // An open PR whose base moved and no longer takes the patch: re-apply it on the new
            // head (fresh workspace, bumps re-run, agent changes re-done) as a new patch version.
            await reapplyOnNewHead(ctx, deps, { executionId, mirrorPath: mirror.mirrorPath, pr: { baseBranch: pr.baseBranch }, pv, head: head.commit, reason: r.kind === 'conflict' ? `conflicts in ${r.paths.join(', ')}` : 'the base branch history was rewritten' });
            return;
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
      const remoteSha = await remoteBranchSha({ remote: rem.codebase.repository, branch: pr.headBranch, ...(credentials ? { credentials } : {}) });
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
          ...(credentials ? { credentials } : {}),
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
            // Same change as the version it rebases: the same proof and the same agent work; a review
            // version rebased on its way to the PR still answers that review (the reply links it).
            const feedbackId = exec.state === 'changes_requested' ? (pv.feedbackId ?? null) : null;
            await tx.insert(PatchVersionEntity, { executionId, ...rebased, createdAt: new Date(), proof: pv.proof, proofPassed: pv.proofPassed, feedbackId, agent: pv.agent ?? null } as never);
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
