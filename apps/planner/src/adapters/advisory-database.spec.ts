import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OsvApiClient } from '@remediation/advisories';
import { startOsvLocal, type OsvLocal } from '@remediation/osv-local';
import { advisoryDatabaseSnapshot, type Database, ensureDatabaseExists, findAdvisoriesByIds, migrate, openDatabase, syncAdvisorySource } from '@remediation/persistence';
import { parseCycloneDx } from '@remediation/sbom';
import { dropDatabase, fixturePath, freshDatabaseUrl } from '@remediation/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdvisorySync, archiveSource, directorySource, loadPlanAdvisories, scanPackages } from './advisory-database.js';

/** The planner's advisory-database adapter against PostgreSQL and tools/osv-local. */
const databaseUrl = freshDatabaseUrl('planner_advisories');
let db: Database;
let db2: Database;
let osv: OsvLocal;
let served: string;
const quiet = { info: () => undefined, warn: () => undefined };

beforeAll(async () => {
  await ensureDatabaseExists(databaseUrl);
  db = await openDatabase(databaseUrl, { poolMax: 3 });
  db2 = await openDatabase(databaseUrl, { poolMax: 3 });
  await migrate(db);
  served = await mkdtemp(join(tmpdir(), 'osv-served-'));
  await cp(fixturePath('osv', 'crates.io'), join(served, 'crates.io'), { recursive: true });
  osv = await startOsvLocal({ dir: served });
});

afterAll(async () => {
  await osv?.close();
  await db?.close();
  await db2?.close();
  if (served) await rm(served, { recursive: true, force: true });
  await dropDatabase(databaseUrl);
});

const scan = parseCycloneDx({
  bomFormat: 'CycloneDX',
  specVersion: '1.6',
  metadata: { component: { 'bom-ref': 'app', type: 'application', name: 'app' } },
  components: [
    { 'bom-ref': 'axios', type: 'library', name: 'axios', version: '0.21.0', purl: 'pkg:npm/axios@0.21.0' },
    { 'bom-ref': 'cg', type: 'library', name: 'cranelift-codegen', version: '0.73.0', purl: 'pkg:cargo/cranelift-codegen@0.73.0' },
    { 'bom-ref': 'log4j', type: 'library', group: 'org.apache.logging.log4j', name: 'log4j-core', version: '2.14.1', purl: 'pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1' },
  ],
  dependencies: [{ ref: 'app', dependsOn: ['axios', 'cg', 'log4j'] }],
});

