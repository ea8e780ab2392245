import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Connection settings of a local registry server. */
export interface LocalRegistryOptions {
  /** Port to listen on; 0 or absent: a free port. */
  port?: number;
  /** Default `127.0.0.1`. */
  host?: string;
  /** When set, every request must carry exactly this `Authorization` header value, else 401. */
  authorization?: string;
  /** `WWW-Authenticate` value of that 401 (default `Basic realm="local"`). */
  wwwAuthenticate?: string;
}

/** A running local registry server. */
export interface LocalRegistry {
  /** Base URL, e.g. `http://127.0.0.1:40123`. */
  url: string;
  /** Every request served: method, path, status and the `Authorization` header sent (if any), in order. */
  requests: Array<{ method: string; path: string; status: number; authorization?: string }>;
  /** Answer the next `count` requests whose path starts with `pathPrefix` with `status` (fault injection). */
  failNext(pathPrefix: string, status: number, count?: number): void;
  close(): Promise<void>;
}

/** What a handler answers. */
export interface LocalAnswer {
  status: number;
  body: string;
  /** Default `text/plain; charset=utf-8`. */
  contentType?: string;
  /** Further response headers (e.g. `location` of a redirect). */
  headers?: Record<string, string>;
}

/** Answers one authorised `GET` by its URL path (decoded by the handler as it needs); the server's URL is given for documents that point back at it. */
export type LocalRequestHandler = (path: string, context: { url: string; request: IncomingMessage }) => Promise<LocalAnswer>;

/**
 * Starts an HTTP server for tests that records every request, injects faults (`failNext`),
 * requires an exact `Authorization` when asked (401 otherwise), answers 405 to anything but `GET`,
 * and passes the rest to `handle` (500 with the message when it throws).
 */
export async function startLocalRegistry(options: LocalRegistryOptions, handle: LocalRequestHandler): Promise<LocalRegistry> {
  const requests: LocalRegistry['requests'] = [];
  const faults: Array<{ prefix: string; status: number; left: number }> = [];
  let url = '';
  const send = (req: IncomingMessage, res: ServerResponse, answer: LocalAnswer, headers: Record<string, string> = {}): void => {
    const authorization = req.headers.authorization;
    requests.push({ method: req.method ?? 'GET', path: req.url ?? '/', status: answer.status, ...(authorization ? { authorization } : {}) });
    res.writeHead(answer.status, { 'content-type': answer.contentType ?? 'text/plain; charset=utf-8', ...answer.headers, ...headers });
    res.end(answer.body);
  };
  const server = createServer((req, res) => {
    void (async () => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      const fault = faults.find((f) => path.startsWith(f.prefix) && f.left > 0);
      if (fault) {
        fault.left--;
        return send(req, res, { status: fault.status, body: 'injected fault' });
      }
      if (options.authorization !== undefined && req.headers.authorization !== options.authorization) {
        return send(req, res, { status: 401, body: 'authentication required' }, { 'www-authenticate': options.wwwAuthenticate ?? 'Basic realm="local"' });
      }
      if (req.method !== 'GET') return send(req, res, { status: 405, body: 'method not allowed' });
      return send(req, res, await handle(path, { url, request: req }));
    })().catch((err: unknown) => send(req, res, { status: 500, body: (err as Error).message }));
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
