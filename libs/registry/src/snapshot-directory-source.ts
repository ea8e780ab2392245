import type { Registry } from '@remediation/metrics';
import { readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
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

/** Options of {@link SnapshotDirectorySource}. */
export interface SnapshotDirectorySourceOptions {
  /**
   * How long one listing of the directory (`readdir`) decides which packages it holds, ms: a
   * package whose file names are not in the listing is `PACKAGE_NOT_FOUND` without opening a file,
   * and that answer is cached as long. Files added to the directory are seen after at most this
   * long. 0: no listing, every lookup tries the files. Default 30,000.
   */
  listingTtlMs?: number;
  /** Where version-list lookups (latency, errors, cache hits) are reported; none when absent. */
  metrics?: Registry;
}

/**
 * {@link VersionSource} over a directory of packuments saved from a registry
 * (`GET <registry>/<name>` bodies, one file per package, see {@link snapshotFileNames}).
 * For tests and air-gapped runs. Results are cached per instance (500 packages; packages not in
 * the snapshot for `listingTtlMs`): a plan asks for the parents of every vulnerable transitive
 * package, most of which a trimmed snapshot does not hold, and the listing answers those without
 * a file system call each. Files are read synchronously (a local directory: a packument of a
 * few MB takes milliseconds; the thread-pool round trips of an asynchronous read cost more than
 * the read for the thousands of small files a large plan reads).
 */
export class SnapshotDirectorySource implements VersionSource {
  /** The directory, for `sources.registry` in plans. */
  readonly label: string;
  private readonly dir: string;
  private readonly cache: LookupCache;
  private readonly listingTtlMs: number;
  private listing: { at: number; names: Promise<ReadonlySet<string> | null> } | undefined;

  /**
   * @param dir directory holding the `*.json` packuments.
   * @param options see {@link SnapshotDirectorySourceOptions}.
   */
  constructor(dir: string, options: SnapshotDirectorySourceOptions = {}) {
    this.dir = resolve(dir);
    this.label = this.dir;
    this.listingTtlMs = options.listingTtlMs ?? 30_000;
    this.cache = new LookupCache({ notFoundTtlMs: this.listingTtlMs }, options.metrics);
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
    return this.readDocument(name, (json, file) => {
      toPackageVersions(name, json, file);
      return json;
    });
  }

  private read(name: string): Promise<PackageVersions> {
    return this.readDocument(name, (json, file) => toPackageVersions(name, json, file));
  }

  /**
   * The directory's file names, listed at most once per `listingTtlMs`; null without a listing
   * (`listingTtlMs` 0, or `readdir` failed: the file reads then report what is wrong).
   */
  private fileNames(): Promise<ReadonlySet<string> | null> {
    if (this.listingTtlMs <= 0) return Promise.resolve(null);
    const now = performance.now();
    if (this.listing === undefined || now - this.listing.at >= this.listingTtlMs) {
      this.listing = { at: now, names: readdir(this.dir).then((names) => new Set(names), () => null) };
    }
    return this.listing.names;
  }

  /** Reads, parses and checks (`parse`, which throws `REGISTRY_DOCUMENT_INVALID`) the package's file. */
  private async readDocument<T>(name: string, parse: (json: unknown, file: string) => T): Promise<T> {
    const listed = await this.fileNames();
    for (const fileName of snapshotFileNames(name)) {
      if (listed !== null && !listed.has(fileName)) continue;
      const file = join(this.dir, fileName);
      let text: string;
      try {
        // Synchronous: one call instead of four thread-pool round trips (open, fstat, read, close)
        // for a local file; a plan reads thousands of small packuments (docs/benchmarks.md, planner).
        text = readFileSync(file, 'utf8');
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
      return parse(json, file);
    }
    throw new InvalidInputError('PACKAGE_NOT_FOUND', `package ${name} is not in the snapshot ${this.dir}`, {
      details: { name, dir: this.dir, tried: snapshotFileNames(name) },
    });
  }
}
