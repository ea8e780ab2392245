import { readFileSync } from 'node:fs';
import { thrownInvalidInput } from '@remediation/testing';
import { describe, expect, it } from 'vitest';
import { parseCycloneDx, parseCycloneDxText, purlParts, type ParsedScan } from './index.js';

/** A real scan from __fixtures__/scans (sources: __fixtures__/PROVENANCE.md). */
function loadScan(name: string): ParsedScan {
  return parseCycloneDxText(readFileSync(new URL(`./__fixtures__/scans/${name}`, import.meta.url), 'utf8'));
}

const invalid = thrownInvalidInput;

const minimal = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  bomFormat: 'CycloneDX',
  specVersion: '1.6',
  version: 1,
  ...extra,
});

/** A minimal BOM of library components given as [name, version, purl, bom-ref], parsed. */
const parseComponents = (components: ReadonlyArray<readonly [string, string, string, string]>): ParsedScan =>
  parseCycloneDx(minimal({ components: components.map(([name, version, purl, ref]) => ({ type: 'library', name, version, purl, 'bom-ref': ref })) }));

describe('parseCycloneDx: express 4.19.2 (cyclonedx-npm, 1.6)', () => {
  const scan = loadScan('express-4.19.2.cdx.json');

  it('reads the root, flattens nested components and keeps purls', () => {
    expect(scan.format).toEqual({ name: 'cyclonedx', version: '1.6', encoding: 'json' });
    expect(scan.root).toMatchObject({ name: 'express', version: '4.19.2', bomRef: 'express@4.19.2', ecosystem: 'npm' });
    // 69 top-level components plus ms@2.1.3 nested under send.
    expect(scan.components).toHaveLength(70);
    const nestedMs = scan.component('express@4.19.2|send@0.18.0|ms@2.1.3');
    expect(nestedMs).toMatchObject({
      name: 'ms',
      version: '2.1.3',
      purl: 'pkg:npm/ms@2.1.3',
      ecosystem: 'npm',
      parentRef: 'express@4.19.2|send@0.18.0',
    });
    expect(scan.vulnerabilities).toBeNull();
    expect(scan.warnings).toEqual([]);
  });

  it("takes direct dependencies from the root's dependsOn", () => {
    expect(scan.hasDependencyGraph).toBe(true);
    expect(scan.directRefs.size).toBe(31);
    expect(scan.directRefs.has('express@4.19.2|body-parser@1.20.2')).toBe(true);
    expect(scan.directRefs.has('express@4.19.2|ms@2.0.0')).toBe(false);
  });

  it('via() names the direct dependencies a transitive component comes through', () => {
    // ms@2.1.3 is nested under send; serve-static depends on send.
    expect(scan.via('express@4.19.2|send@0.18.0|ms@2.1.3')).toEqual([
      'express@4.19.2|send@0.18.0',
      'express@4.19.2|serve-static@1.15.0',
    ]);
    // ms@2.0.0 comes through debug, which body-parser, finalhandler, send and serve-static use too.
    expect(scan.via('express@4.19.2|ms@2.0.0')).toEqual([
      'express@4.19.2|body-parser@1.20.2',
      'express@4.19.2|debug@2.6.9',
      'express@4.19.2|finalhandler@1.2.0',
      'express@4.19.2|send@0.18.0',
      'express@4.19.2|serve-static@1.15.0',
    ]);
    expect(scan.via('express@4.19.2|cookie@0.6.0')).toEqual(['express@4.19.2|cookie@0.6.0']);
    expect(scan.via('no-such-ref')).toEqual([]);
  });
});

