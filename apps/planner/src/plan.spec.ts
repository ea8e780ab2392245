import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadOsvDirectory, type AdvisorySource } from '@remediation/advisories';
import { escapeModulePath, fromVersionList, type RegistrySource } from '@remediation/ecosystems';
import { InvalidInputError, TransientError } from '@remediation/errors';
import { SnapshotDirectorySource, type VersionSource } from '@remediation/registry';
import { parseCycloneDx, parseCycloneDxText, parseScan, type ParsedScan } from '@remediation/sbom';
import { fixturePath } from '@remediation/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { computePlan } from './plan.js';

/** A file or folder of `__fixtures__/` beside this spec (sources: __fixtures__/PROVENANCE.md). */
const fixture = (path: string): string => fileURLToPath(new URL(`./__fixtures__/${path}`, import.meta.url));

let advisories: AdvisorySource;
let versions: SnapshotDirectorySource;

beforeAll(async () => {
  advisories = await loadOsvDirectory(fixture('osv/npm'), { ecosystem: 'npm' });
  versions = new SnapshotDirectorySource(fixture('registry/npm'));
});

function scanFixture(name: string): ParsedScan {
  return parseCycloneDxText(readFileSync(fixture(`scans/${name}`), 'utf8'));
}

/** A small CycloneDX 1.6 scan: root `app@1.0.0` depending on `direct`, with `edges` between components. */
function tinyScan(
  components: { name: string; version: string; type?: string; purl?: string }[],
  direct: string[],
  edges: Record<string, string[]> = {},
  vulnerabilities?: unknown[],
): ParsedScan {
  const ref = (name: string): string => {
    const c = components.find((x) => x.name === name)!;
    return `${c.name}@${c.version}`;
  };
  return parseCycloneDx({
    bomFormat: 'CycloneDX',
    specVersion: '1.6',
    version: 1,
    metadata: { component: { type: 'application', name: 'app', version: '1.0.0', 'bom-ref': 'app' } },
    components: components.map((c) => ({
      type: 'library',
      name: c.name,
      version: c.version,
      purl: c.purl ?? `pkg:npm/${c.name}@${c.version}`,
      'bom-ref': `${c.name}@${c.version}`,
    })),
    dependencies: [
      { ref: 'app', dependsOn: direct.map(ref) },
      ...Object.entries(edges).map(([from, tos]) => ({ ref: ref(from), dependsOn: tos.map(ref) })),
    ],
    ...(vulnerabilities ? { vulnerabilities } : {}),
  });
}

