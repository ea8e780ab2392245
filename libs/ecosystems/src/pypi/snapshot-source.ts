import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import * as pep440 from '@renovatebot/pep440';
import { InvalidInputError, TransientError } from '@remediation/errors';
import type { PackageReleases, PublishedVersion, RegistrySource } from '../types.js';
import { assertPythonName, normalisePythonName } from './names.js';
import { fromJsonApi } from './pypi-registry-source.js';

function invalid(name: string, file: string, why: string): InvalidInputError {
  return new InvalidInputError('REGISTRY_DOCUMENT_INVALID', `${file} is not a PyPI snapshot document for ${name}: ${why}`, { details: { name, file } });
}

/** The package-file format of tools/pypi-local: `{ name, versions: [ "1.0" | { version, yanked?, requiresPython?, uploadTime? } ] }`. */
function fromPackageFile(name: string, doc: { versions: unknown[] }, file: string): PublishedVersion[] {
  const out: PublishedVersion[] = [];
  for (const entry of doc.versions) {
    const e = typeof entry === 'string' ? { version: entry } : (entry as Record<string, unknown> | null);
    if (!e || typeof e['version'] !== 'string') throw invalid(name, file, 'a version is neither a string nor { version }');
    const version = e['version'];
    if (pep440.valid(version) === null) continue;
    const yanked = e['yanked'] === true || (typeof e['yanked'] === 'string' && e['yanked'] !== '');
    out.push({
      version,
      yanked,
      ...(yanked && typeof e['yanked'] === 'string' ? { yankedReason: e['yanked'] } : {}),
      deprecated: false,
      ...(typeof e['uploadTime'] === 'string' ? { releasedAt: e['uploadTime'] } : {}),
      ...(typeof e['requiresPython'] === 'string' && e['requiresPython'] !== '' ? { requiresPython: e['requiresPython'] } : {}),
    });
  }
  return out.sort((a, b) => pep440.compare(a.version, b.version));
}

/**
 * {@link RegistrySource} over a folder of PyPI documents, one per package named by its PEP 503
 * name (`<dir>/<normalised name>.json`), for tests and air-gapped runs. A document is either a
 * saved JSON API answer (`GET /pypi/<name>/json`, https://docs.pypi.org/api/json/: `releases`
 * with per-file `yanked`, `requires_python`, `upload_time_iso_8601`) or the package-file format of
 * tools/pypi-local (`{ name, versions: [...] }`, see its README; test/fixtures/registry/pypi).
 * Results are cached per instance.
 */
export class PypiSnapshotSource implements RegistrySource {
  readonly label: string;
  private readonly dir: string;
  private readonly cache = new Map<string, Promise<PackageReleases>>();

  /** @param dir the folder of `*.json` documents. */
  constructor(dir: string) {
    this.dir = resolve(dir);
    this.label = this.dir;
  }

  /**
   * @param name a PEP 508 distribution name, any case or separator (normalised by PEP 503).
   * @throws InvalidInputError `PACKAGE_NAME_INVALID`; `PACKAGE_NOT_FOUND` when the folder has no
   *   file for the package; `REGISTRY_DOCUMENT_INVALID` when the file is not JSON or neither format.
   * @throws TransientError `REGISTRY_UNAVAILABLE` for other read errors (permissions, I/O).
   */
  async releases(name: string): Promise<PackageReleases> {
    assertPythonName(name);
    const normal = normalisePythonName(name);
    let found = this.cache.get(normal);
    if (!found) {
      found = this.read(normal);
      found.catch(() => this.cache.delete(normal));
      this.cache.set(normal, found);
    }
    return found;
  }

  private async read(name: string): Promise<PackageReleases> {
    const file = join(this.dir, `${name}.json`);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new InvalidInputError('PACKAGE_NOT_FOUND', `package ${name} is not in the PyPI snapshot ${this.dir}`, { details: { name, dir: this.dir } });
      }
      throw new TransientError('REGISTRY_UNAVAILABLE', `cannot read ${file}: ${(err as Error).message}`, { cause: err, details: { name, file } });
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (err) {
      throw invalid(name, file, `not JSON (${(err as Error).message})`);
    }
    const d = doc as { releases?: unknown; versions?: unknown } | null;
    let versions: PublishedVersion[];
    if (d && typeof d === 'object' && 'releases' in d) versions = fromJsonApi(name, d, file);
    else if (d && typeof d === 'object' && Array.isArray(d.versions)) versions = fromPackageFile(name, d as { versions: unknown[] }, file);
    else throw invalid(name, file, 'neither a JSON API document (`releases`) nor a package file (`versions`)');
    return { name, versions, source: this.label };
  }
}
