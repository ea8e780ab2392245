import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { LockfileInvalidError, ROOT_ID, detectLockfileKind, pathsTo, readLockfile, readNpmLockfile, type ResolvedGraph } from './index.js';

const fixture = (path: string) => readFileSync(new URL(`./__fixtures__/${path}`, import.meta.url), 'utf8');
const GOOF = fixture('nodejs-goof/package-lock.json');

/** Edges out of a package, as `name → target id`. */
function edgesFrom(graph: ResolvedGraph, id: string): Record<string, string | null> {
  return Object.fromEntries(graph.edges.filter((e) => e.from === id).map((e) => [e.name, e.to]));
}

describe('npm package-lock.json (nodejs-goof, lockfileVersion 2)', () => {
  const graph = readLockfile('package-lock.json', GOOF);

  it('reads every installed entry and the root requirements of packages[""]', () => {
    expect(graph.kind).toBe('npm-package-lock');
    expect(graph.lockfileVersion).toBe('2');
    expect(graph.root).toMatchObject({ name: 'goof', version: '1.0.1' });
    expect(Object.keys(graph.packages)).toHaveLength(1274);
    expect(graph.rootsInferred).toBe(false);
    const direct = graph.root.dependencies;
    expect(direct.filter((d) => d.kind === 'prod')).toHaveLength(32);
    expect(direct.filter((d) => d.kind === 'dev').map((d) => d.name)).toEqual(['browserify', 'nodemon', 'snyk']);
    expect(direct.find((d) => d.name === 'express')).toEqual({ name: 'express', requirement: '4.12.4', kind: 'prod', to: 'node_modules/express', importer: '.' });
    expect(direct.find((d) => d.name === 'method-override')?.requirement).toBe('latest');
    // Every requirement of the real lock resolves to an installed entry.
    expect(graph.edges.filter((e) => e.to === null)).toEqual([]);
  });

  it('keeps version, resolved, integrity and flags of each entry', () => {
    expect(graph.packages['node_modules/express/node_modules/debug']).toEqual({
      id: 'node_modules/express/node_modules/debug',
      ecosystem: 'npm',
      name: 'debug',
      version: '2.2.0',
      resolved: 'https://npm-registry.invalid/debug/-/debug-2.2.0.tgz',
      integrity: 'sha1-+HBX6ZWxofauaklgZkE3vFbwOdo=',
      dependencies: { ms: '0.7.1' },
      locations: ['node_modules/express/node_modules/debug'],
    });
    expect(graph.packages['node_modules/@sindresorhus/is']).toMatchObject({ name: '@sindresorhus/is', version: '0.14.0', dev: true });
  });

  it('resolves edges by Node module resolution: nested node_modules first, then up the tree', () => {
    const express = edgesFrom(graph, 'node_modules/express');
    expect(express['debug']).toBe('node_modules/express/node_modules/debug');
    expect(express['qs']).toBe('node_modules/express/node_modules/qs');
    expect(express['cookie']).toBe('node_modules/cookie');
    expect(express['send']).toBe('node_modules/send');
    // From a nested package, its own node_modules, then the parent's, then the top.
    expect(edgesFrom(graph, 'node_modules/express/node_modules/debug')['ms']).toBe('node_modules/express/node_modules/ms');
    expect(graph.packages['node_modules/express/node_modules/ms']?.version).toBe('0.7.1');
    expect(graph.packages['node_modules/ms']?.version).toBe('0.7.3');
  });

  it('lists every path from a direct dependency to minimist (all five installed copies)', () => {
    const found = pathsTo(graph, 'minimist');
    expect(found.targets).toEqual([
      'node_modules/minimist',
      'node_modules/nyc/node_modules/minimist',
      'node_modules/optimist/node_modules/minimist',
      'node_modules/tap/node_modules/minimist',
      'node_modules/typeorm/node_modules/minimist',
    ]);
    expect(found.truncated).toBe(false);
    expect(found.paths).toHaveLength(18);
    const toTop = found.paths.filter((p) => p.at(-1) === 'node_modules/minimist');
    expect(toTop).toEqual([
      ['node_modules/tap', 'node_modules/coveralls', 'node_modules/minimist'],
      ['node_modules/browserify', 'node_modules/deps-sort', 'node_modules/subarg', 'node_modules/minimist'],
      ['node_modules/browserify', 'node_modules/module-deps', 'node_modules/subarg', 'node_modules/minimist'],
      ['node_modules/browserify', 'node_modules/subarg', 'node_modules/minimist'],
      [
        'node_modules/nodemon',
        'node_modules/nodemon/node_modules/update-notifier',
        'node_modules/nodemon/node_modules/latest-version',
        'node_modules/nodemon/node_modules/package-json',
        'node_modules/nodemon/node_modules/registry-auth-token',
        'node_modules/rc',
        'node_modules/minimist',
      ],
      [
        'node_modules/nodemon',
        'node_modules/nodemon/node_modules/update-notifier',
        'node_modules/nodemon/node_modules/latest-version',
        'node_modules/nodemon/node_modules/package-json',
        'node_modules/nodemon/node_modules/registry-url',
        'node_modules/rc',
        'node_modules/minimist',
      ],
      ['node_modules/snyk', 'node_modules/update-notifier', 'node_modules/latest-version', 'node_modules/package-json', 'node_modules/registry-auth-token', 'node_modules/rc', 'node_modules/minimist'],
      ['node_modules/snyk', 'node_modules/update-notifier', 'node_modules/latest-version', 'node_modules/package-json', 'node_modules/registry-url', 'node_modules/rc', 'node_modules/minimist'],
    ]);
  });

  it('caps the number of paths and reports the truncation', () => {
    const capped = pathsTo(graph, { name: 'ms', version: '0.7.1' }, { maxPaths: 3 });
    expect(capped.paths).toHaveLength(3);
    expect(capped.truncated).toBe(true);
    expect(capped.paths[0]).toEqual(['node_modules/express', 'node_modules/express/node_modules/debug', 'node_modules/express/node_modules/ms']);
    expect(pathsTo(graph, { name: 'ms', version: '0.7.1' }).truncated).toBe(false);
    // A direct dependency that is itself the target is a path of one.
    expect(pathsTo(graph, { name: 'express' }).paths).toEqual([['node_modules/express']]);
  });

  it('reads the same lock as v1 (its nested `dependencies` mirror) and as v3 (`packages` only)', () => {
    const doc = JSON.parse(GOOF) as Record<string, unknown>;
    const v1 = readNpmLockfile('package-lock.json', JSON.stringify({ ...doc, lockfileVersion: 1, packages: undefined }), {
      manifest: fixture('nodejs-goof/package.json'),
    });
    expect(v1.lockfileVersion).toBe('1');
    expect(Object.keys(v1.packages).sort()).toEqual(Object.keys(graph.packages).sort());
    expect(edgesFrom(v1, 'node_modules/express')).toEqual(edgesFrom(graph, 'node_modules/express'));
    expect(v1.root.dependencies.find((d) => d.name === 'tap')).toMatchObject({ requirement: '^11.1.3', to: 'node_modules/tap' });
    expect(pathsTo(v1, 'minimist').paths).toHaveLength(18);

    const inferred = readNpmLockfile('package-lock.json', JSON.stringify({ ...doc, lockfileVersion: 1, packages: undefined }));
    expect(inferred.rootsInferred).toBe(true);
    expect(inferred.root.dependencies.map((d) => d.name)).toContain('express');

    const v3 = readLockfile('npm-shrinkwrap.json', JSON.stringify({ ...doc, lockfileVersion: 3, dependencies: undefined }));
    expect(v3.kind).toBe('npm-shrinkwrap');
    expect(v3.lockfileVersion).toBe('3');
    expect(v3.edges).toEqual(graph.edges);
  });
});