describe('parseCycloneDx: the dependency graph and nested components', () => {
  const bom = {
    bomFormat: 'CycloneDX',
    specVersion: '1.6',
    metadata: { component: { type: 'application', 'bom-ref': 'app', name: 'app' } },
    components: [
      { type: 'library', 'bom-ref': 'a', name: 'a', version: '1.0.0', purl: 'pkg:npm/a@1.0.0', components: [
        { type: 'library', name: 'a-inner', version: '1.0.0' },
        { type: 'library', 'bom-ref': 'a', name: 'a-dup', version: '2.0.0', purl: 'pkg:npm/a-dup@2.0.0' },
      ] },
      { type: 'library', 'bom-ref': 'b', name: 'b', version: '1.0.0', purl: 'pkg:npm/b@1.0.0' },
      { type: 'library', 'bom-ref': 'c', name: 'c', version: '1.0.0', purl: 'pkg:npm/c@1.0.0' },
    ],
    dependencies: [
      { ref: 'app', dependsOn: ['b', 'a', 'b'] },
      { ref: 'b', dependsOn: ['c', 'missing'] },
      { ref: 'a', dependsOn: ['c'] },
      { ref: 'b', dependsOn: ['c', 'pkg:npm/a-dup@2.0.0'] },
      { ref: 'nobody', dependsOn: ['a'] },
    ],
  };
  const scan = parseCycloneDx(bom);

  it('flattens nested components in document order and names a ref-less one by its location', () => {
    expect(scan.components.map((c) => c.bomRef)).toEqual(['a', '#components[0].components[0]', 'pkg:npm/a-dup@2.0.0', 'b', 'c']);
    expect(scan.component('#components[0].components[0]')).toMatchObject({ name: 'a-inner', parentRef: 'a' });
  });

  it('merges a ref listed twice, keeps each target once in first-listed order, and drops unknown refs', () => {
    expect([...scan.dependencies]).toEqual([
      ['app', ['b', 'a']],
      ['b', ['c', 'pkg:npm/a-dup@2.0.0']],
      ['a', ['c']],
    ]);
    expect(scan.warnings).toContain('2 dependency reference(s) name bom-refs that are not in the scan; ignored');
  });

  it("reads the root's nested components before `components`, so a bom-ref they share stays the root child's", () => {
    const withRootChildren = parseCycloneDx({
      ...bom,
      metadata: { component: { ...bom.metadata.component, components: [{ type: 'library', 'bom-ref': 'b', name: 'b-of-root', version: '3.0.0' }] } },
    });
    expect(withRootChildren.components.map((c) => c.bomRef)).toEqual(['b', 'a', '#components[0].components[0]', 'pkg:npm/a-dup@2.0.0', 'pkg:npm/b@1.0.0', 'c']);
    expect(withRootChildren.component('b')).toMatchObject({ name: 'b-of-root', parentRef: 'app' });
  });

  it('a ref listed again adds only targets it did not have, however often they repeat', () => {
    const many = Array.from({ length: 3000 }, (_, i) => ({ type: 'library', 'bom-ref': `t${i}`, name: `t${i}`, version: '1.0.0' }));
    const refs = many.map((c) => c['bom-ref']);
    const repeated = parseCycloneDx({
      bomFormat: 'CycloneDX',
      specVersion: '1.6',
      components: many,
      dependencies: [
        { ref: 't0', dependsOn: refs.slice(1, 2000) },
        { ref: 't0', dependsOn: [...refs.slice(1, 3000), ...refs.slice(1, 3000), ...Array.from({ length: 20000 }, () => 't2999')] },
      ],
    });
    expect(repeated.dependencies.get('t0')).toEqual(refs.slice(1, 3000));
    // Each target's dependents name t0 once, whichever entry listed it first.
    expect(repeated.dependents('t5')).toEqual(['t0']);
    expect(repeated.dependents('t2999')).toEqual(['t0']);
  });

  it('dependents() is the graph reversed, sorted', () => {
    expect(scan.dependents('c')).toEqual(['a', 'b']);
    expect(scan.dependents('a')).toEqual(['app']);
    expect(scan.dependents('pkg:npm/a-dup@2.0.0')).toEqual(['b']);
    expect(scan.dependents('app')).toEqual([]);
    expect(scan.dependents('no-such-ref')).toEqual([]);
    expect(scan.via('c')).toEqual(['a', 'b']);
  });
});

