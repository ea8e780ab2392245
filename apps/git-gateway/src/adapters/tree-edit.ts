/**
 * A new tree from a base tree and a list of path edits, without an index: the base's trees along
 * the edited paths are read by the mirror's long-lived `git cat-file`, the changed trees written
 * by its long-lived `git mktree --batch` (long-lived-git.ts), unchanged subtrees reused by id.
 * It gives the tree `git read-tree <base>`, `git update-index --add --replace --index-info`
 * (deletions first, then writes) and `git write-tree` give, and the paths
 * `git diff-tree -r --no-renames --name-only <base> <new>` lists, in 2 long-lived processes
 * instead of 3–4 new ones per commit (docs/benchmarks.md "Throughput", decision 0024):
 *
 *  - a deletion removes the file, symlink or submodule at exactly that path; a path that is a
 *    directory (or absent) is left alone (the index has no entry of that name);
 *  - a write replaces whatever is in the way (`--replace`): a file where a parent directory
 *    must be, or a whole directory at the written path;
 *  - a directory left empty disappears (the index cannot hold an empty directory).
 */
import { InvalidInputError } from '@remediation/errors';
import { readObject, writeTree, type TreeEntry } from './long-lived-git.js';

/** One edit: `entry` written at `path`, or the file at `path` deleted (`entry` null). */
export interface TreeEdit {
  /** Repository-relative path, `/`-separated, normalised (no `.`, `..` or empty segments). */
  path: string;
  /** Mode (`100644`, `100755`, `120000`) and blob id to write; null deletes. */
  entry: { mode: string; oid: string } | null;
}

/** Result of {@link editTree}. */
export interface TreeEditResult {
  /** The new tree's id (equal to the base's when the edits change nothing). */
  tree: string;
  /** File paths whose mode or id differs between base and new tree (diff-tree -r), sorted. */
  changedPaths: string[];
}

const TREE_MODE = '40000';

/** An entry of a directory being edited: a leaf or an unedited directory (`mode` 40000) by id, or an edited directory. */
type DirEntry = { mode: string; oid: string } | { dir: Dir };

interface Dir {
  /** Entries by name (bytes as a latin1 string). */
  entries: Map<string, DirEntry>;
}

const isTreeMode = (mode: string): boolean => mode === TREE_MODE || mode === '040000';

/** The empty tree of each object format (git knows it without storing it). */
const EMPTY_TREE: Record<number, string> = {
  40: '4b825dc642cb6eb9a060e54bf8d69288fbee4904',
  64: '6ef19b41225c5369f1c104d45d8d85efa9b057b53b14b4b9b939dd74decc5321',
};

/**
 * Applies `edits` to the tree `baseTree` of the repository `gitDir` (see the module comment for
 * the rules) and writes the changed trees.
 * @throws InvalidInputError `TREE_NOT_FOUND` when a base tree cannot be read; GitCommandError
 *   (retryable) when git fails.
 */
