import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '@remediation/errors';
import { assertPythonName, normalisePythonName } from './names.js';
import { pep440Versioning as v } from './versioning.js';

describe('pep440Versioning', () => {
  // PEP 440 §"Summary of permitted suffixes and relative ordering": dev < a < b < rc < final < post,
  // and the epoch dominates (§"Version epochs").
  it('orders versions by PEP 440 precedence', () => {
    const ascending = ['1.0.dev0', '1.0a1', '1.0a2.dev1', '1.0a2', '1.0b1', '1.0rc1', '1.0', '1.0.post1.dev0', '1.0.post1', '1.0.1', '1.1', '2.0', '1!0.1'];
    const shuffled = [...ascending].reverse();
    expect(shuffled.sort((a, b) => v.compare(a, b))).toEqual(ascending);
  });

  // §"Release segment": trailing zeros are insignificant; §Normalization: `1.0RC1` == `1.0rc1`.
  it.each([
    ['1.0', '1.0.0', 0],
    ['1.0RC1', '1.0rc1', 0],
    ['2.31.0', '2.28.2', 1],
    ['5.2b1', '5.2', -1],
  ])('compare(%s, %s) = %i', (a, b, sign) => {
    expect(Math.sign(v.compare(a, b))).toBe(sign);
  });

  it('rejects what is not a version with VERSION_INVALID', () => {
    expect(v.isValid('not.a.version')).toBe(false);
    expect(v.parse('not.a.version')).toBeNull();
    expect(() => v.compare('1.0', 'latest')).toThrow(InvalidInputError);
    expect(() => v.compare('1.0', 'latest')).toThrow(/not a PEP 440 version: "latest"/);
  });

  it('parses epoch, release, pre, post, dev and local parts (§"Public version identifiers", §"Local version identifiers")', () => {
    expect(v.parse('1!2.3.4rc5.post6.dev7+ubuntu.1')).toEqual({ epoch: 1, release: [2, 3, 4], pre: ['rc', 5], post: 6, dev: 7, local: 'ubuntu.1' });
  });

  // §Pre-releases and §"Developmental releases" are unstable; §Post-releases are not.
  it.each([
    ['4.2.14', true],
    ['5.2b1', false],
    ['2.0rc1', false],
    ['1.0.dev3', false],
    ['1.0.post1', true],
    ['2023.7.22', true],
  ])('isStable(%s) = %s', (version, stable) => {
    expect(v.isStable(version)).toBe(stable);
  });

  // §"Version specifiers": ~= is "compatible release", != excludes, commas intersect.
  it.each([
    ['2.31.0', '>=2.28.1,<3', true],
    ['3.0.0', '>=2.28.1,<3', false],
    ['1.26.18', '~=1.26.9', true],
    ['2.0.0', '~=1.26.9', false],
    ['5.4', '!=5.4,>=5.1', false],
    ['4.2.14', '==4.2.*', true],
    ['4.2.14', '', true],
  ])('satisfies(%s, %s) = %s', (version, requirement, expected) => {
    expect(v.satisfies(version, requirement)).toBe(expected);
  });

  it('reports a requirement that is not a specifier set with REQUIREMENT_INVALID', () => {
    expect(() => v.satisfies('1.0', '^1.0')).toThrow(/not a PEP 440 specifier set: "\^1.0"/);
  });

  it.each([
    ['4.2', '4.2.14', true],
    ['3.2.18', '4.2.14', false],
    ['2023.7.22', '2022.12.7', false],
    ['1.0', '1!1.0', false],
  ])('sameLine(%s, %s) = %s (first release segment, same epoch)', (a, b, same) => {
    expect(v.sameLine(a, b)).toBe(same);
  });

  it.each([
    ['4.2', '4.2.14', 'patch'],
    ['3.5.3', '3.9.2', 'minor'],
    ['9.4.0', '10.0.1', 'major'],
    ['5.1', '5.2b1', 'minor'],
    ['0.14.1', '0.15.3', 'minor'],
    ['2.28.2', '2.28.2.post1', 'patch'],
  ])('jump(%s, %s) = %s', (from, to, size) => {
    expect(v.jump(from, to)).toBe(size);
  });

  it('offers stable, not yanked candidates, keeping whatever is already in use', () => {
    const published = [
      { version: '5.4', yanked: false, deprecated: false },
      { version: '5.2b1', yanked: false, deprecated: false },
      { version: '5.1', yanked: false, deprecated: false },
      { version: '5.3', yanked: true, deprecated: false },
      { version: '5.4.dev1', yanked: false, deprecated: false },
      { version: 'garbage', yanked: false, deprecated: false },
    ];
    expect(v.candidates(published)).toEqual(['5.1', '5.4']);
    expect(v.candidates(published, ['5.2b1', '5.3.0'])).toEqual(['5.1', '5.2b1', '5.3', '5.4']);
  });
});

describe('PEP 503 names', () => {
  it.each([
    ['PyYAML', 'pyyaml'],
    ['Flask_SQLAlchemy', 'flask-sqlalchemy'],
    ['zope.interface', 'zope-interface'],
    ['a-_.-b', 'a-b'],
  ])('normalisePythonName(%s) = %s', (name, normal) => {
    expect(normalisePythonName(name)).toBe(normal);
  });

  it('rejects what is not a PEP 508 name', () => {
    expect(() => assertPythonName('-bad')).toThrow(/not a Python package name/);
    expect(() => assertPythonName('../etc')).toThrow(InvalidInputError);
    expect(() => assertPythonName('python-docx')).not.toThrow();
  });
});
