import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { CommandHandler } from '@remediation/messaging';
import { recordHistory } from '@remediation/persistence';
import { readWorkspaceInfo, workspacePaths } from '@remediation/workspaces';
import { unmountWorkspace } from '../adapters/workspace.js';
import type { GatewayDeps } from './workspace.js';

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
      const paths = workspacePaths(deps.localRoot, executionId);
      if (existsSync(paths.infoFile)) {
        const info = await readWorkspaceInfo(paths);
        await unmountWorkspace(
          { executionId, lowerDir: info.lowerDir, upperDir: paths.upperDir, workDir: paths.workDir, mergedDir: paths.mergedDir },
          { removeUpper: true },
        );
      }
      await rm(paths.root, { recursive: true, force: true });
      await recordHistory(deps.db, { executionId, event: 'workspace.released', worker: deps.worker, details: {} });
    },
    async giveUp(ctx, error) {
      ctx.logger.error({ error }, 'could not release the workspace; GC will retry');
    },
  };
}
