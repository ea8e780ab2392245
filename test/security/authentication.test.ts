import { readFileSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CryptoKey, SignJWT, exportJWK, generateKeyPair } from 'jose';
import type { RouteOptions } from 'fastify';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsHandles } from '@remediation/messaging';
import {
  type Database,
  createApiKey,
  ensureDatabaseExists,
  migrate,
  openDatabase,
  recordDeadLetter,
  revokeApiKey,
  upsertTenant,
} from '@remediation/persistence';
import { dropDatabase, fixturePath, freshDatabaseUrl } from '@remediation/testing';
import { buildApi } from '../../apps/api/src/server.js';

/**
 * Issue 11, authentication and tenancy, against the API in-process (fastify inject) on a real
 * PostgreSQL: no credentials → 401 on every data route; a missing scope → 403; JWTs of a local
 * JWKS accepted, expired / wrong issuer / wrong audience / foreign key refused; a revoked API key
 * refused; another tenant's ids → 404 on every route (reads and writes); dead letters and
 * idempotency keys per tenant; the tenant's allowed repository hosts and owners. NATS is not
 * needed: every refusal happens before a handler would ask git-gateway.
 */

const ISSUER = 'https://issuer.test';
const AUDIENCE = 'remediation-api';
const scan = JSON.parse(readFileSync(fixturePath('scans/express-4.19.2.cdx.json'), 'utf8'));

let db: Database;
let app: Awaited<ReturnType<typeof buildApi>>;
let jwksServer: Server;
let signingKey: CryptoKey;
let foreignKey: CryptoKey;
const url = freshDatabaseUrl('authn');
const keys: Record<string, string> = {};
/** Tenant acme's remediation and its plan execution (tenant other must never see them). */
let remediationId: string;
let executionId: string;
/** Every route the API registered (fastify's onRoute), HEAD twins left out: `METHOD /pattern` → its declared scope. */
const registered = new Map<string, string | undefined>();

/**
 * The routes that need no credentials, by pattern: the OpenAPI description and its UI, the operator
 * console's static files (the page itself holds no data; it calls the /v1/ routes with the user's
 * key). Health, readiness and metrics are added by the service runtime, not buildApi. A route
 * outside /v1/ that is not here fails the test: add it here only if it must be public.
 */
const PUBLIC_ROUTES = [/^GET \/docs(\/.*)?$/, /^GET \/console(\/.*)?$/];

