import { InvalidInputError, TransientError } from '@remediation/errors';
import { type RegistryHttpOptions, fetchRegistryJson } from '@remediation/registry';
import type { PackageReleases, PublishedVersion, RegistryCredentials, RegistrySource, RegistrySourceOptions } from '../types.js';
import { goVersioning, parseGoVersion } from './versioning.js';

/**
 * Whether `path` is a module path the module proxy protocol can serve (https://go.dev/ref/mod#go-mod-file-ident,
 * golang.org/x/mod `module.CheckPath`): slash-separated elements of ASCII letters, digits and
 * `-._~` (no empty, `.`-led or `.`-ended element), the first element a domain-like name with a dot
 * and no uppercase letter.
 */
export function isModulePath(path: string): boolean {
  const elements = path.split('/');
  if (elements.some((e) => !/^[A-Za-z0-9_~-](?:[A-Za-z0-9._~-]*[A-Za-z0-9_~-])?$/.test(e))) return false;
  return /\./.test(elements[0]!) && !/[A-Z]/.test(elements[0]!);
}

/**
 * A module path or version as the proxy protocol writes it in URLs (https://go.dev/ref/mod#goproxy-protocol,
 * "case-encoded"): every uppercase letter becomes `!` and the lowercase letter
 * (`github.com/Azure/azure-sdk-for-go` → `github.com/!azure/azure-sdk-for-go`).
 */
export function escapeModulePath(path: string): string {
  return path.replace(/[A-Z]/g, (c) => `!${c.toLowerCase()}`);
}

/** One entry of a GOPROXY list and what happens after it fails. */
export interface GoProxyEntry {
  /** A proxy base URL (no trailing slash, no user info), or `direct` / `off`. */
  proxy: string;
  /** `not-found`: the next entry is tried only after 404/410 (`,`); `any-error`: after any error (`|`); `none` for the last. */
  fallThrough: 'not-found' | 'any-error' | 'none';
  /** `Authorization` header from user info in the URL (`https://user:pass@host`), when any. */
  authorization?: string;
}

/**
 * Read a GOPROXY value (https://go.dev/ref/mod#environment-variables, "GOPROXY"; https://go.dev/ref/mod#goproxy-protocol):
 * proxy URLs and the keywords `direct` and `off`, separated by `,` (fall through to the next only
 * when a proxy answers 404 or 410) or `|` (fall through on any error). User info in a URL becomes
 * Basic credentials of that entry.
 * @throws InvalidInputError `GOPROXY_INVALID` when the list is empty, an entry is empty or is not
 *   an http(s) URL, `direct` or `off`.
 */
export function parseGoProxy(goproxy: string): GoProxyEntry[] {
  const parts = goproxy.trim().split(/([,|])/);
  const out: GoProxyEntry[] = [];
  for (let i = 0; i < parts.length; i += 2) {
    const raw = parts[i]!.trim();
    const sep = parts[i + 1];
    const fallThrough = sep === ',' ? 'not-found' : sep === '|' ? 'any-error' : 'none';
    if (raw === 'direct' || raw === 'off') {
      out.push({ proxy: raw, fallThrough });
      continue;
    }
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new InvalidInputError('GOPROXY_INVALID', `GOPROXY entry ${JSON.stringify(raw)} is not a URL, "direct" or "off"`, { details: { entry: raw } });
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new InvalidInputError('GOPROXY_INVALID', `GOPROXY entry ${JSON.stringify(raw)} is not an http(s) proxy URL (file:// and other schemes are not supported here)`, { details: { entry: raw } });
    }
    const authorization = url.username !== '' ? `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}` : undefined;
    url.username = '';
    url.password = '';
    out.push({ proxy: url.toString().replace(/\/+$/, ''), fallThrough, ...(authorization !== undefined ? { authorization } : {}) });
  }
  return out;
}

