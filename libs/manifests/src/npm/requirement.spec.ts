import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ManifestEditError, ManifestParseError } from '../errors.js';
import { declaredRequirement, declaredRequirements, proveRemediated } from './requirement.js';
import { bumpNpmDependency } from './update.js';

/** A real project's package.json from __fixtures__/manifests (sources: __fixtures__/PROVENANCE.md). */
const manifest = (name: string): string => readFileSync(new URL(`./__fixtures__/manifests/${name}/package.json`, import.meta.url), 'utf8');

/**
 * Affected ranges of one package in a real OSV fixture, in npm syntax. Test-only reading of
 * OSV `ranges[].events` (introduced/fixed pairs, https://ossf.github.io/osv-schema/#affectedranges-field);
 * the production conversion belongs to the advisories library.
 */
function osvAffectedRanges(advisory: string, pkg: string): string[] {
  const osv = JSON.parse(readFileSync(new URL(`./__fixtures__/osv/npm/${advisory}.json`, import.meta.url), 'utf8')) as {
    affected: Array<{ package: { name: string }; ranges?: Array<{ events: Array<Record<string, string>> }> }>;
  };
  return osv.affected
    .filter((a) => a.package.name === pkg)
    .flatMap((a) => a.ranges ?? [])
    .map(({ events }) => {
      const introduced = events.find((e) => e['introduced'] !== undefined)?.['introduced'] ?? '0';
      const fixed = events.find((e) => e['fixed'] !== undefined)?.['fixed'];
      const floor = introduced === '0' ? '' : `>=${introduced}`;
      const ceiling = fixed === undefined ? '' : `<${fixed}`;
      return [floor, ceiling].filter(Boolean).join(' ') || '*';
    });
}

describe('proveRemediated', () => {
  it('^1.20.2 with affected <1.20.3 is NOT remediated: 1.20.2 is admissible', () => {
    expect(proveRemediated('^1.20.2', ['<1.20.3'])).toEqual({
      remediated: false,
      lowestAdmissible: '1.20.2',
      reason: '"^1.20.2" still admits 1.20.2, which is inside the affected range "<1.20.3"',
    });
  });

  it('^1.20.3 with affected <1.20.3 is remediated', () => {
    const proof = proveRemediated('^1.20.3', ['<1.20.3']);
    expect(proof).toMatchObject({ remediated: true, lowestAdmissible: '1.20.3' });
    expect(proof.reason).toContain('outside every affected range');
  });

  it('uses the real OSV ranges of GHSA-9wv6-86v2-598j (path-to-regexp, five ranges)', () => {
    const affected = osvAffectedRanges('GHSA-9wv6-86v2-598j', 'path-to-regexp');
    expect(affected).toContain('>=0.2.0 <1.9.0');
    expect(affected).toContain('<0.1.10');
    expect(proveRemediated('0.1.7', affected).remediated).toBe(false);
    expect(proveRemediated('0.1.10', affected).remediated).toBe(true);
    expect(proveRemediated('^0.1.10', affected).remediated).toBe(true);
    expect(proveRemediated('^1.8.0', affected)).toMatchObject({ remediated: false, lowestAdmissible: '1.8.0' });
    expect(proveRemediated('^1.9.0', affected).remediated).toBe(true);
    expect(proveRemediated('^6.2.0', affected).remediated).toBe(false);
    expect(proveRemediated('^6.3.0', affected).remediated).toBe(true);
  });

  it('nodegoat body-parser ^1.15.1 is not remediated for GHSA-qwcr-r2fm-qrc7 until bumped', () => {
    const affected = osvAffectedRanges('GHSA-qwcr-r2fm-qrc7', 'body-parser');
    expect(affected).toEqual(['<1.20.3']);
    const before = manifest('nodegoat');
    expect(proveRemediated(declaredRequirement(before, 'body-parser')?.range ?? '', affected)).toMatchObject({
      remediated: false,
      lowestAdmissible: '1.15.1',
    });
    const after = bumpNpmDependency(before, { name: 'body-parser', to: '1.20.3', advisoryRanges: affected }).text;
    expect(proveRemediated(declaredRequirement(after, 'body-parser')?.range ?? '', affected)).toMatchObject({
      remediated: true,
      lowestAdmissible: '1.20.3',
    });
  });

  it('a prerelease floor below the fix is inside the affected range', () => {
    expect(proveRemediated('>=1.20.3-beta.1', ['<1.20.3'])).toMatchObject({ remediated: false, lowestAdmissible: '1.20.3-beta.1' });
  });

  it('checks every affected range', () => {
    expect(proveRemediated('~2.0.0', ['<1.16.0', '>=2.0.0 <2.1.0'])).toMatchObject({ remediated: false, lowestAdmissible: '2.0.0' });
    expect(proveRemediated('^1.16.0', ['<1.16.0', '>=2.0.0 <2.1.0']).remediated).toBe(true);
  });

  it('exact, tilde, >= and X-ranges use their lowest admissible version', () => {
    expect(proveRemediated('1.20.3', ['<1.20.3']).lowestAdmissible).toBe('1.20.3');
    expect(proveRemediated('~1.20.3', ['<1.20.3']).remediated).toBe(true);
    expect(proveRemediated('>=1.20.3 <2', ['<1.20.3']).remediated).toBe(true);
    expect(proveRemediated('>1.20.2', ['<1.20.3'])).toMatchObject({ remediated: true, lowestAdmissible: '1.20.3' });
    expect(proveRemediated('1.x', ['<1.20.3'])).toMatchObject({ remediated: false, lowestAdmissible: '1.0.0' });
    expect(proveRemediated('*', ['<1.20.3'])).toMatchObject({ remediated: false, lowestAdmissible: '0.0.0' });
    expect(proveRemediated('', ['<1.20.3'])).toMatchObject({ remediated: false, lowestAdmissible: '0.0.0' });
    expect(proveRemediated('^1.0.0 || ^2.0.0', ['<1.20.3'])).toMatchObject({ remediated: false, lowestAdmissible: '1.0.0' });
  });

  it('non-range specifiers cannot be proven', () => {
    for (const spec of ['latest', 'git+https://github.com/a/b.git', 'file:../b', 'npm:b@^2.0.0']) {
      expect(proveRemediated(spec, ['<1.0.0'])).toMatchObject({ remediated: false, lowestAdmissible: null });
    }
  });

  it('a range that admits nothing is not remediated', () => {
    expect(proveRemediated('>=2.0.0 <1.0.0', ['<1.0.0'])).toMatchObject({
      remediated: false,
      lowestAdmissible: null,
      reason: '">=2.0.0 <1.0.0" admits no version at all',
    });
  });

  it('an invalid affected range cannot prove anything', () => {
    expect(proveRemediated('^2.0.0', ['not a range'])).toMatchObject({ remediated: false, lowestAdmissible: '2.0.0' });
  });

  it('no affected ranges is vacuously remediated', () => {
    expect(proveRemediated('^2.0.0', [])).toMatchObject({ remediated: true, lowestAdmissible: '2.0.0' });
  });
});

