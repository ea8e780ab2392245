import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadOsvDirectory, OsvAdvisoryIndex, OsvRecord, toAdvisory, type AdvisorySource } from '@remediation/advisories';
import {
  fromIndexFile,
  normalisePythonName,
  pep440Versioning,
  provePythonRemediated,
  PypiSnapshotSource,
  requirementsTxtManager,
  sparseIndexPath,
  type RegistrySource,
} from '@remediation/ecosystems';
import { SnapshotDirectorySource } from '@remediation/registry';
import { parseCycloneDx, type ParsedScan } from '@remediation/sbom';
import { fixturePath } from '@remediation/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computePlan } from './plan.js';

/** A file of `__fixtures__/` beside this spec (sources: __fixtures__/PROVENANCE.md). */
const fixture = (path: string): string => fileURLToPath(new URL(`./__fixtures__/${path}`, import.meta.url));

/** Where a case file is kept when not at its repository path (Vulnerable-Flask-App's `app/requirements.txt`, see PROVENANCE.md). */
const FIXTURE_PATH: Record<string, string> = { 'vulnerable-flask-app/app/requirements.txt': 'requirements.txt' };

interface CaseFile {
  repo: string;
  files: string[];
  vulnerable: { package: string; version: string; version_source: string; advisory: string; fixed: string; major_bump: boolean }[];
}

let advisories: AdvisorySource;
let pypi: PypiSnapshotSource;

beforeAll(async () => {
  // Every PYSEC record of the cases' packages (test/fixtures/PROVENANCE.md "osv-pypi-cases").
  advisories = await loadOsvDirectory(fixturePath('osv-pypi-cases'), { ecosystem: ['npm', 'PyPI'] });
  pypi = new PypiSnapshotSource(fixturePath('registry/pypi'));
});

/**
 * A CycloneDX 1.5 scan of a Python case made from its requirements files: one `pkg:pypi` component
 * per `==` pin (case.json's `version_source`: versions come from `==` pins), every one a direct
 * dependency of the root (pip-compile's `# via` pins are in the file the patcher edits, so they are
 * targets too).
 */
function caseScan(name: string, caseFile: CaseFile): ParsedScan {
  const components = new Map<string, { type: string; name: string; version: string; purl: string; 'bom-ref': string }>();
  for (const file of caseFile.files) {
    const text = readFileSync(fixture(`manifests/${name}/${FIXTURE_PATH[`${name}/${file}`] ?? file}`), 'utf8');
    for (const dep of requirementsTxtManager.extract(file, text).dependencies) {
      const pin = /^==\s*([^,;\s*]+)$/.exec(dep.requirement.trim());
      if (!pin) continue;
      const purl = `pkg:pypi/${dep.normalisedName}@${pin[1]}`;
      components.set(purl, { type: 'library', name: dep.name, version: pin[1]!, purl, 'bom-ref': purl });
    }
  }
  return parseCycloneDx({
    bomFormat: 'CycloneDX',
    specVersion: '1.5',
    version: 1,
    metadata: { component: { type: 'application', name, version: '0.0.0', 'bom-ref': 'root' } },
    components: [...components.values()],
    dependencies: [{ ref: 'root', dependsOn: [...components.keys()] }],
  });
}

/**
 * Where case.json and the data legitimately disagree, by case and package: what the rules say instead.
 * gevent: PYSEC-2023-177's ECOSYSTEM range is fixed in 23.9.0, but the same record's `versions`
 * list also names 23.9.0 and 23.9.0.post1 (pypa/advisory-database enumerated them from the GIT
 * range). OSV evaluation (https://ossf.github.io/osv-schema/#evaluation, `IsVulnerable`) counts a
 * listed version as affected, so no published version of the snapshot (it ends at 23.9.0.post1)
 * is free of the advisory: a no-fix target. case.json read the range only.
 */
const NO_FIX_BY_RULES: Record<string, Record<string, string>> = { 'vulnerable-flask-app': { gevent: 'PYSEC-2023-177' } };

const newest = (versions: string[]): string => [...versions].sort((a, b) => pep440Versioning.compare(a, b)).at(-1)!;