describe('parseCycloneDx: Trivy npm scan with vulnerabilities (1.7)', () => {
  const scan = loadScan('trivy-npm-jquery.cdx.json');

  it('looks through the lockfile container to find direct dependencies', () => {
    expect([...scan.directRefs].sort()).toEqual([
      'pkg:npm/jquery@3.3.9',
      'pkg:npm/promise@8.0.3',
      'pkg:npm/react@16.8.6',
      'pkg:npm/redux@4.0.1',
    ]);
    expect(scan.via('pkg:npm/asap@2.0.6')).toEqual(['pkg:npm/promise@8.0.3']);
  });

  it('reads vulnerabilities: id, severity from ratings, recommendation, affects', () => {
    expect(scan.vulnerabilities).toHaveLength(1);
    const v = scan.vulnerabilities![0]!;
    expect(v.id).toBe('CVE-2019-11358');
    // Ratings are "medium" except Ubuntu's "low": the highest wins, normalised to moderate.
    expect(v.severity).toBe('moderate');
    expect(v.recommendation).toBe('Upgrade jquery to version 3.4.0');
    expect(v.advisoryUrls).toContain('https://github.com/advisories/GHSA-6c3j-c64m-qhgq');
    expect(v.affects).toEqual([{ ref: 'pkg:npm/jquery@3.3.9', fixedVersions: [], versions: [{ version: '3.3.9', status: 'affected' }] }]);
  });
});

