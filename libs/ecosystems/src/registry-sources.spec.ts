import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidInputError } from '@remediation/errors';
import { SnapshotDirectorySource, type VersionSource } from '@remediation/registry';
import { fixturePath } from '@remediation/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NpmReleaseSource, npmVersioning, pep440Versioning, PypiSnapshotSource } from './index.js';

describe('NpmReleaseSource: an npm VersionSource as a RegistrySource', () => {
  it('reads the packument snapshot: every semver version ascending, latest from dist-tags', async () => {
    const dir = fixturePath('registry/npm');
    const source = new NpmReleaseSource(new SnapshotDirectorySource(dir), dir);
    const cookie = await source.releases('cookie');
    expect(cookie).toMatchObject({ name: 'cookie', source: dir, latest: '2.0.2' });
    const versions = cookie.versions.map((v) => v.version);
    expect(versions).toEqual([...versions].sort(npmVersioning.compare));
    expect(versions).toContain('0.7.0');
    expect(cookie.versions.every((v) => !v.yanked && !v.deprecated)).toBe(true);
  });

  it('marks deprecated versions, which are then no candidates', async () => {
    const versions: VersionSource = {
      listVersions: async (name) => ({ name, versions: ['1.0.0', '1.0.1', '1.1.0'], distTags: {}, deprecated: new Set(['1.0.1']) }),
    };
    const releases = await new NpmReleaseSource(versions, 'memory').releases('pkg');
    expect(releases.latest).toBeUndefined();
    expect(releases.versions.filter((v) => v.deprecated).map((v) => v.version)).toEqual(['1.0.1']);
    expect(npmVersioning.candidates(releases.versions)).toEqual(['1.0.0', '1.1.0']);
    expect(npmVersioning.candidates(releases.versions, ['1.0.1'])).toEqual(['1.0.0', '1.0.1', '1.1.0']);
  });

  it('passes each version\'s dependencies on when the version source read them', async () => {
    const versions: VersionSource = {
      listVersions: async (name) => ({
        name,
        versions: ['1.0.0', '1.1.0'],
        distTags: {},
        deprecated: new Set<string>(),
        dependencies: new Map([['1.1.0', { ms: '^2.1.1' }]]),
      }),
    };
    const releases = await new NpmReleaseSource(versions, 'memory').releases('pkg');
    expect(releases.versions).toEqual([
      { version: '1.0.0', yanked: false, deprecated: false },
      { version: '1.1.0', yanked: false, deprecated: false, dependencies: { ms: '^2.1.1' } },
    ]);
  });
});

describe('PypiSnapshotSource: a folder of PyPI documents', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pypi-snapshot-spec-'));
    // A saved JSON API answer (https://docs.pypi.org/api/json/), trimmed to `releases`.
    await writeFile(
      join(dir, 'flask-sqlalchemy.json'),
      JSON.stringify({
        info: { name: 'Flask-SQLAlchemy', version: '3.0.1' },
        releases: {
          '2.2': [{ yanked: false, upload_time_iso_8601: '2017-02-27T00:00:00Z' }],
          '3.0.0': [{ yanked: true, yanked_reason: 'broken', requires_python: '>=3.7' }],
          '3.0.1': [{ yanked: false, requires_python: '>=3.7' }],
          '3.1.0rc1': [{ yanked: false }],
        },
      }),
    );
    await writeFile(join(dir, 'broken.json'), '{ not json');
    await writeFile(join(dir, 'empty.json'), JSON.stringify({ name: 'empty' }));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('reads a tools/pypi-local package file (test/fixtures/registry/pypi) by PEP 503 name', async () => {
    const source = new PypiSnapshotSource(fixturePath('registry/pypi'));
    const yaml = await source.releases('PyYAML');
    expect(yaml.name).toBe('pyyaml');
    expect(yaml.source).toBe(fixturePath('registry/pypi'));
    const versions = yaml.versions.map((v) => v.version);
    expect(versions).toEqual([...versions].sort(pep440Versioning.compare));
    expect(versions).toEqual(expect.arrayContaining(['5.1', '5.2b1', '5.4']));
    expect(pep440Versioning.candidates(yaml.versions)).not.toContain('5.2b1');
  });

  it('reads a JSON API document: yanked with reason, Requires-Python, upload time', async () => {
    const releases = await new PypiSnapshotSource(dir).releases('Flask_SQLAlchemy');
    expect(releases.name).toBe('flask-sqlalchemy');
    expect(releases.versions).toEqual([
      { version: '2.2', yanked: false, deprecated: false, releasedAt: '2017-02-27T00:00:00Z' },
      { version: '3.0.0', yanked: true, yankedReason: 'broken', deprecated: false, requiresPython: '>=3.7' },
      { version: '3.0.1', yanked: false, deprecated: false, requiresPython: '>=3.7' },
      { version: '3.1.0rc1', yanked: false, deprecated: false },
    ]);
    expect(pep440Versioning.candidates(releases.versions)).toEqual(['2.2', '3.0.1']);
    expect(pep440Versioning.candidates(releases.versions, ['3.0.0'])).toEqual(['2.2', '3.0.0', '3.0.1']);
  });

  it('names what is wrong: unknown package, bad name, unreadable document', async () => {
    const source = new PypiSnapshotSource(dir);
    const codeOf = async (name: string): Promise<string> => {
      const err = await source.releases(name).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(InvalidInputError);
      return (err as InvalidInputError).code;
    };
    expect(await codeOf('no-such-package')).toBe('PACKAGE_NOT_FOUND');
    expect(await codeOf('../etc/passwd')).toBe('PACKAGE_NAME_INVALID');
    expect(await codeOf('broken')).toBe('REGISTRY_DOCUMENT_INVALID');
    expect(await codeOf('empty')).toBe('REGISTRY_DOCUMENT_INVALID');
  });
});
