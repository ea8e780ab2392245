import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cp, mkdtemp, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unzipSync, zipSync } from 'fflate';
import { fixturePath, thrownInvalidInput } from '@remediation/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchOsvArchive, fetchOsvModifiedSince, OsvDirectoryLister, readZipEntries } from './index.js';

/** OSV sources (osv-sources.ts): incremental directory listing, the ZIP reader, the archive byte cap. */
describe('OsvDirectoryLister', () => {
  let dir: string;
  const names = ['GHSA-27h2-hvpr-p74q.json', 'GHSA-29mw-wpgm-hmr9.json', 'GHSA-2cf5-4w76-r9qv.json'];
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'osv-lister-'));
    for (const n of names) await cp(fixturePath('osv', 'npm', n), join(dir, 'npm', n), { recursive: true });
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('reads every file first, then only changed ones once committed; names ids whose files are gone', async () => {
    const lister = new OsvDirectoryLister(dir, { watch: false });
    const first = await lister.list();
    expect(first).toMatchObject({ complete: true, removed: [], files: { seen: 3, read: 3 } });
    expect(first.records.map((r) => r.id)).toEqual(names.map((n) => n.replace('.json', '')));
    // Not committed (e.g. the import failed): the next listing reads everything again.
    expect((await lister.list()).files.read).toBe(3);
    first.commit();
    expect(await lister.list()).toMatchObject({ complete: false, records: [], removed: [], files: { seen: 3, read: 0 }, scope: 'off' });

    const changedPath = join(dir, 'npm', names[1]!);
    const record = JSON.parse(await readFile(changedPath, 'utf8')) as { modified: string };
    await writeFile(changedPath, JSON.stringify({ ...record, modified: '2099-01-01T00:00:00Z' }));
    await unlink(join(dir, 'npm', names[2]!));
    const second = await lister.list();
    expect(second.complete).toBe(false);
    expect(second.records.map((r) => [r.id, r.modified])).toEqual([['GHSA-29mw-wpgm-hmr9', '2099-01-01T00:00:00Z']]);
    expect(second.removed).toEqual(['GHSA-2cf5-4w76-r9qv']);
    expect(second.records[0]!.record().id).toBe('GHSA-29mw-wpgm-hmr9');
  });

  it("reuses a settled folder's names while its inode, mtime and ctime are unchanged; finds a file rewritten in place by its own stat", async () => {
    const settled = await mkdtemp(join(tmpdir(), 'osv-lister-settled-'));
    try {
      for (const n of names.slice(0, 2)) await cp(fixturePath('osv', 'npm', n), join(settled, 'npm', n));
      await sleep(2_100); // folder times older than the 2 s racy window
      const lister = new OsvDirectoryLister(settled, { watch: false });
      const first = await lister.list();
      expect(first).toMatchObject({ folders: { seen: 2, read: 2 }, files: { seen: 2, read: 2 } });
      first.commit();
      const second = await lister.list();
      expect(second).toMatchObject({ folders: { seen: 2, read: 0 }, files: { seen: 2, read: 0 }, records: [], removed: [] });
      second.commit();

      // Rewritten in place: the folder's mtime stays, the file's stat finds it.
      const npm = join(settled, 'npm');
      const folderBefore = await stat(npm, { bigint: true });
      const changedPath = join(npm, names[0]!);
      const record = JSON.parse(await readFile(changedPath, 'utf8')) as { modified: string };
      await writeFile(changedPath, JSON.stringify({ ...record, modified: '2099-01-01T00:00:00Z' }));
      expect((await stat(npm, { bigint: true })).mtimeNs).toBe(folderBefore.mtimeNs);
      const third = await lister.list();
      expect(third).toMatchObject({ folders: { read: 0 }, files: { seen: 2, read: 1 } });
      expect(third.records.map((r) => [r.id, r.modified])).toEqual([['GHSA-27h2-hvpr-p74q', '2099-01-01T00:00:00Z']]);
      third.commit();

      // A new file changes the folder's mtime: its names are read again, and (too recent to trust) again next time.
      await cp(fixturePath('osv', 'npm', names[2]!), join(npm, names[2]!));
      const fourth = await lister.list();
      expect(fourth).toMatchObject({ folders: { read: 1 }, files: { seen: 3, read: 1 } });
      expect(fourth.records.map((r) => r.id)).toEqual(['GHSA-2cf5-4w76-r9qv']);
      fourth.commit();
      await unlink(join(npm, names[1]!));
      const fifth = await lister.list();
      expect(fifth).toMatchObject({ folders: { read: 1 }, files: { seen: 2, read: 0 }, removed: ['GHSA-29mw-wpgm-hmr9'] });
    } finally {
      await rm(settled, { recursive: true, force: true });
    }
  });

  it('defers the schema check to record(); a file that is not JSON fails the listing naming it', async () => {
    const bad = await mkdtemp(join(tmpdir(), 'osv-lister-bad-'));
    try {
      await writeFile(join(bad, 'A-1.json'), JSON.stringify({ id: 'A-1', modified: '2024-01-01T00:00:00Z', affected: 'not a list' }));
      const listing = await new OsvDirectoryLister(bad).list();
      expect(listing.records.map((r) => r.id)).toEqual(['A-1']);
      expect(thrownInvalidInput(() => listing.records[0]!.record())).toMatchObject({ code: 'ADVISORY_INVALID', message: expect.stringContaining('A-1.json') });
      await writeFile(join(bad, 'B-1.json'), '{ not json');
      await expect(new OsvDirectoryLister(bad).list()).rejects.toMatchObject({ code: 'ADVISORY_INVALID', message: expect.stringContaining('B-1.json') });
    } finally {
      await rm(bad, { recursive: true, force: true });
    }
  });
});

