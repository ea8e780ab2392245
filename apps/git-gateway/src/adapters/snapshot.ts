/**
 * Per-commit base snapshots: the extracted tree of one commit, used as the read-only lower dir
 * of execution workspaces (docs/architecture.md "git-gateway": "Mirror (bare) and per-commit base
 * snapshots live on the persistent volume"; mkdir + overlayfs mount over an extracted base
 * measured 4.5 ms against ~950 ms for a clone or worktree).
 *
 * Layout: `<dataRoot>/snapshots/<repoKey>/<commit>/` (complete snapshots only) and
 * `<dataRoot>/snapshots/<repoKey>/.tmp-<commit>-<pid>-<rand>` (an extraction in progress).
 *
 * Extraction: `git read-tree --reset -u <commit>` with a temporary index (`GIT_INDEX_FILE`
 * outside the snapshot) and `--work-tree <tmp>`, so the mirror's own index is never touched and
 * symlinks (core.symlinks=true) and exec bits (core.fileMode=true) are kept. The mirror's
 * `info/attributes` (mirror.ts `RAW_ATTRIBUTES`) make files the exact blob bytes (no eol
 * conversion or smudge filters); submodules (gitlinks) appear as empty directories.
 * `git archive | tar -x` was not used because archive applies `export-ignore`/`export-subst`.
 * Files are not chmod-ed read-only (copy-up would copy the read-only modes into the workspace);
 * overlayfs never writes a lower dir, and executions write only through their merged dir.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { InvalidInputError } from '@remediation/errors';
import { git } from './git.js';
import { ensureRawAttributes } from './mirror.js';
import { isPidAlive } from './lock-file.js';

/** Input of {@link ensureBaseSnapshot}. */
export interface EnsureBaseSnapshotInput {
  /** Persistent data root; snapshots go under `<dataRoot>/snapshots/`. */
  dataRoot: string;
  /** The mirror's repoKey (from ensureMirror): a safe path segment. */
  repoKey: string;
  /** Bare mirror holding `commit`. */
  mirrorPath: string;
  /** Full commit id (40 or 64 lower-case hex). */
  commit: string;
}

const inFlight = new Map<string, Promise<string>>();

/** A safe single path segment: `[A-Za-z0-9._-]`, not starting with `.` or `-`, ≤ 128 chars. */
export function isSafeSegment(value: string): boolean {
  return /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/.test(value) && !value.includes('..');
}

/**
 * Returns the path of the read-only extracted tree of `commit`, extracting it on first use
 * (into a temp dir, then an atomic rename). Idempotent; concurrent calls in one process share
 * one extraction; concurrent processes may both extract but only one rename wins and the
 * loser's copy is deleted (both copies are identical).
 *
 * @returns absolute path `<dataRoot>/snapshots/<repoKey>/<commit>` (no trailing slash).
 * @throws InvalidInputError `SNAPSHOT_INVALID_INPUT` for an unsafe repoKey or a malformed
 *   commit id; `COMMIT_NOT_FOUND` when the mirror does not have the commit (fetch first).
 * @throws GitCommandError when extraction fails (disk full, …; retryable).
 */
export async function ensureBaseSnapshot(input: EnsureBaseSnapshotInput): Promise<string> {
  if (!isSafeSegment(input.repoKey)) {
    throw new InvalidInputError('SNAPSHOT_INVALID_INPUT', `repoKey ${JSON.stringify(input.repoKey)} is not a safe path segment`);
  }
  if (!/^(?:[0-9a-f]{40}|[0-9a-f]{64})$/.test(input.commit)) {
    throw new InvalidInputError('SNAPSHOT_INVALID_INPUT', `commit ${JSON.stringify(input.commit)} is not a full lower-case object id`);
  }
  const repoDir = join(resolve(input.dataRoot), 'snapshots', input.repoKey);
  const finalDir = join(repoDir, input.commit);
  if (await isDirectory(finalDir)) return finalDir;
  const existing = inFlight.get(finalDir);
  if (existing !== undefined) return existing;
  const promise = extract(input, repoDir, finalDir);
  inFlight.set(finalDir, promise);
  try {
    return await promise;
  } finally {
    inFlight.delete(finalDir);
  }
}

async function extract(input: EnsureBaseSnapshotInput, repoDir: string, finalDir: string): Promise<string> {
  const exists = await git(['cat-file', '-e', `${input.commit}^{commit}`], {
    gitDir: input.mirrorPath,
    acceptExitCodes: [0, 1, 128],
  });
  if (exists.exitCode !== 0) {
    throw new InvalidInputError('COMMIT_NOT_FOUND', `commit ${input.commit} is not in mirror ${input.mirrorPath}`, {
      details: { commit: input.commit, mirrorPath: input.mirrorPath },
    });
  }
  await mkdir(repoDir, { recursive: true });
  await removeDeadTemps(repoDir, input.commit);
  await ensureRawAttributes(input.mirrorPath);
  const tmp = join(repoDir, `.tmp-${input.commit}-${process.pid}-${randomBytes(4).toString('hex')}`);
  const indexFile = `${tmp}.index`;
  try {
    await mkdir(tmp);
    await git(
      [
        '-c', 'core.symlinks=true',
        '-c', 'core.fileMode=true',
        '-c', 'core.autocrlf=false',
        '-c', 'core.eol=lf',
        '-c', 'core.sparseCheckout=false',
        '--work-tree', tmp,
        'read-tree', '--reset', '-u', input.commit,
      ],
      { gitDir: input.mirrorPath, cwd: tmp, env: { GIT_INDEX_FILE: indexFile } },
    );
    try {
      await rename(tmp, finalDir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
      // Another process finished the same snapshot first; ours is identical.
      await rm(tmp, { recursive: true, force: true });
    }
    return finalDir;
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  } finally {
    await rm(indexFile, { force: true });
  }
}

/**
 * Removes `.tmp-<commit>-<pid>-*` leftovers of processes that died mid-extraction: the pid is
 * not alive here AND the entry is older than 10 minutes (the volume may be shared with other
 * hosts, whose pids mean nothing here).
 */
async function removeDeadTemps(repoDir: string, commit: string): Promise<void> {
  const prefix = `.tmp-${commit}-`;
  for (const entry of await readdir(repoDir)) {
    if (!entry.startsWith(prefix)) continue;
    const pid = Number.parseInt(entry.slice(prefix.length).split('-')[0] ?? '', 10);
    if (isPidAlive(pid)) continue;
    const info = await stat(join(repoDir, entry)).catch(() => null);
    if (info !== null && Date.now() - info.mtimeMs > 10 * 60_000) {
      await rm(join(repoDir, entry), { recursive: true, force: true });
    }
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}
