import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DependencyNotDeclaredError, ManifestEditError, ManifestParseError } from '../errors.js';
import { declaredRequirement, proveRemediated } from './requirement.js';
import { bumpNpmDependency, restoreNpmDependency, type BumpResult } from './update.js';

/** A real project's package.json from __fixtures__/manifests (sources: __fixtures__/PROVENANCE.md). */
const manifest = (name: string): string => readFileSync(new URL(`./__fixtures__/manifests/${name}/package.json`, import.meta.url), 'utf8');

/** Lines that differ between two texts with the same number of lines, as [before, after]. */
function changedLines(before: string, after: string): Array<[string, string]> {
  const a = before.split('\n');
  const b = after.split('\n');
  expect(b).toHaveLength(a.length);
  return a.flatMap((line, i) => (line === b[i] ? [] : [[line, b[i] ?? '']] as Array<[string, string]>));
}

/** Runs a bump expected to throw and returns the error. */
function bumpError(text: string, change: Parameters<typeof bumpNpmDependency>[1]): unknown {
  try {
    bumpNpmDependency(text, change);
  } catch (err) {
    return err;
  }
  throw new Error('expected bumpNpmDependency to throw');
}

/** A minimal manifest declaring `name` as `range` in `dependencies`. */
const withDep = (range: string, name = 'lib'): string =>
  `{\n  "name": "app",\n  "dependencies": {\n    "${name}": ${JSON.stringify(range)}\n  }\n}\n`;

/** The new range of `lib` after bumping it to `to`. */
const bumped = (range: string, to: string): BumpResult => bumpNpmDependency(withDep(range), { name: 'lib', to });

