import { loadOsvDirectory, type AdvisorySource } from '@remediation/advisories';
import { TransitiveFinding } from '@remediation/contracts';
import { npmVersioning, type PackageReleases, type RegistrySource } from '@remediation/ecosystems';
import { SnapshotDirectorySource } from '@remediation/registry';
import { parseCycloneDx, type ParsedScan } from '@remediation/sbom';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { computePlan } from './plan.js';
import { transitiveOptions } from './transitive.js';

/** A file or folder of `__fixtures__/` beside this spec (sources: __fixtures__/PROVENANCE.md). */
const fixture = (path: string): string => fileURLToPath(new URL(`./__fixtures__/${path}`, import.meta.url));

let advisories: AdvisorySource;

beforeAll(async () => {
  advisories = await loadOsvDirectory(fixture('osv/npm'), { ecosystem: 'npm' });
});

/**
 * A CycloneDX 1.6 scan of `app@1.0.0`: components `name@version`, the root depending on
 * `direct`, and `edges` (bom-ref → bom-refs), as cyclonedx-npm writes a lockfile's tree.
 */
function scanOf(components: string[], direct: string[], edges: Record<string, string[]>): ParsedScan {
  return parseCycloneDx({
    bomFormat: 'CycloneDX',
    specVersion: '1.6',
    version: 1,
    metadata: { component: { type: 'application', name: 'app', version: '1.0.0', 'bom-ref': 'app' } },
    components: components.map((ref) => {
      const at = ref.lastIndexOf('@');
      return { type: 'library', name: ref.slice(0, at), version: ref.slice(at + 1), purl: `pkg:npm/${ref}`, 'bom-ref': ref };
    }),
    dependencies: [{ ref: 'app', dependsOn: direct }, ...Object.entries(edges).map(([ref, dependsOn]) => ({ ref, dependsOn }))],
  });
}

async function transitiveOf(scan: ParsedScan): Promise<Map<string, TransitiveFinding>> {
  const plan = await computePlan(scan, { advisories, versions: new SnapshotDirectorySource(fixture('registry/npm')) });
  return new Map(plan.transitive.map((t) => [t.name, t]));
}

const brief = (o: { kind: string; name: string; from: string; to: string; jump: string } | null | undefined): string | null =>
  o ? `${o.kind} ${o.name} ${o.from}→${o.to} (${o.jump})` : null;

