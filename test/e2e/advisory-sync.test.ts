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
 * OSV_DIR (a copy of test/fixtures/osv/npm) and OSV's all.zip served by tools/osv-local, synced
 * every 500 ms. An advisory added to the served zip makes the earlier plan stale and appears in
 * the next plan; so does one added to the OSV_DIR folder (found by the folder watch, decision 0030).
 */
let env: TestEnvironment;
let osv: OsvLocal;
let served: string;
let folder: string;

beforeAll(async () => {
  served = await mkdtemp(join(tmpdir(), 'osv-served-'));
  await cp(fixturePath('osv/PyPI'), join(served, 'PyPI'), { recursive: true });
  await cp(fixturePath('osv/npm'), join(served, 'npm'), { recursive: true });
  folder = await mkdtemp(join(tmpdir(), 'osv-dir-'));
  await cp(fixturePath('osv/npm'), folder, { recursive: true });
  osv = await startOsvLocal({ dir: served });
  env = await startTestEnvironment('advisory_sync', {}, {
    replicas: { planner: 2 },
    osvDir: folder,
    serviceEnv: { planner: { OSV_ALL_ZIP_URL: osv.url, OSV_ECOSYSTEMS: 'npm,PyPI', ADVISORY_SYNC_INTERVAL_MS: '500' } },
  });
}, 180_000);

afterAll(async () => {
  await env?.close();
  await osv?.close();
  if (served) await rm(served, { recursive: true, force: true });
  if (folder) await rm(folder, { recursive: true, force: true });
}, 60_000);

/** An OSV record affecting every version of the npm package `name` below 99.0.0. */
function testRecord(id: string, name: string, alias: string): Record<string, unknown> {
  const now = new Date().toISOString();
  return {
    schema_version: '1.6.0',
    id,
    modified: now,
    published: now,
    aliases: [alias],
    summary: `test advisory for ${name}`,
    affected: [{ package: { ecosystem: 'npm', name }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '99.0.0' }] }] }],
    severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }],
    references: [{ type: 'ADVISORY', url: `https://example.test/${id}` }],
  };
}

const NEW_ID = 'GHSA-test-ms00-0001';

describe('advisory database: scheduled sync from all.zip, shared by two planner replicas', () => {
  let first: { remediationId: string };

  it('a plan records the snapshot and its sources; the new advisory is not known yet', async () => {
    first = await createExpressRemediation(env);
    const rem = await waitFor(env, `/v1/remediations/${first.remediationId}`, (b) => b.state === 'plan_generated');
    const sources = rem.plan.advisoryDatabase.sources.map((s: any) => s.source);
    expect(sources).toEqual(expect.arrayContaining([`zip:${osv.url}/npm/all.zip`, `zip:${osv.url}/PyPI/all.zip`, `dir:${folder}`]));
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
    await writeFile(join(served, 'npm', `${NEW_ID}.json`), JSON.stringify(testRecord(NEW_ID, 'ms', 'CVE-2099-0001')));
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

  it('an advisory added to the OSV_DIR folder appears in the next plan without a restart', async () => {
    const id = 'GHSA-test-dir0-0001';
    await writeFile(join(folder, `${id}.json`), JSON.stringify(testRecord(id, 'debug', 'CVE-2099-0002')));
    const stale = await waitFor(env, `/v1/remediations/${first.remediationId}`, (b) => b.stale?.advisories?.includes(id), 30_000);
    expect(stale.stale.advisories).toContain(id);
    const next = await createExpressRemediation(env);
    const rem = await waitFor(env, `/v1/remediations/${next.remediationId}`, (b) => b.state === 'plan_generated');
    const debug = [...rem.plan.targets, ...rem.plan.transitive].filter((t: any) => t.name === 'debug');
    expect(debug.length).toBeGreaterThan(0);
    for (const t of debug) expect(JSON.stringify(t.advisories)).toContain(id); // targets list advisories as objects, transitive entries by id
  });
});
