import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturePath } from '@remediation/testing';
import { type TestEnvironment, makeRemote, startTestEnvironment } from '../support/environment.js';
import { api, sql, startPatch, waitFor, waitSettled } from '../support/flows.js';
import { type ScriptedModel, scriptedModel } from '../support/scripted-model.js';
import { deliverWebhook, webhookExample } from '../support/webhooks.js';

/**
 * Deliverable 6 of issue 11 (docs/security.md, "Redaction"): the whole flow runs with every
 * kind of secret the services hold — a GitHub App private key, the installation tokens minted
 * from it, a webhook secret, the model's API key — and afterwards none of them is found in any
 * service log, any text/JSON column of any table, or any message published on NATS (every
 * subject, captured live, so work-queue commands that are deleted once acked are seen too).
 */


const WEBHOOK_SECRET = `whsec-${randomBytes(12).toString('hex')}`;
const MODEL_API_KEY = `sk-ant-test-${randomBytes(16).toString('hex')}`;
/** Installation tokens in GitHub's format (app-auth.ts of github-local): any match is a leak. */
const INSTALLATION_TOKEN = /ghs_[A-Za-z0-9]{36}/;

let env: TestEnvironment;
let model: ScriptedModel;
let nc: NatsConnection;
let tap: Subscription;
/** Every message published on NATS during the run: subject and payload as text. */
const published: Array<{ subject: string; data: string }> = [];

beforeAll(async () => {
  model = await scriptedModel(MODEL_API_KEY);
  env = await startTestEnvironment(
    'secrets',
    { ACK_WAIT_MS: '5000', RECONCILE_STALE_MS: '300000' },
    {
      githubApp: true,
      serviceEnv: {
        patcher: model.env(),
        'pr-service': { ...model.env(), GITHUB_WEBHOOK_SECRET: WEBHOOK_SECRET, PR_POLL_INTERVAL_MS: '0', GITHUB_BOT_LOGINS: 'github-local' },
      },
    },
  );
  nc = await connect({ servers: env.nats.url });
  tap = nc.subscribe('>');
  void (async () => {
    for await (const m of tap) published.push({ subject: m.subject, data: new TextDecoder().decode(m.data) });
  })();
}, 180_000);

afterAll(async () => {
  tap?.unsubscribe();
  await nc?.close();
  await model?.close();
  await env?.close();
}, 60_000);

/**
 * The secrets to look for, by name. One list, so a new kind of secret (e.g. an API key of the
 * service's own authentication) is one more entry.
 */
function secrets(): Array<{ name: string; value: string }> {
  const auth = env.stack.githubAuth;
  if (auth.kind !== 'app') throw new Error('the stack must run as a GitHub App');
  const keyLines = auth.privateKey.split('\n').filter((l) => l.length >= 40 && !l.startsWith('-----'));
  const tokens = readFileSync(env.stack.issuedTokensFile!, 'utf8').split('\n').filter(Boolean);
  const list = [
    { name: 'GitHub App private key (first line)', value: keyLines[0]! },
    { name: 'GitHub App private key (a middle line)', value: keyLines[Math.floor(keyLines.length / 2)]! },
    { name: 'GitHub App private key (last line)', value: keyLines.at(-1)! },
    { name: 'webhook secret', value: WEBHOOK_SECRET },
    { name: 'model API key', value: MODEL_API_KEY },
    { name: 'API key of the tenant (hashed at rest)', value: env.stack.apiKey },
    ...tokens.map((t, i) => ({ name: `installation token #${i + 1}`, value: t })),
  ];
  const githubToken = process.env['GITHUB_TOKEN'];
  if (githubToken && githubToken.length >= 8) list.push({ name: 'GITHUB_TOKEN', value: githubToken });
  return list;
}

/** Names of the secrets (and token-shaped strings) found in `text`. */
function leaks(text: string, list: Array<{ name: string; value: string }>): string[] {
  const found = list.filter((s) => text.includes(s.value)).map((s) => s.name);
  const token = INSTALLATION_TOKEN.exec(text);
  if (token) found.push(`a string shaped like an installation token (${token[0].slice(0, 8)}…)`);
  return found;
}


