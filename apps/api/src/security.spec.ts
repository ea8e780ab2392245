import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateExecutionRequest } from '@remediation/contracts';
import { createRemediation } from '@remediation/persistence';
import { type ApiUnderTest, apiUnderTest } from '../test-support/api-under-test.js';

/**
 * Issue 11 regression cases at the API's door (a database for credentials and one remediation, no
 * NATS: a request that got as far as publishing work would fail with 500, so a 400 here proves it
 * was refused first): the codebase policy, branch names, unknown fields, and one ErrorBody for
 * 404/413/414/415/431/bad JSON.
 */

let api: ApiUnderTest;

/** The one place requests are built: an admin API key of the spec's tenant. */
function requestHeaders(extra: Record<string, string> = {}): Record<string, string> {
  return { ...api.as(), ...extra };
}

const SECRET = 's3cr3t-t0ken';
const scan = { bomFormat: 'CycloneDX', specVersion: '1.5', components: [] };

let app: ApiUnderTest['app'];
let withCodebase: ApiUnderTest['app'];
beforeAll(async () => {
  api = await apiUnderTest('api_security', { scanLimits: { maxBytes: 64 * 1024 } }, ['default'], { repositoryPolicy: { allowedHosts: ['github.com'], allowLocal: false } });
  // rem_x: a remediation whose codebase names its base branch (for the base-branch check).
  await createRemediation(api.db, { id: 'rem_x', codebase: { repository: 'https://github.com/acme/app.git', baseBranch: 'develop' }, scan, idempotencyKey: null, worker: 'spec:1' });
  app = api.app;
  withCodebase = api.app;
});
afterAll(async () => {
  await api.close();
});

const postRemediation = (codebase: object) =>
  app.inject({ method: 'POST', url: '/v1/remediations', headers: requestHeaders({ 'content-type': 'application/json' }), payload: { codebase, scan } });

describe('codebase policy at POST /v1/remediations (before anything is stored)', () => {
  it.each([
    ['/srv/git/acme/app.git', 'local-disabled'],
    ['file:///srv/git/acme/app.git', 'local-disabled'],
    ['http://github.com/acme/app.git', 'scheme'],
    ['ext::sh -c id', 'scheme'],
    ['ssh://-oProxyCommand=touch%20x/acme/app', 'option-like'],
    ['git@github.com:-acme/app.git', 'option-like'],
    ['https://gitlab.evil.example/acme/app.git', 'host-not-allowed'],
  ])('%s → 400 CODEBASE_INVALID (%s)', async (repository, rule) => {
    const res = await postRemediation({ repository });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'CODEBASE_INVALID', details: { field: 'codebase.repository', rule } });
  });

  it.each([`https://user:${SECRET}@github.com/acme/app.git`, `https://${SECRET}@github.com/acme/app.git`, `ssh://git:${SECRET}@github.com/acme/app.git`])(
    'credentials in %s → 400 that never repeats them',
    async (repository) => {
      const res = await postRemediation({ repository });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ code: 'CODEBASE_INVALID', details: { rule: 'credentials' } });
      expect(res.body).not.toContain(SECRET);
    },
  );

  it('refuses a pullRequestRepository that is not a GitHub owner/repo', async () => {
    for (const pullRequestRepository of [{ owner: '-acme', repo: 'app' }, { owner: 'acme', repo: '..' }, { owner: 'a'.repeat(40), repo: 'app' }, { owner: 'acme', repo: 'a/b' }]) {
      const res = await postRemediation({ repository: 'https://github.com/acme/app.git', pullRequestRepository });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ code: 'REQUEST_INVALID' });
    }
  });
});

describe('branch names at POST /v1/remediations/:id/executions (before any execution is created)', () => {
  it.each([
    ['HEAD', /HEAD/],
    ['refs/heads/main', /full ref or a tag/],
    ['refs/tags/v1', /full ref or a tag/],
    ['--force', /begin with "-"/],
    ['a..b', /git-check-ref-format/],
    ['fix:main', /git-check-ref-format/],
  ])('%s → 400 naming the rule', async (branchName, rule) => {
    const res = await app.inject({ method: 'POST', url: '/v1/remediations/rem_x/executions', headers: requestHeaders(), payload: { tier: 'minimal', branchName } });
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe('REQUEST_INVALID');
    expect(res.json().message).toMatch(rule);
  });

  it('the base branch of the codebase → 400 BRANCH_NAME_INVALID', async () => {
    const res = await withCodebase.inject({ method: 'POST', url: '/v1/remediations/rem_x/executions', headers: requestHeaders(), payload: { tier: 'minimal', branchName: 'develop' } });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'BRANCH_NAME_INVALID', details: { field: 'branchName', rule: 'base-branch' } });
  });
});

