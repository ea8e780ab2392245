import { InvalidInputError } from '@remediation/errors';
import { type RegistryHttpOptions, fetchRegistryJson } from '@remediation/registry';
import semver from 'semver';
import type { PackageReleases, PublishedVersion, RegistrySource, RegistrySourceOptions } from '../types.js';

/**
 * A crate name as crates.io accepts it (https://doc.rust-lang.org/cargo/reference/manifest.html#the-name-field
 * and crates.io's publish rules): ASCII letters, digits, `-` and `_`, starting with a letter, at
 * most 64 characters.
 */
export function isCrateName(name: string): boolean {
  return /^[A-Za-z][A-Za-z0-9_-]{0,63}$/.test(name);
}

/**
 * Path of a crate's index file (https://doc.rust-lang.org/cargo/reference/registry-index.html#index-files),
 * from the lowercased name: 1- and 2-letter names under `1/` and `2/`, 3-letter names under
 * `3/<first letter>/`, longer names under `<first two>/<next two>/`.
 * @throws InvalidInputError `PACKAGE_NAME_INVALID` when `name` is not a crate name.
 */
export function sparseIndexPath(name: string): string {
  if (!isCrateName(name)) throw new InvalidInputError('PACKAGE_NAME_INVALID', `not a crate name: ${JSON.stringify(name)}`, { details: { name } });
  const n = name.toLowerCase();
  if (n.length <= 2) return `${n.length}/${n}`;
  if (n.length === 3) return `3/${n[0]}/${n}`;
  return `${n.slice(0, 2)}/${n.slice(2, 4)}/${n}`;
}

/** The index's `config.json` (https://doc.rust-lang.org/cargo/reference/registry-index.html#index-configuration). */
export interface SparseIndexConfig {
  /** Download URL template of `.crate` files. */
  dl: string;
  /** Web API root, when the registry has one. */
  api?: string;
  /** The registry requires credentials for every request (`auth-required`, RFC 3139). */
  authRequired: boolean;
}

function invalid(name: string, url: string, why: string): InvalidInputError {
  return new InvalidInputError('REGISTRY_DOCUMENT_INVALID', `${url} is not a Cargo index file for ${name}: ${why}`, { details: { name, url } });
}

/**
 * The published versions of one index file: newline-delimited JSON, one record per version with
 * `name`, `vers` and `yanked` (https://doc.rust-lang.org/cargo/reference/registry-index.html#json-schema),
 * and its `dependencies` from `deps`: crate name (`package` when the dependency is renamed, else
 * `name`) → `req`, for the `normal` and `build` kinds (dev-dependencies never reach a dependent's
 * lock), optional ones included; absent when the record has no `deps` array. Blank lines are skipped; versions that are not semver are dropped; ascending by semver precedence.
 * @throws InvalidInputError `REGISTRY_DOCUMENT_INVALID` when a line is not such a record or names another crate.
 */
export function fromIndexFile(name: string, text: string, url: string): { name: string; versions: PublishedVersion[] } {
  let canonical = name;
  const versions: PublishedVersion[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      throw invalid(name, url, `line ${i + 1} is not JSON`);
    }
    const r = record as { name?: unknown; vers?: unknown; yanked?: unknown; deps?: unknown } | null;
    if (!r || typeof r.name !== 'string' || typeof r.vers !== 'string' || (r.yanked !== undefined && typeof r.yanked !== 'boolean')) {
      throw invalid(name, url, `line ${i + 1} lacks name, vers or a boolean yanked`);
    }
    if (r.name.toLowerCase() !== name.toLowerCase()) throw invalid(name, url, `line ${i + 1} names ${r.name}`);
    canonical = r.name;
    if (semver.valid(r.vers) === null) return;
    const dependencies = Array.isArray(r.deps) ? indexDependencies(r.deps) : undefined;
    versions.push({ version: r.vers, yanked: r.yanked === true, deprecated: false, ...(dependencies !== undefined ? { dependencies } : {}) });
  });
  versions.sort((a, b) => semver.compare(a.version, b.version));
  return { name: canonical, versions };
}

/** crate → requirement of an index record's `deps` (normal and build kinds; `kind` absent means normal). */
function indexDependencies(deps: readonly unknown[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const d of deps) {
    const dep = d as { name?: unknown; package?: unknown; req?: unknown; kind?: unknown } | null;
    if (!dep || typeof dep.req !== 'string' || dep.kind === 'dev') continue;
    const crate = typeof dep.package === 'string' ? dep.package : dep.name;
    if (typeof crate === 'string' && !(crate in out)) out[crate] = dep.req;
  }
  return out;
}