describe.each(['pygoat', 'dvpwa', 'vulnerable-flask-app'])('Python case %s: plan against the PYSEC advisories and the PyPI snapshot', (name) => {
  it('names the vulnerable targets and the fixed versions case.json gives', async () => {
    const caseFile = JSON.parse(readFileSync(fixture(`manifests/${name}/case.json`), 'utf8')) as CaseFile;
    const plan = await computePlan(caseScan(name, caseFile), { advisories, registries: new Map([['pypi', pypi]]) });
    expect(plan.sources).toEqual({ advisories: 'osv', registry: pypi.label });
    expect(plan.warnings).toEqual([]);

    // The targets are exactly case.json's vulnerable (package, version) pairs.
    const key = (n: string, v: string): string => `${normalisePythonName(n)}@${v}`;
    const expected = new Map<string, CaseFile['vulnerable']>();
    for (const v of caseFile.vulnerable) expected.set(key(v.package, v.version), [...(expected.get(key(v.package, v.version)) ?? []), v]);
    expect(plan.targets.map((t) => key(t.name, t.currentVersion)).sort()).toEqual([...expected.keys()].sort());

    for (const target of plan.targets) {
      // PyPI targets carry the PEP 503 name, the pypi purl type and the default manifest.
      expect(target).toMatchObject({ ecosystem: 'pypi', name: normalisePythonName(target.name), manifestPath: 'requirements.txt', status: 'planned' });
      const pairs = expected.get(key(target.name, target.currentVersion))!;
      for (const pair of pairs) {
        const advisory = target.advisories.find((a) => a.id === pair.advisory);
        expect(advisory, `${target.name}@${target.currentVersion} ${pair.advisory}`).toBeDefined();
        expect(advisory!.fixedVersions).toContain(pair.fixed);
        // The affected ranges are PEP 440 specifier sets the patcher's proof reads.
        expect(provePythonRemediated(`==${target.currentVersion}`, 'pep440', advisory!.affectedRanges).remediated).toBe(false);
      }
      const noFixId = NO_FIX_BY_RULES[name]?.[target.name];
      if (noFixId !== undefined) {
        expect(target.tiers).toEqual({ minimal: null, moderate: null, comprehensive: null });
        expect(target.noFixReason).toContain(noFixId);
        expect(target.advisories.find((a) => a.id === noFixId)!.affectedRanges).toContain(`==${pairs[0]!.fixed}`);
        continue;
      }
      // Minimal tier: the lowest version clearing every advisory = the newest of case.json's
      // per-advisory fixed versions (each is published in the snapshot). PyYAML 5.1's PYSEC-2020-176
      // is fixed in the pre-release 5.2b1, never a candidate; its other advisories need 5.4 anyway.
      const minimal = target.tiers.minimal!;
      expect(minimal.version, `${target.name}@${target.currentVersion}`).toBe(newest(pairs.map((p) => p.fixed)));
      expect(minimal.jump === 'major').toBe(pairs.some((p) => p.major_bump));
      expect(minimal.breakingChangeRisk).toBe(minimal.jump === 'major' ? 'high' : 'low');
      expect(minimal.advisoriesFixed.sort()).toEqual(target.advisories.map((a) => a.id).sort());
      for (const tier of [target.tiers.minimal, target.tiers.moderate, target.tiers.comprehensive]) {
        if (tier) expect(pep440Versioning.isStable(tier.version)).toBe(true);
      }
      // Moderate stays on the installed major when a fix exists there.
      const moderate = target.tiers.moderate!;
      if (pep440Versioning.sameLine(target.currentVersion, minimal.version)) {
        expect(pep440Versioning.sameLine(target.currentVersion, moderate.version)).toBe(true);
        expect(pep440Versioning.compare(moderate.version, minimal.version)).toBeGreaterThanOrEqual(0);
      } else {
        expect(moderate).toMatchObject({ version: minimal.version, notes: expect.arrayContaining(['no fixed version within the current major line']) });
      }
    }
  });
});

