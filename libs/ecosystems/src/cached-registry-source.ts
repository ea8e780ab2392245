import type { Registry } from '@remediation/metrics';
import { LookupCache, type LookupCacheOptions } from '@remediation/registry';
import type { PackageReleases, RegistrySource } from './types.js';

/**
 * A {@link RegistrySource} that remembers another one's answers across lookups and plans, in a
 * bounded LRU (`LookupCache` of @remediation/registry): releases for `ttlMs` (default 600,000:
 * a version published since is seen within 10 minutes; at most `maxEntries`, default 500),
 * `PACKAGE_NOT_FOUND` for `notFoundTtlMs` (default 300,000; at most `maxNotFound`, default 20,000),
 * and one request for concurrent lookups of a name. Other failures are not remembered. A plan's
 * transitive fix options ask for every parent of every vulnerable transitive package, and the next
 * plan of the same project asks again: this keeps those to one registry request per package and
 * time-to-live. Every lookup is reported to `metrics` as a registry lookup of `options.ecosystem`
 * (`remediation_lookup_cache_requests_total` hit or miss, a miss timed in
 * `remediation_lookup_duration_seconds`), the same path as npm's. Errors are the wrapped source's.
 */
export class CachedRegistrySource implements RegistrySource {
  readonly label: string;
  private readonly cache: LookupCache<PackageReleases>;

  /**
   * @param source the registry source asked on a miss.
   * @param options sizes, times-to-live and the ecosystem label (purl type), see above (`LookupCacheOptions`).
   * @param metrics where lookups are reported; none when absent.
   */
  constructor(
    private readonly source: RegistrySource,
    options: LookupCacheOptions = {},
    metrics?: Registry,
  ) {
    this.label = source.label;
    this.cache = new LookupCache<PackageReleases>({ ttlMs: 600_000, ...options }, metrics);
  }

  /** The wrapped source's releases of `name`, from the cache when remembered. @throws as the wrapped source. */
  releases(name: string): Promise<PackageReleases> {
    return this.cache.get(name, () => this.source.releases(name));
  }
}
