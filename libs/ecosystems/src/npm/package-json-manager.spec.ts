import { describe, expect, it } from 'vitest';
import { ecosystemFor, packageJsonManager } from '../index.js';

const CRLF_BOM = '\uFEFF{\r\n\t"name": "app",\r\n\t"dependencies": {\r\n\t\t"express": "^4.17.1",\r\n\t\t"lodash": "4.17.15"\r\n\t},\r\n\t"devDependencies": {\r\n\t\t"lodash": "~4.17.0"\r\n\t},\r\n\t"peerDependencies": { "react": "^17.0.0" }\r\n}';

describe('packageJsonManager', () => {
  it('is the npm ecosystem manager and matches package.json outside node_modules', () => {
    expect(ecosystemFor('npm')!.managers).toEqual([packageJsonManager]);
    expect(packageJsonManager.matches('package.json')).toBe(true);
    expect(packageJsonManager.matches('packages/api/package.json')).toBe(true);
    expect(packageJsonManager.matches('node_modules/x/package.json')).toBe(false);
    expect(packageJsonManager.matches('package-lock.json')).toBe(false);
  });

  it('extracts each declaration with the offsets of its range string, BOM and CRLF counted', () => {
    const { dependencies, includes, hashChecking } = packageJsonManager.extract('package.json', CRLF_BOM);
    expect(includes).toEqual([]);
    expect(hashChecking).toBe(false);
    expect(dependencies.map((d) => [d.location.section, d.name, d.requirement, d.location.line])).toEqual([
      ['dependencies', 'express', '^4.17.1', 4],
      ['dependencies', 'lodash', '4.17.15', 5],
      ['devDependencies', 'lodash', '~4.17.0', 8],
    ]);
    for (const d of dependencies) {
      expect(CRLF_BOM.slice(d.location.offset, d.location.offset + d.location.length)).toBe(d.requirement);
      expect(d.style).toBe('npm');
    }
  });

  it('raises the floor in every section, changing only the version strings', () => {
    const edit = packageJsonManager.raiseFloor('package.json', CRLF_BOM, 'lodash', '4.17.21');
    expect(edit.status).toBe('edited');
    if (edit.status !== 'edited') return;
    expect(edit.text).toBe(CRLF_BOM.replace('"4.17.15"', '"4.17.21"').replace('"~4.17.0"', '"~4.17.21"'));
    expect([edit.before, edit.after, edit.location.section, edit.location.line]).toEqual(['4.17.15', '4.17.21', 'dependencies', 5]);
  });

  it('reports unchanged, and refuses what it cannot edit with a reason', () => {
    expect(packageJsonManager.raiseFloor('package.json', CRLF_BOM, 'express', '4.0.0')).toMatchObject({ status: 'unchanged', requirement: '^4.17.1' });
    expect(packageJsonManager.raiseFloor('package.json', CRLF_BOM, 'react', '17.0.2')).toMatchObject({ status: 'refused', reason: 'not-found' });
    const git = '{"dependencies":{"x":"github:a/x","y":">=1.0.0 <1.5.0"}}';
    expect(packageJsonManager.raiseFloor('package.json', git, 'x', '1.0.0')).toMatchObject({ status: 'refused', reason: 'unsupported-requirement' });
    expect(packageJsonManager.raiseFloor('package.json', git, 'y', '1.6.0')).toMatchObject({ status: 'refused', reason: 'cap-excludes-fix' });
  });

  it('throws MANIFEST_INVALID for text that is not a JSON object', () => {
    expect(() => packageJsonManager.extract('package.json', '{"dependencies": ')).toThrow(expect.objectContaining({ code: 'MANIFEST_INVALID' }));
  });
});
