import type { TestEnvironment } from './environment.js';
import { createExpressRemediation, sql, startPatch } from './flows.js';

/**
 * Helpers for stacks with several worker nodes (StackOptions.nodes, docs/decisions/0021), shared by
 * test/faults/two-nodes.test.ts and scripts/bench-nodes.ts.
 */

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The express executions of node tests bump body-parser only: a minor jump, no agent. */
export const EXPRESS_PATCH = { tier: 'minimal', targets: ['body-parser'] };

/** The node holding each execution's workspace (`workspace_owners`), and how often it was taken over. */
export async function workspaceOwners(env: TestEnvironment, ids: string[]): Promise<Map<string, { node: string; takeovers: number }>> {
  const rows = await sql<{ execution_id: string; node_id: string; takeovers: number }>(env, 'select execution_id, node_id, takeovers from workspace_owners where execution_id = any($1)', [ids]);
  return new Map(rows.map((r) => [r.execution_id, { node: r.node_id, takeovers: r.takeovers }]));
}

/**
 * Waits until `check` holds, polling every 200 ms.
 * @throws Error naming `what` after `timeoutMs` (default 90 s).
 */
export async function until(what: string, check: () => Promise<boolean>, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

/**
 * Starts `count` express executions (EXPRESS_PATCH) whose workspaces `node` makes: the other
 * nodes' git-gateways (`others`) are stopped meanwhile and started again afterwards.
 * @returns the execution ids, once `node` holds each workspace.
 */
export async function executionsOnNode(env: TestEnvironment, node: string, others: string[], count: number): Promise<string[]> {
  for (const o of others) await env.stack.stopOne(`git-gateway@${o}`);
  const ids: string[] = [];
  for (let i = 0; i < count; i++) ids.push(await startPatch(env, (await createExpressRemediation(env)).remediationId, EXPRESS_PATCH));
  await until(`node ${node} holding ${count} workspaces`, async () => [...(await workspaceOwners(env, ids)).values()].filter((o) => o.node === node).length === count);
  for (const o of others) await env.stack.restart(`git-gateway@${o}`);
  return ids;
}

/** Execution ids among `ids` with an unfinished attempt at `step` (e.g. `committing`). */
export async function midStep(env: TestEnvironment, ids: string[], step: string): Promise<Set<string>> {
  const rows = await sql<{ execution_id: string }>(env, 'select execution_id from step_attempts where execution_id = any($1) and step = $2 and finished_at is null', [ids, step]);
  return new Set(rows.map((r) => r.execution_id));
}

/**
 * The first step attempt of each execution started after `since` (the step running again after a
 * node was killed), with its worker (`<service>:<pid>`).
 */
export async function firstAttemptsAfter(env: TestEnvironment, ids: string[], since: Date) {
  return sql<{ execution_id: string; worker: string; started_at: Date }>(
    env,
    'select distinct on (execution_id) execution_id, worker, started_at from step_attempts where execution_id = any($1) and started_at > $2 order by execution_id, started_at',
    [ids, since],
  );
}
