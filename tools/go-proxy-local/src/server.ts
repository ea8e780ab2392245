import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { escapeModulePath, isModulePath } from '@remediation/ecosystems';

/** Options of {@link startGoProxyLocal}. */
export interface GoProxyLocalOptions {
  /**
   * Folder laid out as a module proxy (the layout of a `file://` GOPROXY and of
   * `$GOMODCACHE/cache/download`): `<case-encoded module>/@v/list` (one version per line) and,
   * optionally, `@v/<version>.info` (`{"Version","Time"}`) and `@v/<version>.mod`. Re-read on every request.
   */
  dir: string;
  port?: number;
  host?: string;
  /** When set, every request must carry exactly this `Authorization` header value, else 401. */
  authorization?: string;
}

/** A running go-proxy-local server. */
export interface GoProxyLocal {
  /** Proxy URL, e.g. `http://127.0.0.1:40123` (use as GOPROXY). */
  url: string;
  /** Every request served: method, path, status and the `Authorization` header sent (if any), in order. */
  requests: Array<{ method: string; path: string; status: number; authorization?: string }>;
  /** Answer the next `count` requests whose path starts with `pathPrefix` with `status` (fault injection, e.g. 410 or 503). */
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

const unescape = (s: string): string => s.replace(/!([a-z])/g, (_, c: string) => c.toUpperCase());

/**
 * A local Go module proxy for tests (https://go.dev/ref/mod#goproxy-protocol): `GET
 * /<module>/@v/list`, `GET /<module>/@v/<version>.info` and `GET /<module>/@v/<version>.mod`,
 * fed from a folder. Paths must be case-encoded (`!a` for `A`): an uppercase letter, a path that
 * is not a module path, or a `..` element gets 400; an unknown module or file 404 (`text/plain`,
 * as proxy.golang.org answers). `@latest` and `.zip` are not served (404).
 */
export async function startGoProxyLocal(options: GoProxyLocalOptions): Promise<GoProxyLocal> {
  const requests: GoProxyLocal['requests'] = [];
  const faults: Array<{ prefix: string; status: number; left: number }> = [];
  const send = (req: IncomingMessage, res: ServerResponse, status: number, body: string, contentType = 'text/plain; charset=utf-8'): void => {
    const authorization = req.headers.authorization;
    requests.push({ method: req.method ?? 'GET', path: req.url ?? '/', status, ...(authorization ? { authorization } : {}) });
    res.writeHead(status, { 'content-type': contentType });
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
      if (options.authorization !== undefined && req.headers.authorization !== options.authorization) return send(req, res, 401, 'authentication required');
      if (req.method !== 'GET') return send(req, res, 405, 'method not allowed');
      const m = /^\/(.+)\/@v\/([^/]+)$/.exec(path);
      if (!m) return send(req, res, 404, 'not found');
      const [, escaped, file] = m as unknown as [string, string, string];
      const module = unescape(escaped);
      if (/[A-Z]/.test(path) || !isModulePath(module) || escapeModulePath(module) !== escaped || file.startsWith('.')) {
        return send(req, res, 400, `bad request: invalid escaped module path or file ${JSON.stringify(path)}`);
      }
      if (file !== 'list' && !/\.(info|mod)$/.test(file)) return send(req, res, 404, 'not found');
      const text = await readText(join(options.dir, ...escaped.split('/'), '@v', file));
      if (text === undefined) return send(req, res, 404, `not found: ${module}/@v/${file}`);
      return send(req, res, 200, text, file.endsWith('.info') ? 'application/json' : 'text/plain; charset=utf-8');
    })().catch((err: unknown) => send(req, res, 500, (err as Error).message));
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://${options.host ?? '127.0.0.1'}:${port}`;
  return {
    url,
    requests,
    failNext: (pathPrefix, status, count = 1) => void faults.push({ prefix: pathPrefix, status, left: count }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
