import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fetchOsvArchive, OsvApiClient, readOsvDirectoryRecords, type OsvRecord } from '@remediation/advisories';
import { startOsvLocal, type OsvLocal } from '@remediation/osv-local';
import { dropDatabase, fixturePath, freshDatabaseUrl } from '@remediation/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  advisoriesChangedSince,
  advisoryDatabaseSnapshot,
  type Database,
  ensureDatabaseExists,
  findAdvisoriesByIds,
  findAdvisoriesForPackages,
  getAdvisorySyncState,
  migrate,
  openDatabase,
  syncAdvisorySource,
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
