import { readFileSync } from 'node:fs';
import { changedLines, npmCiDryRun as npmCiDryRunIn } from '@remediation/testing';
import { describe, expect, it } from 'vitest';
import { packumentVersion, readLockfile, updateNpmLockfile } from './index.js';

const fixture = (path: string) => readFileSync(new URL(`./__fixtures__/${path}`, import.meta.url), 'utf8');
const GOOF = fixture('nodejs-goof/package-lock.json');
/** Registry metadata (packument version documents) from the trimmed registry snapshot. */
const packument = (name: string): unknown => JSON.parse(fixture(`registry/${name}.json`));
const MINIMIST_126 = packumentVersion(packument('minimist'), 'minimist', '1.2.6', 'registry/minimist.json') as Record<string, unknown>;
const DEBUG_431 = packumentVersion(packument('debug'), 'debug', '4.3.1', 'registry/debug.json');


describe('updateNpmLockfile on nodejs-goof (lockfileVersion 2)', () => {
  it('moves the transitive minimist 1.2.0 to 1.2.6: only that entry and its legacy mirror change', () => {
    const result = updateNpmLockfile({ file: 'package-lock.json', text: GOOF, name: 'minimist', version: '1.2.6', from: '1.2.0', metadata: MINIMIST_126 });
    expect(result.status).toBe('updated');
    if (result.status !== 'updated') return;
    expect(result.locations).toEqual(['node_modules/minimist']);
    // resolved and integrity are the registry's dist.tarball and dist.integrity.
    expect(MINIMIST_126['dist']).toMatchObject({
      tarball: 'https://npm-registry.invalid/minimist/-/minimist-1.2.6.tgz',
      integrity: 'sha512-Jsjnk4bw3YJqYzbdyBiNsPWHPfO++UGG749Cxs6peCu5Xg4nrena6OVxOYxrQTqww0Jmwt+Ref8rggumkTLz9Q==',
    });
    expect(changedLines(GOOF, result.text)).toEqual([
      [4453, '      "version": "1.2.0",', '      "version": "1.2.6",'],
      [4454, '      "resolved": "https://npm-registry.invalid/minimist/-/minimist-1.2.0.tgz",', '      "resolved": "https://npm-registry.invalid/minimist/-/minimist-1.2.6.tgz",'],
      [
        4455,
        '      "integrity": "sha1-o1AIsg9BOD7sH7kU9M1d95omQoQ="',
        '      "integrity": "sha512-Jsjnk4bw3YJqYzbdyBiNsPWHPfO++UGG749Cxs6peCu5Xg4nrena6OVxOYxrQTqww0Jmwt+Ref8rggumkTLz9Q=="',
      ],
      [16319, '      "version": "1.2.0",', '      "version": "1.2.6",'],
      [16320, '      "resolved": "https://npm-registry.invalid/minimist/-/minimist-1.2.0.tgz",', '      "resolved": "https://npm-registry.invalid/minimist/-/minimist-1.2.6.tgz",'],
      [
        16321,
        '      "integrity": "sha1-o1AIsg9BOD7sH7kU9M1d95omQoQ="',
        '      "integrity": "sha512-Jsjnk4bw3YJqYzbdyBiNsPWHPfO++UGG749Cxs6peCu5Xg4nrena6OVxOYxrQTqww0Jmwt+Ref8rggumkTLz9Q=="',
      ],
    ]);
    // The result reads back: the moved entry at 1.2.6, the other copies untouched, every edge resolved.
    const after = readLockfile('package-lock.json', result.text);
    expect(after.packages['node_modules/minimist']?.version).toBe('1.2.6');
    expect(after.packages['node_modules/nyc/node_modules/minimist']?.version).toBe('0.0.8');
    expect(after.edges.filter((e) => e.to === null)).toEqual([]);
    // Moving it again changes nothing.
    expect(updateNpmLockfile({ file: 'package-lock.json', text: result.text, name: 'minimist', version: '1.2.6', from: '1.2.6', metadata: MINIMIST_126 })).toEqual({
      status: 'unchanged',
      locations: ['node_modules/minimist'],
    });
  });

  it('refuses to move every minimist copy when dependents pin older ones, naming each dependent', () => {
    const result = updateNpmLockfile({ file: 'package-lock.json', text: GOOF, name: 'minimist', version: '1.2.6', metadata: MINIMIST_126 });
    expect(result).toEqual({
      status: 'unsatisfied',
      missing: [],
      conflicts: [
        { from: 'node_modules/nyc/node_modules/mkdirp', location: 'node_modules/nyc/node_modules/minimist', requirement: '0.0.8' },
        { from: 'node_modules/nyc/node_modules/optimist', location: 'node_modules/nyc/node_modules/minimist', requirement: '~0.0.1' },
        { from: 'node_modules/optimist', location: 'node_modules/optimist/node_modules/minimist', requirement: '~0.0.1' },
        { from: 'node_modules/tap/node_modules/mkdirp', location: 'node_modules/tap/node_modules/minimist', requirement: '0.0.8' },
      ],
    });
  });

  it('returns the missing dependencies when the new version needs what the lock does not have (debug 4.1.1 → 4.3.1 needs ms 2.1.2)', () => {
    const result = updateNpmLockfile({ file: 'package-lock.json', text: GOOF, name: 'debug', version: '4.3.1', from: '4.1.1', metadata: DEBUG_431 });
    // From node_modules/debug, ms resolves to the nested node_modules/debug/node_modules/ms 2.1.1.
    expect(result).toEqual({
      status: 'unsatisfied',
      missing: [{ location: 'node_modules/debug', name: 'ms', requirement: '2.1.2', kind: 'prod', found: '2.1.1' }],
      conflicts: [],
    });
  });

  it('updates the nested `dependencies` tree of a v1 lock', () => {
    const doc = JSON.parse(GOOF) as Record<string, unknown>;
    const v1 = `${JSON.stringify({ ...doc, lockfileVersion: 1, packages: undefined }, null, 2)}\n`;
    const result = updateNpmLockfile({ file: 'package-lock.json', text: v1, name: 'minimist', version: '1.2.6', from: '1.2.0', metadata: MINIMIST_126 });
    expect(result.status).toBe('updated');
    if (result.status !== 'updated') return;
    expect(result.edited).toEqual([
      ['dependencies', 'minimist', 'version'],
      ['dependencies', 'minimist', 'resolved'],
      ['dependencies', 'minimist', 'integrity'],
    ]);
    expect(changedLines(v1, result.text).map(([, , after]) => after.trim())).toEqual([
      '"version": "1.2.6",',
      '"resolved": "https://npm-registry.invalid/minimist/-/minimist-1.2.6.tgz",',
      '"integrity": "sha512-Jsjnk4bw3YJqYzbdyBiNsPWHPfO++UGG749Cxs6peCu5Xg4nrena6OVxOYxrQTqww0Jmwt+Ref8rggumkTLz9Q=="',
    ]);
  });

  it('packumentVersion picks the version document of a packument, with clear errors', () => {
    expect(MINIMIST_126['version']).toBe('1.2.6');
    expect(() => packumentVersion(packument('minimist'), 'minimist', '1.2.7', 'registry/minimist.json')).toThrow(
      /minimist@1\.2\.7 is not in the package document from registry\/minimist\.json/,
    );
    expect(() => packumentVersion({ name: 'minimist' }, 'minimist', '1.2.6', 'https://registry.example/minimist')).toThrow(
      /package document for minimist from https:\/\/registry\.example\/minimist is invalid/,
    );
  });

  it('reports a package the lock does not hold, and rejects registry metadata without dist.tarball or of another version', () => {
    expect(updateNpmLockfile({ file: 'package-lock.json', text: GOOF, name: 'left-pad', version: '1.3.0', metadata: { version: '1.3.0', dist: { tarball: 'x' } } })).toEqual({
      status: 'not-found',
    });
    expect(() => updateNpmLockfile({ file: 'package-lock.json', text: GOOF, name: 'minimist', version: '1.2.6', metadata: { version: '1.2.6', dist: {} } })).toThrow(
      /registry metadata for minimist@1\.2\.6 is invalid: dist\.tarball/,
    );
    expect(() => updateNpmLockfile({ file: 'package-lock.json', text: GOOF, name: 'minimist', version: '1.2.5', metadata: MINIMIST_126 })).toThrow(
      /registry metadata is for minimist@1\.2\.6, not 1\.2\.5/,
    );
  });
});

