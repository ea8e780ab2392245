import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { Octokit } from '@octokit/rest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { FeedbackTriagedEvent, feedbackTriagedSubject } from '@remediation/contracts';
import { createGithubClient } from '@remediation/github';
import { fixturePath } from '@remediation/testing';
import type { ScriptTurn } from '@remediation/messages-api-local';
import { type TestEnvironment, commitToRemote, git, makeRemote, startTestEnvironment } from '../support/environment.js';
import { type ScriptedModel, scriptedModel } from '../support/scripted-model.js';
import { api, sql, startPatch, waitFor, waitSettled } from '../support/flows.js';
import { deliverWebhook, webhookExample } from '../support/webhooks.js';

/**
 * Pull requests that stay mergeable and answer their reviewers, end to end: every service as its
 * own process, the local GitHub-compatible server (validated against GitHub's OpenAPI
 * description, GitHub App installation tokens only), webhooks with real payload shapes from
 * @octokit/webhooks-examples signed with the webhook secret, and messages-api-local answering the
 * triage and the code-fix agent from scripts.
 */
const SECRET = 'webhook-secret-for-tests';

let env: TestEnvironment;
let model: ScriptedModel;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


const useScript = (script: ScriptTurn[]) => model.use(script);

/** Polls `query` until it returns rows (10 s at most). */
async function waitForRows(query: string): Promise<any[]> {
  for (let i = 0; i < 100; i++) {
    const rows = await sql(env, query);
    if (rows.length > 0) return rows;
    await sleep(100);
  }
  return [];
}

const example = webhookExample;
/** Posts a signed webhook delivery to pr-service like GitHub does. */
const deliver = (event: string, payload: Record<string, unknown>, deliveryId?: string) => deliverWebhook(env, SECRET, event, payload, deliveryId);

const AGENT_ENV = () => model.env();

beforeAll(async () => {
  model = await scriptedModel();
  env = await startTestEnvironment(
    'prs',
    { ACK_WAIT_MS: '5000', RECONCILE_STALE_MS: '300000' },
    {
      githubApp: true,
      serviceEnv: {
        patcher: AGENT_ENV(),
        'pr-service': {
          ...AGENT_ENV(),
          GITHUB_WEBHOOK_SECRET: SECRET,
          PR_POLL_INTERVAL_MS: '0',
          GITHUB_BOT_LOGINS: 'github-local',
          AGENT_API_MAX_RETRIES: '0',
          AGENT_OVERLOADED_RETRIES: '0',
          PR_TRIAGE_RETRY_MS: '2000',
        },
      },
    },
  );
}, 180_000);

afterAll(async () => {
  await model?.close();
  await env?.close();
}, 60_000);

