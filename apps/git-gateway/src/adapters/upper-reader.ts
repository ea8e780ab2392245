/**
 * Reads an execution's changes from its overlayfs upper dir, in O(changed dirs), instead of
 * diffing the whole merged tree. Rules (ARCHITECTURE.md "git-gateway"):
 *  - regular file or symlink in upper = add/modify; contents, symlink targets and modes are
 *    read through the MERGED view (with metacopy an upper file may hold only metadata);
 *  - char device 0/0 in upper = whiteout = delete (a deleted directory → a delete of every
 *    path under it in lower);
 *  - opaque or redirected directories = rebuild that subtree from the merged view.
 *
 * Opaque/redirect detection without reading xattrs (no `getfattr` on the hosts, and Node has
 * no xattr API): for every directory D present in upper, its entries are compared across
 * upper, lower and merged:
 *  - in lower but absent from both upper and merged → deleted (an opaque D hides lower
 *    entries without whiteouts);
 *  - in merged but absent from upper and from lower → came from a redirect origin (a renamed
 *    directory, `redirect_dir=on`) → every file under it in merged is a write;
 *  - in merged, not in upper, in lower but with another type (dir vs file) → lower subtree
 *    deleted, merged subtree written.
 * Directories absent from upper are untouched (overlayfs copies up every ancestor of a change),
 * and redirected directories always live in upper, so this covers both cases with readdir
 * calls only. Entries under a `.git` path component are never reported as changes: they go to
 * `forbidden` (git itself refuses such paths; the patch guard must fail on them).
 */
import { lstat, readdir } from 'node:fs/promises';
import type { BigIntStats, Dirent, Stats } from 'node:fs';
import { join } from 'node:path';

/** Git file modes a change can have. */
export type GitFileMode = '100644' | '100755' | '120000';

/** One changed path. */
export interface UpperChange {
  /** Repository-relative POSIX path (no leading `/`). */
  path: string;
  kind: 'write' | 'delete';
  /** For writes: 120000 symlink, 100755 when the owner exec bit is set, else 100644. */
  mode?: GitFileMode;
}

/** Result of {@link readUpperChanges}. */
export interface UpperScan {
  /** Sorted by path; at most one entry per path (a write wins over a delete of the same path). */
  changes: UpperChange[];
  /** Paths (as found, not expanded) having a `.git` component, e.g. `.git`, `sub/.git/config`. */
  forbidden: string[];
  /** Paths of entries git cannot store (fifo, socket, device other than a whiteout). */
  unsupported: Array<{ path: string; type: string }>;
}

/** Input of {@link readUpperChanges}: the three dirs of one mounted workspace. */
export interface ReadUpperInput {
  upperDir: string;
  lowerDir: string;
  /** Must be mounted (contents are read through it). */
  mergedDir: string;
}

type EntryType = 'dir' | 'file' | 'symlink' | 'whiteout' | 'other';

function typeOfStats(st: Stats): EntryType {
  if (st.isDirectory()) return 'dir';
  if (st.isFile()) return 'file';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice() && st.rdev === 0) return 'whiteout';
  return 'other';
}

function typeOfDirent(d: Dirent): EntryType {
  if (d.isDirectory()) return 'dir';
  if (d.isFile()) return 'file';
  if (d.isSymbolicLink()) return 'symlink';
  return 'other'; // char devices need the rdev from lstat (see typeOfStats)
}

function describeOther(st: Stats): string {
  if (st.isFIFO()) return 'fifo';
  if (st.isSocket()) return 'socket';
  if (st.isBlockDevice()) return 'block-device';
  if (st.isCharacterDevice()) return 'char-device';
  return 'unknown';
}

/** A `.git` component (case-insensitive: git rejects `.GIT` too with core.protectNTFS/HFS). */
export function isForbiddenPath(path: string): boolean {
  return path.split('/').some((c) => c.toLowerCase() === '.git');
}

/** Git mode of a regular file or symlink from its lstat. */
export function gitModeOf(st: Stats): GitFileMode {
  if (st.isSymbolicLink()) return '120000';
  return (st.mode & 0o100) !== 0 ? '100755' : '100644';
}

/**
 * Entries of a directory by name; an empty map when the path is missing or not a directory (a
 * path that vanished or changed type while a workspace is read).
 */
export async function listDir(path: string): Promise<Map<string, Dirent>> {
  try {
    return new Map((await readdir(path, { withFileTypes: true })).map((e) => [e.name, e]));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return new Map();
    throw err;
  }
}

/** `lstat` of a path, or null when it is missing (ENOENT/ENOTDIR). */
export async function lstatOrNull(path: string): Promise<Stats | null>;
/** With `bigint: true`: nanosecond times (the copy driver compares ctimes with them). */
export async function lstatOrNull(path: string, options: { bigint: true }): Promise<BigIntStats | null>;
export async function lstatOrNull(path: string, options?: { bigint: true }): Promise<Stats | BigIntStats | null> {
  try {
    return options ? await lstat(path, options) : await lstat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw err;
  }
}

