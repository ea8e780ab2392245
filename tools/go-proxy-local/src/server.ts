import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { escapeModulePath, isModulePath } from '@remediation/ecosystems';
import { type LocalRegistry, startLocalRegistry } from '@remediation/local-registry';

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

/** A running go-proxy-local server: `url` is the proxy URL (use as GOPROXY); request log and fault injection (e.g. 410 or 503) of @remediation/local-registry. */
export type GoProxyLocal = LocalRegistry;

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
  const { dir, ...connection } = options;
  return startLocalRegistry(connection, async (path) => {
    const m = /^\/(.+)\/@v\/([^/]+)$/.exec(path);
    if (!m) return { status: 404, body: 'not found' };
    const [, escaped, file] = m as unknown as [string, string, string];
    const module = unescape(escaped);
    if (/[A-Z]/.test(path) || !isModulePath(module) || escapeModulePath(module) !== escaped || file.startsWith('.')) {
      return { status: 400, body: `bad request: invalid escaped module path or file ${JSON.stringify(path)}` };
    }
    if (file !== 'list' && !/\.(info|mod)$/.test(file)) return { status: 404, body: 'not found' };
    const text = await readText(join(dir, ...escaped.split('/'), '@v', file));
    if (text === undefined) return { status: 404, body: `not found: ${module}/@v/${file}` };
    return { status: 200, body: text, ...(file.endsWith('.info') ? { contentType: 'application/json' } : {}) };
  });
}