describe('computePlan: express 4.19.2 scan + osv/npm + registry snapshot', () => {
  it('bumps exactly the five vulnerable direct dependencies, with the tiers the snapshot allows', async () => {
    const plan = await computePlan(scanFixture('express-4.19.2.cdx.json'), {
      advisories,
      versions,
      registryLabel: 'fixtures/registry/npm',
    });
    expect(plan.sources).toEqual({ advisories: 'osv', registry: 'fixtures/registry/npm' });

    // Minimal tier = the first fixed version recorded in the case file for each package.
    const caseFile = JSON.parse(readFileSync(fixture('manifests/express-4.19.2/case.json'), 'utf8')) as {
      vulnerable: { package: string; version: string; advisory: string; fixed: string; major_bump: boolean }[];
    };
    const fromCase = caseFile.vulnerable.map((v) => ({ name: v.package, from: v.version, to: v.fixed })).sort((a, b) => (a.name < b.name ? -1 : 1));
    expect(plan.upgrade_tiers.minimal.upgrades.map((u) => ({ name: u.name, from: u.from, to: u.to }))).toEqual(fromCase);
    expect(fromCase.map((u) => `${u.name}→${u.to}`)).toEqual([
      'body-parser→1.20.3',
      'cookie→0.7.0',
      'path-to-regexp→0.1.10',
      'send→0.19.0',
      'serve-static→1.16.0',
    ]);
    for (const v of caseFile.vulnerable) {
      const target = plan.targets.find((t) => t.name === v.package)!;
      expect(target.advisories.map((a) => a.id)).toEqual([v.advisory]);
      expect(target.tiers.minimal!.jump === 'major').toBe(v.major_bump);
    }

    const tiers = Object.fromEntries(
      plan.targets.map((t) => [
        t.name,
        {
          minimal: `${t.tiers.minimal!.version} ${t.tiers.minimal!.jump}`,
          moderate: `${t.tiers.moderate!.version} ${t.tiers.moderate!.jump}`,
          comprehensive: t.tiers.comprehensive && `${t.tiers.comprehensive.version} ${t.tiers.comprehensive.jump}`,
        },
      ]),
    );
    expect(tiers).toEqual({
      // GHSA-qwcr: <1.20.3. After 1.20.2 the snapshot has 1.20.3–1.20.6, 1.20.8, 1.20.9, then 2.0.0–2.4.0.
      // ^1.20.2 allows up to 1.x, so moderate is 1.20.9; the newest stable, 2.4.0, is fixed.
      'body-parser': { minimal: '1.20.3 patch', moderate: '1.20.9 patch', comprehensive: '2.4.0 major' },
      // GHSA-pxg6: <0.7.0. ^0.6.0 is 0.6.x, which only has 0.6.0: moderate falls back to 0.7.0
      // (0.6 → 0.7 is a major jump under caret rules). Newest stable: 2.0.2.
      cookie: { minimal: '0.7.0 major', moderate: '0.7.0 major', comprehensive: '2.0.2 major' },
      // GHSA-9wv6: <0.1.10, [0.2.0,1.9.0), [2.0.0,3.3.0), [4.0.0,6.3.0), [7.0.0,8.0.0).
      // ^0.1.7 is 0.1.x, newest 0.1.13. Newest stable 9.0.0 is past 8.0.0, so fixed.
      'path-to-regexp': { minimal: '0.1.10 patch', moderate: '0.1.13 patch', comprehensive: '9.0.0 major' },
      // GHSA-m6fv: <0.19.0. ^0.18.0 is 0.18.x: only 0.18.0, fall back to 0.19.0. Newest stable 1.2.1.
      send: { minimal: '0.19.0 major', moderate: '0.19.0 major', comprehensive: '1.2.1 major' },
      // GHSA-cm22: <1.16.0 and [2.0.0,2.1.0). 1.x ends at 1.16.3; newest stable 2.2.1 is past 2.1.0.
      'serve-static': { minimal: '1.16.0 minor', moderate: '1.16.3 minor', comprehensive: '2.2.1 major' },
    });

    const cookie = plan.targets.find((t) => t.name === 'cookie')!;
    expect(cookie.tiers.moderate!.notes).toContain('no fixed version within the current major line');
    expect(cookie.tiers.minimal!.breakingChangeRisk).toBe('high');
    expect(cookie).toMatchObject({
      purl: 'pkg:npm/cookie@0.6.0',
      ecosystem: 'npm',
      currentVersion: '0.6.0',
      manifestPath: 'package.json',
    });
    expect(cookie.advisories[0]).toMatchObject({
      id: 'GHSA-pxg6-pf52-xh8x',
      aliases: ['CVE-2024-47764'],
      severity: 'low',
      affectedRanges: ['<0.7.0'],
      fixedVersions: ['0.7.0'],
    });
    expect(plan.targets.find((t) => t.name === 'body-parser')!.tiers.moderate!.notes).toEqual([]);

    expect(plan.upgrade_tiers.minimal).toMatchObject({
      advisoriesFixed: ['GHSA-9wv6-86v2-598j', 'GHSA-cm22-4g7w-348p', 'GHSA-m6fv-jmcg-4jfg', 'GHSA-pxg6-pf52-xh8x', 'GHSA-qwcr-r2fm-qrc7'],
      advisoriesRemaining: [],
      largestJump: 'major',
    });
    expect(plan.upgrade_tiers.comprehensive.upgrades).toHaveLength(5);
    expect(plan.noFixTargets).toEqual([]);
    expect(plan.transitive).toEqual([]);
    // express's own advisory is not a target.
    expect(plan.targets.map((t) => t.name)).not.toContain('express');
    expect(plan.warnings).toEqual([
      'the scanned project express@4.19.2 is itself affected by GHSA-qw6h-vgh9-j6wx; it is not a dependency, so it is not a target',
    ]);
  });

  it('is deterministic', async () => {
    const deps = { advisories, versions, registryLabel: 'snapshot' };
    const a = await computePlan(scanFixture('express-4.19.2.cdx.json'), deps);
    const b = await computePlan(scanFixture('express-4.19.2.cdx.json'), { ...deps, concurrency: 1 });
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
  });
});

