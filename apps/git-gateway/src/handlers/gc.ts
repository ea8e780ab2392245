import { MAINTENANCE_STATES, TERMINAL_STATES } from '@remediation/contracts';
import { describeError } from '@remediation/errors';
import { type Database, findExecution } from '@remediation/persistence';
import type { Logger } from 'pino';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { deleteCheckpoint } from '../adapters/workspace/index.js';
import { collectMirrors, collectSnapshots, collectWorkspaces } from '../adapters/gc.js';
import { git } from '../adapters/git.js';

/**
 * States whose run may still resume from its checkpoint: an iteration running or failed (retry
 * resumes it), and an open PR's review iteration or re-application.
 */
const CHECKPOINTED_STATES: ReadonlySet<string> = new Set(['patch_running', 'patch_failed', ...MAINTENANCE_STATES]);

/**
 * Periodic GC of git-gateway's disks: workspaces of executions that ended more than the
 * retention ago, checkpoint refs no run needs any more (a patch version superseded them, the run
 * was cancelled, or its workspace was released), snapshots unused for a period (never one a workspace still uses), `git gc --auto`
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
    const row = await findExecution(o.db, executionId);
    if (!row) return new Date(0); // unknown execution (database reset): nothing will resume it
    return TERMINAL_STATES.has(row.state) ? (row.completedAt ?? row.updatedAt) : null;
  };
  /** Checkpoint refs no run needs: its patch version exists (or it was cancelled), or its workspace is gone. */
  const collectCheckpoints = async (released: Set<string>): Promise<string[]> => {
    const root = join(o.dataRoot, 'mirrors');
    if (!existsSync(root)) return [];
    const deleted: string[] = [];
    for (const m of await readdir(root)) {
      if (!m.endsWith('.git')) continue;
      const refs = (await git(['for-each-ref', '--format=%(refname)', 'refs/remediations/'], { gitDir: join(root, m) })).stdout
        .split('\n')
        .filter((r) => r.endsWith('/checkpoint'));
      for (const ref of refs) {
        const [, , remediationId, run] = ref.split('/');
        const executionId = `${remediationId}.${run}`;
        const row = await findExecution(o.db, executionId);
        const needed = row && CHECKPOINTED_STATES.has(row.state) && !released.has(executionId);
        if (needed) continue;
        await deleteCheckpoint({ mirrorPath: join(root, m), ref });
        deleted.push(executionId);
      }
    }
    return deleted;
  };
  const pass = async () => {
    const workspaces = await collectWorkspaces({ localRoot: o.localRoot, retentionMs: o.workspaceRetentionMs, endedAt });
    const checkpoints = await collectCheckpoints(new Set(workspaces));
    const snapshots = await collectSnapshots({ dataRoot: o.dataRoot, localRoot: o.localRoot, unusedForMs: o.snapshotUnusedMs });
    const mirrors = await collectMirrors({ dataRoot: o.dataRoot });
    if (workspaces.length || snapshots.length || checkpoints.length) {
      o.logger.info({ workspaces, snapshots, checkpoints, mirrors: mirrors.length }, 'gc pass');
    }
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
