import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fixturePath } from '@remediation/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { CargoSparseIndexSource, RegistryEnv, checkRegistryCredentials, registrySourcesFromEnv } from './index.js';

const Env = RegistryEnv.superRefine(checkRegistryCredentials);

describe('RegistryEnv and registrySourcesFromEnv (the registry settings planner and patcher share)', () => {
  it('defaults to the public registries and builds one source per ecosystem', () => {
    const env = Env.parse({});
    expect(env).toMatchObject({ NPM_REGISTRY_URL: 'https://registry.npmjs.org', CARGO_INDEX_URL: 'https://index.crates.io', GOPROXY: 'https://proxy.golang.org,direct', PYPI_API: 'json' });
    const sources = registrySourcesFromEnv(env);
    expect(sources.npmLabel).toBe('https://registry.npmjs.org');
    expect(sources.cargo.label).toBe('https://index.crates.io');
    expect(sources.maven.label).toBe('https://repo.maven.apache.org/maven2');
    expect([...sources.registries.keys()]).toEqual(['pypi', 'cargo', 'golang', 'maven']);
  });

  it('a snapshot directory replaces the npm registry; sparse+ is dropped from the index URL', () => {
    const env = Env.parse({ NPM_REGISTRY_SNAPSHOT_DIR: '/srv/snapshot', CARGO_INDEX_URL: 'sparse+https://crates.example/index/' });
    const sources = registrySourcesFromEnv(env);
    expect(sources.npmLabel).toBe('/srv/snapshot');
    expect(sources.cargo.label).toBe('https://crates.example/index');
  });

  it('rejects half-set or doubled credentials, naming the variables', () => {
    const half = Env.safeParse({ CARGO_INDEX_USERNAME: 'u' });
    expect(half.success).toBe(false);
    expect(z.prettifyError(half.error!)).toContain('set CARGO_INDEX_USERNAME and CARGO_INDEX_PASSWORD together');
    const both = Env.safeParse({ PYPI_TOKEN: 't', PYPI_USERNAME: 'u', PYPI_PASSWORD: 'p' });
    expect(z.prettifyError(both.error!)).toContain('set either PYPI_TOKEN or PYPI_USERNAME/PYPI_PASSWORD, not both');
    expect(Env.safeParse({ GOPROXY: 'off' }).success).toBe(false);
  });
});

describe('CargoSparseIndexSource.indexRecord (what Cargo.lock updates read)', () => {
  let server: Server;
  let url: string;
  const requests: string[] = [];
  beforeAll(async () => {
    const regex = readFileSync(fixturePath('registry/cargo/re/ge/regex'), 'utf8');
    server = createServer((req, res) => {
      requests.push(req.url ?? '');
      if (req.url === '/re/ge/regex') res.writeHead(200, { 'content-type': 'text/plain' }).end(regex);
      else res.writeHead(404).end();
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((ok) => server.close(() => ok())));

  it('returns the record of the version, whole; VERSION_NOT_FOUND for a version the index lacks, PACKAGE_NOT_FOUND for a crate', async () => {
    const source = new CargoSparseIndexSource({ url, retries: 0 });
    const first = JSON.parse(readFileSync(fixturePath('registry/cargo/re/ge/regex'), 'utf8').split('\n')[0]!) as { vers: string };
    expect(await source.indexRecord('regex', first.vers)).toEqual(first);
    expect(requests).toEqual(['/re/ge/regex']);
    await expect(source.indexRecord('regex', '99.0.0')).rejects.toMatchObject({ code: 'VERSION_NOT_FOUND' });
    await expect(source.indexRecord('serde', '1.0.0')).rejects.toMatchObject({ code: 'PACKAGE_NOT_FOUND' });
  });
});