describe('npm workspaces (lockfileVersion 3)', () => {
  it('a workspace folder is an importer and a package; its node_modules link resolves to it', () => {
    const text = JSON.stringify({
      name: 'mono',
      lockfileVersion: 3,
      packages: {
        '': { name: 'mono', workspaces: ['packages/*'], devDependencies: { a: '*' } },
        'node_modules/a': { resolved: 'packages/a', link: true },
        'node_modules/b': { version: '1.2.0', resolved: 'https://npm-registry.invalid/b/-/b-1.2.0.tgz', integrity: 'sha512-b' },
        'packages/a': { name: 'a', version: '0.1.0', dependencies: { b: '^1.0.0' } },
      },
    });
    const graph = readLockfile('package-lock.json', text);
    expect(graph.root.dependencies).toEqual([
      { name: 'a', requirement: '*', kind: 'dev', to: 'packages/a', importer: '.' },
      { name: 'b', requirement: '^1.0.0', kind: 'prod', to: 'node_modules/b', importer: 'packages/a' },
    ]);
    expect(graph.packages['packages/a']).toMatchObject({ name: 'a', version: '0.1.0', locations: ['packages/a', 'node_modules/a'] });
    expect(pathsTo(graph, 'b').paths).toEqual([['packages/a', 'node_modules/b'], ['node_modules/b']]);
  });
});

