import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RecordedRequest, type ScriptTurn, lastToolResults } from '@remediation/messages-api-local';
import { type TestEnvironment, startTestEnvironment } from '../support/environment.js';
import { type ScriptedModel, scriptedModel } from '../support/scripted-model.js';
import { api, createExpressRemediation, createJwtRemediation, startPatch, waitFor, waitSettled } from '../support/flows.js';

/**
 * The patch agent end to end: every service as its own process, the real PostgreSQL, a private
 * nats-server, real git and overlay workspaces; the patcher's @anthropic-ai/sdk client talks to
 * messages-api-local, which answers from the scripts below (the Anthropic API is unreachable).
 */
let env: TestEnvironment;
let model: ScriptedModel;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const useScript = (script: ScriptTurn[]) => model.use(script);

const PATCHER_ENV = () => model.env();

beforeAll(async () => {
  model = await scriptedModel();
  env = await startTestEnvironment(
    'agent',
    { ACK_WAIT_MS: '3000', MAX_DELIVER: '5', RECONCILE_STALE_MS: '300000' },
    { serviceEnv: { patcher: PATCHER_ENV() } },
  );
}, 180_000);

afterAll(async () => {
  await model?.close();
  await env?.close();
}, 60_000);

const userText = (r: RecordedRequest) => JSON.stringify(r.body?.messages ?? []);
const history = async (id: string) => (await api(env, `/v1/executions/${id}/history`)).body.entries as Array<{ event: string; details: any; worker: string | null }>;
const diffOf = async (id: string, version: number) => (await api(env, `/v1/executions/${id}/diff?version=${version}`)).body.diff as string;

