// PypiRegistrySource of @remediation/ecosystems against this server (kept here: the lib must not depend on a tool).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidInputError, TransientError } from '@remediation/errors';
import { fixturePath } from '@remediation/testing';
import { startPypiLocal, type PypiLocal } from './server.js';
import { pep440Versioning, PypiRegistrySource } from '@remediation/ecosystems';

const fast = { minRetryDelayMs: 1, maxRetryDelayMs: 5 };

describe.each(['json', 'simple'] as const)('PypiRegistrySource (%s API) against tools/pypi-local', (api) => {
  let index: PypiLocal;
  let dir: string;
  beforeAll(async () => {
    index = await startPypiLocal({ dir: fixturePath('registry/pypi') });
    dir = mkdtempSync(join(tmpdir(), 'pypi-local-'));
  });
  afterAll(async () => {
    await index.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists the real version lists, ascending by PEP 440, under the PEP 503 name', async () => {
    const source = new PypiRegistrySource({ url: index.url, api, ...fast });
    const django = await source.releases('Django');
    expect(django.name).toBe('django');
    expect(django.source).toBe(api === 'json' ? index.url : `${index.url}/simple`);
    const versions = django.versions.map((v) => v.version);
    expect(versions).toContain('4.2.14');
    expect(versions).toContain('3.2.25');
    expect([...versions].sort(pep440Versioning.compare)).toEqual(versions);
    expect(django.versions.every((v) => !v.yanked && !v.deprecated)).toBe(true);
    // The fixed versions pygoat's case names for PyYAML 5.1 are all published (PYSEC-2020-176/-96, 2021-142).
    const pyyaml = (await source.releases('PyYAML')).versions.map((v) => v.version);
    expect(pyyaml).toEqual(expect.arrayContaining(['5.2b1', '5.3.1', '5.4']));
  });

  it('flags yanked versions with their reason, records requires-python and upload time', async () => {
    const local = await startPypiLocal({ dir });
    try {
      writeFileSync(
        join(dir, 'example-pkg.json'),
        JSON.stringify({
          name: 'Example_Pkg',
          versions: ['1.0', { version: '1.1', yanked: 'broken metadata' }, { version: '1.2', yanked: true }, { version: '2.0', requiresPython: '>=3.9', uploadTime: '2024-01-02T03:04:05Z' }, '2.1rc1'],
        }),
      );
      const source = new PypiRegistrySource({ url: local.url, api, ...fast });
      const { versions } = await source.releases('example.pkg');
      expect(versions).toEqual([
        { version: '1.0', yanked: false, deprecated: false },
        { version: '1.1', yanked: true, yankedReason: 'broken metadata', deprecated: false },
        { version: '1.2', yanked: true, deprecated: false },
        { version: '2.0', yanked: false, deprecated: false, releasedAt: '2024-01-02T03:04:05Z', requiresPython: '>=3.9' },
        { version: '2.1rc1', yanked: false, deprecated: false },
      ]);
      expect(pep440Versioning.candidates(versions)).toEqual(['1.0', '2.0']);
      expect(pep440Versioning.candidates(versions, ['1.1'])).toEqual(['1.0', '1.1', '2.0']);
    } finally {
      await local.close();
    }
  });

  it('sends basic or bearer credentials, and names them when refused', async () => {
    const token = 'Bearer s3cret';
    const local = await startPypiLocal({ dir: fixturePath('registry/pypi'), authorization: token });
    try {
      const good = new PypiRegistrySource({ url: local.url, api, credentials: { kind: 'bearer', token: 's3cret' }, ...fast });
      expect((await good.releases('idna')).versions.map((v) => v.version)).toContain('3.7');
      const basic = new PypiRegistrySource({ url: local.url, api, credentials: { kind: 'basic', username: 'ci', password: 'pw' }, ...fast });
      const refused = await basic.releases('idna').catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(TransientError);
      expect((refused as TransientError).message).toMatch(/answered 401 .*check the index credentials/);
      expect((refused as TransientError).message).not.toContain('pw');
      expect(local.requests.map((r) => r.authorization)).toEqual([token, `Basic ${Buffer.from('ci:pw').toString('base64')}`]);
    } finally {
      await local.close();
    }
  });

  it('reports an unknown package as PACKAGE_NOT_FOUND without retrying, and a bad name before asking', async () => {
    const before = index.requests.length;
    const source = new PypiRegistrySource({ url: index.url, api, ...fast });
    const err = await source.releases('no-such-package').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidInputError);
    expect(err).toMatchObject({ code: 'PACKAGE_NOT_FOUND', message: `package no-such-package was not found on ${source.label}` });
    expect(index.requests.length - before).toBe(1);
    await expect(source.releases('../etc/passwd')).rejects.toMatchObject({ code: 'PACKAGE_NAME_INVALID' });
  });

  it('retries 5xx and 429, then gives up with REGISTRY_UNAVAILABLE naming the attempts', async () => {
    const source = new PypiRegistrySource({ url: index.url, api, retries: 2, ...fast });
    const path = api === 'json' ? '/pypi/requests/json' : '/simple/requests/';
    index.failNext(path, 503);
    index.failNext(path, 429);
    expect((await source.releases('requests')).versions.map((v) => v.version)).toContain('2.31.0');
    index.failNext(path, 502, 3);
    const err = await source.releases('requests').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransientError);
    expect(err).toMatchObject({ code: 'REGISTRY_UNAVAILABLE', details: { attempts: 3, status: 502 } });
  });
});
