import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidInputError, TransientError } from '@remediation/errors';
import { afterEach, describe, expect, it } from 'vitest';
import { NpmRegistrySource, packagePath, SnapshotDirectorySource, toPackageVersions } from './index.js';

describe('SnapshotDirectorySource (__fixtures__/registry/npm)', () => {
  const source = new SnapshotDirectorySource(fileURLToPath(new URL('./__fixtures__/registry/npm', import.meta.url)));

  it('lists valid semver versions in semver order, with dist-tags', async () => {
    const cookie = await source.listVersions('cookie');
    // In the file 0.7.1 comes before 0.7.0 and 0.1.1 before 0.1.0: order is by semver, not by file or time.
    expect(cookie.versions.slice(cookie.versions.indexOf('0.6.0'))).toEqual([
      '0.6.0',
      '0.7.0',
      '0.7.1',
      '0.7.2',
      '1.0.0',
      '1.0.1',
      '1.0.2',
      '1.1.0',
      '1.1.1',
      '2.0.0',
      '2.0.1',
      '2.0.2',
    ]);
    expect(cookie.distTags).toEqual({ latest: '2.0.2' });
    expect(cookie.deprecated.size).toBe(0);
  });

  it('packument() returns the file’s whole document; a package not in the snapshot is PACKAGE_NOT_FOUND', async () => {
    const doc = (await source.packument('cookie')) as { name: string; versions: Record<string, unknown> };
    expect(doc.name).toBe('cookie');
    expect(Object.keys(doc.versions)).toContain('0.7.2');
    await expect(source.packument('no-such-package-here')).rejects.toMatchObject({ code: 'PACKAGE_NOT_FOUND' });
  });

  it('drops versions that are not strict semver', async () => {
    const express = await source.listVersions('express');
    expect(express.versions).not.toContain('1.0.0rc3');
    expect(express.versions).toContain('4.19.2');
  });

  it('reads scoped packages stored as scope__name.json', async () => {
    const scoped = await source.listVersions('@ai-sdk/openai-compatible');
    expect(scoped.name).toBe('@ai-sdk/openai-compatible');
    expect(scoped.distTags['latest']).toBe('3.0.92');
    expect(scoped.versions).toContain('3.0.92');
  });

  it('answers packages missing from the snapshot from one directory listing, and sees files added after listingTtlMs', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'snapshot-'));
    try {
      await writeFile(join(dir, 'present.json'), JSON.stringify({ versions: { '1.0.0': {} } }));
      const listed = new SnapshotDirectorySource(dir, { listingTtlMs: 200 });
      await expect(listed.listVersions('present')).resolves.toMatchObject({ versions: ['1.0.0'] });
      await expect(listed.listVersions('later')).rejects.toMatchObject({ code: 'PACKAGE_NOT_FOUND' });
      await writeFile(join(dir, 'later.json'), JSON.stringify({ versions: { '2.0.0': {} } }));
      // Within the listing's lifetime the file is not looked for (nor is the cached answer asked again).
      await expect(listed.listVersions('later')).rejects.toMatchObject({ code: 'PACKAGE_NOT_FOUND' });
      await expect(listed.packument('later')).rejects.toMatchObject({ code: 'PACKAGE_NOT_FOUND' });
      await new Promise((r) => setTimeout(r, 250));
      await expect(listed.listVersions('later')).resolves.toMatchObject({ versions: ['2.0.0'] });
      // Without a listing every lookup opens the files.
      const unlisted = new SnapshotDirectorySource(dir, { listingTtlMs: 0 });
      await expect(unlisted.listVersions('newest')).rejects.toMatchObject({ code: 'PACKAGE_NOT_FOUND' });
      await writeFile(join(dir, 'newest.json'), JSON.stringify({ versions: { '3.0.0': {} } }));
      await expect(unlisted.listVersions('newest')).resolves.toMatchObject({ versions: ['3.0.0'] });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('collects deprecated versions', async () => {
    const types = await source.listVersions('@types/config');
    expect([...types.deprecated]).toEqual(['4.4.0']);
  });

  it('reports unknown packages and bad names', async () => {
    await expect(source.listVersions('no-such-package-here')).rejects.toMatchObject({ code: 'PACKAGE_NOT_FOUND' });
    await expect(source.listVersions('../etc/passwd')).rejects.toMatchObject({ code: 'PACKAGE_NAME_INVALID' });
  });
});

