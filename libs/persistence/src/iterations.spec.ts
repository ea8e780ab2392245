import { dropDatabase, freshDatabaseUrl } from '@remediation/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PlannerOutput, TargetProof } from '@remediation/contracts';
import { type Database, ensureDatabaseExists, migrate, openDatabase } from './database.js';
import { applyTransition } from './transitions.js';
import { createRemediation } from './remediations.js';
import { createPatchExecution, loadExecutionWithTargets, recordTargetOutcomes, storePlan } from './executions.js';
import { assertApprovable, loadPatchVersion, recordPatchVersion, recordPush } from './patch-versions.js';
import { currentIteration, insertIteration, loadVersionIteration, nextFeedbackIteration, nextIterationNumber, startFeedbackIteration } from './iterations.js';
import { finishConversation, listConversations, loadConversation, markConversationResumed, saveConversation, startConversation } from './agent-conversations.js';
import { getExecutionView } from './views.js';

/**
 * The persistence surface against a real PostgreSQL (TEST_DATABASE_URL, default the local server):
 * migration 0005 carries old feedback rows over to iterations; the named functions keep an
 * iteration's reason, feedback and version together; typed inserts store JSON as JSON.
 */

const WORKER = 'spec:1';
const sha = (c: string) => c.repeat(40);
const proof: TargetProof[] = [{ target: 'cookie', remediated: true, declared: ['dependencies: 0.7.0'], lowestAdmissible: '0.7.0', reason: 'ok' }];

async function sql<T = Record<string, unknown>>(db: Database, text: string, params: unknown[] = []): Promise<T[]> {
  return db.em().getConnection().execute<T[]>(text, params);
}

/** A patch execution at `patch_generated` with version 1 (on base `a…`). */
async function generatedExecution(db: Database, remediationId: string): Promise<string> {
  await createRemediation(db, { id: remediationId, codebase: { repository: '/srv/acme/app.git', baseBranch: 'main' }, scan: { bomFormat: 'CycloneDX' }, idempotencyKey: null, worker: WORKER });
  await applyTransition(db, { executionId: `${remediationId}.plan.1`, event: { type: 'plan.completed' }, worker: WORKER, mutate: (tx) => storePlan(tx, `${remediationId}.plan.1`, { targets: [] } as unknown as PlannerOutput) });
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
      targets: [{ name: 'cookie', manifestPath: 'package.json', fromVersion: '0.6.0', toVersion: '0.7.0', status: 'pending', reason: null, advisories: ['GHSA-pxg6-pf52-xh8x'], needsAgent: false }],
    },
    WORKER,
  );
  await applyTransition(db, { executionId: id, event: { type: 'workspace.ready', baseCommit: sha('a') }, worker: WORKER, set: { baseCommit: sha('a'), baseBranch: 'main' } });
  await applyTransition(db, {
    executionId: id,
    event: { type: 'patch.applied', changedTargets: 1 },
    worker: WORKER,
    mutate: (tx) => recordTargetOutcomes(tx, id, [{ name: 'cookie', status: 'success', reason: null, declaredFrom: '0.6.0', declaredTo: '0.7.0', proof: proof[0]! }]),
  });
  await commit(db, id, 1, sha('1'));
  return id;
}

/** Commits version `version` of the current iteration (as git-gateway's `patch.commit` does). */
async function commit(db: Database, executionId: string, version: number, commitSha: string): Promise<void> {
  const current = await currentIteration(db, executionId);
  await applyTransition(db, {
    executionId,
    event: { type: 'patch.committed', patchVersion: { version, ref: `refs/remediations/x/patch.2/v${version}`, sha: commitSha } },
    worker: WORKER,
    mutate: (tx) =>
      recordPatchVersion(tx, {
        executionId,
        version,
        ref: `refs/remediations/x/patch.2/v${version}`,
        sha: commitSha,
        baseCommit: sha('a'),
        changedPaths: ['package.json'],
        proof,
        proofPassed: true,
        iteration: current?.number ?? null,
        agent: null,
      }),
  });
}