/**
 * Lists the changes of a workspace relative to its base (see the module comment for rules).
 * @returns changes sorted by path, plus forbidden (`.git`) and unsupported entries.
 * @throws Error (fs errors other than ENOENT/ENOTDIR) when a dir cannot be read; the merged
 *   dir must be mounted.
 */
export async function readUpperChanges(input: ReadUpperInput): Promise<UpperScan> {
  const changes = new Map<string, UpperChange>();
  const forbidden = new Set<string>();
  const unsupported: UpperScan['unsupported'] = [];
  const rel = (dir: string, name: string): string => (dir === '' ? name : `${dir}/${name}`);

  const addDelete = (path: string): void => {
    if (!changes.has(path)) changes.set(path, { path, kind: 'delete' });
  };
  const addWrite = async (path: string): Promise<void> => {
    const st = await lstatOrNull(join(input.mergedDir, path));
    if (st === null) return; // vanished while scanning
    const type = typeOfStats(st);
    if (type === 'file' || type === 'symlink') changes.set(path, { path, kind: 'write', mode: gitModeOf(st) });
    else if (type === 'dir') await writeMergedSubtree(path);
    else unsupported.push({ path, type: describeOther(st) });
  };

  /** Every file/symlink under `path` in lower is deleted; an empty dir in a snapshot is a gitlink. */
  const deleteLowerSubtree = async (path: string): Promise<void> => {
    const st = await lstatOrNull(join(input.lowerDir, path));
    if (st === null) return;
    if (!st.isDirectory()) {
      addDelete(path);
      return;
    }
    const entries = await listDir(join(input.lowerDir, path));
    if (entries.size === 0) {
      addDelete(path); // submodule (gitlink) placeholder: snapshots hold no other empty dirs
      return;
    }
    for (const name of entries.keys()) await deleteLowerSubtree(rel(path, name));
  };

  /** Every file/symlink under `path` in merged is written. */
  const writeMergedSubtree = async (path: string): Promise<void> => {
    if (isForbiddenPath(path)) {
      forbidden.add(path);
      return;
    }
    const entries = await listDir(join(input.mergedDir, path));
    for (const [name, dirent] of entries) {
      const child = rel(path, name);
      if (isForbiddenPath(child)) {
        forbidden.add(child);
        continue;
      }
      if (dirent.isDirectory()) await writeMergedSubtree(child);
      else await addWrite(child);
    }
  };

  const walkUpperDir = async (dir: string): Promise<void> => {
    const upper = await listDir(join(input.upperDir, dir));
    const lower = await listDir(join(input.lowerDir, dir));
    const merged = await listDir(join(input.mergedDir, dir));

    for (const name of upper.keys()) {
      const path = rel(dir, name);
      if (isForbiddenPath(path)) {
        forbidden.add(path);
        continue;
      }
      const st = await lstat(join(input.upperDir, path));
      const type = typeOfStats(st);
      const lowerEntry = lower.get(name);
      const lowerIsDir = lowerEntry?.isDirectory() ?? false;
      switch (type) {
        case 'whiteout':
          if (lowerEntry !== undefined) await deleteLowerSubtree(path);
          break;
        case 'dir':
          if (lowerEntry !== undefined && !lowerIsDir) addDelete(path);
          await walkUpperDir(path);
          break;
        case 'file':
        case 'symlink':
          if (lowerIsDir) await deleteLowerSubtree(path);
          await addWrite(path);
          break;
        default:
          unsupported.push({ path, type: describeOther(st) });
      }
    }

    // Opaque dir: lower entries hidden without whiteouts.
    for (const name of lower.keys()) {
      if (!upper.has(name) && !merged.has(name)) await deleteLowerSubtree(rel(dir, name));
    }

    // Redirected dir (or a type change through one): merged entries that lower does not explain.
    for (const [name, mergedEntry] of merged) {
      if (upper.has(name)) continue;
      const path = rel(dir, name);
      const lowerEntry = lower.get(name);
      if (lowerEntry === undefined) {
        if (isForbiddenPath(path)) forbidden.add(path);
        else await addWrite(path);
      } else if (typeOfDirent(lowerEntry) !== typeOfDirent(mergedEntry)) {
        await deleteLowerSubtree(path);
        if (isForbiddenPath(path)) forbidden.add(path);
        else await addWrite(path);
      }
    }
  };

  await walkUpperDir('');
  return {
    changes: [...changes.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)),
    forbidden: [...forbidden].sort(),
    unsupported: unsupported.sort((a, b) => (a.path < b.path ? -1 : 1)),
  };
}