describe('toPackageVersions: per-version dependencies', () => {
  it('keeps each version\'s dependencies when its document has them; a version without is unknown, not empty', () => {
    // Shapes of express's packument (express 4.20.0 requires body-parser 1.20.3); 4.0.0 trimmed to its version.
    const read = toPackageVersions(
      'express',
      {
        versions: {
          '4.0.0': { version: '4.0.0' },
          '4.20.0': { version: '4.20.0', dependencies: { 'body-parser': '1.20.3', send: '0.19.0', bad: 42 } },
          '4.21.0': { version: '4.21.0', dependencies: {} },
          '1.0.0rc3': { version: '1.0.0rc3', dependencies: { connect: '1.x' } },
        },
      },
      'memory',
    );
    expect([...read.dependencies!.entries()]).toEqual([
      ['4.20.0', { 'body-parser': '1.20.3', send: '0.19.0' }],
      ['4.21.0', {}],
    ]);
  });

  it('reads a published dependencies object as it is (no copy), and drops an own __proto__ key or a non-plain object as zod does', () => {
    const published = { 'body-parser': '1.20.3', send: '0.19.0' };
    const document = JSON.parse(
      '{"versions": {"1.0.0": {"dependencies": {"__proto__": "1.0.0", "a": "^1.0.0"}}, "1.1.0": {"dependencies": {"__proto__": "1.0.0", "a": 2, "b": "^2.0.0"}}}}',
    ) as { versions: Record<string, unknown> };
    document.versions['2.0.0'] = { dependencies: published };
    document.versions['3.0.0'] = { dependencies: new Map([['size', '1.0.0']]) };
    const read = toPackageVersions('pkg', document, 'memory').dependencies!;
    expect(read.get('2.0.0')).toBe(published);
    for (const version of ['1.0.0', '1.1.0']) {
      expect(Object.hasOwn(read.get(version)!, '__proto__'), version).toBe(false);
      expect(Object.getPrototypeOf(read.get(version)), version).toBe(Object.prototype);
    }
    expect(read.get('1.0.0')).toEqual({ a: '^1.0.0' });
    expect(read.get('1.1.0')).toEqual({ b: '^2.0.0' });
    expect(Object.keys(read.get('3.0.0')!)).toEqual([]);
  });
});

describe('toPackageVersions: documents that are not packuments', () => {
  const code = (document: unknown): string | undefined => {
    try {
      toPackageVersions('pkg', document, 'memory');
      return undefined;
    } catch (err) {
      return `${(err as { code?: string }).code}: ${(err as Error).message}`;
    }
  };

  it('refuses what the schema refuses, naming the field', () => {
    expect(code({ versions: {}, 'dist-tags': { latest: 1 } })).toMatch(/^REGISTRY_DOCUMENT_INVALID: .*dist-tags\.latest/);
    expect(code({ versions: {}, 'dist-tags': [] })).toMatch(/^REGISTRY_DOCUMENT_INVALID: .*dist-tags/);
    expect(code({ versions: {}, name: null })).toMatch(/^REGISTRY_DOCUMENT_INVALID: .*name/);
    expect(code({ versions: ['1.0.0'] })).toMatch(/^REGISTRY_DOCUMENT_INVALID: .*versions/);
    expect(code({ name: 'pkg' })).toMatch(/^REGISTRY_DOCUMENT_INVALID: .*versions/);
    expect(code([])).toMatch(/^REGISTRY_DOCUMENT_INVALID/);
    expect(code(null)).toMatch(/^REGISTRY_DOCUMENT_INVALID/);
    expect(code({ versions: new Map([['1.0.0', {}]]) })).toMatch(/^REGISTRY_DOCUMENT_INVALID: .*versions/);
  });

  it('reads a document with a `__proto__` key as zod does: without it', () => {
    const read = toPackageVersions('pkg', JSON.parse('{"versions":{"1.0.0":{}},"dist-tags":{"__proto__":"x","latest":"1.0.0"}}'), 'memory');
    expect(read.distTags).toEqual({ latest: '1.0.0' });
    expect(Object.hasOwn(read.distTags, '__proto__')).toBe(false);
  });

  it('reads a packument with extra fields, without changing it', () => {
    const document = { name: 'pkg', 'dist-tags': { latest: '1.1.0' }, versions: { '1.1.0': {}, '1.0.0': { deprecated: 'use 1.1.0' } }, time: { created: 'x' } };
    const before = JSON.stringify(document);
    const read = toPackageVersions('pkg', document, 'memory');
    expect(read).toMatchObject({ versions: ['1.0.0', '1.1.0'], distTags: { latest: '1.1.0' } });
    expect([...read.deprecated]).toEqual(['1.0.0']);
    read.distTags['next'] = '2.0.0';
    expect(JSON.stringify(document)).toBe(before);
  });
});

