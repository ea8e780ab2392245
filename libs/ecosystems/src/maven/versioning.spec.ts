import { describe, expect, it } from 'vitest';
import { thrownInvalidInput } from '@remediation/testing';
import { compareMavenVersions, mavenVersioning, parseMavenRequirement } from './versioning.js';

// Maven's own test suite, ComparableVersionTest of maven-3.9.x:
// https://github.com/apache/maven/blob/maven-3.9.x/maven-artifact/src/test/java/org/apache/maven/artifact/versioning/ComparableVersionTest.java
const VERSIONS_QUALIFIER = [
  '1-alpha2snapshot', '1-alpha2', '1-alpha-123', '1-beta-2', '1-beta123', '1-m2', '1-m11', '1-rc', '1-cr2',
  '1-rc123', '1-SNAPSHOT', '1', '1-sp', '1-sp2', '1-sp123', '1-abc', '1-def', '1-pom-1', '1-1-snapshot',
  '1-1', '1-2', '1-123',
];

// In 3.9.x (MNG-5568: a qualifier after a dot is read as after a hyphen) `2.0.a` sorts before `2-1`
// and equals `2.0.0.a` (listed in EQUAL below), which earlier branches listed after `2-1`.
const VERSIONS_NUMBER = [
  '2.0', '2.0.a', '2-1', '2.0.2', '2.0.123', '2.1.0', '2.1-a', '2.1b', '2.1-c', '2.1-1', '2.1.0.1',
  '2.2', '2.123', '11.a2', '11.a11', '11.b2', '11.b11', '11.m2', '11.m11', '11', '11.a', '11b', '11c', '11m',
];

// testVersionsEqual, testLocaleIndependent, testVersionEqualWithLeadingZeroes, and the release
// aliases of 3.9 (`release` joined `ga` and `final` in MNG-7559).
const EQUAL: Array<[string, string]> = [
  ['1', '1'], ['2.0.a', '2.0.0.a'], ['1', '1.0'], ['1', '1.0.0'], ['1.0', '1.0.0'], ['1', '1-0'], ['1', '1.0-0'], ['1.0', '1.0-0'],
  ['1a', '1.a'], ['1a', '1-a'], ['1a', '1.0-a'], ['1a', '1.0.0-a'], ['1.0a', '1.0.a'], ['1.0.0a', '1.0.0.a'],
  ['1x', '1.x'], ['1x', '1-x'], ['1x', '1.0-x'], ['1x', '1.0.0-x'], ['1.0x', '1.0.x'], ['1.0.0x', '1.0.0.x'],
  ['1ga', '1'], ['1release', '1'], ['1final', '1'], ['1cr', '1rc'],
  ['1a1', '1alpha1'], ['1b2', '1beta2'], ['1m3', '1milestone3'],
  ['1X', '1x'], ['1A', '1a'], ['1B', '1b'], ['1M', '1m'], ['1Ga', '1'], ['1GA', '1'], ['1RELEASE', '1'], ['1Final', '1'],
  ['1FinaL', '1'], ['1FINAL', '1'], ['1Cr', '1Rc'], ['1cR', '1rC'], ['1m3', '1Milestone3'], ['1m3', '1MileStone3'], ['1m3', '1MILESTONE3'],
  ['1-abcdefghijklmnopqrstuvwxyz', '1-ABCDEFGHIJKLMNOPQRSTUVWXYZ'],
  ['0000000000000000001', '1'], ['000000000000000001', '1'], ['00000000000000000001', '1'], ['01', '1'], ['0000000000000000000', '0'], ['00', '0'],
];

// testVersionComparing, testLeadingZeroes, testMng5568, testMng6572, testMng6964: [lower, higher].
const ORDERED: Array<[string, string]> = [
  ['1', '2'], ['1.5', '2'], ['1', '2.5'], ['1.0', '1.1'], ['1.1', '1.2'], ['1.0.0', '1.1'], ['1.0.1', '1.1'], ['1.1', '1.2.0'],
  ['1.0-alpha-1', '1.0'], ['1.0-alpha-1', '1.0-alpha-2'], ['1.0-alpha-1', '1.0-beta-1'],
  ['1.0-beta-1', '1.0-SNAPSHOT'], ['1.0-SNAPSHOT', '1.0'], ['1.0-alpha-1-SNAPSHOT', '1.0-alpha-1'],
  ['1.0', '1.0-1'], ['1.0-1', '1.0-2'], ['1.0.0', '1.0-1'],
  ['2.0-1', '2.0.1'], ['2.0.1-klm', '2.0.1-lmn'], ['2.0.1', '2.0.1-xyz'], ['2.0.1', '2.0.1-123'], ['2.0.1-xyz', '2.0.1-123'],
  ['0.7', '2'], ['0.2', '1.0.7'],
  ['6.1.0rc3', '6.1.0'], ['6.1.0rc3', '6.1H.5-beta'], ['6.1.0', '6.1H.5-beta'],
  ['20190126.230843', '1234567890.12345'], ['1234567890.12345', '123456789012345.1H.5-beta'], ['123456789012345.1H.5-beta', '12345678901234567890.1H.5-beta'],
  ['1-0.alpha', '1'], ['1-0.beta', '1'], ['1-0.alpha', '1-0.beta'],
];

// The examples of https://maven.apache.org/pom.html#version-order-specification.
const DOC_ORDERED: Array<[string, string]> = [
  ['1', '1.1'], ['1-snapshot', '1'], ['1', '1-sp'], ['1-foo2', '1-foo10'], ['1.foo', '1-1'], ['1-1', '1.1'], ['1-ga', '1-sp'], ['1-ga.1', '1-sp.1'],
];
const DOC_EQUAL: Array<[string, string]> = [
  ['1.foo', '1-foo'], ['1.ga', '1-ga'], ['1-ga', '1-0'], ['1-0', '1.0'], ['1.0', '1'], ['1-a1', '1-alpha-1'],
];