describe('yarn.lock', () => {
  it('v1 (yarnpkg/yarn): one package per resolved version, edges by descriptor, unresolved ones kept', () => {
    const graph = readLockfile('yarn.lock', fixture('yarn-v1/yarn.lock'));
    expect(graph.kind).toBe('yarn-v1');
    expect(graph.packages['acorn@5.7.1']).toMatchObject({
      version: '5.7.1',
      integrity: 'sha512-d+nbxBUGKg7Arpsvbnlq61mc12ek3EY8EQldM3GPAhWJ1UVxC6TDGbIvUMNU6obBX3i1+ptCIzV4vq0gFPEGVQ==',
      locations: ['acorn@5.X', 'acorn@^5.0.0', 'acorn@^5.0.3', 'acorn@^5.5.0', 'acorn@^5.5.3'],
    });
    expect(edgesFrom(graph, 'acorn-jsx@3.0.1')).toEqual({ acorn: 'acorn@3.3.0' });
    expect(edgesFrom(graph, 'acorn-dynamic-import@2.0.2')).toEqual({ acorn: 'acorn@4.0.13' });
    expect(edgesFrom(graph, 'acorn-globals@4.1.0')).toEqual({ acorn: 'acorn@5.7.1' });
    expect(edgesFrom(graph, 'ansi-styles@3.2.1')).toEqual({ 'color-convert': null });
    expect(graph.rootsInferred).toBe(true);
    expect(pathsTo(graph, 'ansi-wrap').paths).toEqual([
      ['ansi-gray@0.1.1', 'ansi-wrap@0.1.0'],
      ['ansi-red@0.1.1', 'ansi-wrap@0.1.0'],
    ]);
    const withManifest = readLockfile('yarn.lock', fixture('yarn-v1/yarn.lock'), { manifest: '{"devDependencies":{"acorn-jsx":"^3.0.0"}}' });
    expect(withManifest.root.dependencies).toEqual([{ name: 'acorn-jsx', requirement: '^3.0.0', kind: 'dev', to: 'acorn-jsx@3.0.1', importer: '.' }]);
  });

  it('Berry v8 (osv-scanner fixture): the root workspace entry gives the direct dependencies', () => {
    const graph = readLockfile('yarn.lock', fixture('yarn-berry/yarn.lock'));
    expect(graph.kind).toBe('yarn-berry');
    expect(graph.lockfileVersion).toBe('8');
    expect(graph.root).toEqual({
      name: 'osv-scanner',
      version: '0.0.0-use.local',
      dependencies: [
        { name: 'balanced-match', requirement: 'npm:^1.0.0', kind: 'prod', to: 'balanced-match@npm:1.0.2', importer: '.' },
        { name: 'supports-color', requirement: 'npm:10.0.0', kind: 'prod', to: 'supports-color@npm:10.0.0', importer: '.' },
      ],
    });
    expect(graph.packages['balanced-match@npm:1.0.2']?.integrity).toBe(
      '10c0/9308baf0a7e4838a82bbfd11e01b1cb0f0cf2893bc1676c27c2a8c0e70cbae1c59120c3268517a8ae7fb6376b4639ef81ca22582611dbee4ed28df945134aaee',
    );
  });

  it('Berry v4 (yarnpkg/berry, trimmed): ranges without a protocol resolve through npm:', () => {
    const graph = readLockfile('yarn.lock', fixture('yarn-berry-v4/yarn.lock'));
    expect(graph.lockfileVersion).toBe('4');
    expect(edgesFrom(graph, '@algolia/transporter@npm:4.2.0')).toEqual({
      '@algolia/cache-common': '@algolia/cache-common@npm:4.2.0',
      '@algolia/logger-common': '@algolia/logger-common@npm:4.2.0',
      '@algolia/requester-common': '@algolia/requester-common@npm:4.2.0',
    });
    expect(pathsTo(graph, '@algolia/logger-common').paths).toEqual([
      ['@algolia/client-common@npm:4.2.0', '@algolia/transporter@npm:4.2.0', '@algolia/logger-common@npm:4.2.0'],
    ]);
    expect(graph.rootsInferred).toBe(true);
  });
});

