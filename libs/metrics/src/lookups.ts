import { Counter, Histogram, type Registry } from 'prom-client';
import { FAST_SECONDS_BUCKETS, metricSet, observeOutcome } from './metric-set.js';

/** What was looked up: a package registry (version lists) or the advisory database. */
export type LookupSource = 'registry' | 'advisories';

/**
 * Registry and advisory lookup metrics (docs/operations.md "Lookups"). `ecosystem` is the purl
 * type (`npm`, `pypi`, `cargo`, `golang`, `maven`), never a package name.
 */
export const lookupMetrics = metricSet((registry: Registry) => ({
  duration: new Histogram({
    name: 'remediation_lookup_duration_seconds',
    help: 'Latency of registry and advisory lookups that were not served from cache, by source, ecosystem and outcome (ok, error), in seconds.',
    labelNames: ['source', 'ecosystem', 'outcome'] as const,
    buckets: FAST_SECONDS_BUCKETS,
    registers: [registry],
  }),
  cache: new Counter({
    name: 'remediation_lookup_cache_requests_total',
    help: 'Lookups by source, ecosystem and cache outcome (hit, miss).',
    labelNames: ['source', 'ecosystem', 'outcome'] as const,
    registers: [registry],
  }),
}));

/** The lookup metric set of one registry. */
export type LookupMetrics = ReturnType<typeof lookupMetrics>;

/**
 * Times an uncached lookup into `remediation_lookup_duration_seconds` (`ok`/`error`, the error
 * re-thrown) and counts it a cache miss; without a registry just runs it.
 */
export async function timeLookup<T>(registry: Registry | undefined, source: LookupSource, ecosystem: string, work: () => Promise<T>): Promise<T> {
  if (!registry) return work();
  const m = lookupMetrics(registry);
  m.cache.inc({ source, ecosystem, outcome: 'miss' });
  return observeOutcome(m.duration, { source, ecosystem }, work);
}

/** Counts a lookup served from cache; without a registry does nothing. */
export function countCacheHit(registry: Registry | undefined, source: LookupSource, ecosystem: string): void {
  if (registry) lookupMetrics(registry).cache.inc({ source, ecosystem, outcome: 'hit' });
}