describe('transitive fix options (issue 15 part 3): npm, from the scan graph and registry metadata', () => {
  it('an app on express 4.19.2 (the real cyclonedx-npm scan of its tree, re-rooted under the app): express 4.20.0 fixes body-parser, send and path-to-regexp; cookie needs 4.21.1', async () => {
    // The scan's root becomes a component the app depends on; its graph (express → body-parser, serve-static → send, …) is kept as cyclonedx-npm wrote it.
    const doc = JSON.parse(readFileSync(fixture('scans/express-4.19.2.cdx.json'), 'utf8')) as {
      metadata: { component: Record<string, unknown> };
      components: Record<string, unknown>[];
      dependencies: { ref: string; dependsOn?: string[] }[];
    };
    const express = { ...doc.metadata.component, purl: 'pkg:npm/express@4.19.2' };
    doc.components.push(express);
    doc.metadata.component = { type: 'application', name: 'app', version: '1.0.0', 'bom-ref': 'app' };
    doc.dependencies.push({ ref: 'app', dependsOn: ['express@4.19.2'] });
    const found = await transitiveOf(parseCycloneDx(doc));

    expect(found.get('body-parser')!.version).toBe('1.20.2');
    expect(brief(found.get('body-parser')!.minimal)).toBe('parent_bump express 4.19.2→4.20.0 (minor)');
    expect(found.get('body-parser')!.options!.map(brief)).toEqual(['parent_bump express 4.19.2→4.20.0 (minor)', 'override body-parser 1.20.2→1.20.3 (patch)']);
    expect(brief(found.get('path-to-regexp')!.minimal)).toBe('parent_bump express 4.19.2→4.20.0 (minor)');
    // express 4.20.0 and 4.21.0 still require cookie 0.6.0 (GHSA-pxg6-pf52-xh8x, fixed in 0.7.0); 4.21.1 requires 0.7.1.
    expect(brief(found.get('cookie')!.minimal)).toBe('parent_bump express 4.19.2→4.21.1 (minor)');
    expect(found.get('cookie')!.options![0]!.notes).toEqual(['express@4.21.1 requires cookie 0.7.1, which admits only fixed versions']);
    // send 0.18.0 has two parents, express 4.19.2 and serve-static 1.15.0; the snapshot's serve-static has no dependencies, so no lockfile update is claimed.
    const send = found.get('send')!;
    expect(send.options!.map(brief)).toEqual(['parent_bump express 4.19.2→4.20.0 (minor)', 'override send 0.18.0→0.19.0 (major)']);
    expect(send.reasons).toContain('the registry document of serve-static@1.15.0 has no dependencies: its requirement on send is unknown');
  });

  it('express 4.17.1 → body-parser 1.19.0: express pins body-parser, so the fix is express 4.20.0 (body-parser 1.20.3) or an override to 1.20.3', async () => {
    const found = await transitiveOf(scanOf(['express@4.17.1', 'body-parser@1.19.0'], ['express@4.17.1'], { 'express@4.17.1': ['body-parser@1.19.0'] }));
    const bodyParser = found.get('body-parser')!;
    expect(bodyParser.advisories).toEqual(['GHSA-qwcr-r2fm-qrc7']);
    // 4.18.0–4.19.2 require body-parser 1.20.0–1.20.2, all below the fix 1.20.3; 4.20.0 requires 1.20.3 exactly.
    expect(bodyParser.options!.map(brief)).toEqual(['parent_bump express 4.17.1→4.20.0 (minor)', 'override body-parser 1.19.0→1.20.3 (minor)']);
    expect(bodyParser.options![0]!.path).toEqual(['express', 'body-parser']);
    expect(bodyParser.options![0]!.notes).toEqual(['express@4.20.0 requires body-parser 1.20.3, which admits only fixed versions']);
    expect(bodyParser.options![1]!.notes).toEqual([
      'package.json "overrides": { "body-parser": "1.20.3" }',
      "outside express@4.17.1's requirement 1.19.0: the override forces it",
    ]);
    expect(brief(bodyParser.minimal)).toBe('parent_bump express 4.17.1→4.20.0 (minor)');
    // Tiers of the same change (decision 0017): the newest express 4.x that still fixes, and the newest express (5.x, major).
    expect(brief(bodyParser.moderate)).toBe('parent_bump express 4.17.1→4.22.3 (minor)');
    expect(bodyParser.moderate!.notes).toEqual(['express@4.22.3 requires body-parser ~1.20.5, which admits only fixed versions']);
    expect(brief(bodyParser.comprehensive)).toBe('parent_bump express 4.17.1→5.3.0 (major)');
    expect(bodyParser.comprehensive!.breakingChangeRisk).toBe('high');
    expect(bodyParser.options!.at(-1)!.mechanism).toBe('overrides');
    expect(bodyParser.reasons).toEqual(['no lockfile update alone: express@4.17.1 requires body-parser 1.19.0, which admit(s) no fixed version']);
  });

  it('express-jwt 7.7.7 → jsonwebtoken 8.5.1 → semver 5.7.1: a lockfile update of semver alone, a patch bump of express-jwt, or overrides', async () => {
    const found = await transitiveOf(
      scanOf(['express-jwt@7.7.7', 'jsonwebtoken@8.5.1', 'semver@5.7.1'], ['express-jwt@7.7.7'], {
        'express-jwt@7.7.7': ['jsonwebtoken@8.5.1'],
        'jsonwebtoken@8.5.1': ['semver@5.7.1'],
      }),
    );
    // semver: jsonwebtoken 8.5.1 requires ^5.6.0, which admits the fix 5.7.2 (GHSA-c2qf-rxjj-qqgw): no manifest change needed.
    // express-jwt 7.7.8 requires jsonwebtoken ^9.0.2, whose versions all require semver ^7.5.4 (fixed): the bump clears it too.
    const semver = found.get('semver')!;
    expect(semver.via).toEqual(['express-jwt']);
    expect(semver.options!.map(brief)).toEqual([
      'lockfile_update semver 5.7.1→5.7.2 (patch)',
      'parent_bump express-jwt 7.7.7→7.7.8 (patch)',
      'override semver 5.7.1→5.7.2 (patch)',
    ]);
    expect(semver.options![0]!.notes).toEqual(['every parent admits 5.7.2: jsonwebtoken@8.5.1 requires semver ^5.6.0']);
    expect(semver.options![1]!.path).toEqual(['express-jwt', 'jsonwebtoken', 'semver']);
    expect(semver.options![1]!.notes).toEqual(['express-jwt@7.7.8 requires jsonwebtoken ^9.0.2, which leads only to fixed versions']);
    expect(brief(semver.minimal)).toBe('lockfile_update semver 5.7.1→5.7.2 (patch)');
    // Moderate: the newest 5.x jsonwebtoken's ^5.6.0 admits; comprehensive: none, the newest semver (7.x) is outside ^5.6.0.
    expect(brief(semver.moderate)).toBe('lockfile_update semver 5.7.1→5.7.3 (patch)');
    expect(semver.comprehensive).toBeNull();
    expect(semver.reasons).toBeUndefined();

    // jsonwebtoken 8.5.1: express-jwt 7.7.7's ^8.5.1 admits no 9.x (the fix): express-jwt 7.7.8 is a patch, the override a major.
    const jwt = found.get('jsonwebtoken')!;
    expect(jwt.options!.map(brief)).toEqual(['parent_bump express-jwt 7.7.7→7.7.8 (patch)', 'override jsonwebtoken 8.5.1→9.0.0 (major)']);
    expect(brief(jwt.minimal)).toBe('parent_bump express-jwt 7.7.7→7.7.8 (patch)');
    // 7.7.8 is the newest 7.x: moderate is the minimal bump; comprehensive the newest express-jwt, 8.5.1 (^9.0.0).
    expect(jwt.moderate).toEqual(jwt.minimal);
    expect(brief(jwt.comprehensive)).toBe('parent_bump express-jwt 7.7.7→8.5.1 (major)');
    expect(jwt.comprehensive!.notes).toEqual(['express-jwt@8.5.1 requires jsonwebtoken ^9.0.0, which admits only fixed versions']);
  });

  it('names what it cannot check: a parent the registry snapshot does not hold, and other ecosystems', async () => {
    const npm = await transitiveOf(scanOf(['left-pad@1.0.0', 'semver@5.7.1'], ['left-pad@1.0.0'], { 'left-pad@1.0.0': ['semver@5.7.1'] }));
    const semver = npm.get('semver')!;
    expect(semver.options!.map(brief)).toEqual(['override semver 5.7.1→5.7.2 (patch)']);
    expect(semver.reasons).toEqual(['versions of left-pad could not be listed (PACKAGE_NOT_FOUND)']);

    const cargo = parseCycloneDx({
      bomFormat: 'CycloneDX',
      specVersion: '1.6',
      version: 1,
      metadata: { component: { type: 'application', name: 'app', version: '1.0.0', 'bom-ref': 'app' } },
      components: [
        { type: 'library', name: 'a', version: '1.0.0', purl: 'pkg:cargo/a@1.0.0', 'bom-ref': 'a' },
        { type: 'library', name: 'smallvec', version: '0.6.9', purl: 'pkg:cargo/smallvec@0.6.9', 'bom-ref': 'smallvec' },
      ],
      dependencies: [{ ref: 'app', dependsOn: ['a'] }, { ref: 'a', dependsOn: ['smallvec'] }],
      vulnerabilities: [{ id: 'RUSTSEC-2019-0009', affects: [{ ref: 'smallvec', versions: [{ range: 'vers:cargo/>=0.6.5|<0.6.10', status: 'affected' }] }] }],
    });
    const plan = await computePlan(cargo, { advisories, versions: new SnapshotDirectorySource(fixture('registry/npm')) });
    expect(plan.transitive.map((t) => [t.name, t.options, t.minimal, t.reasons])).toEqual([['smallvec', [], null, ['no cargo registry configured']]]);
  });
});

