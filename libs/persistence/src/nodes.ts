import type { Database } from './database.js';

/**
 * Worker nodes and the workspaces they hold (docs/decisions/0021). A node is the git-gateway and
 * patcher processes sharing one `LOCAL_ROOT` under one `NODE_ID`; each of them renews the node's
 * lease (`node_leases.expires_at`) every third of `NODE_LEASE_MS`. An execution's workspace
 * belongs to the node recorded in `workspace_owners`; that node keeps it while its lease is live.
 */

/**
 * Renews `nodeId`'s lease: it expires `leaseMs` from now (the database's clock, so nodes with
 * skewed clocks agree). Creates the row on the node's first renewal.
 */
export async function renewNodeLease(db: Database, nodeId: string, leaseMs: number): Promise<void> {
  await db.em().execute(
    `insert into node_leases (node_id, expires_at) values (?, now() + (? * interval '1 millisecond'))
     on conflict (node_id) do update set renewed_at = now(), expires_at = excluded.expires_at`,
    [nodeId, leaseMs],
  );
}

/** Who holds an execution's workspace after {@link claimWorkspace}. */
export interface WorkspaceClaim {
  /** The node holding the workspace now. */
  owner: string;
  /** `owner` is the asking node. */
  mine: boolean;
  /** The asking node took the workspace over from `previousOwner`, whose lease had expired. */
  takeover: boolean;
  /** The node that held it before a takeover; null otherwise. */
  previousOwner: string | null;
  /**
   * Deliveries of the command `messageId` that reached other nodes and were sent back
   * ({@link recordRedirect}); 0 for another message.
   */
  redirects: number;
}

/**
 * Claims the execution's workspace for `nodeId`, atomically: taken when nobody holds it yet (the
 * first file step, `workspace.prepare`), kept when `nodeId` holds it, taken over when the holder's
 * node lease has expired (or it never had one); otherwise it stays with its live holder and the
 * caller must leave the step to that node. Two nodes taking over at once: the row lock lets one
 * win, the other then sees a live holder.
 * @param messageId the command being handled, to report how often it was sent back before.
 */
export async function claimWorkspace(db: Database, executionId: string, nodeId: string, messageId: string): Promise<WorkspaceClaim> {
  return db.em().transactional(async (tx) => {
    const before = await tx.execute<Array<{ node_id: string; redirect_message_id: string | null; redirects: number }>>(
      'select node_id, redirect_message_id, redirects from workspace_owners where execution_id = ? for update',
      [executionId],
    );
    const prev = before[0];
    const redirects = prev && prev.redirect_message_id === messageId ? prev.redirects : 0;
    if (!prev) {
      // A concurrent first claim of another node wins the insert; ours then reads its row.
      const inserted = await tx.execute<Array<{ node_id: string }>>(
        `insert into workspace_owners (execution_id, node_id) values (?, ?) on conflict (execution_id) do nothing returning node_id`,
        [executionId, nodeId],
      );
      if (inserted[0]) return { owner: nodeId, mine: true, takeover: false, previousOwner: null, redirects: 0 };
      const winner = await tx.execute<Array<{ node_id: string }>>('select node_id from workspace_owners where execution_id = ?', [executionId]);
      return { owner: winner[0]!.node_id, mine: winner[0]!.node_id === nodeId, takeover: false, previousOwner: null, redirects: 0 };
    }
    if (prev.node_id === nodeId) return { owner: nodeId, mine: true, takeover: false, previousOwner: null, redirects };
    const live = await tx.execute<Array<{ live: boolean }>>(
      'select expires_at > now() as live from node_leases where node_id = ?',
      [prev.node_id],
    );
    if (live[0]?.live) return { owner: prev.node_id, mine: false, takeover: false, previousOwner: null, redirects };
    await tx.execute(
      'update workspace_owners set node_id = ?, claimed_at = now(), takeovers = takeovers + 1 where execution_id = ?',
      [nodeId, executionId],
    );
    return { owner: nodeId, mine: true, takeover: true, previousOwner: prev.node_id, redirects };
  });
}

/**
 * Counts one delivery of `messageId` that reached a node not holding the execution's workspace
 * and was sent back to the queue. Counting restarts with each new command of the execution.
 */
export async function recordRedirect(db: Database, executionId: string, messageId: string): Promise<void> {
  await db.em().execute(
    `update workspace_owners set redirects = case when redirect_message_id = ? then redirects + 1 else 1 end,
       redirect_message_id = ? where execution_id = ?`,
    [messageId, messageId, executionId],
  );
}

/** The node holding the execution's workspace, or null when none has claimed it. */
export async function workspaceOwner(db: Database, executionId: string): Promise<string | null> {
  const rows = await db.em().execute<Array<{ node_id: string }>>('select node_id from workspace_owners where execution_id = ?', [executionId]);
  return rows[0]?.node_id ?? null;
}