describe('bumpNpmDependency on real manifests', () => {
  it('express 4.19.2: the five advisory bumps change exactly five lines', () => {
    const original = manifest('express-4.19.2');
    const bumps = [
      { name: 'body-parser', to: '1.20.3', advisoryRanges: ['<1.20.3'] },
      { name: 'cookie', to: '0.7.0', advisoryRanges: ['<0.7.0'] },
      { name: 'path-to-regexp', to: '0.1.10', advisoryRanges: ['<0.1.10', '>=0.2.0 <1.9.0'] },
      { name: 'send', to: '0.19.0', advisoryRanges: ['<0.19.0'] },
      { name: 'serve-static', to: '1.16.0', advisoryRanges: ['<1.16.0', '>=2.0.0 <2.1.0'] },
    ];
    let text = original;
    for (const bump of bumps) {
      const result = bumpNpmDependency(text, bump);
      expect(result.changed).toBe(true);
      expect(result.notes).toEqual([]);
      text = result.text;
    }
    expect(changedLines(original, text)).toEqual([
      ['    "body-parser": "1.20.2",', '    "body-parser": "1.20.3",'],
      ['    "cookie": "0.6.0",', '    "cookie": "0.7.0",'],
      ['    "path-to-regexp": "0.1.7",', '    "path-to-regexp": "0.1.10",'],
      ['    "send": "0.18.0",', '    "send": "0.19.0",'],
      ['    "serve-static": "1.15.0",', '    "serve-static": "1.16.0",'],
    ]);
    expect(text.endsWith('}\n')).toBe(original.endsWith('}\n'));
    expect(text.length).toBe(original.length + 1); // only 0.1.7 -> 0.1.10 changes a length
    for (const bump of bumps) {
      const declared = declaredRequirement(text, bump.name);
      expect(declared?.section).toBe('dependencies');
      expect(proveRemediated(declared?.range ?? '', bump.advisoryRanges).remediated).toBe(true);
    }
  });

  it('express 4.19.2: reports the single edit with section, from and to', () => {
    const result = bumpNpmDependency(manifest('express-4.19.2'), { name: 'body-parser', to: '1.20.3' });
    expect(result.edits).toEqual([{ section: 'dependencies', from: '1.20.2', to: '1.20.3' }]);
  });

  it('express 4.19.2: bumps a devDependency', () => {
    const original = manifest('express-4.19.2');
    const result = bumpNpmDependency(original, { name: 'marked', to: '4.0.10' });
    expect(result.edits).toEqual([{ section: 'devDependencies', from: '0.7.0', to: '4.0.10' }]);
    expect(changedLines(original, result.text)).toEqual([['    "marked": "0.7.0",', '    "marked": "4.0.10",']]);
  });

  it('express 4.19.2: a tilde range stays a tilde range', () => {
    const original = manifest('express-4.19.2');
    const result = bumpNpmDependency(original, { name: 'encodeurl', to: '2.0.0' });
    expect(changedLines(original, result.text)).toEqual([['    "encodeurl": "~1.0.2",', '    "encodeurl": "~2.0.0",']]);
  });

  it('nodegoat: caret ranges keep the caret, exact pins stay exact', () => {
    const original = manifest('nodegoat');
    let text = original;
    for (const bump of [
      { name: 'body-parser', to: '1.20.3', advisoryRanges: ['<1.20.3'] },
      { name: 'express', to: '4.20.0', advisoryRanges: ['<4.19.2', '<4.20.0'] },
      { name: 'marked', to: '4.0.10', advisoryRanges: ['<0.3.6', '<0.3.9', '<4.0.10'] },
    ]) {
      text = bumpNpmDependency(text, bump).text;
    }
    expect(changedLines(original, text)).toEqual([
      ['    "body-parser": "^1.15.1",', '    "body-parser": "^1.20.3",'],
      ['    "express": "^4.13.4",', '    "express": "^4.20.0",'],
      ['    "marked": "0.3.5",', '    "marked": "4.0.10",'],
    ]);
  });

  it('nodegoat: a caret devDependency, a tarball URL and the "latest" tag', () => {
    const original = manifest('nodegoat');
    const mocha = bumpNpmDependency(original, { name: 'mocha', to: '10.2.0' });
    expect(mocha.edits).toEqual([{ section: 'devDependencies', from: '^2.4.5', to: '^10.2.0' }]);

    const gruntIf = bumpError(original, { name: 'grunt-if', to: '1.0.0' });
    expect(gruntIf).toBeInstanceOf(ManifestEditError);
    expect(gruntIf).toMatchObject({ code: 'UNSUPPORTED_SPECIFIER', details: { dependency: 'grunt-if', section: 'devDependencies' } });
    expect((gruntIf as Error).message).toContain('https://github.com/binarymist/grunt-if/tarball/master');
    expect((gruntIf as Error).message).toContain('tarball URL');

    const gruntEnv = bumpNpmDependency(original, { name: 'grunt-env', to: '1.0.1' });
    expect(changedLines(original, gruntEnv.text)).toEqual([['    "grunt-env": "latest",', '    "grunt-env": "^1.0.1",']]);
    expect(gruntEnv.notes.join('\n')).toMatch(/style changed/);
  });

  it('nodegoat: an already sufficient caret range is left unchanged', () => {
    const original = manifest('nodegoat');
    const result = bumpNpmDependency(original, { name: 'helmet', to: '1.0.0' });
    expect(result).toMatchObject({ text: original, changed: false, edits: [] });
    expect(result.notes.join('\n')).toMatch(/already admits nothing below 1\.0\.0/);
  });

  it('juice-shop v20.1.1: exact pins and caret ranges, only the version strings change', () => {
    const original = manifest('juice-shop-v20.1.1');
    let text = original;
    for (const bump of [
      { name: 'express-jwt', to: '6.0.0', advisoryRanges: ['<6.0.0'] },
      { name: 'jsonwebtoken', to: '9.0.0', advisoryRanges: ['<4.2.2', '<=8.5.1'] },
      { name: 'sanitize-html', to: '2.12.1', advisoryRanges: ['<1.11.4', '<2.12.1'] },
      { name: 'body-parser', to: '1.20.5' },
      { name: '@types/node', to: '25.10.0' },
    ]) {
      text = bumpNpmDependency(text, bump).text;
    }
    expect(changedLines(original, text)).toEqual([
      ['    "body-parser": "^1.20.4",', '    "body-parser": "^1.20.5",'],
      ['    "express-jwt": "0.1.3",', '    "express-jwt": "6.0.0",'],
      ['    "jsonwebtoken": "0.4.0",', '    "jsonwebtoken": "9.0.0",'],
      ['    "sanitize-html": "1.4.2",', '    "sanitize-html": "2.12.1",'],
      ['    "@types/node": "^25.9.1",', '    "@types/node": "^25.10.0",'],
    ]);
  });

  it('juice-shop v20.1.1: a || range keeps the alternatives at or above the target', () => {
    const original = manifest('juice-shop-v20.1.1');
    const result = bumpNpmDependency(original, { name: '@cyclonedx/cyclonedx-npm', to: '3.1.0' });
    expect(result.edits).toEqual([
      { section: 'devDependencies', from: '^2.0.0||^3.0.0||^4.00', to: '^3.1.0||^4.00' },
    ]);
    expect(result.notes.join('\n')).toMatch(/dropped alternative "\^2\.0\.0"/);
  });
});

