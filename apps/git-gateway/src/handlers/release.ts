import type { CommandHandler } from '@remediation/messaging';
import { join } from 'node:path';
import { loadCodebase, loadExecution, recordHistory } from '@remediation/persistence';
import { normalizeRepository } from '../adapters/mirror.js';
import { checkpointRef, deleteCheckpoint, removeWorkspace as removeLocalWorkspace } from '../adapters/workspace/index.js';
import type { GatewayDeps } from './workspace.js';

/**
 * Unmounts the execution's workspace on this node and removes its dirs (upper layer included).
 * Idempotent: a workspace already gone is fine.
 */
export async function removeWorkspace(deps: Pick<GatewayDeps, 'localRoot'>, executionId: string): Promise<void> {
  await removeLocalWorkspace(deps.localRoot, executionId);
}

/**
 * `workspace.release`: after a cancel, unmounts the execution's overlay workspace and removes its
 * upper and work dirs (the mirror and the base snapshot stay: other executions share them).
 * Idempotent: a workspace already gone is fine.
 */
export function workspaceReleaseHandler(deps: GatewayDeps): CommandHandler {
  return {
    kind: 'workspace.release',
    async handle(ctx) {
      const { executionId } = ctx.payload;
      await removeWorkspace(deps, executionId);
      const exec = await loadExecution(deps.db, executionId);
      const { repository } = await loadCodebase(deps.db, exec.remediationId);
      const { repoKey } = await normalizeRepository(repository).catch(() => ({ repoKey: null }));
      if (repoKey) {
        await deleteCheckpoint({ mirrorPath: join(deps.dataRoot, 'mirrors', `${repoKey}.git`), ref: checkpointRef(executionId) }).catch(() => undefined);
      }
      await recordHistory(deps.db, { executionId, event: 'workspace.released', worker: deps.worker, details: {} });
    },
    async giveUp(ctx, error) {
      ctx.logger.error({ error }, 'could not release the workspace; GC will retry');
    },
  };
}
