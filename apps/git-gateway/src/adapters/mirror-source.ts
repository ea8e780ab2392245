/**
 * Where {@link ensureMirror} (mirror.ts) gets a repository from: an internal git mirror
 * ("Kagami-style") that may offer a pre-built **bundle** for the first clone, or the
 * repository itself (plain clone).
 *
 * ## The internal mirror protocol (what {@link httpMirrorSource} speaks)
 * For a repository whose mirror path is `<path>` (default: the URL path, `acme/widgets`; see
 * {@link mirrorPathOf}):
 *  - `GET|HEAD <baseUrl>/<path>.git/bundle` → `200` with a git bundle (git-bundle(1), v2 or v3
 *    header `# v2 git bundle`, `Content-Type: application/x-git-bundle`, `Content-Length`
 *    in bytes) holding the full history of `refs/heads/*` and `refs/tags/*` (no
 *    prerequisites) as of some recent time; `404` when the mirror has no bundle (yet). The
 *    body may be served by a redirect (e.g. to a CDN). The bundle may be stale: the client
 *    always follows it with an incremental fetch.
 *  - `<baseUrl>/<path>.git` is a git smart-HTTP remote (gitprotocol-http(5):
 *    `GET …/info/refs?service=git-upload-pack`, `POST …/git-upload-pack`, protocol v0–v2).
 *  - `POST <baseUrl>/<path>.git/bundle/refresh` (optional, dev mirror only) rebuilds the bundle.
 * `tools/git-mirror-local` implements this protocol over a directory of bare repositories.
 *
 * ## The bundle-first clone (used by mirror.ts for the FIRST clone of a mirror only)
 * 1. `bundleFor(repository)`; `null` → plain clone.
 * 2. Download the bundle ourselves, streamed to a temp file next to the mirror, with byte
 *    heartbeats (`operation: 'bundle'`, phase `downloading bundle`, `received`/`total` in
 *    bytes; `total` from `Content-Length`, 0 when unknown). A short body (fewer bytes than
 *    `Content-Length`) is "truncated".
 * 3. `git init --bare <tmp>`, `git bundle verify <file>` (header, prerequisites: git-bundle(1);
 *    it does NOT check the pack), then `git fetch <file> +refs/heads/*:refs/heads/*
 *    +refs/tags/*:refs/tags/*` (index-pack checks the pack: a truncated pack fails here).
 * 4. mirror.ts then sets `remote.origin.url` to `remoteFor(repository)` and runs its usual
 *    incremental `fetch --prune` of heads and tags (pruning branches deleted since the bundle
 *    was made, fetching newer commits, following the remote HEAD), so the result equals a
 *    plain `git clone --bare`.
 * Any failure of steps 1–3 other than an abort (HTTP error, truncated or invalid bundle,
 * index-pack failure) is not fatal: a heartbeat `{ operation: 'bundle', phase: 'bundle
 * fallback', detail }` is emitted, the partial state is removed and mirror.ts does a plain
 * clone from `remoteFor(repository)`.
 *
 * Why not `git clone --bundle-uri=<uri>` (git 2.39 has it): git downloads the bundle through
 * its http transport without download progress, silently ignores a failed or bad bundle, and
 * 2.39 has no way to tell whether the bundle was used at all; downloading it ourselves gives
 * byte heartbeats, an explicit fallback heartbeat, and the same code path for any URL.
 */
import { open, rm } from 'node:fs/promises';
import { InvalidInputError, TransientError } from '@remediation/errors';
import { git } from './git.js';
import type { GitProgress, NormalizedRepository } from './mirror.js';

/** A bundle the source offers for a repository. */
export interface BundleOffer {
  /** `http(s)://` URL of the bundle file (GET, redirects followed). */
  url: string;
  /** Extra request headers for the download (e.g. an internal `Authorization`). Never logged. */
  headers?: Record<string, string>;
}

