import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimStep, createRemediation, finishStep, heartbeatStep, saveConversation, startConversation } from '@remediation/persistence';
import { type ApiUnderTest, apiUnderTest } from '../test-support/api-under-test.js';
import { CONSOLE_DIR } from './console.js';

/**
 * The read routes the operator console needs (lists with filters and paging, step attempts with
 * their heartbeats; tenant-scoped) and the console's files (served without credentials, vendor
 * modules resolvable through the page's import map). Real PostgreSQL; no NATS.
 */
describe('the operator console and its read routes', () => {
  let api: ApiUnderTest;
  const codebase = (owner: string) => ({ repository: `https://github.com/${owner}/app.git` });

  beforeAll(async () => {
    api = await apiUnderTest('api_console', {}, ['acme', 'other']);
    for (const [id, tenant] of [['rem_a1', 'acme'], ['rem_a2', 'acme'], ['rem_a3', 'acme'], ['rem_b1', 'other']] as const) {
      await createRemediation(api.db, { id, tenant, codebase: codebase(id), scan: { bomFormat: 'CycloneDX' }, idempotencyKey: null, worker: 'spec:1' });
      await new Promise((r) => setTimeout(r, 5)); // distinct creation times
    }
  }, 60_000);
  afterAll(async () => api?.close());

  const get = (url: string, tenant = 'acme') => api.app.inject({ method: 'GET', url, headers: api.as(tenant) });

  it('GET /v1/remediations lists the tenant’s remediations newest first, filtered by plan state, paged by cursor', async () => {
    const all = await get('/v1/remediations');
    expect(all.statusCode).toBe(200);
    expect(all.json().remediations.map((r: any) => r.id)).toEqual(['rem_a3', 'rem_a2', 'rem_a1']);
    expect(all.json().remediations[0]).toMatchObject({ repository: 'https://github.com/rem_a3/app.git', state: 'planner_running', planExecutionId: 'rem_a3.plan.1', patchExecutions: 0 });
    expect((await get('/v1/remediations?state=plan_generated')).json().remediations).toEqual([]);
    const first = (await get('/v1/remediations?limit=2')).json();
    expect(first.remediations.map((r: any) => r.id)).toEqual(['rem_a3', 'rem_a2']);
    const second = (await get(`/v1/remediations?limit=2&before=${first.nextCursor}`)).json();
    expect(second).toEqual({ remediations: [expect.objectContaining({ id: 'rem_a1' })], nextCursor: null });
    expect((await get('/v1/remediations', 'other')).json().remediations.map((r: any) => r.id)).toEqual(['rem_b1']);
  });

  it('GET /v1/executions filters by state, kind and remediation, pages, and refuses bad parameters naming them', async () => {
    const plans = (await get('/v1/executions?kind=plan&state=planner_running')).json();
    expect(plans.executions.map((x: any) => x.id)).toEqual(['rem_a3.plan.1', 'rem_a2.plan.1', 'rem_a1.plan.1']);
    expect(plans.executions[0]).toMatchObject({ kind: 'plan', state: 'planner_running', step: 'planning', remediationId: 'rem_a3', tier: null, error: null });
    expect((await get('/v1/executions?kind=patch')).json().executions).toEqual([]);
    expect((await get('/v1/executions?remediationId=rem_a2')).json().executions.map((x: any) => x.id)).toEqual(['rem_a2.plan.1']);
    const page1 = (await get('/v1/executions?limit=1')).json();
    const page2 = (await get(`/v1/executions?limit=1&before=${page1.nextCursor}`)).json();
    expect([page1.executions[0].id, page2.executions[0].id]).toEqual(['rem_a3.plan.1', 'rem_a2.plan.1']);
    expect((await get('/v1/executions', 'other')).json().executions.map((x: any) => x.id)).toEqual(['rem_b1.plan.1']);
    const badState = await get('/v1/executions?state=sleeping');
    expect(badState.statusCode).toBe(400);
    expect(badState.json().message).toContain('state');
    const badCursor = await get('/v1/executions?before=bm90IGEgY3Vyc29y');
    expect(badCursor.statusCode).toBe(400);
    expect(badCursor.json()).toMatchObject({ code: 'CURSOR_INVALID' });
    expect((await get('/v1/executions?colour=red')).statusCode).toBe(400);
    expect((await api.app.inject({ method: 'GET', url: '/v1/executions' })).statusCode).toBe(401);
  });

  it('GET /v1/executions/:id/attempts gives each attempt with the heartbeats of its lease, and 404 to another tenant', async () => {
    const claim = { executionId: 'rem_a1.plan.1', states: ['planner_running' as const], step: 'planning' as const, command: 'plan.run' as const };
    const first = (await claimStep(api.db, { ...claim, worker: 'planner:1', deliveryCount: 1 }))!;
    expect(await heartbeatStep(api.db, first, 'rem_a1.plan.1', { event: 'heartbeat', details: { received: 10, total: 40 } })).toBe('ok');
    const second = (await claimStep(api.db, { ...claim, worker: 'planner:2', deliveryCount: 2 }))!; // the first is fenced
    await heartbeatStep(api.db, second, 'rem_a1.plan.1', { event: 'tool_call', details: { tool: 'read_file' } });
    await finishStep(api.db, second.attemptId, 'failed', { code: 'ADVISORY_SOURCE_UNAVAILABLE', message: 'OSV answered 503' });
    const res = await get('/v1/executions/rem_a1.plan.1/attempts');
    expect(res.statusCode).toBe(200);
    const { attempts } = res.json();
    expect(attempts).toHaveLength(2);
    expect(attempts[0]).toMatchObject({ step: 'planning', worker: 'planner:1', deliveryCount: 1, outcome: 'fenced', error: { code: 'LEASE_LOST' } });
    expect(attempts[0].heartbeats).toEqual([{ at: expect.any(String), event: 'heartbeat', details: { attempt: first.lease.attempt, received: 10, total: 40 } }]);
    expect(attempts[1]).toMatchObject({ worker: 'planner:2', deliveryCount: 2, outcome: 'failed', error: { code: 'ADVISORY_SOURCE_UNAVAILABLE', message: 'OSV answered 503' } });
    expect(attempts[1].heartbeats.map((h: any) => h.details)).toEqual([{ attempt: second.lease.attempt, tool: 'read_file' }]);
    expect((await get('/v1/executions/rem_a1.plan.1/attempts', 'other')).statusCode).toBe(404);
  });

  it('GET /v1/executions/:id/conversations summarises each agent run: answers, tool calls with what they named and whether refused, no tool results', async () => {
    await startConversation(api.db, { executionId: 'rem_a2.plan.1', iteration: 1, deterministic: [], usage: {} });
    const conversation = [
      { role: 'user', content: 'SECRET PROMPT: fix express-jwt' },
      { role: 'assistant', content: [{ type: 'text', text: 'Reading it.' }, { type: 'tool_use', id: 't1', name: 'read_file', input: { path: 'lib/a.js' } }, { type: 'tool_use', id: 't2', name: 'read_file', input: { path: '../../etc/passwd' } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: 'FILE CONTENT' }, { type: 'tool_result', tool_use_id: 't2', is_error: true, content: 'outside' }] },
      { role: 'assistant', content: [{ type: 'tool_use', id: 't3', name: 'report_outcome', input: { target: 'express-jwt', status: 'success' } }] },
      { role: 'assistant', content: 'Done: ' + 'x'.repeat(3000) },
    ];
    await saveConversation(api.db, 'rem_a2.plan.1', 1, { conversation, usage: {}, turns: 3, changedPaths: [] });
    const res = await get('/v1/executions/rem_a2.plan.1/conversations');
    expect(res.statusCode).toBe(200);
    const [c] = res.json().conversations;
    expect(c).toMatchObject({ iteration: 1, resumes: 0, result: null });
    expect(c.turns.slice(0, 2)).toEqual([
      { turn: 1, text: 'Reading it.', toolCalls: [{ name: 'read_file', subject: 'lib/a.js', isError: false }, { name: 'read_file', subject: '../../etc/passwd', isError: true }] },
      { turn: 2, text: null, toolCalls: [{ name: 'report_outcome', subject: 'express-jwt', isError: null }] },
    ]);
    expect(c.turns[2].text).toHaveLength(2001); // cut at 2,000 characters, with an ellipsis
    expect(res.body).not.toContain('SECRET PROMPT');
    expect(res.body).not.toContain('FILE CONTENT');
    expect((await get('/v1/executions/rem_a2.plan.1/conversations', 'other')).statusCode).toBe(404);
  });

  it('OpenAPI documents the new routes with their filters', () => {
    const doc = api.app.swagger() as { paths: Record<string, Record<string, any>> };
    const params = doc.paths['/v1/executions']!['get'].parameters.map((p: any) => p.name);
    expect(params).toEqual(expect.arrayContaining(['state', 'kind', 'remediationId', 'limit', 'before']));
    expect(doc.paths['/v1/remediations']!['get']).toBeDefined();
    expect(doc.paths['/v1/executions/{id}/attempts']!['get'].responses['200']).toBeDefined();
    expect(Object.keys(doc.paths).some((p) => p.startsWith('/console'))).toBe(false);
  });

  it('serves the page without credentials, every import-map module as JavaScript, and nothing else of node_modules', async () => {
    expect((await api.app.inject({ method: 'GET', url: '/console' })).headers.location).toBe('/console/');
    const page = await api.app.inject({ method: 'GET', url: '/console/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    const importMap = JSON.parse(/<script type="importmap">([\s\S]*?)<\/script>/.exec(page.body)![1]!) as { imports: Record<string, string> };
    expect(Object.keys(importMap.imports)).toEqual(expect.arrayContaining(['preact', 'preact/hooks', 'htm/preact', 'highlight.js/core', 'eventsource-parser']));
    for (const url of [...Object.values(importMap.imports), '/console/app.js', '/console/api.js', '/console/diagram.js', '/eventsource-parser/dist/parse.js'.replace(/^/, '/console/vendor')]) {
      const res = await api.app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['content-type'], url).toMatch(/javascript/);
    }
    const core = await api.app.inject({ method: 'GET', url: '/console/vendor/highlight.js/core.mjs' });
    expect(core.body).toContain('export default module.exports');
    const css = await api.app.inject({ method: 'GET', url: '/console/vendor/highlight.js/styles/github.css' });
    expect(css.statusCode).toBe(200);
    for (const url of ['/console/vendor/preact/package.json', '/console/vendor/pg/package.json', '/console/vendor/preact/dist/../package.json', '/console/vendor/%2e%2e/package.json']) {
      expect((await api.app.inject({ method: 'GET', url })).statusCode, url).toBe(404);
    }
    // The page's own files exist where the API serves them from.
    expect(readFileSync(join(CONSOLE_DIR, 'index.html'), 'utf8')).toContain('importmap');
  });

  it('serves the state graphs derived from libs/state-machine', async () => {
    const graphs = (await api.app.inject({ method: 'GET', url: '/console/state-machine.json' })).json();
    expect(graphs.plan.initial).toBe('planner_running');
    expect(graphs.patch.initial).toBe('patch_running');
    expect(graphs.patch.edges).toContainEqual({ from: 'patch_running', to: 'patch_generated', events: ['patch.committed'] });
    expect(graphs.patch.edges).toContainEqual({ from: 'patch_generated', to: 'patch_running', events: ['feedback.received'] });
    expect(graphs.patch.edges).toContainEqual({ from: 'pr_failed', to: 'pr_opening', events: ['pull_request.requested', 'retry.requested'] });
  });
});