describe('bumpNpmDependency keeps formatting', () => {
  it('tabs', () => {
    const text = '{\n\t"name": "a",\n\t"dependencies": {\n\t\t"lib": "^1.0.0",\n\t\t"other": "2.0.0"\n\t}\n}\n';
    expect(bumpNpmDependency(text, { name: 'lib', to: '1.2.0' }).text).toBe(text.replace('^1.0.0', '^1.2.0'));
  });

  it('four spaces', () => {
    const text = '{\n    "name": "a",\n    "dependencies": {\n        "lib": "~1.0.0"\n    }\n}\n';
    expect(bumpNpmDependency(text, { name: 'lib', to: '1.0.5' }).text).toBe(text.replace('~1.0.0', '~1.0.5'));
  });

  it('CRLF line endings', () => {
    const text = '{\r\n  "name": "a",\r\n  "dependencies": {\r\n    "lib": "1.0.0"\r\n  }\r\n}\r\n';
    const result = bumpNpmDependency(text, { name: 'lib', to: '1.0.1' });
    expect(result.text).toBe(text.replace('"1.0.0"', '"1.0.1"'));
    expect(result.text.split('\r\n')).toHaveLength(7);
  });

  it('no trailing newline', () => {
    const text = '{"dependencies":{"lib":"^1.0.0"}}';
    expect(bumpNpmDependency(text, { name: 'lib', to: '1.5.0' }).text).toBe('{"dependencies":{"lib":"^1.5.0"}}');
  });

  it('a byte order mark, odd spacing and key order', () => {
    const text = '\uFEFF{ "dependencies" :{"z":"1.0.0" ,   "lib"  :   "1.0.0", "a": "1.0.0"}, "name":"x" }';
    expect(bumpNpmDependency(text, { name: 'lib', to: '1.0.2' }).text).toBe(
      '\uFEFF{ "dependencies" :{"z":"1.0.0" ,   "lib"  :   "1.0.2", "a": "1.0.0"}, "name":"x" }',
    );
  });

  it('a scoped package name', () => {
    const text = withDep('^7.0.0', '@scope/pkg');
    expect(bumpNpmDependency(text, { name: '@scope/pkg', to: '7.1.0' }).text).toBe(withDep('^7.1.0', '@scope/pkg'));
  });
});

