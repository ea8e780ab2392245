import { readdir, readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { isPythonName, normalisePythonName } from '@remediation/ecosystems';

/** Options of {@link startPypiLocal}. */
export interface PypiLocalOptions {
  /** Directory of `<normalised name>.json` package files (format in the README). Re-read on every request. */
  dir: string;
  port?: number;
  host?: string;
  /** When set, every request must carry exactly this `Authorization` header value, else 401. */
  authorization?: string;
}

/** A running pypi-local server. */
export interface PypiLocal {
  /** Base URL, e.g. `http://127.0.0.1:40123`: JSON API at `<url>/pypi/<name>/json`, Simple API at `<url>/simple/`. */
  url: string;
  /** Every request served: method, path, status and the `Authorization` header sent (if any), in order. */
  requests: Array<{ method: string; path: string; status: number; authorization?: string }>;
  /** Answer the next `count` requests whose path starts with `pathPrefix` with `status` (fault injection). */
  failNext(pathPrefix: string, status: number, count?: number): void;
  close(): Promise<void>;
}

/** One version in a package file: a bare version string or an object with facts. */
type VersionEntry = string | { version: string; yanked?: boolean | string; requiresPython?: string; uploadTime?: string };

/** A package file: `{ name, versions: [...] }`. */
interface PackageFile {
  name: string;
  versions: VersionEntry[];
}

const SIMPLE_JSON = 'application/vnd.pypi.simple.v1+json';

async function readPackage(dir: string, normal: string): Promise<PackageFile | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, `${normal}.json`), 'utf8');
  } catch {
    return undefined;
  }
  const doc = JSON.parse(text) as PackageFile;
  if (typeof doc.name !== 'string' || !Array.isArray(doc.versions)) throw new Error(`${normal}.json has no name or versions`);
  return doc;
}

const entryOf = (e: VersionEntry): Exclude<VersionEntry, string> => (typeof e === 'string' ? { version: e } : e);

/** The synthetic sdist of a version (no file is served; the name follows the sdist naming rule). */
const sdistName = (normal: string, version: string): string => `${normal.replace(/-/g, '_')}-${version}.tar.gz`;

/** PyPI's JSON API project document (https://docs.pypi.org/api/json/), one sdist per version. */
function jsonApiDocument(pkg: PackageFile, normal: string): unknown {
  const entries = pkg.versions.map(entryOf);
  const latest = entries.filter((e) => !e.yanked).at(-1);
  const releases: Record<string, unknown[]> = {};
  for (const e of entries) {
    releases[e.version] = [
      {
        filename: sdistName(normal, e.version),
        packagetype: 'sdist',
        url: `/packages/${sdistName(normal, e.version)}`,
        digests: {},
        requires_python: e.requiresPython ?? null,
        upload_time_iso_8601: e.uploadTime ?? null,
        yanked: Boolean(e.yanked),
        yanked_reason: typeof e.yanked === 'string' ? e.yanked : null,
      },
    ];
  }
  return { info: { name: pkg.name, version: latest?.version ?? null, requires_python: latest?.requiresPython ?? null, yanked: false }, releases, urls: [], vulnerabilities: [] };
}

/** PEP 691 project page with PEP 700 `versions` and `upload-time`. */
function simpleDocument(pkg: PackageFile, normal: string): unknown {
  const entries = pkg.versions.map(entryOf);
  return {
    meta: { 'api-version': '1.1' },
    name: normal,
    versions: entries.map((e) => e.version),
    files: entries.map((e) => ({
      filename: sdistName(normal, e.version),
      url: `/packages/${sdistName(normal, e.version)}`,
      hashes: {},
      ...(e.requiresPython ? { 'requires-python': e.requiresPython } : {}),
      ...(e.uploadTime ? { 'upload-time': e.uploadTime } : {}),
      ...(e.yanked ? { yanked: e.yanked } : {}),
    })),
  };
}

/**
 * A local PyPI-compatible index for tests: `GET /pypi/<name>/json` (PyPI's JSON API,
 * https://docs.pypi.org/api/json/) and the Simple API in JSON (`GET /simple/` and
 * `GET /simple/<name>/`, PEP 691 with PEP 700's `versions`; non-normalised names are redirected
 * to the PEP 503 form with 301 as PyPI does), fed from a directory of package files. Serves
 * metadata only: the files named in the documents do not exist.
 */
export async function startPypiLocal(options: PypiLocalOptions): Promise<PypiLocal> {
  const requests: PypiLocal['requests'] = [];
  const faults: Array<{ prefix: string; status: number; left: number }> = [];
  const send = (req: IncomingMessage, res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void => {
    const authorization = req.headers.authorization;
    requests.push({ method: req.method ?? 'GET', path: req.url ?? '/', status, ...(authorization ? { authorization } : {}) });
    res.writeHead(status, { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers });
    res.end(body === undefined ? undefined : JSON.stringify(body));
  };
  const server = createServer((req, res) => {
    void (async () => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      const fault = faults.find((f) => path.startsWith(f.prefix) && f.left > 0);
      if (fault) {
        fault.left--;
        return send(req, res, fault.status, { message: 'injected fault' });
      }
      if (options.authorization !== undefined && req.headers.authorization !== options.authorization) {
        return send(req, res, 401, { message: 'authentication required' }, { 'www-authenticate': 'Basic realm="pypi-local"' });
      }
      if (req.method !== 'GET') return send(req, res, 405, { message: 'method not allowed' });
      const json = /^\/pypi\/([^/]+)\/json\/?$/.exec(path);
      if (json) {
        const name = decodeURIComponent(json[1]!);
        const normal = normalisePythonName(name);
        const pkg = isPythonName(name) ? await readPackage(options.dir, normal) : undefined;
        return pkg ? send(req, res, 200, jsonApiDocument(pkg, normal)) : send(req, res, 404, { message: 'Not Found' });
      }
      if (path === '/simple/' || path === '/simple') {
        const names = (await readdir(options.dir)).filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -5)).sort();
        return send(req, res, 200, { meta: { 'api-version': '1.1' }, projects: names.map((name) => ({ name })) }, { 'content-type': SIMPLE_JSON });
      }
      const simple = /^\/simple\/([^/]+)\/?$/.exec(path);
      if (simple) {
        const name = decodeURIComponent(simple[1]!);
        const normal = normalisePythonName(name);
        if (name !== normal || !path.endsWith('/')) return send(req, res, 301, undefined, { location: `/simple/${normal}/` });
        const pkg = isPythonName(name) ? await readPackage(options.dir, normal) : undefined;
        if (!pkg) return send(req, res, 404, { message: 'Not Found' });
        return send(req, res, 200, simpleDocument(pkg, normal), { 'content-type': SIMPLE_JSON });
      }
      return send(req, res, 404, { message: 'Not Found' });
    })().catch((err: unknown) => send(req, res, 500, { message: (err as Error).message }));
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host ?? '127.0.0.1'}:${port}`,
    requests,
    failNext: (pathPrefix, status, count = 1) => void faults.push({ prefix: pathPrefix, status, left: count }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