/** Options of {@link GoProxySource}: `url` is a GOPROXY value (one proxy URL or a list). */
export interface GoProxySourceOptions extends RegistrySourceOptions {
  /**
   * Read each listed version's `@v/<version>.info` for its `Time` (`releasedAt`): one more request
   * per version, so off by default; a failed `.info` leaves the time out.
   */
  releaseTimes?: boolean;
}

function authorizationOf(c: RegistryCredentials | undefined): string | undefined {
  if (c === undefined) return undefined;
  return c.kind === 'basic' ? `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}` : `Bearer ${c.token}`;
}

/** The versions of a `@v/list` answer: one per line, the first field of each (some proxies append more), valid module versions only, ascending. */
export function fromVersionList(text: string): PublishedVersion[] {
  const versions = new Set<string>();
  for (const line of text.split('\n')) {
    const v = line.trim().split(/\s+/)[0] ?? '';
    if (v !== '' && parseGoVersion(v) !== null) versions.add(v);
  }
  return [...versions].sort(goVersioning.compare).map((version) => ({ version, yanked: false, deprecated: false }));
}

const notFound = (err: unknown): boolean =>
  (err instanceof InvalidInputError && err.code === 'PACKAGE_NOT_FOUND') || (err instanceof TransientError && err.details?.['status'] === 410);

/**
 * {@link RegistrySource} over Go module proxies (https://go.dev/ref/mod#goproxy-protocol):
 * `GET <proxy>/<case-encoded module>/@v/list` for a module's tagged versions (pseudo-versions are
 * never listed, and never proposed), and, with `releaseTimes`, `GET <proxy>/<module>/@v/<version>.info`
 * (`{"Version","Time"}`) for release times. `url` is a GOPROXY list ({@link parseGoProxy}): after
 * `,` the next proxy is asked only when one answers 404 or 410, after `|` on any error; `direct`
 * (fetching from version control) is not supported by this source and `off` forbids downloads:
 * reaching either fails with `GOPROXY_UNSUPPORTED` (after a 404/410 fall-through, `direct` gives
 * `PACKAGE_NOT_FOUND` naming that the module is on no proxy). `credentials` go to the first proxy
 * only (as `Basic …` or `Bearer <token>`), so a private proxy's token never reaches a public
 * fallback; user info in a proxy URL is sent to that proxy. HTTP policy per request (retries of
 * network errors, timeouts, 408, 429 and 5xx) is `fetchRegistryJson` of @remediation/registry,
 * reading the body as text. Retracted versions (`retract` in the module's latest go.mod) are not
 * read: `yanked` is always false.
 */
export class GoProxySource implements RegistrySource {
  readonly label: string;
  private readonly entries: GoProxyEntry[];
  private readonly options: GoProxySourceOptions;

  /** @throws InvalidInputError `GOPROXY_INVALID` (see {@link parseGoProxy}). */
  constructor(options: GoProxySourceOptions) {
    this.entries = parseGoProxy(options.url);
    this.options = options;
    this.label = this.entries.map((e) => e.proxy).join(',');
    const first = this.entries.findIndex((e) => e.proxy !== 'direct' && e.proxy !== 'off');
    if (first >= 0 && options.credentials !== undefined) {
      this.entries[first] = { ...this.entries[first]!, authorization: authorizationOf(options.credentials)! };
    }
  }

  private http(entry: GoProxyEntry): RegistryHttpOptions {
    const o = this.options;
    return {
      fetch: o.fetch ?? globalThis.fetch,
      timeoutMs: o.timeoutMs ?? 60_000,
      retries: o.retries ?? 4,
      minRetryDelayMs: o.minRetryDelayMs ?? 1_000,
      maxRetryDelayMs: o.maxRetryDelayMs ?? 30_000,
      headers: entry.authorization === undefined ? {} : { authorization: entry.authorization },
      kind: 'module proxy',
      label: entry.proxy,
    };
  }