/**
 * Where a mirror is cloned and fetched from.
 *  - `bundleFor`: a bundle for the first clone, or `null` when there is none (then a plain
 *    clone). May throw (the clone then falls back to a plain clone, with a heartbeat).
 *  - `remoteFor`: the git remote (URL or path) for the clone and every later fetch. The
 *    credentials given to `ensureMirror` are sent to this remote (askpass, HTTP basic).
 */
export interface MirrorSource {
  /** Short name for heartbeats/logs, e.g. `internal-mirror`. */
  readonly name: string;
  bundleFor(repository: NormalizedRepository, options?: { signal?: AbortSignal }): Promise<BundleOffer | null>;
  remoteFor(repository: NormalizedRepository): string;
}

/** The repository itself, no bundle: exactly the behaviour of `ensureMirror` without a source. */
export const noBundleSource: MirrorSource = {
  name: 'repository',
  bundleFor: async () => null,
  remoteFor: (repository) => repository.remote,
};

/** Options of {@link httpMirrorSource}. */
export interface HttpMirrorSourceOptions {
  /** Base URL of the internal mirror, e.g. `https://mirror.internal` or `http://127.0.0.1:3901/` (trailing `/` optional). */
  baseUrl: string;
  /** Headers for the bundle probe and download (not for git: use `ensureMirror` credentials). */
  headers?: Record<string, string>;
  /** Repository → mirror path without `.git` (default {@link mirrorPathOf}). */
  pathFor?: (repository: NormalizedRepository) => string;
  /** Timeout of the `HEAD …/bundle` probe, ms. Default 10 s. */
  probeTimeoutMs?: number;
}

const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/**
 * Default mirror path of a repository: the path of its URL (`https://github.com/Acme/Widgets`
 * and `git@github.com:Acme/Widgets.git` → `Acme/Widgets`; nested groups keep every segment);
 * for local paths (dev), the last two segments (`/srv/remotes/acme/widgets` → `acme/widgets`).
 * @throws InvalidInputError `MIRROR_PATH_INVALID` (not retryable) when a segment is empty, `.`/`..`, or has
 *   characters outside `[A-Za-z0-9_.-]` (the path must be a safe URL and file path).
 */
export function mirrorPathOf(repository: NormalizedRepository): string {
  const location = repository.location;
  const isUrl = /^[a-z][a-z0-9+.-]*:\/\//i.test(location);
  const path = isUrl ? location.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, '') : location;
  let segments = path.split('/').filter((s) => s.length > 0);
  if (!isUrl) segments = segments.slice(-2);
  // Bare repositories are conventionally named `<repo>.git`; the protocol appends `.git` itself.
  if (segments.length > 0) segments[segments.length - 1] = segments[segments.length - 1]!.replace(/\.git$/, '');
  if (segments.length === 0 || !segments.every((s) => SEGMENT.test(s) && s !== '.' && s !== '..')) {
    throw new InvalidInputError('MIRROR_PATH_INVALID', `no mirror path for ${location}`, { details: { location } });
  }
  return segments.join('/');
}

/**
 * The internal mirror over HTTP (protocol in the module comment): `remoteFor` =
 * `<baseUrl>/<path>.git`; `bundleFor` probes `HEAD <baseUrl>/<path>.git/bundle` and returns
 * the offer on 2xx (and on 405/501: HEAD not implemented, the GET decides), `null` on 404/410.
 * `remoteFor`/`bundleFor` throw InvalidInputError `MIRROR_PATH_INVALID` for an unmappable
 * repository (see {@link mirrorPathOf}).
 * @throws (from `bundleFor`) MirrorSourceError `BUNDLE_PROBE_FAILED` for other statuses or a
 *   network error/timeout (ensureMirror then falls back to a plain clone).
 */
