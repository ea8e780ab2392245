import { InvalidInputError } from '@remediation/errors';
import * as pep440 from '@renovatebot/pep440';
import { type RegistryHttpOptions, fetchRegistryJson } from '@remediation/registry';
import type { PackageReleases, PublishedVersion, RegistrySource, RegistrySourceOptions } from '../types.js';
import { assertPythonName, normalisePythonName } from './names.js';

/** Options of {@link PypiRegistrySource}. */
export interface PypiRegistrySourceOptions extends RegistrySourceOptions {
  /**
   * Which API to read. `json` (default): PyPI's JSON API, `GET <url>/pypi/<name>/json`
   * (https://docs.pypi.org/api/json/). `simple`: the Simple Repository API in JSON, PEP 691
   * (https://peps.python.org/pep-0691/) with PEP 700's `versions` and `upload-time`
   * (https://peps.python.org/pep-0700/), `GET <simpleUrl>/<normalised name>/` — what private
   * indexes such as devpi, Artifactory or Nexus serve.
   */
  api?: 'json' | 'simple';
  /** Root of the Simple API when it is not `<url>/simple` (e.g. devpi's `<url>/root/pypi/+simple`). */
  simpleUrl?: string;
}

const SIMPLE_JSON = 'application/vnd.pypi.simple.v1+json';

interface VersionFacts {
  files: number;
  yankedFiles: number;
  yankedReason?: string;
  releasedAt?: string;
  requiresPython?: string;
}

function invalidDocument(name: string, url: string, what: string): InvalidInputError {
  return new InvalidInputError('REGISTRY_DOCUMENT_INVALID', `${url} is not a PyPI ${what} document for ${name}`, { details: { name, url } });
}

function addFile(facts: Map<string, VersionFacts>, version: string, file: { yanked?: unknown; uploaded?: unknown; requiresPython?: unknown }): void {
  const f = facts.get(version) ?? { files: 0, yankedFiles: 0 };
  facts.set(version, f);
  f.files++;
  if (file.yanked === true || (typeof file.yanked === 'string' && file.yanked !== '')) {
    f.yankedFiles++;
    if (typeof file.yanked === 'string') f.yankedReason = file.yanked;
  }
  if (typeof file.uploaded === 'string' && (f.releasedAt === undefined || file.uploaded < f.releasedAt)) f.releasedAt = file.uploaded;
  if (typeof file.requiresPython === 'string' && file.requiresPython !== '' && f.requiresPython === undefined) f.requiresPython = file.requiresPython;
}

/**
 * Version of a distribution file by its name: wheels `{name}-{version}(-{build})?-{py}-{abi}-{plat}.whl`
 * (https://packaging.python.org/en/latest/specifications/binary-distribution-format/), sdists
 * `{name}-{version}.tar.gz` / `.zip` (legacy names may hold `-`, so the version is after the last `-`).
 */
export function versionOfFilename(filename: string): string | undefined {
  if (filename.endsWith('.whl')) return filename.split('-')[1];
  const stem = /^(.*)\.(tar\.gz|tar\.bz2|tar\.xz|zip|tgz|tar)$/.exec(filename)?.[1];
  if (stem === undefined || !stem.includes('-')) return undefined;
  return stem.slice(stem.lastIndexOf('-') + 1);
}

/** A version is yanked when it has files and all of them are yanked (PEP 592 §"Installers"). */
function toPublished(facts: Map<string, VersionFacts>, listed: Iterable<string>): PublishedVersion[] {
  const all = new Set([...listed, ...facts.keys()]);
  return [...all]
    .filter((v) => pep440.valid(v) !== null)
    .sort(pep440.compare)
    .map((version) => {
      const f = facts.get(version);
      const yanked = f !== undefined && f.files > 0 && f.yankedFiles === f.files;
      return {
        version,
        yanked,
        ...(yanked && f?.yankedReason ? { yankedReason: f.yankedReason } : {}),
        deprecated: false,
        ...(f?.releasedAt ? { releasedAt: f.releasedAt } : {}),
        ...(f?.requiresPython ? { requiresPython: f.requiresPython } : {}),
      };
    });
}

