import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { unzipSync } from 'fflate';
import { InvalidInputError, TransientError } from '@remediation/errors';
import { parseOsvRecord } from './osv-directory.js';
import { OsvRecord } from './osv-schema.js';

/**
 * Reads every OSV record of a directory: `*.json` files at the top level and in its immediate
 * subfolders (OSV's per-ecosystem layout, e.g. `osv/npm/…`, `osv/PyPI/…`), withdrawn ones included
 * (the importer decides). Sorted by path.
 * @throws InvalidInputError `ADVISORY_SOURCE_UNREADABLE` when `dir` cannot be read; `ADVISORY_INVALID`
 *   naming the file for a file that is not an OSV record.
 */
export async function readOsvDirectoryRecords(dir: string): Promise<OsvRecord[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    throw new InvalidInputError('ADVISORY_SOURCE_UNREADABLE', `cannot read OSV directory ${dir}: ${(err as Error).message}`, {
      cause: err,
      details: { dir },
    });
  }
  const files: string[] = [];
  for (const e of entries) {
    if (e.isFile() && e.name.endsWith('.json')) files.push(join(dir, e.name));
    if (e.isDirectory()) {
      for (const sub of await readdir(join(dir, e.name), { withFileTypes: true })) {
        if (sub.isFile() && sub.name.endsWith('.json')) files.push(join(dir, e.name, sub.name));
      }
    }
  }
  files.sort();
  const records: OsvRecord[] = [];
  for (const file of files) records.push(parseOsvRecord(await readFile(file, 'utf8'), file));
  return records;
}

/** Validators of the last successful download of an archive (RFC 9110 §8.8). */
export interface HttpValidators {
  etag?: string | undefined;
  lastModified?: string | undefined;
}

/** Outcome of {@link fetchOsvArchive}. */
export type OsvArchiveResult =
  | { status: 'not-modified' }
  | { status: 'ok'; records: OsvRecord[]; validators: HttpValidators };

/**
 * Downloads one OSV `all.zip` (one JSON record per entry; https://google.github.io/osv.dev/data/#data-dump)
 * with a conditional request: `If-None-Match` / `If-Modified-Since` from `prior`
 * (RFC 9110 §13.1.2, §13.1.3); a 304 answer is `not-modified`. Unzipped with fflate.
 * @throws TransientError on a network error or a 5xx/429 answer (the next sync retries);
 *   InvalidInputError `ADVISORY_SOURCE_UNREADABLE` on another status or an archive that is not a
 *   zip; `ADVISORY_INVALID` naming the entry for an entry that is not an OSV record.
 */
export async function fetchOsvArchive(
  url: string,
  prior: HttpValidators,
  options: { timeoutMs?: number; fetch?: typeof fetch } = {},
): Promise<OsvArchiveResult> {
  const headers: Record<string, string> = {};
  if (prior.etag) headers['if-none-match'] = prior.etag;
  if (prior.lastModified) headers['if-modified-since'] = prior.lastModified;
  let res: Response;
  try {
    res = await (options.fetch ?? fetch)(url, { headers, signal: AbortSignal.timeout(options.timeoutMs ?? 300_000) });
  } catch (err) {
    throw new TransientError('ADVISORY_SOURCE_UNAVAILABLE', `cannot download ${url}: ${(err as Error).message}`, { cause: err });
  }
  if (res.status === 304) return { status: 'not-modified' };
  if (res.status >= 500 || res.status === 429) {
    throw new TransientError('ADVISORY_SOURCE_UNAVAILABLE', `${url} answered ${res.status}`);
  }
  if (res.status !== 200) {
    throw new InvalidInputError('ADVISORY_SOURCE_UNREADABLE', `${url} answered ${res.status}`, { details: { url, status: res.status } });
  }
  const body = new Uint8Array(await res.arrayBuffer());
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(body, { filter: (f) => f.name.endsWith('.json') });
  } catch (err) {
    throw new InvalidInputError('ADVISORY_SOURCE_UNREADABLE', `${url} is not a zip archive: ${(err as Error).message}`, {
      cause: err,
      details: { url },
    });
  }
  const decoder = new TextDecoder();
  const records = Object.keys(files)
    .sort()
    .map((name) => parseOsvRecord(decoder.decode(files[name]), `${url}!${name}`));
  return {
    status: 'ok',
    records,
    validators: { etag: res.headers.get('etag') ?? undefined, lastModified: res.headers.get('last-modified') ?? undefined },
  };
}

/** One query of the OSV API's `/v1/querybatch` (https://google.github.io/osv.dev/post-v1-querybatch/). */
export interface OsvQuery {
  package: { ecosystem: string; name: string };
  version?: string;
}

/**
 * Client of the OSV API (https://google.github.io/osv.dev/api/): `POST /v1/querybatch` lists the ids
 * of vulnerabilities per query, `GET /v1/vulns/{id}` returns one record.
 */
export class OsvApiClient {
  /** @param baseUrl e.g. `https://api.osv.dev` (no trailing `/v1`). */
  constructor(
    private readonly baseUrl: string,
    private readonly options: { timeoutMs?: number; fetch?: typeof fetch } = {},
  ) {}

  private async request(path: string, init?: RequestInit): Promise<unknown> {
    const url = new URL(path, this.baseUrl.endsWith('/') ? this.baseUrl : `${this.baseUrl}/`).toString();
    let res: Response;
    try {
      res = await (this.options.fetch ?? fetch)(url, { ...init, signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000) });
    } catch (err) {
      throw new TransientError('ADVISORY_SOURCE_UNAVAILABLE', `cannot reach ${url}: ${(err as Error).message}`, { cause: err });
    }
    if (res.status >= 500 || res.status === 429) throw new TransientError('ADVISORY_SOURCE_UNAVAILABLE', `${url} answered ${res.status}`);
    if (res.status !== 200) {
      throw new InvalidInputError('ADVISORY_SOURCE_UNREADABLE', `${url} answered ${res.status}`, { details: { url, status: res.status } });
    }
    return res.json();
  }

  /**
   * `POST /v1/querybatch`: per query (same order), the ids and `modified` times of the
   * vulnerabilities the API knows (first page of each; the API pages at 1,000 per query).
   */
  async queryBatch(queries: readonly OsvQuery[]): Promise<Array<Array<{ id: string; modified: string }>>> {
    const body = (await this.request('v1/querybatch', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ queries }),
    })) as { results?: Array<{ vulns?: Array<{ id: string; modified: string }> }> };
    return queries.map((_, i) => body.results?.[i]?.vulns ?? []);
  }

  /**
   * `GET /v1/vulns/{id}`: one full record.
   * @throws InvalidInputError `ADVISORY_INVALID` when the answer is not an OSV record.
   */
  async vuln(id: string): Promise<OsvRecord> {
    const json = await this.request(`v1/vulns/${encodeURIComponent(id)}`);
    return parseOsvRecord(JSON.stringify(json), `${this.baseUrl}/v1/vulns/${id}`);
  }
}
