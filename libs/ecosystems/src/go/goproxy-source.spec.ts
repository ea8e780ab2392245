import { describe, expect, it } from 'vitest';
import { thrownInvalidInput } from '@remediation/testing';
import { escapeModulePath, fromVersionList, GoProxySource, isModulePath, parseGoProxy } from './goproxy-source.js';

describe('module proxy protocol pieces', () => {
  it('case-encodes module paths (https://go.dev/ref/mod#goproxy-protocol)', () => {
    expect(escapeModulePath('github.com/Azure/azure-sdk-for-go')).toBe('github.com/!azure/azure-sdk-for-go');
    expect(escapeModulePath('github.com/AndrewBurian/powermux')).toBe('github.com/!andrew!burian/powermux');
    expect(escapeModulePath('golang.org/x/net')).toBe('golang.org/x/net');
  });

  it('accepts module paths only', () => {
    for (const ok of ['golang.org/x/net', 'gopkg.in/yaml.v2', 'github.com/BurntSushi/toml', 'github.com/dgrijalva/jwt-go/v4', 'go.etcd.io/bbolt']) expect(isModulePath(ok)).toBe(true);
    for (const bad of ['', 'fmt', 'github.com//x', 'github.com/../etc', 'GitHub.com/x/y', 'github.com/x/y/', 'github.com/x y', 'github.com/.x']) expect(isModulePath(bad)).toBe(false);
  });

  it('reads @v/list: one version per line, first field, valid versions ascending', () => {
    expect(fromVersionList('v1.4.1\nv1.4.0\n\nv1.10.0 2019-01-01T00:00:00Z\nnot-a-version\nv1.4.0\n').map((p) => p.version)).toEqual(['v1.4.0', 'v1.4.1', 'v1.10.0']);
    expect(fromVersionList('')).toEqual([]);
  });

  it('reads GOPROXY lists: , falls through on 404/410, | on any error, direct/off, user info as Basic', () => {
    expect(parseGoProxy('https://proxy.golang.org,direct')).toEqual([
      { proxy: 'https://proxy.golang.org', fallThrough: 'not-found' },
      { proxy: 'direct', fallThrough: 'none' },
    ]);
    expect(parseGoProxy('https://a.example/go/|https://b.example,off')).toEqual([
      { proxy: 'https://a.example/go', fallThrough: 'any-error' },
      { proxy: 'https://b.example', fallThrough: 'not-found' },
      { proxy: 'off', fallThrough: 'none' },
    ]);
    expect(parseGoProxy('https://ci:p%40ss@goproxy.corp.example')).toEqual([
      { proxy: 'https://goproxy.corp.example', fallThrough: 'none', authorization: `Basic ${Buffer.from('ci:p@ss').toString('base64')}` },
    ]);
    for (const bad of ['', 'https://a.example,,direct', 'file:///srv/goproxy', 'proxy.golang.org']) expect(thrownInvalidInput(() => parseGoProxy(bad)).code).toBe('GOPROXY_INVALID');
  });

  it('refuses direct and off with a clear error before any request, and bad module paths', async () => {
    let calls = 0;
    const fetch = (() => {
      calls++;
      return Promise.reject(new Error('no network in this test'));
    }) as unknown as typeof globalThis.fetch;
    await expect(new GoProxySource({ url: 'direct', fetch }).releases('golang.org/x/net')).rejects.toMatchObject({ code: 'GOPROXY_UNSUPPORTED', message: expect.stringContaining('fetching from version control is not supported here') });
    await expect(new GoProxySource({ url: 'off', fetch }).releases('golang.org/x/net')).rejects.toMatchObject({ code: 'GOPROXY_UNSUPPORTED', message: expect.stringContaining('module downloads are disallowed') });
    await expect(new GoProxySource({ url: 'https://proxy.golang.org', fetch }).releases('fmt')).rejects.toMatchObject({ code: 'PACKAGE_NAME_INVALID' });
    expect(calls).toBe(0);
  });
});