/**
 * {@link RegistrySource} over a Cargo sparse index (https://doc.rust-lang.org/cargo/reference/registry-index.html#sparse-protocol):
 * `GET <url>/<index path>` ({@link sparseIndexPath}) for a crate's versions, `GET <url>/config.json`
 * for the index configuration. `url` may carry Cargo's `sparse+` prefix (`sparse+https://index.crates.io/`).
 * Credentials go in `Authorization`: `bearer` as `Bearer <token>`, unless the token already starts
 * with a scheme (`Bearer …`, `Basic …`), which is sent verbatim as Cargo sends registry tokens;
 * `basic` as `Basic <base64>`. HTTP policy (retries of network errors, timeouts, 408, 429 and 5xx;
 * 404 → `PACKAGE_NOT_FOUND` at once) is `fetchRegistryJson` of @remediation/registry, reading the
 * body as text. Results are not cached.
 */
export class CargoSparseIndexSource implements RegistrySource {
  readonly label: string;
  private readonly http: RegistryHttpOptions;

  constructor(options: RegistrySourceOptions) {
    this.label = options.url.replace(/^sparse\+/, '').replace(/\/+$/, '');
    const c = options.credentials;
    const authorization =
      c === undefined ? undefined : c.kind === 'basic' ? `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}` : /^[A-Za-z]+ \S/.test(c.token) ? c.token : `Bearer ${c.token}`;
    this.http = {
      fetch: options.fetch ?? globalThis.fetch,
      timeoutMs: options.timeoutMs ?? 60_000,
      retries: options.retries ?? 4,
      minRetryDelayMs: options.minRetryDelayMs ?? 1_000,
      maxRetryDelayMs: options.maxRetryDelayMs ?? 30_000,
      headers: authorization === undefined ? {} : { authorization },
      kind: 'index',
      label: this.label,
    };
  }

  /**
   * @param name a crate name, any case (index paths are lowercase; the name returned is the one the records carry).
   * @throws InvalidInputError `PACKAGE_NAME_INVALID`, `PACKAGE_NOT_FOUND` (404), `REGISTRY_DOCUMENT_INVALID`.
   * @throws TransientError `REGISTRY_UNAVAILABLE` after the retries, or on another 4xx (401, 403, …).
   */
  async releases(name: string): Promise<PackageReleases> {
    const url = `${this.label}/${sparseIndexPath(name)}`;
    const parsed = await fetchRegistryJson(this.http, { name, url, accept: 'text/plain, application/json;q=0.9, */*;q=0.8', body: 'text', parse: (body) => fromIndexFile(name, body as string, url) });
    return { name: parsed.name, versions: parsed.versions, source: this.label };
  }

  /**
   * The index record (one parsed line of the crate's index file) of `version`: `name`, `vers`,
   * `deps`, `cksum` (the SHA-256 Cargo.lock stores as `checksum`), `features`, `yanked`; what
   * Cargo.lock updates read (libs/lockfiles `updateCargoLockfile`).
   * @throws InvalidInputError `VERSION_NOT_FOUND` when the index has no such version; as {@link releases} otherwise.
   */
  async indexRecord(name: string, version: string): Promise<unknown> {
    const url = `${this.label}/${sparseIndexPath(name)}`;
    const lines = await fetchRegistryJson(this.http, {
      name,
      url,
      accept: 'text/plain, application/json;q=0.9, */*;q=0.8',
      body: 'text',
      parse: (body) => {
        fromIndexFile(name, body as string, url);
        return (body as string).split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as { vers?: unknown });
      },
    });
    const record = lines.find((r) => r.vers === version);
    if (record === undefined) throw new InvalidInputError('VERSION_NOT_FOUND', `${name} ${version} is not in the index file ${url}`, { details: { name, version, url } });
    return record;
  }

  /**
   * The index configuration, `<url>/config.json`.
   * @throws InvalidInputError `REGISTRY_DOCUMENT_INVALID` when it has no `dl` string; `PACKAGE_NOT_FOUND` when absent (not an index).
   * @throws TransientError `REGISTRY_UNAVAILABLE` as {@link releases}.
   */
  async config(): Promise<SparseIndexConfig> {
    const url = `${this.label}/config.json`;
    return fetchRegistryJson(this.http, {
      name: 'config.json',
      url,
      accept: 'application/json',
      invalidBody: () => new InvalidInputError('REGISTRY_DOCUMENT_INVALID', `${url} is not JSON`, { details: { url } }),
      parse: (body) => {
        const doc = body as { dl?: unknown; api?: unknown; 'auth-required'?: unknown } | null;
        if (!doc || typeof doc.dl !== 'string') throw new InvalidInputError('REGISTRY_DOCUMENT_INVALID', `${url} has no "dl" string`, { details: { url } });
        return { dl: doc.dl, ...(typeof doc.api === 'string' ? { api: doc.api } : {}), authRequired: doc['auth-required'] === true };
      },
    });
  }
}
