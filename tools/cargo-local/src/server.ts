import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { sparseIndexPath } from '@remediation/ecosystems';

/** Options of {@link startCargoLocal}. */
export interface CargoLocalOptions {
  /**
   * Folder laid out as a Cargo index (`re/ge/regex`, `3/s/syn`, `1/a`, …: the index path rules of
   * https://doc.rust-lang.org/cargo/reference/registry-index.html#index-files), each file
   * newline-delimited JSON records. Re-read on every request. A `config.json` in it is served
   * as is; otherwise one is made (`dl` and `api` pointing at this server).
   */
  dir: string;
  port?: number;
  host?: string;
  /** When set, every request must carry exactly this `Authorization` header value, else 401; `config.json` then says `auth-required`. */
  authorization?: string;
}

/** A running cargo-local server. */
export interface CargoLocal {
  /** Index URL, e.g. `http://127.0.0.1:40123` (use `sparse+<url>/` in Cargo's config, `<url>` as CARGO_INDEX_URL). */
  url: string;
  /** Every request served: method, path, status and the `Authorization` header sent (if any), in order. */
  requests: Array<{ method: string; path: string; status: number; authorization?: string }>;
  /** Answer the next `count` requests whose path starts with `pathPrefix` with `status` (fault injection). */
  failNext(pathPrefix: string, status: number, count?: number): void;
  close(): Promise<void>;
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * A local Cargo sparse index for tests (https://doc.rust-lang.org/cargo/reference/registry-index.html#sparse-protocol):
 * `GET /config.json` and `GET /<index path>` (served only at the path the name's rule gives, as
 * lowercase, `content-type: text/plain`), fed from a folder of index files. Unknown crates and
 * other paths: 404. Serves no `.crate` files.
 */
export async function startCargoLocal(options: CargoLocalOptions): Promise<CargoLocal> {
  const requests: CargoLocal['requests'] = [];
  const faults: Array<{ prefix: string; status: number; left: number }> = [];
  let url = '';
  const send = (req: IncomingMessage, res: ServerResponse, status: number, body: string, contentType = 'text/plain; charset=utf-8', headers: Record<string, string> = {}): void => {
    const authorization = req.headers.authorization;
    requests.push({ method: req.method ?? 'GET', path: req.url ?? '/', status, ...(authorization ? { authorization } : {}) });
    res.writeHead(status, { 'content-type': contentType, ...headers });
    res.end(body);
  };
  const server = createServer((req, res) => {
    void (async () => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      const fault = faults.find((f) => path.startsWith(f.prefix) && f.left > 0);
      if (fault) {
        fault.left--;
        return send(req, res, fault.status, 'injected fault');
      }
      if (options.authorization !== undefined && req.headers.authorization !== options.authorization) {
        return send(req, res, 401, 'authentication required', undefined, { 'www-authenticate': 'Cargo login_url="https://example.invalid/me"' });
      }
      if (req.method !== 'GET') return send(req, res, 405, 'method not allowed');
      if (path === '/config.json') {
        const own = await readText(join(options.dir, 'config.json'));
        const made = JSON.stringify({ dl: `${url}/api/v1/crates`, api: url, ...(options.authorization !== undefined ? { 'auth-required': true } : {}) });
        return send(req, res, 200, own ?? made, 'application/json');
      }
      const name = path.split('/').at(-1) ?? '';
      let expected: string | undefined;
      try {
        expected = `/${sparseIndexPath(name)}`;
      } catch {
        expected = undefined;
      }
      if (expected === undefined || expected !== path) return send(req, res, 404, 'not found');
      const text = await readText(join(options.dir, ...path.slice(1).split('/')));
      return text === undefined ? send(req, res, 404, 'not found') : send(req, res, 200, text);
    })().catch((err: unknown) => send(req, res, 500, (err as Error).message));
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  url = `http://${options.host ?? '127.0.0.1'}:${port}`;
  return {
    url,
    requests,
    failNext: (pathPrefix, status, count = 1) => void faults.push({ prefix: pathPrefix, status, left: count }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