describe('planner advisory database adapter', () => {
  it('two replicas start: each source is imported once, both become ready, plans read the shared tables', async () => {
    const sources = [directorySource(fixturePath('osv', 'npm')), archiveSource(osv.url, 'crates.io')];
    const a = new AdvisorySync(db, sources, { intervalMs: 0, logger: quiet });
    const b = new AdvisorySync(db2, sources, { intervalMs: 0, logger: quiet });
    a.start();
    b.start();
    await Promise.all([a.ready, b.ready]);
    await Promise.all([a.stop(), b.stop()]);
    const snapshot = await advisoryDatabaseSnapshot(db);
    expect(snapshot.sources).toEqual([
      { source: `dir:${fixturePath('osv', 'npm')}`, syncedAt: expect.any(String), records: 78 },
      { source: `zip:${osv.url}/crates.io/all.zip`, syncedAt: expect.any(String), records: 4 },
    ]);
    // The archive was downloaded once: the other replica found the lock taken (no request) or,
    // after the commit, asked conditionally and got 304.
    expect(osv.requests.filter((r) => r.path === '/crates.io/all.zip' && r.status === 200)).toHaveLength(1);
    const index = await loadPlanAdvisories(db2, scan);
    expect(index.matchAdvisories('axios', '0.21.0').map((x) => x.id)).toContain('GHSA-cph5-m8f7-6c5x');
    expect(scanPackages(scan)).toEqual([
      { ecosystem: 'npm', name: 'axios' },
      { ecosystem: 'crates.io', name: 'cranelift-codegen' },
      { ecosystem: 'Maven', name: 'org.apache.logging.log4j:log4j-core' },
    ]);
  });

  it('without scan vulnerabilities, keeps every advisory of an affected package and none of a package nothing affects', async () => {
    const components = (axios: string, cookie: string | undefined) => [
      { 'bom-ref': 'axios', type: 'library', name: 'axios', version: axios, purl: `pkg:npm/axios@${axios}` },
      { 'bom-ref': 'cookie', type: 'library', name: 'cookie', ...(cookie ? { version: cookie } : {}), purl: cookie ? `pkg:npm/cookie@${cookie}` : 'pkg:npm/cookie' },
    ];
    const bom = (axios: string, cookie: string | undefined, vulnerabilities?: unknown[]) =>
      parseCycloneDx({
        bomFormat: 'CycloneDX',
        specVersion: '1.6',
        metadata: { component: { 'bom-ref': 'app', type: 'application', name: 'app' } },
        components: components(axios, cookie),
        dependencies: [{ ref: 'app', dependsOn: ['axios', 'cookie'] }],
        ...(vulnerabilities ? { vulnerabilities } : {}),
      });
    const ids = (index: Awaited<ReturnType<typeof loadPlanAdvisories>>, name: string) => index.forPackage(name).map((a) => a.id).sort();
    // axios 0.21.0 is affected by two advisories: all of axios's are kept (the tiers avoid each);
    // cookie 0.7.0 is affected by none: its advisory is not loaded.
    const reported = await loadPlanAdvisories(db, bom('1.6.0', '0.7.0', [{ id: 'CVE-2099-0001', affects: [{ ref: 'axios' }] }]));
    const everyAxios = ids(reported, 'axios');
    expect(everyAxios).toEqual(expect.arrayContaining(['GHSA-42xw-2xvc-qx8m', 'GHSA-cph5-m8f7-6c5x', 'GHSA-wf5p-g6vw-rhxx']));
    const affected = await loadPlanAdvisories(db, bom('0.21.0', '0.7.0'));
    expect(ids(affected, 'axios')).toEqual(everyAxios);
    expect(ids(affected, 'cookie')).toEqual([]);
    // axios 1.7.4 is affected by none (GHSA-8hc4-vh64-cxmj, the last, is fixed in 1.7.4); cookie without a version may be affected by all of its.
    const safe = await loadPlanAdvisories(db, bom('1.7.4', undefined));
    expect(ids(safe, 'axios')).toEqual([]);
    expect(ids(safe, 'cookie')).toEqual(['GHSA-pxg6-pf52-xh8x']);
    // A scan that reports vulnerabilities (above) keeps every advisory of its packages.
    expect(ids(reported, 'cookie')).toEqual(['GHSA-pxg6-pf52-xh8x']);
    // A package at many versions (listed twice each): kept when the affected one comes last, past the first few.
    const safeVersions = [...['4', '5', '6', '7', '8', '9'].map((p) => `1.7.${p}`), ...['0', '1', '2', '3', '4', '5'].map((p) => `1.8.${p}`)];
    const manyVersions = (extra: string[]) =>
      parseCycloneDx({
        bomFormat: 'CycloneDX',
        specVersion: '1.6',
        components: [...safeVersions, ...safeVersions, ...extra].map((v, i) => ({ 'bom-ref': `axios-${i}`, type: 'library', name: 'axios', version: v, purl: `pkg:npm/axios@${v}` })),
      });
    expect(ids(await loadPlanAdvisories(db, manyVersions([])), 'axios')).toEqual([]);
    expect(ids(await loadPlanAdvisories(db, manyVersions(['0.21.0'])), 'axios')).toEqual(everyAxios);
  });

  it('Go records imported into the database are found for a golang scan by module path, exactly (module paths are case-sensitive)', async () => {
    const source = directorySource(fixturePath('osv-go-cases'));
    expect(await syncAdvisorySource(db, source.name, source.fetch)).toMatchObject({ imported: expect.any(Number) });
    const goScan = (module: string, version: string) =>
      parseCycloneDx({
        bomFormat: 'CycloneDX',
        specVersion: '1.6',
        metadata: { component: { 'bom-ref': 'app', type: 'application', name: 'app' } },
        components: [{ 'bom-ref': 'm', type: 'library', name: module, version, purl: `pkg:golang/${module}@${version}` }],
        dependencies: [{ ref: 'app', dependsOn: ['m'] }],
      });
    // The merged advisory's id may be an alias (GHSA first): each record by its id or an alias.
    const ids = (index: Awaited<ReturnType<typeof loadPlanAdvisories>>, module: string, version: string) =>
      index.matchAdvisories(module, version, 'Go').flatMap((a) => [a.id, ...a.aliases]).filter((id) => id.startsWith('GO-')).sort();
    expect(scanPackages(goScan('golang.org/x/net', 'v0.0.0-20190522155817-f3200d17e092'))).toEqual([{ ecosystem: 'Go', name: 'golang.org/x/net' }]);
    const net = await loadPlanAdvisories(db, goScan('golang.org/x/net', 'v0.0.0-20190522155817-f3200d17e092'));
    // viper v1.6.2's case: 23 advisories of its x/net pseudo-version.
    const viperCase = JSON.parse(await readFile(fixturePath('manifests/viper-v1.6.2/case.json'), 'utf8')) as { vulnerable: Array<{ package: string; advisory: string }> };
    expect(ids(net, 'golang.org/x/net', 'v0.0.0-20190522155817-f3200d17e092')).toEqual(viperCase.vulnerable.filter((v) => v.package === 'golang.org/x/net').map((v) => v.advisory).sort());
    const websocket = await loadPlanAdvisories(db, goScan('github.com/gorilla/websocket', 'v1.4.0'));
    expect(ids(websocket, 'github.com/gorilla/websocket', 'v1.4.0')).toEqual(['GO-2020-0019']);
    expect(ids(websocket, 'github.com/gorilla/websocket', 'v1.4.1')).toEqual([]);
    const lowered = await loadPlanAdvisories(db, goScan('github.com/Gorilla/websocket', 'v1.4.0'));
    expect(lowered.forPackage('github.com/Gorilla/websocket', 'Go')).toEqual([]);
  });

  it('a source that fails (unknown ecosystem: 404) is logged and does not hold plans back', async () => {
    const warnings: unknown[] = [];
    const sync = new AdvisorySync(db, [archiveSource(osv.url, 'NoSuchEcosystem')], {
      intervalMs: 0,
      logger: { info: () => undefined, warn: (o: unknown) => void warnings.push(o) },
    });
    sync.start();
    await sync.ready;
    await sync.stop();
    expect(warnings).toEqual([expect.objectContaining({ event: 'advisories.sync_failed', source: `zip:${osv.url}/NoSuchEcosystem/all.zip` })]);
  });

  it('with the OSV API configured, the scan\'s packages are queried and new records imported (source api:<url>)', async () => {
    // Maven is not synced from a file source here: only the API knows it.
    await cp(fixturePath('osv', 'Maven'), join(served, 'Maven'), { recursive: true });
    const api = { client: new OsvApiClient(osv.url), name: `api:${osv.url}` };
    const before = osv.requests.length;
    await loadPlanAdvisories(db, scan, { api });
    const fetched = osv.requests.slice(before).filter((r) => r.path.startsWith('/v1/vulns/')).map((r) => r.path);
    expect(fetched.length).toBeGreaterThan(0);
    const snapshot = await advisoryDatabaseSnapshot(db);
    expect(snapshot.sources.find((s) => s.source === api.name)?.records).toBe(fetched.length);
    // Second plan: nothing newer, nothing fetched.
    const again = osv.requests.length;
    await loadPlanAdvisories(db, scan, { api });
    expect(osv.requests.slice(again).filter((r) => r.path.startsWith('/v1/vulns/'))).toEqual([]);
  });

  it('with a change list, syncs after the first fetch only records listed in modified_id.csv since the last sync', async () => {
    await cp(fixturePath('osv', 'PyPI'), join(served, 'PyPI'), { recursive: true });
    const source = archiveSource(osv.url, 'PyPI', { changeList: true });
    const sync = () => syncAdvisorySource(db, source.name, source.fetch);
    const paths = (from: number) => osv.requests.slice(from).map((r) => `${r.path} ${r.status}`);
    let mark = osv.requests.length;
    expect(await sync()).toMatchObject({ imported: 5, removed: 0 });
    expect(paths(mark)).toEqual(['/PyPI/all.zip 200']); // first sync: the whole archive
    const file = join(served, 'PyPI', 'PYSEC-2005-1.json');
    const record = JSON.parse(await readFile(file, 'utf8')) as { modified: string };
    await writeFile(file, JSON.stringify({ ...record, modified: '2099-01-01T00:00:00Z', summary: 'changed in the dump' }));
    mark = osv.requests.length;
    // The list up to the stored latest `modified` (inclusive): the changed record and the one at that time (skipped).
    expect(await sync()).toMatchObject({ imported: 1, unchanged: 1 });
    const listed = paths(mark);
    expect(listed[0]).toBe('/PyPI/modified_id.csv 200');
    expect(listed).toHaveLength(3);
    expect(listed).toContain('/PyPI/PYSEC-2005-1.json 200');
    expect(listed.some((p) => p.includes('all.zip'))).toBe(false);
    expect((await findAdvisoriesByIds(db, ['PYSEC-2005-1']))[0]?.osv.summary).toBe('changed in the dump');
    // Nothing newer: the list's first line is the record just imported (at the stored time), skipped as unchanged.
    mark = osv.requests.length;
    expect(await sync()).toMatchObject({ imported: 0, unchanged: 1 });
    expect(paths(mark)).toEqual(['/PyPI/modified_id.csv 200', '/PyPI/PYSEC-2005-1.json 200']);
  });

  it('a folder source logs each listing with its scope, finds a record written into the folder through the watch, and is closed by stop()', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'osv-dir-'));
    try {
      await cp(fixturePath('osv', 'npm', 'GHSA-27h2-hvpr-p74q.json'), join(folder, 'GHSA-27h2-hvpr-p74q.json'));
      const listed: Array<Record<string, unknown>> = [];
      const logger = { info: (o: Record<string, unknown>) => void (o.event === 'advisories.listed' && listed.push(o)), warn: () => undefined };
      const source = directorySource(folder, { logger });
      const sync = new AdvisorySync(db, [source], { intervalMs: 0, logger });
      sync.start();
      await sync.ready;
      const id = 'GHSA-test-fold-0001';
      const now = new Date().toISOString();
      const affected = [{ package: { ecosystem: 'npm', name: 'left-pad' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '1.3.0' }] }] }];
      await writeFile(join(folder, `${id}.json`), JSON.stringify({ id, modified: now, published: now, affected }));
      expect(await sync.syncAll()).toEqual([expect.objectContaining({ source: `dir:${folder}`, imported: 1 })]);
      expect((await findAdvisoriesByIds(db, [id]))[0]?.id).toBe(id);
      await sync.stop();
      await source.fetch(null); // after stop(): the watch is closed, so this listing stats every file again
      expect(listed.map((l) => l.scope)).toEqual(['first', 'watched', 'restarted']);
      expect(listed[1]).toMatchObject({ source: `dir:${folder}`, files: { seen: 1, read: 1 }, folders: { seen: 1, read: 0 } });
      expect(listed[2]).toMatchObject({ files: { seen: 2, read: 0 } });
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });
});
