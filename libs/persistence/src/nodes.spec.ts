import { dropDatabase, freshDatabaseUrl } from '@remediation/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, ensureDatabaseExists, migrate, openDatabase } from './database.js';
import { claimWorkspace, recordRedirect, renewNodeLease, workspaceOwner } from './nodes.js';
import { createRemediation } from './remediations.js';

/** Workspace ownership by node leases (docs/decisions/0021) against a real PostgreSQL. */
const databaseUrl = freshDatabaseUrl('nodes');
let db: Database;
const EXEC = 'rem_nodes.plan.1';

const expire = (node: string) => db.em().execute(`update node_leases set expires_at = now() - interval '1 second' where node_id = ?`, [node]);

beforeAll(async () => {
  await ensureDatabaseExists(databaseUrl);
  db = await openDatabase(databaseUrl, { poolMax: 4 });
  await migrate(db);
  await createRemediation(db, { id: 'rem_nodes', codebase: { repository: '/srv/acme/app.git', baseBranch: 'main' }, scan: { bomFormat: 'CycloneDX' }, idempotencyKey: null, worker: 'spec:1' });
}, 60_000);

afterAll(async () => {
  await db?.close();
  await dropDatabase(databaseUrl).catch(() => undefined);
});

describe('workspace owners', () => {
  it('the first node to claim holds the workspace while its lease is live; others are sent back and their returns counted per message', async () => {
    await renewNodeLease(db, 'a', 60_000);
    await renewNodeLease(db, 'b', 60_000);
    expect(await claimWorkspace(db, EXEC, 'a', 'm1')).toEqual({ owner: 'a', mine: true, takeover: false, previousOwner: null, redirects: 0 });
    expect(await claimWorkspace(db, EXEC, 'b', 'm1')).toMatchObject({ owner: 'a', mine: false, takeover: false });
    await recordRedirect(db, EXEC, 'm1');
    await recordRedirect(db, EXEC, 'm1');
    expect(await claimWorkspace(db, EXEC, 'a', 'm1')).toMatchObject({ mine: true, redirects: 2 });
    // A new command starts its own count.
    expect(await claimWorkspace(db, EXEC, 'a', 'm2')).toMatchObject({ mine: true, redirects: 0 });
    await recordRedirect(db, EXEC, 'm2');
    expect(await claimWorkspace(db, EXEC, 'a', 'm2')).toMatchObject({ redirects: 1 });
    expect(await workspaceOwner(db, EXEC)).toBe('a');
  });

  it('a node whose lease expired loses the workspace to the next node that asks, once, even when several ask at once', async () => {
    await renewNodeLease(db, 'c', 60_000);
    await expire('a');
    const claims = await Promise.all([claimWorkspace(db, EXEC, 'b', 'm3'), claimWorkspace(db, EXEC, 'c', 'm3')]);
    const winners = claims.filter((c) => c.mine);
    expect(winners).toHaveLength(1);
    expect(winners[0]).toMatchObject({ takeover: true, previousOwner: 'a' });
    const loser = claims.find((c) => !c.mine)!;
    expect(loser.owner).toBe(winners[0]!.owner);
    expect(await workspaceOwner(db, EXEC)).toBe(winners[0]!.owner);
    const row = (await db.em().execute<Array<{ takeovers: number }>>('select takeovers from workspace_owners where execution_id = ?', [EXEC]))[0]!;
    expect(row.takeovers).toBe(1);
    // The old node coming back (same NODE_ID, lease renewed) does not take it back from a live holder.
    await renewNodeLease(db, 'a', 60_000);
    expect(await claimWorkspace(db, EXEC, 'a', 'm4')).toMatchObject({ mine: false, owner: winners[0]!.owner });
  });

  it('a node that never renewed a lease counts as gone', async () => {
    await db.em().execute(`update workspace_owners set node_id = 'ghost' where execution_id = ?`, [EXEC]);
    expect(await claimWorkspace(db, EXEC, 'a', 'm5')).toMatchObject({ mine: true, takeover: true, previousOwner: 'ghost' });
  });
});
