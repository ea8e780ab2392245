/**
 * Bare mirrors of customer repositories on the persistent volume (docs/architecture.md
 * "git-gateway": "Mirror (bare) and per-commit base snapshots live on the persistent volume").
 *
 * Layout: `<dataRoot>/mirrors/<repoKey>.git` (the mirror), `<repoKey>.git.lock` (cross-process
 * lock), `.tmp-<repoKey>-<pid>-<rand>.git` (a clone in progress; renamed into place when
 * complete, so a killed clone never leaves a half mirror).
 *
 * Clone mode: `git clone --bare`, NOT `--mirror`. `--mirror` configures
 * `remote.origin.fetch = +refs/*:refs/*` with `remote.origin.mirror = true`, so a
 * `fetch --prune` would delete every local ref the remote does not have — including the
 * gateway's own `refs/remediations/*` that anchor its commits (docs/architecture.md: "Every commit
 * the gateway makes is anchored by a ref in the mirror (no GC loss)"), and it would also copy
 * `refs/pull/*` and other provider refs we do not need. `--bare` copies `refs/heads/*` and
 * `refs/tags/*` as local branches/tags; later updates are an explicit
 * `fetch --prune <url> +refs/heads/*:refs/heads/* +refs/tags/*:refs/tags/*`, and `--prune`
 * only prunes refs under those refspecs' destinations, so `refs/remediations/*` survive. The
 * fetch is skipped when one `ls-remote` shows the mirror already holds exactly the remote's heads
 * and tags (a warm mirror: the common case).
 *
 * Source: with `source` (mirror-source.ts, e.g. the internal mirror), the FIRST clone is seeded
 * from the source's bundle when it offers one (download + `git fetch <bundle>` of heads/tags),
 * then completed by the same incremental fetch later calls do; without a usable bundle it is a
 * plain clone. Clone and fetches then use `source.remoteFor(repository)` as the remote.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile, realpath } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import {
  type RepositoryPolicy,
  checkRepositoryLocation,
  isRepositoryRefusal,
  parseRepositoryLocation,
  redactRepositoryLocation,
} from '@remediation/contracts';
import { InvalidInputError } from '@remediation/errors';
import { git, isGitError } from './git.js';
import { withAskpass, type GitCredentials } from './askpass.js';
import { acquireLockFile } from './lock-file.js';
import { closeLongLivedGit, objectInfo } from './long-lived-git.js';
import { isValidRefName, listRefs, readHeadFile } from './refs.js';
import { seedFromBundle, type MirrorSource } from './mirror-source.js';

/** One progress heartbeat parsed from git's `--progress` stderr. */
export interface GitProgress {
  /** git's phase label, lower-cased: `receiving objects`, `resolving deltas`, `counting objects`, … */
  phase: string;
  /** Units done in this phase (objects or deltas). */
  received: number;
  /** Units expected in this phase. */
  total: number;
  /** Percentage git printed (0–100). */
  percent: number;
  /**
   * Which operation produced it. `bundle` (bundle-first clone, mirror-source.ts): phase
   * `downloading bundle` (received/total in bytes, total 0 when unknown), `receiving objects` /
   * `resolving deltas` while unbundling, and `bundle fallback` (with `detail`) when the clone
   * falls back to a plain clone.
   */
  operation: 'clone' | 'fetch' | 'push' | 'bundle';
  /** Human-readable note (e.g. why a bundle was not used). */
  detail?: string;
}

/** Input of {@link ensureMirror}. */
export interface EnsureMirrorInput {
  /** Persistent data root; mirrors go under `<dataRoot>/mirrors/`. Absolute or relative to cwd. */
  dataRoot: string;
  /**
   * Git URL (`https://host/org/repo.git`, `ssh://…`, `git@host:org/repo.git`, `file:///…`) or a
   * local path of a bare or non-bare repository. URLs must not embed a password.
   */
  repository: string;
  /** Heartbeat for each progress line (clone/fetch). Must not throw (errors are swallowed). */
  onProgress?: (progress: GitProgress) => void;
  /** HTTP(S) credentials for this clone/fetch only (see askpass.ts). */
  credentials?: GitCredentials;
  /** How long to wait for another process's clone/fetch of the same mirror, ms. Default 30 min. */
  lockWaitMs?: number;
  /** Aborts the running git process. */
  signal?: AbortSignal;
  /**
   * Where to clone/fetch from (mirror-source.ts). Default: the repository itself. A source with
   * a bundle seeds the FIRST clone from it; clone and every fetch use `source.remoteFor(…)`.
   */
  source?: MirrorSource;
}

