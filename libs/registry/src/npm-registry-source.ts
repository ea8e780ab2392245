import type { Registry } from '@remediation/metrics';
import { type RegistryHttpOptions, fetchRegistryJson } from './fetch-json.js';
import { assertPackageName, LookupCache, toPackageVersions } from './packument.js';
import type { PackageVersions, VersionSource } from './types.js';

/** Options of {@link NpmRegistrySource}. */
export interface NpmRegistrySourceOptions {
  /** Registry base URL, e.g. `https://registry.npmjs.org` (a trailing slash is ignored). */
  url: string;
  /** Where version-list lookups (latency, errors, cache hits) are reported. */
  metrics?: Registry;
  /**
   * Time limit of one request, headers and body, in milliseconds. Default 120,000: full
   * packuments of large packages are tens of MB and private registries can be slow.
   */
  timeoutMs?: number;
  /** `fetch` implementation; defaults to the global one. */
  fetch?: typeof globalThis.fetch;
  /** Retries after the first attempt on network errors, timeouts, 408, 429 and 5xx. Default 4. */
  retries?: number;
  /** Delay before the first retry in ms, doubled each time (p-retry `minTimeout`). Default 1,000. */
  minRetryDelayMs?: number;
  /** Longest delay between retries in ms. Default 30,000. */
  maxRetryDelayMs?: number;
  /** Extra request headers (e.g. `authorization` for a private registry); never logged. */
  headers?: Record<string, string>;
  /**
   * How long a 404 (`PACKAGE_NOT_FOUND`) is remembered, ms, so later lookups and plans do not ask
   * again (0: never). Default 300,000.
   */
  notFoundTtlMs?: number;
}

/**
 * Path of a package document on the registry: scoped names keep `@` and encode the slash
 * (`@scope%2fname`), as the npm CLI does (npm-registry-fetch).
 */
export function packagePath(name: string): string {
  if (name.startsWith('@')) {
    const slash = name.indexOf('/');
    return `@${encodeURIComponent(name.slice(1, slash))}%2f${encodeURIComponent(name.slice(slash + 1))}`;
  }
  return encodeURIComponent(name);
}

/**
 * {@link VersionSource} over an npm registry's package-metadata API
 * (`GET <url>/<name>`, https://github.com/npm/registry/blob/main/docs/REGISTRY-API.md).
 * Asks for the abbreviated document (`application/vnd.npm.install-v1+json`), falling back to
 * plain JSON. Retries network errors, timeouts, 408, 429 and 5xx with exponential backoff
 * (p-retry). Results are cached per instance (500 packages; 404s for `notFoundTtlMs`).
 */
export class NpmRegistrySource implements VersionSource {
  /** The registry URL, for `sources.registry` in plans. */
  readonly label: string;
  private readonly base: string;
  private readonly http: RegistryHttpOptions;
  private readonly cache: LookupCache;

  /** Time limit of one request, ms (see {@link NpmRegistrySourceOptions.timeoutMs}). */
  get timeoutMs(): number {
    return this.http.timeoutMs;
  }

  constructor(options: NpmRegistrySourceOptions) {
    this.base = options.url.replace(/\/+$/, '');
    this.label = this.base;
    this.cache = new LookupCache({ notFoundTtlMs: options.notFoundTtlMs ?? 300_000 }, options.metrics);
    this.http = {
      fetch: options.fetch ?? globalThis.fetch,
      timeoutMs: options.timeoutMs ?? 120_000,
      retries: options.retries ?? 4,
      minRetryDelayMs: options.minRetryDelayMs ?? 1_000,
      maxRetryDelayMs: options.maxRetryDelayMs ?? 30_000,
      headers: options.headers ?? {},
      kind: 'registry',
      label: this.base,
    };
  }

  /**
   * @throws InvalidInputError `PACKAGE_NOT_FOUND` on 404, `PACKAGE_NAME_INVALID` for a bad name,
   *   `REGISTRY_DOCUMENT_INVALID` when the JSON has no `versions`.
   * @throws TransientError `REGISTRY_UNAVAILABLE` when retries are exhausted (network, timeout,
   *   5xx, unparsable body) or on another 4xx (401, 403, …); `details` carry url, status, attempts.
   */
  async listVersions(name: string): Promise<PackageVersions> {
    assertPackageName(name);
    return this.cache.get(name, () => this.fetchVersions(name));
  }

  /**
   * The package's document (`GET <url>/<name>`, abbreviated when the registry offers it: every
   * version's `dist`, `dependencies`, `optionalDependencies`, `peerDependencies`, `deprecated`),
   * checked to have `versions`: what lockfile updates read (libs/lockfiles). Not cached.
   * @throws as {@link listVersions}.
   */
  async packument(name: string): Promise<unknown> {
    assertPackageName(name);
    const url = `${this.base}/${packagePath(name)}`;
    return fetchRegistryJson(this.http, {
      name,
      url,
      accept: 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*',
      parse: (body) => {
        toPackageVersions(name, body, url);
        return body;
      },
    });
  }

  private fetchVersions(name: string): Promise<PackageVersions> {
    const url = `${this.base}/${packagePath(name)}`;
    return fetchRegistryJson(this.http, {
      name,
      url,
      accept: 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*',
      parse: (body) => toPackageVersions(name, body, url),
    });
  }
}