describe('computePlan: any scan format (issue 12)', () => {
  const anyScan = (name: string): ParsedScan => parseScan(readFileSync(fixture(`scans/${name}`), 'utf8'));

  it("Trivy's native JSON plans jquery exactly like Trivy's CycloneDX output", async () => {
    const native = await computePlan(anyScan('trivy-npm-native.json'), { advisories, versions, registryLabel: 'snapshot' });
    const cdx = await computePlan(scanFixture('trivy-npm-jquery.cdx.json'), { advisories, versions, registryLabel: 'snapshot' });
    expect(native.sources.advisories).toBe('scan');
    expect(native.targets).toEqual(cdx.targets);
    expect(native.targets[0]).toMatchObject({ name: 'jquery', currentVersion: '3.3.9', tiers: { minimal: { version: '3.5.0' } } });
    expect(native.upgrade_tiers).toEqual(cdx.upgrade_tiers);
  });

  it("a scan advisory unknown to the OSV directory uses the scanner's fixed versions", async () => {
    const scan = parseScan({
      SchemaVersion: 2,
      ArtifactName: 'app',
      Results: [
        {
          Target: 'package-lock.json',
          Packages: [{ ID: 'cookie@0.6.0', Name: 'cookie', Version: '0.6.0', Identifier: { PURL: 'pkg:npm/cookie@0.6.0' } }],
          Vulnerabilities: [
            { VulnerabilityID: 'CVE-2099-0001', PkgID: 'cookie@0.6.0', PkgName: 'cookie', InstalledVersion: '0.6.0', FixedVersion: '0.7.1', Severity: 'HIGH' },
          ],
        },
      ],
    });
    const plan = await computePlan(scan, { advisories, versions, registryLabel: 'snapshot' });
    const cookie = plan.targets[0]!;
    expect(cookie.advisories.find((a) => a.id === 'CVE-2099-0001')).toMatchObject({ severity: 'high', affectedRanges: ['<0.7.1'], fixedVersions: ['0.7.1'] });
    expect(cookie.tiers.minimal).toMatchObject({ version: '0.7.1' });
  });

  it('OSV-Scanner results of other ecosystems: Go and Cargo planned from the scanner\'s vers ranges, each registry asked', async () => {
    const plan = await computePlan(anyScan('osv-scanner-results-a.json'), { advisories, versions, registryLabel: 'snapshot' });
    // OSV-Scanner results have no graph: every package is direct. Go and Cargo are planned (their
    // `vers:golang`/`vers:cargo` ranges read as node-semver), but no registry of theirs is
    // configured here, so they have no tiers and say why.
    expect(plan.targets.map((t) => [t.ecosystem, t.name, t.status, t.noFixReason, t.tiers.minimal])).toEqual([
      ['golang', 'github.com/gogo/protobuf', 'planned', 'versions of github.com/gogo/protobuf could not be listed (no golang registry configured)', null],
      ['cargo', 'regex', 'planned', 'versions of regex could not be listed (no cargo registry configured)', null],
    ]);
    expect(plan.targets[0]!.advisories[0]).toMatchObject({ affectedRanges: ['<1.3.2'], fixedVersions: ['1.3.2'] });
    expect(plan.warnings.some((w) => w.startsWith('not planned:'))).toBe(false);
    // With the module proxy lists (test/fixtures/registry/go): the lowest version outside the scanner's range.
    const goproxy: RegistrySource = {
      label: 'test/fixtures/registry/go',
      releases: async (name) => ({ name, versions: fromVersionList(readFileSync(fixturePath('registry/go', escapeModulePath(name), '@v/list'), 'utf8')), source: 'test/fixtures/registry/go' }),
    };
    const withProxy = await computePlan(anyScan('osv-scanner-results-a.json'), { advisories, versions, registryLabel: 'snapshot', registries: new Map([['golang', goproxy]]) });
    expect(withProxy.targets[0]!.tiers.minimal).toMatchObject({ version: 'v1.3.2', jump: 'patch' });
  });
});