/** Result of {@link ensureMirror}. */
export interface MirrorRef {
  /** Absolute path of the bare mirror `<dataRoot>/mirrors/<repoKey>.git`. */
  mirrorPath: string;
  /** `<slug>-<12 hex>`: readable repo name + sha256 of the normalised location (safe path segment). */
  repoKey: string;
  /**
   * This call made the mirror (a clone) rather than fetching into an existing one. A caller
   * sharing another caller's in-flight clone sees `true` too.
   */
  cloned: boolean;
}

/** A repository location after normalisation (see {@link normalizeRepository}). */
export interface NormalizedRepository {
  /** Canonical location hashed into the repoKey (no credentials, no trailing `.git` or `/`). */
  location: string;
  /** What git is given as the remote (the input, or the absolute path for local repositories). */
  remote: string;
  /** `<slug>-<sha256(location)[0,12)>`. */
  repoKey: string;
}

/**
 * Normalises a repository location and derives its repoKey.
 *  - URLs: scheme and host lower-cased, default port dropped, userinfo dropped, trailing `/`
 *    and `.git` dropped (`https://GitHub.com/Org/Repo.git/` → `https://github.com/Org/Repo`).
 *  - scp-like `user@host:path` → `ssh://host/path` (userinfo dropped the same way).
 *  - `file://` URLs and local paths → the real absolute path, with a trailing `/.git` dropped
 *    (a non-bare repo and its `.git` dir are the same repository).
 * @throws InvalidInputError `REPOSITORY_URL_HAS_CREDENTIALS` when a URL embeds a password;
 *   `REPOSITORY_NOT_FOUND` when a local path does not exist; `REPOSITORY_INVALID` when empty.
 */
export async function normalizeRepository(repository: string): Promise<NormalizedRepository> {
  const input = repository.trim();
  if (input.length === 0) throw new InvalidInputError('REPOSITORY_INVALID', 'repository is empty');
  // One parser for the API and the gateway: @remediation/contracts (git-clone(1) "GIT URLS").
  const parsed = parseRepositoryLocation(input);
  if (isRepositoryRefusal(parsed)) throw new InvalidInputError('REPOSITORY_INVALID', `repository ${parsed.message}`, { details: { rule: parsed.rule } });
  let location: string;
  let remote = input;
  if (parsed.kind === 'url') {
    if (parsed.password !== '') {
      throw new InvalidInputError(
        'REPOSITORY_URL_HAS_CREDENTIALS',
        'repository URL embeds a password: pass credentials separately (they are given to git per operation and never stored)',
        { details: { repository: redactRepositoryLocation(input) } },
      );
    }
    const url = new URL(input);
    location = `${url.protocol.toLowerCase()}//${parsed.host}${parsed.port === '' ? '' : `:${parsed.port}`}${trimRepoPath(parsed.path)}`;
  } else if (parsed.kind === 'scp') {
    location = `ssh://${parsed.host}${trimRepoPath(`/${parsed.path.replace(/^\/+/, '')}`)}`;
  } else {
    const path = parsed.fileUrl ? parsed.path : resolve(parsed.path);
    let real: string;
    try {
      real = await realpath(path);
    } catch {
      throw new InvalidInputError('REPOSITORY_NOT_FOUND', `local repository ${path} does not exist`, { details: { repository: path } });
    }
    if (!parsed.fileUrl) remote = real;
    location = real.replace(/\/\.git\/?$/, '').replace(/\/+$/, '') || '/';
  }
  const hash = createHash('sha256').update(location).digest('hex').slice(0, 12);
  return { location, remote, repoKey: `${slugOf(location)}-${hash}` };
}

