import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fetchOsvArchive, isAffected, OsvApiClient, readOsvDirectoryRecords, toAdvisory, versionOrderKey, type OsvRecord } from '@remediation/advisories';
import { startOsvLocal, type OsvLocal } from '@remediation/osv-local';
import { dropDatabase, fixturePath, freshDatabaseUrl } from '@remediation/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADVISORY_LOOKUP_CONNECTIONS,
  advisoriesChangedSince,
  advisoryDatabaseSnapshot,
  type Database,
  ensureDatabaseExists,
  findAdvisoriesByIds,
  findAdvisoriesForPackages,
  findPlanAdvisories,
  getAdvisorySyncState,
  migrate,
  openDatabase,
  syncAdvisorySource,
  warmAdvisoryLookup,
} from './index.js';

/** The advisory database (advisory-database.ts) against PostgreSQL, fed from the repo's OSV fixtures. */
const databaseUrl = freshDatabaseUrl('advisory_db');
let db: Database;
let served: string;
let osv: OsvLocal;

async function json(path: string): Promise<OsvRecord> {
  return JSON.parse(await readFile(path, 'utf8')) as OsvRecord;
}

beforeAll(async () => {
  await ensureDatabaseExists(databaseUrl);
  db = await openDatabase(databaseUrl, { poolMax: 4 });
  await migrate(db);
  served = await mkdtemp(join(tmpdir(), 'osv-served-'));
  for (const eco of ['PyPI', 'crates.io', 'Go', 'Maven']) await cp(fixturePath('osv', eco), join(served, eco), { recursive: true });
  osv = await startOsvLocal({ dir: served });
});

afterAll(async () => {
  await osv?.close();
  await db?.close();
  await rm(served, { recursive: true, force: true });
  await dropDatabase(databaseUrl);
});

const zipSource = (eco: string) => `zip:${osv.url}/${eco}/all.zip`;
const syncZip = (eco: string) =>
  syncAdvisorySource(db, zipSource(eco), async (state) => fetchOsvArchive(`${osv.url}/${eco}/all.zip`, state?.validators ?? {}));

