/**
 * Commits a workspace's changes into the mirror with git plumbing, without an index
 * (docs/architecture.md "git-gateway": a plumbing commit instead of `git add -A && git commit` in
 * a full worktree; "Every commit the gateway makes is anchored by a ref in the mirror (no GC
 * loss)").
 *
 * Steps: the base commit read by the mirror's long-lived `cat-file`; all written paths hashed
 * by its long-lived `hash-object -w --no-filters --stdin-paths` (file contents read through the
 * merged view; a symlink's target text is written to a temp file and hashed, so it is stored as
 * the link blob); the new tree made from the base tree and the edits (tree-edit.ts: what
 * `update-index --add --replace` with deletions first and `write-tree` would give, and the
 * changed paths `diff-tree -r` would list); `commit-tree <tree> -p <base>` (one process); the
 * ref created (or moved from `expectedOldSha`) in one transaction of the long-lived
 * `update-ref --stdin` (long-lived-git.ts, decision 0024). Bytes are hashed verbatim
 * (`--no-filters`), matching the raw snapshots (mirror.ts `RAW_ATTRIBUTES`).
 */
import { mkdtemp, lstat, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidInputError } from '@remediation/errors';
import { git } from './git.js';
import { editTree } from './tree-edit.js';
import { hashFiles, readCommitHeader, updateRefs, type CommitHeader } from './long-lived-git.js';
import { isValidRefName, refPresence } from './refs.js';
import { gitModeOf, isForbiddenPath, type UpperChange } from './workspace/upper-changes.js';

/** Commit author (also used as committer). */
export interface CommitAuthor {
  name: string;
  email: string;
}

/** Input of {@link commitChanges}. */
export interface CommitChangesInput {
  /** Bare mirror that holds `baseCommit` and receives the new objects and ref. */
  mirrorPath: string;
  /** Full id of the parent commit (the snapshot's commit). */
  baseCommit: string;
  /** Mounted merged dir of the workspace: contents/modes of writes are read here. */
  mergedDir: string;
  /** Changes from readUpperChanges (`mode` is re-read from the merged view at commit time). */
  changes: UpperChange[];
  /** Full ref that anchors the commit, e.g. `refs/remediations/<run>/<target>`. */
  ref: string;
  /** Commit message (UTF-8). */
  message: string;
  author: CommitAuthor;
  /** Author and committer date; default now. A fixed date makes the commit id deterministic. */
  date?: Date;
  /**
   * Compare-and-set for the ref: `undefined`/`null` = the ref must not exist yet (create);
   * a commit id = the ref must currently point there (e.g. moving a checkpoint ref).
   */
  expectedOldSha?: string | null;
}

/** Result of {@link commitChanges}. */
export interface CommitResult {
  /** New commit id (or the existing one on an idempotent retry). */
  sha: string;
  /** Its tree id. */
  tree: string;
  /** Paths differing between base and the commit (`git diff-tree -r --no-renames`), sorted. */
  changedPaths: string[];
  /** True when the ref already pointed at a commit with this tree and parent (retry). */
  reused: boolean;
}

const OID = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

function assertRepoPath(path: string): void {
  const parts = path.split('/');
  if (path.length === 0 || path.startsWith('/') || parts.some((p) => p === '' || p === '.' || p === '..') || path.includes('\0')) {
    throw new InvalidInputError('PATCH_INVALID_PATH', `change path ${JSON.stringify(path)} is not a normalised repository-relative path`, { details: { path } });
  }
  if (isForbiddenPath(path)) {
    throw new InvalidInputError('PATCH_FORBIDDEN_PATH', `change path ${JSON.stringify(path)} is inside .git`, { details: { path } });
  }
}

/**
 * Creates one commit `base + changes`, anchored by `ref`.
 *
 * @returns `{ sha, tree, changedPaths, reused }`.
 * @throws InvalidInputError `PATCH_EMPTY` when `changes` is empty or the resulting tree equals
 *   the base tree; `PATCH_INVALID_PATH` / `PATCH_FORBIDDEN_PATH` (`.git`) for bad paths;
 *   `PATCH_PATH_MISSING` when a written path is missing or a directory in the merged view;
 *   `REF_INVALID` for a ref outside `refs/` or malformed; `COMMIT_NOT_FOUND` when the base is
 *   not in the mirror; `REF_CONFLICT` when the ref exists and points at another commit (or
 *   not at `expectedOldSha`).
 * @throws GitCommandError (retryable) for other git failures.
 */
