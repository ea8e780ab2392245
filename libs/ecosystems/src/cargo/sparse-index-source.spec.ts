import { describe, expect, it } from 'vitest';
import { thrownInvalidInput } from '@remediation/testing';
import { fromIndexFile, sparseIndexPath } from './sparse-index-source.js';

describe('sparse index files', () => {
  it('places names by the index path rules, lowercase', () => {
    expect(sparseIndexPath('a')).toBe('1/a');
    expect(sparseIndexPath('cc')).toBe('2/cc');
    expect(sparseIndexPath('Syn')).toBe('3/s/syn');
    expect(sparseIndexPath('serde_json')).toBe('se/rd/serde_json');
    expect(sparseIndexPath('Inflector')).toBe('in/fl/inflector');
    for (const bad of ['', '../etc', '1abc', 'a'.repeat(65), 'serde json']) expect(thrownInvalidInput(() => sparseIndexPath(bad)).code).toBe('PACKAGE_NAME_INVALID');
  });

  it('reads newline-delimited records with yanked, in semver order, under the published name', () => {
    const text = '{"name":"Inflector","vers":"0.11.3","deps":[],"cksum":"x","features":{},"yanked":false}\n\n{"name":"Inflector","vers":"0.2.0","yanked":true}\n{"name":"Inflector","vers":"0.11.4-rc.1","yanked":false}\n';
    expect(fromIndexFile('inflector', text, 'u')).toEqual({
      name: 'Inflector',
      versions: [
        { version: '0.2.0', yanked: true, deprecated: false },
        { version: '0.11.3', yanked: false, deprecated: false, dependencies: {} },
        { version: '0.11.4-rc.1', yanked: false, deprecated: false },
      ],
    });
    // deps: normal and build kinds by crate (a renamed dependency under its `package`), dev-dependencies left out.
    const deps =
      '{"name":"a","vers":"1.0.0","deps":[{"name":"x","req":"^1","kind":"normal"},{"name":"y","req":"^2","kind":"dev"},{"name":"zz","package":"z","req":"=0.3.1","kind":"build"},{"name":"w","req":"~1.2"}],"yanked":false}';
    expect(fromIndexFile('a', deps, 'u').versions[0]!.dependencies).toEqual({ x: '^1', z: '=0.3.1', w: '~1.2' });
    expect(thrownInvalidInput(() => fromIndexFile('x1', '{"name":"x1","vers":"1.0.0"}\nnot json', 'u')).message).toContain('line 2 is not JSON');
    expect(thrownInvalidInput(() => fromIndexFile('x1', '{"name":"x2","vers":"1.0.0"}', 'u')).code).toBe('REGISTRY_DOCUMENT_INVALID');
    expect(thrownInvalidInput(() => fromIndexFile('x1', '{"name":"x1","vers":"1.0.0","yanked":"no"}', 'u')).code).toBe('REGISTRY_DOCUMENT_INVALID');
  });
});