describe('computePlan: PyPI candidates (pre-releases, dev releases, yanked versions)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pypi-snapshot-'));
    // PyYAML's real versions around the fixes of PYSEC-2020-176 (5.2b1), PYSEC-2020-96 (5.3.1) and
    // PYSEC-2021-142 (5.4), with 5.4 marked yanked and a dev release added to test the rules.
    await writeFile(
      join(dir, 'pyyaml.json'),
      JSON.stringify({
        name: 'PyYAML',
        versions: ['5.1', '5.2b1', '5.2', '5.3', '5.3.1', { version: '5.4', yanked: 'test: withdrawn', requiresPython: '>=2.7' }, '5.4.1', '5.5.dev0', { version: '6.0', requiresPython: '>=3.6' }, '6.0.1rc1'],
      }),
    );
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const scanOf = (version: string): ParsedScan =>
    parseCycloneDx({
      bomFormat: 'CycloneDX',
      specVersion: '1.5',
      metadata: { component: { type: 'application', name: 'app', version: '1.0.0', 'bom-ref': 'app' } },
      components: [{ type: 'library', name: 'PyYAML', version, purl: `pkg:pypi/pyyaml@${version}`, 'bom-ref': 'y' }],
      dependencies: [{ ref: 'app', dependsOn: ['y'] }],
    });

  it('skips pre-releases, dev releases and yanked versions; notes Requires-Python', async () => {
    const plan = await computePlan(scanOf('5.1'), { advisories, registries: new Map([['pypi', new PypiSnapshotSource(dir)]]) });
    const target = plan.targets[0]!;
    expect(target.name).toBe('pyyaml');
    // 5.4 (the first version clearing all three) is yanked: 5.4.1; 5.5.dev0 and 6.0.1rc1 are never chosen.
    expect(target.tiers.minimal).toMatchObject({ version: '5.4.1', jump: 'minor', breakingChangeRisk: 'low' });
    expect(target.tiers.moderate).toMatchObject({ version: '5.4.1', notes: [] });
    expect(target.tiers.comprehensive).toMatchObject({ version: '6.0', jump: 'major', breakingChangeRisk: 'high', notes: ['requires Python >=3.6'] });
  });
});

/** The crates of test/fixtures/registry/cargo, read from the index files as tools/cargo-local serves them. */
const cargoIndex: RegistrySource = {
  label: 'test/fixtures/registry/cargo',
  releases: async (name) => ({ ...fromIndexFile(name, readFileSync(fixturePath('registry/cargo', sparseIndexPath(name)), 'utf8'), 'fixture'), source: 'test/fixtures/registry/cargo' }),
};

describe('computePlan: a mixed scan (npm, pypi, cargo, gem)', () => {
  it('plans npm as before, plans pypi and cargo, and lists gem as not supported yet', async () => {
    const npmAdvisories = await loadOsvDirectory(fixture('osv/npm'), { ecosystem: 'npm' });
    const both = await loadOsvDirectory(fixturePath('osv-pypi-cases'), { ecosystem: ['npm', 'PyPI'] });
    const smallvec = toAdvisory(
      OsvRecord.parse(JSON.parse(readFileSync(fileURLToPath(new URL('../../../libs/ecosystems/src/cargo/__fixtures__/osv/RUSTSEC-2019-0009.json', import.meta.url)), 'utf8'))),
      'crates.io',
    )!;
    const index = new OsvAdvisoryIndex(['npm', 'PyPI', 'crates.io'], [
      ...['cookie'].flatMap((n) => npmAdvisories.forPackage(n, 'npm')),
      ...['requests'].flatMap((n) => both.forPackage(n, 'PyPI')),
      smallvec,
    ]);
    const versions = new SnapshotDirectorySource(fixture('registry/npm'));
    const components = [
      { type: 'library', name: 'cookie', version: '0.6.0', purl: 'pkg:npm/cookie@0.6.0', 'bom-ref': 'cookie' },
      { type: 'library', name: 'requests', version: '2.28.2', purl: 'pkg:pypi/requests@2.28.2', 'bom-ref': 'requests' },
      { type: 'library', name: 'smallvec', version: '0.6.9', purl: 'pkg:cargo/smallvec@0.6.9', 'bom-ref': 'smallvec' },
      { type: 'library', name: 'rack', version: '2.0.0', purl: 'pkg:gem/rack@2.0.0', 'bom-ref': 'rack' },
    ];
    const scan = parseCycloneDx({
      bomFormat: 'CycloneDX',
      specVersion: '1.5',
      metadata: { component: { type: 'application', name: 'app', version: '1.0.0', 'bom-ref': 'app' } },
      components,
      dependencies: [{ ref: 'app', dependsOn: components.map((c) => c['bom-ref']) }],
      vulnerabilities: [
        { id: 'GHSA-pxg6-pf52-xh8x', affects: [{ ref: 'cookie' }] },
        { id: 'PYSEC-2023-74', affects: [{ ref: 'requests' }] },
        { id: 'RUSTSEC-2019-0009', ratings: [{ severity: 'high' }], affects: [{ ref: 'smallvec' }] },
        { id: 'GHSA-TEST-rack', ratings: [{ severity: 'high' }], affects: [{ ref: 'rack' }] },
      ],
    });
    const registries = new Map([
      ['pypi', pypi],
      ['cargo', cargoIndex],
    ]);
    const plan = await computePlan(scan, { advisories: index, versions, registryLabel: 'npm-snapshot', registries });
    expect(plan.targets.map((t) => [t.ecosystem, t.name, t.status, t.tiers.minimal?.version ?? null, t.noFixReason ?? null])).toEqual([
      ['npm', 'cookie', 'planned', '0.7.0', null],
      ['gem', 'rack', 'not_supported', null, 'not supported yet: gem'],
      ['pypi', 'requests', 'planned', '2.31.0', null],
      // RUSTSEC-2019-0009: introduced 0.6.5, fixed 0.6.10; node-semver range, Cargo's caret line.
      ['cargo', 'smallvec', 'planned', '0.6.10', null],
    ]);
    // npm's target is what the npm-only plan gives.
    const npmOnly = await computePlan(
      parseCycloneDx({ ...JSON.parse(JSON.stringify(scanJson(components.slice(0, 1)))), vulnerabilities: [{ id: 'GHSA-pxg6-pf52-xh8x', affects: [{ ref: 'cookie' }] }] }),
      { advisories: npmAdvisories, versions, registryLabel: 'npm-snapshot' },
    );
    expect(plan.targets[0]).toEqual(npmOnly.targets[0]);
    expect(npmOnly.sources.registry).toBe('npm-snapshot');
    expect(plan.targets[2]).toMatchObject({ manifestPath: 'requirements.txt', advisories: [{ id: 'PYSEC-2023-74', affectedRanges: ['>=2.3.0,<2.31.0'] }] });
    expect(plan.targets[3]).toMatchObject({
      manifestPath: 'Cargo.toml',
      advisories: [{ id: 'RUSTSEC-2019-0009', severity: 'high', affectedRanges: ['>=0.6.5 <0.6.10'], fixedVersions: ['0.6.10'] }],
    });
    expect(plan.targets[3]!.advisories[0]!.kind).toBeUndefined();
    expect(plan.targets[3]!.tiers.moderate).toMatchObject({ version: '0.6.14' });
    expect(plan.targets[1]).toMatchObject({ advisories: [{ id: 'GHSA-TEST-rack', severity: 'high' }], manifestPath: '.' });
    expect(plan.noFixTargets).toEqual(['rack']);
    expect(plan.upgrade_tiers.minimal.advisoriesRemaining).toEqual(['GHSA-TEST-rack']);
    expect(plan.warnings).toContain('not planned: gem (1 component(s); only npm, pypi, cargo, golang and maven are planned)');
    expect(plan.sources.registry).toBe(`cargo=test/fixtures/registry/cargo, npm=npm-snapshot, pypi=${pypi.label}`);
  });
});

