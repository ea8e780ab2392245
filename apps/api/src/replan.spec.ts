import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PlannerOutput } from '@remediation/contracts';
import { applyTransition, createApiKey, createPatchExecution, createRemediation, planOfExecution, storePlan } from '@remediation/persistence';
import { type ApiUnderTest, apiUnderTest } from '../test-support/api-under-test.js';

/**
 * `POST /v1/remediations/:id/plans` (issue 12, deliverable 4) at the API, over a real database and
 * no NATS: the new plan execution and its `plan.run` command land in the outbox, and the planner's
 * answer is written here the way its handler writes it (`plan.completed` with `storePlan`), so each
 * plan's content is known and the spec can tell which plan a patch execution used. The planner
 * re-planning for real is test/e2e/replan.test.ts.
 */

let api: ApiUnderTest;
const scan = { bomFormat: 'CycloneDX', specVersion: '1.5', components: [] };

/** A plan with one target per name, each fixed in every tier by `<name>@2.0.0`. */
function planOf(names: string[]): PlannerOutput {
  const targets = names.map((name) => {
    const option = { version: '2.0.0', jump: 'major' as const, advisoriesFixed: [`GHSA-${name}`], breakingChangeRisk: 'high' as const, notes: [] };
    return {
      purl: `pkg:npm/${name}@1.0.0`,
      ecosystem: 'npm' as const,
      name,
      currentVersion: '1.0.0',
      manifestPath: 'package.json',
      advisories: [{ id: `GHSA-${name}`, aliases: [], severity: 'high' as const, affectedRanges: ['<2.0.0'], fixedVersions: ['2.0.0'] }],
      tiers: { minimal: option, moderate: option, comprehensive: option },
    };
  });
  const tier = { upgrades: [], advisoriesFixed: [], advisoriesRemaining: [], largestJump: null };
  return {
    schemaVersion: 1,
    targets,
    upgrade_tiers: { minimal: tier, moderate: tier, comprehensive: tier },
    noFixTargets: [],
    transitive: [],
    sources: { advisories: 'osv', registry: 'spec' },
    warnings: [],
  };
}

/** What the planner's `plan.run` handler commits when a plan execution is done. */
async function completePlan(executionId: string, plan: PlannerOutput): Promise<void> {
  await applyTransition(api.db, { executionId, event: { type: 'plan.completed' }, worker: 'spec:planner', mutate: (tx) => storePlan(tx, executionId, plan) });
}

const headers = (tenant?: string, extra: Record<string, string> = {}) => ({ ...api.as(tenant), ...extra });
const replan = (id: string, tenant?: string, extra: Record<string, string> = {}) =>
  api.app.inject({ method: 'POST', url: `/v1/remediations/${id}/plans`, headers: headers(tenant, extra) });
const view = (id: string, tenant?: string) => api.app.inject({ method: 'GET', url: `/v1/remediations/${id}`, headers: headers(tenant) });
const startPatch = (id: string) =>
  api.app.inject({ method: 'POST', url: `/v1/remediations/${id}/executions`, headers: headers(undefined, { 'content-type': 'application/json' }), payload: { tier: 'minimal' } });

beforeAll(async () => {
  api = await apiUnderTest('api_replan', {}, ['acme', 'globex']);
  for (const id of ['rem_a', 'rem_b']) {
    await createRemediation(api.db, { id, tenant: 'acme', codebase: { repository: 'https://github.com/acme/app.git' }, scan, idempotencyKey: null, worker: 'spec:1' });
  }
});
afterAll(async () => {
  await api?.close();
});