describe('advisory database', () => {
  it('imports a directory (per-ecosystem subfolders): npm look-ups by case-insensitive name, withdrawn records ignored', async () => {
    const dir = fixturePath('osv', 'npm');
    const result = await syncAdvisorySource(db, `dir:${dir}`, async () => ({ status: 'ok', records: await readOsvDirectoryRecords(dir) }));
    expect(result).toMatchObject({ acquired: true, notModified: false, imported: 78, withdrawn: 3 });
    const axios = await findAdvisoriesForPackages(db, [{ ecosystem: 'npm', name: 'AXIOS' }]);
    expect(axios.map((a) => a.id)).toContain('GHSA-8hc4-vh64-cxmj');
    const withdrawn = await findAdvisoriesByIds(db, ['GHSA-fmr4-7g9q-7hc7', 'GHSA-6r5x-hmgg-7h53', 'GHSA-8wp3-cp9v-44fm']);
    expect(withdrawn).toEqual([]);
    // Same directory again: nothing newer, nothing imported.
    const again = await syncAdvisorySource(db, `dir:${dir}`, async () => ({ status: 'ok', records: await readOsvDirectoryRecords(dir) }));
    expect(again).toMatchObject({ imported: 0, unchanged: 78 });
  });

  it('imports all.zip from the local server; the second sync is a conditional request answered 304 and imports nothing', async () => {
    const first = await syncZip('PyPI');
    expect(first).toMatchObject({ acquired: true, notModified: false, imported: 5, withdrawn: 1 });
    const state = await getAdvisorySyncState(db, zipSource('PyPI'));
    expect(state?.validators.etag).toMatch(/^".+"$/);
    expect(state?.records).toBe(5);
    const second = await syncZip('PyPI');
    expect(second).toMatchObject({ notModified: true, imported: 0 });
    expect(osv.requests.filter((r) => r.path === '/PyPI/all.zip').map((r) => r.status)).toEqual([200, 304]);
    // PEP 503 names: case does not matter; `_` and `.` are `-`, so `Wasm_Time` is `wasm-time`, another package.
    expect((await findAdvisoriesForPackages(db, [{ ecosystem: 'PyPI', name: 'PyBlueMonday' }])).map((a) => a.id)).toHaveLength(1);
    expect((await findAdvisoriesForPackages(db, [{ ecosystem: 'PyPI', name: 'Wasm_Time' }]))).toEqual([]);
    expect((await findAdvisoriesForPackages(db, [{ ecosystem: 'PyPI', name: 'wasmtime' }])).map((a) => a.id)).toEqual(['GHSA-hpqh-2wqx-7qp5']);
    // PYSEC-2019-144 is withdrawn.
    expect(await findAdvisoriesForPackages(db, [{ ecosystem: 'PyPI', name: 'arrayfire' }])).toEqual([]);
  });

  it('merges records that alias each other across sources into one advisory with every affected package', async () => {
    await syncZip('crates.io');
    await syncZip('Go');
    await syncZip('Maven');
    const [merged] = await findAdvisoriesByIds(db, ['CVE-2021-32629']);
    expect(merged?.id).toBe('GHSA-hpqh-2wqx-7qp5');
    expect(merged?.aliases).toEqual(['CVE-2021-32629', 'PYSEC-2021-87', 'RUSTSEC-2021-0067']);
    expect(merged?.osv.affected?.map((a) => `${a.package.ecosystem}/${a.package.name}`).sort()).toEqual(['PyPI/wasmtime', 'crates.io/cranelift-codegen']);
    // RUSTSEC-2021-0067 has CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H (8.8): high.
    expect(merged?.severity).toBe('high');
    const [bluemonday] = await findAdvisoriesByIds(db, ['GO-2022-0588']);
    expect(bluemonday?.id).toBe('GHSA-x95h-979x-cf3j');
    expect(bluemonday?.aliases).toEqual(['CVE-2021-42576', 'GO-2022-0588', 'PYSEC-2021-849']);
    expect((await findAdvisoriesForPackages(db, [{ ecosystem: 'Go', name: 'github.com/microcosm-cc/bluemonday' }])).map((a) => a.id)).toEqual([
      'GHSA-x95h-979x-cf3j',
    ]);
    // A CVSS v4 vector: RUSTSEC-2024-0445 CVSS:4.0/AV:N/AC:L/AT:P/PR:L/UI:N/VC:L/VI:L/VA:L/SC:N/SI:N/SA:N → 2.3 (ae-cvss-calculator), low.
    const [v4] = await findAdvisoriesByIds(db, ['RUSTSEC-2024-0445']);
    expect(v4?.severity).toBe('low');
    const snapshot = await advisoryDatabaseSnapshot(db);
    expect(snapshot.sources.map((s) => s.source)).toEqual(expect.arrayContaining([zipSource('PyPI'), zipSource('Go')]));
    expect(snapshot.snapshotAt).not.toBeNull();
  });

  it('a changed record is imported on the next sync; staleness lists advisories modified after a snapshot', async () => {
    const before = (await advisoryDatabaseSnapshot(db)).snapshotAt!;
    const record = await json(join(served, 'PyPI', 'PYSEC-2005-1.json'));
    const modified = new Date(Date.parse(before) + 60_000).toISOString();
    await writeFile(join(served, 'PyPI', 'PYSEC-2005-1.json'), JSON.stringify({ ...record, modified, summary: 'changed' }));
    const added = { ...record, id: 'PYSEC-2099-1', aliases: [], modified, published: modified, summary: 'new' };
    await writeFile(join(served, 'PyPI', 'PYSEC-2099-1.json'), JSON.stringify(added));
    const result = await syncZip('PyPI');
    expect(result).toMatchObject({ notModified: false, imported: 2, unchanged: 4 });
    const pkg = record.affected![0]!.package;
    const stale = await advisoriesChangedSince(db, { packages: [{ ecosystem: 'PyPI', name: pkg.name.toUpperCase() }], since: before });
    expect(stale.map((a) => a.id)).toEqual(['PYSEC-2005-1', 'PYSEC-2099-1']);
    expect(await advisoriesChangedSince(db, { packages: [{ ecosystem: 'PyPI', name: pkg.name }], since: modified })).toEqual([]);
    // A record becoming withdrawn leaves the database.
    await writeFile(join(served, 'PyPI', 'PYSEC-2099-1.json'), JSON.stringify({ ...added, modified: new Date(Date.parse(modified) + 1000).toISOString(), withdrawn: modified }));
    expect(await syncZip('PyPI')).toMatchObject({ imported: 1, withdrawn: 1 });
    expect(await findAdvisoriesByIds(db, ['PYSEC-2099-1'])).toEqual([]);
  });

  it('a record whose modified time cannot be read fails the sync naming it; nothing of the source is imported', async () => {
    const good = await json(fixturePath('osv', 'Go', 'GO-2022-0378.json'));
    const err = await syncAdvisorySource(db, 'dir:bad-time', async () => ({
      status: 'ok',
      records: [{ ...good, id: 'GO-2099-1' }, { ...good, id: 'GO-2099-2', modified: 'yesterday' }],
    })).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ADVISORY_INVALID', message: expect.stringContaining('GO-2099-2') });
    expect(await findAdvisoriesByIds(db, ['GO-2099-1'])).toEqual([]);
    expect(await getAdvisorySyncState(db, 'dir:bad-time')).toBeNull();
  });

  it('a source serving one id twice imports its newest copy once (no double write of a row)', async () => {
    const good = await json(fixturePath('osv', 'Go', 'GO-2022-0378.json'));
    const result = await syncAdvisorySource(db, 'dir:duplicates', async () => ({
      status: 'ok',
      records: [
        { ...good, id: 'GO-2099-7', modified: '2024-01-01T00:00:00Z', summary: 'older copy' },
        { ...good, id: 'GO-2099-7', modified: '2024-06-01T00:00:00Z', summary: 'newer copy' },
        { ...good, id: 'GO-2099-7', modified: '2024-03-01T00:00:00Z', summary: 'middle copy' },
      ],
    }));
    expect(result).toMatchObject({ imported: 1, unchanged: 2 });
    const [advisory] = await findAdvisoriesByIds(db, ['GO-2099-7']);
    expect(advisory).toMatchObject({ modified: '2024-06-01T00:00:00.000Z' }); // the newest copy's
  });

  it('only one replica syncs a source at a time (advisory lock); the other skips', async () => {
    const db2 = await openDatabase(databaseUrl, { poolMax: 2 });
    try {
      let release!: () => void;
      const holding = new Promise<void>((r) => (release = r));
      let entered!: () => void;
      const inside = new Promise<void>((r) => (entered = r));
      const first = syncAdvisorySource(db, 'dir:lock-test', async () => {
        entered();
        await holding;
        return { status: 'ok', records: [] };
      });
      await inside;
      const second = await syncAdvisorySource(db2, 'dir:lock-test', async () => ({ status: 'ok', records: [] }));
      expect(second.acquired).toBe(false);
      release();
      expect((await first).acquired).toBe(true);
      expect((await syncAdvisorySource(db2, 'dir:lock-test', async () => ({ status: 'ok', records: [] }))).acquired).toBe(true);
    } finally {
      await db2.close();
    }
  });

  it('plan look-up: the same advisories as toAdvisory of the merged record (without details), also for advisories stored before migration 0008', async () => {
    const packages = [
      { ecosystem: 'npm', name: 'AXIOS' },
      { ecosystem: 'npm', name: 'express' },
      { ecosystem: 'PyPI', name: 'wasmtime' },
      { ecosystem: 'crates.io', name: 'cranelift-codegen' },
    ];
    const ids = ['CVE-2021-32629', 'GO-2022-0588'];
    const expected = async (ecosystem: string) => {
      const stored = [...(await findAdvisoriesForPackages(db, packages)), ...(await findAdvisoriesByIds(db, ids))];
      const out = new Map<string, unknown>();
      for (const a of stored) {
        const advisory = toAdvisory(a.osv, ecosystem);
        if (advisory) out.set(a.id, { ...advisory, details: undefined, severity: a.severity });
      }
      return [...out.values()].sort((x, y) => ((x as { id: string }).id < (y as { id: string }).id ? -1 : 1));
    };
    for (const ecosystem of ['npm', 'PyPI', 'crates.io']) {
      const want = await expected(ecosystem);
      expect(want.length).toBeGreaterThan(0);
      const got = await findPlanAdvisories(db, { ecosystem, packages: packages.filter((p) => p.ecosystem === ecosystem), ids });
      expect(got.map((a) => ({ ...a, details: undefined }))).toEqual(want);
    }
    // The merged wasmtime advisory has entries of PyPI and crates.io; looked up for crates.io by id, only those.
    const [merged] = await findPlanAdvisories(db, { ecosystem: 'crates.io', packages: [], ids: ['CVE-2021-32629'] });
    expect(merged?.affected.map((a) => `${a.ecosystem}/${a.name}`)).toEqual(['crates.io/cranelift-codegen']);
    // Without its view (as imported before migration 0008): converted from the merged record, same result.
    const before = await findPlanAdvisories(db, { ecosystem: 'npm', packages: [{ ecosystem: 'npm', name: 'axios' }], ids: [] });
    await db.em().execute(`delete from advisory_views where advisory_id in (select advisory_id from advisory_packages where ecosystem = 'npm' and name = 'axios')`);
    expect(await findPlanAdvisories(db, { ecosystem: 'npm', packages: [{ ecosystem: 'npm', name: 'axios' }], ids: [] })).toEqual(before.map((a) => expect.objectContaining({ id: a.id, affected: a.affected, aliases: a.aliases, severity: a.severity, url: a.url }))
    );
  });

  it('plan look-up with installed versions: a package is read (with all its advisories) when one may affect an installed version, always when one does', async () => {
    const rows = await db.em().execute<Array<{ ecosystem: string; name: string }>>(
      `select distinct ecosystem, name from advisory_packages where ecosystem in ('npm', 'PyPI', 'crates.io') order by ecosystem, name`,
    );
    expect(rows.length).toBeGreaterThan(20);
    // Each package's advisories, and the versions to probe it at: every version its advisories name, and two far ones.
    const packages = await Promise.all(
      rows.map(async ({ ecosystem, name }) => {
        const all = await findPlanAdvisories(db, { ecosystem, packages: [{ ecosystem, name }], ids: [] });
        const named = all.flatMap((a) => a.affected.filter((e) => e.ecosystem === ecosystem).flatMap((e) => [...e.versions, ...e.ranges.flatMap((r) => r.events.map((ev) => Object.values(ev)[0] as string))]));
        const versions = [...new Set(['0.0.1', '999.0.0', ...named])].filter((v) => versionOrderKey(ecosystem, v) !== null);
        return { ecosystem, name, all, versions };
      }),
    );
    let kept = 0;
    let left = 0;
    for (let round = 0; packages.some((p) => round < p.versions.length); round++) {
      const probed = packages.filter((p) => round < p.versions.length);
      const got = await findPlanAdvisories(db, { ecosystem: ['npm', 'PyPI', 'crates.io'], packages: probed.map((p) => ({ ecosystem: p.ecosystem, name: p.name, versions: [p.versions[round]!] })), ids: [] });
      const ids = new Set(got.map((a) => a.id));
      for (const p of probed) {
        const version = p.versions[round]!;
        const read = p.all.filter((a) => ids.has(a.id));
        if (p.all.some((a) => isAffected(a, p.name, version, p.ecosystem))) expect(read.map((a) => a.id), `${p.ecosystem}/${p.name}@${version}`).toEqual(p.all.map((a) => a.id));
        if (read.length === p.all.length) kept++;
        else if (read.length === 0) left++;
      }
    }
    // The prefilter leaves packages out (at 999.0.0 every one fixed below it), not only keeps them.
    expect(left).toBeGreaterThan(rows.length / 2);
    expect(kept).toBeGreaterThan(0);
    // A version without an order key, or an advisory without stored keys (imported before migration 0012), keeps the package.
    const axios = { ecosystem: 'npm', name: 'axios' };
    expect(await findPlanAdvisories(db, { ecosystem: 'npm', packages: [{ ...axios, versions: ['999.0.0'] }], ids: [] })).toEqual([]);
    const all = await findPlanAdvisories(db, { ecosystem: 'npm', packages: [axios], ids: [] });
    expect(await findPlanAdvisories(db, { ecosystem: 'npm', packages: [{ ...axios, versions: ['999.0.0', 'latest'] }], ids: [] })).toEqual(all);
    await db.em().execute(`update advisory_packages set affected_keys = null where ecosystem = 'npm' and name = 'axios' and advisory_id = ?`, [all[0]!.id]);
    expect(await findPlanAdvisories(db, { ecosystem: 'npm', packages: [{ ...axios, versions: ['999.0.0'] }], ids: [] })).toEqual(all);
  });

  it("readies a planner's look-up connections: the package statement runs once on each of its pooled backends, over the stored packages", async () => {
    const [clock] = await db.em().execute<Array<{ at: Date }>>('select clock_timestamp() as at');
    const at = clock!.at;
    const planner = await openDatabase(databaseUrl, { poolMin: ADVISORY_LOOKUP_CONNECTIONS });
    try {
      // The planner's pool: the backends started since `at` (other than the one asking).
      const backends = () =>
        db.em().execute<Array<{ pid: number; query: string }>>(
          'select pid, query from pg_stat_activity where datname = current_database() and backend_start > ? and pid <> pg_backend_pid() order by pid',
          [at],
        );
      expect((await backends()).map((b) => b.query)).toEqual(Array(ADVISORY_LOOKUP_CONNECTIONS).fill('select 1'));
      const [count] = await db.em().execute<Array<{ n: number }>>('select count(distinct (ecosystem, name))::int as n from advisory_packages');
      const n = count!.n;
      expect(n).toBeGreaterThan(ADVISORY_LOOKUP_CONNECTIONS);
      expect(await warmAdvisoryLookup(planner)).toEqual({ statements: ADVISORY_LOOKUP_CONNECTIONS, packages: n });
      // Each backend's last statement (pg_stat_activity.query of an idle backend) is the look-up's.
      const after = await backends();
      expect(after).toHaveLength(ADVISORY_LOOKUP_CONNECTIONS);
      for (const b of after) expect(b.query).toMatch(/jsonb_to_recordset\(\$1::jsonb\) as k\(ecosystem text, name text, key bigint\[\]\)[\s\S]*advisory_views/);
    } finally {
      await planner.close();
    }
  });

  it('a complete listing deletes records the source no longer holds and re-merges their alias group; a changed alias splits a group', async () => {
    const base = await json(fixturePath('osv', 'Go', 'GO-2022-0378.json'));
    const rec = (id: string, aliases: string[], modified = '2024-01-01T00:00:00Z'): OsvRecord => ({ ...base, id, aliases, modified });
    const source = 'dir:removal';
    // GHSA-removal-1 links GO-2099-21 and GO-2099-22 (both name CVE-2099-20, GHSA-removal-1 names both).
    const all = [rec('GO-2099-21', ['CVE-2099-21']), rec('GO-2099-22', ['CVE-2099-22']), rec('GHSA-rmvl-0001-aaaa', ['CVE-2099-21', 'CVE-2099-22'])];
    expect(await syncAdvisorySource(db, source, async () => ({ status: 'ok', records: all, complete: true }))).toMatchObject({ imported: 3, removed: 0 });
    const [group] = await findAdvisoriesByIds(db, ['GO-2099-21']);
    expect(group?.aliases).toEqual(expect.arrayContaining(['GO-2099-21', 'GO-2099-22']));
    // The linking record is removed from the source: the group splits in two.
    const result = await syncAdvisorySource(db, source, async () => ({ status: 'ok', records: all.slice(0, 2), complete: true }));
    expect(result).toMatchObject({ imported: 0, removed: 1, unchanged: 2 });
    expect(await findAdvisoriesByIds(db, ['GHSA-rmvl-0001-aaaa'])).toEqual([]);
    expect((await findAdvisoriesByIds(db, ['GO-2099-21', 'GO-2099-22'])).map((a) => a.id).sort()).toEqual(['GO-2099-21', 'GO-2099-22']);
    // Linked again by a newer GO-2099-22 that names CVE-2099-21 too; then unlinked by a newer one that does not.
    await syncAdvisorySource(db, source, async () => ({ status: 'ok', records: [all[0]!, rec('GO-2099-22', ['CVE-2099-21'], '2024-02-01T00:00:00Z')], complete: true }));
    expect((await findAdvisoriesByIds(db, ['GO-2099-22'])).map((a) => [a.id, ...a.aliases].sort())).toEqual([['CVE-2099-21', 'GO-2099-21', 'GO-2099-22']]);
    await syncAdvisorySource(db, source, async () => ({ status: 'ok', records: [all[0]!, rec('GO-2099-22', ['CVE-2099-22'], '2024-03-01T00:00:00Z')], complete: true }));
    expect((await findAdvisoriesByIds(db, ['GO-2099-21', 'GO-2099-22'])).map((a) => a.id).sort()).toEqual(['GO-2099-21', 'GO-2099-22']);
    // An incremental listing names a removed id: deleted; an id stored by another source is not touched.
    const named = await syncAdvisorySource(db, source, async () => ({ status: 'ok', records: [], removed: ['GO-2099-21', 'PYSEC-2005-1'] }));
    expect(named).toMatchObject({ removed: 1 });
    expect(await findAdvisoriesByIds(db, ['GO-2099-21'])).toEqual([]);
    expect(await findAdvisoriesByIds(db, ['PYSEC-2005-1'])).toHaveLength(1);
  });

  it('the OSV API client against the local server: querybatch by package and version, vulns by id', async () => {
    const api = new OsvApiClient(osv.url);
    const [byPackage, byVersion, none] = await api.queryBatch([
      { package: { ecosystem: 'crates.io', name: 'cranelift-codegen' } },
      { package: { ecosystem: 'crates.io', name: 'cranelift-codegen' }, version: '999.0.0' },
      { package: { ecosystem: 'npm', name: 'no-such-package' } },
    ]);
    expect(byPackage?.map((v) => v.id)).toEqual(['RUSTSEC-2021-0067']);
    expect(byVersion).toEqual([]);
    expect(none).toEqual([]);
    const record = await api.vuln('RUSTSEC-2021-0067');
    expect(record.aliases).toContain('GHSA-hpqh-2wqx-7qp5');
    await expect(api.vuln('NOPE-1')).rejects.toMatchObject({ code: 'ADVISORY_SOURCE_UNREADABLE' });
  });
});
