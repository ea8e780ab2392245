import type { NatsConnection } from '@nats-io/nats-core';
import { WORKSPACE_RPC_SUBJECTS, WorkspaceReply } from '@remediation/contracts';
import { RemediationError, TransientError, describeError } from '@remediation/errors';

/** A workspace as git-gateway made it ready on this node. */
export interface WorkspaceHandle {
  mergedDir: string;
  lowerDir: string;
  restoredFrom?: 'existing' | 'checkpoint' | 'empty';
  sha?: string | null;
}

async function call(nc: NatsConnection, subject: string, executionId: string, timeoutMs: number): Promise<WorkspaceHandle> {
  let reply: WorkspaceReply;
  try {
    const msg = await nc.request(subject, JSON.stringify({ executionId }), { timeout: timeoutMs });
    reply = WorkspaceReply.parse(msg.json());
  } catch (err) {
    throw new TransientError('WORKSPACE_UNREACHABLE', `git-gateway did not answer ${subject}: ${describeError(err)}`);
  }
  if (!reply.ok) throw new RemediationError(reply.code, reply.message, { retryable: reply.retryable });
  return reply;
}

/**
 * Asks git-gateway (which owns workspaces) to make the execution's workspace ready: resumed, or
 * rebuilt from the base snapshot and the last checkpoint after a lost node. Never a re-clone.
 * @param timeoutMs up to 5 min by default (a rebuild extracts a snapshot).
 * @throws TransientError `WORKSPACE_UNREACHABLE`; the gateway's own error otherwise.
 */
export function ensureWorkspace(nc: NatsConnection, executionId: string, timeoutMs = 300_000): Promise<WorkspaceHandle> {
  return call(nc, WORKSPACE_RPC_SUBJECTS.ensure, executionId, timeoutMs);
}

/** Asks git-gateway to checkpoint the workspace (a work-in-progress commit on a ref). */
export function checkpointWorkspace(nc: NatsConnection, executionId: string, timeoutMs = 300_000): Promise<WorkspaceHandle> {
  return call(nc, WORKSPACE_RPC_SUBJECTS.checkpoint, executionId, timeoutMs);
}
