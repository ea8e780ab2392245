import { readFileSync } from 'node:fs';
import { npmCiDryRun } from '@remediation/testing';
import { describe, expect, it } from 'vitest';
import { packumentVersion, pickNpmVersion, readLockfile, updateNpmLockfileResolving } from './index.js';

const fixture = (path: string) => readFileSync(new URL(`./__fixtures__/${path}`, import.meta.url), 'utf8');
const GOOF = fixture('nodejs-goof/package-lock.json');
const GOOF_PACKAGE = fixture('nodejs-goof/package.json');
/** Packuments of the trimmed registry snapshot, and the names the resolver asked for. */
function registry(): { read: (name: string) => Promise<unknown>; asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    read: async (name) => {
      asked.push(name);
      return JSON.parse(fixture(`registry/${name}.json`)) as unknown;
    },
  };
}
/**
 * Lines of `before` missing from `after` and lines of `after` not in `before`, matching `before`
 * as a subsequence of `after` (edits here only replace and insert lines).
 */
function lineChanges(before: string, after: string): { removed: string[]; added: string[] } {
  const a = before.split('\n');
  const b = after.split('\n');
  const removed: string[] = [];
  const added: string[] = [];
  let j = 0;
  for (const line of a) {
    const k = b.indexOf(line, j);
    // A line counts as kept when it reappears soon (within the inserted entries); else it was rewritten.
    if (k >= 0 && k - j < 40) {
      added.push(...b.slice(j, k));
      j = k + 1;
    } else removed.push(line);
  }
  added.push(...b.slice(j));
  return { removed, added };
}
const CFENV_120 = packumentVersion(JSON.parse(fixture('registry/cfenv.json')), 'cfenv', '1.2.0', 'registry/cfenv.json');