export async function commitChanges(input: CommitChangesInput): Promise<CommitResult> {
  if (input.changes.length === 0) {
    throw new InvalidInputError('PATCH_EMPTY', 'no changes to commit', { details: { ref: input.ref } });
  }
  for (const change of input.changes) assertRepoPath(change.path);
  const g = (args: string[], extra: Parameters<typeof git>[1] = {}) => git(args, { gitDir: input.mirrorPath, ...extra });

  if (!input.ref.startsWith('refs/') || !isValidRefName(input.ref)) {
    throw new InvalidInputError('REF_INVALID', `ref ${JSON.stringify(input.ref)} is not a valid full ref under refs/`, { details: { ref: input.ref } });
  }
  if (!OID.test(input.baseCommit)) {
    throw new InvalidInputError('COMMIT_NOT_FOUND', `base ${JSON.stringify(input.baseCommit)} is not a full object id`, { details: { baseCommit: input.baseCommit } });
  }
  const baseHeader = await readCommitHeader(input.mirrorPath, input.baseCommit);
  if (baseHeader === null) {
    throw new InvalidInputError('COMMIT_NOT_FOUND', `base commit ${input.baseCommit} is not in the mirror`, { details: { baseCommit: input.baseCommit } });
  }
  const baseTree = baseHeader.tree;

  const tmp = await mkdtemp(join(tmpdir(), 'git-gateway-commit-'));
  try {
    // Collect writes (last entry per path wins) and deletions.
    const byPath = new Map<string, UpperChange>();
    for (const change of input.changes) byPath.set(change.path, change);
    const deletions: string[] = [];
    const writes: Array<{ path: string; mode: string; source: string }> = [];
    let linkCount = 0;
    for (const change of [...byPath.values()].sort((a, b) => (a.path < b.path ? -1 : 1))) {
      if (change.kind === 'delete') {
        deletions.push(change.path);
        continue;
      }
      const abs = join(input.mergedDir, change.path);
      const st = await lstat(abs).catch(() => null);
      if (st === null || !(st.isFile() || st.isSymbolicLink())) {
        throw new InvalidInputError('PATCH_PATH_MISSING', `${change.path} is ${st === null ? 'missing' : 'not a file or symlink'} in the workspace`, {
          details: { path: change.path },
        });
      }
      let source = abs;
      if (st.isSymbolicLink()) {
        source = join(tmp, `link-${linkCount++}`);
        await writeFile(source, await readlink(abs, { encoding: 'buffer' }));
      }
      writes.push({ path: change.path, mode: gitModeOf(st), source });
    }

    // Hash all written contents with the mirror's long-lived hash-object (paths with a line
    // break are hashed one by one).
    const oids = new Map<string, string>();
    const oneLine = (w: { source: string }): boolean => !/[\r\n\0]/.test(w.source);
    const batch = writes.filter(oneLine);
    const batchOids = await hashFiles(input.mirrorPath, batch.map((w) => w.source));
    batch.forEach((w, i) => oids.set(w.path, batchOids[i]!));
    for (const w of writes.filter((x) => !oneLine(x))) {
      const { stdout } = await g(['hash-object', '-w', '--no-filters', '--', w.source]);
      oids.set(w.path, stdout.trim());
    }

    // The new tree from the base tree and the edits (as update-index --replace + write-tree would
    // make it), with the paths diff-tree would list.
    const { tree, changedPaths } = await editTree(input.mirrorPath, baseTree, [
      ...deletions.map((path) => ({ path, entry: null })),
      ...writes.map((w) => ({ path: w.path, entry: { mode: w.mode, oid: oids.get(w.path)! } })),
    ]);
    if (tree === baseTree) {
      throw new InvalidInputError('PATCH_EMPTY', 'the changes leave the tree identical to the base commit', {
        details: { ref: input.ref, baseCommit: input.baseCommit },
      });
    }

    // Idempotent retry: the ref already holds a commit with this tree and parent.
    const existing = await readCommitAt(input.mirrorPath, input.ref);
    if (existing !== null) {
      if (existing.tree === tree && existing.parents.length === 1 && existing.parents[0] === input.baseCommit) {
        return { sha: existing.sha, tree, changedPaths, reused: true };
      }
      if (input.expectedOldSha === undefined || input.expectedOldSha === null || input.expectedOldSha !== existing.sha) {
        throw refConflict(input.ref, existing.sha, input.expectedOldSha ?? null);
      }
    } else if (input.expectedOldSha !== undefined && input.expectedOldSha !== null) {
      throw refConflict(input.ref, null, input.expectedOldSha);
    }

    const when = input.date === undefined ? undefined : `${Math.floor(input.date.getTime() / 1000)} +0000`;
    const identity: Record<string, string> = {
      GIT_AUTHOR_NAME: input.author.name,
      GIT_AUTHOR_EMAIL: input.author.email,
      GIT_COMMITTER_NAME: input.author.name,
      GIT_COMMITTER_EMAIL: input.author.email,
      ...(when === undefined ? {} : { GIT_AUTHOR_DATE: when, GIT_COMMITTER_DATE: when }),
    };
    const message = input.message.endsWith('\n') ? input.message : `${input.message}\n`;
    const sha = (
      await g(['-c', 'commit.gpgSign=false', 'commit-tree', tree, '-p', input.baseCommit], { env: identity, input: message })
    ).stdout.trim();

    const update = await updateRefs(input.mirrorPath, [
      existing === null ? { op: 'create', ref: input.ref, newSha: sha } : { op: 'update', ref: input.ref, newSha: sha, oldSha: existing.sha },
    ]);
    if (!update.ok) {
      // Lost a race with another writer of the same ref: same tree+parent is still success.
      const now = await readCommitAt(input.mirrorPath, input.ref);
      if (now !== null && now.tree === tree && now.parents.length === 1 && now.parents[0] === input.baseCommit) {
        return { sha: now.sha, tree, changedPaths, reused: true };
      }
      throw refConflict(input.ref, now?.sha ?? null, input.expectedOldSha ?? null);
    }
    return { sha, tree, changedPaths, reused: false };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

function refConflict(ref: string, current: string | null, expected: string | null): InvalidInputError {
  return new InvalidInputError('REF_CONFLICT', `ref ${ref} is at ${current ?? '(absent)'}, expected ${expected ?? '(absent)'}`, {
    details: { ref, current, expected },
  });
}

/**
 * The commit a ref points at with its tree and parents, or null when the ref is absent (or does
 * not name a commit). An absent full ref is known from the ref files without asking git
 * (refs.ts); otherwise the mirror's long-lived `git cat-file` reads the commit
 * (long-lived-git.ts).
 */
export async function readCommitAt(mirrorPath: string, ref: string): Promise<CommitHeader | null> {
  if ((await refPresence(mirrorPath, ref)) === 'absent') return null;
  return readCommitHeader(mirrorPath, ref);
}
