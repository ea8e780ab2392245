import { InvalidInputError, RemediationError, TransientError } from '@remediation/errors';
import pRetry, { AbortError } from 'p-retry';
import { assertPackageName, LookupCache, toPackageVersions } from './packument.js';
import type { PackageVersions, VersionSource } from './types.js';

/** Options of {@link NpmRegistrySource}. */
export interface NpmRegistrySourceOptions {
  /** Registry base URL, e.g. `https://registry.npmjs.org` (a trailing slash is ignored). */
  url: string;
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
}

/** Thrown inside an attempt for responses worth retrying. */
class RetryableStatusError extends Error {
  constructor(readonly status: number, url: string) {
    super(`registry answered ${status} for ${url}`);
    this.name = 'RetryableStatusError';
  }
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
 * (p-retry). Results are cached per instance (500 packages).
 */
export class NpmRegistrySource implements VersionSource {
  /** The registry URL, for `sources.registry` in plans. */
  readonly label: string;
  private readonly base: string;
  private readonly timeoutMs: number;
  private readonly fetchImpl: typeof globalThis.fetch;
  private readonly retries: number;
  private readonly minRetryDelayMs: number;
  private readonly maxRetryDelayMs: number;
  private readonly headers: Record<string, string>;
  private readonly cache = new LookupCache();

  constructor(options: NpmRegistrySourceOptions) {
    this.base = options.url.replace(/\/+$/, '');
    this.label = this.base;
    this.timeoutMs = options.timeoutMs ?? 120_000;
    this.fetchImpl = options.fetch ?? globalThis.fetch;
    this.retries = options.retries ?? 4;
    this.minRetryDelayMs = options.minRetryDelayMs ?? 1_000;
    this.maxRetryDelayMs = options.maxRetryDelayMs ?? 30_000;
    this.headers = options.headers ?? {};
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

  private async fetchVersions(name: string): Promise<PackageVersions> {
    const url = `${this.base}/${packagePath(name)}`;
    let attempts = 0;
    const attempt = async (): Promise<PackageVersions> => {
      attempts++;
      const response = await this.fetchImpl(url, {
        headers: {
          accept: 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*',
          ...this.headers,
        },
        signal: AbortSignal.timeout(this.timeoutMs),
        redirect: 'follow',
      });
      if (response.status === 404) {
        await response.body?.cancel();
        throw new AbortError(
          new InvalidInputError('PACKAGE_NOT_FOUND', `package ${name} was not found on ${this.base}`, {
            details: { name, url, status: 404 },
          }),
        );
      }
      if (response.status >= 500 || response.status === 408 || response.status === 429) {
        await response.body?.cancel();
        throw new RetryableStatusError(response.status, url);
      }
      if (!response.ok) {
        await response.body?.cancel();
        throw new AbortError(
          new TransientError('REGISTRY_UNAVAILABLE', `registry answered ${response.status} for ${url}`, {
            details: { name, url, status: response.status },
          }),
        );
      }
      const body: unknown = await response.json();
      try {
        return toPackageVersions(name, body, url);
      } catch (err) {
        throw new AbortError(err as Error);
      }
    };
    try {
      return await pRetry(attempt, {
        retries: this.retries,
        minTimeout: this.minRetryDelayMs,
        maxTimeout: this.maxRetryDelayMs,
        factor: 2,
        randomize: true,
      });
    } catch (err) {
      if (err instanceof RemediationError) throw err;
      const status = err instanceof RetryableStatusError ? err.status : undefined;
      const reason =
        err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')
          ? `timed out after ${this.timeoutMs} ms`
          : err instanceof Error
            ? err.message
            : String(err);
      throw new TransientError(
        'REGISTRY_UNAVAILABLE',
        `registry ${this.base} unavailable for ${name} after ${attempts} attempt(s): ${reason}`,
        { cause: err, details: { name, url, attempts, ...(status !== undefined ? { status } : {}) } },
      );
    }
  }
}
