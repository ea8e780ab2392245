import type { Registry } from '@remediation/metrics';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { InvalidInputError, TransientError } from '@remediation/errors';
import { assertPackageName, LookupCache, toPackageVersions } from './packument.js';
import type { PackageVersions, VersionSource } from './types.js';

/**
 * File names tried for a package, in order: `<name>.json`; for `@scope/name`,
 * `scope__name.json` (the layout of the test snapshots, see test/fixtures/PROVENANCE.md
 * "registry/npm") then `@scope__name.json`.
 */
export function snapshotFileNames(name: string): string[] {
  if (!name.startsWith('@')) return [`${name}.json`];
  const [scope, bare] = name.slice(1).split('/') as [string, string];
  return [`${scope}__${bare}.json`, `@${scope}__${bare}.json`];
}

/**
 * {@link VersionSource} over a directory of packuments saved from a registry
 * (`GET <registry>/<name>` bodies, one file per package, see {@link snapshotFileNames}).
 * For tests and air-gapped runs. Results are cached per instance.
 */
export class SnapshotDirectorySource implements VersionSource {
  /** The directory, for `sources.registry` in plans. */
  readonly label: string;
  private readonly dir: string;
  private readonly cache: LookupCache;

  /**
   * @param dir directory holding the `*.json` packuments.
   * @param options.metrics where version-list lookups (latency, errors, cache hits) are reported.
   */
  constructor(dir: string, options: { metrics?: Registry } = {}) {
    this.cache = new LookupCache(500, options.metrics);
    this.dir = resolve(dir);
    this.label = this.dir;
  }

  /**
   * @throws InvalidInputError `PACKAGE_NOT_FOUND` when no file exists for the package,
   *   `PACKAGE_NAME_INVALID` for a bad name, `REGISTRY_DOCUMENT_INVALID` for a file that is not
   *   a packument (invalid JSON included).
   * @throws TransientError `REGISTRY_UNAVAILABLE` for other read errors (permissions, I/O).
   */
  async listVersions(name: string): Promise<PackageVersions> {
    assertPackageName(name);
    return this.cache.get(name, () => this.read(name));
  }

  /**
   * The package's whole document from the snapshot, checked to have `versions`: what lockfile
   * updates read (libs/lockfiles). Not cached.
   * @throws as {@link listVersions}.
   */
  async packument(name: string): Promise<unknown> {
    assertPackageName(name);
    return this.readDocument(name, (json) => json);
  }

  private read(name: string): Promise<PackageVersions> {
    return this.readDocument(name, (json, file) => toPackageVersions(name, json, file));
  }

  private async readDocument<T>(name: string, parse: (json: unknown, file: string) => T): Promise<T> {
    for (const fileName of snapshotFileNames(name)) {
      const file = join(this.dir, fileName);
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw new TransientError('REGISTRY_UNAVAILABLE', `cannot read ${file}: ${(err as Error).message}`, {
          cause: err,
          details: { name, file },
        });
      }
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (err) {
        throw new InvalidInputError('REGISTRY_DOCUMENT_INVALID', `${file} is not valid JSON: ${(err as Error).message}`, {
          cause: err,
          details: { name, file },
        });
      }
      toPackageVersions(name, json, file);
      return parse(json, file);
    }
    throw new InvalidInputError('PACKAGE_NOT_FOUND', `package ${name} is not in the snapshot ${this.dir}`, {
      details: { name, dir: this.dir, tried: snapshotFileNames(name) },
    });
  }
}
