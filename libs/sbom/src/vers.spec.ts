import { describe, expect, it } from 'vitest';
import { versToNpmRange } from './index.js';

describe('versToNpmRange (https://github.com/package-url/vers-spec)', () => {
  it.each([
    ['vers:npm/<1.20.3', '<1.20.3'],
    ['vers:npm/>=1.0.0|<1.20.3', '>=1.0.0 <1.20.3'],
    ['vers:npm/<0.1.10|>=0.2.0|<1.9.0', '<0.1.10 || >=0.2.0 <1.9.0'],
    ['vers:npm/>=2.0.0', '>=2.0.0'],
    ['vers:npm/1.2.3|1.2.5', '1.2.3 || 1.2.5'],
    ['vers:npm/>=1.0.0|!=1.0.5|<2.0.0', '>=1.0.0 <1.0.5 || >1.0.5 <2.0.0'],
    ['vers:semver/<=4.5.1', '<=4.5.1'],
    // Cargo orders by semver (vers-spec); OSV-Scanner writes crates.io ranges this way.
    ['vers:cargo/>=0.6.5|<0.6.10', '>=0.6.5 <0.6.10'],
    ['vers:npm/*', '*'],
    ['<1.2.3 || >=2.0.0 <2.1.0', '<1.2.3 || >=2.0.0 <2.1.0'],
  ])('%s → %s', (input, expected) => {
    expect(versToNpmRange(input)).toBe(expected);
  });

  it.each(['vers:pypi/<1.0', 'vers:golang/<1.2.3', 'vers:npm/>=1.0.0|>=2.0.0', 'vers:npm/<banana', 'not a range at all'])('rejects %s', (input) => {
    expect(versToNpmRange(input)).toBeNull();
  });
});