/**
 * git-gateway's defensive re-check of the codebase policy (the API checks first; a row stored
 * before the policy, or written around the API, is stopped here before git runs):
 * `checkRepositoryLocation` of @remediation/contracts.
 * @throws InvalidInputError `REPOSITORY_NOT_ALLOWED` (not retryable) naming the rule; the message
 *   never repeats credentials.
 */
export function assertRepositoryAllowed(repository: string, policy: RepositoryPolicy): void {
  const checked = checkRepositoryLocation(repository, policy);
  if ('rule' in checked) {
    throw new InvalidInputError('REPOSITORY_NOT_ALLOWED', `repository refused by the codebase policy: ${checked.message}`, { details: { rule: checked.rule } });
  }
}

function trimRepoPath(path: string): string {
  return path.replace(/\/+$/, '').replace(/\.git$/, '').replace(/\/+$/, '');
}

/** Readable slug: last two path segments (`org-repo`), lower-case, `[a-z0-9._-]`, ≤ 48 chars. */
function slugOf(location: string): string {
  const segments = location
    .replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, '')
    .split('/')
    .filter((s) => s.length > 0)
    .map((s) => s.replace(/\.git$/, ''));
  const slug = segments
    .slice(-2)
    .join('-')
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[.-]+|[.-]+$/g, '')
    .slice(0, 48)
    .replace(/[.-]+$/g, '');
  return slug.length > 0 ? slug : 'repo';
}

/** Phase labels → lines like `Receiving objects:  45% (450/1000)`, optionally `remote: `-prefixed. */
const progressLine = /^(?:remote: )?([A-Za-z][A-Za-z ]*?):\s+(\d+)% \((\d+)\/(\d+)\)/;

/**
 * Builds a stderr listener that turns git `--progress` output into {@link GitProgress}
 * heartbeats. git rewrites a progress line with `\r`; lines are split on `\r` and `\n`, partial
 * lines are buffered across chunks, and a heartbeat is emitted only when the phase or count
 * changes.
 */
export function createProgressParser(operation: GitProgress['operation'], onProgress: (p: GitProgress) => void): (chunk: string) => void {
  let buffer = '';
  let last = '';
  return (chunk: string) => {
    buffer += chunk;
    const parts = buffer.split(/[\r\n]/);
    buffer = parts.pop() ?? '';
    for (const line of parts) {
      const match = progressLine.exec(line.trim());
      if (match === null) continue;
      const progress: GitProgress = {
        phase: match[1]!.toLowerCase(),
        percent: Number(match[2]),
        received: Number(match[3]),
        total: Number(match[4]),
        operation,
      };
      const key = `${progress.phase}:${progress.received}/${progress.total}`;
      if (key === last) continue;
      last = key;
      onProgress(progress);
    }
  };
}

/**
 * `$GIT_DIR/info/attributes` of every mirror. It has the highest precedence of all attribute
 * sources (gitattributes(5)), so snapshot extraction writes blob bytes verbatim — no eol
 * conversion, smudge filters (LFS pointers stay pointers), `ident` or `working-tree-encoding` —
 * and commits hash the bytes verbatim (`hash-object --no-filters`). The patcher therefore edits
 * exactly what is committed and a patch never rewrites line endings.
 */
export const RAW_ATTRIBUTES = '* -text -eol -filter -ident -working-tree-encoding -export-subst -export-ignore\n';

