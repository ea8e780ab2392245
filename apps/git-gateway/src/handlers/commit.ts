import type { CommandHandler } from '@remediation/messaging';
import { patchRef } from '@remediation/contracts';
import { AgentConversationEntity, ExecutionTargetEntity, FeedbackEntity, PatchVersionEntity } from '@remediation/persistence';
import { checkpointRef, deleteCheckpoint } from '../adapters/workspace/index.js';
import { commitChanges } from '../adapters/commit.js';
import { snapshotIndexPath } from '../adapters/snapshot.js';
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
      const em = deps.db.em();
      const targets = await em.find(ExecutionTargetEntity, { executionId }, { orderBy: { name: 'asc' } });
      const versions = await em.find(PatchVersionEntity, { executionId }, { orderBy: { version: 'desc' }, limit: 1 });
      const version = (versions[0]?.version ?? 0) + 1;
      // The workspace as this node has it: resumed, or rebuilt from its checkpoint (another node).
      const ready = await ensureWorkspace(deps, executionId);
      const scan = await deps.driver.changes(ready.ws);
      const shipped = targets.filter((t) => t.status === 'success');
      // Allowed: the shipped targets' manifests and the code files the agent wrote (its tools
      // are jailed and refuse tests/CI/config unless the execution allows them).
      const conversations = await em.find(AgentConversationEntity, { executionId });
      const feedback = await em.findOne(FeedbackEntity, { executionId, patchVersion: null }, { orderBy: { iteration: 'desc' } });
      const iteration = feedback?.iteration ?? 1;
      const agentPaths = conversations.flatMap((c) => c.changedPaths);
      assertNoExtraneousChanges(scan.changes, scan.forbidden, new Set([...shipped.map((t) => t.manifestPath), ...agentPaths]));
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
      const commit = await commitChanges({
        mirrorPath: ready.mirrorPath,
        baseCommit: ready.baseCommit,
        baseIndex: snapshotIndexPath(ready.ws.lowerDir),
        mergedDir: ready.ws.mergedDir,
        changes: scan.changes,
        ref,
        message: `${subject}\n\n${lines.join('\n')}\n\nRemediation-Execution: ${executionId}\n`,
        author: deps.commitAuthor,
      });
      await ctx.transition({
        executionId,
        event: { type: 'patch.committed', patchVersion: { version, ref, sha: commit.sha } },
        details: { changedPaths: commit.changedPaths, workspace: ready.restoredFrom, iteration, proofPassed: proof.every((p) => p.remediated) },
        mutate: async (tx) => {
          await tx.insert(PatchVersionEntity, {
            executionId,
            version,
            ref,
            sha: commit.sha,
            baseCommit: ready.baseCommit,
            changedPaths: commit.changedPaths,
            createdAt: new Date(),
            proof,
            proofPassed: proof.length > 0 && proof.every((p) => p.remediated),
            feedbackId: feedback?.id ?? null,
            agent,
          } as never);
          if (feedback) await tx.nativeUpdate(FeedbackEntity, { id: feedback.id }, { patchVersion: version });
        },
      });
      // The patch version supersedes the work-in-progress checkpoint.
      await deleteCheckpoint({ mirrorPath: ready.mirrorPath, ref: checkpointRef(executionId) }).catch(() => undefined);
    },
    giveUp: failPatch,
  };
}
