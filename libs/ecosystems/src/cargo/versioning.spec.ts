import { describe, expect, it } from 'vitest';
import { thrownInvalidInput } from '@remediation/testing';
import { cargoToSemverRange, cargoVersioning } from './versioning.js';

// Every example of https://doc.rust-lang.org/cargo/reference/specifying-dependencies.html
// ("Version requirement syntax"): requirement, versions it admits, versions it excludes.
const DOC_EXAMPLES: Array<[string, string[], string[]]> = [
  ['1.2.3', ['1.2.3', '1.9.0'], ['1.2.2', '2.0.0']],
  ['^1.2.3', ['1.2.3', '1.99.99'], ['1.2.2', '2.0.0']],
  ['^1.2', ['1.2.0', '1.9.9'], ['1.1.9', '2.0.0']],
  ['^1', ['1.0.0', '1.9.9'], ['0.9.9', '2.0.0']],
  ['^0.2.3', ['0.2.3', '0.2.9'], ['0.2.2', '0.3.0']],
  ['^0.2', ['0.2.0', '0.2.9'], ['0.1.9', '0.3.0']],
  ['^0.0.3', ['0.0.3'], ['0.0.2', '0.0.4']],
  ['^0.0', ['0.0.0', '0.0.9'], ['0.1.0']],
  ['^0', ['0.0.0', '0.9.9'], ['1.0.0']],
  ['~1.2.3', ['1.2.3', '1.2.9'], ['1.2.2', '1.3.0']],
  ['~1.2', ['1.2.0', '1.2.9'], ['1.1.9', '1.3.0']],
  ['~1', ['1.0.0', '1.9.9'], ['0.9.9', '2.0.0']],
  ['*', ['0.0.0', '9.9.9'], []],
  ['1.*', ['1.0.0', '1.9.9'], ['0.9.9', '2.0.0']],
  ['1.2.*', ['1.2.0', '1.2.9'], ['1.1.9', '1.3.0']],
  ['>= 1.2.0', ['1.2.0', '3.0.0'], ['1.1.9']],
  ['> 1', ['2.0.0'], ['1.9.9']],
  ['< 2', ['1.9.9'], ['2.0.0']],
  ['= 1.2.3', ['1.2.3'], ['1.2.4', '1.2.2']],
  ['>= 1.2, < 1.5', ['1.2.0', '1.4.9'], ['1.1.9', '1.5.0']],
];

describe('cargoVersioning', () => {
  it.each(DOC_EXAMPLES)('reads %s as Cargo does', (requirement, admitted, excluded) => {
    for (const v of admitted) expect(cargoVersioning.satisfies(v, requirement), `${v} in ${requirement}`).toBe(true);
    for (const v of excluded) expect(cargoVersioning.satisfies(v, requirement), `${v} not in ${requirement}`).toBe(false);
  });

  it('translates requirements to node-semver ranges: bare is caret, commas intersect', () => {
    expect(cargoToSemverRange('1.0')).toBe('^1.0');
    expect(cargoToSemverRange('>= 1.2, < 1.5')).toBe('>=1.2 <1.5');
    expect(cargoToSemverRange('= 0.1.0-beta.1')).toBe('=0.1.0-beta.1');
    for (const bad of ['', '1.0 || 2.0', 'latest', '>=1,', '^1.2.3.4', '1.0 2.0']) expect(cargoToSemverRange(bad), bad).toBeNull();
    expect(thrownInvalidInput(() => cargoVersioning.satisfies('1.0.0', 'latest'))).toMatchObject({ code: 'REQUIREMENT_INVALID' });
    expect(thrownInvalidInput(() => cargoVersioning.compare('1.0', '1.0.0'))).toMatchObject({ code: 'VERSION_INVALID' });
  });

  it('matches pre-releases only from a comparator naming one (Cargo pre-release rule)', () => {
    expect(cargoVersioning.satisfies('1.3.0-alpha.1', '1.2')).toBe(false);
    expect(cargoVersioning.satisfies('0.1.0-beta.2', '= 0.1.0-beta.1')).toBe(false);
    expect(cargoVersioning.satisfies('0.1.0-beta.1', '= 0.1.0-beta.1')).toBe(true);
    expect(cargoVersioning.satisfies('0.1.0-beta.2', '>=0.1.0-beta.1')).toBe(true);
  });

  it('keeps the caret line: 0.3.x stays 0.3.x, jumps by the first non-zero segment', () => {
    expect(cargoVersioning.sameLine('0.3.1', '0.3.9')).toBe(true);
    expect(cargoVersioning.sameLine('0.3.1', '0.4.0')).toBe(false);
    expect(cargoVersioning.sameLine('1.2.0', '1.9.0')).toBe(true);
    expect(cargoVersioning.sameLine('0.0.3', '0.0.4')).toBe(false);
    expect(cargoVersioning.jump('0.3.1', '0.4.0')).toBe('major');
    expect(cargoVersioning.jump('0.3.1', '0.3.2')).toBe('patch');
    expect(cargoVersioning.jump('1.2.0', '1.3.0')).toBe('minor');
    expect(cargoVersioning.jump('1.2.0', '2.0.0')).toBe('major');
  });

  it('proposes neither pre-releases nor yanked versions, unless in use', () => {
    const published = [
      { version: '0.3.0', yanked: false, deprecated: false },
      { version: '0.3.1', yanked: true, deprecated: false },
      { version: '0.4.0-rc.1', yanked: false, deprecated: false },
      { version: '0.3.2', yanked: false, deprecated: false },
      { version: 'not-a-version', yanked: false, deprecated: false },
    ];
    expect(cargoVersioning.candidates(published)).toEqual(['0.3.0', '0.3.2']);
    expect(cargoVersioning.candidates(published, ['0.3.1', '0.4.0-rc.1'])).toEqual(['0.3.0', '0.3.1', '0.3.2', '0.4.0-rc.1']);
    expect(cargoVersioning.isStable('0.4.0-rc.1')).toBe(false);
    expect(cargoVersioning.parse('1.2.3')).toMatchObject({ release: [1, 2, 3], pre: null });
  });
});