describe('pnpm-lock.yaml', () => {
  it('9.0 with importers (osv-scanner fixture): snapshots give edges, each importer its direct dependencies', () => {
    const graph = readLockfile('pnpm-lock.yaml', fixture('pnpm-9/pnpm-lock.yaml'));
    expect(graph.lockfileVersion).toBe('9.0');
    expect(graph.root.dependencies).toEqual([
      { name: 'debug', requirement: '2.6.9', kind: 'dev', to: 'debug@2.6.9', importer: '.' },
      { name: 'lodash', requirement: '<4.17.21', kind: 'prod', to: 'lodash@4.17.20', importer: 'modules/module_1' },
      { name: 'debug', requirement: '<4.3.7', kind: 'dev', to: 'debug@4.3.6', importer: 'modules/module_1' },
    ]);
    expect(edgesFrom(graph, 'debug@4.3.6')).toEqual({ ms: 'ms@2.1.2' });
    expect(graph.packages['ms@2.0.0']?.integrity).toBe('sha512-Tpp60P6IUJDTuOq/5Z8cdskzJujfwqfOTkrwIwj7IRISpnkJnT6SyJ4PCPnGMoFjC9ddhal5KVIYtAt97ix05A==');
    expect(pathsTo(graph, 'ms').paths).toEqual([
      ['debug@2.6.9', 'ms@2.0.0'],
      ['debug@4.3.6', 'ms@2.1.2'],
    ]);
  });

  it('5.3 (osv-scanner fixture): `/name/version` keys, specifiers and dev flags', () => {
    const graph = readLockfile('pnpm-lock.yaml', fixture('pnpm-5/pnpm-lock.yaml'));
    expect(graph.lockfileVersion).toBe('5.3');
    expect(graph.root.dependencies).toEqual([
      { name: 'acorn', requirement: '^8.7.0', kind: 'prod', to: '/acorn/8.7.0', importer: '.' },
      { name: 'debug', requirement: '1.0.0', kind: 'dev', to: '/debug/1.0.0', importer: '.' },
    ]);
    expect(graph.packages['/debug/1.0.0']).toMatchObject({ name: 'debug', version: '1.0.0', dev: true });
  });

  it('6.0 keys `/name@version(peers)`', () => {
    const text = "lockfileVersion: '6.0'\n\ndependencies:\n  a:\n    specifier: ^1.0.0\n    version: 1.0.0(b@2.0.0)\n\npackages:\n\n  /a@1.0.0(b@2.0.0):\n    resolution: {integrity: sha512-x}\n    dependencies:\n      b: 2.0.0\n    dev: false\n\n  /b@2.0.0:\n    resolution: {integrity: sha512-y}\n    dev: false\n";
    const graph = readLockfile('pnpm-lock.yaml', text);
    expect(graph.root.dependencies).toEqual([{ name: 'a', requirement: '^1.0.0', kind: 'prod', to: '/a@1.0.0(b@2.0.0)', importer: '.' }]);
    expect(graph.packages['/a@1.0.0(b@2.0.0)']).toMatchObject({ name: 'a', version: '1.0.0' });
    expect(edgesFrom(graph, '/a@1.0.0(b@2.0.0)')).toEqual({ b: '/b@2.0.0' });
  });
});