describe('parseCycloneDx: shapes', () => {
  it('joins an npm group as @group/name and reads aliases from references', () => {
    const scan = parseCycloneDx(
      minimal({
        metadata: { component: { type: 'application', name: 'app', version: '1.0.0', 'bom-ref': 'app' } },
        components: [
          { type: 'library', group: '@types', name: 'node', version: '20.0.0', purl: 'pkg:npm/%40types/node@20.0.0', 'bom-ref': 'a' },
          { type: 'library', group: 'babel', name: 'core', version: '7.0.0', purl: 'pkg:npm/%40babel/core@7.0.0', 'bom-ref': 'b' },
          { type: 'library', group: 'org.example', name: 'lib', version: '1', purl: 'pkg:maven/org.example/lib@1', 'bom-ref': 'c' },
        ],
        dependencies: [{ ref: 'app', dependsOn: ['a', 'b', 'c'] }],
        vulnerabilities: [
          {
            id: 'GHSA-xxxx-yyyy-zzzz',
            references: [{ id: 'CVE-2024-1' }, { id: 'GHSA-xxxx-yyyy-zzzz' }],
            ratings: [{ score: 9.8 }],
            affects: [{ ref: 'a', versions: [{ range: 'vers:npm/<20.1.0' }] }],
          },
        ],
      }),
    );
    expect(scan.components.map((c) => [c.name, c.ecosystem])).toEqual([
      ['@types/node', 'npm'],
      ['@babel/core', 'npm'],
      ['lib', 'maven'],
    ]);
    const v = scan.vulnerabilities![0]!;
    expect(v.aliases).toEqual(['CVE-2024-1']);
    expect(v.severity).toBe('critical');
    expect(v.affects[0]!.versions).toEqual([{ range: 'vers:npm/<20.1.0', status: 'affected' }]);
  });

  it('treats every component as direct, with a warning, when there is no dependency graph', () => {
    const scan = parseCycloneDx(
      minimal({
        components: [
          { type: 'library', name: 'a', version: '1.0.0', purl: 'pkg:npm/a@1.0.0' },
          { type: 'library', name: 'b', version: '1.0.0', purl: 'pkg:npm/b@1.0.0' },
        ],
      }),
    );
    // Components without bom-ref get their purl as a synthetic ref.
    expect([...scan.directRefs]).toEqual(['pkg:npm/a@1.0.0', 'pkg:npm/b@1.0.0']);
    expect(scan.warnings).toEqual(['scan has no dependency graph: every component is treated as a direct dependency']);
  });

  it('names a renamed npm component by its purl, keeps the declared name, and says why a purl cannot be read', () => {
    const scan = parseComponents([
      ['my-fork', '1.0.0', 'pkg:npm/%40scope/real@1.0.0', 'f'],
      ['x', '1', 'not-a-purl', 'x'],
    ]);
    expect(scan.component('f')).toMatchObject({ name: '@scope/real', declaredName: 'my-fork', purlProblem: undefined });
    expect(scan.component('x')).toMatchObject({ name: 'x', ecosystem: null, purl: undefined });
    expect(scan.component('x')!.purlProblem).toMatch(/^purl "not-a-purl" could not be parsed: /);
    expect(scan.warnings).toContain('1 npm component(s) named differently from their purl, matched by the purl: f ("my-fork" is @scope/real)');
  });

  it('gives a component a synthetic bom-ref no other component has, even one the scan wrote as a location', () => {
    const scan = parseCycloneDx(
      minimal({
        components: [
          { type: 'library', name: 'a', version: '1.0.0', purl: 'pkg:npm/a@1.0.0', 'bom-ref': '#components[1]' },
          { type: 'library', name: 'b', version: '2.0.0' },
          { type: 'library', name: 'c', version: '3.0.0', 'bom-ref': '#components[1]#2' },
        ],
      }),
    );
    expect(scan.components.map((c) => c.bomRef)).toEqual(['#components[1]', '#components[1]#2', '#components[2]']);
    expect(scan.component('#components[1]')?.name).toBe('a');
    expect(scan.component('#components[1]#2')?.name).toBe('b');
    expect(scan.component('#components[2]')?.name).toBe('c');
    expect(scan.warnings).toContain('1 duplicate bom-ref(s); later duplicates were given synthetic refs');
  });

  it("keeps each purl's decoded namespace and name, read once, for later steps (purlParts)", () => {
    const scan = parseComponents([
      ['commons-lang3', '3.12.0', 'pkg:maven/org.apache.commons/commons-lang3@3.12.0', 'm'],
      ['viper', 'v1.18.2', 'pkg:golang/github.com/spf13/viper@v1.18.2', 'g'],
      ['real', '1.0.0', 'pkg:npm/%40scope/real@1.0.0', 's'],
      ['PyYAML', '6.0', 'pkg:PyPI/PyYAML@6.0', 'p'],
      ['x', '1', 'not-a-purl', 'x'],
    ]);
    expect(scan.component('m')).toMatchObject({ ecosystem: 'maven', purlNamespace: 'org.apache.commons', purlName: 'commons-lang3' });
    expect(scan.component('g')).toMatchObject({ ecosystem: 'golang', purlNamespace: 'github.com/spf13', purlName: 'viper' });
    expect(scan.component('s')).toMatchObject({ ecosystem: 'npm', purlNamespace: '@scope', purlName: 'real', name: '@scope/real' });
    // packageurl-js applies the purl type's rules: a pypi name is lower-cased.
    expect(scan.component('p')).toMatchObject({ ecosystem: 'pypi', purlNamespace: undefined, purlName: 'pyyaml' });
    expect(scan.component('x')).toMatchObject({ ecosystem: null, purlNamespace: undefined, purlName: undefined });
    expect(purlParts(scan.component('m')!)).toEqual({ type: 'maven', namespace: 'org.apache.commons', name: 'commons-lang3' });
    expect(purlParts(scan.component('x')!)).toBeUndefined();
    // A component built without the parts (not by a parser): its purl is parsed on demand.
    const { purlNamespace: _n, purlName: _p, ...built } = scan.component('g')!;
    expect(purlParts(built)).toEqual({ type: 'golang', namespace: 'github.com/spf13', name: 'viper' });
    expect(purlParts({ ...built, purl: undefined })).toBeUndefined();
    // The parts read at parse time are used as they are: the purl is not parsed again.
    expect(purlParts({ ...scan.component('m')!, purl: 'not-a-purl' })).toEqual({ type: 'maven', namespace: 'org.apache.commons', name: 'commons-lang3' });
  });

  it('warns about unparsable purls and keeps going', () => {
    const scan = parseCycloneDx(minimal({ components: [{ type: 'library', name: 'x', version: '1', purl: 'not-a-purl' }] }));
    expect(scan.components[0]!.ecosystem).toBeNull();
    expect(scan.warnings[0]).toMatch(/purl\(s\) could not be parsed/);
  });
});

