import type { Histogram, Registry } from 'prom-client';

/**
 * Wraps the definition of one capability's metrics so it runs once per registry: every caller
 * that asks for the set with the same `Registry` gets the same metric objects (prom-client refuses
 * a second metric of the same name in one registry). Keyed weakly by the registry, so several
 * stacks in one test process each get their own metrics and nothing is global.
 */
export function metricSet<T>(define: (registry: Registry) => T): (registry: Registry) => T {
  const sets = new WeakMap<Registry, T>();
  return (registry) => {
    let set = sets.get(registry);
    if (!set) {
      set = define(registry);
      sets.set(registry, set);
    }
    return set;
  };
}

/**
 * A value read at scrape time, kept for `ttlMs` so that several gauges filled from one read (and
 * scrapes close together) cost one query. A failed read yields `null` (the gauges then report
 * nothing new rather than failing the whole `/metrics` response) and is retried on the next scrape.
 */
export function cachedRead<T>(read: () => Promise<T>, ttlMs: number): () => Promise<T | null> {
  let at = 0;
  let value: Promise<T | null> | null = null;
  return () => {
    const now = Date.now();
    if (!value || now - at > ttlMs) {
      at = now;
      value = read().catch(() => {
        at = 0;
        return null;
      });
    }
    return value;
  };
}

/** Histogram buckets in seconds for work that takes from milliseconds to tens of minutes (steps, git). */
export const SLOW_SECONDS_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];

/** Histogram buckets in seconds for lookups (registry, advisories): 1 ms to 30 s. */
export const FAST_SECONDS_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Seconds since `startedMs` (a `Date.now()` value), for `histogram.observe`. */
export function secondsSince(startedMs: number): number {
  return (Date.now() - startedMs) / 1000;
}

/**
 * Runs `work` and observes its duration in `histogram` with `labels` plus `outcome`: `ok` when it
 * resolves, `error` when it throws (the error is re-thrown).
 */
export async function observeOutcome<L extends string, T>(
  histogram: Histogram<L | 'outcome'>,
  labels: Partial<Record<L, string>>,
  work: () => Promise<T>,
): Promise<T> {
  const end = histogram.startTimer(labels as Partial<Record<L | 'outcome', string>>);
  try {
    const value = await work();
    end({ outcome: 'ok' } as Partial<Record<L | 'outcome', string>>);
    return value;
  } catch (err) {
    end({ outcome: 'error' } as Partial<Record<L | 'outcome', string>>);
    throw err;
  }
}