export function httpMirrorSource(options: HttpMirrorSourceOptions): MirrorSource {
  const base = options.baseUrl.replace(/\/+$/, '');
  const pathFor = options.pathFor ?? mirrorPathOf;
  const remote = (repository: NormalizedRepository): string => `${base}/${pathFor(repository)}.git`;
  return {
    name: `mirror ${base}`,
    remoteFor: remote,
    async bundleFor(repository, { signal } = {}) {
      const url = `${remote(repository)}/bundle`;
      const timeout = AbortSignal.timeout(options.probeTimeoutMs ?? 10_000);
      let response: Response;
      try {
        response = await fetch(url, {
          method: 'HEAD',
          headers: { 'accept-encoding': 'identity', ...options.headers },
          redirect: 'follow',
          signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]),
        });
      } catch (err) {
        if (signal?.aborted === true) throw err;
        throw new MirrorSourceError('BUNDLE_PROBE_FAILED', `bundle probe ${url} failed: ${(err as Error).message}`, { url }, err);
      }
      if (response.status === 404 || response.status === 410) return null;
      const offer: BundleOffer = options.headers === undefined ? { url } : { url, headers: { ...options.headers } };
      // A mirror (or proxy) that does not implement HEAD: let the GET decide.
      if (response.status === 405 || response.status === 501) return offer;
      if (!response.ok) throw new MirrorSourceError('BUNDLE_PROBE_FAILED', `bundle probe ${url} answered ${response.status}`, { url, status: response.status });
      return offer;
    },
  };
}

/**
 * A bundle could not be obtained or used. Retryable (TransientError); inside ensureMirror it
 * only triggers the plain-clone fallback. Codes: `BUNDLE_NOT_FOUND` (404/410),
 * `BUNDLE_HTTP_ERROR` (other non-2xx), `BUNDLE_DOWNLOAD_FAILED` (network error, idle timeout),
 * `BUNDLE_TRUNCATED` (fewer bytes than Content-Length), `BUNDLE_PROBE_FAILED`, and `GIT_ABORTED` (the caller's signal aborted the bundle step; the
 * same code git.ts uses for an aborted git command).
 */
export class MirrorSourceError extends TransientError {
  constructor(code: string, message: string, details: Record<string, unknown> = {}, cause?: unknown) {
    super(code, message, { details, cause });
    this.name = 'MirrorSourceError';
  }
}

/** Input of {@link downloadBundle}. */
export interface DownloadBundleInput {
  offer: BundleOffer;
  /** Destination file (created or truncated). */
  file: string;
  /** Byte heartbeats (`operation: 'bundle'`, phase `downloading bundle`). */
  onProgress?: (progress: GitProgress) => void;
  signal?: AbortSignal;
  /** Abort when no byte arrives for this long, ms. Default 60 s. */
  idleTimeoutMs?: number;
}

/**
 * Streams a bundle to `file` with byte heartbeats: one per whole percent when the size is
 * known (from `Content-Length`), else one per MiB, plus a final one.
 * @returns `{ bytes, total }` (total = Content-Length, or null when absent).
 * @throws MirrorSourceError (`BUNDLE_NOT_FOUND`, `BUNDLE_HTTP_ERROR`, `BUNDLE_DOWNLOAD_FAILED`,
 *   `BUNDLE_TRUNCATED`); the caller's abort error when `signal` aborts. `file` may be left
 *   partial: the caller removes it.
 */