describe('parseCycloneDx: malformed scans', () => {
  it('rejects a wrong bomFormat', () => {
    const err = invalid(() => parseCycloneDx({ bomFormat: 'SPDX', specVersion: '1.6' }));
    expect(err.code).toBe('SCAN_INVALID');
    expect(err.message).toBe('bomFormat: expected "CycloneDX", got "SPDX"');
  });

  it('rejects specVersion 1.2 as unsupported', () => {
    const err = invalid(() => parseCycloneDx(minimal({ specVersion: '1.2' })));
    expect(err.code).toBe('SCAN_UNSUPPORTED_VERSION');
    expect(err.message).toMatch(/specVersion "1\.2" is not supported \(supported: 1\.4, 1\.5, 1\.6, 1\.7\)/);
  });

  it('rejects a missing specVersion as invalid', () => {
    const err = invalid(() => parseCycloneDx({ bomFormat: 'CycloneDX' }));
    expect(err.code).toBe('SCAN_INVALID');
    expect(err.message).toMatch(/^specVersion: /);
  });

  it('names the path when components is not an array', () => {
    const err = invalid(() => parseCycloneDx(minimal({ components: { name: 'a' } })));
    expect(err.code).toBe('SCAN_INVALID');
    expect(err.message).toMatch(/^invalid CycloneDX scan: components: /);
    expect(err.details?.['issues']).toEqual([expect.objectContaining({ path: 'components' })]);
  });

  it('names the nested path of a bad field', () => {
    const err = invalid(() =>
      parseCycloneDx(minimal({ components: [{ type: 'library', name: 'a', components: [{ type: 'library', name: 7 }] }] })),
    );
    expect(err.message).toMatch(/components\[0\]\.components\[0\]\.name: /);
  });

  it('rejects deeply nested junk without overflowing the stack', () => {
    let junk: unknown = 'bottom';
    for (let i = 0; i < 100_000; i++) junk = { a: [junk] };
    const err = invalid(() => parseCycloneDx(minimal({ metadata: { junk } })));
    expect(err.code).toBe('SCAN_INVALID');
    expect(err.details).toMatchObject({ reason: 'too_deep', limit: 100 });
    expect(err.message).toMatch(/^scan is nested deeper than 100 levels \(at …a\[0\](\.a\[0\])+\)$/);
  });

  it('rejects deeply nested components', () => {
    let component: Record<string, unknown> = { type: 'library', name: 'leaf' };
    for (let i = 0; i < 80; i++) component = { type: 'library', name: `n${i}`, components: [component] };
    const err = invalid(() => parseCycloneDx(minimal({ components: [component] })));
    expect(err.details).toMatchObject({ reason: 'too_deep' });
  });

  it('rejects too many components', () => {
    const components = Array.from({ length: 11 }, (_, i) => ({ type: 'library', name: `c${i}` }));
    const err = invalid(() => parseCycloneDx(minimal({ components }), { maxComponents: 10 }));
    expect(err.code).toBe('SCAN_INVALID');
    expect(err.details).toMatchObject({ reason: 'too_many_components', limit: 10 });
  });

  it('rejects non-objects and non-JSON text', () => {
    expect(invalid(() => parseCycloneDx([])).message).toMatch(/must be a JSON object/);
    expect(invalid(() => parseCycloneDx(null)).code).toBe('SCAN_INVALID');
    const err = invalid(() => parseCycloneDxText('{"bomFormat": '));
    expect(err.code).toBe('SCAN_INVALID');
    expect(err.details).toMatchObject({ reason: 'not_json' });
  });
});