describe('transitive fix options: package names that are members of Object.prototype', () => {
  it('a vulnerable `constructor` (a real npm name) whose parent does not list it has no requirement there, not Object.prototype.constructor', async () => {
    const scan = scanOf(['p@1.0.0', 'constructor@1.0.0'], ['p@1.0.0'], { 'p@1.0.0': ['constructor@1.0.0'] });
    const published = (version: string, dependencies?: Record<string, string>) => ({ version, yanked: false, deprecated: false, ...(dependencies ? { dependencies } : {}) });
    const releases: Record<string, PackageReleases> = {
      p: { name: 'p', versions: [published('1.0.0', {}), published('1.1.0', { other: '^1.0.0' })], source: 'memory' },
      constructor: { name: 'constructor', versions: [published('1.0.0'), published('1.0.1')], source: 'memory' },
    };
    const registry: RegistrySource = { label: 'memory', releases: async (name) => releases[name]! };
    const found = await transitiveOptions({ bomRef: 'constructor@1.0.0', name: 'constructor', version: '1.0.0', isFixed: (v) => v !== '1.0.0' }, scan, registry, npmVersioning);
    expect(found.reasons).toContain('p@1.0.0 does not list constructor in its dependencies (optional or peer): no lockfile update checked');
    expect(found.options.map(brief)).toEqual(['parent_bump p 1.0.0→1.1.0 (minor)', 'override constructor 1.0.0→1.0.1 (patch)']);
  });
});
