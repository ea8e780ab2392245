/**
 * Ref questions answered without starting git, where git's on-disk format answers them
 * (docs/benchmarks.md "Throughput": every git process costs git-gateway a fork of its own process
 * and 5–25 ms of a blocked event loop on a loaded machine; most `rev-parse --verify` calls asked
 * about checkpoint and patch refs that do not exist yet).
 *
 *  - {@link isValidRefName}: the rules of `git check-ref-format <refname>` (gitRefNameProblem of
 *    @remediation/contracts).
 *  - {@link refPresence}: whether a full ref (`refs/…`) exists in a repository with the files ref
 *    backend: a loose ref file `<git dir>/<ref>` holding an object id, else a line of
 *    `packed-refs` (gitrepository-layout(5)). Read in git's own order (loose first, then
 *    packed-refs), so a concurrent `pack-refs` cannot hide a ref. Anything else (a symbolic ref, an
 *    unreadable file, a name that is not a plain full ref) is `unknown`: ask git.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { gitRefNameProblem } from '@remediation/contracts';
import { InvalidInputError } from '@remediation/errors';

/** Whether `name` is a valid ref name, as `git check-ref-format <name>` decides (exit 0): see gitRefNameProblem. */
export function isValidRefName(name: string): boolean {
  return gitRefNameProblem(name) === null;
}

/** `present`: the ref exists; `absent`: it does not; `unknown`: git must be asked (see the module comment). */
export type RefPresence = 'present' | 'absent' | 'unknown';

const OID_LINE = /^(?:[0-9a-f]{40}|[0-9a-f]{64})\n?$/;

/** packed-refs (name → object id) per repository, valid while the file's size, mtime and inode are unchanged. */
const packedCache = new Map<string, { key: string; refs: Map<string, string> }>();

/**
 * Whether the full ref `ref` (e.g. `refs/remediations/<rem>/<exec>/checkpoint`) exists in the
 * bare repository `gitDir`, from its loose ref file or its `packed-refs`.
 */
export async function refPresence(gitDir: string, ref: string): Promise<RefPresence> {
  if (!ref.startsWith('refs/') || !isValidRefName(ref)) return 'unknown';
  try {
    const text = await readFile(join(gitDir, ref), 'utf8');
    return OID_LINE.test(text) ? 'present' : 'unknown';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // EISDIR: refs below this name exist, not the name itself; ENOTDIR: a shorter ref is a file.
    if (code !== 'ENOENT' && code !== 'EISDIR' && code !== 'ENOTDIR') return 'unknown';
  }
  const packed = await packedRefs(gitDir);
  if (packed === 'unknown') return 'unknown';
  return packed.has(ref) ? 'present' : 'absent';
}

async function packedRefs(gitDir: string): Promise<Map<string, string> | 'unknown'> {
  const file = join(gitDir, 'packed-refs');
  let key: string;
  try {
    const st = await stat(file);
    key = `${st.size}:${st.mtimeMs}:${st.ino}`;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? new Map() : 'unknown';
  }
  const cached = packedCache.get(gitDir);
  if (cached?.key === key) return cached.refs;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? new Map() : 'unknown';
  }
  const refs = new Map<string, string>();
  for (const line of text.split('\n')) {
    // `<oid> <refname>`; `# pack-refs with: …` header and `^<peeled oid>` lines are skipped.
    const space = line.indexOf(' ');
    if (space <= 0 || line.startsWith('#') || line.startsWith('^')) continue;
    refs.set(line.slice(space + 1), line.slice(0, space));
  }
  packedCache.set(gitDir, { key, refs });
  return refs;
}

/**
 * Every ref under the directories `prefixes` (e.g. `refs/heads/`, `refs/tags/`) of the bare
 * repository `gitDir` with the object id it holds, read like git's files backend iterates them:
 * the loose ref files first, then `packed-refs` for the names not found loose (a ref whose loose
 * file vanished meanwhile was packed by `pack-refs`, which writes packed-refs first).
 * @returns name → object id, or `unknown` when a file does not answer plainly (a symbolic ref,
 *   an unreadable file or directory): ask git.
 */
export async function listRefs(gitDir: string, prefixes: readonly string[]): Promise<Map<string, string> | 'unknown'> {
  const refs = new Map<string, string>();
  const walk = async (dir: string): Promise<boolean> => {
    let entries;
    try {
      entries = await readdir(join(gitDir, dir), { withFileTypes: true });
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'ENOENT';
    }
    for (const entry of entries) {
      const name = `${dir}${entry.name}`;
      if (entry.isDirectory()) {
        if (!(await walk(`${name}/`))) return false;
        continue;
      }
      if (!entry.isFile() || entry.name.endsWith('.lock')) {
        if (entry.name.endsWith('.lock')) continue;
        return false;
      }
      let text: string;
      try {
        text = await readFile(join(gitDir, name), 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        return false;
      }
      if (!OID_LINE.test(text)) return false;
      refs.set(name, text.trim());
    }
    return true;
  };
  for (const prefix of prefixes) {
    if (!prefix.startsWith('refs/') || !prefix.endsWith('/')) {
      throw new InvalidInputError('REF_INVALID', `listRefs: prefix ${JSON.stringify(prefix)} must be a directory under refs/ ending in /`, { details: { prefix } });
    }
    if (!(await walk(prefix))) return 'unknown';
  }
  const packed = await packedRefs(gitDir);
  if (packed === 'unknown') return 'unknown';
  for (const [name, oid] of packed) {
    if (!refs.has(name) && prefixes.some((p) => name.startsWith(p))) refs.set(name, oid);
  }
  return refs;
}

/**
 * The ref `<git dir>/HEAD` points at (`ref: refs/heads/main` → `refs/heads/main`), null when HEAD
 * is detached (an object id), `unknown` when the file is missing or unreadable (ask git).
 */
export async function readHeadFile(gitDir: string): Promise<string | null | 'unknown'> {
  let text: string;
  try {
    text = await readFile(join(gitDir, 'HEAD'), 'utf8');
  } catch {
    return 'unknown';
  }
  const m = /^ref: (\S+)\n?$/.exec(text);
  if (m && isValidRefName(m[1]!)) return m[1]!;
  return OID_LINE.test(text) ? null : 'unknown';
}