describe('computePlan: Trivy scan carrying vulnerabilities', () => {
  it("takes the advisories from the scan and resolves their ranges through the OSV directory", async () => {
    const plan = await computePlan(scanFixture('trivy-npm-jquery.cdx.json'), { advisories, versions, registryLabel: 'snapshot' });
    expect(plan.sources.advisories).toBe('scan');
    expect(plan.targets).toHaveLength(1);
    const jquery = plan.targets[0]!;
    expect(jquery).toMatchObject({ name: 'jquery', currentVersion: '3.3.9', purl: 'pkg:npm/jquery@3.3.9' });
    // CVE-2019-11358 is an alias of GHSA-6c3j-c64m-qhgq (<3.4.0).
    expect(jquery.advisories).toEqual([
      expect.objectContaining({
        id: 'GHSA-6c3j-c64m-qhgq',
        aliases: ['CVE-2019-11358'],
        severity: 'moderate',
        affectedRanges: ['<3.4.0'],
        fixedVersions: ['3.4.0'],
      }),
    ]);
    // The OSV directory also knows GHSA-gxr4 and GHSA-jpcq (<3.5.0) for jquery: 3.4.x is not
    // free of every known advisory, so minimal is 3.5.0; 3.x ends at 3.8.0; newest stable 4.0.0.
    expect(jquery.tiers.minimal).toMatchObject({ version: '3.5.0', jump: 'minor', advisoriesFixed: ['GHSA-6c3j-c64m-qhgq'] });
    expect(jquery.tiers.moderate).toMatchObject({ version: '3.8.0', jump: 'minor' });
    expect(jquery.tiers.comprehensive).toMatchObject({ version: '4.0.0', jump: 'major', breakingChangeRisk: 'high' });
    expect(plan.warnings).toEqual([
      'jquery@3.3.9: the OSV directory lists GHSA-gxr4-xjj5-5px2, GHSA-jpcq-cgw6-v4j6, not reported by the scan; the tiers avoid them too',
    ]);
  });

  it("uses the scan's own ranges for ids the OSV directory does not know", async () => {
    const scan = tinyScan([{ name: 'cookie', version: '0.6.0' }], ['cookie'], {}, [
      {
        id: 'CVE-2099-0001',
        ratings: [{ severity: 'high' }],
        affects: [{ ref: 'cookie@0.6.0', versions: [{ range: 'vers:npm/<0.7.1', status: 'affected' }] }],
      },
    ]);
    const plan = await computePlan(scan, { advisories, versions, registryLabel: 'snapshot' });
    expect(plan.sources.advisories).toBe('scan');
    const cookie = plan.targets[0]!;
    expect(cookie.advisories).toEqual([
      { id: 'CVE-2099-0001', aliases: [], severity: 'high', affectedRanges: ['<0.7.1'], fixedVersions: ['0.7.1'] },
    ]);
    expect(cookie.tiers.minimal!.version).toBe('0.7.1');
    expect(plan.warnings[0]).toMatch(/not found in the OSV directory.*CVE-2099-0001/);
  });

  it('gives a noFixReason when the scan names only the installed version', async () => {
    const scan = tinyScan([{ name: 'cookie', version: '0.6.0' }], ['cookie'], {}, [
      {
        id: 'CVE-2099-0002',
        recommendation: 'Upgrade cookie to version 0.7.0',
        affects: [{ ref: 'cookie@0.6.0', versions: [{ version: '0.6.0', status: 'affected' }] }],
      },
    ]);
    const plan = await computePlan(scan, { advisories, versions, registryLabel: 'snapshot' });
    expect(plan.targets[0]!.tiers).toEqual({ minimal: null, moderate: null, comprehensive: null });
    expect(plan.targets[0]!.noFixReason).toBe(
      'no affected version range is known for CVE-2099-0002 (the scanner recommends: Upgrade cookie to version 0.7.0)',
    );
    expect(plan.noFixTargets).toEqual(['cookie']);
  });
});