export async function downloadBundle(input: DownloadBundleInput): Promise<{ bytes: number; total: number | null }> {
  const { offer, signal } = input;
  const idle = new AbortController();
  const idleMs = input.idleTimeoutMs ?? 60_000;
  let timer = setTimeout(() => idle.abort(new Error(`no data for ${idleMs} ms`)), idleMs);
  const bump = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => idle.abort(new Error(`no data for ${idleMs} ms`)), idleMs);
  };
  const combined = signal === undefined ? idle.signal : AbortSignal.any([signal, idle.signal]);
  const where = redactUrlQuery(offer.url);
  const handle = await open(input.file, 'w', 0o644);
  try {
    let response: Response;
    try {
      response = await fetch(offer.url, { headers: { 'accept-encoding': 'identity', ...offer.headers }, redirect: 'follow', signal: combined });
    } catch (err) {
      if (signal?.aborted === true) throw err;
      throw new MirrorSourceError('BUNDLE_DOWNLOAD_FAILED', `bundle download ${where} failed: ${describe(err, idle.signal)}`, { url: where }, err);
    }
    if (response.status === 404 || response.status === 410) {
      await response.body?.cancel();
      throw new MirrorSourceError('BUNDLE_NOT_FOUND', `no bundle at ${where} (${response.status})`, { url: where, status: response.status });
    }
    if (!response.ok || response.body === null) {
      await response.body?.cancel();
      throw new MirrorSourceError('BUNDLE_HTTP_ERROR', `bundle download ${where} answered ${response.status}`, { url: where, status: response.status });
    }
    const lengthHeader = response.headers.get('content-length');
    const encoded = (response.headers.get('content-encoding') ?? 'identity') !== 'identity';
    const total = lengthHeader !== null && !encoded && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : null;
    let bytes = 0;
    let lastMark = -1;
    let lastBytes = -1;
    const emit = (force: boolean): void => {
      const mark = total !== null && total > 0 ? Math.floor((bytes * 100) / total) : Math.floor(bytes / (1024 * 1024));
      if (bytes === lastBytes || (!force && mark === lastMark)) return;
      lastMark = mark;
      lastBytes = bytes;
      input.onProgress?.({
        operation: 'bundle',
        phase: 'downloading bundle',
        received: bytes,
        total: total ?? 0,
        percent: total !== null && total > 0 ? Math.min(100, Math.floor((bytes * 100) / total)) : 0,
      });
    };
    emit(true);
    try {
      for await (const chunk of response.body) {
        bump();
        await handle.write(chunk);
        bytes += chunk.byteLength;
        emit(false);
      }
    } catch (err) {
      if (signal?.aborted === true) throw err;
      throw new MirrorSourceError('BUNDLE_DOWNLOAD_FAILED', `bundle download ${where} failed after ${bytes} bytes: ${describe(err, idle.signal)}`, { url: where, bytes }, err);
    }
    if (total !== null && bytes !== total) {
      throw new MirrorSourceError('BUNDLE_TRUNCATED', `bundle ${where} truncated: ${bytes} of ${total} bytes`, { url: where, bytes, total });
    }
    emit(true);
    return { bytes, total };
  } finally {
    clearTimeout(timer);
    await handle.close();
  }
}

function describe(err: unknown, idle: AbortSignal): string {
  if (idle.aborted) return String((idle.reason as Error | undefined)?.message ?? 'idle timeout');
  const cause = (err as { cause?: { message?: string } }).cause?.message;
  return `${(err as Error).message}${cause === undefined ? '' : ` (${cause})`}`;
}

