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
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { gitRefNameProblem } from '@remediation/contracts';

/** Whether `name` is a valid ref name, as `git check-ref-format <name>` decides (exit 0): see gitRefNameProblem. */
export function isValidRefName(name: string): boolean {
  return gitRefNameProblem(name) === null;
}

/** `present`: the ref exists; `absent`: it does not; `unknown`: git must be asked (see the module comment). */
export type RefPresence = 'present' | 'absent' | 'unknown';

const OID_LINE = /^(?:[0-9a-f]{40}|[0-9a-f]{64})\n?$/;

/** packed-refs names per repository, valid while the file's size, mtime and inode are unchanged. */
const packedCache = new Map<string, { key: string; names: Set<string> }>();

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
  const packed = await packedRefNames(gitDir);
  if (packed === 'unknown') return 'unknown';
  return packed.has(ref) ? 'present' : 'absent';
}

async function packedRefNames(gitDir: string): Promise<Set<string> | 'unknown'> {
  const file = join(gitDir, 'packed-refs');
  let key: string;
  try {
    const st = await stat(file);
    key = `${st.size}:${st.mtimeMs}:${st.ino}`;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? new Set() : 'unknown';
  }
  const cached = packedCache.get(gitDir);
  if (cached?.key === key) return cached.names;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? new Set() : 'unknown';
  }
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    // `<oid> <refname>`; `# pack-refs with: …` header and `^<peeled oid>` lines are skipped.
    const space = line.indexOf(' ');
    if (space <= 0 || line.startsWith('#') || line.startsWith('^')) continue;
    names.add(line.slice(space + 1));
  }
  packedCache.set(gitDir, { key, names });
  return names;
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