describe('compareMavenVersions (Maven ComparableVersion)', () => {
  it.each([['VERSIONS_QUALIFIER', VERSIONS_QUALIFIER], ['VERSIONS_NUMBER', VERSIONS_NUMBER]])('orders %s strictly ascending, every pair', (_name, list) => {
    for (let i = 0; i < list.length; i++) {
      for (let j = i + 1; j < list.length; j++) {
        expect(compareMavenVersions(list[i]!, list[j]!), `${list[i]} < ${list[j]}`).toBeLessThan(0);
        expect(compareMavenVersions(list[j]!, list[i]!), `${list[j]} > ${list[i]}`).toBeGreaterThan(0);
      }
    }
  });

  it.each([...EQUAL, ...DOC_EQUAL])('%s == %s', (a, b) => {
    expect(compareMavenVersions(a, b)).toBe(0);
    expect(compareMavenVersions(b, a)).toBe(0);
  });

  it.each([...ORDERED, ...DOC_ORDERED])('%s < %s', (a, b) => {
    expect(compareMavenVersions(a, b)).toBeLessThan(0);
    expect(compareMavenVersions(b, a)).toBeGreaterThan(0);
  });

  it('rejects what is not a version', () => {
    for (const bad of ['', '[1.0,2.0)', '${log4j.version}', 'latest', '1.0 2.0']) {
      expect(mavenVersioning.isValid(bad), bad).toBe(false);
      expect(thrownInvalidInput(() => compareMavenVersions(bad, '1.0'))?.code).toBe('VERSION_INVALID');
    }
  });
});

describe('mavenVersioning', () => {
  it('calls qualified pre-releases unstable, release markers and service packs stable', () => {
    for (const v of ['2.17.1', '3.2.6.RELEASE', '4.3.1.Final', '1.0-GA', '2.0-sp1', '2.9.9.1', '1.0-foo']) expect(mavenVersioning.isStable(v), v).toBe(true);
    for (const v of ['2.0-beta9', '2.0-rc1', '2.0.0-RC2', '5.0.0.M4', '1.0-SNAPSHOT', '1.0-alpha-1', '1.0a1', '3.0.0-CR1']) expect(mavenVersioning.isStable(v), v).toBe(false);
    expect(mavenVersioning.parse('2.0.0-RC2')?.pre).toEqual(['rc', 2]);
    expect(mavenVersioning.parse('3.2.6.RELEASE')).toMatchObject({ release: [3, 2, 6], pre: null });
  });

  it('keeps the moderate line on the first numeric component and sizes jumps by the written segments', () => {
    expect(mavenVersioning.sameLine('2.14.1', '2.17.1')).toBe(true);
    expect(mavenVersioning.sameLine('3.2.6.RELEASE', '5.2.24.RELEASE')).toBe(false);
    expect(mavenVersioning.jump('2.7', '2.12.2')).toBe('minor');
    expect(mavenVersioning.jump('2.6.5', '2.6.7.1')).toBe('patch');
    expect(mavenVersioning.jump('3.2.6.RELEASE', '5.2.21')).toBe('major');
  });

  it('reads Maven version ranges and comparator sets', () => {
    const cases: Array<[string, string[], string[]]> = [
      ['[1.0,2.0)', ['1.0', '1.5', '2.0-rc1'], ['0.9', '2.0']],
      ['[1.0]', ['1.0', '1.0.0'], ['1.0.1']],
      ['(,1.0],[1.2,)', ['0.1', '1.0', '1.2', '9'], ['1.1']],
      ['(1.0,)', ['1.0.1'], ['1.0']],
      ['1.5', ['1.5'], ['1.6']],
      ['>=2.0-beta9,<2.12.2', ['2.0-beta9', '2.12.1'], ['2.0-beta8', '2.12.2']],
      ['<=2.9.9', ['2.9.9'], ['2.9.9.1']],
      ['==2.6.5', ['2.6.5'], ['2.6.6']],
      ['>=0', ['0.0.1', '99'], []],
    ];
    for (const [req, inside, outside] of cases) {
      for (const v of inside) expect(mavenVersioning.satisfies(v, req), `${v} in ${req}`).toBe(true);
      for (const v of outside) expect(mavenVersioning.satisfies(v, req), `${v} not in ${req}`).toBe(false);
    }
    for (const bad of ['', '[1.0,2.0', '[1.0,2.0,3.0]', '(1.0)', '~>1.0', '${v}']) expect(parseMavenRequirement(bad), bad).toBeNull();
    expect(thrownInvalidInput(() => mavenVersioning.satisfies('1.0', '[1.0'))?.code).toBe('REQUIREMENT_INVALID');
  });

  it('proposes only stable, not withdrawn versions, ascending, except those in use', () => {
    const published = ['2.17.1', '2.0-beta9', '2.12.2', '2.15.0', '2.3.0-rc1', '1.0-SNAPSHOT', 'bad version'].map((version) => ({ version, yanked: version === '2.15.0', deprecated: false }));
    expect(mavenVersioning.candidates(published)).toEqual(['2.12.2', '2.17.1']);
    expect(mavenVersioning.candidates(published, ['2.0-beta9', '2.15.0'])).toEqual(['2.0-beta9', '2.12.2', '2.15.0', '2.17.1']);
  });
});