describe('computePlan: unsupported purl types in OSV mode (no scan vulnerabilities)', () => {
  it('makes a direct dependency whose exact version an advisory lists a not_supported target; ranges alone do not', async () => {
    const record = (id: string, version: string, listed: string[]) =>
      toAdvisory(
        OsvRecord.parse({
          id,
          modified: '2024-01-01T00:00:00Z',
          affected: [{ package: { ecosystem: 'RubyGems', name: 'rack' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: version }] }], versions: listed }],
        }),
        'RubyGems',
      )!;
    const index = new OsvAdvisoryIndex(['npm', 'PyPI', 'RubyGems'], [record('GHSA-TEST-0001', '2.0.1', ['2.0.0']), record('GHSA-TEST-0002', '9.0.0', [])]);
    const components = [
      { type: 'library', name: 'rack', version: '2.0.0', purl: 'pkg:gem/rack@2.0.0', 'bom-ref': 'rack' },
      { type: 'library', name: 'rails', version: '6.0.0', purl: 'pkg:gem/rails@6.0.0', 'bom-ref': 'rails' },
    ];
    const plan = await computePlan(parseCycloneDx(scanJson(components)), { advisories: index, registries: new Map([['pypi', pypi]]) });
    expect(plan.sources.advisories).toBe('osv');
    // GHSA-TEST-0002 affects 2.0.0 by its range only: without RubyGems' versioning, not evaluated.
    expect(plan.targets.map((t) => [t.name, t.status, t.advisories.map((a) => a.id), t.noFixReason])).toEqual([
      ['rack', 'not_supported', ['GHSA-TEST-0001'], 'not supported yet: gem'],
    ]);
    expect(plan.warnings).toEqual(['not planned: gem (2 component(s); only npm, pypi, cargo, golang and maven are planned)']);
  });
});

function scanJson(components: object[]): object {
  return {
    bomFormat: 'CycloneDX',
    specVersion: '1.5',
    metadata: { component: { type: 'application', name: 'app', version: '1.0.0', 'bom-ref': 'app' } },
    components,
    dependencies: [{ ref: 'app', dependsOn: components.map((c) => (c as { 'bom-ref': string })['bom-ref']) }],
  };
}
