import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sparseIndexPath } from '@remediation/ecosystems';
import { type LocalRegistry, startLocalRegistry } from '@remediation/local-registry';

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

/** A running cargo-local server: `url` is the index URL (use `sparse+<url>/` in Cargo's config, `<url>` as CARGO_INDEX_URL); request log and fault injection of @remediation/local-registry. */
export type CargoLocal = LocalRegistry;

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
  const { dir, authorization, ...connection } = options;
  return startLocalRegistry({ ...connection, ...(authorization !== undefined ? { authorization } : {}), wwwAuthenticate: 'Cargo login_url="https://example.invalid/me"' }, async (path, { url }) => {
    if (path === '/config.json') {
      const own = await readText(join(dir, 'config.json'));
      const made = JSON.stringify({ dl: `${url}/api/v1/crates`, api: url, ...(authorization !== undefined ? { 'auth-required': true } : {}) });
      return { status: 200, body: own ?? made, contentType: 'application/json' };
    }
    const name = path.split('/').at(-1) ?? '';
    let expected: string | undefined;
    try {
      expected = `/${sparseIndexPath(name)}`;
    } catch {
      expected = undefined;
    }
    if (expected === undefined || expected !== path) return { status: 404, body: 'not found' };
    const text = await readText(join(dir, ...path.slice(1).split('/')));
    return text === undefined ? { status: 404, body: 'not found' } : { status: 200, body: text };
  });
}
