import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandSubject } from '@remediation/contracts';
import { fixturePath } from '@remediation/testing';
import { type TestEnvironment, git, startTestEnvironment } from '../support/environment.js';
import { api, createExpressRemediation, effects, sql, startPatch, waitFor, waitSettled } from '../support/flows.js';

/**
 * docs/reliability.md scenarios 1, 2, 3, 4 (beyond the duplicate window), 6 and 11, plus retry and
 * cancel, against the real nats-server and PostgreSQL with processes killed and paused for real.
 * Short leases so faults show quickly: ack_wait 2 s, 5 deliveries (headroom for a loaded machine).
 */
let env: TestEnvironment;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  env = await startTestEnvironment(
    'faults-proc',
    // The reconciler is covered by nats.test.ts; here it must not race the redeliveries under test.
    { ACK_WAIT_MS: '2000', MAX_DELIVER: '5', RECONCILE_INTERVAL_MS: '1000', RECONCILE_STALE_MS: '300000', GC_INTERVAL_MS: '1000' },
    { replicas: { planner: 2 } },
  );
}, 180_000);

afterAll(async () => {
  await env?.close();
}, 60_000);

async function exited(name: string): Promise<void> {
  await env.stack.processes.get(name)!.exited;
}

async function attempts(executionId: string) {
  return sql<{ step: string; worker: string; delivery_count: number; lease_attempt: number; outcome: string | null; error_code: string | null }>(
    env,
    'select step, worker, delivery_count, lease_attempt, outcome, error_code from step_attempts where execution_id = $1 order by id',
    [executionId],
  );
}

