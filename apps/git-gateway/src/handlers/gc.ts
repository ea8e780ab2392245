import { TERMINAL_STATES } from '@remediation/contracts';
import { describeError } from '@remediation/errors';
import { type Database, ExecutionEntity } from '@remediation/persistence';
import type { Logger } from 'pino';
import { collectMirrors, collectSnapshots, collectWorkspaces } from '../adapters/gc.js';

/**
 * Periodic GC of git-gateway's disks: workspaces of executions that ended more than the
 * retention ago, snapshots unused for a period (never one a workspace still uses), `git gc --auto`
 * on mirrors (refs anchor every gateway commit, so nothing a ref needs is lost).
 */
export function startGc(o: {
  db: Database;
  logger: Logger;
  dataRoot: string;
  localRoot: string;
  intervalMs: number;
  workspaceRetentionMs: number;
  snapshotUnusedMs: number;
}): { stop(): Promise<void> } {
  let running: Promise<void> = Promise.resolve();
  const endedAt = async (executionId: string): Promise<Date | null> => {
    const row = await o.db.em().findOne(ExecutionEntity, { id: executionId });
    if (!row) return new Date(0); // unknown execution (database reset): nothing will resume it
    return TERMINAL_STATES.has(row.state) ? (row.completedAt ?? row.updatedAt) : null;
  };
  const pass = async () => {
    const workspaces = await collectWorkspaces({ localRoot: o.localRoot, retentionMs: o.workspaceRetentionMs, endedAt });
    const snapshots = await collectSnapshots({ dataRoot: o.dataRoot, localRoot: o.localRoot, unusedForMs: o.snapshotUnusedMs });
    const mirrors = await collectMirrors({ dataRoot: o.dataRoot });
    if (workspaces.length || snapshots.length) o.logger.info({ workspaces, snapshots, mirrors: mirrors.length }, 'gc pass');
  };
  const timer = setInterval(() => {
    running = pass().catch((err) => o.logger.warn({ err: describeError(err) }, 'gc pass failed'));
  }, o.intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