beforeAll(async () => {
  await ensureDatabaseExists(url);
  db = await openDatabase(url);
  await migrate(db);
  await upsertTenant(db, { id: 'acme' });
  await upsertTenant(db, { id: 'other' });
  await upsertTenant(db, { id: 'strict', allowedHosts: ['github.com'], allowedOwners: ['acme-corp'] });
  keys['acmeAdmin'] = (await createApiKey(db, { tenant: 'acme', name: 'admin', scopes: ['admin'] })).key;
  keys['otherAdmin'] = (await createApiKey(db, { tenant: 'other', name: 'admin', scopes: ['admin'] })).key;
  keys['acmeRead'] = (await createApiKey(db, { tenant: 'acme', name: 'reader', scopes: ['remediations:read'] })).key;
  keys['acmeWrite'] = (await createApiKey(db, { tenant: 'acme', name: 'writer', scopes: ['remediations:read', 'remediations:write'] })).key;
  keys['strict'] = (await createApiKey(db, { tenant: 'strict', name: 'ci', scopes: ['remediations:write'] })).key;
  const revoked = await createApiKey(db, { tenant: 'acme', name: 'old', scopes: ['admin'] });
  await revokeApiKey(db, revoked.id);
  keys['revoked'] = revoked.key;

  const pair = await generateKeyPair('RS256');
  signingKey = pair.privateKey;
  foreignKey = (await generateKeyPair('RS256')).privateKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  jwksServer = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', r));
  const jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/.well-known/jwks.json`;

  app = await buildApi({
    db,
    nats: {} as NatsHandles,
    worker: 'authn:1',
    logger: pino({ level: 'silent' }),
    jwt: { jwksUrl, issuer: ISSUER, audience: AUDIENCE, tenantClaim: 'tenant' },
    // The operator's codebase policy admits these; the tenants' own rules are what is tested here.
    repositoryPolicy: { allowedHosts: ['github.com', 'gitlab.com'], allowLocal: true },
  }, {
    onRoute: (route: RouteOptions) => {
      for (const method of [route.method].flat()) {
        if (method !== 'HEAD') registered.set(`${method} ${route.url}`, (route.config as { scope?: string } | undefined)?.scope);
      }
    },
  });
  await app.ready();
  const created = await call('POST', '/v1/remediations', keys['acmeAdmin'], { codebase: { repository: '/srv/git/acme/app.git' }, scan });
  expect(created.statusCode).toBe(201);
  remediationId = created.json().id;
  executionId = created.json().planExecution.id;
});

afterAll(async () => {
  await app?.close();
  await db?.close();
  await new Promise((r) => jwksServer?.close(r));
  await dropDatabase(url).catch(() => undefined);
});

function call(method: 'GET' | 'POST', path: string, credential?: string, payload?: object, headers: Record<string, string> = {}) {
  return app.inject({
    method,
    url: path,
    headers: { ...(credential ? { authorization: `Bearer ${credential}` } : {}), ...headers },
    ...(payload ? { payload } : {}),
  });
}

function token(claims: Record<string, unknown>, options: { key?: CryptoKey; issuer?: string; audience?: string; expiresIn?: string | number | null } = {}) {
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
    .setSubject('user-1')
    .setIssuedAt()
    .setIssuer(options.issuer ?? ISSUER)
    .setAudience(options.audience ?? AUDIENCE);
  // null: a token that never expires (no `exp` claim), which is refused.
  if (options.expiresIn !== null) jwt.setExpirationTime(options.expiresIn ?? '5m');
  return jwt.sign(options.key ?? signingKey);
}

/** `pattern` with its `:id` made the acme remediation's or its plan execution's id. */
function concrete(pattern: string): string {
  return pattern.replace('/v1/remediations/:id', `/v1/remediations/${remediationId}`).replace('/v1/executions/:id', `/v1/executions/${executionId}`);
}

/**
 * Every data route (`route`: method and registered pattern) with a body that passes validation and
 * the scope it needs; `stream` for the Server-Sent Events routes (an owner's request does not end).
 * The authentication test checks this list names every registered /v1/ route with the scope it
 * declares, so a new route must be added here to be tested for scopes and tenancy.
 */
function routes() {
  const list: Array<{ route: string; scope: string; body?: object; stream?: boolean }> = [
    { route: 'GET /v1/remediations', scope: 'remediations:read' },
    { route: 'POST /v1/remediations', scope: 'remediations:write', body: { codebase: { repository: '/srv/git/acme/app.git' }, scan } },
    { route: 'GET /v1/remediations/:id', scope: 'remediations:read' },
    { route: 'GET /v1/remediations/:id/history', scope: 'remediations:read' },
    { route: 'GET /v1/remediations/:id/events', scope: 'remediations:read', stream: true },
    { route: 'POST /v1/remediations/:id/executions', scope: 'remediations:write', body: { tier: 'minimal' } },
    { route: 'POST /v1/remediations/:id/plans', scope: 'remediations:write' },
    { route: 'GET /v1/executions', scope: 'remediations:read' },
    { route: 'GET /v1/executions/:id', scope: 'remediations:read' },
    { route: 'GET /v1/executions/:id/history', scope: 'remediations:read' },
    { route: 'GET /v1/executions/:id/attempts', scope: 'remediations:read' },
    { route: 'GET /v1/executions/:id/conversations', scope: 'remediations:read' },
    { route: 'GET /v1/executions/:id/events', scope: 'remediations:read', stream: true },
    { route: 'GET /v1/executions/:id/diff', scope: 'remediations:read' },
    { route: 'POST /v1/executions/:id/retry', scope: 'remediations:write' },
    { route: 'POST /v1/executions/:id/cancel', scope: 'remediations:write', body: { reason: 'test' } },
    { route: 'POST /v1/executions/:id/feedback', scope: 'remediations:write', body: { text: 'use HS256' } },
    { route: 'POST /v1/executions/:id/pull-requests', scope: 'executions:approve', body: {} },
    { route: 'GET /v1/dead-letters', scope: 'admin' },
  ];
  return list.map((r) => {
    const [method, pattern] = r.route.split(' ') as ['GET' | 'POST', string];
    return { ...r, method, pattern, path: concrete(pattern) };
  });
}

describe('authentication', () => {
  it('every registered route outside the public allow-list is a /v1/ route that answers 401 without credentials, and the route list names each with its scope', async () => {
    expect(registered.size).toBeGreaterThan(20);
    const data = [...registered.keys()].filter((r) => !PUBLIC_ROUTES.some((p) => p.test(r)));
    for (const route of data) expect(route, `${route} is neither public (PUBLIC_ROUTES) nor a /v1/ route`).toMatch(/^[A-Z]+ \/v1\//);
    for (const route of data) {
      const [method, pattern] = route.split(' ') as [string, string];
      const res = await app.inject({ method: method as 'GET', url: concrete(pattern) });
      expect(res.statusCode, route).toBe(401);
      expect(res.headers['www-authenticate'], route).toMatch(/^Bearer realm="remediation"/);
    }
    // The hand-written list (bodies, owner-side calls) names every /v1/ route with the scope the route declares.
    expect(Object.fromEntries(routes().map((r) => [r.route, r.scope]))).toEqual(Object.fromEntries(data.map((r) => [r, registered.get(r) ?? 'admin (none declared)'])));
    // The public ones answer without credentials.
    for (const route of [...registered.keys()].filter((r) => r.startsWith('GET ') && PUBLIC_ROUTES.some((p) => p.test(r)) && !r.includes('*') && !r.includes(':'))) {
      expect((await app.inject({ method: 'GET', url: route.slice(4) })).statusCode, route).toBeLessThan(400);
    }
  });

  it('every data route without credentials answers 401 with WWW-Authenticate; health of the docs stays public', async () => {
    for (const r of routes()) {
      const res = await call(r.method, r.path, undefined, r.body);
      expect(res.statusCode, `${r.method} ${r.path}`).toBe(401);
      expect(res.headers['www-authenticate'], `${r.method} ${r.path}`).toMatch(/^Bearer realm="remediation"/);
      expect(res.json()).toMatchObject({ code: 'UNAUTHENTICATED' });
    }
    expect((await call('GET', '/docs/json')).statusCode).toBe(200);
    // A percent-encoded path reaching a /v1/ route is authenticated like the plain one.
    const encoded = await call('GET', `/%761/remediations/${remediationId}`);
    expect(encoded.statusCode === 401 || encoded.statusCode === 404).toBe(true);
  });

  it('an unknown, malformed or revoked API key answers 401; X-API-Key works like the bearer form', async () => {
    const path = `/v1/remediations/${remediationId}`;
    expect((await call('GET', path, 'rk_notakey')).statusCode).toBe(401);
    expect((await call('GET', path, undefined, undefined, { authorization: 'Basic abc' })).statusCode).toBe(401);
    const revoked = await call('GET', path, keys['revoked']);
    expect(revoked.statusCode).toBe(401);
    expect(revoked.headers['www-authenticate']).toContain('error="invalid_token"');
    expect((await call('GET', path, undefined, undefined, { 'x-api-key': keys['acmeRead']! })).statusCode).toBe(200);
  });

  it('a credential without the route scope answers 403 naming the scope; admin implies every scope', async () => {
    const byScope: Record<string, string> = { 'remediations:write': 'acmeRead', 'executions:approve': 'acmeWrite', admin: 'acmeWrite' };
    for (const r of routes()) {
      if (r.scope === 'remediations:read') {
        const keyless = await call(r.method, r.path, await token({ tenant: 'acme', scope: 'executions:approve' }), r.body);
        expect(keyless.statusCode, `${r.method} ${r.path}`).toBe(403);
        continue;
      }
      const res = await call(r.method, r.path, keys[byScope[r.scope]!], r.body);
      expect(res.statusCode, `${r.method} ${r.path}`).toBe(403);
      expect(res.json()).toMatchObject({ code: 'FORBIDDEN', details: { needed: r.scope } });
      expect(res.headers['www-authenticate']).toContain('error="insufficient_scope"');
    }
    const admin = await call('GET', `/v1/remediations/${remediationId}`, keys['acmeAdmin']);
    expect(admin.statusCode).toBe(200);
  });

  it('JWTs of the configured issuer are accepted (scope or scp); expired, wrong issuer, wrong audience, foreign key refused', async () => {
    const path = `/v1/remediations/${remediationId}`;
    expect((await call('GET', path, await token({ tenant: 'acme', scope: 'remediations:read openid' }))).statusCode).toBe(200);
    expect((await call('GET', path, await token({ tenant: 'acme', scp: ['remediations:read'] }))).statusCode).toBe(200);
    const refused = {
      expired: await token({ tenant: 'acme', scope: 'admin' }, { expiresIn: Math.floor(Date.now() / 1000) - 60 }),
      issuer: await token({ tenant: 'acme', scope: 'admin' }, { issuer: 'https://evil.test' }),
      audience: await token({ tenant: 'acme', scope: 'admin' }, { audience: 'another-api' }),
      signature: await token({ tenant: 'acme', scope: 'admin' }, { key: foreignKey }),
      tenantless: await token({ scope: 'admin' }),
      neverExpires: await token({ tenant: 'acme', scope: 'admin' }, { expiresIn: null }),
      garbage: 'not.a.jwt',
    };
    for (const [why, jwt] of Object.entries(refused)) {
      const res = await call('GET', path, jwt);
      expect(res.statusCode, why).toBe(401);
      expect(res.headers['www-authenticate'], why).toContain('error="invalid_token"');
      expect(res.body, why).not.toContain(jwt);
    }
    expect((await call('GET', path, refused.expired)).json().message).toMatch(/expired/);
    expect((await call('GET', path, refused.issuer)).json().message).toMatch(/iss/);
    expect((await call('GET', path, refused.audience)).json().message).toMatch(/aud/);
    expect((await call('GET', path, refused.neverExpires)).json().message).toMatch(/exp/);
  });
});

describe('tenancy', () => {
  it("every route answers 404 for another tenant's remediation or execution, reads and writes, and changes nothing", async () => {
    const snapshot = async () => {
      const view = (await call('GET', `/v1/executions/${executionId}/history`, keys['acmeAdmin'])).json();
      return { state: view.state, entries: view.entries.length };
    };
    const before = await snapshot();
    const foreign = [keys['otherAdmin']!, await token({ tenant: 'other', scope: 'admin' })];
    const scoped = routes().filter((r) => r.pattern.includes(':id'));
    expect(scoped).toHaveLength(15);
    for (const r of scoped) {
      for (const credential of foreign) {
        const res = await call(r.method, r.path, credential, r.body);
        expect(res.statusCode, `${r.method} ${r.path}`).toBe(404);
        expect(res.json().code).toBe('NOT_FOUND');
        expect(res.body).not.toContain('/srv/git/acme');
      }
    }
    expect(await snapshot()).toEqual(before);
    // The owner reaches every one of them (whatever the answer, it is not "not found").
    for (const r of scoped.filter((s) => !s.stream)) {
      const own = await call(r.method, r.path, keys['acmeAdmin'], r.body);
      expect(own.statusCode, `owner: ${r.method} ${r.path}`).not.toBe(404);
    }
  });

  it('dead letters are listed per tenant only', async () => {
    await recordDeadLetter(db, {
      stream: 'REMEDIATION_COMMANDS', streamSeq: 1001, subject: `remediation.cmd.v1.plan.run.${executionId}`, messageId: 'm1', payload: null, deliveries: 5,
      executionId, error: { code: 'X', message: 'gave up' },
    });
    const otherRem = await call('POST', '/v1/remediations', keys['otherAdmin'], { codebase: { repository: '/srv/git/other/app.git' }, scan });
    const otherExec = otherRem.json().planExecution.id as string;
    await recordDeadLetter(db, {
      stream: 'REMEDIATION_COMMANDS', streamSeq: 1002, subject: `remediation.cmd.v1.plan.run.${otherExec}`, messageId: 'm2', payload: null, deliveries: 5,
      executionId: otherExec, error: { code: 'X', message: 'gave up' },
    });
    await recordDeadLetter(db, { stream: 'REMEDIATION_COMMANDS', streamSeq: 1003, subject: 'remediation.cmd.v1.plan.run.unknown', messageId: 'm3', payload: null, deliveries: 5, executionId: null, error: { code: 'X', message: 'no run' } });
    const acme = (await call('GET', '/v1/dead-letters', keys['acmeAdmin'])).json().deadLetters.map((d: any) => d.executionId);
    const other = (await call('GET', '/v1/dead-letters', keys['otherAdmin'])).json().deadLetters.map((d: any) => d.executionId);
    expect(acme).toEqual([executionId]);
    expect(other).toEqual([otherExec]);
    expect((await call('GET', `/v1/dead-letters?executionId=${encodeURIComponent(executionId)}`, keys['otherAdmin'])).json().deadLetters).toEqual([]);
  });

  it('idempotency keys are per tenant: the same key makes one remediation per tenant', async () => {
    const body = { codebase: { repository: '/srv/git/acme/app.git' }, scan };
    const headers = { 'idempotency-key': 'same-click' };
    const a1 = await call('POST', '/v1/remediations', keys['acmeAdmin'], body, headers);
    const b1 = await call('POST', '/v1/remediations', keys['otherAdmin'], body, headers);
    const a2 = await call('POST', '/v1/remediations', keys['acmeAdmin'], body, headers);
    expect([a1.statusCode, b1.statusCode, a2.statusCode]).toEqual([201, 201, 200]);
    expect(b1.json().id).not.toBe(a1.json().id);
    expect(a2.json().id).toBe(a1.json().id);
  });

  it("another tenant cannot probe a remediation's base branch through branchName (404, not a branch-name answer)", async () => {
    for (const branchName of ['main', 'master', 'develop', 'fix/x']) {
      const res = await call('POST', `/v1/remediations/${remediationId}/executions`, keys['otherAdmin'], { tier: 'minimal', branchName });
      expect(res.statusCode, branchName).toBe(404);
    }
  });

  it("a tenant's allowed hosts and owners limit its repositories (400 naming the rule, not the URL)", async () => {
    const post = (repository: string, pullRequestRepository?: { owner: string; repo: string }) =>
      call('POST', '/v1/remediations', keys['strict'], { codebase: { repository, ...(pullRequestRepository ? { pullRequestRepository } : {}) }, scan });
    const local = await post('/srv/git/acme-corp/app.git');
    expect(local.statusCode).toBe(400);
    expect(local.json()).toMatchObject({ code: 'REPOSITORY_NOT_ALLOWED', details: { rule: 'allowedHosts' } });
    const host = await post('https://gitlab.com/acme-corp/app.git');
    expect(host.json()).toMatchObject({ code: 'REPOSITORY_NOT_ALLOWED', details: { rule: 'allowedHosts', host: 'gitlab.com' } });
    const owner = await post('https://github.com/someone-else/app.git');
    expect(owner.json()).toMatchObject({ code: 'REPOSITORY_NOT_ALLOWED', details: { rule: 'allowedOwners', owner: 'someone-else' } });
    const prOwner = await post('https://github.com/acme-corp/app.git', { owner: 'someone-else', repo: 'app' });
    expect(prOwner.json()).toMatchObject({ code: 'REPOSITORY_NOT_ALLOWED', details: { field: 'codebase.pullRequestRepository' } });
    expect((await post('https://github.com/Acme-Corp/app.git')).statusCode).toBe(201);
  });
});
