import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsHandles } from '@remediation/messaging';
import { type Database, createApiKey, ensureDatabaseExists, migrate, openDatabase } from '@remediation/persistence';
import { dropDatabase, freshDatabaseUrl } from '@remediation/testing';
import { buildApi } from './server.js';

/**
 * The API's contract without the services behind it: OpenAPI shows `tier` and its documented v1
 * alias `upgradeOption`; validation refuses a body without a tier or with two disagreeing names
 * before any handler runs (no NATS is touched; the database only authenticates the API key).
 */
describe('POST /v1/remediations/:id/executions: tier and its alias upgradeOption', () => {
  let app: Awaited<ReturnType<typeof buildApi>>;
  let db: Database;
  let key: string;
  const url = freshDatabaseUrl('api_spec');
  beforeAll(async () => {
    await ensureDatabaseExists(url);
    db = await openDatabase(url);
    await migrate(db);
    ({ key } = await createApiKey(db, { tenant: 'default', name: 'spec', scopes: ['remediations:write'] }));
    app = await buildApi({ db, nats: {} as NatsHandles, worker: 'spec:1', logger: pino({ level: 'silent' }) });
    await app.ready();
  });
  afterAll(async () => {
    await app?.close();
    await db?.close();
    await dropDatabase(url).catch(() => undefined);
  });

  it('OpenAPI documents both names, upgradeOption as the alias of tier, in the request and the response', () => {
    const doc = app.swagger() as { paths: Record<string, Record<string, any>> };
    const op = doc.paths['/v1/remediations/{id}/executions']!['post'];
    const body = op.requestBody.content['application/json'].schema;
    expect(Object.keys(body.properties)).toEqual(expect.arrayContaining(['tier', 'upgradeOption']));
    expect(body.properties.upgradeOption.description).toMatch(/Alias of `tier`/);
    expect(body.required ?? []).not.toContain('upgradeOption');
    const response = op.responses['202'].content['application/json'].schema;
    expect(response.properties.tier).toBeDefined();
    expect(response.properties.upgradeOption.description).toMatch(/Alias of `tier`/);
  });

  it('refuses a body without a tier, or with tier and upgradeOption disagreeing, naming the field', async () => {
    const post = (payload: object) => app.inject({ method: 'POST', url: '/v1/remediations/rem_x/executions', payload, headers: { 'x-api-key': key } });
    const none = await post({ targets: ['cookie'] });
    expect(none.statusCode).toBe(400);
    expect(none.json()).toMatchObject({ code: 'REQUEST_INVALID', message: expect.stringContaining('tier is required') });
    const disagree = await post({ tier: 'minimal', upgradeOption: 'moderate' });
    expect(disagree.statusCode).toBe(400);
    expect(disagree.json()).toMatchObject({ code: 'REQUEST_INVALID', message: expect.stringContaining('upgradeOption is an alias of tier') });
  });
});