describe('Python lockfiles', () => {
  it('poetry.lock (astral-sh/uv pep508-rs, trimmed): PEP 503 names, constraints, sdist hashes', () => {
    const graph = readLockfile('poetry.lock', fixture('poetry/poetry.lock'));
    expect(graph.kind).toBe('poetry');
    expect(graph.lockfileVersion).toBe('2.0');
    expect(graph.packages['jedi@0.18.2']).toMatchObject({ ecosystem: 'pypi', dependencies: { parso: '>=0.8.0,<0.9.0' } });
    expect(graph.packages['zipp@3.15.0']?.integrity).toBe('sha256:112929ad649da941c23de50f356a2b5570c954b65150642bccdd66bf194d224b');
    expect(edgesFrom(graph, 'importlib-metadata@6.6.0')).toEqual({ 'typing-extensions': 'typing-extensions@4.6.2', zipp: 'zipp@3.15.0' });
    expect(graph.root.dependencies.map((d) => d.name)).toEqual(['click', 'jedi']);
    expect(pathsTo(graph, 'zipp').paths).toEqual([['click@8.1.3', 'importlib-metadata@6.6.0', 'zipp@3.15.0']]);
    const withManifest = readLockfile('poetry.lock', fixture('poetry/poetry.lock'), {
      manifest: '[tool.poetry]\nname = "x"\n\n[tool.poetry.dependencies]\npython = "^3.7"\nJedi = "^0.18"\n',
    });
    expect(withManifest.rootsInferred).toBe(false);
    expect(withManifest.root.dependencies).toEqual([{ name: 'jedi', requirement: '^0.18', kind: 'prod', to: 'jedi@0.18.2', importer: '.' }]);
  });

  it('uv.lock (astral-sh/uv): the virtual root member, versions pinned twice, extras', () => {
    const graph = readLockfile('uv.lock', fixture('uv/uv.lock'));
    expect(graph.kind).toBe('uv');
    expect(graph.lockfileVersion).toBe('1.1');
    expect(graph.root.name).toBe('project');
    expect(graph.root.dependencies).toEqual([
      { name: 'anyio', requirement: '*', kind: 'prod', to: 'anyio@1.3.1', importer: '.' },
      { name: 'anyio', requirement: '*', kind: 'prod', to: 'anyio@4.8.0', importer: '.' },
      { name: 'idna', requirement: '<=1', kind: 'optional', to: 'idna@1.0', importer: '.' },
      { name: 'idna', requirement: '<=2', kind: 'optional', to: 'idna@1.0', importer: '.' },
    ]);
    expect(edgesFrom(graph, 'anyio@4.8.0')).toEqual({ idna: 'idna@3.10', sniffio: 'sniffio@1.3.1', 'typing-extensions': 'typing-extensions@4.12.2' });
    expect(graph.packages['sniffio@1.3.1']).toMatchObject({
      resolved: 'https://files.pythonhosted.org/packages/a2/87/a6771e1546d97e7e041b6ae58d80074f81b7d5121207425c964ddf5cfdbd/sniffio-1.3.1.tar.gz',
      integrity: 'sha256:f4324edc670a0f49750a81b895f35c3adb843cca46f0530f79fc1babb23789dc',
    });
    expect(pathsTo(graph, 'sniffio').paths).toEqual([
      ['anyio@1.3.1', 'sniffio@1.3.1'],
      ['anyio@4.8.0', 'sniffio@1.3.1'],
    ]);
  });
});