const npmCiDryRun = (lock: string) => npmCiDryRunIn(fixture('nodejs-goof/package.json'), lock);

describe('npm agrees the updated lock is in sync (npm ci --dry-run, offline)', () => {
  it('accepts nodejs-goof with minimist moved to 1.2.6, and refuses a lock whose minimist no dependent admits', async () => {
    const result = updateNpmLockfile({ file: 'package-lock.json', text: GOOF, name: 'minimist', version: '1.2.6', from: '1.2.0', metadata: MINIMIST_126 });
    if (result.status !== 'updated') throw new Error(`expected an update, got ${result.status}`);
    const ok = await npmCiDryRun(result.text);
    expect(ok.output).toMatch(/added \d+ packages/);
    expect(ok.exitCode).toBe(0);
    // The control: the same entry at 0.0.10, which coveralls' ^1.2.0 and rc's ^1.2.0 exclude.
    const broken = await npmCiDryRun(result.text.replace('"version": "1.2.6",\n      "resolved": "https://npm-registry.invalid/minimist/-/minimist-1.2.6.tgz"', '"version": "0.0.10",\n      "resolved": "https://npm-registry.invalid/minimist/-/minimist-1.2.6.tgz"'));
    expect(broken.exitCode).not.toBe(0);
    expect(broken.output).toMatch(/ENOTCACHED/);
  }, 120_000);
});