describe('secrets never reach logs, the database or messages', () => {
  it('runs the flow with every secret in use: App tokens, the webhook secret, the model key', async () => {
    await model.use([
      {
        content: [
          { type: 'tool_use', name: 'report_outcome', input: { target: 'cookie', status: 'success', reason: 'no code uses the changed cookie APIs' } },
          { type: 'tool_use', name: 'report_outcome', input: { target: 'send', status: 'success', reason: 'no code uses send directly' } },
        ],
      },
      { content: [{ type: 'text', text: 'Nothing to change.' }] },
    ]);
    const owner = `sec${Date.now().toString(36)}`;
    const bare = await makeRemote(env.reposRoot, owner, 'express', {
      'package.json': readFileSync(fixturePath('manifests/express-4.19.2/package.json'), 'utf8'),
      'index.js': "module.exports = require('./lib/express');\n",
    });
    const created = await api(env, '/v1/remediations', {
      method: 'POST',
      body: JSON.stringify({ codebase: { repository: bare }, scan: JSON.parse(readFileSync(fixturePath('scans/express-4.19.2.cdx.json'), 'utf8')) }),
    });
    expect(created.status).toBe(201);
    const executionId = await startPatch(env, created.body.id as string);
    await waitFor(env, `/v1/executions/${executionId}`, (b) => b.state === 'patch_generated');
    expect((await api(env, `/v1/executions/${executionId}/pull-requests`, { method: 'POST', body: '{}' })).status).toBe(202);
    const opened = await waitSettled(env, executionId);
    expect(opened.state).toBe('pr_opened');
    const number = opened.pullRequests[0].number as number;

    // A review asking for a change: triage and an iteration by the model, the PR updated.
    await model.use([
      { content: [{ type: 'tool_use', name: 'triage_feedback', input: { actionable: true, reasoning: 'Asks for a code change.', request: 'Add a comment in index.js.' } }] },
      { content: [{ type: 'tool_use', name: 'edit_file', input: { path: 'index.js', old_string: "module.exports = require('./lib/express');", new_string: "// Upgraded for security advisories.\nmodule.exports = require('./lib/express');" } }] },
      { content: [{ type: 'tool_use', name: 'report_outcome', input: { target: 'body-parser', status: 'success', reason: 'added the comment the reviewer asked for' } }] },
      { content: [{ type: 'text', text: 'Done.' }] },
    ]);
    const p = webhookExample('pull_request_review', 'submitted');
    p['repository'] = { ...p['repository'], full_name: `${owner}/express`, name: 'express', owner: { ...p['repository'].owner, login: owner } };
    p['pull_request'] = { ...p['pull_request'], number };
    p['review'] = { ...p['review'], id: 80_001, state: 'changes_requested', body: 'Please add a comment in index.js.', user: { ...p['review'].user, login: 'alice' } };
    const res = await deliverWebhook(env, WEBHOOK_SECRET, 'pull_request_review', p);
    expect(res.status).toBe(200);
    const done = await waitFor(env, `/v1/executions/${executionId}`, (b) => b.state === 'pr_opened' && b.patchVersions.length === 2, 120_000);
    expect(done.pullRequests[0].headSha).toBe(done.patchVersions[1].sha);
    // Every kind of secret was used: tokens were minted (pr-service opened and updated the PR).
    expect(readFileSync(env.stack.issuedTokensFile!, 'utf8').split('\n').filter(Boolean).length).toBeGreaterThan(0);
    expect(model.current()!.requests.length).toBeGreaterThan(0);
  }, 300_000);

  it('no secret in any service log', async () => {
    const list = secrets();
    // Stop the services so every line is flushed; github-local (GitHub's stand-in, which holds
    // the tokens by design) and git-mirror-local are not our services.
    await env.stack.stop();
    const files = readdirSync(env.stack.logDir).filter((f) => !/^(github-local|git-mirror-local)/.test(f));
    expect(files.length).toBeGreaterThanOrEqual(5);
    const found = files.flatMap((f) => leaks(readFileSync(join(env.stack.logDir, f), 'utf8'), list).map((name) => `${name} in log ${f}`));
    expect(found, found.join('\n')).toEqual([]);
  }, 60_000);

  it('no secret in any text or JSON column of any table', async () => {
    const list = secrets();
    const columns = await sql<{ table_schema: string; table_name: string; column_name: string }>(
      env,
      `select c.table_schema, c.table_name, c.column_name from information_schema.columns c
         join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name
        where t.table_type = 'BASE TABLE' and c.table_schema not in ('pg_catalog', 'information_schema')
          and (c.data_type in ('text', 'character varying', 'character', 'json', 'jsonb', 'bytea', 'ARRAY', 'USER-DEFINED'))`,
    );
    expect(columns.length).toBeGreaterThan(10);
    const found: string[] = [];
    for (const c of columns) {
      const rows = await sql<{ v: string }>(env, `select "${c.column_name}"::text as v from "${c.table_schema}"."${c.table_name}" where "${c.column_name}" is not null`);
      for (const r of rows) found.push(...leaks(r.v, list).map((name) => `${name} in ${c.table_name}.${c.column_name}`));
    }
    expect(found, [...new Set(found)].join('\n')).toEqual([]);
    // The run stored what it should have (the scan is checked for shape, not emptiness).
    expect((await sql(env, 'select count(*)::int as n from history')).at(0)?.n).toBeGreaterThan(0);
  }, 60_000);

  it('no secret in any message published on NATS, nor on the streams', async () => {
    const list = secrets();
    expect(published.filter((m) => m.subject.startsWith('remediation.evt.')).length).toBeGreaterThan(0);
    expect(published.filter((m) => m.subject.startsWith('remediation.cmd.')).length).toBeGreaterThan(0);
    const found = published.flatMap((m) => leaks(m.data, list).map((name) => `${name} in a message on ${m.subject}`));
    expect([...new Set(found)], [...new Set(found)].join('\n')).toEqual([]);
    // The NATS store directory holds what remains on the streams (events are retained).
    const store = join(env.dir, 'nats');
    const onDisk = existsSync(store) ? walk(store).flatMap((f) => leaks(readFileSync(f).toString('latin1'), list).map((name) => `${name} in ${f}`)) : [];
    expect(onDisk, onDisk.join('\n')).toEqual([]);
  });
});

/** Files under `dir`, recursively. */
function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}