/** A URL without its query string (signed CDN URLs carry secrets there). */
function redactUrlQuery(url: string): string {
  return url.replace(/[?#].*$/, '');
}

/** Input of {@link seedFromBundle}. */
export interface SeedFromBundleInput {
  source: MirrorSource;
  repository: NormalizedRepository;
  /** The new mirror directory (must not exist; created with `git init --bare`). */
  gitDir: string;
  /** Temp path for the downloaded bundle (removed afterwards in every case). */
  bundleFile: string;
  /** Refspecs to fetch from the bundle (mirror.ts passes its heads+tags refspecs). */
  refspecs: readonly string[];
  /** Heartbeats: download bytes, fallback notices. */
  emit: (progress: GitProgress) => void;
  /** stderr listener for `git fetch <bundle> --progress` (index-pack progress). */
  onGitStderr?: (chunk: string) => void;
  signal?: AbortSignal;
}

/**
 * Steps 1–3 of the bundle-first clone (module comment): asks the source for a bundle,
 * downloads, verifies and unbundles it into a new bare repository `gitDir`, and points HEAD
 * at the bundle's default branch (a guess that mirror.ts's fetch corrects from the remote).
 * @returns `true` when `gitDir` now holds the bundle's heads and tags; `false` when there was
 *   no usable bundle — then a `bundle fallback` heartbeat was emitted and `gitDir` removed.
 * @throws only when `signal` aborts: GitCommandError `GIT_ABORTED` (from git) or
 *   MirrorSourceError `GIT_ABORTED` (during the probe/download), after removing `gitDir`.
 */
export async function seedFromBundle(input: SeedFromBundleInput): Promise<boolean> {
  const { gitDir, bundleFile, emit, signal } = input;
  const fallback = (detail: string): false => {
    emit({ operation: 'bundle', phase: 'bundle fallback', received: 0, total: 0, percent: 0, detail });
    return false;
  };
  const attempt = async (): Promise<boolean> => {
    let offer: BundleOffer | null;
    try {
      offer = await input.source.bundleFor(input.repository, signal === undefined ? {} : { signal });
    } catch (err) {
      if (signal?.aborted === true) throw err;
      return fallback(`no bundle from ${input.source.name}: ${(err as Error).message}`);
    }
    if (offer === null) return fallback(`${input.source.name} offers no bundle`);
    try {
      await downloadBundle({ offer, file: bundleFile, onProgress: emit, ...(signal === undefined ? {} : { signal }) });
    } catch (err) {
      if (signal?.aborted === true) throw err;
      return fallback((err as Error).message);
    }
    const gitOpts = signal === undefined ? {} : { signal };
    try {
      await git(['init', '-q', '--bare', gitDir], gitOpts);
      const verify = await git(['bundle', 'verify', bundleFile], { gitDir, acceptExitCodes: [0, 1, 128], ...gitOpts });
      if (verify.exitCode !== 0) return fallback(`invalid bundle: ${lastLine(verify.stderr)}`);
      await git(['fetch', '--progress', '--no-tags', '--no-write-fetch-head', '--', bundleFile, ...input.refspecs], {
        gitDir,
        ...(input.onGitStderr === undefined ? {} : { onStderr: input.onGitStderr }),
        ...gitOpts,
      });
      await pointHeadAtBundleDefault(gitDir, bundleFile);
      return true;
    } catch (err) {
      if (signal?.aborted === true) throw err;
      return fallback(`bundle unusable: ${(err as Error).message}`);
    }
  };
  let seeded = false;
  try {
    seeded = await attempt();
    return seeded;
  } catch (err) {
    if (signal?.aborted === true && !(err instanceof TransientError)) {
      throw new MirrorSourceError('GIT_ABORTED', 'mirror clone was aborted while fetching the bundle', {}, err);
    }
    throw err;
  } finally {
    await rm(bundleFile, { force: true });
    // Neither a fallback nor an abort leaves a partial repository behind.
    if (!seeded) await rm(gitDir, { recursive: true, force: true });
  }
}

/**
 * HEAD of the new mirror: the branch whose tip equals the bundle's `HEAD` entry (preferring
 * `main`, then `master`), else `main`/`master`/the first branch present.
 */
async function pointHeadAtBundleDefault(gitDir: string, bundleFile: string): Promise<void> {
  const heads = (await git(['bundle', 'list-heads', bundleFile], { gitDir })).stdout
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((parts): parts is [string, string] => parts.length === 2);
  const headOid = heads.find(([, ref]) => ref === 'HEAD')?.[0];
  const branches = (await git(['for-each-ref', '--format=%(objectname) %(refname)', 'refs/heads/'], { gitDir })).stdout
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => l.split(' ') as [string, string]);
  if (branches.length === 0) return;
  const rank = (ref: string): number => (ref === 'refs/heads/main' ? 0 : ref === 'refs/heads/master' ? 1 : 2);
  const candidates = (headOid === undefined ? branches : branches.filter(([oid]) => oid === headOid)).sort((a, b) => rank(a[1]) - rank(b[1]));
  const chosen = candidates[0] ?? [...branches].sort((a, b) => rank(a[1]) - rank(b[1]))[0]!;
  await git(['symbolic-ref', 'HEAD', chosen[1]], { gitDir });
}

function lastLine(text: string): string {
  return (
    text
      .split(/[\r\n]+/)
      .map((l) => l.trim())
      .filter((l) => l.length > 0)
      .at(-1) ?? 'no output'
  );
}
