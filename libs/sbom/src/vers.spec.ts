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
    // Go module versions are semver with a `v` (dropped); OSV-Scanner writes Go ranges this way.
    ['vers:golang/<1.3.2', '<1.3.2'],
    ['vers:golang/>=v1.57.0|<v1.57.1', '>=1.57.0 <1.57.1'],
    ['vers:golang/<v0.0.0-20220906165146-f3363e06e74c', '<0.0.0-20220906165146-f3363e06e74c'],
    ['vers:npm/*', '*'],
    ['<1.2.3 || >=2.0.0 <2.1.0', '<1.2.3 || >=2.0.0 <2.1.0'],
  ])('%s → %s', (input, expected) => {
    expect(versToNpmRange(input)).toBe(expected);
  });

  it.each(['vers:pypi/<1.0', 'vers:maven/<1.2.3', 'vers:golang/<master', 'vers:npm/>=1.0.0|>=2.0.0', 'vers:npm/<banana', 'not a range at all'])('rejects %s', (input) => {
    expect(versToNpmRange(input)).toBeNull();
  });
});
