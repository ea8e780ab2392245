import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { TERMINAL_STATES } from '@remediation/contracts';
import { fixturePath } from '@remediation/testing';
import { type TestEnvironment, git, makeRemote } from './environment.js';

/** JSON over HTTP against the stack's API, with the environment's admin-scoped API key (headers in `init` win). */
export async function api(env: TestEnvironment, path: string, init: RequestInit = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(new URL(path, env.stack.apiUrl), {
    ...init,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${env.stack.apiKey}`, ...(init.headers ?? {}) },
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `done(body)` or throws after `timeoutMs` naming the last state. */
export async function waitFor(env: TestEnvironment, path: string, done: (b: any) => boolean, timeoutMs = 90_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  let last: any = null;
  for (;;) {
    try {
      const r = await api(env, path);
      last = r.body;
      if (r.status === 200 && done(r.body)) return r.body;
    } catch {
      // API restarting
    }
    if (Date.now() > deadline) throw new Error(`timed out on ${path}: last ${JSON.stringify(last)?.slice(0, 400)}`);
    await sleep(250);
  }
}

/** States after which nothing happens without a user. */
export const SETTLED: ReadonlySet<string> = TERMINAL_STATES;

let counter = 0;

/** A remote holding express 4.19.2's package.json under a unique owner, and its remediation. */
export async function createExpressRemediation(env: TestEnvironment, scanPath = fixturePath('scans/express-4.19.2.cdx.json')) {
  const owner = `acme${++counter}x${Date.now().toString(36)}`;
  const bare = await makeRemote(env.reposRoot, owner, 'express', {
    'package.json': readFileSync(fixturePath('manifests/express-4.19.2/package.json'), 'utf8'),
  });
  const res = await api(env, '/v1/remediations', {
    method: 'POST',
    body: JSON.stringify({ codebase: { repository: bare }, scan: JSON.parse(readFileSync(scanPath, 'utf8')) }),
  });
  if (res.status !== 201) throw new Error(`create remediation: ${res.status} ${JSON.stringify(res.body)}`);
  return { remediationId: res.body.id as string, planExecutionId: res.body.planExecution.id as string, bare, owner };
}

/** Waits for the plan, starts a patch execution, returns its id. */
export async function startPatch(env: TestEnvironment, remediationId: string, body: Record<string, unknown> = { tier: 'minimal' }) {
  await waitFor(env, `/v1/remediations/${remediationId}`, (b) => b.state === 'plan_generated');
  const res = await api(env, `/v1/remediations/${remediationId}/executions`, { method: 'POST', body: JSON.stringify(body) });
  if (res.status !== 202) throw new Error(`start execution: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.id as string;
}

/** Waits until the execution settles (see SETTLED). */
export function waitSettled(env: TestEnvironment, executionId: string, timeoutMs?: number) {
  return waitFor(env, `/v1/executions/${executionId}`, (b) => SETTLED.has(b.state), timeoutMs);
}

/** Runs SQL against the test database directly (not through the services). */
export async function sql<T = any>(env: TestEnvironment, text: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: env.databaseUrl });
  await client.connect();
  try {
    return (await client.query(text, params)).rows as T[];
  } finally {
    await client.end();
  }
}

/**
 * Every effect of an execution, counted where it lands: state transitions in history (each
 * target state once per entry into it), patch versions, refs anchoring them in the mirror, commits
 * on the pushed branch, pull requests on the GitHub-compatible server.
 */
export async function effects(env: TestEnvironment, executionId: string) {
  const transitions = await sql<{ to_state: string; step: string | null; n: string }>(
    env,
    `select to_state, step, count(*) as n from history where execution_id = $1 and to_state is not null group by to_state, step`,
    [executionId],
  );
  const versions = await sql(env, 'select version, sha, ref from patch_versions where execution_id = $1', [executionId]);
  const [remediationId, rest] = [executionId.slice(0, executionId.indexOf('.')), executionId.slice(executionId.indexOf('.') + 1)];
  const mirrors = join(env.dir, 'data/persistent/mirrors');
  const refs = (existsSync(mirrors) ? readdirSync(mirrors).filter((m) => m.endsWith('.git')) : []).flatMap((m) =>
    git(['for-each-ref', '--format=%(refname)', `refs/remediations/${remediationId}/${rest}/`], join(mirrors, m)).split('\n').filter(Boolean),
  );
  return {
    transitions: Object.fromEntries(transitions.map((t) => [`${t.to_state}${t.step ? '/' + t.step : ''}`, Number(t.n)])),
    patchVersions: versions.length,
    /** Patch version refs (`…/v<n>`); a work-in-progress `…/checkpoint` ref is GC's to drop. */
    refs: refs.filter((r) => !r.endsWith('/checkpoint')).length,
  };
}