describe('computePlan: targets without a fix', () => {
  it('node-serialize (GHSA-q4v7-4rhw-9hqm, never fixed) has all tiers null', async () => {
    const plan = await computePlan(tinyScan([{ name: 'node-serialize', version: '0.0.4' }], ['node-serialize']), {
      advisories,
      versions,
      registryLabel: 'snapshot',
    });
    expect(plan.targets).toHaveLength(1);
    const target = plan.targets[0]!;
    expect(target.advisories.map((a) => [a.id, a.severity, a.affectedRanges])).toEqual([['GHSA-q4v7-4rhw-9hqm', 'critical', ['*']]]);
    expect(target.tiers).toEqual({ minimal: null, moderate: null, comprehensive: null });
    expect(target.noFixReason).toBe('no stable version newer than 0.0.4 is published; GHSA-q4v7-4rhw-9hqm name(s) no fixed version');
    expect(plan.noFixTargets).toEqual(['node-serialize']);
    expect(plan.upgrade_tiers.minimal).toEqual({
      upgrades: [],
      advisoriesFixed: [],
      advisoriesRemaining: ['GHSA-q4v7-4rhw-9hqm'],
      largestJump: null,
    });
  });

  it('an older node-serialize: the newer version is affected too', async () => {
    const plan = await computePlan(tinyScan([{ name: 'node-serialize', version: '0.0.3' }], ['node-serialize']), {
      advisories,
      versions,
      registryLabel: 'snapshot',
    });
    expect(plan.targets[0]!.noFixReason).toMatch(/^none of the 1 stable version\(s\) newer than 0\.0\.3 is free of GHSA-q4v7-4rhw-9hqm/);
  });

  it('a package the registry does not know becomes a no-fix target with a warning', async () => {
    // lodash.trim@4.5.1 is affected (last_affected 4.5.1) but absent from the snapshot.
    const plan = await computePlan(tinyScan([{ name: 'lodash.trim', version: '4.5.1' }], ['lodash.trim']), {
      advisories,
      versions,
      registryLabel: 'snapshot',
    });
    expect(plan.targets[0]!.noFixReason).toBe('versions of lodash.trim could not be listed (PACKAGE_NOT_FOUND)');
    expect(plan.warnings[0]).toMatch(/^lodash\.trim@4\.5\.1: versions unavailable \(PACKAGE_NOT_FOUND\)/);
  });

  it('lets registry outages through so the plan can be retried; other input errors make a no-fix target', async () => {
    const scan = tinyScan([{ name: 'cookie', version: '0.6.0' }], ['cookie']);
    const outage: VersionSource = {
      listVersions: () => Promise.reject(new TransientError('REGISTRY_UNAVAILABLE', 'registry down')),
    };
    await expect(computePlan(scan, { advisories, versions: outage, registryLabel: 'r' })).rejects.toMatchObject({
      code: 'REGISTRY_UNAVAILABLE',
    });
    const badDocument: VersionSource = {
      listVersions: () => Promise.reject(new InvalidInputError('REGISTRY_DOCUMENT_INVALID', 'no versions')),
    };
    await expect(computePlan(scan, { advisories, versions: badDocument, registryLabel: 'r' })).resolves.toMatchObject({
      noFixTargets: ['cookie'],
    });
  });
});