describe('processes killed and paused', () => {
  it('1. killed after its commit, before the ack: redelivered, no second effect', async () => {
    await env.stack.restart('git-gateway', { FAULT_INJECT: 'after-commit-before-ack@patch.commit=kill' });
    const { remediationId } = await createExpressRemediation(env);
    const id = await startPatch(env, remediationId);
    await exited('git-gateway');
    await env.stack.restart('git-gateway', {});
    const done = await waitSettled(env, id);
    expect(done.state, JSON.stringify(done.error)).toBe('patch_generated');
    await sleep(4000); // past ack_wait: the unacked patch.commit is redelivered and acked without effect
    const e = await effects(env, id);
    expect(e.patchVersions).toBe(1);
    expect(e.refs).toBe(1);
    expect(e.transitions['patch_generated']).toBe(1);
    expect(e.transitions['patch_running/committing']).toBe(1);
    const commits = (await attempts(id)).filter((a) => a.step === 'committing');
    expect(commits).toHaveLength(1); // the redelivery found the step done: nothing claimed
    // The kill came before the checkpoint ref was dropped; GC drops it (a patch version exists).
    const mirrors = join(env.dir, 'data/persistent/mirrors');
    const checkpointRefs = () =>
      readdirSync(mirrors).flatMap((m) => git(['for-each-ref', '--format=%(refname)', `refs/remediations/${remediationId}/`], join(mirrors, m)).split('\n')).filter((r) => r.endsWith('/checkpoint'));
    for (let i = 0; i < 60 && checkpointRefs().length > 0; i++) await sleep(250);
    expect(checkpointRefs()).toEqual([]);
  }, 120_000);

  it('2. killed before its commit: redelivered, exactly one effect', async () => {
    await env.stack.restart('patcher', { FAULT_INJECT: 'before-handle@patch.apply=kill' });
    const { remediationId } = await createExpressRemediation(env);
    const id = await startPatch(env, remediationId);
    await exited('patcher');
    await env.stack.restart('patcher', {});
    const done = await waitSettled(env, id);
    expect(done.state).toBe('patch_generated');
    expect(done.targets.every((t: any) => t.status === 'success')).toBe(true);
    const e = await effects(env, id);
    expect(e.patchVersions).toBe(1);
    expect(e.transitions['patch_running/committing']).toBe(1);
    const edits = (await attempts(id)).filter((a) => a.step === 'editing');
    // The killed delivery was fenced by the next claim; the last one succeeded. On a loaded machine
    // a slow redelivery may also outlive ACK_WAIT (2 s here) and be fenced by a later one: every
    // attempt but the last is fenced, never a second success.
    expect(edits.length).toBeGreaterThanOrEqual(2);
    expect(edits.map((a) => a.outcome)).toEqual([...edits.slice(1).map(() => 'fenced'), 'succeeded']);
    // The same command, delivered again by JetStream (not re-issued): one patch.apply was ever
    // written. Delivery counts are JetStream's to report: a delivery to a client that is gone may
    // be taken back as not delivered (nats-server `didNotDeliver`), so a redelivery may count 1.
    const published = await sql(env, `select count(*)::int as n from outbox where subject like 'remediation.cmd.v1.patch.apply.%' and payload->>'executionId' = $1`, [id]);
    expect(published[0].n).toBe(1);
    expect(edits[0]!.delivery_count).toBe(1);
    const history = await api(env, `/v1/executions/${id}/history`);
    expect(history.body.attempts.filter((a: any) => a.step === 'editing')).toHaveLength(edits.length);
  }, 120_000);

  it('3. a paused worker loses its lease; another finishes; the late commit is refused by the fence', async () => {
    const slow = { FAULT_INJECT: 'before-handle@plan.run=sleep:4000' };
    await Promise.all([env.stack.restart('planner', slow), env.stack.restart('planner#2', slow)]);
    const { planExecutionId } = await createExpressRemediation(env);
    let first: { worker: string } | undefined;
    for (let i = 0; i < 100 && !first; i++) {
      first = (await attempts(planExecutionId))[0];
      if (!first) await sleep(50);
    }
    expect(first).toBeDefined();
    const pid = Number(first!.worker.split(':')[1]);
    const paused = [...env.stack.processes.entries()].find(([, p]) => p.child.pid === pid)![0];
    env.stack.signal(paused, 'SIGSTOP');
    try {
      const rem = await waitFor(env, `/v1/remediations/${planExecutionId.split('.')[0]}`, (b) => b.state !== 'planner_running', 60_000);
      expect(rem.state).toBe('plan_generated');
    } finally {
      env.stack.signal(paused, 'SIGCONT');
    }
    // The paused worker wakes up, redoes its work and is refused at commit.
    await waitFor(env, `/v1/executions/${planExecutionId}/history`, (b) => b.attempts.length >= 2 && b.attempts.every((a: any) => a.finishedAt), 30_000);
    await sleep(6000);
    const all = await attempts(planExecutionId);
    expect(all[0]!.worker).toBe(first!.worker);
    expect(all[0]!.outcome).toBe('fenced');
    expect(all.at(-1)!.outcome).toBe('succeeded');
    expect(all.at(-1)!.worker).not.toBe(first!.worker);
    const e = await effects(env, planExecutionId);
    expect(e.transitions['plan_generated']).toBe(1);
    expect(readFileSync(env.stack.processes.get(paused)!.logFile, 'utf8')).toMatch(/lease lost to another worker|LEASE_LOST/);
    await Promise.all([env.stack.restart('planner', {}), env.stack.restart('planner#2', {})]);
  }, 180_000);

  it('3b. a worker stalled past ack_wait gets its own redelivery: it joins the running delivery, the step is done once, nothing fenced', async () => {
    // The patcher's event loop stops for 2.5 × ack_wait inside the step (a long GC pause, CPU
    // starvation): JetStream redelivers patch.apply, and the only consumer is this same process.
    await env.stack.restart('patcher', { FAULT_INJECT: 'before-handle@patch.apply=block:5000' });
    const { remediationId } = await createExpressRemediation(env);
    const id = await startPatch(env, remediationId);
    const done = await waitSettled(env, id);
    expect(done.state, JSON.stringify(done.error)).toBe('patch_generated');
    await sleep(4000); // past ack_wait: a delivery left unanswered would come back
    const edits = (await attempts(id)).filter((a) => a.step === 'editing');
    expect(edits.map((a) => [a.delivery_count, a.outcome])).toEqual([[1, 'succeeded']]);
    const e = await effects(env, id);
    expect(e.patchVersions).toBe(1);
    expect(e.transitions['patch_running/committing']).toBe(1);
    const log = readFileSync(env.stack.processes.get('patcher')!.logFile, 'utf8');
    expect(log).toMatch(/joined the running delivery/);
    expect(log).not.toMatch(/lease lost to another worker/);
    await env.stack.restart('patcher', {});
  }, 120_000);

  it('4. a command republished after the duplicate window has no second effect', async () => {
    const { remediationId } = await createExpressRemediation(env);
    const id = await startPatch(env, remediationId);
    expect((await waitSettled(env, id)).state).toBe('patch_generated');
    const before = await effects(env, id);
    const nc = await connect({ servers: env.nats.url });
    try {
      const js = jetstream(nc);
      for (const kind of ['workspace.prepare', 'patch.apply', 'patch.commit'] as const) {
        const payload = { kind, remediationId, executionId: id, issuedAt: new Date().toISOString() };
        await js.publish(commandSubject(kind, id), JSON.stringify(payload), { msgID: `replayed-${kind}-${id}` });
      }
    } finally {
      await nc.close();
    }
    await sleep(4000);
    expect(await effects(env, id)).toEqual(before);
    expect((await api(env, `/v1/executions/${id}`)).body.state).toBe('patch_generated');
  }, 120_000);

  it('6. a non-retryable error fails the run at once, with the reason, without retries', async () => {
    const res = await api(env, '/v1/remediations', {
      method: 'POST',
      body: JSON.stringify({
        codebase: { repository: `${env.reposRoot}/nobody/missing.git` },
        scan: JSON.parse(readFileSync(fixturePath('scans/express-4.19.2.cdx.json'), 'utf8')),
      }),
    });
    const id = await startPatch(env, res.body.id);
    const done = await waitSettled(env, id);
    expect(done.state).toBe('patch_failed');
    expect(done.error.code).toBe('REPOSITORY_NOT_FOUND');
    const a = await attempts(id);
    expect(a.map((x) => [x.step, x.delivery_count, x.outcome])).toEqual([['workspace', 1, 'failed']]);
    expect((await api(env, `/v1/dead-letters?executionId=${id}`)).body.deadLetters).toEqual([]);
  }, 60_000);

  it('11. a duplicate submission returns the existing run', async () => {
    const { remediationId } = await createExpressRemediation(env);
    await waitFor(env, `/v1/remediations/${remediationId}`, (b) => b.state === 'plan_generated');
    const send = () =>
      api(env, `/v1/remediations/${remediationId}/executions`, {
        method: 'POST',
        headers: { 'idempotency-key': 'same-click' },
        body: JSON.stringify({ tier: 'minimal' }),
      });
    const results = await Promise.all([send(), send(), send()]);
    expect(new Set(results.map((r) => r.body.id)).size).toBe(1);
    expect(results.map((r) => r.status).sort()).toEqual([200, 200, 202]);
    const rows = await sql(env, `select id from executions where remediation_id = $1 and kind = 'patch'`, [remediationId]);
    expect(rows).toHaveLength(1);
    // Let it finish: the next tests inject faults into services this run would otherwise meet.
    expect((await waitSettled(env, results[0]!.body.id)).state).toBe('patch_generated');
  }, 60_000);
});

