import type { NatsConnection } from '@nats-io/nats-core';
import { DIFF_RPC_SUBJECT, DiffReply, type DiffRequest, WORKSPACE_RPC_SUBJECTS, WorkspaceReply, type WorkspaceRpc, nodeWorkspaceSubject } from '@remediation/contracts';
import { RemediationError, TransientError, describeError } from '@remediation/errors';

/**
 * The one client of git-gateway's request/reply RPCs (core NATS, queue group `git-gateway`), used by
 * the patcher (workspaces, the previous version's diff) and the API (`GET /v1/executions/:id/diff`).
 */

/** A workspace as git-gateway made it ready on this node. */
export interface WorkspaceHandle {
  mergedDir: string;
  lowerDir: string;
  restoredFrom?: 'existing' | 'checkpoint' | 'empty';
  sha?: string | null;
}

/** A git-gateway reply: the answer, or its refusal (`retryable` when git-gateway says so). */
type GatewayReply = { ok: true } | { ok: false; code: string; message: string; retryable?: boolean };

/**
 * One request to git-gateway, retried: each try waits at most `perTryMs` (a git-gateway killed mid-
 * request never answers, and waiting out a long timeout would hold the step's lease while nothing
 * happens), then asks again — the requests are idempotent — until `totalMs` has passed.
 * `onWait` is called between tries (the caller's heartbeat: it throws once the step is cancelled).
 * @throws TransientError `unreachableCode` when no try got an answer; RemediationError with
 *   git-gateway's code when it refuses.
 */
async function call<R extends GatewayReply>(
  nc: NatsConnection,
  subject: string,
  payload: object,
  parse: (json: unknown) => R,
  options: { perTryMs?: number; totalMs?: number; onWait?: () => void; unreachableCode: string },
): Promise<Extract<R, { ok: true }>> {
  const perTryMs = options.perTryMs ?? 30_000;
  const deadline = Date.now() + (options.totalMs ?? 300_000);
  let lastError = '';
  for (let attempt = 1; Date.now() < deadline; attempt++) {
    let reply: R | null = null;
    try {
      const msg = await nc.request(subject, JSON.stringify(payload), { timeout: perTryMs });
      reply = parse(msg.json());
    } catch (err) {
      lastError = describeError(err);
    }
    if (reply) {
      if (!reply.ok) throw new RemediationError(reply.code, reply.message, reply.retryable === undefined ? {} : { retryable: reply.retryable });
      return reply as Extract<R, { ok: true }>;
    }
    options.onWait?.();
    await new Promise((r) => setTimeout(r, Math.min(2_000, 250 * attempt)));
  }
  throw new TransientError(options.unreachableCode, `git-gateway did not answer ${subject}: ${lastError}`);
}

/** The subject of a workspace RPC: addressed to `nodeId`'s git-gateway, or to any (no node). */
function workspaceSubject(rpc: WorkspaceRpc, nodeId: string | undefined): string {
  return nodeId ? nodeWorkspaceSubject(nodeId, rpc) : WORKSPACE_RPC_SUBJECTS[rpc];
}

/**
 * Asks git-gateway (which owns workspaces) to make the execution's workspace ready: resumed, or
 * rebuilt from the base snapshot and the last checkpoint after a lost node. Never a re-clone.
 * Tries for up to 5 min, 30 s per try (a rebuild extracts a snapshot).
 * @param nodeId the node whose git-gateway is asked (`remediation.rpc.v1.workspace.<node>.ensure`,
 *   docs/decisions/0021): the caller's own node, which holds the workspace. Absent: any gateway
 *   (one-node deployments).
 * @throws TransientError `WORKSPACE_UNREACHABLE`; the gateway's own error otherwise.
 */
export function ensureWorkspace(nc: NatsConnection, executionId: string, onWait?: () => void, nodeId?: string): Promise<WorkspaceHandle> {
  return call(nc, workspaceSubject('ensure', nodeId), { executionId }, (j) => WorkspaceReply.parse(j), { unreachableCode: 'WORKSPACE_UNREACHABLE', ...(onWait ? { onWait } : {}) });
}

/**
 * Asks git-gateway to checkpoint the workspace (a work-in-progress commit on a ref). Tries and
 * addresses `nodeId` like `ensureWorkspace`.
 * @throws TransientError `WORKSPACE_UNREACHABLE`; the gateway's own error otherwise.
 */
export function checkpointWorkspace(nc: NatsConnection, executionId: string, onWait?: () => void, nodeId?: string): Promise<WorkspaceHandle> {
  return call(nc, workspaceSubject('checkpoint', nodeId), { executionId }, (j) => WorkspaceReply.parse(j), { unreachableCode: 'WORKSPACE_UNREACHABLE', ...(onWait ? { onWait } : {}) });
}

/**
 * The unified diff of a patch version (base commit → version commit), asked of git-gateway
 * (`remediation.rpc.v1.diff`, which reads it from the mirror). One try of 30 s: the caller (a
 * step, or an HTTP request) retries as a whole.
 * @param request.repository the codebase's repository (URL or path), as the mirror knows it.
 * @throws TransientError `UPSTREAM_UNAVAILABLE` when git-gateway does not answer in 30 s;
 *   RemediationError with git-gateway's code when it refuses (e.g. an unknown commit).
 */
export async function patchVersionDiff(nc: NatsConnection, request: DiffRequest): Promise<string> {
  return (await call(nc, DIFF_RPC_SUBJECT, request, (j) => DiffReply.parse(j), { perTryMs: 30_000, totalMs: 30_000, unreachableCode: 'UPSTREAM_UNAVAILABLE' })).diff;
}
