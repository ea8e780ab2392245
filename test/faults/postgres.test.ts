import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TcpProxy, startTcpProxy } from '@remediation/stack';
import { type TestEnvironment, TEST_PG_URL, startTestEnvironment } from '../support/environment.js';
import { api, createExpressRemediation, effects, sql, startPatch, waitFor, waitSettled } from '../support/flows.js';

/**
 * docs/reliability.md scenarios 9 and 10. The services reach PostgreSQL through a TCP proxy owned by
 * the test, so "PostgreSQL is down" affects only this stack; connections are also killed for
 * real with pg_terminate_backend.
 */
let env: TestEnvironment;
let proxy: TcpProxy;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ACK_WAIT_MS = 2000;
const MAX_DELIVER = 3;

beforeAll(async () => {
  proxy = await startTcpProxy(Number(new URL(TEST_PG_URL).port || 5432));
  env = await startTestEnvironment(
    'faults_pg',
    { ACK_WAIT_MS: String(ACK_WAIT_MS), MAX_DELIVER: String(MAX_DELIVER), RECONCILE_INTERVAL_MS: '1000', RECONCILE_STALE_MS: '30000' },
    { databasePort: proxy.port },
  );
}, 180_000);

afterAll(async () => {
  await env?.close();
  await proxy?.close();
}, 60_000);

describe('PostgreSQL faults', () => {
  it('9. connections dropped mid-transaction: rolled back, retried, no half transition', async () => {
    await env.stack.restart('patcher', { FAULT_INJECT: 'before-handle@patch.apply=sleep:1500' });
    const { remediationId } = await createExpressRemediation(env);
    const id = await startPatch(env, remediationId);
    const dbName = new URL(env.databaseUrl).pathname.slice(1);
    let killed = 0;
    // Connections are dropped for at most 20 s (≈ 28 rounds), then the run must settle on its own.
    const deadline = Date.now() + 20_000;
    let state = 'patch_running';
    while (Date.now() < deadline && !['patch_generated', 'patch_failed'].includes(state)) {
      const rows = await sql<{ n: string }>(
        env,
        `select count(pg_terminate_backend(pid)) as n from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()`,
        [dbName],
      );
      killed += Number(rows[0]?.n ?? 0);
      await sleep(700);
      state = (await sql<{ state: string }>(env, 'select state from executions where id = $1', [id]))[0]!.state;
    }
    expect(killed).toBeGreaterThan(0);
    const done = await waitSettled(env, id);
    expect(done.state).toBe('patch_generated');
    const e = await effects(env, id);
    expect(e.patchVersions).toBe(1);
    // Every state/step was entered exactly once: no transition applied twice or half.
    expect(Object.values(e.transitions).every((n) => n === 1)).toBe(true);
    const [row] = await sql<{ version: number }>(env, 'select version from executions where id = $1', [id]);
    const [hist] = await sql<{ n: string }>(env, 'select count(*) as n from history where execution_id = $1 and to_state is not null', [id]);
    expect(row!.version).toBe(Number(hist!.n)); // one version per history transition
    await env.stack.restart('patcher', {});
  }, 180_000);

  it('10. down longer than ack_wait × max_deliver: deliveries are not burnt, nothing is dead-lettered', async () => {
    // The outage meets a delivery at its claim: git-gateway holds the workspace command a moment
    // before claiming it, and PostgreSQL goes away as soon as the command is published.
    await env.stack.restart('git-gateway', { FAULT_INJECT: 'before-claim@workspace.prepare=sleep:1000' });
    const { remediationId } = await createExpressRemediation(env);
    await waitFor(env, `/v1/remediations/${remediationId}`, (b) => b.state === 'plan_generated');
    const id = await startPatch(env, remediationId);
    const published = Date.now() + 30_000;
    while (Date.now() < published) {
      const rows = await sql(env, `select 1 from outbox where subject = $1 and published_at is not null`, [`remediation.cmd.v1.workspace.prepare.${id}`]);
      if (rows.length > 0) break;
      await sleep(20);
    }
    await proxy.pause();
    await sleep(ACK_WAIT_MS * MAX_DELIVER * 2);
    await proxy.resume();
    const done = await waitSettled(env, id, 120_000);
    expect(done.state, JSON.stringify(done)).toBe('patch_generated');
    expect((await api(env, '/v1/dead-letters')).body.deadLetters).toEqual([]);
    const e = await effects(env, id);
    expect(e.patchVersions).toBe(1);
    const failed = await sql(env, `select id from executions where state like '%failed'`);
    expect(failed).toEqual([]);
    // The held delivery kept its place: the workspace step was claimed by its first delivery.
    const attempts = await sql<{ delivery_count: number }>(env, `select delivery_count from step_attempts where execution_id = $1 and step = 'workspace'`, [id]);
    expect(attempts.map((a) => a.delivery_count)).toEqual([1]);
    await env.stack.restart('git-gateway', {});
  }, 180_000);
});
