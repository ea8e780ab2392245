import { readFileSync } from 'node:fs';
import { Octokit } from '@octokit/rest';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturePath } from '@remediation/testing';
import { type TestEnvironment, commitToRemote, git, makeRemote, runCli, startTestEnvironment } from '../support/environment.js';
import { createJwtRemediation, nodegoatCodebase, startPatch, waitSettled } from '../support/flows.js';

/**
 * End to end: the five services as separate processes, the real PostgreSQL, a private
 * nats-server, real git and overlay mounts, and the local GitHub-compatible server, driven by
 * the `remediate` CLI and the HTTP API.
 */
let env: TestEnvironment;

beforeAll(async () => {
  // Through the internal-mirror protocol too: git-gateway mirrors from git-mirror-local.
  env = await startTestEnvironment('e2e', {}, { mirror: true });
}, 180_000);

afterAll(async () => {
  await env?.close();
}, 60_000);

async function api(path: string, init: RequestInit = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(new URL(path, env.stack.apiUrl), {
    ...init,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${env.stack.apiKey}`, ...(init.headers ?? {}) },
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function waitForState(executionId: string, done: (s: string) => boolean, timeoutMs = 60_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { body } = await api(`/v1/executions/${executionId}`);
    if (done(body.state)) return body;
    if (Date.now() > deadline) throw new Error(`execution ${executionId} stuck in ${body.state}/${body.step}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('express 4.19.2: scan → plan → patch → pull request', () => {
  let bare: string;
  let summary: any;

  beforeAll(() => {
    // The real package.json of express 4.19.2 (test/fixtures/manifests) as the repository state.
    const manifest = readFileSync(fixturePath('manifests/express-4.19.2/package.json'), 'utf8');
    return makeRemote(env.reposRoot, 'expressjs', 'express', {
      'package.json': manifest,
      'index.js': "module.exports = require('./lib/express');\n",
    }).then((b) => {
      bare = b;
    });
  });

  it('the CLI reaches pr_opened with exactly the five minimal bumps', () => {
    const run = runCli(['--repo', bare, '--scan', fixturePath('scans/express-4.19.2.cdx.json'), '--tier', 'minimal', '--approve', '--api', env.stack.apiUrl, '--api-key', env.stack.apiKey]);
    expect(run.code, run.stderr).toBe(0);
    summary = run.summary;
    expect(summary.state).toBe('pr_opened');
    const bumps = Object.fromEntries(summary.targets.map((t: any) => [t.name, `${t.from}→${t.to}:${t.status}`]));
    expect(bumps).toEqual({
      'body-parser': '1.20.2→1.20.3:success',
      cookie: '0.6.0→0.7.0:success',
      'path-to-regexp': '0.1.7→0.1.10:success',
      send: '0.18.0→0.19.0:success',
      'serve-static': '1.15.0→1.16.0:success',
    });
    expect(summary.commit).toMatch(/^[0-9a-f]{40}$/);
    expect(summary.pullRequest.url).toMatch(/\/expressjs\/express\/pull\/\d+$/);
  });

  it('the pushed branch changes package.json only, by exactly those lines', () => {
    const branch = summary.pullRequest.branch;
    expect(git(['rev-parse', `refs/heads/${branch}`], bare)).toBe(summary.commit);
    expect(git(['diff', '--name-only', 'master', branch], bare)).toBe('package.json');
    const diff = git(['diff', '-U0', 'master', branch], bare);
    const changed = diff.split('\n').filter((l) => /^[+-]\s/.test(l));
    expect(changed.sort()).toEqual(
      [
        '-    "body-parser": "1.20.2",',
        '+    "body-parser": "1.20.3",',
        '-    "cookie": "0.6.0",',
        '+    "cookie": "0.7.0",',
        '-    "path-to-regexp": "0.1.7",',
        '+    "path-to-regexp": "0.1.10",',
        '-    "send": "0.18.0",',
        '+    "send": "0.19.0",',
        '-    "serve-static": "1.15.0",',
        '+    "serve-static": "1.16.0",',
      ].sort(),
    );
    // The commit's parent is the base commit the execution started from.
    expect(git(['rev-parse', `${summary.commit}^`], bare)).toBe(summary.baseCommit);
  });

  it('the pull request on the GitHub-compatible server has the default body', async () => {
    const octokit = new Octokit({ auth: 'test', baseUrl: env.stack.githubUrl });
    const pr = await octokit.rest.pulls.get({ owner: 'expressjs', repo: 'express', pull_number: summary.pullRequest.number });
    expect(pr.data.head.ref).toBe(summary.pullRequest.branch);
    expect(pr.data.head.sha).toBe(summary.commit);
    expect(pr.data.base.ref).toBe('master');
    expect(pr.data.state).toBe('open');
    for (const id of ['GHSA-qwcr-r2fm-qrc7', 'GHSA-pxg6-pf52-xh8x', 'GHSA-9wv6-86v2-598j', 'GHSA-m6fv-jmcg-4jfg', 'GHSA-cm22-4g7w-348p', 'CVE-2024-45590']) {
      expect(pr.data.body).toContain(id);
    }
    expect(pr.data.body).toMatch(/Regenerate the lockfile/i);
    expect(pr.data.body).toContain('| `body-parser` | `package.json` | 1.20.2 | 1.20.3 |');
  });

  it('the API shows the execution, its diff, its pull request and its history', async () => {
    const exec = await api(`/v1/executions/${summary.executionId}`);
    expect(exec.status).toBe(200);
    expect(exec.body.patchVersions).toHaveLength(1);
    expect(exec.body.patchVersions[0]).toMatchObject({ version: 1, sha: summary.commit, changedPaths: ['package.json'] });
    expect(exec.body.patchVersions[0].ref).toBe(`refs/remediations/${summary.remediationId}/patch.2/v1`);
    expect(exec.body.pullRequests).toHaveLength(1);
    expect(exec.body.pullRequests[0]).toMatchObject({ state: 'open', number: summary.pullRequest.number, headSha: summary.commit });

    const diff = await api(`/v1/executions/${summary.executionId}/diff`);
    expect(diff.status).toBe(200);
    expect(diff.body.diff).toContain('+    "send": "0.19.0",');

    const history = await api(`/v1/executions/${summary.executionId}/history`);
    const transitions = history.body.entries.filter((e: any) => e.to).map((e: any) => `${e.to}${e.step ? '/' + e.step : ''}`);
    expect(transitions).toEqual([
      'patch_running/workspace',
      'patch_running/editing',
      'patch_running/committing',
      'patch_generated',
      'pr_opening/pushing',
      'pr_opening/opening',
      'pr_opened',
    ]);
    expect(history.body.entries.every((e: any) => typeof e.at === 'string')).toBe(true);

    expect(history.body.attempts.map((a: any) => [a.step, a.deliveryCount, a.outcome])).toEqual([
      ['workspace', 1, 'succeeded'],
      ['editing', 1, 'succeeded'],
      ['committing', 1, 'succeeded'],
      ['pushing', 1, 'succeeded'],
      ['opening', 1, 'succeeded'],
    ]);
    expect(history.body.attempts[0].worker).toMatch(/^git-gateway:\d+$/);

    // The plan's history: heartbeats carry what the step was doing (each registry look-up).
    const planHistory = await api(`/v1/remediations/${summary.remediationId}/history`);
    expect(planHistory.body.state).toBe('plan_generated');
    const lookups = planHistory.body.entries.filter((e: any) => e.event === 'plan.lookup');
    expect(lookups.length).toBeGreaterThan(0);
    expect(lookups[0].details.package).toMatch(/^[a-z@]/);
    expect(planHistory.body.attempts).toHaveLength(1);

    const rem = await api(`/v1/remediations/${summary.remediationId}`);
    expect(rem.body.state).toBe('plan_generated');
    expect(rem.body.plan.upgrade_tiers.minimal.advisoriesFixed).toHaveLength(5);
    expect(rem.body.plan.warnings.join(' ')).toContain('GHSA-qw6h-vgh9-j6wx');
  });

  it('published one public event per state change, on its tenant\'s subject, retained on the event stream', async () => {
    const nc = await connect({ servers: env.nats.url });
    try {
      const jsm = await jetstreamManager(nc);
      const js = jetstream(nc);
      // The outbox relay publishes right after each commit; allow it a moment for the last one.
      let seen: string[] = [];
      let subjects: string[] = [];
      for (let attempt = 0; attempt < 50 && seen.at(-1) !== 'pr_opened'; attempt++) {
        if (attempt) await new Promise((r) => setTimeout(r, 100));
        const info = await jsm.streams.info('REMEDIATION_EVENTS');
        seen = [];
        subjects = [];
        for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
          const m = await js.streams.get('REMEDIATION_EVENTS').then((st) => st.getMessage({ seq }));
          const ev = m?.json<{ executionId: string; to: string }>();
          // State changes only: progress events (`….progress.<step>`, docs/events.md) share the stream.
          if (ev && ev.executionId === summary.executionId && m!.subject.includes('.execution.')) {
            seen.push(ev.to);
            subjects.push(m!.subject);
          }
        }
      }
      expect(seen).toEqual(['patch_running', 'patch_generated', 'pr_opening', 'pr_opened']);
      // Public subjects carry the tenant (issue 11): each team subscribes to remediation.evt.v1.<tenant>.>.
      expect(subjects).toEqual(seen.map((state) => `remediation.evt.v1.${env.stack.tenant}.execution.${state}`));
    } finally {
      await nc.close();
    }
  });

  it('runs several executions of one remediation side by side, each in its own workspace', async () => {
    const [a, b] = await Promise.all([
      api(`/v1/remediations/${summary.remediationId}/executions`, { method: 'POST', body: JSON.stringify({ tier: 'moderate' }) }),
      api(`/v1/remediations/${summary.remediationId}/executions`, {
        method: 'POST',
        body: JSON.stringify({ tier: 'minimal', targets: ['cookie'], branchName: 'fix/cookie-only' }),
      }),
    ]);
    expect(a.status).toBe(202);
    expect(b.status).toBe(202);
    expect(a.body.id).not.toBe(b.body.id);
    const [ea, eb] = await Promise.all([
      waitForState(a.body.id, (s) => s !== 'patch_running'),
      waitForState(b.body.id, (s) => s !== 'patch_running'),
    ]);
    expect(ea.state).toBe('patch_generated');
    expect(eb.state).toBe('patch_generated');
    expect(ea).toMatchObject({ tier: 'moderate', upgradeOption: 'moderate' });
    expect(eb).toMatchObject({ tier: 'minimal', upgradeOption: 'minimal' });
    expect(Object.fromEntries(ea.targets.map((t: any) => [t.name, t.to]))).toMatchObject({ 'body-parser': '1.20.9', 'path-to-regexp': '0.1.13', 'serve-static': '1.16.3' });
    expect(eb.targets.map((t: any) => t.name)).toEqual(['cookie']);
    // Not pushed yet: the patch commit lives in the mirror; the API asks git-gateway for the diff.
    const cookieOnly = (await api(`/v1/executions/${eb.id}/diff`)).body.diff as string;
    expect(cookieOnly.split('\n').filter((l) => /^[+-]\s/.test(l))).toEqual(['-    "cookie": "0.6.0",', '+    "cookie": "0.7.0",']);
    expect(ea.patchVersions[0].sha).not.toBe(eb.patchVersions[0].sha);
  });
});

describe('the base branch moved before approval', () => {
  async function generated(owner: string) {
    const manifest = readFileSync(fixturePath('manifests/express-4.19.2/package.json'), 'utf8');
    const bare = await makeRemote(env.reposRoot, owner, 'express', { 'package.json': manifest, 'README.md': 'express\n' });
    const created = await api('/v1/remediations', {
      method: 'POST',
      body: JSON.stringify({ codebase: { repository: bare }, scan: JSON.parse(readFileSync(fixturePath('scans/express-4.19.2.cdx.json'), 'utf8')) }),
    });
    let rem = created.body;
    for (let i = 0; i < 200 && rem.state === 'planner_running'; i++) {
      await new Promise((r) => setTimeout(r, 200));
      rem = (await api(`/v1/remediations/${rem.id}`)).body;
    }
    const exec = await api(`/v1/remediations/${rem.id}/executions`, { method: 'POST', body: JSON.stringify({ tier: 'minimal' }) });
    const done = await waitForState(exec.body.id, (s) => s !== 'patch_running');
    expect(done.state).toBe('patch_generated');
    return { bare, exec: done, manifest };
  }

  it('rebases the patch onto the new head before pushing: the pull request has no unrelated changes', async () => {
    const { bare, exec } = await generated('moved');
    const newHead = await commitToRemote(bare, { 'README.md': 'express, documented\n', 'docs/guide.md': 'guide\n' }, 'docs');
    expect((await api(`/v1/executions/${exec.id}/pull-requests`, { method: 'POST', body: '{}' })).status).toBe(202);
    const opened = await waitForState(exec.id, (s) => s !== 'pr_opening');
    expect(opened.state).toBe('pr_opened');
    expect(opened.patchVersions.map((v: any) => v.version)).toEqual([1, 2]);
    expect(opened.patchVersions[1].baseCommit).toBe(newHead);
    const pr = opened.pullRequests[0];
    expect(pr).toMatchObject({ patchVersion: 2, headSha: opened.patchVersions[1].sha });
    expect(git(['rev-parse', `${pr.headBranch}^`], bare)).toBe(newHead);
    expect(git(['diff', '--name-only', 'master', pr.headBranch], bare)).toBe('package.json');
    expect(git(['diff', '-U0', 'master', pr.headBranch], bare).split('\n').filter((l) => /^[+]\s/.test(l))).toHaveLength(5);
  });

  it('refuses with the reason when the moved base conflicts with the patch', async () => {
    const { bare, exec, manifest } = await generated('conflicting');
    await commitToRemote(bare, { 'package.json': manifest.replace('"body-parser": "1.20.2"', '"body-parser": "1.20.1"') }, 'pin body-parser');
    await api(`/v1/executions/${exec.id}/pull-requests`, { method: 'POST', body: '{}' });
    const failed = await waitForState(exec.id, (s) => s !== 'pr_opening');
    expect(failed.state).toBe('pr_failed');
    expect(failed.error.code).toBe('REBASE_CONFLICT');
    expect(failed.error.message).toContain('package.json');
  });
});

describe('bad input and duplicates', () => {
  it('rejects a malformed scan with a clear error naming what was wrong', async () => {
    const res = await api('/v1/remediations', {
      method: 'POST',
      body: JSON.stringify({ codebase: { repository: '/srv/git/acme/app.git' }, scan: { bomFormat: 'SPDX', specVersion: '1.5' } }),
    });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('SCAN_INVALID');
    expect(res.body.message).toMatch(/bomFormat/);
  });

  it('rejects a repository that is neither a URL nor an absolute path', async () => {
    const res = await api('/v1/remediations', {
      method: 'POST',
      body: JSON.stringify({ codebase: { repository: 'relative/path' }, scan: JSON.parse(readFileSync(fixturePath('scans/express-4.19.2.cdx.json'), 'utf8')) }),
    });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('CODEBASE_INVALID');
  });

  it('returns the existing remediation for a duplicate Idempotency-Key', async () => {
    const body = JSON.stringify({
      codebase: { repository: '/srv/git/acme/app.git' },
      scan: JSON.parse(readFileSync(fixturePath('scans/express-4.19.2.cdx.json'), 'utf8')),
    });
    const headers = { 'idempotency-key': `dup-${Date.now()}` };
    const [first, second] = await Promise.all([
      api('/v1/remediations', { method: 'POST', body, headers }),
      api('/v1/remediations', { method: 'POST', body, headers }),
    ]);
    expect([first.status, second.status].sort()).toEqual([200, 201]);
    expect(first.body.id).toBe(second.body.id);
  });

  it('answers 404 for unknown executions and 409 for a pull request before a patch exists', async () => {
    expect((await api('/v1/executions/rem_0000000000000000.patch.9')).status).toBe(404);
    const res = await api('/v1/remediations', {
      method: 'POST',
      body: JSON.stringify({ codebase: { repository: '/nonexistent/acme/app.git' }, scan: JSON.parse(readFileSync(fixturePath('scans/express-4.19.2.cdx.json'), 'utf8')) }),
    });
    expect(res.status).toBe(201);
    // Planning works without the repository; patching fails at the workspace step with the reason.
    let rem = res.body;
    for (let i = 0; i < 200 && rem.state === 'planner_running'; i++) {
      await new Promise((r) => setTimeout(r, 200));
      rem = (await api(`/v1/remediations/${rem.id}`)).body;
    }
    expect(rem.state).toBe('plan_generated');
    const exec = await api(`/v1/remediations/${rem.id}/executions`, { method: 'POST', body: JSON.stringify({ tier: 'minimal' }) });
    expect((await api(`/v1/executions/${exec.body.id}/pull-requests`, { method: 'POST', body: '{}' })).status).toBe(409);
    const failed = await waitForState(exec.body.id, (s) => s !== 'patch_running');
    expect(failed.state).toBe('patch_failed');
    expect(failed.error.code).toBe('REPOSITORY_NOT_FOUND');
  });

  it('takes the tier as `tier` or as its v1 alias `upgradeOption`, meaning the same; a contradiction names the field', async () => {
    const res = await api('/v1/remediations', {
      method: 'POST',
      body: JSON.stringify({ codebase: { repository: '/nonexistent/acme/tiers.git' }, scan: JSON.parse(readFileSync(fixturePath('scans/express-4.19.2.cdx.json'), 'utf8')) }),
    });
    let rem = res.body;
    for (let i = 0; i < 200 && rem.state === 'planner_running'; i++) {
      await new Promise((r) => setTimeout(r, 200));
      rem = (await api(`/v1/remediations/${rem.id}`)).body;
    }
    expect(rem.state).toBe('plan_generated');
    const start = (body: object) => api(`/v1/remediations/${rem.id}/executions`, { method: 'POST', body: JSON.stringify({ targets: ['cookie'], ...body }) });
    const byTier = await start({ tier: 'moderate' });
    const byAlias = await start({ upgradeOption: 'moderate' });
    const both = await start({ tier: 'moderate', upgradeOption: 'moderate' });
    for (const r of [byTier, byAlias, both]) {
      expect(r.status).toBe(202);
      expect(r.body).toMatchObject({ tier: 'moderate', upgradeOption: 'moderate' });
      expect(r.body.targets.map((t: any) => [t.name, t.to])).toEqual(byTier.body.targets.map((t: any) => [t.name, t.to]));
    }
    const contradiction = await start({ tier: 'minimal', upgradeOption: 'comprehensive' });
    expect(contradiction.status).toBe(400);
    expect(contradiction.body).toMatchObject({ code: 'REQUEST_INVALID', message: expect.stringContaining('upgradeOption') });
    const none = await start({});
    expect(none.status).toBe(400);
    expect(none.body.message).toContain('tier');
    for (const r of [byTier, byAlias, both]) await waitForState(r.body.id, (s) => s !== 'patch_running');
  });
});

describe('another npm codebase: NodeGoat with caret ranges', () => {
  it('keeps each range style and raises the floor past every advisory', async () => {
    // A scan made by hand: each direct dependency at the lowest version its range admits.
    const { manifest, scan } = nodegoatCodebase();
    const bare = await makeRemote(env.reposRoot, 'OWASP', 'NodeGoat', { 'package.json': manifest });
    const scanFile = `${env.dir}/nodegoat.cdx.json`;
    await import('node:fs/promises').then((fs) => fs.writeFile(scanFile, JSON.stringify(scan)));
    const run = runCli(['--repo', bare, '--scan', scanFile, '--tier', 'minimal', '--approve', '--api', env.stack.apiUrl, '--api-key', env.stack.apiKey]);
    expect(run.code, run.stderr + JSON.stringify(run.summary)).toBe(0);
    const byName = Object.fromEntries(run.summary.targets.map((t: any) => [t.name, t]));
    expect(byName['body-parser']).toMatchObject({ from: '1.15.1', to: '1.20.3', status: 'success' });
    expect(byName['express']).toMatchObject({ from: '4.13.4', to: '4.20.0', status: 'success' });
    expect(byName['marked']).toMatchObject({ from: '0.3.5', to: '4.0.10', status: 'success' });
    const diff = git(['diff', '-U0', 'master', run.summary.pullRequest.branch], bare);
    const changed = diff.split('\n').filter((l) => /^[+-]\s/.test(l)).sort();
    expect(changed).toEqual(
      [
        '-    "body-parser": "^1.15.1",',
        '+    "body-parser": "^1.20.3",',
        '-    "express": "^4.13.4",',
        '+    "express": "^4.20.0",',
        '-    "marked": "0.3.5",',
        '+    "marked": "4.0.10",',
      ].sort(),
    );
  });
});

describe('without an API key (no code-fix agent)', () => {
  it('still runs end to end with the deterministic patcher and marks the major jump as needing the agent', async () => {
    const { remediationId } = await createJwtRemediation(env);
    const id = await startPatch(env, remediationId, { tier: 'minimal' });
    const done = await waitSettled(env, id);
    expect(done.state).toBe('patch_generated');
    const jwt = done.targets.find((t: any) => t.name === 'express-jwt');
    expect(jwt).toMatchObject({ status: 'success', needsAgent: true, declaredTo: '6.0.0', proof: { remediated: true } });
    expect(jwt.reason).toContain('needs the agent');
    expect(done.targets.find((t: any) => t.name === 'body-parser')).toMatchObject({ needsAgent: false, reason: null });
    expect(done.patchVersions[0]).toMatchObject({ approvable: true, agent: null, changedPaths: ['package.json'] });
    // Feedback needs the agent: the iteration fails with the reason.
    const fb = await api(`/v1/executions/${id}/feedback`, { method: 'POST', body: JSON.stringify({ text: 'also fix the code' }) });
    expect(fb.status).toBe(202);
    const failed = await waitSettled(env, id);
    expect(failed.state).toBe('patch_failed');
    expect(failed.error.code).toBe('AGENT_NOT_CONFIGURED');
  }, 120_000);
});
