import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidInputError, TransientError } from '@remediation/errors';
import { defineDomainMetrics } from '@remediation/metrics';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { CachedRegistrySource, registrySourcesFromEnv, RegistryEnv } from './index.js';
import type { PackageReleases, RegistrySource } from './types.js';

/** A registry source answering from `known` and counting its lookups (`down`: every lookup fails transiently). */
function countingSource(known: Record<string, string[]>): RegistrySource & { asked: string[]; down: boolean } {
  const source = {
    label: 'https://registry.example',
    asked: [] as string[],
    down: false,
    async releases(name: string): Promise<PackageReleases> {
      source.asked.push(name);
      if (source.down) throw new TransientError('REGISTRY_UNAVAILABLE', 'registry down');
      const versions = known[name];
      if (versions === undefined) throw new InvalidInputError('PACKAGE_NOT_FOUND', `package ${name} was not found`);
      return { name, versions: versions.map((version) => ({ version, yanked: false, deprecated: false })), source: source.label };
    },
  };
  return source;
}

describe('CachedRegistrySource', () => {
  it('asks the wrapped source once per package for releases and for PACKAGE_NOT_FOUND, until their times-to-live pass', async () => {
    let now = 1_000; // lru-cache takes a start time of 0 for "no time-to-live"
    const inner = countingSource({ requests: ['2.31.0', '2.32.0'] });
    const cached = new CachedRegistrySource(inner, { ttlMs: 1_000, notFoundTtlMs: 500, clock: { now: () => now } });
    expect(cached.label).toBe('https://registry.example');
    const [a, b] = await Promise.all([cached.releases('requests'), cached.releases('requests')]);
    expect(a.versions.map((v) => v.version)).toEqual(['2.31.0', '2.32.0']);
    expect(b).toBe(a);
    await expect(cached.releases('nope')).rejects.toMatchObject({ code: 'PACKAGE_NOT_FOUND' });
    await expect(cached.releases('nope')).rejects.toMatchObject({ code: 'PACKAGE_NOT_FOUND' });
    expect(inner.asked).toEqual(['requests', 'nope']);
    now = 1_600;
    await new Promise((r) => setTimeout(r, 5)); // lru-cache reads the clock at most once per ms
    await expect(cached.releases('nope')).rejects.toMatchObject({ code: 'PACKAGE_NOT_FOUND' });
    await cached.releases('requests');
    expect(inner.asked).toEqual(['requests', 'nope', 'nope']);
    now = 2_100;
    await new Promise((r) => setTimeout(r, 5));
    await cached.releases('requests');
    expect(inner.asked).toEqual(['requests', 'nope', 'nope', 'requests']);
  });

  it('does not remember a transient failure: the next lookup asks again', async () => {
    const inner = countingSource({ serde: ['1.0.0'] });
    const cached = new CachedRegistrySource(inner);
    inner.down = true;
    await expect(cached.releases('serde')).rejects.toMatchObject({ code: 'REGISTRY_UNAVAILABLE' });
    inner.down = false;
    await expect(cached.releases('serde')).resolves.toMatchObject({ name: 'serde' });
    expect(inner.asked).toEqual(['serde', 'serde']);
  });

  it('wraps the sources of the planner’s `registries` map (registrySourcesFromEnv)', () => {
    const sources = registrySourcesFromEnv(RegistryEnv.parse({}));
    for (const source of sources.registries.values()) expect(source).toBeInstanceOf(CachedRegistrySource);
    expect(sources.registries.get('cargo')!.label).toBe(sources.cargo.label);
  });

  it('reports every lookup, hit or miss, as a registry lookup of its ecosystem', async () => {
    const metrics = new Registry();
    defineDomainMetrics(metrics);
    const inner = countingSource({ serde: ['1.0.0'] });
    const cached = new CachedRegistrySource(inner, { ecosystem: 'cargo' }, metrics);
    await cached.releases('serde');
    await cached.releases('serde');
    await expect(cached.releases('nope')).rejects.toMatchObject({ code: 'PACKAGE_NOT_FOUND' });
    await expect(cached.releases('nope')).rejects.toMatchObject({ code: 'PACKAGE_NOT_FOUND' });
    expect(await lookupCounts(metrics)).toEqual({ 'cargo hit': 2, 'cargo miss': 2, 'cargo timed ok': 1, 'cargo timed error': 1 });
  });

  it('the planner’s `registries` map reports cache hits and misses with each ecosystem (registrySourcesFromEnv)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pypi-snapshot-'));
    try {
      const metrics = new Registry();
      defineDomainMetrics(metrics);
      const sources = registrySourcesFromEnv(RegistryEnv.parse({ PYPI_SNAPSHOT_DIR: dir }), metrics);
      for (let i = 0; i < 3; i++) await expect(sources.registries.get('pypi')!.releases('requests')).rejects.toMatchObject({ code: 'PACKAGE_NOT_FOUND' });
      expect(await lookupCounts(metrics)).toEqual({ 'pypi hit': 2, 'pypi miss': 1, 'pypi timed error': 1 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** `<ecosystem> hit|miss` of remediation_lookup_cache_requests_total and `<ecosystem> timed <outcome>` of the duration histogram's count, registry lookups only. */
async function lookupCounts(metrics: Registry): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const m of await metrics.getMetricsAsJSON()) {
    for (const v of m.values as Array<{ labels: Record<string, string>; value: number; metricName?: string }>) {
      if (v.labels['source'] !== 'registry' || v.value === 0) continue;
      if (m.name === 'remediation_lookup_cache_requests_total') out[`${v.labels['ecosystem']} ${v.labels['outcome']}`] = v.value;
      if (v.metricName === 'remediation_lookup_duration_seconds_count') out[`${v.labels['ecosystem']} timed ${v.labels['outcome']}`] = v.value;
    }
  }
  return out;
}