describe('readZipEntries', () => {
  const entries = (n: number): Record<string, Uint8Array> => {
    const out: Record<string, Uint8Array> = {};
    for (let i = 0; i < n; i++) out[`R-${i}.json`] = new TextEncoder().encode(`{"i":${i}}`);
    return out;
  };

  it('reads stored and deflated entries in directory order', () => {
    const zip = zipSync({ 'a.json': [new TextEncoder().encode('{"a":1}'), { level: 0 }], 'b.json': new TextEncoder().encode('{"b":2}'.repeat(50)) });
    const seen: Array<[string, string]> = [];
    expect(readZipEntries(zip, 'test.zip', (name, bytes) => seen.push([name, new TextDecoder().decode(bytes)]))).toBe(2);
    expect(seen).toEqual([
      ['a.json', '{"a":1}'],
      ['b.json', '{"b":2}'.repeat(50)],
    ]);
  });

  it('reads every entry of an archive of more than 65,535 entries written without ZIP64 records (fflate unzipSync sees 4,464)', () => {
    const zip = zipSync(entries(70_000), { level: 0 });
    expect(Object.keys(unzipSync(zip))).toHaveLength(70_000 - 65_536);
    const names: string[] = [];
    expect(readZipEntries(zip, 'big.zip', (name) => names.push(name))).toBe(70_000);
    expect(names.at(-1)).toBe('R-69999.json');
  });

  it('refuses an archive whose end record disagrees with its central directory, or that is cut short, naming the problem', () => {
    const zip = zipSync(entries(10), { level: 0 });
    const wrongCount = zip.slice();
    new DataView(wrongCount.buffer).setUint16(wrongCount.byteLength - 22 + 10, 5, true);
    expect(thrownInvalidInput(() => readZipEntries(wrongCount, 'x.zip', () => undefined))).toMatchObject({
      code: 'ADVISORY_SOURCE_UNREADABLE',
      message: expect.stringContaining('declares 5 entries, the central directory holds 10'),
    });
    expect(thrownInvalidInput(() => readZipEntries(zip.subarray(0, zip.byteLength - 30), 'cut.zip', () => undefined))).toMatchObject({
      code: 'ADVISORY_SOURCE_UNREADABLE',
      message: expect.stringContaining('cut.zip'),
    });
    expect(thrownInvalidInput(() => readZipEntries(new TextEncoder().encode('not a zip at all, just text'), 'text.zip', () => undefined))).toMatchObject({
      code: 'ADVISORY_SOURCE_UNREADABLE',
      message: expect.stringContaining('no end of central directory record'),
    });
  });
});

