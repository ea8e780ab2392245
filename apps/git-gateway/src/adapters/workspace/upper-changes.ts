/**
 * A workspace's changes against its base snapshot (lower dir), for commits and checkpoints. One
 * change collector (what a written or deleted path expands to) and two walks that feed it:
 *
 * {@link readUpperChanges} — overlay driver: reads the upper layer in O(changed dirs) instead of
 * diffing the whole merged tree. Rules (docs/architecture.md "git-gateway"):
 *  - regular file or symlink in upper = add/modify; contents, symlink targets and modes are
 *    read through the MERGED view (with metacopy an upper file may hold only metadata);
 *  - char device 0/0 in upper = whiteout = delete (a deleted directory → a delete of every
 *    path under it in lower);
 *  - opaque or redirected directories = rebuild that subtree from the merged view.
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
 * calls only.
 *
 * {@link readCopyChanges} — copy driver: a parallel walk of lower and the copy, see there.
 *
 * Both: entries under a `.git` path component are never reported as changes: they go to
 * `forbidden` (git itself refuses such paths; the patch guard must fail on them); fifos,
 * sockets and devices go to `unsupported`.
 */
import { lstat, open, readdir, readlink } from 'node:fs/promises';
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

/** Result of {@link readUpperChanges} and {@link readCopyChanges}. */
export interface UpperScan {
  /** Sorted by path; at most one entry per path (a write wins over a delete of the same path). */
  changes: UpperChange[];
  /** Paths (as found, not expanded) having a `.git` component, e.g. `.git`, `sub/.git/config`. */
  forbidden: string[];
  /** Paths of entries git cannot store (fifo, socket, device other than a whiteout). */
  unsupported: Array<{ path: string; type: string }>;
}

/** Input of {@link readUpperChanges}: the three dirs of one mounted overlay workspace. */
export interface ReadUpperInput {
  upperDir: string;
  lowerDir: string;
  /** Must be mounted (contents are read through it). */
  mergedDir: string;
}

/** Input of {@link readCopyChanges}. */
export interface ReadCopyInput {
  lowerDir: string;
  /** The complete copy. */
  mergedDir: string;
  /** ctime (ns) of the copy-done marker (metadata.ts `copyDoneCtimeNs`). */
  copyDoneCtimeNs: bigint;
}

type EntryType = 'dir' | 'file' | 'symlink' | 'other';

function entryType(d: Dirent | Stats | BigIntStats): EntryType {
  if (d.isDirectory()) return 'dir';
  if (d.isFile()) return 'file';
  if (d.isSymbolicLink()) return 'symlink';
  return 'other';
}

/** An overlayfs whiteout: a char device 0/0 in the upper layer. */
function isWhiteout(st: BigIntStats): boolean {
  return st.isCharacterDevice() && st.rdev === 0n;
}