describe('migration 0005: feedback rows become iterations', () => {
  const url = freshDatabaseUrl('mig');
  let db: Database;
  beforeAll(async () => {
    await ensureDatabaseExists(url);
    db = await openDatabase(url, { poolMax: 2 });
    await db.orm.migrator.up({ to: '0004-pull-requests' });
  });
  afterAll(async () => {
    await db?.close();
    await dropDatabase(url);
  });

  it('carries api/github feedback over as user_feedback/review iterations and a rebase row as a rebase_reapply iteration without feedback', async () => {
    await sql(db, `insert into remediations (id, codebase, scan) values ('rem_m', '{"repository":"/r"}', '{}')`);
    await sql(db, `insert into executions (id, remediation_id, kind, state) values ('rem_m.patch.2', 'rem_m', 'patch', 'pr_opened')`);
    const [api] = await sql<{ id: string }>(db, `insert into feedback (execution_id, iteration, source, text, base_version, patch_version) values ('rem_m.patch.2', 2, 'api', 'use HS256', 1, 2) returning id`);
    const [gh] = await sql<{ id: string }>(db, `insert into feedback (execution_id, iteration, source, text, base_version, patch_version) values ('rem_m.patch.2', 3, 'github', 'add a comment', 2, 3) returning id`);
    const [rb] = await sql<{ id: string }>(db, `insert into feedback (execution_id, iteration, source, text, base_version, patch_version) values ('rem_m.patch.2', 4, 'rebase', 'the base moved', 3, 4) returning id`);
    for (const [v, fid] of [[1, null], [2, api!.id], [3, gh!.id], [4, rb!.id]] as const) {
      await sql(db, `insert into patch_versions (execution_id, version, ref, sha, base_commit, changed_paths, feedback_id) values ('rem_m.patch.2', ?, 'r', ?, ?, '[]', ?)`, [v, sha(String(v)), sha('a'), fid]);
    }
    expect(await migrate(db)).toEqual(['0005-iterations', '0006-tenancy', '0007-advisory-database', '0008-advisory-lookup', '0009-execution-target-ecosystem', '0012-advisory-key-ranges', '0013-execution-target-fix', '0016-retention', '0017-node-workspaces', '0019-execution-retention']);
    // Migration 0006: rows made before tenancy belong to the `default` tenant.
    expect(await sql(db, `select r.tenant_id as r, e.tenant_id as e from remediations r join executions e on e.remediation_id = r.id`)).toEqual([{ r: 'default', e: 'default' }]);
    const iterations = await sql(db, `select number, reason, feedback_id, base_version, patch_version from iterations order by number`);
    expect(iterations).toEqual([
      { number: 2, reason: 'user_feedback', feedback_id: api!.id, base_version: 1, patch_version: 2 },
      { number: 3, reason: 'review', feedback_id: gh!.id, base_version: 2, patch_version: 3 },
      { number: 4, reason: 'rebase_reapply', feedback_id: null, base_version: 3, patch_version: 4 },
    ]);
    expect(await sql(db, `select version, iteration from patch_versions order by version`)).toEqual([
      { version: 1, iteration: null },
      { version: 2, iteration: 2 },
      { version: 3, iteration: 3 },
      { version: 4, iteration: 4 },
    ]);
    expect((await sql<{ source: string }>(db, `select source from feedback order by id`)).map((r) => r.source)).toEqual(['api', 'github']);
    const view = await getExecutionView(db, 'rem_m.patch.2');
    expect(view.patchVersions.map((v) => [v.version, v.iteration?.reason ?? null, v.feedback?.source ?? null])).toEqual([
      [1, null, null],
      [2, 'user_feedback', 'api'],
      [3, 'review', 'github'],
      [4, 'rebase_reapply', null],
    ]);
    expect(view.feedback.map((f) => [f.iteration, f.baseVersion, f.patchVersion])).toEqual([
      [2, 1, 2],
      [3, 2, 3],
    ]);
  });

  it('migrates down to the feedback rows it came from, and up again', async () => {
    await db.orm.migrator.down({ to: '0004-pull-requests' });
    expect(await sql(db, `select iteration, source, base_version, patch_version from feedback order by iteration`)).toEqual([
      { iteration: 2, source: 'api', base_version: 1, patch_version: 2 },
      { iteration: 3, source: 'github', base_version: 2, patch_version: 3 },
      { iteration: 4, source: 'rebase', base_version: 3, patch_version: 4 },
    ]);
    const linked = await sql<{ version: number; iteration: number | null }>(db, `select pv.version, f.iteration from patch_versions pv left join feedback f on f.id = pv.feedback_id order by pv.version`);
    expect(linked).toEqual([
      { version: 1, iteration: null },
      { version: 2, iteration: 2 },
      { version: 3, iteration: 3 },
      { version: 4, iteration: 4 },
    ]);
    expect(await migrate(db)).toEqual(['0005-iterations', '0006-tenancy', '0007-advisory-database', '0008-advisory-lookup', '0009-execution-target-ecosystem', '0012-advisory-key-ranges', '0013-execution-target-fix', '0016-retention', '0017-node-workspaces', '0019-execution-retention']);
    expect((await getExecutionView(db, 'rem_m.patch.2')).iterations.map((i) => i.reason)).toEqual(['user_feedback', 'review', 'rebase_reapply']);
  });
});

