import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturePath } from '@remediation/testing';
import { type TestEnvironment, makeRemote, startTestEnvironment } from '../support/environment.js';
import { sql } from '../support/flows.js';
import { deliverWebhook, webhookExample } from '../support/webhooks.js';

/**
 * Issue 11 regression cases through the running services (the API with local repositories
 * disabled, as in production; pr-service with webhooks on): refused repositories leave no row,
 * credentials are neither echoed nor stored, refused branch names create no execution, a
 * malformed signed webhook is a 400, and the HTTP edge answers ErrorBody for 404/414/415/431.
 * Request-level details are covered faster in apps/api/src/security.spec.ts.
 */

const WEBHOOK_SECRET = 'webhook-secret-for-security-tests';
const CREDENTIAL = 'ghp_SecurityTestToken0123456789';

let env: TestEnvironment;
const scan = () => JSON.parse(readFileSync(fixturePath('scans/express-4.19.2.cdx.json'), 'utf8'));

/** The one place API requests are built (with the test tenant's API key). */
function apiHeaders(extra: Record<string, string> = {}): Record<string, string> {
  return { 'content-type': 'application/json', 'x-api-key': env.stack.apiKey, ...extra };
}

async function api(path: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<{ status: number; text: string; body: any }> {
  const res = await fetch(`${env.stack.apiUrl}${path}`, {
    method: init.method ?? 'GET',
    headers: init.headers ?? apiHeaders(),
    ...(init.body === undefined ? {} : { body: typeof init.body === 'string' ? init.body : JSON.stringify(init.body) }),
  });
  const text = await res.text();
  let body: unknown = null;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: the assertions say so
  }
  return { status: res.status, text, body };
}

beforeAll(async () => {
  env = await startTestEnvironment('security', {}, {
    serviceEnv: {
      api: { ALLOW_LOCAL_REPOSITORIES: 'false', REPOSITORY_HOSTS_ALLOWED: 'github.com' },
      'git-gateway': { ALLOW_LOCAL_REPOSITORIES: 'false', REPOSITORY_HOSTS_ALLOWED: 'github.com' },
      'pr-service': { GITHUB_WEBHOOK_SECRET: WEBHOOK_SECRET, PR_POLL_INTERVAL_MS: '0' },
    },
  });
}, 180_000);

afterAll(async () => {
  await env?.close();
}, 60_000);

describe('codebase policy (local repositories disabled)', () => {
  it('refuses an absolute path and a file:// URL of a real local repository: 400, no row', async () => {
    const bare = await makeRemote(env.reposRoot, 'acme', 'local', { 'package.json': '{"name":"local"}\n' });
    for (const repository of [bare, `file://${bare}`]) {
      const res = await api('/v1/remediations', { method: 'POST', body: { codebase: { repository }, scan: scan() } });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ code: 'CODEBASE_INVALID', details: { field: 'codebase.repository', rule: 'local-disabled' } });
    }
    expect(await sql(env, 'SELECT id FROM remediations')).toEqual([]);
  });

  it('refuses credentials in the URL with a 400 that does not repeat them, and stores nothing', async () => {
    for (const repository of [`https://user:${CREDENTIAL}@github.com/acme/app.git`, `https://${CREDENTIAL}@github.com/acme/app.git`]) {
      const res = await api('/v1/remediations', { method: 'POST', body: { codebase: { repository }, scan: scan() }, headers: apiHeaders({ 'idempotency-key': randomUUID() }) });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ code: 'CODEBASE_INVALID', details: { rule: 'credentials' } });
      expect(res.text).not.toContain(CREDENTIAL);
    }
    expect(await sql(env, 'SELECT id FROM remediations')).toEqual([]);
    expect(await sql(env, 'SELECT id FROM remediations WHERE codebase::text LIKE $1', [`%${CREDENTIAL}%`])).toEqual([]);
  });
});

describe('branch names: refused with a 400 before any execution is created', () => {
  let remediationId: string;
  beforeAll(async () => {
    const res = await api('/v1/remediations', { method: 'POST', body: { codebase: { repository: 'https://github.com/acme/app.git', baseBranch: 'develop' }, scan: scan() } });
    expect(res.status).toBe(201);
    remediationId = res.body.id;
  });

  it.each([
    ['HEAD', 'REQUEST_INVALID', /HEAD/],
    ['refs/heads/main', 'REQUEST_INVALID', /full ref or a tag/],
    ['refs/tags/v1', 'REQUEST_INVALID', /full ref or a tag/],
    ['--force', 'REQUEST_INVALID', /begin with "-"/],
    ['develop', 'BRANCH_NAME_INVALID', /base branch/],
  ])('%s → 400 %s', async (branchName, code, rule) => {
    const res = await api(`/v1/remediations/${remediationId}/executions`, { method: 'POST', body: { tier: 'minimal', branchName } });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe(code);
    expect(res.body.message).toMatch(rule);
    expect(await sql(env, "SELECT id FROM executions WHERE remediation_id = $1 AND kind = 'patch'", [remediationId])).toEqual([]);
  });
});

describe('webhooks', () => {
  it('a correctly signed pull_request_review without `review` → 400 WEBHOOK_INVALID, not 500', async () => {
    const payload = webhookExample('pull_request_review', 'submitted');
    delete payload['review'];
    const res = await deliverWebhook(env, WEBHOOK_SECRET, 'pull_request_review', payload);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 'WEBHOOK_INVALID', message: expect.stringContaining('review') });
  });
});

describe('one ErrorBody at the HTTP edge', () => {
  it('404 for an unknown route, 414 for a long URL, 415 for a non-JSON body', async () => {
    const notFound = await api('/v1/nothing');
    expect(notFound).toMatchObject({ status: 404, body: { code: 'ROUTE_NOT_FOUND', message: expect.any(String) } });
    const long = await api(`/v1/executions/${'x'.repeat(9000)}`);
    expect(long).toMatchObject({ status: 414, body: { code: 'URL_TOO_LONG', message: expect.any(String) } });
    const text = await api('/v1/remediations', { method: 'POST', body: 'hello', headers: apiHeaders({ 'content-type': 'text/plain' }) });
    expect(text).toMatchObject({ status: 415, body: { code: 'UNSUPPORTED_MEDIA_TYPE', message: expect.stringContaining('application/json') } });
  });

  it('431 for headers past the limit, with a JSON ErrorBody', async () => {
    const url = new URL(env.stack.apiUrl);
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest({ host: url.hostname, port: url.port, path: '/v1/dead-letters', headers: { ...apiHeaders(), 'x-big': 'y'.repeat(20 * 1024) } }, (r) => {
        let body = '';
        r.setEncoding('utf8');
        r.on('data', (c: string) => (body += c));
        r.on('end', () => resolve({ status: r.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(res.status).toBe(431);
    expect(JSON.parse(res.body)).toMatchObject({ code: 'HEADERS_TOO_LARGE' });
  });
});