  /**
   * @param name a module path (`github.com/gorilla/websocket`, `gopkg.in/yaml.v2`, `…/v2`).
   * @throws InvalidInputError `PACKAGE_NAME_INVALID` (not a module path), `PACKAGE_NOT_FOUND`
   *   (404/410 from every proxy tried), `GOPROXY_UNSUPPORTED` (`direct` or `off` reached).
   * @throws TransientError `REGISTRY_UNAVAILABLE` after the retries, or on another 4xx (401, 403, …).
   */
  async releases(name: string): Promise<PackageReleases> {
    if (!isModulePath(name)) throw new InvalidInputError('PACKAGE_NAME_INVALID', `not a Go module path: ${JSON.stringify(name)}`, { details: { name } });
    let lastNotFound: unknown;
    for (const entry of this.entries) {
      if (entry.proxy === 'off' || entry.proxy === 'direct') {
        if (lastNotFound !== undefined && entry.proxy === 'direct') {
          throw new InvalidInputError('PACKAGE_NOT_FOUND', `module ${name} is on no module proxy of GOPROXY (${this.label}); fetching it from version control ("direct") is not supported here`, { details: { name } });
        }
        throw new InvalidInputError(
          'GOPROXY_UNSUPPORTED',
          entry.proxy === 'off'
            ? `GOPROXY reaches "off" for module ${name}: module downloads are disallowed`
            : `GOPROXY reaches "direct" for module ${name}: fetching from version control is not supported here; list a module proxy (e.g. https://proxy.golang.org)`,
          { details: { name, goproxy: this.label } },
        );
      }
      const url = `${entry.proxy}/${escapeModulePath(name)}/@v/list`;
      try {
        const versions = await fetchRegistryJson(this.http(entry), { name, url, accept: 'text/plain, */*;q=0.8', body: 'text', parse: (body) => fromVersionList(body as string) });
        if (this.options.releaseTimes) await this.addTimes(entry, name, versions);
        return { name, versions, source: entry.proxy };
      } catch (err) {
        const missing = notFound(err);
        if (missing) lastNotFound = err;
        if (entry.fallThrough === 'any-error' || (entry.fallThrough === 'not-found' && missing)) continue;
        if (missing) throw new InvalidInputError('PACKAGE_NOT_FOUND', `module ${name} was not found on ${entry.proxy}`, { cause: err, details: { name, url } });
        throw err;
      }
    }
    throw lastNotFound instanceof InvalidInputError
      ? lastNotFound
      : new InvalidInputError('PACKAGE_NOT_FOUND', `module ${name} was not found on ${this.label}`, { details: { name } });
  }

  /**
   * `Time` of one version from `<proxy>/<module>/@v/<version>.info` of the first proxy, or undefined when the
   * proxy does not say (absent, not JSON, no `Time`).
   */
  async releasedAt(name: string, version: string): Promise<string | undefined> {
    const entry = this.entries.find((e) => e.proxy !== 'direct' && e.proxy !== 'off');
    return entry === undefined ? undefined : this.info(entry, name, version);
  }

  private async info(entry: GoProxyEntry, name: string, version: string): Promise<string | undefined> {
    const url = `${entry.proxy}/${escapeModulePath(name)}/@v/${escapeModulePath(version)}.info`;
    try {
      return await fetchRegistryJson(this.http(entry), {
        name,
        url,
        accept: 'application/json',
        parse: (body) => {
          const time = (body as { Time?: unknown } | null)?.Time;
          return typeof time === 'string' && !Number.isNaN(Date.parse(time)) ? new Date(time).toISOString() : undefined;
        },
        invalidBody: () => new InvalidInputError('REGISTRY_DOCUMENT_INVALID', `${url} is not JSON`, { details: { url } }),
      });
    } catch {
      return undefined;
    }
  }

  private async addTimes(entry: GoProxyEntry, name: string, versions: PublishedVersion[]): Promise<void> {
    for (const v of versions) {
      const at = await this.info(entry, name, v.version);
      if (at !== undefined) v.releasedAt = at;
    }
  }
}