describe('updateNpmLockfileResolving on nodejs-goof', () => {
  it('moves cfenv (locked 1.2.2) to 1.2.0, whose js-yaml 3.11.x is added in cfenv’s own node_modules (the root keeps its js-yaml 3.13.1)', async () => {
    const reg = registry();
    const result = await updateNpmLockfileResolving({ file: 'package-lock.json', text: GOOF, name: 'cfenv', version: '1.2.0', metadata: CFENV_120, requirement: '^1.2.0' }, reg.read);
    expect(result.status).toBe('updated');
    if (result.status !== 'updated') return;
    expect(reg.asked).toEqual(['js-yaml']);
    expect(result.resolved).toEqual([{ location: 'node_modules/cfenv/node_modules/js-yaml', name: 'js-yaml', version: '3.11.0', change: 'added', requiredBy: 'node_modules/cfenv', requirement: '3.11.x' }]);
    const before = readLockfile('package-lock.json', GOOF);
    const after = readLockfile('package-lock.json', result.text);
    expect(before.packages['node_modules/js-yaml']?.version).toBe(after.packages['node_modules/js-yaml']?.version);
    expect(after.packages['node_modules/cfenv']).toMatchObject({ version: '1.2.0', dependencies: { 'js-yaml': '3.11.x', ports: '1.1.x', underscore: '1.9.x' } });
    expect(after.packages['node_modules/cfenv/node_modules/js-yaml']).toMatchObject({
      version: '3.11.0',
      resolved: 'https://npm-registry.invalid/js-yaml/-/js-yaml-3.11.0.tgz',
      dependencies: { argparse: '^1.0.7', esprima: '^4.0.0' },
    });
    // Every edge resolves, and the new entry's dependencies resolve to the root's argparse and esprima.
    expect(after.edges.filter((e) => e.to === null && e.kind !== 'peer')).toEqual(before.edges.filter((e) => e.to === null && e.kind !== 'peer'));
    expect(after.edges.filter((e) => e.from === 'node_modules/cfenv/node_modules/js-yaml').map((e) => e.to)).toEqual(['node_modules/argparse', 'node_modules/esprima']);
    // Byte-exact elsewhere: the original is the result minus the lines written, in order.
    const { removed, added } = lineChanges(GOOF, result.text);
    // packages[""]'s requirement, then the entry in `packages` and in the legacy `dependencies` mirror.
    const entry = [
      '      "version": "1.2.2",',
      '      "resolved": "https://npm-registry.invalid/cfenv/-/cfenv-1.2.2.tgz",',
      '      "integrity": "sha512-fl8xrG9ezqfO7L664lL+/vkqXun0D/xS/0IJ9++IMHLR6SI0If56C/KIHy9oIGb8jq9swHZFdct1MfN/80yYUw==",',
      '        "js-yaml": "3.13.x",',
    ];
    expect(removed).toEqual(['        "cfenv": "^1.0.4",', ...entry, ...entry]);
    expect(added.filter((l) => l.includes('js-yaml-3.11.0.tgz'))).toHaveLength(2);
    // npm agrees the lock is in sync with the bumped package.json.
    const pkg = GOOF_PACKAGE.replace('"cfenv": "^1.0.4"', '"cfenv": "^1.2.0"');
    expect(pkg).not.toBe(GOOF_PACKAGE);
    const ok = await npmCiDryRun(pkg, result.text);
    expect(ok.output).toMatch(/added \d+ packages/);
    expect(ok.exitCode).toBe(0);
    // The control: without the resolved js-yaml the same lock is out of sync.
    const withoutYaml = JSON.parse(result.text) as { packages: Record<string, unknown>; dependencies: { cfenv: { dependencies?: unknown } } };
    delete withoutYaml.packages['node_modules/cfenv/node_modules/js-yaml'];
    delete withoutYaml.dependencies.cfenv.dependencies;
    const broken = await npmCiDryRun(pkg, JSON.stringify(withoutYaml, null, 2));
    expect(broken.exitCode).not.toBe(0);
  }, 180_000);

  it('bumps express-session 1.17.2 → 1.18.1 (cookie 0.7.2, GHSA-pxg6-pf52-xh8x): the nested cookie and the root cookie-signature move', async () => {
    const reg = registry();
    const metadata = packumentVersion(JSON.parse(fixture('registry/express-session.json')), 'express-session', '1.18.1', 'registry/express-session.json');
    const result = await updateNpmLockfileResolving({ file: 'package-lock.json', text: GOOF, name: 'express-session', version: '1.18.1', metadata, requirement: '^1.18.1' }, reg.read);
    expect(result.status).toBe('updated');
    if (result.status !== 'updated') return;
    expect(result.resolved).toEqual([
      { location: 'node_modules/cookie-signature', name: 'cookie-signature', version: '1.0.7', change: 'moved', requiredBy: 'node_modules/express-session', requirement: '1.0.7' },
      { location: 'node_modules/express-session/node_modules/cookie', name: 'cookie', version: '0.7.2', change: 'moved', requiredBy: 'node_modules/express-session', requirement: '0.7.2' },
    ]);
    const after = readLockfile('package-lock.json', result.text);
    expect(after.packages['node_modules/cookie']?.version).toBe('0.1.2');
    expect(after.packages['node_modules/express/node_modules/cookie-signature']?.version).toBe('1.0.6');
    const pkg = GOOF_PACKAGE.replace('"express-session": "^1.17.2"', '"express-session": "^1.18.1"');
    const ok = await npmCiDryRun(pkg, result.text);
    expect(ok.output).toMatch(/added \d+ packages/);
    expect(ok.exitCode).toBe(0);
  }, 180_000);

  it('refuses when no published version satisfies a new dependency', async () => {
    const meta = { ...(CFENV_120 as Record<string, unknown>), dependencies: { 'js-yaml': '3.99.x' } };
    const result = await updateNpmLockfileResolving({ file: 'package-lock.json', text: GOOF, name: 'cfenv', version: '1.2.0', metadata: meta, requirement: '^1.2.0' }, registry().read);
    expect(result).toEqual({
      status: 'unsatisfied',
      missing: [{ location: 'node_modules/cfenv', name: 'js-yaml', requirement: '3.99.x', kind: 'prod', found: '3.13.1' }],
      conflicts: [],
    });
  });
});

describe('pickNpmVersion (npm-pick-manifest’s choice)', () => {
  const packument = {
    name: 'p',
    'dist-tags': { latest: '1.2.0' },
    versions: { '1.0.0': {}, '1.2.0': {}, '1.3.0': { deprecated: 'broken' }, '1.4.0-beta.1': {}, '2.0.0': {} },
  };
  it('prefers dist-tags.latest when it satisfies, else the highest non-deprecated, no pre-releases unless asked', () => {
    expect(pickNpmVersion(packument, '^1.0.0')).toBe('1.2.0');
    expect(pickNpmVersion(packument, '>=1.3.0')).toBe('2.0.0');
    expect(pickNpmVersion(packument, '1.3.x')).toBe('1.3.0');
    expect(pickNpmVersion(packument, '^1.4.0-beta.0')).toBe('1.4.0-beta.1');
    expect(pickNpmVersion(packument, '^3.0.0')).toBeNull();
    expect(pickNpmVersion(packument, 'not a range')).toBeNull();
  });
});