describe('iterations through the named functions', () => {
  const url = freshDatabaseUrl('iter');
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

  it('feedback through the API: a feedback row and a user_feedback iteration, closed by the version it makes', async () => {
    const id = await generatedExecution(db, 'rem_a');
    expect(await currentIteration(db, id)).toBeNull();
    expect(await nextIterationNumber(db, id)).toBe(2);
    const body = await startFeedbackIteration(db, { executionId: id, worker: WORKER, source: 'api', text: 'Use HS256.', comments: [{ path: 'index.js', line: 3, body: 'here' }] });
    expect(body).toMatchObject({ iteration: 2, source: 'api', baseVersion: 1, patchVersion: null, text: 'Use HS256.' });
    expect(await currentIteration(db, id)).toEqual({
      number: 2,
      reason: 'user_feedback',
      baseVersion: 1,
      detail: null,
      feedback: { text: 'Use HS256.', comments: [{ path: 'index.js', line: 3, body: 'here' }] },
    });
    await applyTransition(db, { executionId: id, event: { type: 'patch.applied', changedTargets: 1 }, worker: WORKER });
    await commit(db, id, 2, sha('2'));
    expect(await currentIteration(db, id)).toBeNull();
    const view = await getExecutionView(db, id);
    expect(view).toMatchObject({ state: 'patch_generated', tier: 'minimal', upgradeOption: 'minimal' });
    expect(view.patchVersions[1]).toMatchObject({ version: 2, feedback: { id: body.id, iteration: 2, patchVersion: 2 }, iteration: { number: 2, reason: 'user_feedback', feedbackId: body.id, patchVersion: 2 } });
    expect(view.iterations).toHaveLength(1);
    expect(await loadVersionIteration(db, id, 2)).toMatchObject({ iteration: { reason: 'user_feedback' }, feedback: { text: 'Use HS256.' } });
    expect(await loadVersionIteration(db, id, 1)).toBeNull();
  });

  it('a re-application is an iteration without feedback; the shared numbering continues; a rebased copy of a version the PR shows delivers none', async () => {
    const id = await generatedExecution(db, 'rem_b');
    const em = db.em();
    expect(await nextFeedbackIteration(em, id)).toBe(2);
    await em.transactional((tx) => insertIteration(tx, { executionId: id, number: 2, reason: 'rebase_reapply', feedbackId: null, baseVersion: 1, detail: 'conflicts in package.json' }));
    expect(await currentIteration(db, id)).toEqual({ number: 2, reason: 'rebase_reapply', baseVersion: 1, detail: 'conflicts in package.json', feedback: null });
    expect(await nextFeedbackIteration(db.em(), id)).toBe(3);
    // Only a re-application goes without feedback (database check).
    await expect(db.em().transactional((tx) => insertIteration(tx, { executionId: id, number: 3, reason: 'review', feedbackId: null, baseVersion: 1 }))).rejects.toThrow();
    await db.em().transactional((tx) =>
      recordPush(tx, {
        pullRequest: { id: 'pr_none', patchVersion: 1 },
        pushed: { version: 1, sha: sha('1') },
        rebased: { executionId: id, version: 2, ref: 'r2', sha: sha('2'), baseCommit: sha('b'), changedPaths: ['package.json'], proof, proofPassed: true, iteration: null, agent: null },
      }),
    );
    const view = await getExecutionView(db, id);
    expect(view.patchVersions[1]).toMatchObject({ version: 2, feedback: null, iteration: null });
    expect(view.iterations).toEqual([expect.objectContaining({ number: 2, reason: 'rebase_reapply', feedbackId: null, patchVersion: null, detail: 'conflicts in package.json' })]);
  });

  it('one approvability check: a version failing its proof is refused with the failing targets', async () => {
    const id = await generatedExecution(db, 'rem_c');
    const { patchVersion, execution, codebase } = await loadPatchVersion(db, id);
    expect(patchVersion.version).toBe(1);
    expect(execution.id).toBe(id);
    expect(codebase.repository).toBe('/srv/acme/app.git');
    expect(() => assertApprovable(patchVersion)).not.toThrow();
    const failing = { ...patchVersion, proofPassed: false, proof: [{ ...proof[0]!, remediated: false, reason: 'still admits 0.6.0' }] };
    expect(() => assertApprovable(failing)).toThrow(expect.objectContaining({ code: 'PATCH_NOT_APPROVABLE', message: expect.stringContaining('cookie: still admits 0.6.0') }));
    await expect(loadPatchVersion(db, id, 9)).rejects.toMatchObject({ code: 'PATCH_NOT_READY' });
    await expect(loadPatchVersion(db, 'rem_none.patch.2')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('agent conversations round-trip as JSON; a second start keeps the first', async () => {
    const id = await generatedExecution(db, 'rem_d');
    const deterministic = [{ name: 'cookie', status: 'success' as const, reason: null, declaredFrom: '0.6.0', declaredTo: '0.7.0' }];
    await startConversation(db, { executionId: id, iteration: 1, deterministic, usage: { inputTokens: 0, outputTokens: 0 } });
    await saveConversation(db, id, 1, { conversation: [{ role: 'user', content: 'fix it' }], usage: { inputTokens: 10, outputTokens: 2 }, turns: 1, changedPaths: ['lib/a.js'] });
    await startConversation(db, { executionId: id, iteration: 1, deterministic: [], usage: {} });
    expect(await loadConversation(db, id, 1)).toEqual({
      conversation: [{ role: 'user', content: 'fix it' }],
      usage: { inputTokens: 10, outputTokens: 2 },
      turns: 1,
      resumes: 0,
      changedPaths: ['lib/a.js'],
      deterministic,
      result: null,
    });
    expect((await listConversations(db, id)).map((c) => c.iteration)).toEqual([1]);
    const { targets } = await loadExecutionWithTargets(db, id);
    expect(targets).toEqual([expect.objectContaining({ name: 'cookie', status: 'success', declaredTo: '0.7.0', proof: proof[0] })]);
  });

  it('conversation writes are fenced by the step lease: a delivery that lost its step writes nothing', async () => {
    const id = await generatedExecution(db, 'rem_f');
    await startConversation(db, { executionId: id, iteration: 1, deterministic: [], usage: {} });
    await sql(db, `update executions set lease_owner = 'patcher:2', lease_attempt = 7 where id = ?`, [id]);
    const progress = (text: string) => ({ conversation: [{ role: 'user', content: text }], usage: { inputTokens: 1 }, turns: 1, changedPaths: [] });
    await saveConversation(db, id, 1, progress('by the owner'), { owner: 'patcher:2', attempt: 7 });
    await markConversationResumed(db, id, 1, { owner: 'patcher:2', attempt: 7 });
    const stale = { owner: 'patcher:1', attempt: 6 };
    await expect(saveConversation(db, id, 1, progress('by the stale delivery'), stale)).rejects.toMatchObject({ code: 'LEASE_LOST' });
    await expect(markConversationResumed(db, id, 1, stale)).rejects.toMatchObject({ code: 'LEASE_LOST' });
    await expect(finishConversation(db, id, 1, { outcome: 'completed', detail: '', model: 'm', turns: 1, toolCalls: 0, inputTokens: 1, outputTokens: 1, costUsd: 0, resumes: 0 }, stale)).rejects.toMatchObject({ code: 'LEASE_LOST' });
    expect(await loadConversation(db, id, 1)).toMatchObject({ conversation: [{ role: 'user', content: 'by the owner' }], resumes: 1, result: null });
  });
});