export async function editTree(gitDir: string, baseTree: string, edits: readonly TreeEdit[]): Promise<TreeEditResult> {
  const cache = new Map<string, Map<string, { mode: string; oid: string }>>();
  const readTree = async (oid: string): Promise<Map<string, { mode: string; oid: string }>> => {
    const hit = cache.get(oid);
    if (hit !== undefined) return hit;
    const object = await readObject(gitDir, oid);
    if (object === null || object.type !== 'tree') {
      throw new InvalidInputError('TREE_NOT_FOUND', `tree ${oid} is not in the repository`, { details: { tree: oid } });
    }
    const entries = parseTree(object.content, baseTree.length / 2);
    cache.set(oid, entries);
    return entries;
  };
  const load = async (oid: string): Promise<Dir> => ({ entries: new Map(await readTree(oid)) });

  const root = await load(baseTree);
  const candidates = new Set<string>();
  /** Every leaf path below the base tree `oid` at `prefix` (they change when the directory is replaced). */
  const leavesOf = async (oid: string, prefix: string): Promise<void> => {
    for (const [name, e] of await readTree(oid)) {
      if (isTreeMode(e.mode)) await leavesOf(e.oid, `${prefix}${name}/`);
      else candidates.add(`${prefix}${name}`);
    }
  };

  // Names are handled as their bytes (latin1 strings), as trees hold them.
  const raw = edits.map((e) => ({ ...e, path: Buffer.from(e.path, 'utf8').toString('latin1') }));
  const deletions = raw.filter((e) => e.entry === null);
  const writes = raw.filter((e) => e.entry !== null);
  for (const edit of deletions) {
    const parts = edit.path.split('/');
    let dir: Dir | null = root;
    for (const part of parts.slice(0, -1)) {
      const parent: Dir = dir;
      const e: DirEntry | undefined = parent.entries.get(part);
      if (e !== undefined && 'dir' in e) {
        dir = e.dir;
      } else if (e !== undefined && isTreeMode(e.mode)) {
        const sub = await load(e.oid);
        parent.entries.set(part, { dir: sub });
        dir = sub;
      } else {
        dir = null; // absent, or a file: nothing of that path in the index
        break;
      }
    }
    if (dir === null) continue;
    const name = parts.at(-1)!;
    const e = dir.entries.get(name);
    if (e === undefined || 'dir' in e || isTreeMode(e.mode)) continue;
    dir.entries.delete(name);
    candidates.add(edit.path);
  }
  for (const edit of writes) {
    const parts = edit.path.split('/');
    let dir: Dir = root;
    let prefix = '';
    for (const part of parts.slice(0, -1)) {
      const e = dir.entries.get(part);
      let sub: Dir;
      if (e !== undefined && 'dir' in e) {
        sub = e.dir;
      } else if (e !== undefined && isTreeMode(e.mode)) {
        sub = await load(e.oid);
      } else {
        if (e !== undefined) candidates.add(`${prefix}${part}`); // a file in the way
        sub = { entries: new Map() };
      }
      dir.entries.set(part, { dir: sub });
      dir = sub;
      prefix = `${prefix}${part}/`;
    }
    const name = parts.at(-1)!;
    const e = dir.entries.get(name);
    if (e !== undefined && 'dir' in e) await collectEdited(e.dir, `${prefix}${name}/`, candidates, leavesOf);
    else if (e !== undefined && isTreeMode(e.mode)) await leavesOf(e.oid, `${prefix}${name}/`);
    dir.entries.set(name, edit.entry!);
    candidates.add(edit.path);
  }

  const tree = (await write(gitDir, root)) ?? EMPTY_TREE[baseTree.length]!;
  // A candidate changed when its leaf differs between base and new tree.
  const baseLeaf = async (path: string): Promise<string | null> => {
    let oid = baseTree;
    const parts = path.split('/');
    for (const part of parts.slice(0, -1)) {
      const e = (await readTree(oid)).get(part);
      if (e === undefined || !isTreeMode(e.mode)) return null;
      oid = e.oid;
    }
    const e = (await readTree(oid)).get(parts.at(-1)!);
    return e === undefined || isTreeMode(e.mode) ? null : `${e.mode} ${e.oid}`;
  };
  const newLeaf = (path: string): string | null => {
    let dir: Dir = root;
    const parts = path.split('/');
    for (const part of parts.slice(0, -1)) {
      const e = dir.entries.get(part);
      if (e === undefined || !('dir' in e)) return null; // an unedited directory holds no candidate
      dir = e.dir;
    }
    const e = dir.entries.get(parts.at(-1)!);
    return e === undefined || 'dir' in e || isTreeMode(e.mode) ? null : `${e.mode} ${e.oid}`;
  };
  const changedPaths: string[] = [];
  for (const path of candidates) {
    if ((await baseLeaf(path)) !== newLeaf(path)) changedPaths.push(Buffer.from(path, 'latin1').toString('utf8'));
  }
  return { tree, changedPaths: changedPaths.sort() };
}

/** Leaves of an edited directory that is being replaced by a file (its files all change). */
async function collectEdited(dir: Dir, prefix: string, candidates: Set<string>, leavesOf: (oid: string, prefix: string) => Promise<void>): Promise<void> {
  for (const [name, e] of dir.entries) {
    if ('dir' in e) await collectEdited(e.dir, `${prefix}${name}/`, candidates, leavesOf);
    else if (isTreeMode(e.mode)) await leavesOf(e.oid, `${prefix}${name}/`);
    else candidates.add(`${prefix}${name}`);
  }
}

/** Writes an edited directory bottom-up; null when it ends up empty (it then disappears from its parent). */
async function write(gitDir: string, dir: Dir): Promise<string | null> {
  const entries: TreeEntry[] = [];
  for (const [name, e] of dir.entries) {
    if ('dir' in e) {
      const oid = await write(gitDir, e.dir);
      if (oid !== null) entries.push({ mode: TREE_MODE, oid, name });
    } else {
      entries.push({ mode: e.mode, oid: e.oid, name });
    }
  }
  if (entries.length === 0) return null;
  return writeTree(gitDir, entries);
}

/** Parses a tree object: `<octal mode> <name>\0<raw id>` repeated (gitformat-tree). */
export function parseTree(content: Buffer, oidBytes: number): Map<string, { mode: string; oid: string }> {
  const entries = new Map<string, { mode: string; oid: string }>();
  let at = 0;
  while (at < content.length) {
    const space = content.indexOf(0x20, at);
    const nul = content.indexOf(0, space + 1);
    if (space < 0 || nul < 0 || nul + 1 + oidBytes > content.length) {
      throw new InvalidInputError('TREE_INVALID', 'malformed tree object', { details: { offset: at } });
    }
    const mode = content.subarray(at, space).toString('latin1');
    const name = content.subarray(space + 1, nul).toString('latin1');
    const oid = content.subarray(nul + 1, nul + 1 + oidBytes).toString('hex');
    entries.set(name, { mode, oid });
    at = nul + 1 + oidBytes;
  }
  return entries;
}
