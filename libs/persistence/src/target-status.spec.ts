import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PlannerOutput } from '@remediation/contracts';
import { dropDatabase, freshDatabaseUrl } from '@remediation/testing';
import { type Database, ensureDatabaseExists, migrate, openDatabase } from './database.js';
import { createPatchExecution, listExecutionTargets, recordTargetOutcomes, storePlan } from './executions.js';
import { createRemediation } from './remediations.js';
import { applyTransition } from './transitions.js';

/**
 * Per-target status follows the patch step (transitions.ts, trackTargetStatus): `pending` until
 * the editing step starts, `running` while it runs, then the outcomes it records; a step that fails
 * or is cancelled first leaves no target `running`.
 */
const WORKER = 'spec:1';
const url = freshDatabaseUrl('target_status');
let db: Database;

beforeAll(async () => {
  await ensureDatabaseExists(url);
  db = await openDatabase(url, { poolMax: 4 });
  await migrate(db);
});
afterAll(async () => {
  await db?.close();
  await dropDatabase(url);
});

async function execution(remediationId: string): Promise<string> {
  await createRemediation(db, { id: remediationId, codebase: { repository: '/srv/acme/app.git', baseBranch: 'main' }, scan: {}, idempotencyKey: null, worker: WORKER });
  await applyTransition(db, { executionId: `${remediationId}.plan.1`, event: { type: 'plan.completed' }, worker: WORKER, mutate: (tx) => storePlan(tx, `${remediationId}.plan.1`, { targets: [] } as unknown as PlannerOutput) });
  const target = (name: string, status: 'pending' | 'skipped') => ({ name, manifestPath: 'package.json', fromVersion: '1.0.0', toVersion: '1.0.1', status, reason: status === 'skipped' ? 'not selected' : null, advisories: [], needsAgent: false });
  return createPatchExecution(
    db,
    { remediationId, tier: 'minimal', selectedTargets: ['a', 'b'], branchName: null, asDraft: false, idempotencyKey: null, allowEdits: [], targets: [target('a', 'pending'), target('b', 'pending'), target('c', 'skipped')] },
    WORKER,
  );
}
const statuses = async (id: string) => Object.fromEntries((await listExecutionTargets(db, id)).map((t) => [t.name, [t.status, t.reason]]));
const ready = (id: string) => applyTransition(db, { executionId: id, event: { type: 'workspace.ready', baseCommit: 'a'.repeat(40) }, worker: WORKER, set: { baseCommit: 'a'.repeat(40), baseBranch: 'main' } });

describe('per-target status', () => {
  it('pending → running when the editing step starts → the outcomes the step records', async () => {
    const id = await execution('rem_ts1');
    expect(await statuses(id)).toEqual({ a: ['pending', null], b: ['pending', null], c: ['skipped', 'not selected'] });
    await ready(id);
    expect(await statuses(id)).toEqual({ a: ['running', null], b: ['running', null], c: ['skipped', 'not selected'] });
    await applyTransition(db, {
      executionId: id,
      event: { type: 'patch.applied', changedTargets: 1 },
      worker: WORKER,
      mutate: (tx) =>
        recordTargetOutcomes(tx, id, [
          { name: 'a', status: 'success', reason: null, declaredFrom: '1.0.0', declaredTo: '1.0.1', proof: null },
          { name: 'b', status: 'failed', reason: 'manifest has no b', declaredFrom: null, declaredTo: null, proof: null },
        ]),
    });
    expect(await statuses(id)).toEqual({ a: ['success', null], b: ['failed', 'manifest has no b'], c: ['skipped', 'not selected'] });
  });

  it('a step that fails leaves its running targets failed with the error; a retry runs them again', async () => {
    const id = await execution('rem_ts2');
    await ready(id);
    await applyTransition(db, { executionId: id, event: { type: 'patch.failed', error: { code: 'STEP_TIMEOUT', message: 'step ran longer than 4000 ms' } }, worker: WORKER });
    expect(await statuses(id)).toEqual({
      a: ['failed', 'the step failed: STEP_TIMEOUT: step ran longer than 4000 ms'],
      b: ['failed', 'the step failed: STEP_TIMEOUT: step ran longer than 4000 ms'],
      c: ['skipped', 'not selected'],
    });
    await applyTransition(db, { executionId: id, event: { type: 'retry.requested' }, worker: WORKER });
    expect(await statuses(id)).toEqual({ a: ['running', null], b: ['running', null], c: ['skipped', 'not selected'] });
  });

  it('a cancelled execution leaves its running targets skipped', async () => {
    const id = await execution('rem_ts3');
    await ready(id);
    await applyTransition(db, { executionId: id, event: { type: 'cancel.requested', reason: 'wrong tier' }, worker: WORKER });
    expect(await statuses(id)).toEqual({ a: ['skipped', 'the execution was cancelled: wrong tier'], b: ['skipped', 'the execution was cancelled: wrong tier'], c: ['skipped', 'not selected'] });
  });
});

describe('the ecosystem of a target', () => {
  it('is stored (npm by default) and keys the target with its name, so an npm and a PyPI package of the same name coexist', async () => {
    const remediationId = 'rem_eco';
    await createRemediation(db, { id: remediationId, codebase: { repository: '/srv/acme/app.git', baseBranch: 'main' }, scan: {}, idempotencyKey: null, worker: WORKER });
    await applyTransition(db, { executionId: `${remediationId}.plan.1`, event: { type: 'plan.completed' }, worker: WORKER, mutate: (tx) => storePlan(tx, `${remediationId}.plan.1`, { targets: [] } as unknown as PlannerOutput) });
    const base = { fromVersion: '1.0.0', toVersion: '1.0.1', status: 'pending' as const, reason: null, advisories: [], needsAgent: false };
    const id = await createPatchExecution(
      db,
      {
        remediationId,
        tier: 'minimal',
        selectedTargets: null,
        branchName: null,
        asDraft: false,
        idempotencyKey: null,
        allowEdits: [],
        targets: [
          { ...base, name: 'requests', manifestPath: 'package.json' },
          { ...base, name: 'requests', ecosystem: 'pypi', manifestPath: 'requirements.txt' },
        ],
      },
      WORKER,
    );
    const rows = await listExecutionTargets(db, id);
    expect(rows.map((r) => [r.ecosystem, r.name, r.manifestPath]).sort()).toEqual([
      ['npm', 'requests', 'package.json'],
      ['pypi', 'requests', 'requirements.txt'],
    ]);
  });
});