describe('POST /v1/remediations/:id/plans', () => {
  it('is refused with 409 PLAN_RUNNING while the first plan is still running, creating nothing', async () => {
    const res = await replan('rem_a');
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({ code: 'PLAN_RUNNING', details: { executionId: 'rem_a.plan.1' } });
    expect((await view('rem_a')).json().executions.map((e: { id: string }) => e.id)).toEqual(['rem_a.plan.1']);
  });

  it('makes a second plan execution; the view shows it, and patch executions started later use its plan', async () => {
    await completePlan('rem_a.plan.1', planOf(['old-only', 'shared']));
    const first = await startPatch('rem_a');
    expect(first.statusCode).toBe(202);
    expect(first.json().targets.map((t: { name: string }) => t.name)).toEqual(['old-only', 'shared']);

    const res = await replan('rem_a');
    expect(res.statusCode).toBe(202);
    const planExecution = res.json();
    expect(planExecution).toMatchObject({ kind: 'plan', state: 'planner_running', remediationId: 'rem_a' });
    expect(planExecution.id).toMatch(/^rem_a\.plan\.\d+$/);
    expect(planExecution.id).not.toBe('rem_a.plan.1');

    // The remediation's state and plan are the new plan execution's: running, no plan yet.
    const running = (await view('rem_a')).json();
    expect(running).toMatchObject({ state: 'planner_running', plan: null, planExecution: { id: planExecution.id } });
    expect(running.executions.map((e: { id: string }) => e.id)).toEqual(['rem_a.plan.1', first.json().id, planExecution.id]);
    // No patch execution from a plan that is not ready; no second re-plan while it runs.
    expect((await startPatch('rem_a')).json()).toMatchObject({ code: 'PLAN_NOT_READY' });
    expect((await replan('rem_a')).statusCode).toBe(409);

    await completePlan(planExecution.id, planOf(['new-only', 'shared']));
    const generated = (await view('rem_a')).json();
    expect(generated).toMatchObject({ state: 'plan_generated', planExecution: { id: planExecution.id } });
    expect(generated.plan.targets.map((t: { name: string }) => t.name)).toEqual(['new-only', 'shared']);
    const later = await startPatch('rem_a');
    expect(later.statusCode).toBe(202);
    expect(later.json().targets.map((t: { name: string }) => t.name)).toEqual(['new-only', 'shared']);
    // The execution started before the re-plan keeps the targets it was made with.
    const before = await api.app.inject({ method: 'GET', url: `/v1/executions/${first.json().id}`, headers: headers() });
    expect(before.json().targets.map((t: { name: string }) => t.name)).toEqual(['old-only', 'shared']);
    // The patcher and pr-service read each execution's own plan (planOfExecution), not the latest.
    expect((await planOfExecution(api.db, first.json().id))?.targets.map((t) => t.name)).toEqual(['old-only', 'shared']);
    expect((await planOfExecution(api.db, later.json().id))?.targets.map((t) => t.name)).toEqual(['new-only', 'shared']);
  });

  it('answers the same plan execution (200) for a repeated Idempotency-Key, and a new one for another key', async () => {
    await completePlan('rem_b.plan.1', planOf(['shared']));
    const once = await replan('rem_b', undefined, { 'idempotency-key': 'k-1' });
    expect(once.statusCode).toBe(202);
    const again = await replan('rem_b', undefined, { 'idempotency-key': 'k-1' });
    expect(again.statusCode).toBe(200);
    expect(again.json().id).toBe(once.json().id);
    // Another key while that plan runs: refused, not answered with the first one.
    expect((await replan('rem_b', undefined, { 'idempotency-key': 'k-2' })).statusCode).toBe(409);
    await completePlan(once.json().id, planOf(['shared']));
    const other = await replan('rem_b', undefined, { 'idempotency-key': 'k-2' });
    expect(other.statusCode).toBe(202);
    expect(other.json().id).not.toBe(once.json().id);
  });

  it('a patch execution whose targets came from a plan that a re-plan replaced meanwhile is refused (PLAN_NOT_READY)', async () => {
    await createRemediation(api.db, { id: 'rem_c', tenant: 'acme', codebase: { repository: 'https://github.com/acme/app.git' }, scan, idempotencyKey: null, worker: 'spec:1' });
    await completePlan('rem_c.plan.1', planOf(['shared']));
    // The API chose the targets from rem_c.plan.1; a re-plan commits before the execution is stored.
    expect((await replan('rem_c')).statusCode).toBe(202);
    const input = { remediationId: 'rem_c', tenant: 'acme', tier: 'minimal' as const, selectedTargets: null, branchName: null, asDraft: false, idempotencyKey: null, allowEdits: [], targets: [] };
    await expect(createPatchExecution(api.db, { ...input, planExecutionId: 'rem_c.plan.1' }, 'spec:1')).rejects.toMatchObject({ code: 'PLAN_NOT_READY' });
    expect((await view('rem_c')).json().executions.filter((e: { kind: string }) => e.kind === 'patch')).toEqual([]);
  });

  it("another tenant's remediation, or an unknown one, is 404 and gets no plan execution", async () => {
    for (const res of [await replan('rem_a', 'globex'), await replan('rem_missing')]) {
      expect(res.statusCode).toBe(404);
      expect(res.json()).toMatchObject({ code: 'NOT_FOUND' });
    }
    expect((await view('rem_a', 'globex')).statusCode).toBe(404);
    const executions = (await view('rem_a')).json().executions as Array<{ kind: string }>;
    expect(executions.filter((e) => e.kind === 'plan')).toHaveLength(2);
  });

  it('needs the remediations:write scope', async () => {
    const { key } = await createApiKey(api.db, { tenant: 'acme', name: 'reader', scopes: ['remediations:read'] });
    const res = await api.app.inject({ method: 'POST', url: '/v1/remediations/rem_a/plans', headers: { 'x-api-key': key } });
    expect(res.statusCode).toBe(403);
  });

  it('is described in the OpenAPI document', () => {
    const doc = api.app.swagger() as unknown as { paths: Record<string, Record<string, { summary: string; responses: Record<string, unknown> }>> };
    const op = doc.paths['/v1/remediations/{id}/plans']!['post']!;
    expect(op.summary).toMatch(/Re-plan/);
    expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['202', '200', '404', '409']));
  });
});