describe('bumpNpmDependency range styles', () => {
  it.each([
    ['1.2.3', '1.2.4', '1.2.4'],
    ['^1.2.3', '1.4.0', '^1.4.0'],
    ['~1.2.3', '1.2.9', '~1.2.9'],
    ['=1.2.3', '1.2.4', '=1.2.4'],
    ['v1.2.3', '1.2.4', 'v1.2.4'],
    ['>=1.2.3', '1.3.0', '>=1.3.0'],
    ['>= 1.2.3', '1.3.0', '>= 1.3.0'],
    ['>=1.0.0 <2.0.0', '1.5.0', '>=1.5.0 <2.0.0'],
    ['>=1.0.0 <=1.9.0', '1.9.0', '>=1.9.0 <=1.9.0'],
    ['1.0.0 - 1.9.0', '1.5.0', '1.5.0 - 1.9.0'],
    ['~>1.2.3', '1.2.5', '~>1.2.5'],
    ['^1.2.3', '2.0.0', '^2.0.0'], // a major bump keeps the caret
    ['^0.1.7', '0.1.10', '^0.1.10'],
    ['^1.2.3', '1.3.0-rc.1', '^1.3.0-rc.1'],
    ['1.2.3', '1.20.3', '1.20.3'],
    ['^1.0.0 || ^2.0.0', '1.5.0', '^1.5.0 || ^2.0.0'],
  ])('%s raised to %s becomes %s with no note', (from, to, expected) => {
    const result = bumped(from, to);
    expect(result.edits).toEqual([{ section: 'dependencies', from, to: expected }]);
    expect(result.text).toBe(withDep(expected));
    expect(result.notes).toEqual([]);
  });

  it.each([
    ['1.x', '1.4.0', '^1.4.0'],
    ['1.2.x', '1.2.9', '^1.2.9'],
    ['1', '1.1.0', '^1.1.0'],
    ['*', '1.0.0', '^1.0.0'],
    ['x', '3.0.0', '^3.0.0'],
    ['latest', '5.0.0', '^5.0.0'],
    ['', '5.0.0', '^5.0.0'],
    ['>1.2.3', '1.3.0', '>=1.3.0'],
    ['<2.0.0', '1.5.0', '>=1.5.0 <2.0.0'],
    ['^1.2', '1.4.0', '^1.4.0'],
  ])('%s raised to %s becomes %s with a note', (from, to, expected) => {
    const result = bumped(from, to);
    expect(result.edits).toEqual([{ section: 'dependencies', from, to: expected }]);
    expect(result.notes).toHaveLength(1);
    expect(result.notes[0]).toContain(`dependencies.lib: `);
  });

  it('a || range drops alternatives entirely below the target', () => {
    const result = bumped('^1.0.0 || ^2.0.0 || ^3.0.0', '2.1.0');
    expect(result.edits[0]?.to).toBe('^2.1.0 || ^3.0.0');
    expect(result.notes).toEqual(['dependencies.lib: dropped alternative "^1.0.0": it admits only versions below 2.1.0']);
  });

  it('a || range entirely below the target raises its highest alternative', () => {
    expect(bumped('^1.0.0 || ^2.0.0', '3.0.0').edits[0]?.to).toBe('^3.0.0');
  });

  it('raising the floor above the ceiling of >=a <b is an error', () => {
    const err = bumpError(withDep('>=1.0.0 <1.5.0'), { name: 'lib', to: '1.6.0' });
    expect(err).toBeInstanceOf(ManifestEditError);
    expect(err).toMatchObject({ code: 'RANGE_EXCLUDES_TARGET', retryable: false });
    expect((err as Error).message).toContain('<1.5.0');
  });

  it.each([
    ['>=1.0.0 <1.5.0', '1.5.0'],
    ['<1.0.0', '1.0.0'],
    ['1.0.0 - 1.4.0', '1.5.0'],
  ])('%s cannot be raised to %s', (from, to) => {
    expect(bumpError(withDep(from), { name: 'lib', to })).toMatchObject({ code: 'RANGE_EXCLUDES_TARGET' });
  });

  it('a range shape it does not rewrite is UNSUPPORTED_RANGE', () => {
    expect(bumpError(withDep('>=1.0.0 <2.0.0 <1.9.0'), { name: 'lib', to: '1.6.0' })).toMatchObject({ code: 'UNSUPPORTED_RANGE' });
  });

  it.each([
    ['^1.2.3', '1.2.3'],
    ['^2.0.0', '1.20.3'],
    ['>=1.5.0', '1.5.0'],
    ['1.2.4', '1.2.3'],
  ])('%s already admits nothing below %s: unchanged', (from, to) => {
    const text = withDep(from);
    const result = bumpNpmDependency(text, { name: 'lib', to });
    expect(result).toEqual({
      text,
      changed: false,
      edits: [],
      notes: [expect.stringContaining('left unchanged')],
    });
  });

  it('an unchanged range that fails the advisory proof is an error', () => {
    expect(
      bumpError(withDep('^2.0.0'), { name: 'lib', to: '1.20.3', advisoryRanges: ['>=2.0.0 <2.0.5'] }),
    ).toMatchObject({ code: 'REMEDIATION_NOT_PROVEN', details: { lowestAdmissible: '2.0.0' } });
  });

  it('a target that is itself affected fails the advisory proof', () => {
    const err = bumpError(withDep('^1.20.2'), { name: 'lib', to: '1.20.2', advisoryRanges: ['<1.20.3'] });
    expect(err).toMatchObject({ code: 'REMEDIATION_NOT_PROVEN' });
  });

  it.each(['v1.2.3', '1.2', 'latest', '^1.2.3', ' 1.2.3'])('target %j is rejected', (to) => {
    expect(bumpError(withDep('1.0.0'), { name: 'lib', to })).toMatchObject({ code: 'INVALID_TARGET_VERSION' });
  });
});