describe('updateNpmLockfile: dependency maps, the root requirement and the file format', () => {
  /** A lockfile v3 where ms 2.1.2 is already locked, as debug 4.3.1 needs. */
  const lock = (rootRange: string, indent: string, eol: string, debug: Record<string, unknown>) =>
    JSON.stringify(
      {
        name: 'app',
        version: '1.0.0',
        lockfileVersion: 3,
        requires: true,
        packages: {
          '': { name: 'app', version: '1.0.0', dependencies: { debug: rootRange } },
          'node_modules/debug': debug,
          'node_modules/ms': {
            version: '2.1.2',
            resolved: 'https://npm-registry.invalid/ms/-/ms-2.1.2.tgz',
            integrity: 'sha512-sGkPx+VjMtmA6MX27oA4FBFELFCZZ4S4XqeGOXCv68tT+jb3vk/RyaKWP0PTKyWtmLSM0b+adUTEvbs1PEaH2w==',
          },
        },
      },
      null,
      indent,
    ).replace(/\n/g, eol) + eol;
  const DEBUG_411 = {
    version: '4.1.1',
    resolved: 'https://npm-registry.invalid/debug/-/debug-4.1.1.tgz',
    integrity: 'sha512-pYAIzeRo8J6KPEaJ0VWOh5Pzkbw/RetuzehGM7QRRX5he4fPHx2rdKMB256ehJCkX+XRQm16eZLqLNS8RSZXZw==',
    dependencies: { ms: '^2.1.1' },
  };
  const DEBUG_431_ENTRY = {
    version: '4.3.1',
    resolved: 'https://npm-registry.invalid/debug/-/debug-4.3.1.tgz',
    integrity: 'sha512-doEwdvm4PCeK4K3RQN2ZC2BYUBaxwLARCqZmMjtF8a51J2Rb0xpVloFRnCODwqjpwnAoao4pelN8l3RJdv3gRQ==',
    dependencies: { ms: '2.1.2' },
    peerDependenciesMeta: { 'supports-color': { optional: true } },
  };

  it.each([
    ['two spaces, LF', '  ', '\n'],
    ['tabs, CRLF', '\t', '\r\n'],
  ])('a direct bump writes the entry, its dependency map and the root requirement (%s)', (_label, indent, eol) => {
    const result = updateNpmLockfile({ file: 'package-lock.json', text: lock('^4.1.0', indent, eol, DEBUG_411), name: 'debug', version: '4.3.1', metadata: DEBUG_431, requirement: '^4.3.1' });
    expect(result.status).toBe('updated');
    if (result.status !== 'updated') return;
    expect(result.text).toBe(lock('^4.3.1', indent, eol, DEBUG_431_ENTRY));
  });

  it('a root requirement that excludes the new version is a conflict unless the new requirement is given', () => {
    const text = lock('~4.1.0', '  ', '\n', DEBUG_411);
    expect(updateNpmLockfile({ file: 'package-lock.json', text, name: 'debug', version: '4.3.1', metadata: DEBUG_431 })).toEqual({
      status: 'unsatisfied',
      missing: [],
      conflicts: [{ from: '', importer: '.', location: 'node_modules/debug', requirement: '~4.1.0' }],
    });
    expect(updateNpmLockfile({ file: 'package-lock.json', text, name: 'debug', version: '4.3.1', metadata: DEBUG_431, requirement: '~4.3.1' }).status).toBe('updated');
  });
});

describe('updateNpmLockfile with an npm override (package.json "overrides", docs/decisions/0016)', () => {
  const COOKIE_072 = packumentVersion(packument('cookie'), 'cookie', '0.7.2', 'registry/cookie.json');
  it('moves every cookie entry although express 4.12.4 and express-session 1.17.2 require their exact versions; without it those requirements are conflicts', () => {
    const refused = updateNpmLockfile({ file: 'package-lock.json', text: GOOF, name: 'cookie', version: '0.7.2', metadata: COOKIE_072 });
    expect(refused.status).toBe('unsatisfied');
    expect(refused.status === 'unsatisfied' && refused.conflicts.map((c) => `${c.from} ${c.requirement}`).sort()).toEqual(['node_modules/express 0.1.2', 'node_modules/express-session 0.4.1']);
    const r = updateNpmLockfile({ file: 'package-lock.json', text: GOOF, name: 'cookie', version: '0.7.2', metadata: COOKIE_072, override: true });
    expect(r.status).toBe('updated');
    if (r.status !== 'updated') return;
    expect(r.locations.sort()).toEqual(['node_modules/cookie', 'node_modules/express-session/node_modules/cookie']);
    const graph = readLockfile('package-lock.json', r.text);
    expect(Object.values(graph.packages).filter((p) => p.name === 'cookie').map((p) => p.version)).toEqual(['0.7.2', '0.7.2']);
  });
});