/**
 * A small service using express-jwt 0.1.3 the way OWASP Juice Shop does (`expressJwt({ secret })`,
 * its lib/insecurity.ts), with body-parser 1.20.2: the minimal tier bumps
 * express-jwt to 6.0.0 (a major jump that makes `algorithms` mandatory, GHSA-6g6m-m6h5-w9gf) and
 * body-parser to 1.20.3. Files, and a CycloneDX 1.6 scan naming both as direct dependencies.
 */
export const JWT_APP = {
  files: {
    'package.json': '{\n  "name": "jwt-app",\n  "version": "1.0.0",\n  "dependencies": {\n    "body-parser": "1.20.2",\n    "express-jwt": "0.1.3"\n  }\n}\n',
    'lib/insecurity.js':
      "'use strict';\nconst expressJwt = require('express-jwt');\nconst publicKey = require('fs').readFileSync(__dirname + '/../encryptionkeys/jwt.pub', 'utf8');\n\nexports.isAuthorized = () => expressJwt({ secret: publicKey });\n",
    'test/insecurity.spec.js': "const { isAuthorized } = require('../lib/insecurity');\nit('builds the middleware', () => isAuthorized());\n",
  } as Record<string, string>,
  scan: {
    bomFormat: 'CycloneDX',
    specVersion: '1.6',
    version: 1,
    metadata: { component: { type: 'application', name: 'jwt-app', version: '1.0.0', 'bom-ref': 'jwt-app@1.0.0' } },
    components: [
      { type: 'library', name: 'body-parser', version: '1.20.2', 'bom-ref': 'body-parser@1.20.2', purl: 'pkg:npm/body-parser@1.20.2' },
      { type: 'library', name: 'express-jwt', version: '0.1.3', 'bom-ref': 'express-jwt@0.1.3', purl: 'pkg:npm/express-jwt@0.1.3' },
    ],
    dependencies: [{ ref: 'jwt-app@1.0.0', dependsOn: ['body-parser@1.20.2', 'express-jwt@0.1.3'] }],
  },
};

/**
 * OWASP NodeGoat's real package.json (test/fixtures/manifests/nodegoat, caret and exact ranges)
 * and a CycloneDX 1.5 scan made by hand from it: each direct dependency at the lowest version its
 * range admits. The minimal tier bumps body-parser, express and marked.
 */
export function nodegoatCodebase(): { manifest: string; scan: Record<string, unknown> } {
  const manifest = readFileSync(fixturePath('manifests/nodegoat/package.json'), 'utf8');
  const deps = JSON.parse(manifest).dependencies as Record<string, string>;
  const components = Object.entries(deps).map(([name, range]) => {
    const version = range.replace(/^[\^~]/, '');
    return { type: 'library', 'bom-ref': `${name}@${version}`, name, version, purl: `pkg:npm/${name}@${version}` };
  });
  const scan = {
    bomFormat: 'CycloneDX',
    specVersion: '1.5',
    version: 1,
    metadata: { component: { type: 'application', 'bom-ref': 'nodegoat@1.3.0', name: 'nodegoat', version: '1.3.0' } },
    components,
    dependencies: [{ ref: 'nodegoat@1.3.0', dependsOn: components.map((c) => c['bom-ref']) }],
  };
  return { manifest, scan };
}

/** A remote holding JWT_APP under a unique owner, and its remediation (planning started). */
export async function createJwtRemediation(env: TestEnvironment) {
  const owner = `jwt${++counter}x${Date.now().toString(36)}`;
  const bare = await makeRemote(env.reposRoot, owner, 'jwt-app', JWT_APP.files);
  const res = await api(env, '/v1/remediations', { method: 'POST', body: JSON.stringify({ codebase: { repository: bare }, scan: JWT_APP.scan }) });
  if (res.status !== 201) throw new Error(`create remediation: ${res.status} ${JSON.stringify(res.body)}`);
  return { remediationId: res.body.id as string, bare, owner };
}