/** The JSON API's `releases` map: version → files with `yanked`, `yanked_reason`, `upload_time_iso_8601`, `requires_python`. */
export function fromJsonApi(name: string, body: unknown, url: string): PublishedVersion[] {
  const releases = (body as { releases?: unknown } | null)?.releases;
  if (typeof releases !== 'object' || releases === null || Array.isArray(releases)) throw invalidDocument(name, url, 'JSON API');
  const facts = new Map<string, VersionFacts>();
  for (const [version, files] of Object.entries(releases as Record<string, unknown>)) {
    if (!Array.isArray(files)) throw invalidDocument(name, url, 'JSON API');
    for (const file of files as Array<Record<string, unknown>>) {
      addFile(facts, version, {
        yanked: file['yanked'] === true ? (typeof file['yanked_reason'] === 'string' && file['yanked_reason'] !== '' ? file['yanked_reason'] : true) : false,
        uploaded: file['upload_time_iso_8601'],
        requiresPython: file['requires_python'],
      });
    }
  }
  return toPublished(facts, Object.keys(releases as object));
}

/** PEP 691 project page: `files[]` with `filename`, `yanked` (bool or reason), `requires-python`, PEP 700 `upload-time`; PEP 700 `versions`. */
export function fromSimpleApi(name: string, body: unknown, url: string): PublishedVersion[] {
  const doc = body as { files?: unknown; versions?: unknown } | null;
  if (!doc || !Array.isArray(doc.files)) throw invalidDocument(name, url, 'Simple API (PEP 691)');
  const facts = new Map<string, VersionFacts>();
  for (const file of doc.files as Array<Record<string, unknown>>) {
    const version = typeof file['filename'] === 'string' ? versionOfFilename(file['filename']) : undefined;
    if (version === undefined) continue;
    addFile(facts, pep440.clean(version) ?? version, { yanked: file['yanked'], uploaded: file['upload-time'], requiresPython: file['requires-python'] });
  }
  const listed = Array.isArray(doc.versions) ? (doc.versions as unknown[]).filter((v): v is string => typeof v === 'string') : [];
  return toPublished(facts, listed);
}

/**
 * {@link RegistrySource} over a PyPI-compatible index: PyPI's JSON API or the Simple API JSON
 * (see {@link PypiRegistrySourceOptions.api}). Credentials go in `Authorization` (basic or
 * bearer) and are never put in errors. Retries network errors, timeouts, 408, 429 and 5xx with
 * exponential backoff (p-retry), as the npm source of @remediation/registry does; 404 is
 * `PACKAGE_NOT_FOUND` at once. Results are not cached (callers cache per plan).
 */
export class PypiRegistrySource implements RegistrySource {
  readonly label: string;
  private readonly base: string;
  private readonly simpleBase: string;
  private readonly api: 'json' | 'simple';
  private readonly http: RegistryHttpOptions;

  constructor(options: PypiRegistrySourceOptions) {
    this.base = options.url.replace(/\/+$/, '');
    this.simpleBase = (options.simpleUrl ?? `${this.base}/simple`).replace(/\/+$/, '');
    this.api = options.api ?? 'json';
    this.label = this.api === 'json' ? this.base : this.simpleBase;
    const c = options.credentials;
    this.http = {
      fetch: options.fetch ?? globalThis.fetch,
      timeoutMs: options.timeoutMs ?? 60_000,
      retries: options.retries ?? 4,
      minRetryDelayMs: options.minRetryDelayMs ?? 1_000,
      maxRetryDelayMs: options.maxRetryDelayMs ?? 30_000,
      headers:
        c === undefined ? {} : c.kind === 'basic' ? { authorization: `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}` } : { authorization: `Bearer ${c.token}` },
      kind: 'index',
      label: this.label,
    };
  }

  /**
   * @param name a PEP 508 distribution name, any case or separator (normalised by PEP 503).
   * @throws InvalidInputError `PACKAGE_NAME_INVALID`, `PACKAGE_NOT_FOUND` (404),
   *   `REGISTRY_DOCUMENT_INVALID` (not the documented shape).
   * @throws TransientError `REGISTRY_UNAVAILABLE` after the retries, or on another 4xx (401, 403, …);
   *   `details` carry name, url, attempts and status.
   */
  async releases(name: string): Promise<PackageReleases> {
    assertPythonName(name);
    const normal = normalisePythonName(name);
    const url = this.api === 'json' ? `${this.base}/pypi/${normal}/json` : `${this.simpleBase}/${normal}/`;
    const accept = this.api === 'json' ? 'application/json' : SIMPLE_JSON;
    const body = await this.fetchJson(normal, url, accept);
    const versions = this.api === 'json' ? fromJsonApi(normal, body, url) : fromSimpleApi(normal, body, url);
    return { name: normal, versions, source: this.label };
  }

  private fetchJson(name: string, url: string, accept: string): Promise<unknown> {
    return fetchRegistryJson(this.http, {
      name,
      url,
      accept,
      parse: (body) => body,
      invalidBody: () => invalidDocument(name, url, accept === SIMPLE_JSON ? 'Simple API (PEP 691)' : 'JSON API'),
    });
  }
}
