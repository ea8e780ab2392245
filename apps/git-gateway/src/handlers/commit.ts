import type { CommandHandler } from '@remediation/messaging';
import { patchRef } from '@remediation/contracts';
import { timeGit } from '@remediation/metrics';
import { currentIteration, listConversations, listExecutionTargets, nextPatchVersionNumber, recordPatchVersion } from '@remediation/persistence';
import { checkpointRef, deleteCheckpoint } from '../adapters/workspace/index.js';
import { commitChanges } from '../adapters/commit.js';
import { assertNoExtraneousChanges } from './guard.js';
import { type GatewayDeps, failPatch } from './workspace.js';
import { ensureWorkspace } from './workspaces.js';

/**
 * `patch.commit`: turns the workspace's upper layer into one commit on the base commit with git
 * plumbing, anchored by `refs/remediations/<remediation>/<execution>/v<n>`, after the
 * extraneous-change guard. Records the patch version (ref + SHA) with `patch.committed`.
 */
export function patchCommitHandler(deps: GatewayDeps): CommandHandler {
  return {
    kind: 'patch.commit',
    async handle(ctx) {
      const { executionId } = ctx.payload;
      const [targets, version] = await Promise.all([listExecutionTargets(deps.db, executionId), nextPatchVersionNumber(deps.db, executionId)]);
      // The workspace as this node has it: resumed, or rebuilt from its checkpoint (another node).
      const ready = await ensureWorkspace(deps, executionId);
      const scan = await deps.driver.changes(ready.ws);
      const shipped = targets.filter((t) => t.status === 'success');
      // Allowed: the shipped targets' manifests and the code files the agent wrote (its tools
      // are jailed and refuse tests/CI/config unless the execution allows them).
      const [conversations, current] = await Promise.all([listConversations(deps.db, executionId), currentIteration(deps.db, executionId)]);
      const iteration = current?.number ?? 1;
      const agentPaths = conversations.flatMap((c) => c.changedPaths);
      assertNoExtraneousChanges(scan.changes, scan.forbidden, new Set([...shipped.flatMap(manifestsOf), ...agentPaths]));
      // Proof of remediation of this version: every shipped target must pass (patcher computed it
      // from the manifests committed here); a version that fails is listed, not approvable.
      const proof = shipped.map((t) => t.proof ?? { target: t.name, remediated: false, declared: [], lowestAdmissible: null, reason: 'no proof was computed' });
      const agent = conversations.find((c) => c.iteration === iteration)?.result ?? null;
      const ref = patchRef(executionId, version);
      const lines = shipped.map((t) => `- ${t.name} ${t.fromVersion} → ${t.toVersion}${t.advisories.length ? ` (${t.advisories.join(', ')})` : ''}`);
      const subject =
        shipped.length === 1
          ? `fix(deps): upgrade ${shipped[0]!.name} to ${shipped[0]!.toVersion}`
          : `fix(deps): upgrade ${shipped.length} vulnerable dependencies`;
      ctx.heartbeat();
      const commit = await timeGit(deps.metrics, 'commit', () => commitChanges({
        mirrorPath: ready.mirrorPath,
        baseCommit: ready.baseCommit,
        mergedDir: ready.ws.mergedDir,
        changes: scan.changes,
        ref,
        message: `${subject}\n\n${lines.join('\n')}\n\nRemediation-Execution: ${executionId}\n`,
        author: deps.commitAuthor,
      }));
      await ctx.transition({
        executionId,
        event: { type: 'patch.committed', patchVersion: { version, ref, sha: commit.sha } },
        details: { changedPaths: commit.changedPaths, workspace: ready.restoredFrom, iteration, proofPassed: proof.every((p) => p.remediated) },
        // The version of the current iteration (which records it as its result).
        mutate: (tx) =>
          recordPatchVersion(tx, {
            executionId,
            version,
            ref,
            sha: commit.sha,
            baseCommit: ready.baseCommit,
            changedPaths: commit.changedPaths,
            proof,
            proofPassed: proof.length > 0 && proof.every((p) => p.remediated),
            iteration: current?.number ?? null,
            agent,
          }),
      });
      // The patch version supersedes the work-in-progress checkpoint.
      await deleteCheckpoint({ mirrorPath: ready.mirrorPath, ref: checkpointRef(executionId) }).catch(() => undefined);
    },
    giveUp: failPatch,
  };
}

/**
 * The manifests a shipped target's deterministic edit may touch: its manifest path, and for an
 * ecosystem other than npm every manifest its proof of remediation checked (`proof.manifests`: the
 * patcher may raise the requirement in an included requirements file or in the manifest that
 * declares it when the plan's does not), and the lockfiles updated with the bump (`proof.lockfiles`).
 */
export function manifestsOf(t: { ecosystem: string; manifestPath: string; proof?: { manifests?: string[] | undefined; lockfiles?: string[] | undefined } | null }): string[] {
  const lockfiles = t.proof?.lockfiles ?? [];
  if (t.ecosystem === 'npm') return [t.manifestPath, ...lockfiles];
  return [t.manifestPath, ...(t.proof?.manifests ?? []), ...lockfiles];
}
