import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, openDatabase, upsertTenant } from '@remediation/persistence';
import { type TestEnvironment, startTestEnvironment } from '../support/environment.js';
import { api, createExpressRemediation, sql, waitFor } from '../support/flows.js';

/**
 * Issue 12, deliverable 4: `POST /v1/remediations/:id/plans` against the running services. The
 * planner makes a second plan execution of the same remediation (`<id>.plan.<n>`), the remediation
 * shows it, and a patch execution started afterwards takes its targets from it. The first plan is
 * made stale by hand (a target removed from its stored output, as if an advisory were published
 * after it was made), so which plan the patch execution used is visible in its targets.
 * The 409 while a plan runs is in apps/api/src/replan.spec.ts (deterministic there).
 */
let env: TestEnvironment;

beforeAll(async () => {
  env = await startTestEnvironment('replan');
}, 180_000);

afterAll(async () => {
  await env?.close();
}, 60_000);

const names = (targets: Array<{ name: string }>) => targets.map((t) => t.name).sort();

describe('re-planning a remediation', () => {
  it('makes a second plan, shows it, and patch executions started later use it', async () => {
    const { remediationId, planExecutionId } = await createExpressRemediation(env);
    const first = await waitFor(env, `/v1/remediations/${remediationId}`, (b) => b.state === 'plan_generated');
    const all = names(first.plan.targets);
    expect(all).toContain('cookie');
    // The stored first plan predates the cookie advisory (made stale by hand).
    await sql(env, `update executions set plan = jsonb_set(plan, '{targets}', (select jsonb_agg(t) from jsonb_array_elements(plan->'targets') t where t->>'name' <> 'cookie')) where id = $1`, [planExecutionId]);
    expect(names((await api(env, `/v1/remediations/${remediationId}`)).body.plan.targets)).not.toContain('cookie');

    const replan = await api(env, `/v1/remediations/${remediationId}/plans`, { method: 'POST', headers: { 'idempotency-key': 'replan-1' } });
    expect(replan.status).toBe(202);
    expect(replan.body).toMatchObject({ kind: 'plan', remediationId });
    expect(replan.body.id).toMatch(new RegExp(`^${remediationId}\\.plan\\.\\d+$`));
    expect(replan.body.id).not.toBe(planExecutionId);
    // The same key answers the same plan execution.
    const repeated = await api(env, `/v1/remediations/${remediationId}/plans`, { method: 'POST', headers: { 'idempotency-key': 'replan-1' } });
    expect(repeated.status).toBe(200);
    expect(repeated.body.id).toBe(replan.body.id);

    const second = await waitFor(env, `/v1/remediations/${remediationId}`, (b) => b.planExecution.id === replan.body.id && b.state === 'plan_generated');
    expect(names(second.plan.targets)).toEqual(all);
    expect(second.executions.filter((e: { kind: string }) => e.kind === 'plan').map((e: { id: string }) => e.id)).toEqual([planExecutionId, replan.body.id]);
    // The planner made it: its history has the planner's plan.completed.
    const history = await api(env, `/v1/executions/${replan.body.id}/history`);
    expect(history.body.entries.map((e: { event: string }) => e.event)).toEqual(expect.arrayContaining(['plan.requested', 'plan.completed']));

    const patch = await api(env, `/v1/remediations/${remediationId}/executions`, { method: 'POST', body: JSON.stringify({ tier: 'minimal' }) });
    expect(patch.status).toBe(202);
    expect(names(patch.body.targets)).toEqual(all);
    expect(patch.body.targets.find((t: { name: string }) => t.name === 'cookie')).toMatchObject({ from: '0.6.0', to: '0.7.0' });
    await api(env, `/v1/executions/${patch.body.id}/cancel`, { method: 'POST', body: JSON.stringify({ reason: 'test done' }) });
  }, 180_000);

  it("another tenant's remediation answers 404 and gets no plan execution", async () => {
    const { remediationId } = await createExpressRemediation(env);
    const db = await openDatabase(env.databaseUrl, { poolMax: 1 });
    let key: string;
    try {
      await upsertTenant(db, { id: 'globex' });
      ({ key } = await createApiKey(db, { tenant: 'globex', name: 'e2e', scopes: ['admin'] }));
    } finally {
      await db.close();
    }
    const res = await api(env, `/v1/remediations/${remediationId}/plans`, { method: 'POST', headers: { authorization: `Bearer ${key}` } });
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ code: 'NOT_FOUND' });
    const plans = await sql(env, `select id from executions where remediation_id = $1 and kind = 'plan'`, [remediationId]);
    expect(plans).toHaveLength(1);
  }, 120_000);
});