describe('Cargo.lock (sharkdp/fd, trimmed)', () => {
  const graph = readLockfile('Cargo.lock', fixture('cargo/Cargo.lock'));

  it('the member without source is the importer; `name version` references pick one of two versions', () => {
    expect(graph.kind).toBe('cargo');
    expect(graph.lockfileVersion).toBe('3');
    const direct = graph.root.dependencies.filter((d) => d.to !== null).map((d) => d.to);
    expect(direct).toEqual(['aho-corasick@1.1.3', 'faccess@0.2.4', 'libc@0.2.174', 'nix@0.30.1', 'regex@1.11.2', 'regex-syntax@0.8.6']);
    expect(graph.root.dependencies.every((d) => d.importer === 'fd-find')).toBe(true);
    expect(edgesFrom(graph, 'faccess@0.2.4')).toEqual({ bitflags: 'bitflags@1.3.2', libc: 'libc@0.2.174', winapi: null });
    expect(edgesFrom(graph, 'nix@0.30.1')['bitflags']).toBe('bitflags@2.9.1');
    expect(graph.packages['memchr@2.7.5']).toMatchObject({
      ecosystem: 'cargo',
      resolved: 'registry+https://github.com/rust-lang/crates.io-index',
      integrity: '32a282da65faaf38286cf3be983213fcf1d2e2a58700e808f83f4ea9a4804bc0',
    });
  });

  it('paths to memchr', () => {
    expect(pathsTo(graph, 'memchr').paths).toEqual([
      ['aho-corasick@1.1.3', 'memchr@2.7.5'],
      ['regex@1.11.2', 'aho-corasick@1.1.3', 'memchr@2.7.5'],
      ['regex@1.11.2', 'memchr@2.7.5'],
      ['regex@1.11.2', 'regex-automata@0.4.9', 'aho-corasick@1.1.3', 'memchr@2.7.5'],
      ['regex@1.11.2', 'regex-automata@0.4.9', 'memchr@2.7.5'],
    ]);
  });
});

describe('go.mod + go.sum (viper v1.6.2)', () => {
  const graph = readLockfile('go.sum', fixture('viper-v1.6.2/go.sum'), {
    goMod: { file: 'go.mod', text: fixture('viper-v1.6.2/go.mod') },
  });

  it('direct requires from go.mod, module hashes from go.sum, no package edges', () => {
    expect(graph.kind).toBe('go-sum');
    expect(graph.edgesComplete).toBe(false);
    expect(graph.root.name).toBe('github.com/spf13/viper');
    expect(graph.root.dependencies.map((d) => `${d.name}@${d.requirement}`)).toEqual([
      'github.com/fsnotify/fsnotify@v1.4.7',
      'github.com/hashicorp/hcl@v1.0.0',
      'github.com/magiconair/properties@v1.8.1',
      'github.com/mitchellh/mapstructure@v1.1.2',
      'github.com/pelletier/go-toml@v1.2.0',
      'github.com/spf13/afero@v1.1.2',
      'github.com/spf13/cast@v1.3.0',
      'github.com/spf13/jwalterweatherman@v1.0.0',
      'github.com/spf13/pflag@v1.0.3',
      'github.com/stretchr/testify@v1.2.2',
      'github.com/subosito/gotenv@v1.2.0',
      'github.com/xordataexchange/crypt@v0.0.3-0.20170626215501-b2862e3d0a77',
      'gopkg.in/ini.v1@v1.51.0',
      'gopkg.in/yaml.v2@v2.2.4',
    ]);
    expect(graph.packages['github.com/spf13/afero@v1.1.2']).toMatchObject({ ecosystem: 'golang', integrity: 'h1:m8/z1t7/fwjysjQRYbP0RD+bUIF/8tJwPdEZsI83ACI=' });
    // An indirect require is a package, not a direct dependency.
    expect(graph.packages['github.com/dgrijalva/jwt-go@v3.2.0+incompatible']?.version).toBe('v3.2.0+incompatible');
    expect(graph.root.dependencies.some((d) => d.name === 'github.com/dgrijalva/jwt-go')).toBe(false);
    expect(graph.edges.every((e) => e.from === ROOT_ID)).toBe(true);
  });
});

