import { describe, expect, it } from 'vitest';
import { thrownInvalidInput } from '@remediation/testing';
import { canonicalGoVersion, goRangeToSemver, goVersioning as v, isPseudoVersion, parseGoVersion } from './versioning.js';

const published = (...versions: string[]) => versions.map((version) => ({ version, yanked: false, deprecated: false }));

describe('goVersioning', () => {
  it('reads module versions as the Go modules reference writes them (https://go.dev/ref/mod#versions)', () => {
    for (const ok of ['v1.2.3', 'v0.0.0', 'v1.0.0-beta', 'v1.0.0-rc.1', 'v2.0.0+incompatible', 'v3.2.0+incompatible', '1.3.2', 'v0.0.0-20191109021931-daa7c04131f5']) expect(v.isValid(ok)).toBe(true);
    // Shorthands and other build metadata are not module versions; +incompatible needs major >= 2; leading zeros are not semver.
    for (const bad of ['v1', 'v1.2', 'v1.2.3+meta', 'v1.0.0+incompatible', 'v01.2.3', 'latest', 'master', '', 'v1.2.3-']) expect(v.isValid(bad)).toBe(false);
    expect(v.parse('v3.2.0+incompatible')).toEqual({ epoch: 0, release: [3, 2, 0], pre: null, post: null, dev: null, local: 'incompatible' });
    expect(v.parse('v1.0.0-rc.1')?.pre).toEqual(['rc.1', 0]);
    expect(v.parse('nope')).toBeNull();
    expect(canonicalGoVersion('1.3.2')).toBe('v1.3.2');
    expect(canonicalGoVersion('3.2.1+incompatible')).toBe('v3.2.1+incompatible');
    expect(thrownInvalidInput(() => v.compare('v1', 'v1.0.0')).code).toBe('VERSION_INVALID');
  });

  it('recognises the three pseudo-version forms (https://go.dev/ref/mod#pseudo-versions)', () => {
    expect(isPseudoVersion('v0.0.0-20191109021931-daa7c04131f5')).toBe(true); // vX.0.0-yyyymmddhhmmss-abcdefabcdef
    expect(isPseudoVersion('v1.2.4-0.20191109021931-daa7c04131f5')).toBe(true); // vX.Y.(Z+1)-0.yyyymmddhhmmss-…
    expect(isPseudoVersion('v1.2.3-pre.0.20191109021931-daa7c04131f5')).toBe(true); // vX.Y.Z-pre.0.yyyymmddhhmmss-…
    expect(isPseudoVersion('v0.0.3-0.20170626215501-b2862e3d0a77')).toBe(true); // viper's xordataexchange/crypt
    expect(isPseudoVersion('v1.2.3-pre')).toBe(false);
    expect(isPseudoVersion('v1.2.3')).toBe(false);
    expect(isPseudoVersion('v1.2.4-0.2019110902193-daa7c04131f5')).toBe(false); // 13 digits
  });

  it('orders by semver precedence: pseudo-versions as pre-releases, +incompatible ignored', () => {
    const sorted = [
      'v0.0.0-20190522155817-f3200d17e092',
      'v0.0.0-20220906165146-f3363e06e74c',
      'v0.4.0',
      'v1.2.3',
      'v1.2.4-0.20191109021931-daa7c04131f5',
      'v1.2.4-pre',
      'v1.2.4-pre.0.20191109021931-daa7c04131f5',
      'v1.2.4',
      'v3.2.0+incompatible',
    ];
    expect([...sorted].reverse().sort(v.compare)).toEqual(sorted);
    expect(v.compare('v3.2.0+incompatible', 'v3.2.0')).toBe(0);
    expect(v.compare('1.3.2', 'v1.3.2')).toBe(0);
  });

  it('a Go requirement admits every version at or above it (MVS minimum); affected ranges in both spellings', () => {
    expect(v.satisfies('v1.3.2', 'v1.2.1')).toBe(true);
    expect(v.satisfies('v1.2.1', 'v1.2.1')).toBe(true);
    expect(v.satisfies('v1.2.0', 'v1.2.1')).toBe(false);
    expect(v.satisfies('v2.0.0+incompatible', 'v1.2.1')).toBe(true);
    expect(v.satisfies('v0.0.0-20190522155817-f3200d17e092', '<0.0.0-20220906165146-f3363e06e74c')).toBe(true);
    expect(v.satisfies('v0.0.0-20220906165146-f3363e06e74c', '<0.0.0-20220906165146-f3363e06e74c')).toBe(false);
    // Pseudo-versions of v0.0.0 are below 0.4.0: matched although node-semver would skip pre-releases.
    expect(v.satisfies('v0.0.0-20190522155817-f3200d17e092', '<0.4.0')).toBe(true);
    expect(v.satisfies('v1.57.0', '>=1.57.0,<1.57.1')).toBe(true);
    expect(v.satisfies('v1.57.1', '>=v1.57.0 <v1.57.1')).toBe(false);
    expect(v.satisfies('v0.0.0-20190522155817-f3200d17e092', '>=0')).toBe(true);
    expect(v.satisfies('v1.2.3', '==1.2.3')).toBe(true);
    expect(thrownInvalidInput(() => v.satisfies('v1.2.3', 'not a range')).code).toBe('REQUIREMENT_INVALID');
    expect(goRangeToSemver('>=1.57.0,<1.57.1 || ==v1.2.3')).toBe('>=1.57.0 <1.57.1 || =1.2.3');
    expect(goRangeToSemver('')).toBeNull();
  });

  it('pre-releases and pseudo-versions are never stable or candidates; retracted dropped unless in use', () => {
    expect(v.isStable('v1.2.3')).toBe(true);
    expect(v.isStable('v3.2.0+incompatible')).toBe(true);
    expect(v.isStable('v1.0.0-rc.1')).toBe(false);
    expect(v.isStable('v0.0.0-20190522155817-f3200d17e092')).toBe(false);
    const list = [...published('v1.2.0', 'v1.3.0-rc.1', 'v0.0.0-20190522155817-f3200d17e092', 'v1.2.1', 'branch'), { version: 'v1.2.2', yanked: true, deprecated: false }];
    expect(v.candidates(list)).toEqual(['v1.2.0', 'v1.2.1']);
    expect(v.candidates(list, ['v0.0.0-20190522155817-f3200d17e092', '1.2.2'])).toEqual(['v0.0.0-20190522155817-f3200d17e092', 'v1.2.0', 'v1.2.1', 'v1.2.2']);
  });

  it('the line is the major version (module path); v0 promises nothing, so a v0 minor change is major', () => {
    expect(v.sameLine('v1.21.0', 'v1.82.1')).toBe(true);
    expect(v.sameLine('v0.9.3', 'v1.11.1')).toBe(false);
    expect(v.sameLine('v2.2.4', 'v3.0.0')).toBe(false);
    expect(v.jump('v1.21.0', 'v1.56.3')).toBe('minor');
    expect(v.jump('v1.4.0', 'v1.4.1')).toBe('patch');
    expect(v.jump('v0.9.3', 'v1.11.1')).toBe('major');
    expect(v.jump('v0.0.0-20190522155817-f3200d17e092', 'v0.4.0')).toBe('major');
    expect(v.jump('v0.0.0-20190522155817-f3200d17e092', 'v0.0.0-20220906165146-f3363e06e74c')).toBe('patch');
    expect(v.jump('v3.2.0+incompatible', 'v4.0.0')).toBe('major');
  });

  it('parseGoVersion strips v and +incompatible for the semver form', () => {
    expect(parseGoVersion('v3.2.0+incompatible')).toMatchObject({ semver: '3.2.0', major: 3, incompatible: true });
  });
});