/** Writes {@link RAW_ATTRIBUTES} into the mirror if it is missing or different. Idempotent. */
export async function ensureRawAttributes(mirrorPath: string): Promise<void> {
  const file = join(mirrorPath, 'info', 'attributes');
  const current = await readFile(file, 'utf8').catch(() => null);
  if (current === RAW_ATTRIBUTES) return;
  await mkdir(join(mirrorPath, 'info'), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  await writeFile(tmp, RAW_ATTRIBUTES);
  await rename(tmp, file);
}

interface InFlight {
  promise: Promise<MirrorRef>;
  listeners: Set<(p: GitProgress) => void>;
}

const inFlight = new Map<string, InFlight>();

const FETCH_REFSPECS = ['+refs/heads/*:refs/heads/*', '+refs/tags/*:refs/tags/*'];

/**
 * Makes sure `<dataRoot>/mirrors/<repoKey>.git` exists and is up to date with the remote:
 * first call clones (`git clone --bare`, or seeded from `source`'s bundle then fetched; into a
 * temp dir then renamed), later calls
 * `git fetch --prune` of `refs/heads/*` and `refs/tags/*` only (the gateway's
 * `refs/remediations/*` are kept) and re-point the mirror's HEAD to the remote's default
 * branch. Concurrent calls in this process for the same mirror share one in-flight promise
 * (every caller's `onProgress` receives the heartbeats); across processes `<mirror>.lock`
 * (O_EXCL, stale when its pid is dead) serialises clone/fetch.
 *
 * @returns `{ mirrorPath, repoKey, cloned }` (absolute mirror path; whether it was cloned now).
 * @throws InvalidInputError `REPOSITORY_*` for a bad location (see {@link normalizeRepository}).
 * @throws GitInputError `GIT_REPOSITORY_NOT_FOUND` / `GIT_AUTH_FAILED` (not retryable).
 * @throws GitCommandError (retryable) for network or other git failures.
 * @throws LockBusyError `MIRROR_LOCKED` (retryable) when another process holds the lock longer
 *   than `lockWaitMs`.
 * @throws InvalidInputError `MIRROR_PATH_INVALID` when `source.remoteFor` cannot map the
 *   repository; MirrorSourceError `GIT_ABORTED` when `signal` aborts the bundle step. A missing
 *   or bad bundle is never an error (plain-clone fallback, `bundle fallback` heartbeat).
 */
export async function ensureMirror(input: EnsureMirrorInput): Promise<MirrorRef> {
  const normalized = await normalizeRepository(input.repository);
  const mirrorsDir = join(resolve(input.dataRoot), 'mirrors');
  const mirrorPath = join(mirrorsDir, `${normalized.repoKey}.git`);
  const existing = inFlight.get(mirrorPath);
  if (existing !== undefined) {
    if (input.onProgress !== undefined) existing.listeners.add(input.onProgress);
    return existing.promise;
  }
  const listeners = new Set<(p: GitProgress) => void>();
  if (input.onProgress !== undefined) listeners.add(input.onProgress);
  const emit = (p: GitProgress): void => {
    for (const listener of listeners) {
      try {
        listener(p);
      } catch {
        // heartbeats are best effort
      }
    }
  };
  const promise = (async (): Promise<MirrorRef> => {
    await mkdir(mirrorsDir, { recursive: true });
    const lock = await acquireLockFile(`${mirrorPath}.lock`, {
      waitMs: input.lockWaitMs ?? 30 * 60_000,
      pollMs: 200,
      busyCode: 'MIRROR_LOCKED',
    });
    let cloned = false;
    try {
      await withAskpass(input.credentials, async (auth) => {
        const remote = input.source?.remoteFor(normalized) ?? normalized.remote;
        if (await isUsableMirror(mirrorPath)) {
          await fetchMirror(mirrorPath, remote, auth, emit, input.signal);
        } else {
          cloned = true;
          await cloneMirror(mirrorsDir, mirrorPath, normalized, remote, auth, emit, input.signal, input.source);
        }
      });
    } finally {
      await lock.release();
    }
    return { mirrorPath, repoKey: normalized.repoKey, cloned };
  })();
  inFlight.set(mirrorPath, { promise, listeners });
  try {
    return await promise;
  } finally {
    inFlight.delete(mirrorPath);
  }
}

/** Mirrors this process found to be bare repositories (a mirror never stops being one while its HEAD exists). */
const knownBare = new Set<string>();

async function isUsableMirror(mirrorPath: string): Promise<boolean> {
  try {
    await stat(join(mirrorPath, 'HEAD'));
  } catch {
    knownBare.delete(mirrorPath);
    return false;
  }
  if (knownBare.has(mirrorPath)) return true;
  try {
    const { stdout } = await git(['rev-parse', '--is-bare-repository'], { gitDir: mirrorPath });
    if (stdout.trim() !== 'true') return false;
    knownBare.add(mirrorPath);
    return true;
  } catch {
    return false;
  }
}

type Auth = { configArgs: string[]; env: Record<string, string>; redact: string[] };

async function cloneMirror(
  mirrorsDir: string,
  mirrorPath: string,
  normalized: NormalizedRepository,
  remote: string,
  auth: Auth,
  emit: (p: GitProgress) => void,
  signal: AbortSignal | undefined,
  source: MirrorSource | undefined,
): Promise<void> {
  // We hold the lock, so any temp clone of this repoKey is a leftover of a killed process; a
  // directory at mirrorPath that is not a usable bare repo is a broken cache entry.
  const prefix = `.tmp-${normalized.repoKey}-`;
  for (const entry of await readdir(mirrorsDir)) {
    if (entry.startsWith(prefix)) await rm(join(mirrorsDir, entry), { recursive: true, force: true });
  }
  knownBare.delete(mirrorPath);
  closeLongLivedGit(mirrorPath);
  await rm(mirrorPath, { recursive: true, force: true });
  const tmp = join(mirrorsDir, `${prefix}${process.pid}-${randomBytes(4).toString('hex')}.git`);
  if (source !== undefined) {
    const seeded = await seedFromBundle({
      source,
      repository: normalized,
      gitDir: tmp,
      bundleFile: `${tmp.slice(0, -'.git'.length)}.bundle`,
      refspecs: FETCH_REFSPECS,
      emit,
      onGitStderr: createProgressParser('bundle', emit),
      ...(signal === undefined ? {} : { signal }),
    });
    if (seeded) {
      try {
        await git(['config', 'remote.origin.url', remote], { gitDir: tmp });
        await configureFetch(tmp);
        await fetchMirror(tmp, remote, auth, emit, signal);
        await rename(tmp, mirrorPath);
      } catch (err) {
        await rm(tmp, { recursive: true, force: true });
        throw err;
      }
      return;
    }
  }
  try {
    await git([...auth.configArgs, 'clone', '--bare', '--progress', '--', remote, tmp], {
      env: auth.env,
      redact: auth.redact,
      onStderr: createProgressParser('clone', emit),
      ...(signal === undefined ? {} : { signal }),
    });
    await configureFetch(tmp);
    await ensureRawAttributes(tmp);
    await rename(tmp, mirrorPath);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

/** `remote.origin.fetch` = heads + tags refspecs, no tag following (see the module comment). */
async function configureFetch(gitDir: string): Promise<void> {
  await git(['config', '--replace-all', 'remote.origin.fetch', FETCH_REFSPECS[0]!], { gitDir });
  await git(['config', '--add', 'remote.origin.fetch', FETCH_REFSPECS[1]!], { gitDir });
  await git(['config', 'remote.origin.tagOpt', '--no-tags'], { gitDir });
}

async function fetchMirror(
  mirrorPath: string,
  remote: string,
  auth: Auth,
  emit: (p: GitProgress) => void,
  signal: AbortSignal | undefined,
): Promise<void> {
  await ensureRawAttributes(mirrorPath);
  // One `ls-remote` first: when the mirror already holds exactly the remote's heads and tags,
  // the fetch (fetch, upload-pack, rev-list, maintenance: 4 processes) would change nothing.
  let listing: RemoteListing | undefined;
  try {
    const { stdout } = await git([...auth.configArgs, 'ls-remote', '--symref', '--', remote, 'HEAD', 'refs/heads/*', 'refs/tags/*'], {
      gitDir: mirrorPath,
      env: auth.env,
      redact: auth.redact,
      ...(signal === undefined ? {} : { signal }),
    });
    listing = parseRemoteListing(stdout);
  } catch (err) {
    if (!isGitError(err)) throw err;
    // The fetch below reports what is wrong with the remote.
  }
  if (listing === undefined || !(await mirrorHolds(mirrorPath, listing.refs))) {
    await git([...auth.configArgs, 'fetch', '--prune', '--no-tags', '--progress', '--no-write-fetch-head', '--', remote, ...FETCH_REFSPECS], {
      gitDir: mirrorPath,
      env: auth.env,
      redact: auth.redact,
      onStderr: createProgressParser('fetch', emit),
      ...(signal === undefined ? {} : { signal }),
    });
  }
  // git 2.39 fetch never updates HEAD of a bare repository: follow a changed default branch.
  if (listing?.head !== undefined) {
    const current = await symbolicHead(mirrorPath);
    if (current !== listing.head) await git(['symbolic-ref', 'HEAD', listing.head], { gitDir: mirrorPath });
  }
}

/** A remote's heads and tags (`ls-remote`, peeled `^{}` lines left out) and the branch its HEAD names. */
interface RemoteListing {
  /** Full ref name → object id, `refs/heads/*` and `refs/tags/*` only. */
  refs: Map<string, string>;
  /** `refs/heads/…` the remote's HEAD points at, when it said (`--symref`). */
  head?: string;
}

/** Parses `git ls-remote --symref` output (`<oid>\t<ref>` lines, `ref: <target>\tHEAD`). */
export function parseRemoteListing(stdout: string): RemoteListing {
  const refs = new Map<string, string>();
  let head: string | undefined;
  for (const line of stdout.split('\n')) {
    const tab = line.indexOf('\t');
    if (tab < 0) continue;
    const left = line.slice(0, tab);
    const name = line.slice(tab + 1);
    if (left.startsWith('ref: ')) {
      if (name === 'HEAD' && left.startsWith('ref: refs/heads/')) head = left.slice('ref: '.length);
      continue;
    }
    if ((name.startsWith('refs/heads/') || name.startsWith('refs/tags/')) && !name.endsWith('^{}')) refs.set(name, left);
  }
  return head === undefined ? { refs } : { refs, head };
}

/** Whether the mirror's `refs/heads/*` and `refs/tags/*` are exactly `remoteRefs` (then a fetch would change nothing). */
async function mirrorHolds(mirrorPath: string, remoteRefs: Map<string, string>): Promise<boolean> {
  const local = await listRefs(mirrorPath, ['refs/heads/', 'refs/tags/']);
  if (local === 'unknown' || local.size !== remoteRefs.size) return false;
  for (const [name, oid] of remoteRefs) {
    if (local.get(name) !== oid) return false;
  }
  return true;
}

/** Input of {@link resolveBranch}. */
export interface ResolveBranchInput {
  mirrorPath: string;
  /** Branch name without `refs/heads/`; default: the branch the mirror's HEAD points to. */
  branch?: string;
}

/** What HEAD of the mirror points at (`refs/heads/…`), '' when detached: from the HEAD file, else `git symbolic-ref`. */
async function symbolicHead(mirrorPath: string): Promise<string> {
  const head = await readHeadFile(mirrorPath);
  if (head !== 'unknown') return head ?? '';
  return (await git(['symbolic-ref', '-q', 'HEAD'], { gitDir: mirrorPath, acceptExitCodes: [0, 1] })).stdout.trim();
}

/**
 * Resolves a branch of the mirror to its commit.
 * @returns `{ branch (short name), commit (40/64-hex sha) }`.
 * @throws InvalidInputError `BRANCH_NOT_FOUND` when the branch (or the default branch HEAD
 *   points to) does not exist in the mirror; `BRANCH_INVALID` for a malformed name.
 */
export async function resolveBranch(input: ResolveBranchInput): Promise<{ branch: string; commit: string }> {
  let branch = input.branch;
  if (branch === undefined) {
    const ref = await symbolicHead(input.mirrorPath);
    if (!ref.startsWith('refs/heads/')) {
      throw new InvalidInputError('BRANCH_NOT_FOUND', `mirror ${basename(input.mirrorPath)} has no default branch (HEAD is detached or unset)`, {
        details: { mirrorPath: input.mirrorPath },
      });
    }
    branch = ref.slice('refs/heads/'.length);
  } else {
    if (!isValidRefName(`refs/heads/${branch}`) || branch.startsWith('-') || branch.startsWith('refs/')) {
      throw new InvalidInputError('BRANCH_INVALID', `invalid branch name ${JSON.stringify(branch)}`, { details: { branch } });
    }
  }
  const found = await objectInfo(input.mirrorPath, `refs/heads/${branch}^{commit}`);
  const commit = found?.type === 'commit' ? found.oid : '';
  if (commit.length === 0) {
    throw new InvalidInputError('BRANCH_NOT_FOUND', `branch ${branch} not found in mirror ${basename(input.mirrorPath)}`, {
      details: { branch, mirrorPath: input.mirrorPath },
    });
  }
  return { branch, commit };
}