describe('detection and errors', () => {
  it('detects the kind from the name, and from the content for other names', () => {
    expect(detectLockfileKind('sub/yarn.lock', fixture('yarn-berry/yarn.lock'))).toBe('yarn-berry');
    expect(detectLockfileKind('yarn.lock', fixture('yarn-v1/yarn.lock'))).toBe('yarn-v1');
    expect(detectLockfileKind('backup.lock', fixture('cargo/Cargo.lock'))).toBe('cargo');
    expect(detectLockfileKind('lock.txt', fixture('poetry/poetry.lock'))).toBe('poetry');
    expect(detectLockfileKind('lock.txt', fixture('uv/uv.lock'))).toBe('uv');
    expect(detectLockfileKind('lock.yaml', fixture('pnpm-9/pnpm-lock.yaml'))).toBe('pnpm');
    expect(detectLockfileKind('old.json', '{\n  "lockfileVersion": 3,\n  "packages": {}\n}')).toBe('npm-package-lock');
    expect(detectLockfileKind('sums', fixture('viper-v1.6.2/go.sum'))).toBe('go-sum');
  });

  it('names the file and what is wrong', () => {
    const cases: Array<[string, string, RegExp]> = [
      ['README.md', '# hello', /README\.md is not a valid lockfile: neither the name nor the content/],
      ['package-lock.json', '{"lockfileVersion": 7, "packages": {}}', /package-lock\.json at lockfileVersion is not a valid npm-package-lock: lockfileVersion 7 is not 1, 2 or 3/],
      ['package-lock.json', '{"lockfileVersion": 2, "packages": {"node_modules/a": {}}}', /at packages\["node_modules\/a"\] .*no "version"/],
      ['package-lock.json', '{"lockfileVersion": 2,', /package-lock\.json is not a valid npm-package-lock: not JSON/],
      ['Cargo.lock', 'version = 3\n[[package]]\nname = "a"\n', /Cargo\.lock at package\[0\] is not a valid cargo: the entry has no string "name" and "version"/],
      ['Cargo.lock', '[[package]\n', /Cargo\.lock is not a valid cargo: not valid TOML/],
      ['pnpm-lock.yaml', 'lockfileVersion: 4.0\n', /lockfileVersion "4" is not 5\.x, 6\.x or 9\.x/],
      ['yarn.lock', '__metadata:\n  version: 8\n\n"a@npm:1":\n  version: 1\n', /yarn\.lock at "?a@npm:1"? is not a valid yarn-berry: the entry has no "version" or "resolution"/],
      ['go.sum', 'example.com/m v1.0.0 h1:abc=\nexample.com/m v1.0.0\n', /go\.sum line 2 is not a valid go-sum: expected "module version hash", found 2 fields/],
      ['uv.lock', '[[package]]\nname = "a"\n', /uv\.lock at version is not a valid uv: it has no integer "version"/],
    ];
    for (const [file, text, message] of cases) {
      let caught: unknown;
      try {
        readLockfile(file, text);
      } catch (err) {
        caught = err;
      }
      expect(caught, file).toBeInstanceOf(LockfileInvalidError);
      expect((caught as LockfileInvalidError).code).toBe('LOCKFILE_INVALID');
      expect((caught as LockfileInvalidError).details?.['file']).toBe(file);
      expect((caught as Error).message).toMatch(message);
    }
  });
});
