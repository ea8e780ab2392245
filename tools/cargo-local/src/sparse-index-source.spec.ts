// CargoSparseIndexSource of @remediation/ecosystems against this server (kept here: the lib must not depend on a tool).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidInputError, TransientError } from '@remediation/errors';
import { fixturePath } from '@remediation/testing';
import { cargoVersioning, CargoSparseIndexSource } from '@remediation/ecosystems';
import { startCargoLocal, type CargoLocal } from './server.js';

const fast = { minRetryDelayMs: 1, maxRetryDelayMs: 5 };

describe('CargoSparseIndexSource against tools/cargo-local', () => {
  let index: CargoLocal;
  let dir: string;
  beforeAll(async () => {
    index = await startCargoLocal({ dir: fixturePath('registry/cargo') });
    dir = mkdtempSync(join(tmpdir(), 'cargo-local-'));
  });
  afterAll(async () => {
    await index.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists the real version lists in semver order (sparse+ prefix and any case accepted)', async () => {
    const source = new CargoSparseIndexSource({ url: `sparse+${index.url}/`, ...fast });
    expect(source.label).toBe(index.url);
    const tokio = await source.releases('Tokio');
    expect(tokio).toMatchObject({ name: 'tokio', source: index.url });
    const versions = tokio.versions.map((v) => v.version);
    // Fixed versions of RUSTSEC-2021-0124 (1.8.4, 1.13.1) are published.
    expect(versions).toEqual(expect.arrayContaining(['1.8.4', '1.13.1']));
    expect([...versions].sort(cargoVersioning.compare)).toEqual(versions);
    expect(index.requests.at(-1)?.path).toBe('/to/ki/tokio');
    expect(await source.config()).toEqual({ dl: `${index.url}/api/v1/crates`, api: index.url, authRequired: false });
  });

  it('flags yanked versions; candidates skip yanked and pre-releases', async () => {
    const local = await startCargoLocal({ dir });
    try {
      mkdirSync(join(dir, '3', 'f'), { recursive: true });
      const record = (vers: string, yanked: boolean): string => JSON.stringify({ name: 'foo', vers, deps: [], cksum: '0'.repeat(64), features: {}, yanked });
      writeFileSync(join(dir, '3', 'f', 'foo'), [record('0.3.0', false), record('0.3.1', true), record('0.3.2', false), record('0.4.0-alpha.1', false)].join('\n') + '\n');
      const { versions } = await new CargoSparseIndexSource({ url: local.url, ...fast }).releases('foo');
      expect(versions.filter((v) => v.yanked).map((v) => v.version)).toEqual(['0.3.1']);
      expect(cargoVersioning.candidates(versions)).toEqual(['0.3.0', '0.3.2']);
    } finally {
      await local.close();
    }
  });

  it('sends bearer or basic credentials, and names them when refused', async () => {
    const local = await startCargoLocal({ dir: fixturePath('registry/cargo'), authorization: 'Bearer s3cret' });
    try {
      const good = new CargoSparseIndexSource({ url: local.url, credentials: { kind: 'bearer', token: 's3cret' }, ...fast });
      expect((await good.releases('regex')).versions.map((v) => v.version)).toContain('1.5.5');
      expect((await good.config()).authRequired).toBe(true);
      const verbatim = new CargoSparseIndexSource({ url: local.url, credentials: { kind: 'bearer', token: 'Bearer s3cret' }, ...fast });
      expect((await verbatim.releases('regex')).name).toBe('regex');
      const basic = new CargoSparseIndexSource({ url: local.url, credentials: { kind: 'basic', username: 'ci', password: 'pw' }, ...fast });
      const refused = await basic.releases('regex').catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(TransientError);
      expect((refused as TransientError).message).toMatch(/answered 401 .*check the index credentials/);
      expect((refused as TransientError).message).not.toContain('pw');
      expect(local.requests.at(-1)?.authorization).toBe(`Basic ${Buffer.from('ci:pw').toString('base64')}`);
    } finally {
      await local.close();
    }
  });

  it('reports an unknown crate as PACKAGE_NOT_FOUND without retrying, and a bad name before asking', async () => {
    const source = new CargoSparseIndexSource({ url: index.url, ...fast });
    const before = index.requests.length;
    const err = await source.releases('no-such-crate').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidInputError);
    expect(err).toMatchObject({ code: 'PACKAGE_NOT_FOUND' });
    expect(index.requests.length - before).toBe(1);
    await expect(source.releases('../etc/passwd')).rejects.toMatchObject({ code: 'PACKAGE_NAME_INVALID' });
    expect(index.requests.length - before).toBe(1);
  });

  it('retries 5xx and 429, then gives up with REGISTRY_UNAVAILABLE naming the attempts', async () => {
    const source = new CargoSparseIndexSource({ url: index.url, retries: 2, ...fast });
    index.failNext('/op/en/openssl', 503);
    index.failNext('/op/en/openssl', 429);
    expect((await source.releases('openssl')).versions.map((v) => v.version)).toContain('0.10.55');
    index.failNext('/op/en/openssl', 502, 3);
    const err = await source.releases('openssl').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransientError);
    expect(err).toMatchObject({ code: 'REGISTRY_UNAVAILABLE', details: { attempts: 3, status: 502 } });
  });
});