describe('declaredRequirement', () => {
  it('reads a dependency from a real manifest, exactly as written', () => {
    expect(declaredRequirement(manifest('express-4.19.2'), 'accepts')).toEqual({ section: 'dependencies', range: '~1.3.8' });
    expect(declaredRequirement(manifest('juice-shop-v20.1.1'), 'typescript')).toEqual({ section: 'devDependencies', range: '^6.0.3' });
    expect(declaredRequirement(manifest('nodegoat'), 'grunt-env')).toEqual({ section: 'devDependencies', range: 'latest' });
  });

  it('returns null when the name is not declared, or only a peer dependency', () => {
    expect(declaredRequirement(manifest('express-4.19.2'), 'left-pad')).toBeNull();
    expect(declaredRequirement('{"peerDependencies":{"react":"^18.0.0"}}', 'react')).toBeNull();
    expect(declaredRequirement('{}', 'react')).toBeNull();
  });

  it('prefers optionalDependencies over dependencies over devDependencies', () => {
    const text = JSON.stringify({
      devDependencies: { a: '1.0.0', b: '1.0.0', c: '1.0.0' },
      dependencies: { a: '2.0.0', b: '2.0.0' },
      optionalDependencies: { a: '3.0.0' },
    });
    expect(declaredRequirement(text, 'a')).toEqual({ section: 'optionalDependencies', range: '3.0.0' });
    expect(declaredRequirement(text, 'b')).toEqual({ section: 'dependencies', range: '2.0.0' });
    expect(declaredRequirement(text, 'c')).toEqual({ section: 'devDependencies', range: '1.0.0' });
    expect(declaredRequirements(text, 'a')).toEqual([
      { section: 'optionalDependencies', range: '3.0.0' },
      { section: 'dependencies', range: '2.0.0' },
      { section: 'devDependencies', range: '1.0.0' },
    ]);
  });

  it('throws ManifestParseError with the position for invalid JSON', () => {
    expect(() => declaredRequirement('{\n  "dependencies": {\n    "a": 1.0.0\n  }\n}', 'a')).toThrow(ManifestParseError);
    try {
      declaredRequirement('{\n  "dependencies": {\n    "a": 1.0.0\n  }\n}', 'a');
    } catch (err) {
      expect(err).toMatchObject({ code: 'MANIFEST_INVALID', line: 3, column: 13 });
    }
  });

  it('throws UNSUPPORTED_SPECIFIER for a non-string value', () => {
    expect(() => declaredRequirement('{"dependencies":{"a":true}}', 'a')).toThrow(ManifestEditError);
  });
});