describe('the code-fix agent in the patcher', () => {
  let remediationId: string;
  let executionId: string;

  it('fixes the code a major upgrade breaks over several turns, through refused calls, a 429, an overloaded error and a killed patcher', async () => {
    let killNow!: () => void;
    const killRequested = new Promise<void>((r) => (killNow = r));
    const server = await useScript([
      {
        expect: (r) => {
          const first = userText(r);
          // Context: the plan (from → to, advisory), the manifest diff, and where the package is used.
          expect(first).toContain('express-jwt');
          expect(first).toContain('6.0.0');
          expect(first).toContain('GHSA-6g6m-m6h5-w9gf');
          expect(first).toContain('lib/insecurity.js:2');
          expect(first).toContain('+    \\"express-jwt\\": \\"6.0.0\\"');
          expect(JSON.stringify(r.body?.tools?.map((t) => t.name))).not.toMatch(/shell|bash|exec|npm/);
        },
        content: [{ type: 'tool_use', name: 'read_file', input: { path: 'lib/insecurity.js' } }],
      },
      { error: 'rate_limit_error', retryAfterSeconds: 0.2 },
      {
        content: [
          { type: 'text', text: 'I will also relax the test and look outside the repository.' },
          { type: 'tool_use', name: 'edit_file', input: { path: 'test/insecurity.spec.js', old_string: 'isAuthorized()', new_string: 'true' } },
          { type: 'tool_use', name: 'read_file', input: { path: '../../../../etc/passwd' } },
          { type: 'tool_use', name: 'write_file', input: { path: '.github/workflows/ci.yml', content: 'on: push\n' } },
        ],
      },
      { error: 'overloaded_error' },
      {
        expect: (r) => {
          const results = lastToolResults(r);
          expect(results).toHaveLength(3);
          expect(results.every((t) => t.is_error)).toBe(true);
          expect(results[0]!.content).toMatch(/test file/);
          expect(results[1]!.content).toMatch(/outside|leaves/);
        },
        content: [
          {
            type: 'tool_use',
            name: 'edit_file',
            input: { path: 'lib/insecurity.js', old_string: 'expressJwt({ secret: publicKey })', new_string: "expressJwt({ secret: publicKey, algorithms: ['RS256'] })" },
          },
        ],
      },
      // The patcher is killed while this request is in flight: it never gets the answer.
      async () => {
        killNow();
        await sleep(60_000);
        return { content: [{ type: 'text', text: 'never delivered' }] };
      },
      {
        expect: (r) => {
          // Another patcher resumed with the stored conversation, not from scratch.
          const messages = r.body!.messages;
          expect(messages.length).toBeGreaterThanOrEqual(7);
          expect(JSON.stringify(messages[0])).toContain('GHSA-6g6m-m6h5-w9gf');
          expect(userText(r)).toContain("algorithms: ['RS256']");
        },
        content: [{ type: 'tool_use', name: 'report_outcome', input: { target: 'express-jwt', status: 'success', reason: 'passes algorithms: [RS256], now mandatory in express-jwt 6' } }],
      },
      { content: [{ type: 'text', text: 'express-jwt 6 now gets the algorithms it requires.' }] },
    ]);

    ({ remediationId } = await createJwtRemediation(env));
    executionId = await startPatch(env, remediationId, { tier: 'minimal', allowEdits: ['package.json'] });
    await killRequested;
    // The edit before the kill is durable: the tool call was followed by a checkpoint.
    await waitFor(env, `/v1/executions/${executionId}/history`, (b) => b.entries.some((e: any) => e.event === 'tool_call' && e.details.tool === 'edit_file' && !e.details.isError));
    await sleep(500);
    env.stack.signal('patcher', 'SIGKILL');
    await env.stack.processes.get('patcher')!.exited;
    await env.stack.restart('patcher', PATCHER_ENV());

    const done = await waitSettled(env, executionId, 120_000);
    expect(done.state).toBe('patch_generated');
    const jwt = done.targets.find((t: any) => t.name === 'express-jwt');
    expect(jwt).toMatchObject({ status: 'success', declaredTo: '6.0.0', needsAgent: true, proof: { remediated: true } });
    expect(jwt.reason).toContain('algorithms');
    expect(done.targets.find((t: any) => t.name === 'body-parser')).toMatchObject({ status: 'success', declaredTo: '1.20.3' });
    expect(done.patchVersions).toHaveLength(1);
    const v1 = done.patchVersions[0];
    expect(v1).toMatchObject({ version: 1, approvable: true, feedback: null, iteration: null, agent: { outcome: 'completed', model: 'claude-test', resumes: 1 } });
    expect(v1.agent.turns).toBeGreaterThanOrEqual(4);
    expect(v1.agent.inputTokens).toBeGreaterThan(0);
    expect([...v1.changedPaths].sort()).toEqual(['lib/insecurity.js', 'package.json']);

    const diff = await diffOf(executionId, 1);
    expect(diff).toContain("+exports.isAuthorized = () => expressJwt({ secret: publicKey, algorithms: ['RS256'] });");
    expect(diff).not.toContain('test/insecurity.spec.js');
    expect(diff).not.toContain('.github');

    // Each tool call is a heartbeat in the history, with the tool's name; retries show too.
    const entries = await history(executionId);
    const tools = entries.filter((e) => e.event === 'tool_call').map((e) => `${e.details.tool}${e.details.isError ? '!' : ''}`);
    expect(tools).toEqual(expect.arrayContaining(['read_file', 'edit_file!', 'read_file!', 'write_file!', 'edit_file', 'report_outcome']));
    expect(entries.some((e) => e.event === 'agent_resumed')).toBe(true);
    const workers = new Set(entries.filter((e) => e.event === 'tool_call').map((e) => e.worker));
    expect(workers.size).toBe(2); // before and after the kill
    expect(server.failures).toEqual([]);
  }, 180_000);

  it('a feedback iteration produces version 2, listed with its feedback, on its own ref', async () => {
    const server = await useScript([
      {
        expect: (r) => {
          const text = userText(r);
          expect(text).toContain('our tokens are signed with a shared secret');
          expect(text).toContain('lib/insecurity.js:5');
          expect(text).toContain("algorithms: ['RS256']"); // the previous version's diff
        },
        content: [
          {
            type: 'tool_use',
            name: 'edit_file',
            input: { path: 'lib/insecurity.js', old_string: "algorithms: ['RS256']", new_string: "algorithms: ['HS256']" },
          },
        ],
      },
      { content: [{ type: 'tool_use', name: 'report_outcome', input: { target: 'express-jwt', status: 'success', reason: 'HS256, as the reviewer asked' } }] },
      { content: [{ type: 'text', text: 'Switched to HS256.' }] },
    ]);
    const res = await api(env, `/v1/executions/${executionId}/feedback`, {
      method: 'POST',
      body: JSON.stringify({
        text: 'Use HS256: our tokens are signed with a shared secret.',
        comments: [{ path: 'lib/insecurity.js', line: 5, body: 'RS256 is wrong here' }],
      }),
    });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ iteration: 2, baseVersion: 1, patchVersion: null, source: 'api' });
    const done = await waitFor(env, `/v1/executions/${executionId}`, (b) => b.state === 'patch_generated' && b.patchVersions.length === 2, 120_000);
    const v2 = done.patchVersions[1];
    expect(v2).toMatchObject({ version: 2, approvable: true, feedback: { iteration: 2, text: 'Use HS256: our tokens are signed with a shared secret.' }, iteration: { number: 2, reason: 'user_feedback', baseVersion: 1, patchVersion: 2 } });
    expect(v2.ref).toBe(`refs/remediations/${remediationId}/${executionId.slice(remediationId.length + 1)}/v2`);
    expect(done.feedback).toHaveLength(1);
    expect(done.feedback[0].patchVersion).toBe(2);
    const diff2 = await diffOf(executionId, 2);
    expect(diff2).toContain("algorithms: ['HS256']");
    expect(diff2).toContain('"express-jwt": "6.0.0"'); // the whole patch, not only the change
    expect(await diffOf(executionId, 1)).toContain("algorithms: ['RS256']");
    expect(server.failures).toEqual([]);
    server.assertDone();
  }, 180_000);

  it('a version that fails the proof of remediation is not offered for approval', async () => {
    // The reviewer asks to stay on 5.x, which is still vulnerable; the execution allows
    // package.json edits, so the agent can do it, and the proof catches it.
    const server = await useScript([
      {
        content: [
          {
            type: 'tool_use',
            name: 'edit_file',
            input: { path: 'package.json', old_string: '"express-jwt": "6.0.0"', new_string: '"express-jwt": "^5.3.3"' },
          },
        ],
      },
      { content: [{ type: 'tool_use', name: 'report_outcome', input: { target: 'express-jwt', status: 'success', reason: 'kept 5.x as asked' } }] },
      { content: [{ type: 'text', text: 'Done.' }] },
    ]);
    const res = await api(env, `/v1/executions/${executionId}/feedback`, { method: 'POST', body: JSON.stringify({ text: 'Stay on express-jwt 5.x for now.' }) });
    expect(res.status).toBe(202);
    const done = await waitFor(env, `/v1/executions/${executionId}`, (b) => b.state === 'patch_generated' && b.patchVersions.length === 3, 120_000);
    const v3 = done.patchVersions[2];
    expect(v3.approvable).toBe(false);
    const proof = v3.proof.find((p: any) => p.target === 'express-jwt');
    expect(proof).toMatchObject({ remediated: false, lowestAdmissible: '5.3.3', declared: ['dependencies: ^5.3.3'] });
    expect(proof.reason).toContain('<6.0.0');
    expect(done.targets.find((t: any) => t.name === 'express-jwt')).toMatchObject({ declaredTo: '^5.3.3', proof: { remediated: false } });

    const refused = await api(env, `/v1/executions/${executionId}/pull-requests`, { method: 'POST', body: JSON.stringify({ patchVersion: 3 }) });
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('PATCH_NOT_APPROVABLE');
    expect(refused.body.message).toContain('express-jwt');
    const latest = await api(env, `/v1/executions/${executionId}/pull-requests`, { method: 'POST', body: '{}' });
    expect(latest.status).toBe(409); // the latest version is v3
    // The earlier version still passes and can be approved: it is what goes to the PR.
    const approved = await api(env, `/v1/executions/${executionId}/pull-requests`, { method: 'POST', body: JSON.stringify({ patchVersion: 2 }) });
    expect(approved.status).toBe(202);
    const opened = await waitSettled(env, executionId, 120_000);
    expect(opened.state).toBe('pr_opened');
    expect(opened.pullRequests[0]).toMatchObject({ patchVersion: 2, state: 'open' });
    server.assertDone();
  }, 180_000);

  it('decides on partial success: ships what succeeded, with the reasoning stored and shown', async () => {
    const server = await useScript([
      { content: [{ type: 'tool_use', name: 'read_file', input: { path: 'lib/insecurity.js' } }] },
      {
        content: [
          {
            type: 'tool_use',
            name: 'report_outcome',
            input: { target: 'express-jwt', status: 'failed', reason: 'the key format cannot be inferred for the mandatory algorithms option' },
          },
        ],
      },
      { content: [{ type: 'text', text: 'I could not fix express-jwt.' }] },
      {
        expect: (r) => {
          expect(r.body?.tool_choice).toEqual({ type: 'tool', name: 'decide_partial_success' });
          expect(JSON.stringify(r.body?.system)).toContain('express-jwt: failed');
        },
        content: [
          {
            type: 'tool_use',
            name: 'decide_partial_success',
            input: { ship: true, targets: ['body-parser'], reasoning: 'body-parser fixes a high-severity DoS on its own; express-jwt needs a person.' },
          },
        ],
      },
    ]);
    const { remediationId: rem2 } = await createJwtRemediation(env);
    const id = await startPatch(env, rem2, { tier: 'minimal' });
    const done = await waitSettled(env, id, 120_000);
    expect(done.state).toBe('patch_generated');
    expect(done.decision).toMatchObject({ ship: true, targets: ['body-parser'], decidedBy: 'model' });
    expect(done.decision.reasoning).toContain('needs a person');
    expect(done.targets.find((t: any) => t.name === 'express-jwt')).toMatchObject({ status: 'failed' });
    expect(done.targets.find((t: any) => t.name === 'body-parser')).toMatchObject({ status: 'success', proof: { remediated: true } });
    const diff = await diffOf(id, 1);
    expect(diff).toContain('"body-parser": "1.20.3"');
    expect(diff).toContain('     "express-jwt": "0.1.3"'); // its bump was put back: context line only
    expect(diff).not.toContain('6.0.0');
    expect(done.patchVersions[0].changedPaths).toEqual(['package.json']);
    server.assertDone();
  }, 180_000);

  it('after the agent edited code, the partial-success decision may not cut a subset: all successful targets or none', async () => {
    const server = await useScript([
      {
        expect: (r) => expect(userText(r)).toContain('cookie'),
        content: [{ type: 'tool_use', name: 'write_file', input: { path: 'lib/cookie-options.js', content: "'use strict';\nmodule.exports = { sameSite: 'lax' };\n" } }],
      },
      {
        content: [
          { type: 'tool_use', name: 'report_outcome', input: { target: 'cookie', status: 'success', reason: 'cookie options moved to lib/cookie-options.js' } },
          { type: 'tool_use', name: 'report_outcome', input: { target: 'send', status: 'failed', reason: 'send 0.19 changes how dotfiles are served; needs a decision' } },
        ],
      },
      { content: [{ type: 'text', text: 'cookie done, send failed.' }] },
      {
        expect: (r) => expect(JSON.stringify(r.body?.system)).toContain('You may not choose a subset (the agent edited code'),
        content: [{ type: 'tool_use', name: 'decide_partial_success', input: { ship: true, targets: ['body-parser'], reasoning: 'Ship only the high-severity body-parser fix.' } }],
      },
    ]);
    const { remediationId } = await createExpressRemediation(env);
    const id = await startPatch(env, remediationId);
    const done = await waitSettled(env, id, 120_000);
    expect(done.state).toBe('patch_generated');
    expect(done.decision).toMatchObject({ ship: true, targets: ['body-parser', 'cookie', 'path-to-regexp', 'serve-static'], decidedBy: 'model' });
    expect(done.decision.reasoning).toContain('the agent edited code, which is not attributed to single targets: shipping every successful target');
    expect(done.targets.find((t: any) => t.name === 'send')).toMatchObject({ status: 'failed' });
    expect(done.patchVersions[0].changedPaths).toEqual(['lib/cookie-options.js', 'package.json']);
    server.assertDone();
  }, 180_000);

  it('a step stopped by STEP_TIMEOUT_MS mid-request commits nothing, is retried, and the agent resumes', async () => {
    // The first model request outlives the patcher's step timeout: the agent run comes back
    // `cancelled`; the step must not commit that half-done run, but be retried (a new delivery),
    // where the agent resumes from its stored conversation and finishes.
    await env.stack.restart('patcher', { ...PATCHER_ENV(), STEP_TIMEOUT_MS: '4000' });
    const server = await useScript([
      { expect: async () => void (await sleep(7000)), content: [{ type: 'text', text: 'an answer nobody waits for' }] },
      { content: [{ type: 'tool_use', name: 'report_outcome', input: { target: 'express-jwt', status: 'success', reason: 'no code uses the changed API' } }] },
      { content: [{ type: 'text', text: 'Done.' }] },
    ]);
    const { remediationId: rem4 } = await createJwtRemediation(env);
    const id = await startPatch(env, rem4, { upgradeOption: 'minimal', targets: ['express-jwt'] });
    const done = await waitSettled(env, id, 120_000);
    expect(done.state).toBe('patch_generated');
    expect(done.targets.find((t: any) => t.name === 'express-jwt')).toMatchObject({ status: 'success', declaredTo: '6.0.0' });
    expect(done.patchVersions).toHaveLength(1);
    const { attempts } = (await api(env, `/v1/executions/${id}/history`)).body as { attempts: Array<{ step: string; outcome: string; error: { code: string } | null }> };
    const editing = attempts.filter((a) => a.step === 'editing');
    expect(editing[0]).toMatchObject({ outcome: 'retrying', error: { code: 'STEP_TIMEOUT' } });
    expect(editing.at(-1)).toMatchObject({ outcome: 'succeeded' });
    server.assertDone();
    await env.stack.restart('patcher', PATCHER_ENV());
  }, 180_000);

  it('stops with a clear patch_failed reason when the budget runs out', async () => {
    await env.stack.restart('patcher', { ...PATCHER_ENV(), AGENT_MAX_TOKENS: '1024', AGENT_MAX_OUTPUT_TOKENS: '1500' });
    const server = await useScript([{ content: [{ type: 'tool_use', name: 'read_file', input: { path: 'lib/insecurity.js' } }], usage: { output_tokens: 1000 } }]);
    const { remediationId: rem3 } = await createJwtRemediation(env);
    const id = await startPatch(env, rem3, { tier: 'minimal', targets: ['express-jwt'] });
    const done = await waitSettled(env, id, 120_000);
    expect(done.state).toBe('patch_failed');
    expect(done.error.code).toBe('AGENT_BUDGET_EXHAUSTED');
    expect(done.error.message).toMatch(/budget/i);
    server.assertDone();
    await env.stack.restart('patcher', PATCHER_ENV());
  }, 180_000);
});