function describeOther(st: Stats | BigIntStats): string {
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
export function gitModeOf(st: Stats | BigIntStats): GitFileMode {
  if (st.isSymbolicLink()) return '120000';
  return (Number(st.mode) & 0o100) !== 0 ? '100755' : '100644';
}

/**
 * Entries of a directory by name; an empty map when the path is missing or not a directory (a
 * path that vanished or changed type while a workspace is read).
 */
async function listDir(path: string): Promise<Map<string, Dirent>> {
  try {
    return new Map((await readdir(path, { withFileTypes: true })).map((e) => [e.name, e]));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return new Map();
    throw err;
  }
}

/** `lstat` (nanosecond times) of a path, or null when it is missing (ENOENT/ENOTDIR). */
async function lstatOrNull(path: string): Promise<BigIntStats | null> {
  try {
    return await lstat(path, { bigint: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw err;
  }
}

const rel = (dir: string, name: string): string => (dir === '' ? name : `${dir}/${name}`);

/** Collects changes of one workspace: what a delete in lower / a write in merged expands to. */
class ChangeCollector {
  private readonly changes = new Map<string, UpperChange>();
  private readonly forbidden = new Set<string>();
  private readonly unsupported: UpperScan['unsupported'] = [];

  constructor(
    private readonly lowerDir: string,
    private readonly mergedDir: string,
  ) {}

  /** `path` has a `.git` component: reported, never committed. */
  forbid(path: string): void {
    this.forbidden.add(path);
  }

  /** `path` is a fifo, socket or device git cannot store. */
  unsupportedEntry(path: string, st: BigIntStats): void {
    this.unsupported.push({ path, type: describeOther(st) });
  }

  /** `path` is deleted (unless it is also written: a write wins). */
  delete(path: string): void {
    if (!this.changes.has(path)) this.changes.set(path, { path, kind: 'delete' });
  }

  /** Every file/symlink under `path` in lower is deleted; an empty dir in a snapshot is a gitlink. */
  async deleteLowerSubtree(path: string): Promise<void> {
    const st = await lstatOrNull(join(this.lowerDir, path));
    if (st === null) return;
    if (!st.isDirectory()) return this.delete(path);
    const entries = await listDir(join(this.lowerDir, path));
    if (entries.size === 0) return this.delete(path); // submodule (gitlink) placeholder: snapshots hold no other empty dirs
    for (const name of entries.keys()) await this.deleteLowerSubtree(rel(path, name));
  }

  /** `path` in merged is written: a file or symlink with its mode, a directory as its whole subtree. */
  async write(path: string, st?: BigIntStats): Promise<void> {
    const s = st ?? (await lstatOrNull(join(this.mergedDir, path)));
    if (s === null) return; // vanished while scanning
    const type = entryType(s);
    if (type === 'file' || type === 'symlink') this.changes.set(path, { path, kind: 'write', mode: gitModeOf(s) });
    else if (type === 'dir') await this.writeMergedSubtree(path);
    else this.unsupportedEntry(path, s);
  }

  /** Every file/symlink under `path` in merged is written (`.git` paths go to forbidden). */
  async writeMergedSubtree(path: string): Promise<void> {
    if (isForbiddenPath(path)) return this.forbid(path);
    for (const [name, dirent] of await listDir(join(this.mergedDir, path))) {
      const child = rel(path, name);
      if (isForbiddenPath(child)) this.forbid(child);
      else if (dirent.isDirectory()) await this.writeMergedSubtree(child);
      else await this.write(child);
    }
  }

  /** Writes `path` unless it is forbidden. */
  async writeOrForbid(path: string): Promise<void> {
    if (isForbiddenPath(path)) this.forbid(path);
    else await this.write(path);
  }

  /** The collected changes, sorted. */
  result(): UpperScan {
    return {
      changes: [...this.changes.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)),
      forbidden: [...this.forbidden].sort(),
      unsupported: this.unsupported.sort((a, b) => (a.path < b.path ? -1 : 1)),
    };
  }
}

/**
 * Lists the changes of an overlay workspace from its upper layer (see the module comment for
 * the rules).
 * @returns changes sorted by path, plus forbidden (`.git`) and unsupported entries.
 * @throws Error (fs errors other than ENOENT/ENOTDIR) when a dir cannot be read; the merged
 *   dir must be mounted.
 */
export async function readUpperChanges(input: ReadUpperInput): Promise<UpperScan> {
  const found = new ChangeCollector(input.lowerDir, input.mergedDir);

  const walkUpperDir = async (dir: string): Promise<void> => {
    const upper = await listDir(join(input.upperDir, dir));
    const lower = await listDir(join(input.lowerDir, dir));
    const merged = await listDir(join(input.mergedDir, dir));

    for (const name of upper.keys()) {
      const path = rel(dir, name);
      if (isForbiddenPath(path)) {
        found.forbid(path);
        continue;
      }
      const st = await lstat(join(input.upperDir, path), { bigint: true });
      const lowerEntry = lower.get(name);
      const lowerIsDir = lowerEntry?.isDirectory() ?? false;
      if (isWhiteout(st)) {
        if (lowerEntry !== undefined) await found.deleteLowerSubtree(path);
        continue;
      }
      switch (entryType(st)) {
        case 'dir':
          if (lowerEntry !== undefined && !lowerIsDir) found.delete(path);
          await walkUpperDir(path);
          break;
        case 'file':
        case 'symlink':
          if (lowerIsDir) await found.deleteLowerSubtree(path);
          await found.write(path);
          break;
        default:
          found.unsupportedEntry(path, st);
      }
    }

    // Opaque dir: lower entries hidden without whiteouts.
    for (const name of lower.keys()) {
      if (!upper.has(name) && !merged.has(name)) await found.deleteLowerSubtree(rel(dir, name));
    }

    // Redirected dir (or a type change through one): merged entries that lower does not explain.
    for (const [name, mergedEntry] of merged) {
      if (upper.has(name)) continue;
      const path = rel(dir, name);
      const lowerEntry = lower.get(name);
      if (lowerEntry === undefined) {
        await found.writeOrForbid(path);
      } else if (entryType(lowerEntry) !== entryType(mergedEntry)) {
        await found.deleteLowerSubtree(path);
        await found.writeOrForbid(path);
      }
    }
  };

  await walkUpperDir('');
  return found.result();
}

/** Byte-for-byte comparison of two regular files of equal size, 256 KiB at a time. */
async function sameContent(a: string, b: string): Promise<boolean> {
  const [fa, fb] = await Promise.all([open(a, 'r'), open(b, 'r')]);
  try {
    const size = 256 * 1024;
    const ba = Buffer.alloc(size);
    const bb = Buffer.alloc(size);
    for (;;) {
      const [ra, rb] = await Promise.all([fa.read(ba, 0, size, null), fb.read(bb, 0, size, null)]);
      if (ra.bytesRead !== rb.bytesRead) return false;
      if (ra.bytesRead === 0) return true;
      if (!ba.subarray(0, ra.bytesRead).equals(bb.subarray(0, rb.bytesRead))) return false;
    }
  } finally {
    await Promise.all([fa.close(), fb.close()]);
  }
}

/**
 * Changes of a copy workspace: a parallel walk of `lower` and `merged` (O(repository)
 * readdir+lstat; contents read only for candidate files).
 *  - in lower, absent from merged → delete (a directory → every path under it; an empty lower
 *    dir is a submodule placeholder → delete of that path), as for the overlay;
 *  - in merged, absent from lower → write (a directory → every file/symlink under it);
 *  - type changed (dir ↔ file/symlink) → delete of the lower subtree + write of the merged one;
 *  - both files: same git mode, same size, same mtime as lower AND ctime older than the
 *    copy-done marker → unchanged without reading (cp -a keeps mtimes; every write, chmod,
 *    utimes or rename sets ctime to now, which user space cannot set back); otherwise the bytes
 *    are compared and only a real difference (content or exec bit) is a write;
 *  - symlinks: targets compared.
 * A file touched without a content change is therefore NOT reported (overlay reports it as a
 * write because it was copied up; the committed tree is the same).
 * @returns changes sorted by path, plus forbidden (`.git`) and unsupported entries.
 * @throws Error (fs errors other than ENOENT/ENOTDIR) when a dir or file cannot be read.
 */
export async function readCopyChanges(input: ReadCopyInput): Promise<UpperScan> {
  const { lowerDir, mergedDir, copyDoneCtimeNs } = input;
  const found = new ChangeCollector(lowerDir, mergedDir);

  const deleteLower = async (path: string, l: BigIntStats): Promise<void> => {
    if (l.isDirectory()) await found.deleteLowerSubtree(path);
    else found.delete(path);
  };
  const compare = async (path: string): Promise<void> => {
    const [m, l] = await Promise.all([lstatOrNull(join(mergedDir, path)), lstatOrNull(join(lowerDir, path))]);
    if (m === null) return; // vanished while scanning
    if (l === null) return found.write(path, m);
    const mt = entryType(m);
    if (mt === 'other') {
      found.unsupportedEntry(path, m);
      return deleteLower(path, l);
    }
    if (mt !== entryType(l)) {
      if (l.isDirectory()) await found.deleteLowerSubtree(path);
      return found.write(path, m);
    }
    if (mt === 'symlink') {
      const [tm, tl] = await Promise.all([readlink(join(mergedDir, path), { encoding: 'buffer' }), readlink(join(lowerDir, path), { encoding: 'buffer' })]);
      if (!tm.equals(tl)) await found.write(path, m);
      return;
    }
    if (gitModeOf(m) !== gitModeOf(l) || m.size !== l.size) return found.write(path, m);
    if (m.ctimeNs < copyDoneCtimeNs && m.mtimeNs === l.mtimeNs) return;
    if (!(await sameContent(join(mergedDir, path), join(lowerDir, path)))) await found.write(path, m);
  };

  const walk = async (dir: string): Promise<void> => {
    const [lower, merged] = await Promise.all([listDir(join(lowerDir, dir)), listDir(join(mergedDir, dir))]);
    for (const name of lower.keys()) {
      if (!merged.has(name)) await found.deleteLowerSubtree(rel(dir, name));
    }
    for (const [name, entry] of merged) {
      const path = rel(dir, name);
      if (isForbiddenPath(path)) {
        found.forbid(path);
        continue;
      }
      const lowerEntry = lower.get(name);
      if (entry.isDirectory()) {
        if (lowerEntry === undefined) await found.writeMergedSubtree(path);
        else if (lowerEntry.isDirectory()) await walk(path);
        else {
          found.delete(path);
          await found.writeMergedSubtree(path);
        }
      } else {
        await compare(path);
      }
    }
  };

  await walk('');
  return found.result();
}