describe('an open pull request, kept mergeable and answering its reviewers', () => {
  let executionId: string;
  let bare: string;
  let owner: string;
  let number: number;
  let octokit: Octokit;

  const execution = async () => (await api(env, `/v1/executions/${executionId}`)).body;
  const repoPayload = (p: Record<string, any>) => {
    p['repository'] = { ...p['repository'], full_name: `${owner}/express`, name: 'express', owner: { ...p['repository'].owner, login: owner } };
    return p;
  };
  const prDiffFiles = () => {
    const head = git(['rev-parse', `refs/heads/remediation/${executionId.split('.')[0]}/patch.2`], bare);
    const base = git(['rev-parse', 'refs/heads/master'], bare);
    return { files: git(['diff', '--name-only', `${base}...${head}`], bare).split('\n').filter(Boolean).sort(), head, base, mergeBase: git(['merge-base', base, head], bare) };
  };

  it('opens the pull request with a GitHub App installation token, minted for the operation', async () => {
    // cookie 0.6 → 0.7 and send 0.18 → 0.19 cross 0.x minor lines (breaking in semver): the agent
    // looks at them first and finds nothing to change.
    const server = await useScript([
      {
        content: [
          { type: 'tool_use', name: 'report_outcome', input: { target: 'cookie', status: 'success', reason: 'no code uses the changed cookie APIs' } },
          { type: 'tool_use', name: 'report_outcome', input: { target: 'send', status: 'success', reason: 'no code uses send directly' } },
        ],
      },
      { content: [{ type: 'text', text: 'Nothing to change.' }] },
    ]);
    owner = `prs${Date.now().toString(36)}`;
    bare = await makeRemote(env.reposRoot, owner, 'express', {
      'package.json': readFileSync(fixturePath('manifests/express-4.19.2/package.json'), 'utf8'),
      'index.js': "module.exports = require('./lib/express');\n",
    });
    const createdRes = await api(env, '/v1/remediations', {
      method: 'POST',
      body: JSON.stringify({ codebase: { repository: bare }, scan: JSON.parse(readFileSync(fixturePath('scans/express-4.19.2.cdx.json'), 'utf8')) }),
    });
    expect(createdRes.status).toBe(201);
    const created = { remediationId: createdRes.body.id as string };
    executionId = await startPatch(env, created.remediationId);
    await waitFor(env, `/v1/executions/${executionId}`, (b) => b.state === 'patch_generated');
    const res = await api(env, `/v1/executions/${executionId}/pull-requests`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(202);
    const opened = await waitSettled(env, executionId);
    expect(opened.state).toBe('pr_opened');
    number = opened.pullRequests[0].number;
    expect(opened.pullRequests[0]).toMatchObject({ state: 'open', patchVersion: 1, checks: [], rebaseStopped: null });
    // Anything but an installation token is refused by github-local in App mode.
    expect(env.stack.githubAuth.kind).toBe('app');
    octokit = (await createGithubClient({ apiUrl: env.stack.githubUrl, auth: env.stack.githubAuth }).forRepository(owner, 'express')) as unknown as Octokit;
    await expect(new Octokit({ auth: 'ghp_not_an_installation_token', baseUrl: env.stack.githubUrl }).rest.pulls.get({ owner, repo: 'express', pull_number: number })).rejects.toMatchObject({ status: 401 });
    const pr = (await octokit.rest.pulls.get({ owner, repo: 'express', pull_number: number })).data;
    expect(pr.head.sha).toBe(opened.patchVersions[0].sha);
    server.assertDone();
  }, 120_000);

  it('a non-actionable comment is stored and triaged, and changes nothing', async () => {
    const server = await useScript([
      {
        expect: (r) => expect(r.body!.tool_choice).toEqual({ type: 'tool', name: 'triage_feedback' }),
        content: [{ type: 'tool_use', name: 'triage_feedback', input: { actionable: false, reasoning: 'Praise; nothing is asked.', request: '' } }],
      },
    ]);
    const p = repoPayload(example('issue_comment', 'created'));
    p['issue'] = { ...p['issue'], number, pull_request: { url: `x/pulls/${number}` } };
    p['comment'] = { ...p['comment'], id: 50_001, body: 'Thanks, this looks great!', user: { ...p['comment'].user, login: 'alice' } };
    const res = await deliver('issue_comment', p);
    expect(res).toMatchObject({ status: 200, body: { outcome: 'handled' } });
    const after = await execution();
    expect(after.state).toBe('pr_opened');
    expect(after.patchVersions).toHaveLength(1);
    expect(after.reviews).toEqual([expect.objectContaining({ kind: 'issue_comment', author: 'alice', actionable: false, triagedBy: 'model', iteration: null })]);
    server.assertDone();
  }, 60_000);

  it('a triage cut off by an unreachable model is retried later; the delivery GitHub redelivers has no second effect; one public event', async () => {
    await model.current()?.close(); // the model is unreachable
    const p = repoPayload(example('issue_comment', 'created'));
    p['issue'] = { ...p['issue'], number, pull_request: { url: `x/pulls/${number}` } };
    p['comment'] = { ...p['comment'], id: 50_002, body: 'Why cookie 0.7.0 and not 1.x?', user: { ...p['comment'].user, login: 'bob' } };
    const failed = await deliver('issue_comment', p);
    expect(failed.status).toBe(500); // GitHub shows the delivery failed
    const stored = await sql(env, 'select id, actionable from review_feedback where provider_id = 50002');
    expect(stored).toEqual([{ id: expect.anything(), actionable: null }]);

    const server = await useScript([
      { content: [{ type: 'tool_use', name: 'triage_feedback', input: { actionable: false, reasoning: 'A question about the chosen version; no change is asked.', request: '' } }] },
    ]);
    // GitHub's redelivery of the failed delivery is handled (it was not recorded as seen)...
    expect((await deliver('issue_comment', p, failed.deliveryId)).body.outcome).toBe('handled');
    // ...and the pending pass triages the stored item once its claim is old (PR_TRIAGE_RETRY_MS).
    const after = await waitFor(env, `/v1/executions/${executionId}`, (b) => b.reviews.some((r: any) => r.author === 'bob' && r.actionable !== null), 30_000);
    expect(after.reviews.find((r: any) => r.author === 'bob')).toMatchObject({ actionable: false, triagedBy: 'model' });
    expect(after.state).toBe('pr_opened');
    expect((await deliver('issue_comment', p, failed.deliveryId)).body.outcome).toBe('duplicate');

    // The public event, once, on the event stream.
    const id = Number(stored[0].id);
    const outbox = await waitForRows(`select published_at from outbox where msg_id = 'feedback.triaged:${id}' and published_at is not null`);
    expect(outbox).toHaveLength(1);
    const nc = await connect({ servers: env.nats.url });
    try {
      const msg = await (await jetstream(nc).streams.get('REMEDIATION_EVENTS')).getMessage({ last_by_subj: feedbackTriagedSubject(env.stack.tenant) });
      const event = FeedbackTriagedEvent.parse(msg!.json());
      expect(event).toMatchObject({ executionId, pullRequest: { number }, feedback: { id, kind: 'issue_comment', author: 'bob' }, actionable: false, decidedBy: 'model' });
    } finally {
      await nc.close();
    }
    server.assertDone();
  }, 90_000);

  it('an actionable review → a new version that addresses it → the PR is updated with a reply linking it; a duplicate delivery has no second effect', async () => {
    const server = await useScript([
      { content: [{ type: 'tool_use', name: 'triage_feedback', input: { actionable: true, reasoning: 'Asks for a code change.', request: 'Add a comment in index.js saying why the dependencies were upgraded.' } }] },
      {
        expect: (r) => {
          const text = JSON.stringify(r.body!.messages);
          expect(text).toContain('Add a comment in index.js');
          expect(text).toContain('body-parser'); // the previous version's diff
        },
        content: [{ type: 'tool_use', name: 'edit_file', input: { path: 'index.js', old_string: "module.exports = require('./lib/express');", new_string: "// Dependencies upgraded for security advisories (see the PR).\nmodule.exports = require('./lib/express');" } }],
      },
      { content: [{ type: 'tool_use', name: 'report_outcome', input: { target: 'body-parser', status: 'success', reason: 'explained the upgrade in index.js, as the reviewer asked' } }] },
      { content: [{ type: 'text', text: 'Done.' }] },
    ]);
    const p = repoPayload(example('pull_request_review', 'submitted'));
    p['pull_request'] = { ...p['pull_request'], number };
    p['review'] = { ...p['review'], id: 70_001, state: 'changes_requested', body: 'Please add a comment in index.js explaining why we upgraded.', user: { ...p['review'].user, login: 'alice' } };
    const first = await deliver('pull_request_review', p);
    expect(first).toMatchObject({ status: 200, body: { outcome: 'handled' } });
    const done = await waitFor(env, `/v1/executions/${executionId}`, (b) => b.state === 'pr_opened' && b.patchVersions.length === 2, 120_000);
    const v2 = done.patchVersions[1];
    expect(v2).toMatchObject({ version: 2, feedback: { source: 'github', iteration: 2 }, iteration: { number: 2, reason: 'review' }, approvable: true });
    expect(done.pullRequests[0]).toMatchObject({ patchVersion: 2, headSha: v2.sha, state: 'open' });
    const pr = (await octokit.rest.pulls.get({ owner, repo: 'express', pull_number: number })).data;
    expect(pr.head.sha).toBe(v2.sha);
    const comments = (await octokit.rest.issues.listComments({ owner, repo: 'express', issue_number: number })).data;
    const reply = comments.find((c) => c.body?.includes('Addressed the review feedback in patch version 2'));
    expect(reply?.body).toContain(`/commits/${v2.sha}`);
    expect(git(['show', `${v2.sha}:index.js`], bare)).toContain('Dependencies upgraded for security advisories');
    const history = (await api(env, `/v1/executions/${executionId}/history`)).body.entries.map((e: any) => e.event);
    expect(history).toEqual(expect.arrayContaining(['feedback.triaged']));
    expect(done.reviews.find((r: any) => r.kind === 'review')).toMatchObject({ actionable: true, iteration: 2 });
    server.assertDone();

    // The same delivery again, and the same review in a new delivery: no second effect.
    await useScript([]);
    expect((await deliver('pull_request_review', p, first.deliveryId)).body.outcome).toBe('duplicate');
    expect((await deliver('pull_request_review', p)).body.outcome).toBe('handled');
    await sleep(1000);
    const again = await execution();
    expect(again.patchVersions).toHaveLength(2);
    expect(again.state).toBe('pr_opened');
    expect((await sql(env, 'select count(*)::int as n from review_feedback where execution_id = $1', [executionId]))[0].n).toBe(3); // 2 comments, 1 review
    expect(model.current()!.requests).toHaveLength(0);
  }, 180_000);

  it('the base branch moves: the PR is rebased server-side, pushed with lease, with no unrelated changes', async () => {
    const moved = await commitToRemote(bare, { 'README.md': 'Fast, unopinionated web framework.\n' }, 'docs: readme');
    const p = repoPayload(example('push'));
    p['ref'] = 'refs/heads/master';
    p['after'] = moved;
    expect((await deliver('push', p)).status).toBe(200);
    const done = await waitFor(env, `/v1/executions/${executionId}`, (b) => b.state === 'pr_opened' && b.patchVersions.length === 3, 120_000);
    const v3 = done.patchVersions[2];
    expect(v3).toMatchObject({ version: 3, baseCommit: moved, feedback: null, iteration: null });
    const diff = prDiffFiles();
    expect(diff.head).toBe(v3.sha);
    expect(diff.mergeBase).toBe(moved); // on top of the new head
    expect(diff.files).toEqual(['index.js', 'package.json']); // README.md is not in the PR
    const entries = (await api(env, `/v1/executions/${executionId}/history`)).body.entries;
    expect(entries.some((e: any) => e.to === 'pr_updating')).toBe(true);
    expect(entries.find((e: any) => e.event === 'branch.pushed' && e.details.rebased)).toBeTruthy();
  }, 180_000);

  it('a conflicting base: the patch is re-applied on the new head as a new version (bumps re-run, agent change re-done)', async () => {
    const server = await useScript([
      {
        expect: (r) => expect(JSON.stringify(r.body!.messages)).toContain('no longer applies'),
        content: [{ type: 'tool_use', name: 'edit_file', input: { path: 'index.js', old_string: "module.exports = require('./lib/express');", new_string: "// Dependencies upgraded for security advisories (see the PR).\nmodule.exports = require('./lib/express');" } }],
      },
      { content: [{ type: 'tool_use', name: 'report_outcome', input: { target: 'body-parser', status: 'success', reason: 're-did the index.js comment' } }] },
      { content: [{ type: 'text', text: 'Re-applied.' }] },
    ]);
    // Someone bumps body-parser on master differently: the PR's package.json hunk conflicts.
    const manifest = git(['show', 'master:package.json'], bare).replace('"body-parser": "1.20.2"', '"body-parser": "1.20.2",\n    "helmet": "7.1.0"');
    const moved = await commitToRemote(bare, { 'package.json': manifest, 'index.js': "'use strict';\nmodule.exports = require('./lib/express');\n" }, 'add helmet');
    const p = repoPayload(example('push'));
    p['ref'] = 'refs/heads/master';
    expect((await deliver('push', p)).status).toBe(200);
    const done = await waitFor(env, `/v1/executions/${executionId}`, (b) => b.state === 'pr_opened' && b.patchVersions.length >= 4, 180_000);
    const last = done.patchVersions.at(-1);
    // The re-application is an iteration of its own (no feedback row disguised as one).
    expect(last).toMatchObject({ baseCommit: moved, feedback: null, iteration: { reason: 'rebase_reapply', feedbackId: null, detail: expect.stringContaining('package.json') } });
    expect(done.iterations.at(-1)).toMatchObject({ reason: 'rebase_reapply', patchVersion: last.version });
    expect(done.feedback.every((f: any) => f.source === 'github')).toBe(true);
    const pkg = git(['show', `${last.sha}:package.json`], bare);
    expect(pkg).toContain('"helmet": "7.1.0"');
    expect(pkg).toContain('"body-parser": "1.20.3"');
    expect(git(['show', `${last.sha}:index.js`], bare)).toContain("'use strict';\n// Dependencies upgraded");
    expect(prDiffFiles().files).toEqual(['index.js', 'package.json']);
    const comments = (await octokit.rest.issues.listComments({ owner, repo: 'express', issue_number: number })).data;
    expect(comments.some((c) => c.body?.includes('re-applied'))).toBe(true);
    server.assertDone();
  }, 240_000);

  it('a person pushes to the PR branch: rebasing stops and the PR says so', async () => {
    const branch = `remediation/${executionId.split('.')[0]}/patch.2`;
    await commitToRemote(bare, { 'CONTRIBUTING.md': 'be nice\n' }, 'docs: contributing (by a person)', branch);
    const moved = await commitToRemote(bare, { 'LICENSE': 'MIT\n' }, 'license');
    const p = repoPayload(example('push'));
    p['ref'] = 'refs/heads/master';
    p['after'] = moved;
    expect((await deliver('push', p)).status).toBe(200);
    const after = await waitFor(env, `/v1/executions/${executionId}`, (b) => b.pullRequests[0].rebaseStopped !== null, 60_000);
    expect(after.state).toBe('pr_opened');
    expect(after.pullRequests[0].rebaseStopped).toMatch(/pushed 1 commit/);
    const comments = (await octokit.rest.issues.listComments({ owner, repo: 'express', issue_number: number })).data;
    expect(comments.some((c) => c.body?.includes('no longer rebase this pull request'))).toBe(true);
    expect(after.patchVersions.every((v: any) => v.baseCommit !== moved)).toBe(true);
  }, 120_000);

  it('check runs of the head SHA are read and shown on the pull request', async () => {
    const before = await execution();
    const headSha = before.pullRequests[0].headSha;
    await octokit.rest.checks.create({ owner, repo: 'express', name: 'unit tests', head_sha: headSha, status: 'completed', conclusion: 'failure', output: { title: '2 failing', summary: 'test/app.router.js' } });
    const p = repoPayload(example('check_run', 'completed'));
    p['check_run'] = { ...p['check_run'], head_sha: headSha };
    expect((await deliver('check_run', p)).body.outcome).toBe('handled');
    const after = await execution();
    expect(after.pullRequests[0].checks).toEqual([expect.objectContaining({ name: 'unit tests', status: 'completed', conclusion: 'failure', headSha })]);
    // Not fed to the agent unless PR_FEED_FAILING_CHECKS is on: no iteration, nothing stored as feedback.
    expect(after.state).toBe('pr_opened');
    expect(after.patchVersions).toHaveLength(before.patchVersions.length);
    expect(after.reviews.filter((r: any) => r.kind === 'check_run')).toEqual([]);

    // With PR_FEED_FAILING_CHECKS on, the failing check is stored once as feedback and triaged.
    await env.stack.restart('pr-service', { PR_FEED_FAILING_CHECKS: 'true' });
    try {
      const server = await useScript([
        {
          expect: (r) => expect(JSON.stringify(r.body!.system)).toContain('Check \\"unit tests\\" failure'),
          content: [{ type: 'tool_use', name: 'triage_feedback', input: { actionable: false, reasoning: 'The failing tests are in the router, which this change does not touch.', request: '' } }],
        },
      ]);
      expect((await deliver('check_run', p)).body.outcome).toBe('handled');
      expect((await deliver('check_run', p)).body.outcome).toBe('handled'); // a new delivery of the same run: stored once
      const fed = await execution();
      expect(fed.reviews.filter((r: any) => r.kind === 'check_run')).toEqual([expect.objectContaining({ kind: 'check_run', actionable: false, triagedBy: 'model' })]);
      expect(fed.state).toBe('pr_opened');
      server.assertDone();
    } finally {
      await env.stack.restart('pr-service', {});
    }
  }, 90_000);

  it('a review iteration that ships nothing (declined partial success) leaves the PR on its version, says so, and keeps the targets as they were', async () => {
    const before = await execution();
    const server = await useScript([
      { content: [{ type: 'tool_use', name: 'triage_feedback', input: { actionable: true, reasoning: 'Asks to pin body-parser differently.', request: 'Pin body-parser to a range instead of an exact version.' } }] },
      { content: [{ type: 'tool_use', name: 'report_outcome', input: { target: 'body-parser', status: 'failed', reason: 'a range would admit vulnerable versions; left as it is' } }] },
      { content: [{ type: 'text', text: 'Not changed.' }] },
      {
        expect: (r) => expect(r.body!.tool_choice).toEqual({ type: 'tool', name: 'decide_partial_success' }),
        content: [{ type: 'tool_use', name: 'decide_partial_success', input: { ship: false, targets: [], reasoning: 'Nothing the reviewer asked for was done; the open version stands.' } }],
      },
    ]);
    const p = repoPayload(example('pull_request_review', 'submitted'));
    p['pull_request'] = { ...p['pull_request'], number };
    p['review'] = { ...p['review'], id: 70_003, state: 'changes_requested', body: 'Please use a caret range for body-parser.', user: { ...p['review'].user, login: 'alice' } };
    expect((await deliver('pull_request_review', p)).body.outcome).toBe('handled');
    const comments = async () => (await octokit.rest.issues.listComments({ owner, repo: 'express', issue_number: number })).data;
    for (let i = 0; i < 200 && !(await comments()).some((c) => c.body?.startsWith('Updating this pull request failed')); i++) await sleep(300);
    const after = await waitFor(env, `/v1/executions/${executionId}`, (b) => b.state === 'pr_opened', 60_000);
    expect(after.patchVersions).toHaveLength(before.patchVersions.length);
    expect(after.pullRequests[0]).toMatchObject({ patchVersion: before.pullRequests[0].patchVersion, headSha: before.pullRequests[0].headSha });
    expect(after.targets.map((t: any) => [t.name, t.status])).toEqual(before.targets.map((t: any) => [t.name, t.status]));
    expect((await comments()).find((c) => c.body?.startsWith('Updating this pull request failed'))?.body).toContain('PARTIAL_SUCCESS_DECLINED');
    server.assertDone();
  }, 120_000);

  it('merging the PR closes the execution', async () => {
    await octokit.rest.pulls.merge({ owner, repo: 'express', pull_number: number });
    const p = repoPayload(example('pull_request', 'closed'));
    p['pull_request'] = { ...p['pull_request'], number, merged: true };
    expect((await deliver('pull_request', p)).status).toBe(200);
    const done = await waitSettled(env, executionId);
    expect(done.state).toBe('pr_merged');
    expect(done.pullRequests[0].state).toBe('merged');
    const events = (await api(env, `/v1/executions/${executionId}/history`)).body.entries.filter((e: any) => e.to === 'pr_merged');
    expect(events).toHaveLength(1);
  }, 60_000);

  it('refuses unsigned or wrongly signed deliveries', async () => {
    const raw = JSON.stringify(webhookExample('ping'));
    const res = await fetch(`${env.stack.serviceUrl('pr-service')}/v1/webhooks/github`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-github-event': 'ping', 'x-github-delivery': randomUUID(), 'x-hub-signature-256': 'sha256=00' },
      body: raw,
    });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { code: string }).code).toBe('WEBHOOK_SIGNATURE_INVALID');
  });
});
