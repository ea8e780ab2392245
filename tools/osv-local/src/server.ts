import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import pLimit from 'p-limit';
import { isAffected, normalisePackageName, parseOsvRecord, toAdvisory, type OsvRecord } from '@remediation/advisories';

/** Options of {@link startOsvLocal}. */
export interface OsvLocalOptions {
  /** Directory with one subfolder of OSV `*.json` files per ecosystem (`npm/`, `PyPI/`, …). Re-read on every request. */
  dir: string;
  port?: number;
  host?: string;
}

/** A running osv-local server. */
export interface OsvLocal {
  /** Base URL, e.g. `http://127.0.0.1:40123`: archives at `<url>/<ecosystem>/all.zip`, the API at `<url>/v1/…`. */
  url: string;
  /** Every request served: method, path and status, in order. */
  requests: Array<{ method: string; path: string; status: number }>;
  close(): Promise<void>;
}

interface Archive {
  body: Uint8Array;
  etag: string;
  lastModified: string;
}

/** Files read at once: a folder of 200,000 records would otherwise exhaust file descriptors (EMFILE). */
const READ_CONCURRENCY = 64;

async function recordsOf(dir: string): Promise<Array<{ name: string; text: string; mtimeMs: number }>> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.json')).sort();
  const limit = pLimit(READ_CONCURRENCY);
  return Promise.all(
    names.map((name) =>
      limit(async () => ({ name, text: await readFile(join(dir, name), 'utf8'), mtimeMs: (await stat(join(dir, name))).mtimeMs })),
    ),
  );
}

/**
 * The `all.zip` of one ecosystem folder; ETag from the content, Last-Modified from the newest file (RFC 9110 §8.8).
 * The files are read on every call; the zip is rebuilt only when their content hash differs from
 * the one `cache` holds for `dir` (compressing 200,000 records takes tens of seconds).
 */
async function archiveOf(dir: string, cache: Map<string, Archive>): Promise<Archive> {
  const files = await recordsOf(dir);
  const hash = createHash('sha256');
  for (const f of files) hash.update(f.name).update('\0').update(f.text).update('\0');
  const etag = `"${hash.digest('hex').slice(0, 32)}"`;
  const newest = files.reduce((max, f) => Math.max(max, f.mtimeMs), 0);
  const lastModified = new Date(Math.floor(newest / 1000) * 1000).toUTCString();
  const cached = cache.get(dir);
  if (cached?.etag === etag) return { ...cached, lastModified };
  const encoder = new TextEncoder();
  const entries: Record<string, [Uint8Array, { mtime: Date }]> = {};
  for (const f of files) entries[f.name] = [encoder.encode(f.text), { mtime: new Date('2000-01-01T00:00:00Z') }];
  const archive = { body: withZip64End(zipSync(entries), files.length), etag, lastModified };
  cache.set(dir, archive);
  return archive;
}

/**
 * `zip` (fflate's `zipSync` output: no archive comment, sizes and offsets below 4 GiB) with ZIP64
 * end records when it has more than 65,535 entries (PKWARE APPNOTE 6.3.x §4.3.14 ZIP64 end of
 * central directory record, §4.3.15 its locator, §4.4.1.4 0xFFFF fields): fflate writes the entry
 * count in the 16-bit field of the end record only, so an archive of 200,000 entries would
 * declare 3,392. Exported for tests.
 * @throws Error when the archive is 4 GiB or larger (fflate's 32-bit offsets would be wrong already).
 */
