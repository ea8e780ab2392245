import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startOsvLocal, type OsvLocal } from '@remediation/osv-local';
import { fixturePath } from '@remediation/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestEnvironment, startTestEnvironment } from '../support/environment.js';
import { createExpressRemediation, waitFor } from '../support/flows.js';

/**
 * The advisory database kept fresh without a restart (issue 12): two planner replicas with
 * OSV_DIR (test/fixtures/osv/npm) and OSV's all.zip served by tools/osv-local, synced every 500 ms.
 * An advisory added to the served zip makes the earlier plan stale and appears in the next plan.
 */
let env: TestEnvironment;
let osv: OsvLocal;
let served: string;

beforeAll(async () => {
  served = await mkdtemp(join(tmpdir(), 'osv-served-'));
  await cp(fixturePath('osv/PyPI'), join(served, 'PyPI'), { recursive: true });
  await cp(fixturePath('osv/npm'), join(served, 'npm'), { recursive: true });
  osv = await startOsvLocal({ dir: served });
  env = await startTestEnvironment('advisory_sync', {}, {
    replicas: { planner: 2 },
    serviceEnv: { planner: { OSV_ALL_ZIP_URL: osv.url, OSV_ECOSYSTEMS: 'npm,PyPI', ADVISORY_SYNC_INTERVAL_MS: '500' } },
  });
}, 180_000);

afterAll(async () => {
  await env?.close();
  await osv?.close();
  if (served) await rm(served, { recursive: true, force: true });
}, 60_000);

const NEW_ID = 'GHSA-test-ms00-0001';

describe('advisory database: scheduled sync from all.zip, shared by two planner replicas', () => {
  let first: { remediationId: string };

  it('a plan records the snapshot and its sources; the new advisory is not known yet', async () => {
    first = await createExpressRemediation(env);
    const rem = await waitFor(env, `/v1/remediations/${first.remediationId}`, (b) => b.state === 'plan_generated');
    const sources = rem.plan.advisoryDatabase.sources.map((s: any) => s.source);
    expect(sources).toEqual(expect.arrayContaining([`zip:${osv.url}/npm/all.zip`, `zip:${osv.url}/PyPI/all.zip`, `dir:${fixturePath('osv/npm')}`]));
    expect(rem.plan.advisoryDatabase.snapshotAt).toMatch(/^\d{4}-/);
    expect(JSON.stringify(rem.plan)).not.toContain(NEW_ID);
    expect(rem.stale).toBeNull();
    // Every record once: the zip serves the same npm records as OSV_DIR.
    const client = new pg.Client({ connectionString: env.databaseUrl });
    await client.connect();
    try {
      const { rows } = await client.query('select count(*)::int as n from advisory_records');
      expect(rows[0].n).toBe(78 + 5);
    } finally {
      await client.end();
    }
  });

  it('an advisory added to the served zip appears in the next plan without a restart, and the earlier plan is stale', async () => {
    const now = new Date().toISOString();
    const record = {
      schema_version: '1.6.0',
      id: NEW_ID,
      modified: now,
      published: now,
      aliases: ['CVE-2099-0001'],
      summary: 'test advisory for ms',
      affected: [{ package: { ecosystem: 'npm', name: 'ms' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '99.0.0' }] }] }],
      severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }],
      references: [{ type: 'ADVISORY', url: `https://example.test/${NEW_ID}` }],
    };
    await writeFile(join(served, 'npm', `${NEW_ID}.json`), JSON.stringify(record));
    const stale = await waitFor(env, `/v1/remediations/${first.remediationId}`, (b) => b.stale !== null, 30_000);
    expect(stale.stale.advisories).toEqual([NEW_ID]);
    expect(stale.stale.since).toBe(stale.plan.advisoryDatabase.snapshotAt);

    const second = await createExpressRemediation(env);
    const rem = await waitFor(env, `/v1/remediations/${second.remediationId}`, (b) => b.state === 'plan_generated');
    const ms = rem.plan.transitive.filter((t: any) => t.name === 'ms');
    expect(ms.length).toBeGreaterThan(0);
    for (const t of ms) expect(t.advisories).toContain(NEW_ID);
    expect(rem.stale).toBeNull();
    // Conditional requests: after the first download each archive was answered 304 until it changed.
    const npm = osv.requests.filter((r) => r.path === '/npm/all.zip').map((r) => r.status);
    expect(npm.filter((s) => s === 200)).toHaveLength(2);
    expect(npm.filter((s) => s === 304).length).toBeGreaterThan(0);
  });
});