describe('computePlan: transitive and non-npm components', () => {
  it('reports vulnerable transitive components with the direct dependencies they come through', async () => {
    const scan = tinyScan(
      [
        { name: 'accepts', version: '1.3.8' },
        { name: 'helper', version: '1.0.0' },
        { name: 'cookie', version: '0.6.0' },
        { name: 'rails', version: '7.0.0', purl: 'pkg:gem/rails@7.0.0' },
      ],
      ['accepts', 'helper', 'rails'],
      { accepts: ['cookie'], helper: ['accepts'] },
    );
    const plan = await computePlan(scan, { advisories, versions, registryLabel: 'snapshot' });
    expect(plan.targets).toEqual([]);
    // accepts and helper are not in the snapshot: only the override can be checked, and the plan says why.
    const override = {
      kind: 'override',
      name: 'cookie',
      from: '0.6.0',
      to: '0.7.0',
      jump: 'major',
      breakingChangeRisk: 'high',
      path: [],
      notes: ['package.json "overrides": { "cookie": "0.7.0" }'],
      mechanism: 'overrides',
    };
    expect(plan.transitive).toEqual([
      {
        purl: 'pkg:npm/cookie@0.6.0',
        name: 'cookie',
        version: '0.6.0',
        advisories: ['GHSA-pxg6-pf52-xh8x'],
        via: ['accepts', 'helper'],
        options: [override],
        minimal: override,
        // 0.6.x has no fix: moderate falls back to the minimal override, noted; comprehensive pins the newest cookie, 2.0.2.
        moderate: { ...override, notes: [...override.notes, 'no fixed version within the current major line'] },
        comprehensive: { ...override, to: '2.0.2', notes: ['package.json "overrides": { "cookie": "2.0.2" }'] },
        reasons: ['versions of accepts could not be listed (PACKAGE_NOT_FOUND)', 'versions of helper could not be listed (PACKAGE_NOT_FOUND)'],
        affectedRanges: ['<0.7.0'],
      },
    ]);
    expect(plan.warnings).toEqual(['not planned: gem (1 component(s); only npm, pypi, cargo, golang and maven are planned)']);
    expect(plan.upgrade_tiers.moderate).toEqual({ upgrades: [], advisoriesFixed: [], advisoriesRemaining: [], largestJump: null });
  });
});

/**
 * Issue 11: bad scans never vanish silently. Components whose version or purl cannot be read are
 * warnings naming bom-ref, name and reason; a vulnerable one whose version cannot be read is a
 * target that needs a person; a renamed component is matched by its purl.
 */