describe('bumpNpmDependency unsupported specifiers', () => {
  it.each([
    ['git+https://github.com/user/lib.git#v1.0.0', 'git URL'],
    ['git://github.com/user/lib.git', 'git URL'],
    ['git+ssh://git@github.com:user/lib.git', 'git URL'],
    ['github:user/lib', 'git URL'],
    ['user/lib#semver:^1.0.0', 'GitHub shorthand'],
    ['file:../lib', 'file: path'],
    ['link:../lib', 'link: path'],
    ['workspace:^', 'workspace: protocol'],
    ['npm:other-lib@^1.0.0', 'npm: alias'],
    ['https://example.com/lib-1.0.0.tgz', 'tarball URL'],
    ['../lib', 'local path'],
    ['next', 'dist-tag'],
  ])('%s is UNSUPPORTED_SPECIFIER (%s)', (specifier, kind) => {
    const err = bumpError(withDep(specifier), { name: 'lib', to: '1.0.1' });
    expect(err).toBeInstanceOf(ManifestEditError);
    expect(err).toMatchObject({ code: 'UNSUPPORTED_SPECIFIER', details: { dependency: 'lib', section: 'dependencies', specifier } });
    expect((err as Error).message).toContain(`lib in dependencies is declared as "${specifier}"`);
    expect((err as Error).message).toContain(kind);
  });

  it('a non-string value is UNSUPPORTED_SPECIFIER', () => {
    const err = bumpError('{"dependencies":{"lib":{"version":"1.0.0"}}}', { name: 'lib', to: '1.0.1' });
    expect(err).toMatchObject({ code: 'UNSUPPORTED_SPECIFIER' });
  });

  it('nothing is edited when one of several sections fails', () => {
    const text = '{"dependencies":{"lib":"^1.0.0"},"devDependencies":{"lib":"file:../lib"}}';
    expect(bumpError(text, { name: 'lib', to: '1.1.0' })).toMatchObject({ code: 'UNSUPPORTED_SPECIFIER', details: { section: 'devDependencies' } });
  });
});

describe('bumpNpmDependency errors', () => {
  it.each([
    ['{\n  "dependencies": {\n    "lib": "1.0.0",\n  }\n}\n', 4, 3],
    ['{\n  "name": "a"\n  "dependencies": {}\n}', 3, 3],
    ['{\r\n  "name": "a",\r\n  // comment\r\n}', 3, 3],
    ['', 1, 1],
    ['{"dependencies": {"lib": "1.0.0"}', 1, 34],
  ])('invalid JSON %j is MANIFEST_INVALID at line %i column %i', (text, line, column) => {
    const err = bumpError(text, { name: 'lib', to: '1.0.1' });
    expect(err).toBeInstanceOf(ManifestParseError);
    expect(err).toMatchObject({ code: 'MANIFEST_INVALID', line, column, retryable: false, details: { line, column } });
    expect((err as Error).message).toContain(`line ${line}, column ${column}`);
  });

  it('a root that is not an object is MANIFEST_INVALID', () => {
    expect(bumpError('[1, 2]', { name: 'lib', to: '1.0.1' })).toMatchObject({ code: 'MANIFEST_INVALID', line: 1, column: 1 });
  });

  it('a section that is not an object is MANIFEST_INVALID', () => {
    expect(bumpError('{\n  "dependencies": ["lib"]\n}', { name: 'lib', to: '1.0.1' })).toMatchObject({
      code: 'MANIFEST_INVALID',
      line: 2,
      column: 19,
    });
  });

  it('a dependency in no section is DEPENDENCY_NOT_DECLARED', () => {
    const err = bumpError(manifest('express-4.19.2'), { name: 'left-pad', to: '1.3.0' });
    expect(err).toBeInstanceOf(DependencyNotDeclaredError);
    expect(err).toMatchObject({ code: 'DEPENDENCY_NOT_DECLARED', dependency: 'left-pad', details: { dependency: 'left-pad' } });
  });

  it('a name only in peerDependencies is DEPENDENCY_NOT_DECLARED and says so', () => {
    const err = bumpError('{"peerDependencies":{"react":"^18.0.0"}}', { name: 'react', to: '18.3.1' });
    expect(err).toMatchObject({ code: 'DEPENDENCY_NOT_DECLARED', details: { peerDependency: '^18.0.0' } });
    expect((err as Error).message).toContain('peerDependency');
  });
});

