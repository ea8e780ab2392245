import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

/** Options of {@link startMavenLocal}. */
export interface MavenLocalOptions {
  /**
   * Folder laid out as a Maven repository (https://maven.apache.org/repositories/layout.html):
   * `<group path>/<artifact>/maven-metadata.xml`, e.g. `org/apache/logging/log4j/log4j-core/maven-metadata.xml`.
   * Re-read on every request.
   */
  dir: string;
  port?: number;
  host?: string;
  /** When set, every request must carry exactly this `Authorization` header value, else 401 (as Artifactory and Nexus answer). */
  authorization?: string;
}

/** A running maven-local server. */
export interface MavenLocal {
  /** Repository base URL, e.g. `http://127.0.0.1:40123` (one entry of MAVEN_REPOSITORY_URL). */
  url: string;
  /** Every request served: method, path, status and the `Authorization` header sent (if any), in order. */
  requests: Array<{ method: string; path: string; status: number; authorization?: string }>;
  /** Answer the next `count` requests whose path starts with `pathPrefix` with `status` (fault injection). */
  failNext(pathPrefix: string, status: number, count?: number): void;
  close(): Promise<void>;
}

/** `<group path>/<artifact>/maven-metadata.xml`: path segments of Maven ids, nothing that could leave the folder. */
const METADATA_PATH = /^\/(?:[A-Za-z0-9_][A-Za-z0-9_.-]*\/)+maven-metadata\.xml$/;

/**
 * A local Maven repository for tests: `GET /<group path>/<artifact>/maven-metadata.xml` served
 * from a folder (`application/xml`); any other path, a missing file, or a segment with `..`: 404.
 * Serves no artifacts (`.jar`, `.pom`).
 */
export async function startMavenLocal(options: MavenLocalOptions): Promise<MavenLocal> {
  const requests: MavenLocal['requests'] = [];
  const faults: Array<{ prefix: string; status: number; left: number }> = [];
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
        return send(req, res, 401, 'authentication required', undefined, { 'www-authenticate': 'Basic realm="maven-local"' });
      }
      if (req.method !== 'GET') return send(req, res, 405, 'method not allowed');
      if (!METADATA_PATH.test(path) || path.split('/').includes('..')) return send(req, res, 404, 'not found');
      const text = await readFile(join(options.dir, ...path.slice(1).split('/')), 'utf8').catch(() => undefined);
      return text === undefined ? send(req, res, 404, 'not found') : send(req, res, 200, text, 'application/xml');
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
