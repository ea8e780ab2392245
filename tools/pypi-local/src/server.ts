import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isPythonName, normalisePythonName } from '@remediation/ecosystems';
import { type LocalAnswer, type LocalRegistry, startLocalRegistry } from '@remediation/local-registry';

/** Options of {@link startPypiLocal}. */
export interface PypiLocalOptions {
  /** Directory of `<normalised name>.json` package files (format in the README). Re-read on every request. */
  dir: string;
  port?: number;
  host?: string;
  /** When set, every request must carry exactly this `Authorization` header value, else 401. */
  authorization?: string;
}

/** A running pypi-local server: `url` is the base URL (JSON API at `<url>/pypi/<name>/json`, Simple API at `<url>/simple/`); request log and fault injection of @remediation/local-registry. */
export type PypiLocal = LocalRegistry;

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
  const { dir, ...connection } = options;
  const json = (status: number, body: unknown, contentType = 'application/json'): LocalAnswer => ({ status, body: JSON.stringify(body), contentType });
  const notFound = json(404, { message: 'Not Found' });
  return startLocalRegistry({ ...connection, wwwAuthenticate: 'Basic realm="pypi-local"' }, async (path) => {
    const project = /^\/pypi\/([^/]+)\/json\/?$/.exec(path);
    if (project) {
      const name = decodeURIComponent(project[1]!);
      const normal = normalisePythonName(name);
      const pkg = isPythonName(name) ? await readPackage(dir, normal) : undefined;
      return pkg ? json(200, jsonApiDocument(pkg, normal)) : notFound;
    }
    if (path === '/simple/' || path === '/simple') {
      const names = (await readdir(dir)).filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -5)).sort();
      return json(200, { meta: { 'api-version': '1.1' }, projects: names.map((name) => ({ name })) }, SIMPLE_JSON);
    }
    const simple = /^\/simple\/([^/]+)\/?$/.exec(path);
    if (simple) {
      const name = decodeURIComponent(simple[1]!);
      const normal = normalisePythonName(name);
      if (name !== normal || !path.endsWith('/')) return { status: 301, body: '', headers: { location: `/simple/${normal}/` } };
      const pkg = isPythonName(name) ? await readPackage(dir, normal) : undefined;
      return pkg ? json(200, simpleDocument(pkg, normal), SIMPLE_JSON) : notFound;
    }
    return notFound;
  });
}
