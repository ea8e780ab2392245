// GoProxySource of @remediation/ecosystems against this server (kept here: the lib must not depend on a tool).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidInputError, TransientError } from '@remediation/errors';
import { fixturePath } from '@remediation/testing';
import { goVersioning, GoProxySource } from '@remediation/ecosystems';
import { startGoProxyLocal, type GoProxyLocal } from './server.js';

const fast = { minRetryDelayMs: 1, maxRetryDelayMs: 5 };

describe('GoProxySource against tools/go-proxy-local', () => {
  let proxy: GoProxyLocal;
  let dir: string;
  beforeAll(async () => {
    proxy = await startGoProxyLocal({ dir: fixturePath('registry/go') });
    dir = mkdtempSync(join(tmpdir(), 'go-proxy-local-'));
  });
  afterAll(async () => {
    await proxy.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists the real version lists in module-version order, case-encoding the path', async () => {
    const source = new GoProxySource({ url: `${proxy.url}/`, ...fast });
    expect(source.label).toBe(proxy.url);
    const net = await source.releases('golang.org/x/net');
    expect(net).toMatchObject({ name: 'golang.org/x/net', source: proxy.url });
    const versions = net.versions.map((p) => p.version);
    expect(versions).toEqual(expect.arrayContaining(['v0.4.0', 'v0.56.0']));
    expect([...versions].sort(goVersioning.compare)).toEqual(versions);
    expect(versions.indexOf('v0.7.0')).toBeLessThan(versions.indexOf('v0.13.0'));
    const powermux = await source.releases('github.com/AndrewBurian/powermux');
    expect(powermux.versions.map((p) => p.version)).toEqual(['v1.1.1']);
    expect(proxy.requests.at(-1)?.path).toBe('/github.com/!andrew!burian/powermux/@v/list');
  });

  it('reads release times from .info when asked; a missing .info leaves the time out', async () => {
    const local = await startGoProxyLocal({ dir });
    try {
      mkdirSync(join(dir, 'example.com', '!foo', '@v'), { recursive: true });
      writeFileSync(join(dir, 'example.com', '!foo', '@v', 'list'), 'v1.0.0\nv1.1.0\nv1.2.0-rc.1\n');
      writeFileSync(join(dir, 'example.com', '!foo', '@v', 'v1.1.0.info'), JSON.stringify({ Version: 'v1.1.0', Time: '2021-03-04T05:06:07Z' }));
      const source = new GoProxySource({ url: local.url, releaseTimes: true, ...fast });
      const { versions } = await source.releases('example.com/Foo');
      expect(versions).toEqual([
        { version: 'v1.0.0', yanked: false, deprecated: false },
        { version: 'v1.1.0', yanked: false, deprecated: false, releasedAt: '2021-03-04T05:06:07.000Z' },
        { version: 'v1.2.0-rc.1', yanked: false, deprecated: false },
      ]);
      expect(goVersioning.candidates(versions)).toEqual(['v1.0.0', 'v1.1.0']);
      expect(await source.releasedAt('example.com/Foo', 'v1.1.0')).toBe('2021-03-04T05:06:07.000Z');
    } finally {
      await local.close();
    }
  });

  it('falls through after , only on 404/410, after | on any error; reports not found from every proxy', async () => {
    const empty = await startGoProxyLocal({ dir });
    try {
      const comma = new GoProxySource({ url: `${empty.url},${proxy.url}`, ...fast });
      expect((await comma.releases('gopkg.in/yaml.v2')).source).toBe(proxy.url);
      empty.failNext('/gopkg.in', 410);
      expect((await comma.releases('gopkg.in/yaml.v2')).versions.map((p) => p.version)).toContain('v2.2.8');
      empty.failNext('/gopkg.in', 403);
      await expect(comma.releases('gopkg.in/yaml.v2')).rejects.toMatchObject({ code: 'REGISTRY_UNAVAILABLE', details: { status: 403 } });
      const pipe = new GoProxySource({ url: `${empty.url}|${proxy.url}`, ...fast });
      empty.failNext('/gopkg.in', 403);
      expect((await pipe.releases('gopkg.in/yaml.v2')).source).toBe(proxy.url);
      const none = await new GoProxySource({ url: `${empty.url},${proxy.url}`, ...fast }).releases('github.com/no/such').catch((e: unknown) => e);
      expect(none).toBeInstanceOf(InvalidInputError);
      expect(none).toMatchObject({ code: 'PACKAGE_NOT_FOUND' });
      proxy.failNext('/github.com/no', 410);
      await expect(new GoProxySource({ url: proxy.url, ...fast }).releases('github.com/no/such')).rejects.toMatchObject({ code: 'PACKAGE_NOT_FOUND' });
      const direct = await new GoProxySource({ url: `${proxy.url},direct`, ...fast }).releases('github.com/no/such').catch((e: unknown) => e);
      expect(direct).toMatchObject({ code: 'PACKAGE_NOT_FOUND', message: expect.stringContaining('"direct") is not supported here') });
    } finally {
      await empty.close();
    }
  });

  it('sends credentials to the first proxy only, and never names the password', async () => {
    const private_ = await startGoProxyLocal({ dir: fixturePath('registry/go'), authorization: 'Bearer s3cret' });
    try {
      const good = new GoProxySource({ url: `${private_.url},${proxy.url}`, credentials: { kind: 'bearer', token: 's3cret' }, ...fast });
      expect((await good.releases('github.com/gorilla/websocket')).source).toBe(private_.url);
      const before = proxy.requests.length;
      await good.releases('github.com/no/such').catch(() => undefined);
      expect(proxy.requests.slice(before).every((r) => r.authorization === undefined)).toBe(true);
      expect(proxy.requests.length).toBeGreaterThan(before);
      const basic = new GoProxySource({ url: private_.url, credentials: { kind: 'basic', username: 'ci', password: 'pw' }, ...fast });
      const refused = await basic.releases('github.com/gorilla/websocket').catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(TransientError);
      expect((refused as TransientError).message).toMatch(/answered 401 .*check the module proxy credentials/);
      expect((refused as TransientError).message).not.toContain('pw');
      expect(private_.requests.at(-1)?.authorization).toBe(`Basic ${Buffer.from('ci:pw').toString('base64')}`);
    } finally {
      await private_.close();
    }
  });

  it('retries 5xx and 429, then gives up with REGISTRY_UNAVAILABLE naming the attempts', async () => {
    const source = new GoProxySource({ url: proxy.url, retries: 2, ...fast });
    proxy.failNext('/google.golang.org/grpc/', 503);
    proxy.failNext('/google.golang.org/grpc/', 429);
    expect((await source.releases('google.golang.org/grpc')).versions.map((p) => p.version)).toContain('v1.56.3');
    proxy.failNext('/google.golang.org/grpc/', 502, 3);
    await expect(source.releases('google.golang.org/grpc')).rejects.toMatchObject({ code: 'REGISTRY_UNAVAILABLE', details: { attempts: 3, status: 502 } });
  });
});