describe('a lost node', () => {
  it('12 (without the agent). git-gateway killed and its local root wiped: the workspace is rebuilt from the checkpoint, no re-clone', async () => {
    await env.stack.restart('git-gateway', { FAULT_INJECT: 'before-handle@patch.commit=kill' });
    const { remediationId } = await createExpressRemediation(env);
    const id = await startPatch(env, remediationId);
    await exited('git-gateway'); // died holding patch.commit, after the patcher's edits were checkpointed
    const mirrors = join(env.dir, 'data/persistent/mirrors');
    const mirror = readdirSync(mirrors).map((m) => join(mirrors, m)).find((m) => git(['for-each-ref', '--format=%(refname)', `refs/remediations/${remediationId}/`], m))!;
    expect(git(['for-each-ref', '--format=%(refname)', `refs/remediations/${remediationId}/patch.2/checkpoint`], mirror)).not.toBe('');
    const inode = statSync(mirror).ino;
    // "Another node": the local root is gone (unmount the overlay, delete upper, work and merged).
    const ws = join(env.dir, 'data/local/workspaces', id);
    execFileSync('umount', [join(ws, 'merged')]);
    rmSync(ws, { recursive: true, force: true });
    await env.stack.restart('git-gateway', {});
    const done = await waitSettled(env, id);
    expect(done.state, JSON.stringify(done.error)).toBe('patch_generated');
    const diff = (await api(env, `/v1/executions/${id}/diff`)).body.diff as string;
    expect(diff.split('\n').filter((l) => /^[+]\s/.test(l))).toHaveLength(5);
    const history = (await api(env, `/v1/executions/${id}/history`)).body;
    const committed = history.entries.find((e: any) => e.event === 'patch.committed');
    expect(committed.details.workspace).toBe('checkpoint');
    expect(statSync(mirror).ino).toBe(inode); // the same mirror: not re-cloned
    expect(git(['for-each-ref', '--format=%(refname)', `refs/remediations/${remediationId}/patch.2/checkpoint`], mirror)).toBe('');
  }, 120_000);
});