export function withZip64End(zip: Uint8Array, entries: number): Uint8Array {
  if (entries <= 0xfffe) return zip;
  if (zip.byteLength >= 0xffffffff) throw new Error(`archive of ${zip.byteLength} bytes: 32-bit offsets cannot address it`);
  const eocd = zip.byteLength - 22;
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  if (view.getUint32(eocd, true) !== 0x06054b50) throw new Error('no end of central directory record at the end of the archive');
  const cdSize = view.getUint32(eocd + 12, true);
  const cdOffset = view.getUint32(eocd + 16, true);
  const out = new Uint8Array(eocd + 56 + 20 + 22);
  out.set(zip.subarray(0, eocd), 0);
  const o = new DataView(out.buffer);
  let p = eocd;
  o.setUint32(p, 0x06064b50, true); // ZIP64 end of central directory record
  o.setBigUint64(p + 4, 44n, true); // size of the rest of the record
  o.setUint16(p + 12, 45, true); // version made by (4.5: ZIP64)
  o.setUint16(p + 14, 45, true); // version needed
  o.setUint32(p + 16, 0, true); // this disk
  o.setUint32(p + 20, 0, true); // disk with the central directory
  o.setBigUint64(p + 24, BigInt(entries), true);
  o.setBigUint64(p + 32, BigInt(entries), true);
  o.setBigUint64(p + 40, BigInt(cdSize), true);
  o.setBigUint64(p + 48, BigInt(cdOffset), true);
  p += 56;
  o.setUint32(p, 0x07064b50, true); // ZIP64 end of central directory locator
  o.setUint32(p + 4, 0, true);
  o.setBigUint64(p + 8, BigInt(eocd), true); // offset of the ZIP64 end record
  o.setUint32(p + 16, 1, true); // total disks
  p += 20;
  out.set(zip.subarray(eocd, eocd + 22), p);
  o.setUint16(p + 8, 0xffff, true); // entries on this disk: see the ZIP64 record
  o.setUint16(p + 10, 0xffff, true); // total entries: see the ZIP64 record
  return out;
}

async function allRecords(dir: string): Promise<OsvRecord[]> {
  const out: OsvRecord[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (!e.isDirectory()) continue;
    for (const f of await recordsOf(join(dir, e.name))) out.push(parseOsvRecord(f.text, join(dir, e.name, f.name)));
  }
  return out;
}

