import { constants } from 'node:fs';
import { lstat, mkdir, open, realpath, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { readRefusal, writeRefusal, type EditPolicy } from './edit-policy.js';
import { ToolError } from './errors.js';

/** 1 MiB: the default largest file the tools read or write. */
export const DEFAULT_MAX_FILE_BYTES = 1024 * 1024;

/** A model-supplied path after {@link Workspace.resolve}. */
export interface ResolvedPath {
  /** The path as the model gave it. */
  input: string;
  /** Absolute path inside the root, symlinks not followed. */
  abs: string;
  /** Root-relative POSIX path, symlinks not followed (`''` for the root itself). */
  rel: string;
  /** Absolute path with every existing symlink resolved (always inside the real root). */
  real: string;
  /** Root-relative POSIX path of `real`. */
  realRel: string;
  /** Whether something exists at the path. */
  exists: boolean;
}

function toPosix(p: string): string {
  return sep === '/' ? p : p.split(sep).join('/');
}

function isInside(rel: string): boolean {
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/**
 * Reads a regular file of a workspace at its resolved real path `real`, for the model, without
 * following a symlink at the last component (`O_NOFOLLOW`: a link swapped in after the jail
 * check is refused) and without blocking on a FIFO (`O_NONBLOCK`). The checks run on the opened
 * file (`fstat`), so they hold for the bytes read.
 *
 * Hard links: a regular file with more than one link is refused. A hard link made inside the
 * workspace to a file outside it passes every path check (it is an ordinary directory entry)
 * yet shows content the execution was not given; a workspace is a git checkout (base snapshot
 * plus upper layer), and git never creates hard links, so no legitimate file is lost.
 * @param rel the workspace-relative path, for messages.
 * @throws ToolError when missing, a directory, not a regular file, hard-linked, over `maxBytes`,
 *   or a symlink.
 */
export async function readWorkspaceFile(real: string, rel: string, maxBytes: number): Promise<Buffer> {
  let handle;
  try {
    handle = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw new ToolError(`refused: ${rel} is a symlink`);
    if (code === 'ENOENT') throw new ToolError(`${rel} does not exist (list_files shows what does)`);
    throw new ToolError(`${rel}: ${(error as Error).message}`);
  }
  try {
    const info = await handle.stat();
    if (info.isDirectory()) throw new ToolError(`${rel} is a directory; use list_files to see its files`);
    if (!info.isFile()) throw new ToolError(`${rel} is not a regular file`);
    if (info.nlink > 1) throw new ToolError(`refused: ${rel} is a hard link (${info.nlink} links); hard-linked files may hold content from outside the workspace`);
    if (info.size > maxBytes) {
      throw new ToolError(`refused: ${rel} is ${info.size} bytes, over the ${maxBytes}-byte limit for reading; use grep to find the lines you need`);
    }
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

/**
 * The agent's view of one writable workspace (an execution's overlay `merged` dir): every
 * path the model names is resolved here and refused when it leaves the root, and every write
 * is checked against the {@link EditPolicy} and recorded.
 *
 * Jail rules ({@link Workspace.resolve}): relative paths resolve against the root and may not
 * climb out with `..`; absolute paths must already be inside the root; the nearest existing
 * ancestor of the path is `realpath`ed and must stay inside the root's real path, so symlinks
 * (anywhere in the path, including the file itself) that lead outside are refused; a dangling
 * symlink or a symlink loop is refused (a write would follow it). Reads and writes go to the
 * resolved real path, opened without following a final symlink, so a symlink cannot be swapped
 * between the check and the use (the agent has no tool that creates links anyway). Regular
 * files with more than one hard link are neither read nor written ({@link readWorkspaceFile}).
 */
export class Workspace {
  /** Real path of the root. */
  readonly root: string;
  /** The root as given (may differ from `root` when it contains symlinks). */
  readonly givenRoot: string;
  readonly policy: EditPolicy;
  readonly maxFileBytes: number;
  readonly #changed = new Set<string>();

  private constructor(root: string, givenRoot: string, policy: EditPolicy, maxFileBytes: number) {
    this.root = root;
    this.givenRoot = givenRoot;
    this.policy = policy;
    this.maxFileBytes = maxFileBytes;
  }

  /**
   * Opens the workspace at `root` (absolute path of an existing directory).
   * @param options.maxFileBytes largest file read or written, default 1 MiB.
   * @throws Error when `root` is not an absolute path to a directory.
   */
  static async open(root: string, options: { policy?: EditPolicy; maxFileBytes?: number } = {}): Promise<Workspace> {
    if (!isAbsolute(root)) throw new Error(`workspace root must be absolute: ${root}`);
    const real = await realpath(root);
    if (!(await stat(real)).isDirectory()) throw new Error(`workspace root is not a directory: ${root}`);
    return new Workspace(real, resolve(root), options.policy ?? {}, options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES);
  }

  /**
   * Resolves a path the model supplied (see the class docs for the rules).
   * @throws ToolError with a message for the model when the path is refused.
   */
  async resolve(input: string): Promise<ResolvedPath> {
    if (typeof input !== 'string' || input.trim() === '') throw new ToolError('path is empty: give a path relative to the workspace root, e.g. src/index.js');
    if (input.includes('\0')) throw new ToolError('path contains a NUL byte');
    let abs: string;
    let rel: string;
    if (isAbsolute(input)) {
      abs = resolve(input);
      rel = relative(this.root, abs);
      if (!isInside(rel)) {
        const fromGiven = relative(this.givenRoot, abs);
        if (!isInside(fromGiven)) {
          throw new ToolError(`refused: ${input} is an absolute path outside the workspace; use paths relative to the workspace root`);
        }
        rel = fromGiven;
        abs = join(this.root, fromGiven);
      }
    } else {
      abs = resolve(this.root, input);
      rel = relative(this.root, abs);
      if (!isInside(rel)) throw new ToolError(`refused: ${input} leaves the workspace (".." may not climb above the workspace root)`);
    }

    // Real path of the nearest existing ancestor, plus the part that does not exist yet.
    let probe = abs;
    const tail: string[] = [];
    let realProbe: string;
    for (;;) {
      try {
        realProbe = await realpath(probe);
        break;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ELOOP') throw new ToolError(`refused: ${input} goes through a symlink loop`);
        if (code === 'ENOTDIR') throw new ToolError(`${input}: a parent of this path is a file, not a directory`);
        if (code !== 'ENOENT') throw new ToolError(`${input}: ${(error as Error).message}`);
        const linkExists = await lstat(probe).then(
          () => true,
          () => false,
        );
        if (linkExists) throw new ToolError(`refused: ${input} goes through a dangling symlink (${relative(this.root, probe) || '.'}); writing would follow it`);
        if (probe === this.root) throw new ToolError('the workspace root no longer exists');
        tail.unshift(basename(probe));
        probe = dirname(probe);
      }
    }
    const real = tail.length ? join(realProbe, ...tail) : realProbe;
    const realRel = relative(this.root, real);
    if (!isInside(realRel)) {
      throw new ToolError(`refused: ${input} resolves through a symlink to ${real}, outside the workspace`);
    }
    return { input, abs, rel: toPosix(rel), real, realRel: toPosix(realRel), exists: tail.length === 0 };
  }

  /**
   * Reads a text file for the model.
   * @throws ToolError when the path is refused, missing, a directory, larger than
   *   `maxFileBytes`, or binary (a NUL byte in the first 8 KiB, or not valid UTF-8).
   */
  async readText(input: string): Promise<{ path: ResolvedPath; text: string }> {
    const path = await this.resolve(input);
    const refusal = readRefusal(path.rel) ?? readRefusal(path.realRel);
    if (refusal) throw new ToolError(`refused: ${refusal}`);
    if (!path.exists) throw new ToolError(`${path.rel} does not exist (list_files shows what does)`);
    const bytes = await readWorkspaceFile(path.real, path.rel, this.maxFileBytes);
    if (bytes.subarray(0, 8192).includes(0)) throw new ToolError(`refused: ${path.rel} is a binary file`);
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      throw new ToolError(`refused: ${path.rel} is not valid UTF-8 text (binary?)`);
    }
    return { path, text };
  }

  /**
   * Writes a text file (creating parent directories) after the jail and the edit policy
   * allowed both the path as named and its real path; records it as changed.
   * @param options.viaBumpVersion the manifest editor is writing (lifts the package.json rule).
   * @throws ToolError when refused or larger than `maxFileBytes`.
   */
  async writeText(input: string | ResolvedPath, text: string, options: { viaBumpVersion?: boolean } = {}): Promise<ResolvedPath> {
    const path = typeof input === 'string' ? await this.resolve(input) : input;
    if (path.rel === '') throw new ToolError('refused: cannot write to the workspace root itself');
    for (const rel of new Set([path.rel, path.realRel])) {
      const refusal = writeRefusal(rel, this.policy, options);
      if (refusal) throw new ToolError(`refused: ${refusal}`);
    }
    const size = Buffer.byteLength(text, 'utf8');
    if (size > this.maxFileBytes) throw new ToolError(`refused: ${size} bytes is over the ${this.maxFileBytes}-byte limit for a file`);
    if (path.exists) {
      const info = await lstat(path.real);
      if (info.isDirectory()) throw new ToolError(`${path.rel} is a directory`);
      if (!info.isFile()) throw new ToolError(`refused: ${path.rel} is not a regular file`);
      if (info.nlink > 1) throw new ToolError(`refused: ${path.rel} is a hard link (${info.nlink} links); writing it would change a file outside the workspace`);
    }
    await mkdir(dirname(path.real), { recursive: true });
    const handle = await open(path.real, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o644).catch((error: NodeJS.ErrnoException) => {
      throw new ToolError(error.code === 'ELOOP' ? `refused: ${path.rel} is a symlink` : `${path.rel}: ${error.message}`);
    });
    try {
      await handle.writeFile(text, 'utf8');
    } finally {
      await handle.close();
    }
    this.#changed.add(path.realRel);
    return { ...path, exists: true };
  }

  /** Root-relative POSIX paths written through this workspace, sorted. */
  changedPaths(): string[] {
    return [...this.#changed].sort();
  }
}