describe('control', () => {
  it('retry resumes at the step that failed; completed steps are not redone', async () => {
    const { remediationId, bare, owner } = await createExpressRemediation(env);
    // Someone else's branch already holds the name: pushing is refused (not ours).
    const foreign = git(['commit-tree', `${git(['rev-parse', 'master^{tree}'], bare)}`, '-p', 'master', '-m', 'foreign'], bare);
    git(['update-ref', 'refs/heads/fix/taken', foreign], bare);
    const id = await startPatch(env, remediationId, { tier: 'minimal', branchName: 'fix/taken' });
    expect((await waitSettled(env, id)).state).toBe('patch_generated');
    expect((await api(env, `/v1/executions/${id}/pull-requests`, { method: 'POST', body: '{}' })).status).toBe(202);
    const failed = await waitSettled(env, id);
    expect(failed.state).toBe('pr_failed');
    expect(failed.error.code).toBe('BRANCH_NOT_OURS');
    git(['update-ref', '-d', 'refs/heads/fix/taken'], bare);
    const retry = await api(env, `/v1/executions/${id}/retry`, { method: 'POST' });
    expect(retry.status).toBe(202);
    expect(retry.body).toMatchObject({ state: 'pr_opening', step: 'pushing' });
    const done = await waitSettled(env, id);
    expect(done.state).toBe('pr_opened');
    expect(done.pullRequests.at(-1).url).toContain(`/${owner}/express/pull/`);
    const e = await effects(env, id);
    expect(e.patchVersions).toBe(1);
    expect(e.transitions['patch_running/committing']).toBe(1); // not redone
    expect(e.transitions['pr_opening/pushing']).toBe(2); // first try and the retry
    expect((await api(env, `/v1/executions/${id}/retry`, { method: 'POST' })).status).toBe(409);
  }, 120_000);

  it('cancel stops a running execution at its next heartbeat and releases its workspace', async () => {
    await env.stack.restart('patcher', { FAULT_INJECT: 'before-handle@patch.apply=sleep:5000' });
    const { remediationId } = await createExpressRemediation(env);
    const id = await startPatch(env, remediationId);
    // Cancel while the patcher holds the editing step (it sleeps 5 s after claiming it).
    await waitFor(env, `/v1/executions/${id}/history`, (b) => b.attempts.some((a: any) => a.step === 'editing'));
    const res = await api(env, `/v1/executions/${id}/cancel`, { method: 'POST', body: JSON.stringify({ reason: 'changed my mind' }) });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ state: 'patch_cancelled', error: { code: 'CANCELLED', message: 'changed my mind' } });
    const history = await waitFor(env, `/v1/executions/${id}/history`, (b) => b.entries.some((e: any) => e.event === 'workspace.released'), 30_000);
    await waitFor(env, `/v1/executions/${id}/history`, (b) => b.attempts.every((a: any) => a.finishedAt), 30_000);
    const editing = (await attempts(id)).filter((a) => a.step === 'editing');
    expect(editing.at(-1)!.outcome).toBe('cancelled');
    expect(history.state).toBe('patch_cancelled');
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(`/workspaces/${id}/merged`);
    expect((await api(env, `/v1/executions/${id}`)).body.patchVersions).toEqual([]);
    expect((await api(env, `/v1/executions/${id}/cancel`, { method: 'POST', body: '{}' })).status).toBe(409);
    await env.stack.restart('patcher', {});
  }, 120_000);
});

