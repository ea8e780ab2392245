import { readFileSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturePath } from '@remediation/testing';
import { type TestEnvironment, makeRemote, startTestEnvironment } from '../support/environment.js';
import { api, createExpressRemediation, nodegoatCodebase, sql, waitFor } from '../support/flows.js';

/**
 * docs/reliability.md scenario 5: a poison message. The planner's registry answers 500 for one
 * package every time: delayed retries up to max_deliver, then the message is dead-lettered and
 * the plan fails with the reason, while other runs keep flowing. Retry after the fix resumes.
 */
let env: TestEnvironment;
let registry: Server;
let poisoned = new Set(['cookie']);
const requests: string[] = [];

beforeAll(async () => {
  registry = createServer((req, res) => {
    const name = decodeURIComponent((req.url ?? '/').slice(1));
    requests.push(name);
    if (poisoned.has(name)) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end('registry exploded');
      return;
    }
    try {
      const file = fixturePath('registry/npm', `${name.replace(/^@/, '').replace('/', '__')}.json`);
      res.writeHead(200, { 'content-type': 'application/json' }).end(readFileSync(file));
    } catch {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"Not found"}');
    }
  });
  await new Promise<void>((r) => registry.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(registry.address() as { port: number }).port}`;
  env = await startTestEnvironment(
    'faults_poison',
    { ACK_WAIT_MS: '5000', MAX_DELIVER: '3', RETRY_BASE_MS: '300' },
    { registry: { url }, serviceEnv: { planner: { NPM_REGISTRY_RETRIES: '0' } } },
  );
}, 180_000);

afterAll(async () => {
  await env?.close();
  await new Promise<void>((r) => registry?.close(() => r()));
}, 60_000);

describe('poison message', () => {
  it('5. retried with delays up to max_deliver, dead-lettered, run failed with the reason; others keep flowing', async () => {
    const poison = await createExpressRemediation(env);
    // Another run, on another codebase without the poisoned package, at the same time.
    const { manifest, scan } = nodegoatCodebase();
    const bare = await makeRemote(env.reposRoot, 'OWASP', 'NodeGoat', { 'package.json': manifest });
    const healthy = await api(env, '/v1/remediations', {
      method: 'POST',
      body: JSON.stringify({ codebase: { repository: bare }, scan }),
    });
    const ok = await waitFor(env, `/v1/remediations/${healthy.body.id}`, (b) => b.state !== 'planner_running');
    expect(ok.state).toBe('plan_generated');

    const failed = await waitFor(env, `/v1/remediations/${poison.remediationId}`, (b) => b.state !== 'planner_running', 90_000);
    expect(failed.state).toBe('planner_failed');
    expect(failed.planExecution.error.code).toBe('REGISTRY_UNAVAILABLE');
    expect(failed.planExecution.error.message).toMatch(/gave up after 3 deliveries/);
    const history = await api(env, `/v1/executions/${poison.planExecutionId}/history`);
    expect(history.body.attempts.map((a: any) => [a.deliveryCount, a.outcome])).toEqual([
      [1, 'retrying'],
      [2, 'retrying'],
      [3, 'abandoned'],
    ]);
    const gaps = history.body.attempts.slice(1).map((a: any, i: number) => Date.parse(a.startedAt) - Date.parse(history.body.attempts[i].finishedAt));
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(100); // delayed retries (nak with our delay), not immediate
    const letters = (await api(env, `/v1/dead-letters?executionId=${poison.planExecutionId}`)).body.deadLetters;
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ subject: `remediation.cmd.v1.plan.run.${poison.planExecutionId}`, deliveries: 3, error: { code: 'REGISTRY_UNAVAILABLE' } });
    // The message left the work queue: nothing pending for the planner's consumer.
    let pending = await sql(env, `select 1 from outbox where published_at is null`);
    for (let i = 0; i < 50 && pending.length > 0; i++) {
      await new Promise((r) => setTimeout(r, 100)); // the relay publishes the failure's event right after its commit
      pending = await sql(env, `select 1 from outbox where published_at is null`);
    }
    expect(pending).toEqual([]);

    // The registry is fixed; retry resumes the plan.
    poisoned = new Set();
    const retry = await api(env, `/v1/executions/${poison.planExecutionId}/retry`, { method: 'POST' });
    expect(retry.status).toBe(202);
    const done = await waitFor(env, `/v1/remediations/${poison.remediationId}`, (b) => b.state !== 'planner_running');
    expect(done.state).toBe('plan_generated');
    expect(done.plan.targets.map((t: any) => t.name)).toContain('cookie');
  }, 180_000);
});