describe('fetchOsvArchive byte cap', () => {
  let server: Server;
  let url: string;
  const body = zipSync({ 'A-1.json': new TextEncoder().encode(JSON.stringify({ id: 'A-1', modified: '2024-01-01T00:00:00Z' }).repeat(1)) }, { level: 0 });
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/chunked') {
        res.writeHead(200, { 'content-type': 'application/zip' }); // no Content-Length: chunked
        res.write(body.subarray(0, 50));
        res.end(body.subarray(50));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/zip', 'content-length': String(body.byteLength) });
      res.end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('refuses an archive larger than maxBytes by Content-Length or while reading, naming the limit', async () => {
    for (const path of ['/all.zip', '/chunked']) {
      await expect(fetchOsvArchive(`${url}${path}`, {}, { maxBytes: 60, limitName: 'ADVISORY_ARCHIVE_MAX_BYTES' })).rejects.toMatchObject({
        code: 'ADVISORY_ARCHIVE_TOO_LARGE',
        message: expect.stringContaining('ADVISORY_ARCHIVE_MAX_BYTES (60 bytes)'),
        details: { limit: 60 },
      });
    }
    const ok = await fetchOsvArchive(`${url}/chunked`, {}, { maxBytes: body.byteLength });
    expect(ok.status === 'ok' && ok.records.map((r) => r.id)).toEqual(['A-1']);
  });
});

describe('fetchOsvModifiedSince', () => {
  const dump = (csv: string | null): typeof fetch =>
    (async (input: string | URL | Request) => {
      const url = String(input);
      if (url.endsWith('/modified_id.csv')) return csv === null ? new Response('no', { status: 404 }) : new Response(csv);
      const id = decodeURIComponent(url.slice(url.lastIndexOf('/') + 1, -'.json'.length));
      return new Response(JSON.stringify({ id, modified: '2024-05-01T00:00:00Z' }));
    }) as typeof fetch;
  const csv = ['2024-05-02T00:00:00Z,B-2', '2024-05-01T00:00:00Z,A-1', '2024-04-01T00:00:00Z,OLD-1', 'not a line'].join('\n');

  it('lists the records at or after `since` only, reading the list no further than the first older line', async () => {
    const result = await fetchOsvModifiedSince('http://dump.test/', 'npm', '2024-05-01T00:00:00Z', { fetch: dump(csv) });
    expect(result.status === 'ok' && result.records.map((r) => [r.id, r.where])).toEqual([
      ['B-2', 'http://dump.test/npm/B-2.json'],
      ['A-1', 'http://dump.test/npm/A-1.json'],
    ]);
  });

  it('is unavailable without a list or beyond maxRecords; a malformed line before `since` is refused naming it', async () => {
    expect(await fetchOsvModifiedSince('http://dump.test', 'npm', '2024-01-01T00:00:00Z', { fetch: dump(null) })).toMatchObject({ status: 'unavailable' });
    expect(await fetchOsvModifiedSince('http://dump.test', 'npm', '2024-05-01T00:00:00Z', { fetch: dump(csv), maxRecords: 1 })).toMatchObject({
      status: 'unavailable',
      reason: expect.stringContaining('more than 1 records'),
    });
    await expect(fetchOsvModifiedSince('http://dump.test', 'npm', '2024-01-01T00:00:00Z', { fetch: dump(csv) })).rejects.toMatchObject({
      code: 'ADVISORY_SOURCE_UNREADABLE',
      message: expect.stringContaining('line 4'),
    });
  });
});
