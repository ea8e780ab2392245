import semver from 'semver';
import { describe, expect, it } from 'vitest';
import { npmVersioning as v } from './versioning.js';

/**
 * npm versioning answers what node-semver answers (https://github.com/npm/node-semver#ranges):
 * `satisfies` as `semver.satisfies(version, range, { loose: true, includePrerelease: true })`,
 * `sameLine` as "either satisfies the other's caret range" (`^a`, pre-releases included).
 */
const VERSIONS = [
  '0.0.0', '0.0.1', '0.0.3-beta.1', '0.0.3', '0.0.4-0', '0.0.4', '0.1.0', '0.1.9', '0.2.0-rc.1', '0.2.0', '0.2.5',
  '1.0.0-alpha', '1.0.0-0', '1.0.0', '1.2.3-beta.2', '1.2.3', '1.2.3+build.5', '1.2.4-alpha.beta', '1.15.0', '1.99.99', '2.0.0-0', '2.0.0-rc.1', '2.0.0', '2.1.0', '10.0.0',
];
const RANGES = [
  '^1.2.3', '~1.2.3', '1.x', '>=1.0.0 <2.0.0', '^0.2.0', '^0.0.3', '*', '1.2.3 - 2.0.0', '<1.0.0 || >=2.0.0', '>=0.0.3-beta.0', 'latest-1 || 1', '=1.2.3', 'v1.2.3',
  '>1.2.3', '<=1.2.3', '<1.0.0-0', '>1.0.0-alpha <=2.0.0-rc.1', '1.2', '1', '', 'x', '~0.2', '^0.0', '1.2.3 || 2.x', '>=1.2.3-beta.2 <1.2.4', '1.2.3+build.9', '^1.2.3-beta.2',
];

describe('npmVersioning', () => {
  it('sameLine: b satisfies ^a or a satisfies ^b, for every pair of the grid', () => {
    for (const a of VERSIONS) {
      for (const b of VERSIONS) {
        const expected = semver.satisfies(b, `^${a}`, { includePrerelease: true }) || semver.satisfies(a, `^${b}`, { includePrerelease: true });
        expect(v.sameLine(a, b), `${a} ~ ${b}`).toBe(expected);
      }
    }
    expect(v.sameLine('1.15.0', '1.99.99')).toBe(true);
    expect(v.sameLine('0.1.0', '0.2.0')).toBe(false);
    expect(v.sameLine('0.0.3', '0.0.4')).toBe(false);
    expect(v.sameLine('1.99.99', '2.0.0-0')).toBe(false);
  });

  it('satisfies: what semver.satisfies answers (loose, pre-releases included), the same on a second call', () => {
    // The grid reaches every comparator kind of a parsed range (the test evaluates comparators itself: decision 0032).
    const comparators = RANGES.filter((r) => semver.validRange(r, { loose: true }) !== null).flatMap((r) => new semver.Range(r, { loose: true, includePrerelease: true }).set.flat());
    expect(new Set(comparators.map((c) => (typeof c.semver === 'symbol' ? 'any' : c.operator)))).toEqual(new Set(['any', '', '<', '<=', '>', '>=']));
    for (const range of RANGES) {
      if (semver.validRange(range, { loose: true }) === null) continue;
      for (const version of VERSIONS) {
        const expected = semver.satisfies(version, range, { loose: true, includePrerelease: true });
        expect(v.satisfies(version, range), `${version} in ${range}`).toBe(expected);
        expect(v.satisfies(version, range), `${version} in ${range}, again`).toBe(expected);
      }
    }
  });

  it('refuses a requirement that is not a range, and a version that is not semver, with codes that name them', () => {
    expect(() => v.satisfies('1.0.0', 'not a range')).toThrow(expect.objectContaining({ code: 'REQUIREMENT_INVALID' }));
    expect(() => v.satisfies('one', '^1.0.0')).toThrow(expect.objectContaining({ code: 'VERSION_INVALID' }));
    expect(() => v.sameLine('1.0.0', 'one')).toThrow(expect.objectContaining({ code: 'VERSION_INVALID' }));
  });
});