describe('computePlan: components that cannot be read', () => {
  type RawComponent = { 'bom-ref': string; name: string; version?: string; purl?: string };
  const bom = (components: RawComponent[], vulnerabilities?: unknown[]): ParsedScan =>
    parseCycloneDx({
      bomFormat: 'CycloneDX',
      specVersion: '1.6',
      metadata: { component: { type: 'application', name: 'app', version: '1.0.0', 'bom-ref': 'app' } },
      components: components.map((c) => ({ type: 'library', ...c })),
      dependencies: [{ ref: 'app', dependsOn: components.map((c) => c['bom-ref']) }],
      ...(vulnerabilities ? { vulnerabilities } : {}),
    });
  const deps = () => ({ advisories, versions, registryLabel: 'snapshot' });

  it('lists each component with an unreadable version or purl, by bom-ref and name, with the reason', async () => {
    const scan = bom([
      { 'bom-ref': 'empty', name: 'ms', version: '', purl: 'pkg:npm/ms' },
      { 'bom-ref': 'latest', name: 'debug', version: 'latest', purl: 'pkg:npm/debug' },
      { 'bom-ref': 'nav', name: 'qs', version: 'not-a-version', purl: 'pkg:npm/qs' },
      { 'bom-ref': 'missing', name: 'vary', purl: 'pkg:npm/vary' },
      { 'bom-ref': 'badpurl', name: 'etag', version: '1.8.1', purl: 'not a purl' },
      { 'bom-ref': 'nopurl', name: 'fresh', version: '0.5.2' },
      { 'bom-ref': 'fine', name: 'accepts', version: '1.3.8', purl: 'pkg:npm/accepts@1.3.8' },
    ]);
    const plan = await computePlan(scan, deps());
    // Packages with advisories in the OSV fixtures (debug, qs, …) need a person; none is planned.
    expect(plan.targets.length).toBeGreaterThan(0);
    expect(plan.targets.every((t) => t.status === 'needs_person')).toBe(true);
    expect(plan.warnings).toEqual(
      expect.arrayContaining([
        'component "empty" (ms) cannot be planned: its version is empty',
        'component "latest" (debug) cannot be planned: version "latest" is not a semver version',
        'component "nav" (qs) cannot be planned: version "not-a-version" is not a semver version',
        'component "missing" (vary) cannot be planned: the scan gives no version (neither `version` nor the purl)',
        expect.stringMatching(/^component "badpurl" \(etag\) cannot be planned: purl "not a purl" could not be parsed: /),
        'component "nopurl" (fresh) cannot be planned: it has a version but no purl',
      ]),
    );
    expect(plan.warnings.some((w) => w.includes('"fine"'))).toBe(false);
  });

  it('makes a vulnerable component whose version cannot be read a target that needs a person (OSV mode)', async () => {
    const plan = await computePlan(bom([{ 'bom-ref': 'c', name: 'cookie', version: 'latest', purl: 'pkg:npm/cookie' }]), deps());
    expect(plan.targets).toHaveLength(1);
    const target = plan.targets[0]!;
    expect(target).toMatchObject({
      name: 'cookie',
      purl: 'pkg:npm/cookie',
      currentVersion: 'latest',
      status: 'needs_person',
      reason: 'version "latest" is not a semver version; 1 known advisory(ies) of cookie may apply',
      tiers: { minimal: null, moderate: null, comprehensive: null },
    });
    expect(target.noFixReason).toBe(`needs a person: ${target.reason}`);
    expect(target.advisories.map((a) => a.id)).toEqual(['GHSA-pxg6-pf52-xh8x']);
    expect(plan.noFixTargets).toEqual(['cookie']);
    expect(plan.upgrade_tiers.minimal.advisoriesRemaining).toEqual(['GHSA-pxg6-pf52-xh8x']);
  });

  it('makes a reported component without a version a target that needs a person (scan mode), and names unknown affects refs', async () => {
    const scan = bom([{ 'bom-ref': 'c', name: 'cookie', purl: 'pkg:npm/cookie' }], [
      { id: 'GHSA-pxg6-pf52-xh8x', affects: [{ ref: 'c' }, { ref: 'ghost-ref' }] },
    ]);
    const plan = await computePlan(scan, deps());
    expect(plan.targets.map((t) => [t.name, t.status, t.currentVersion, t.reason])).toEqual([
      ['cookie', 'needs_person', '', 'the scan gives no version (neither `version` nor the purl)'],
    ]);
    expect(plan.warnings).toContain('1 vulnerability affects-reference(s) name bom-refs that are not in the scan: GHSA-pxg6-pf52-xh8x → "ghost-ref"');
  });

  it('warns when a reported component has an unreadable purl', async () => {
    const scan = bom([{ 'bom-ref': 'x', name: 'cookie', version: '0.6.0', purl: 'pkg:' }], [
      { id: 'GHSA-pxg6-pf52-xh8x', affects: [{ ref: 'x' }] },
    ]);
    const plan = await computePlan(scan, deps());
    expect(plan.targets).toEqual([]);
    expect(plan.warnings).toContain('component "x" is reported vulnerable to GHSA-pxg6-pf52-xh8x but its package cannot be read (see above): not planned');
  });

  it('matches a renamed component by its purl, not its display name', async () => {
    const scan = bom([{ 'bom-ref': 'r', name: 'my-cookie-fork', version: '0.6.0', purl: 'pkg:npm/cookie@0.6.0' }]);
    const plan = await computePlan(scan, deps());
    expect(plan.targets.map((t) => [t.name, t.status, t.tiers.minimal?.version])).toEqual([['cookie', 'planned', '0.7.0']]);
    expect(plan.warnings).toContain('1 npm component(s) named differently from their purl, matched by the purl: r ("my-cookie-fork" is cookie)');
    // Scan mode too: the scan's vulnerability resolves to the OSV record of the purl's package.
    const reported = bom([{ 'bom-ref': 'r', name: 'my-cookie-fork', version: '0.6.0', purl: 'pkg:npm/cookie@0.6.0' }], [
      { id: 'CVE-2024-47764', affects: [{ ref: 'r' }] },
    ]);
    const fromScan = await computePlan(reported, deps());
    expect(fromScan.targets.map((t) => [t.name, t.advisories[0]!.id, t.tiers.minimal?.version])).toEqual([['cookie', 'GHSA-pxg6-pf52-xh8x', '0.7.0']]);
  });

  it('lists at most 50 unreadable components one by one', async () => {
    const many = Array.from({ length: 60 }, (_, i) => ({ 'bom-ref': `b${i}`, name: `p${i}`, version: 'latest', purl: `pkg:npm/p${i}` }));
    const plan = await computePlan(bom(many), deps());
    expect(plan.warnings.filter((w) => w.startsWith('component '))).toHaveLength(50);
    expect(plan.warnings).toContain('… and 10 more component(s) that cannot be planned');
  });
});