describe('packagePath', () => {
  it('encodes the scope slash like the npm CLI', () => {
    expect(packagePath('@types/node')).toBe('@types%2fnode');
    expect(packagePath('express')).toBe('express');
  });
});

describe('NpmRegistrySource against a local HTTP server', () => {
  let server: Server | undefined;

  afterEach(async () => {
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server!.close(() => resolve()));
      server = undefined;
    }
  });

  /** Starts a server answering with `handler`; returns its base URL and the request log. */
  async function serve(
    handler: (req: IncomingMessage, res: ServerResponse, n: number) => void,
  ): Promise<{ url: string; requests: { url: string; accept: string | undefined }[] }> {
    const requests: { url: string; accept: string | undefined }[] = [];
    server = createServer((req, res) => {
      requests.push({ url: req.url ?? '', accept: req.headers.accept });
      handler(req, res, requests.length);
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', () => resolve()));
    const { port } = server.address() as AddressInfo;
    return { url: `http://127.0.0.1:${port}/`, requests };
  }

  const packument = JSON.stringify({
    name: '@scope/pkg',
    'dist-tags': { latest: '1.1.0' },
    versions: {
      '1.1.0': { version: '1.1.0' },
      '1.0.0': { version: '1.0.0', deprecated: 'use 1.1.0' },
      '1.2.0-beta.1': { version: '1.2.0-beta.1' },
      '1.0.0beta': { version: '1.0.0beta' },
    },
    time: { '1.0.0': '2099-01-01T00:00:00Z', '1.1.0': '1999-01-01T00:00:00Z' },
  });

  const fast = { retries: 3, minRetryDelayMs: 10, maxRetryDelayMs: 20 };

  it('GETs <url>/@scope%2fname asking for JSON, and caches the answer', async () => {
    const { url, requests } = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(packument);
    });
    const source = new NpmRegistrySource({ url, ...fast });
    const result = await source.listVersions('@scope/pkg');
    expect(result.versions).toEqual(['1.0.0', '1.1.0', '1.2.0-beta.1']);
    expect([...result.deprecated]).toEqual(['1.0.0']);
    expect(result.distTags).toEqual({ latest: '1.1.0' });
    await source.listVersions('@scope/pkg');
    expect(requests).toHaveLength(1);
    expect(requests[0]!.url).toBe('/@scope%2fpkg');
    expect(requests[0]!.accept).toMatch(/application\/vnd\.npm\.install-v1\+json/);
    expect(requests[0]!.accept).toMatch(/application\/json/);
  });

  it('packument() returns the whole document (what lockfile updates read), and rejects one without versions', async () => {
    const { url, requests } = await serve((req, res) => {
      if (req.url === '/bad') res.writeHead(200, { 'content-type': 'application/json' }).end('{"name":"bad"}');
      else res.writeHead(200, { 'content-type': 'application/json' }).end(packument);
    });
    const source = new NpmRegistrySource({ url, ...fast });
    expect(await source.packument('@scope/pkg')).toEqual(JSON.parse(packument));
    expect(requests[0]!.url).toBe('/@scope%2fpkg');
    await expect(source.packument('bad')).rejects.toMatchObject({ code: 'REGISTRY_DOCUMENT_INVALID' });
  });

  it('remembers a 404 for notFoundTtlMs: a second lookup does not ask the registry again', async () => {
    const { url, requests } = await serve((_req, res) => {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"Not found"}');
    });
    const source = new NpmRegistrySource({ url, ...fast });
    await expect(source.listVersions('missing')).rejects.toMatchObject({ code: 'PACKAGE_NOT_FOUND' });
    await expect(source.listVersions('missing')).rejects.toMatchObject({ code: 'PACKAGE_NOT_FOUND' });
    expect(requests).toHaveLength(1);
    const uncached = new NpmRegistrySource({ url, ...fast, notFoundTtlMs: 0 });
    await expect(uncached.listVersions('missing')).rejects.toMatchObject({ code: 'PACKAGE_NOT_FOUND' });
    await expect(uncached.listVersions('missing')).rejects.toMatchObject({ code: 'PACKAGE_NOT_FOUND' });
    expect(requests).toHaveLength(3);
  });

  it('turns 404 into PACKAGE_NOT_FOUND without retrying', async () => {
    const { url, requests } = await serve((_req, res) => {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"Not found"}');
    });
    const err = await new NpmRegistrySource({ url, ...fast }).listVersions('missing').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidInputError);
    expect(err).toMatchObject({ code: 'PACKAGE_NOT_FOUND', retryable: false });
    expect(requests).toHaveLength(1);
  });

  it('retries a 500 and succeeds on the next 200', async () => {
    const { url, requests } = await serve((_req, res, n) => {
      if (n === 1) res.writeHead(500).end('oops');
      else res.writeHead(200, { 'content-type': 'application/json' }).end(packument);
    });
    const result = await new NpmRegistrySource({ url, ...fast }).listVersions('@scope/pkg');
    expect(result.versions).toContain('1.1.0');
    expect(requests).toHaveLength(2);
  });

  it('gives up with REGISTRY_UNAVAILABLE after the retries', async () => {
    const { url, requests } = await serve((_req, res) => {
      res.writeHead(503).end();
    });
    const err = await new NpmRegistrySource({ url, ...fast }).listVersions('pkg').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransientError);
    expect(err).toMatchObject({ code: 'REGISTRY_UNAVAILABLE', retryable: true, details: { attempts: 4, status: 503 } });
    expect(requests).toHaveLength(4);
  });

  it('does not retry other client errors', async () => {
    const { url, requests } = await serve((_req, res) => {
      res.writeHead(403).end();
    });
    const err = await new NpmRegistrySource({ url, ...fast }).listVersions('pkg').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'REGISTRY_UNAVAILABLE', details: { status: 403 } });
    expect(requests).toHaveLength(1);
  });

  it('times out a registry that never answers', async () => {
    const { url } = await serve(() => {
      /* never answer */
    });
    const err = await new NpmRegistrySource({ url, timeoutMs: 50, retries: 1, minRetryDelayMs: 10 })
      .listVersions('pkg')
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'REGISTRY_UNAVAILABLE', details: { attempts: 2 } });
    expect((err as Error).message).toMatch(/timed out after 50 ms/);
  });

  it('retries network errors (connection refused)', async () => {
    const { url } = await serve((_req, res) => res.end());
    await new Promise<void>((resolve) => server!.close(() => resolve()));
    server = undefined;
    const err = await new NpmRegistrySource({ url, retries: 1, minRetryDelayMs: 10 }).listVersions('pkg').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'REGISTRY_UNAVAILABLE', details: { attempts: 2 } });
  });

  it('defaults to a realistic 120 s timeout', () => {
    expect((new NpmRegistrySource({ url: 'http://127.0.0.1:9' }) as unknown as { timeoutMs: number }).timeoutMs).toBe(120_000);
  });
});