describe('unknown request fields are refused', () => {
  it.each([
    ['POST', '/v1/remediations', { codebase: { repository: 'https://github.com/a/b.git' }, scan, extra: 1 }],
    ['POST', '/v1/remediations', { codebase: { repository: 'https://github.com/a/b.git', token: 'x' }, scan }],
    ['POST', '/v1/remediations/rem_x/executions', { tier: 'minimal', force: true }],
    ['POST', '/v1/executions/e/feedback', { text: 'x', urgent: true }],
    ['POST', '/v1/executions/e/cancel', { reason: 'x', hard: true }],
    ['POST', '/v1/executions/e/pull-requests', { patchVersion: 1, merge: true }],
  ] as const)('%s %s with an extra field → 400', async (method, url, payload) => {
    const res = await app.inject({ method, url, headers: requestHeaders(), payload });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'REQUEST_INVALID', message: expect.stringMatching(/unrecognized key|Unrecognized key/i) });
  });

  it('an unknown query parameter → 400', async () => {
    const res = await app.inject({ method: 'GET', url: '/v1/executions/e/diff?versoin=1', headers: requestHeaders() });
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe('REQUEST_INVALID');
  });

  it('keeps the v1 alias upgradeOption', () => {
    expect(CreateExecutionRequest.safeParse({ upgradeOption: 'minimal' }).success).toBe(true);
    expect(CreateExecutionRequest.safeParse({ tier: 'minimal', upgradeOption: 'minimal', branchName: 'fix/x' }).success).toBe(true);
  });
});

describe('one ErrorBody for every error', () => {
  const isErrorBody = (body: unknown) => expect(body).toMatchObject({ code: expect.any(String), message: expect.any(String) });

  it('404 for an unknown route', async () => {
    const res = await app.inject({ method: 'GET', url: '/v1/nothing-here?x=1', headers: requestHeaders() });
    expect(res.statusCode).toBe(404);
    isErrorBody(res.json());
    expect(res.json()).toMatchObject({ code: 'ROUTE_NOT_FOUND', message: 'no route GET /v1/nothing-here' });
  });

  it('413 for a body over the limit', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/remediations', headers: requestHeaders({ 'content-type': 'application/json' }), payload: JSON.stringify({ pad: 'x'.repeat(70 * 1024) }) });
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ code: 'BODY_TOO_LARGE', message: expect.stringContaining('65536 bytes') });
  });

  it('414 for a URL over 8 KiB', async () => {
    const res = await app.inject({ method: 'GET', url: `/v1/executions/${'x'.repeat(9000)}`, headers: requestHeaders() });
    expect(res.statusCode).toBe(414);
    expect(res.json()).toMatchObject({ code: 'URL_TOO_LONG', details: { limit: 8192 } });
  });

  it('415 for a body that is not JSON, naming what is accepted', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/remediations', headers: requestHeaders({ 'content-type': 'text/plain' }), payload: 'hello' });
    expect(res.statusCode).toBe(415);
    expect(res.json()).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE', message: expect.stringContaining('application/json'), details: { accepted: ['application/json'] } });
  });

  it('400 for a body that is not valid JSON', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/remediations', headers: requestHeaders({ 'content-type': 'application/json' }), payload: '{"codebase": ' });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'REQUEST_INVALID', message: expect.stringContaining('not valid JSON') });
  });

  it('431 for headers over node\'s limit, as a JSON ErrorBody', async () => {
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as { port: number };
    const res = await new Promise<{ status: number; body: string; type: string }>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/v1/dead-letters', headers: { ...requestHeaders(), 'x-big': 'y'.repeat(20 * 1024) } }, (r) => {
        let body = '';
        r.setEncoding('utf8');
        r.on('data', (c: string) => (body += c));
        r.on('end', () => resolve({ status: r.statusCode ?? 0, body, type: String(r.headers['content-type']) }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(res.status).toBe(431);
    expect(res.type).toContain('application/json');
    expect(JSON.parse(res.body)).toMatchObject({ code: 'HEADERS_TOO_LARGE', message: expect.stringContaining('headers') });
  });
});
