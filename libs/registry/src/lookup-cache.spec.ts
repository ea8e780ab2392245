import { InvalidInputError, TransientError } from '@remediation/errors';
import { describe, expect, it } from 'vitest';
import { LookupCache } from './packument.js';
import type { PackageVersions } from './types.js';

const versions = (name: string): PackageVersions => ({ name, versions: ['1.0.0'], distTags: {}, deprecated: new Set() });

describe('LookupCache', () => {
  it('shares one load between concurrent lookups of a key', async () => {
    const cache = new LookupCache();
    let loads = 0;
    const load = async () => {
      loads++;
      return versions('a');
    };
    const [x, y] = await Promise.all([cache.get('a', load), cache.get('a', load)]);
    expect(loads).toBe(1);
    expect(x).toBe(y);
  });

  it('drops a failed lookup so the next call loads again', async () => {
    const cache = new LookupCache();
    await expect(cache.get('a', () => Promise.reject(new Error('registry down')))).rejects.toThrow('registry down');
    await expect(cache.get('a', async () => versions('a'))).resolves.toMatchObject({ name: 'a' });
  });

  it('evicts the least recently used entry beyond its size', async () => {
    const cache = new LookupCache(2);
    let loads = 0;
    const load = (name: string) => async () => {
      loads++;
      return versions(name);
    };
    await cache.get('a', load('a'));
    await cache.get('b', load('b'));
    await cache.get('a', load('a')); // a is now the most recently used
    await cache.get('c', load('c')); // evicts b
    expect(loads).toBe(3);
    await cache.get('a', load('a'));
    expect(loads).toBe(3);
    await cache.get('b', load('b'));
    expect(loads).toBe(4);
  });

  it('remembers PACKAGE_NOT_FOUND for its time-to-live, then asks again', async () => {
    let now = 1_000;
    const cache = new LookupCache({ notFoundTtlMs: 100, clock: { now: () => now } });
    let loads = 0;
    const missing = async (): Promise<PackageVersions> => {
      loads++;
      throw new InvalidInputError('PACKAGE_NOT_FOUND', 'package a was not found');
    };
    await expect(cache.get('a', missing)).rejects.toMatchObject({ code: 'PACKAGE_NOT_FOUND' });
    await expect(cache.get('a', missing)).rejects.toMatchObject({ code: 'PACKAGE_NOT_FOUND' });
    expect(loads).toBe(1);
    now += 101;
    await new Promise((r) => setTimeout(r, 5)); // lru-cache reads the clock at most once per ms (ttlResolution)
    await expect(cache.get('a', async () => versions('a'))).resolves.toMatchObject({ name: 'a' });
  });

  it('does not remember other failures, nor anything with a time-to-live of 0', async () => {
    const cache = new LookupCache({ notFoundTtlMs: 100 });
    await expect(cache.get('a', () => Promise.reject(new TransientError('REGISTRY_UNAVAILABLE', 'down')))).rejects.toThrow('down');
    await expect(cache.get('a', () => Promise.reject(new InvalidInputError('REGISTRY_DOCUMENT_INVALID', 'bad')))).rejects.toThrow('bad');
    await expect(cache.get('a', async () => versions('a'))).resolves.toMatchObject({ name: 'a' });
    const uncached = new LookupCache({ notFoundTtlMs: 0 });
    await expect(uncached.get('b', () => Promise.reject(new InvalidInputError('PACKAGE_NOT_FOUND', 'no b')))).rejects.toThrow('no b');
    await expect(uncached.get('b', async () => versions('b'))).resolves.toMatchObject({ name: 'b' });
  });
});
