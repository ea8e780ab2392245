import { InvalidInputError, TransientError } from '@remediation/errors';
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
});
