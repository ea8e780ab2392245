import { describe, expect, it } from 'vitest';
import { raisePoetryFloor } from './pyproject.js';
import { compatibleReleaseOperand, parseRequirement, raisePep440Floor } from './specifier.js';

describe('parseRequirement (PEP 508)', () => {
  it('splits name, extras, specifier and marker', () => {
    const text = 'requests[socks, security] (>=2.28,<3) ; python_version > "3.8"';
    const p = parseRequirement(text)!;
    expect(p).toMatchObject({ name: 'requests', extras: ['socks', 'security'], specifier: '>=2.28,<3', marker: 'python_version > "3.8"' });
    expect(text.slice(p.specStart, p.specEnd)).toBe('>=2.28,<3');
  });

  it('reports a direct reference and a bare name', () => {
    expect(parseRequirement('pkg @ https://example.com/pkg.tar.gz')).toMatchObject({ name: 'pkg', url: 'https://example.com/pkg.tar.gz', specifier: '' });
    expect(parseRequirement('idna')).toMatchObject({ name: 'idna', specifier: '', specStart: 4, specEnd: 4 });
    expect(parseRequirement('--hash=x')).toBeNull();
  });
});

describe('raisePep440Floor', () => {
  it.each([
    ['==4.2', '4.2.14', '==4.2.14'],
    ['===1.0', '1.1', '===1.1'],
    ['>=2.28.1, <3', '2.31.0', '>=2.31.0, <3'],
    ['>2.0', '2.1', '>=2.1'],
    ['~=1.26.9', '1.26.18', '~=1.26.18'],
    ['~=2.8', '3.7', '~=3.7'],
    ['~=2.28', '2.31.0', '~=2.31'],
    ['~=2.28', '2.31.1', '~=2.31.1'],
    ['!=5.4,>=5.1', '5.3.1', '!=5.4,>=5.3.1'],
    ['<3', '2.31.0', '>=2.31.0,<3'],
    ['', '3.7', '>=3.7'],
  ])('%s raised to %s → %s', (spec, fixed, out) => {
    expect(raisePep440Floor(spec, fixed)).toEqual({ status: 'edited', specifier: out });
  });

  it('leaves a floor already at or above the fix', () => {
    expect(raisePep440Floor('>=3.0', '2.31.0')).toEqual({ status: 'unchanged' });
    expect(raisePep440Floor('==2.31.0', '2.31')).toEqual({ status: 'unchanged' });
  });

  it('refuses a cap or exclusion that shuts out the fix, and prefix matches', () => {
    expect(raisePep440Floor('>=3.5,<3.6', '3.9.2')).toMatchObject({ status: 'refused', reason: 'cap-excludes-fix' });
    expect(raisePep440Floor('!=5.4,>=5.1', '5.4')).toMatchObject({ status: 'refused', reason: 'cap-excludes-fix' });
    expect(raisePep440Floor('==4.2.*', '4.2.14')).toMatchObject({ status: 'refused', reason: 'unsupported-requirement' });
    expect(raisePep440Floor('^1.0', '1.1')).toMatchObject({ status: 'refused', reason: 'unsupported-requirement' });
  });

  it('keeps at least two segments for ~= (PEP 440 §"Compatible release")', () => {
    expect(compatibleReleaseOperand('5', '4.0')).toBe('5.0');
    expect(compatibleReleaseOperand('5.2b1', '5.1')).toBe('5.2b1');
  });
});

describe('raisePoetryFloor (https://python-poetry.org/docs/dependency-specification/)', () => {
  it.each([
    ['^3.2.18', '3.2.25', '^3.2.25'],
    ['~2.28.1', '2.31.0', '~2.31.0'],
    ['5.1', '5.4', '5.4'],
    ['==2.10', '2.10.1', '==2.10.1'],
    ['*', '3.7', '>=3.7'],
    ['>=1.26.9,<2', '1.26.18', '>=1.26.18,<2'],
    ['~=3.5', '3.9.2', '~=3.9.2'],
    ['~=3.5', '3.9.0', '~=3.9'],
  ])('%s raised to %s → %s', (constraint, fixed, out) => {
    expect(raisePoetryFloor(constraint, fixed)).toEqual({ status: 'edited', specifier: out });
  });

  it('leaves a constraint already at or above the fix, refuses unions', () => {
    expect(raisePoetryFloor('^4.0', '3.2.25')).toEqual({ status: 'unchanged' });
    expect(raisePoetryFloor('^2.0 || ^3.0', '2.2.5')).toMatchObject({ status: 'refused', reason: 'unsupported-requirement' });
    expect(raisePoetryFloor('>=1.0 <2.0', '1.5')).toMatchObject({ status: 'refused', reason: 'unsupported-requirement' });
  });
});