describe('bumpNpmDependency across sections', () => {
  it('edits every section that declares the dependency, leaves peerDependencies and reports it', () => {
    const text = [
      '{',
      '  "dependencies": { "lib": "^1.0.0" },',
      '  "devDependencies": { "lib": "1.0.0" },',
      '  "optionalDependencies": { "lib": "~1.0.0" },',
      '  "peerDependencies": { "lib": "^1.0.0" }',
      '}',
    ].join('\n');
    const result = bumpNpmDependency(text, { name: 'lib', to: '1.0.3' });
    expect(result.edits).toEqual([
      { section: 'dependencies', from: '^1.0.0', to: '^1.0.3' },
      { section: 'devDependencies', from: '1.0.0', to: '1.0.3' },
      { section: 'optionalDependencies', from: '~1.0.0', to: '~1.0.3' },
    ]);
    expect(result.text).toBe(
      [
        '{',
        '  "dependencies": { "lib": "^1.0.3" },',
        '  "devDependencies": { "lib": "1.0.3" },',
        '  "optionalDependencies": { "lib": "~1.0.3" },',
        '  "peerDependencies": { "lib": "^1.0.0" }',
        '}',
      ].join('\n'),
    );
    expect(result.notes).toEqual(['peerDependencies.lib ("^1.0.0") was left unchanged']);
  });

  it('says when the peer range does not admit the target', () => {
    const text = '{"devDependencies":{"lib":"^1.0.0"},"peerDependencies":{"lib":"^1.0.0"}}';
    const result = bumpNpmDependency(text, { name: 'lib', to: '2.0.0' });
    expect(result.notes).toEqual(['peerDependencies.lib ("^1.0.0") was left unchanged; it does not admit 2.0.0']);
  });

  it('edits one section and leaves another that is already sufficient', () => {
    const text = '{"dependencies":{"lib":"^1.0.0"},"devDependencies":{"lib":"^1.5.0"}}';
    const result = bumpNpmDependency(text, { name: 'lib', to: '1.2.0' });
    expect(result.edits).toEqual([{ section: 'dependencies', from: '^1.0.0', to: '^1.2.0' }]);
    expect(result.text).toBe('{"dependencies":{"lib":"^1.2.0"},"devDependencies":{"lib":"^1.5.0"}}');
    expect(result.notes).toEqual([expect.stringMatching(/^devDependencies\.lib: "\^1\.5\.0" already admits nothing below 1\.2\.0/)]);
  });

  it('with a duplicate key edits the last one (the one JSON.parse and npm keep) and notes it', () => {
    const text = '{"dependencies":{"lib":"1.0.0","lib":"1.0.1"}}';
    const result = bumpNpmDependency(text, { name: 'lib', to: '1.0.2' });
    expect(result.text).toBe('{"dependencies":{"lib":"1.0.0","lib":"1.0.2"}}');
    expect(result.notes.join('\n')).toMatch(/key 2 times/);
  });
});

describe('restoreNpmDependency', () => {
  const base = '{\n  "dependencies": {\n    "a": "^1.0.0",\n    "b": "~2.0.0"\n  },\n  "devDependencies": {\n    "a": "1.0.0"\n  }\n}\n';

  it('puts back only the named dependency, in every section, byte for byte elsewhere', () => {
    const bumped = bumpNpmDependency(bumpNpmDependency(base, { name: 'a', to: '1.2.0' }).text, { name: 'b', to: '2.0.5' }).text;
    const r = restoreNpmDependency(bumped, base, 'a');
    expect(r.restored).toEqual(['dependencies', 'devDependencies']);
    expect(r.text).toBe(base.replace('~2.0.0', '~2.0.5'));
  });

  it('changes nothing when the dependency is as it was', () => {
    expect(restoreNpmDependency(base, base, 'b')).toEqual({ text: base, restored: [] });
  });
});