function notModified(req: IncomingMessage, archive: Archive): boolean {
  const inm = req.headers['if-none-match'];
  if (inm !== undefined) return inm.split(',').map((s) => s.trim()).includes(archive.etag);
  const ims = req.headers['if-modified-since'];
  return ims !== undefined && Date.parse(ims) >= Date.parse(archive.lastModified);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * A local stand-in for OSV's data dump and API, for tests: `GET /<ecosystem>/all.zip` (the
 * ecosystem folder zipped, with ETag/Last-Modified and 304 on `If-None-Match`/`If-Modified-Since`;
 * https://google.github.io/osv.dev/data/#data-dump), `GET /<ecosystem>/modified_id.csv`
 * (`<modified>,<id>` per record, newest first: the folder's own `modified_id.csv` when it has one,
 * else built from its records), `GET /<ecosystem>/<id>.json` (one record: the file `<id>.json` when
 * it holds that id, else found by scanning the folder), `POST /v1/querybatch` (ids and `modified` per
 * query; with a version, only records affecting it by OSV evaluation;
 * https://google.github.io/osv.dev/post-v1-querybatch/) and `GET /v1/vulns/{id}`
 * (https://google.github.io/osv.dev/get-v1-vulns/). Files are read per request, so a test changes
 * the served data by writing files.
 */
export async function startOsvLocal(options: OsvLocalOptions): Promise<OsvLocal> {
  const requests: OsvLocal['requests'] = [];
  const archives = new Map<string, Archive>();
  const send = (req: IncomingMessage, res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void => {
    requests.push({ method: req.method ?? 'GET', path: req.url ?? '/', status });
    const payload = body instanceof Uint8Array ? body : body === undefined ? undefined : JSON.stringify(body);
    res.writeHead(status, { ...(typeof payload === 'string' ? { 'content-type': 'application/json' } : {}), ...headers });
    res.end(payload);
  };
  const server = createServer((req, res) => {
    void (async () => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      const zip = /^\/([^/]+)\/all\.zip$/.exec(path);
      if (req.method === 'GET' && zip) {
        const folder = join(options.dir, decodeURIComponent(zip[1]!));
        if (!(await stat(folder).catch(() => null))?.isDirectory()) return send(req, res, 404, { message: 'unknown ecosystem' });
        const archive = await archiveOf(folder, archives);
        const validators = { etag: archive.etag, 'last-modified': archive.lastModified };
        if (notModified(req, archive)) return send(req, res, 304, undefined, validators);
        return send(req, res, 200, archive.body, { ...validators, 'content-type': 'application/zip' });
      }
      const changes = /^\/([^/]+)\/modified_id\.csv$/.exec(path);
      if (req.method === 'GET' && changes) {
        const folder = join(options.dir, decodeURIComponent(changes[1]!));
        if (!(await stat(folder).catch(() => null))?.isDirectory()) return send(req, res, 404, { message: 'unknown ecosystem' });
        // A list the folder holds is served as written (OSV's bucket holds it as a file); otherwise built from the records.
        const written = await readFile(join(folder, 'modified_id.csv')).catch(() => null);
        if (written) return send(req, res, 200, new Uint8Array(written), { 'content-type': 'text/csv' });
        const lines = (await recordsOf(folder))
          .map((f) => parseOsvRecord(f.text, join(folder, f.name)))
          .sort((a, b) => Date.parse(b.modified) - Date.parse(a.modified) || (a.id < b.id ? -1 : 1))
          .map((r) => `${new Date(r.modified).toISOString()},${r.id}\n`);
        return send(req, res, 200, new TextEncoder().encode(lines.join('')), { 'content-type': 'text/csv' });
      }
      const single = /^\/([^/]+)\/([^/]+)\.json$/.exec(path);
      if (req.method === 'GET' && single) {
        const id = decodeURIComponent(single[2]!);
        const folder = join(options.dir, decodeURIComponent(single[1]!));
        // OSV's layout names each file by its record's id: read that file; any other name, by scanning the folder.
        const named = id.includes('/') || id.startsWith('.') ? null : await readFile(join(folder, `${id}.json`), 'utf8').catch(() => null);
        const direct = named === null ? undefined : parseOsvRecord(named, join(folder, `${id}.json`));
        const found = direct?.id === id ? direct : (await recordsOf(folder).catch(() => [])).map((f) => parseOsvRecord(f.text, join(folder, f.name))).find((r) => r.id === id);
        return found ? send(req, res, 200, found) : send(req, res, 404, { message: 'not found' });
      }
      const vuln = /^\/v1\/vulns\/([^/]+)$/.exec(path);
      if (req.method === 'GET' && vuln) {
        const id = decodeURIComponent(vuln[1]!);
        const found = (await allRecords(options.dir)).find((r) => r.id === id);
        return found ? send(req, res, 200, found) : send(req, res, 404, { code: 5, message: 'Bug not found.' });
      }
      if (req.method === 'POST' && path === '/v1/querybatch') {
        let queries: Array<{ package?: { ecosystem?: string; name?: string }; version?: string }>;
        try {
          queries = (JSON.parse(await readBody(req)) as { queries: typeof queries }).queries;
          if (!Array.isArray(queries)) throw new Error('queries is not an array');
        } catch (err) {
          return send(req, res, 400, { code: 3, message: `invalid request: ${(err as Error).message}` });
        }
        const records = (await allRecords(options.dir)).filter((r) => r.withdrawn === undefined);
        const results = queries.map((q) => {
          const eco = q.package?.ecosystem ?? '';
          const name = normalisePackageName(eco, q.package?.name ?? '');
          const vulns = records.filter((r) => {
            const entries = (r.affected ?? []).filter((a) => a.package.ecosystem === eco && normalisePackageName(eco, a.package.name) === name);
            if (entries.length === 0) return false;
            if (q.version === undefined) return true;
            const advisory = toAdvisory(r, eco);
            return advisory !== undefined && entries.some((a) => isAffected(advisory, a.package.name, q.version!));
          });
          return vulns.length ? { vulns: vulns.map((r) => ({ id: r.id, modified: r.modified })) } : {};
        });
        return send(req, res, 200, { results });
      }
      return send(req, res, 404, { message: 'not found' });
    })().catch((err: unknown) => send(req, res, 500, { message: (err as Error).message }));
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host ?? '127.0.0.1'}:${port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
