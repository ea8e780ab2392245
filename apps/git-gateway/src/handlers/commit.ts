import type { CommandHandler } from '@remediation/messaging';
import { patchRef } from '@remediation/contracts';
import {
  loadExecution,
  ExecutionTargetEntity,
  PatchVersionEntity,
  RemediationEntity,
} from '@remediation/persistence';
import { readWorkspaceInfo, workspacePaths } from '@remediation/workspaces';
import { commitChanges } from '../adapters/commit.js';
import { ensureMirror } from '../adapters/mirror.js';
import { readUpperChanges } from '../adapters/upper-reader.js';
import { assertNoExtraneousChanges } from './guard.js';
import { type GatewayDeps, failPatch } from './workspace.js';

/**
 * `patch.commit`: turns the workspace's upper layer into one commit on the base commit with git
 * plumbing, anchored by `refs/remediations/<remediation>/<execution>/v<n>`, after the
 * extraneous-change guard. Records the patch version (ref + SHA) with `patch.committed`.
 */
export function patchCommitHandler(deps: GatewayDeps): CommandHandler {
  return {
    kind: 'patch.commit',
    async handle(ctx) {
      const { executionId, remediationId } = ctx.payload;
      await loadExecution(deps.db, executionId);
      const em = deps.db.em();
      const rem = await em.findOneOrFail(RemediationEntity, { id: remediationId });
      const targets = await em.find(ExecutionTargetEntity, { executionId }, { orderBy: { name: 'asc' } });
      const versions = await em.find(PatchVersionEntity, { executionId }, { orderBy: { version: 'desc' }, limit: 1 });
      const version = (versions[0]?.version ?? 0) + 1;
      const paths = workspacePaths(deps.localRoot, executionId);
      const info = await readWorkspaceInfo(paths);
      const scan = await readUpperChanges({ upperDir: paths.upperDir, lowerDir: info.lowerDir, mergedDir: paths.mergedDir });
      const shipped = targets.filter((t) => t.status === 'success');
      assertNoExtraneousChanges(scan.changes, scan.forbidden, new Set(shipped.map((t) => t.manifestPath)));
      const mirror = await ensureMirror({ dataRoot: deps.dataRoot, repository: rem.codebase.repository, ...(deps.mirrorSource ? { source: deps.mirrorSource } : {}) });
      const ref = patchRef(executionId, version);
      const lines = shipped.map((t) => `- ${t.name} ${t.fromVersion} → ${t.toVersion}${t.advisories.length ? ` (${t.advisories.join(', ')})` : ''}`);
      const subject =
        shipped.length === 1
          ? `fix(deps): upgrade ${shipped[0]!.name} to ${shipped[0]!.toVersion}`
          : `fix(deps): upgrade ${shipped.length} vulnerable dependencies`;
      ctx.heartbeat();
      const commit = await commitChanges({
        mirrorPath: mirror.mirrorPath,
        baseCommit: info.baseCommit,
        mergedDir: paths.mergedDir,
        changes: scan.changes,
        ref,
        message: `${subject}\n\n${lines.join('\n')}\n\nRemediation-Execution: ${executionId}\n`,
        author: deps.commitAuthor,
      });
      await ctx.transition({
        executionId,
        event: { type: 'patch.committed', patchVersion: { version, ref, sha: commit.sha } },
        details: { changedPaths: commit.changedPaths },
        mutate: async (tx) => {
          await tx.insert(PatchVersionEntity, {
            executionId,
            version,
            ref,
            sha: commit.sha,
            baseCommit: info.baseCommit,
            changedPaths: commit.changedPaths,
            createdAt: new Date(),
          } as never);
        },
      });
    },
    giveUp: failPatch,
  };
}
