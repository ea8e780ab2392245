import { join, resolve } from 'node:path';
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import { ACTIVE_STATES, WORKSPACE_RPC_SUBJECTS, type WorkspaceReply, WorkspaceRequest, type WorkspaceRpc, nodeWorkspaceSubject } from '@remediation/contracts';
import { InvalidInputError, RemediationError, describeError, isRemediationError } from '@remediation/errors';
import { type Database, latestPatchVersionOn, loadCodebase, loadExecution, workspaceOwner } from '@remediation/persistence';
import type { Logger } from 'pino';
import { readCommitAt } from '../adapters/commit.js';
import { normalizeRepository } from '../adapters/mirror.js';
import { ensureBaseSnapshot } from '../adapters/snapshot.js';
import { checkpointRef, checkpointWorkspace, restoreWorkspace, type Workspace, type WorkspaceDriver } from '../adapters/workspace/index.js';
import { touchSnapshot } from '../adapters/gc.js';

/** A workspace ready on this node, with what it was made from. */
export interface ReadyWorkspace {
  ws: Workspace;
  mirrorPath: string;
  baseCommit: string;
  restoredFrom: 'existing' | 'checkpoint' | 'empty';
}

/**
 * Makes the execution's workspace ready on this node, from persistent state only: the mirror
 * (must already hold the base commit) and the base snapshot (re-extracted if GC removed it).
 * Resumes an existing workspace (same node, after a restart), or rebuilds it from the last
 * checkpoint (another node, or a wiped local root). Never clones or fetches.
 * @throws InvalidInputError `WORKSPACE_NOT_PREPARED` when the execution has no base commit yet.
 */
export async function ensureWorkspace(
  deps: { db: Database; dataRoot: string; localRoot: string; driver: WorkspaceDriver },
  executionId: string,
  /** The base to use when the execution has none recorded yet (workspace.prepare). */
  base?: { commit: string; branch: string },
): Promise<ReadyWorkspace> {
  const row = await loadExecution(deps.db, executionId);
  if (!ACTIVE_STATES.has(row.state)) {
    // A cancelled or finished execution's workspace is released, never made ready again.
    throw new InvalidInputError('EXECUTION_NOT_RUNNING', `execution ${executionId} is ${row.state}: its workspace is not available`);
  }
  const exec = { ...row, baseCommit: row.baseCommit ?? base?.commit ?? null, baseBranch: row.baseBranch ?? base?.branch ?? null };
  if (!exec.baseCommit || !exec.baseBranch) {
    throw new InvalidInputError('WORKSPACE_NOT_PREPARED', `execution ${executionId} has no workspace yet (no base commit)`);
  }
  const { repository } = await loadCodebase(deps.db, exec.remediationId);
  const { repoKey } = await normalizeRepository(repository);
  const mirrorPath = join(resolve(deps.dataRoot), 'mirrors', `${repoKey}.git`);
  const lowerDir = await ensureBaseSnapshot({ dataRoot: deps.dataRoot, repoKey, mirrorPath, commit: exec.baseCommit });
  await touchSnapshot(lowerDir);
  // The last checkpoint, else (a feedback iteration after the workspace was collected) the
  // latest patch version made on the same base commit: both are commits on the base.
  let ref = checkpointRef(executionId);
  if ((await readCommitAt(mirrorPath, ref)) === null) {
    const latest = await latestPatchVersionOn(deps.db, executionId, exec.baseCommit);
    if (latest) ref = latest.ref;
  }
  const restored = await restoreWorkspace({
    localRoot: deps.localRoot,
    executionId,
    lowerDir,
    mirrorPath,
    baseCommit: exec.baseCommit,
    ref,
    driver: deps.driver,
  });
  return { ws: restored.ws, mirrorPath, baseCommit: exec.baseCommit, restoredFrom: restored.restoredFrom };
}

/**
 * Serves the workspace RPCs for the patcher (ensure before editing, checkpoint after each edit
 * step), queue group `git-gateway`, on two subjects each:
 * - `remediation.rpc.v1.workspace.<NODE_ID>.ensure|checkpoint`, this node's (docs/decisions/0021):
 *   refused with retryable `WORKSPACE_HELD_ELSEWHERE` when another node holds the execution's
 *   workspace (this node's step was taken over: its late checkpoint must not overwrite the new
 *   holder's);
 * - `remediation.rpc.v1.workspace.ensure|checkpoint`, any gateway's (one-node deployments).
 */
export function serveWorkspaces(
  nc: NatsConnection,
  deps: { db: Database; dataRoot: string; localRoot: string; driver: WorkspaceDriver; commitAuthor: { name: string; email: string }; nodeId: string },
  logger: Logger,
): Subscription[] {
  const serve = (subject: string, fn: (executionId: string) => Promise<WorkspaceReply>, held: boolean) =>
    nc.subscribe(subject, {
      queue: 'git-gateway',
      callback: (err, msg) => {
        if (err) return;
        void (async () => {
          let reply: WorkspaceReply;
          try {
            const { executionId } = WorkspaceRequest.parse(msg.json());
            if (held) {
              const owner = await workspaceOwner(deps.db, executionId);
              if (owner !== null && owner !== deps.nodeId) {
                throw new RemediationError('WORKSPACE_HELD_ELSEWHERE', `the workspace of ${executionId} is held by node ${owner}, not ${deps.nodeId}`, { retryable: true });
              }
            }
            reply = await fn(executionId);
          } catch (e) {
            logger.warn({ err: describeError(e), subject }, 'workspace request failed');
            reply = { ok: false, code: isRemediationError(e) ? e.code : 'WORKSPACE_FAILED', message: describeError(e), retryable: isRemediationError(e) ? e.retryable : true };
          }
          msg.respond(JSON.stringify(reply));
        })();
      },
    });
  const rpcs: Record<WorkspaceRpc, (executionId: string) => Promise<WorkspaceReply>> = {
    ensure: async (executionId) => {
      const r = await ensureWorkspace(deps, executionId);
      return { ok: true, mergedDir: r.ws.mergedDir, lowerDir: r.ws.lowerDir, restoredFrom: r.restoredFrom };
    },
    checkpoint: async (executionId) => {
      const r = await ensureWorkspace(deps, executionId);
      const cp = await checkpointWorkspace({
        mirrorPath: r.mirrorPath,
        baseCommit: r.baseCommit,
        ws: r.ws,
        driver: deps.driver,
        ref: checkpointRef(executionId),
        author: deps.commitAuthor,
      });
      return { ok: true, mergedDir: r.ws.mergedDir, lowerDir: r.ws.lowerDir, sha: cp.sha };
    },
  };
  return (Object.keys(rpcs) as WorkspaceRpc[]).flatMap((rpc) => [
    serve(nodeWorkspaceSubject(deps.nodeId, rpc), rpcs[rpc], true),
    serve(WORKSPACE_RPC_SUBJECTS[rpc], rpcs[rpc], false),
  ]);
}
