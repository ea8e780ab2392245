/**
 * Long-lived git processes, one of each kind per repository, so that reading an object, hashing
 * a file or moving a ref is a line written to a pipe instead of a new process (docs/benchmarks.md
 * "Throughput": every git process costs git-gateway a fork of its ≈ 400 MB Node process; decision
 * 0024). The kinds and their stdin/stdout protocols are git's own:
 *
 *  - `cat-file`: `git cat-file --batch-command` (git ≥ 2.36). `contents <name>` → `<oid> <type>
 *    <size>\n<bytes>\n`, `info <name>` → `<oid> <type> <size>\n`, `<name> missing\n` /
 *    `<name> ambiguous\n` otherwise (git-cat-file(1) "BATCH OUTPUT"). Without `--buffer` git
 *    flushes after each command. Each command resolves its name afresh: refs are read from the
 *    ref files (packed-refs re-read when its stat changes) and a missing object makes git
 *    re-scan the pack directory, so objects and refs written by other processes are seen.
 *  - `hash-object`: `git hash-object -w --no-filters --stdin-paths` — one path per line, one
 *    object id per line, flushed per path (the long-lived use git's own Git.pm makes of it).
 *    `core.fsyncMethod=fsync` so the objects are written at once, not at the process's exit
 *    (the `batch` method defers them to the end of its ODB transaction).
 *  - `mktree`: `git mktree -z --batch` — `<mode> SP <type> SP <oid> TAB <name> NUL` per entry,
 *    an empty record ends a tree, answered with the tree's id and a line feed (flushed per tree).
 *  - `update-ref`: `git update-ref --stdin` transactions: `start`, commands, `prepare`,
 *    `commit`, answered `start: ok` / `prepare: ok` / `commit: ok` (git-update-ref(1)). A
 *    transaction that cannot be prepared (a ref not at the expected value, a lock held) makes
 *    git exit with `fatal: …`; the process is started again for the next request.
 *
 * Each process answers its requests in order (requests are written as they come and their
 * answers read first in, first out), is started on first use and after it died, is closed when
 * idle for {@link IDLE_CLOSE_MS} or when more than {@link MAX_PROCESSES} are open (least recently
 * used first), and is killed — failing what it had pending — when a request is not answered
 * within its timeout. {@link closeLongLivedGit} closes them (shutdown, a mirror removed).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { InvalidInputError } from '@remediation/errors';
import { GitCommandError, gitEnvironment } from './git.js';

/** The kinds of long-lived git process (see the module comment). */
export type LongLivedKind = 'cat-file' | 'hash-object' | 'mktree' | 'update-ref';

const ARGS: Record<LongLivedKind, readonly string[]> = {
  'cat-file': ['cat-file', '--batch-command'],
  'hash-object': ['-c', 'core.fsyncMethod=fsync', 'hash-object', '-w', '--no-filters', '--stdin-paths'],
  mktree: ['mktree', '-z', '--batch'],
  'update-ref': ['update-ref', '-m', 'git-gateway', '--stdin'],
};

/**
 * Most long-lived processes open at once (all kinds, all repositories: 16 mirrors in use with
 * all four kinds); the least recently used is closed beyond. 24 thrashed with 10 mirrors in use
 * (the default throughput benchmark: the git children's CPU doubled). An idle one costs a few MB.
 */
export const MAX_PROCESSES = 64;
/** A process unused this long is closed, ms. */
export const IDLE_CLOSE_MS = 30_000;
/** Default time one request may wait for its answer before the process is killed, ms. */
export const REQUEST_TIMEOUT_MS = 30_000;

/** Parses one answer from the front of `buffer`: the value and the bytes it used, or null when incomplete. */
type AnswerParser<T> = (buffer: Buffer) => { value: T; used: number } | null;

interface Pending {
  parse: AnswerParser<unknown>;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
  timer: NodeJS.Timeout;
}

/** One long-lived git process of one kind for one repository. */
class LongLivedProcess {
  private child: ChildProcess | undefined;
  private buffer: Buffer = Buffer.alloc(0);
  private readonly pending: Pending[] = [];
  private stderrTail = '';
  private idleTimer: NodeJS.Timeout | undefined;
  /** Processes started by this instance (1 + restarts); for tests and diagnostics. */
  starts = 0;

  constructor(
    readonly kind: LongLivedKind,
    readonly gitDir: string,
    private readonly onIdle: (p: LongLivedProcess) => void,
  ) {}

  /** The pid of the running process, if any. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Writes `input` and resolves with the answer `parse` reads; rejects with GitCommandError when git dies or times out. */
  request<T>(input: string | Buffer, parse: AnswerParser<T>, timeoutMs: number): Promise<T> {
    const child = this.child ?? this.start();
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => this.fail(child, 'timeout', timeoutMs), timeoutMs);
      this.pending.push({ parse: parse as AnswerParser<unknown>, resolve: resolve as (v: unknown) => void, reject, timer });
      child.stdin!.write(input);
    });
  }

  /** Ends stdin (git answers what it has, then exits); kills the process group after 5 s. */
  close(): void {
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    const child = this.child;
    if (child === undefined) return;
    child.stdin!.end();
    const kill = setTimeout(() => killGroup(child), 5_000);
    kill.unref();
    child.once('close', () => clearTimeout(kill));
  }

  private start(): ChildProcess {
    this.starts++;
    this.buffer = Buffer.alloc(0);
    this.stderrTail = '';
    // Own process group (as git() does) so a kill reaches helpers too; unref'd: an open process
    // never keeps the gateway alive, a pending request's timer does.
    const child = spawn('git', ['--git-dir', this.gitDir, ...ARGS[this.kind]], {
      cwd: this.gitDir,
      env: gitEnvironment(),
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    this.child = child;
    child.unref();
    for (const stream of [child.stdin, child.stdout, child.stderr] as Array<{ unref?: () => void } | null>) stream?.unref?.();
    child.stdin!.on('error', () => undefined); // EPIPE after git died: 'close' reports it
    child.stdout!.on('data', (chunk: Buffer) => {
      if (this.child !== child) return;
      this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
      this.drain();
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString('utf8')).slice(-4000);
    });
    child.once('error', () => this.fail(child, 'exit'));
    child.once('close', () => this.fail(child, 'exit'));
    return child;
  }

  private drain(): void {
    while (this.pending.length > 0) {
      const head = this.pending[0]!;
      let answer: { value: unknown; used: number } | null;
      try {
        answer = head.parse(this.buffer);
      } catch (err) {
        // An answer git would not give: the stream can no longer be trusted.
        this.pending.shift();
        clearTimeout(head.timer);
        head.reject(err);
        if (this.child !== undefined) this.fail(this.child, 'exit');
        return;
      }
      if (answer === null) return;
      this.pending.shift();
      clearTimeout(head.timer);
      this.buffer = this.buffer.subarray(answer.used);
      head.resolve(answer.value);
    }
    if (this.idleTimer === undefined) {
      this.idleTimer = setTimeout(() => this.onIdle(this), IDLE_CLOSE_MS);
      this.idleTimer.unref();
    }
  }

  /** The process died or a request timed out: kill it, fail everything it had pending. */
  private fail(child: ChildProcess, why: 'exit' | 'timeout', timeoutMs?: number): void {
    if (this.child !== child) return;
    this.child = undefined;
    killGroup(child);
    const stderr = this.stderrTail;
    const failed = this.pending.splice(0);
    for (const p of failed) {
      clearTimeout(p.timer);
      const details = { args: [...ARGS[this.kind]], exitCode: child.exitCode, stderr, gitDir: this.gitDir, ...(why === 'timeout' ? { timedOut: true } : {}) };
      p.reject(
        why === 'timeout'
          ? new GitCommandError(`long-lived git ${this.kind} did not answer within ${timeoutMs} ms (killed)`, details, { code: 'GIT_TIMEOUT' })
          : new GitCommandError(`long-lived git ${this.kind} exited: ${lastLine(stderr)}`, details, { code: 'GIT_PROCESS_EXITED' }),
      );
    }
  }
}

function killGroup(child: ChildProcess): void {
  try {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(-child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

function lastLine(stderr: string): string {
  return stderr.trim().split(/\r?\n/).at(-1) ?? 'no stderr';
}

/** Open processes, least recently used first (Map insertion order). */
const processes = new Map<string, LongLivedProcess>();

function processFor(kind: LongLivedKind, gitDir: string): LongLivedProcess {
  const key = `${kind}\0${gitDir}`;
  let p = processes.get(key);
  if (p !== undefined) {
    processes.delete(key);
  } else {
    p = new LongLivedProcess(kind, gitDir, (idle) => {
      if (processes.get(key) === idle) processes.delete(key);
      idle.close();
    });
  }
  processes.set(key, p);
  while (processes.size > MAX_PROCESSES) {
    const [oldestKey, oldest] = processes.entries().next().value as [string, LongLivedProcess];
    processes.delete(oldestKey);
    oldest.close();
  }
  return p;
}

/**
 * Closes the long-lived processes of `gitDir` (all repositories when omitted): stdin is ended,
 * so git answers what was already asked and exits. Call before a repository is removed and at
 * shutdown.
 */
export function closeLongLivedGit(gitDir?: string): void {
  for (const [key, p] of [...processes]) {
    if (gitDir !== undefined && p.gitDir !== gitDir) continue;
    processes.delete(key);
    p.close();
  }
}

/** The open long-lived process of a kind for a repository: its pid and how often it was started (diagnostics, tests). */
export function longLivedProcessInfo(kind: LongLivedKind, gitDir: string): { pid: number | undefined; starts: number } | null {
  const p = processes.get(`${kind}\0${gitDir}`);
  return p === undefined ? null : { pid: p.pid, starts: p.starts };
}

/** Runs `run`, again once when the process died before answering (requests that only read or add objects are safe to repeat). */
async function retryOnExit<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof GitCommandError && err.code === 'GIT_PROCESS_EXITED') return run();
    throw err;
  }
}

/** A line in a line protocol must not hold a line break or NUL (git would read it as two commands). */
function assertOneLine(value: string, what: string): void {
  if (/[\r\n\0]/.test(value)) {
    throw new InvalidInputError('GIT_NAME_INVALID', `${what} ${JSON.stringify(value)} contains a line break or NUL`, { details: { value } });
  }
}

/** An object as `git cat-file` gives it. */
export interface GitObject {
  /** Full object id. */
  oid: string;
  /** `commit`, `tree`, `blob` or `tag`. */
  type: string;
  /** Size in bytes. */
  size: number;
}

const HEADER = /^([0-9a-f]{40}|[0-9a-f]{64}) (\w+) (\d+)$/;

function parseCatFile(withContents: boolean): AnswerParser<(GitObject & { content?: Buffer }) | null> {
  return (buffer) => {
    const eol = buffer.indexOf(0x0a);
    if (eol < 0) return null;
    const line = buffer.subarray(0, eol).toString('utf8');
    const m = HEADER.exec(line);
    if (m === null) {
      if (line.endsWith(' missing') || line.endsWith(' ambiguous')) return { value: null, used: eol + 1 };
      throw new GitCommandError(`unexpected git cat-file answer ${JSON.stringify(line.slice(0, 200))}`, { args: ['cat-file', '--batch-command'], exitCode: null, stderr: '' }, { code: 'GIT_PROTOCOL_ERROR' });
    }
    const object: GitObject = { oid: m[1]!, type: m[2]!, size: Number(m[3]) };
    if (!withContents) return { value: object, used: eol + 1 };
    const end = eol + 1 + object.size;
    if (buffer.length < end + 1) return null;
    return { value: { ...object, content: Buffer.from(buffer.subarray(eol + 1, end)) }, used: end + 1 };
  };
}

/**
 * Reads an object of the repository `gitDir` by any name git accepts (`<oid>`, `<ref>`,
 * `<rev>^{commit}`, `<tree-ish>:<path>`), through its long-lived `git cat-file --batch-command`.
 * @returns the object with its bytes, or null when the name resolves to nothing (missing or
 *   ambiguous).
 * @throws InvalidInputError `GIT_NAME_INVALID` when `name` holds a line break or NUL;
 *   GitCommandError `GIT_TIMEOUT` / `GIT_PROCESS_EXITED` (retryable) when git does not answer
 *   (it is restarted and asked once more when it died).
 */
export async function readObject(gitDir: string, name: string, timeoutMs = REQUEST_TIMEOUT_MS): Promise<(GitObject & { content: Buffer }) | null> {
  assertOneLine(name, 'object name');
  return retryOnExit(() => processFor('cat-file', gitDir).request(`contents ${name}\n`, parseCatFile(true), timeoutMs)) as Promise<(GitObject & { content: Buffer }) | null>;
}

/** As {@link readObject} without the bytes (`info`): id, type and size, or null when missing. */
export async function objectInfo(gitDir: string, name: string, timeoutMs = REQUEST_TIMEOUT_MS): Promise<GitObject | null> {
  assertOneLine(name, 'object name');
  return retryOnExit(() => processFor('cat-file', gitDir).request(`info ${name}\n`, parseCatFile(false), timeoutMs));
}

/** A commit object's header fields. */
export interface CommitHeader {
  /** The commit's id. */
  sha: string;
  /** Its tree's id. */
  tree: string;
  /** Parent ids, in order. */
  parents: string[];
}

/**
 * The commit `name` resolves to (peeled: `<name>^{commit}`), with its tree and parents, read by
 * {@link readObject}; null when it does not resolve to a commit.
 */
export async function readCommitHeader(gitDir: string, name: string, timeoutMs = REQUEST_TIMEOUT_MS): Promise<CommitHeader | null> {
  const object = await readObject(gitDir, `${name}^{commit}`, timeoutMs);
  if (object === null || object.type !== 'commit') return null;
  // The header ends at the first empty line (git's commit format); `tree` first, then `parent`s.
  const text = object.content.toString('utf8');
  const headerEnd = text.indexOf('\n\n');
  const header = headerEnd < 0 ? text : text.slice(0, headerEnd);
  let tree = '';
  const parents: string[] = [];
  for (const line of header.split('\n')) {
    if (line.startsWith('tree ')) tree = line.slice(5);
    else if (line.startsWith('parent ')) parents.push(line.slice(7));
  }
  if (tree === '') return null;
  return { sha: object.oid, tree, parents };
}

/**
 * Writes the files at `paths` as blobs of `gitDir` (bytes verbatim, `--no-filters`) through its
 * long-lived `git hash-object -w --stdin-paths`.
 * @param paths absolute paths; none may hold a line break or start with `"` (git would
 *   unquote it).
 * @returns the blob ids, in the order of `paths`.
 * @throws InvalidInputError `GIT_NAME_INVALID` for such a path; GitCommandError when git fails
 *   (e.g. a path that cannot be read: git exits, its stderr is in the error).
 */
export async function hashFiles(gitDir: string, paths: readonly string[], timeoutMs = REQUEST_TIMEOUT_MS): Promise<string[]> {
  if (paths.length === 0) return [];
  for (const path of paths) {
    assertOneLine(path, 'path');
    if (path.startsWith('"')) throw new InvalidInputError('GIT_NAME_INVALID', `path ${JSON.stringify(path)} starts with a quote`, { details: { path } });
  }
  const parse: AnswerParser<string[]> = (buffer) => {
    const lines: string[] = [];
    let at = 0;
    while (lines.length < paths.length) {
      const eol = buffer.indexOf(0x0a, at);
      if (eol < 0) return null;
      lines.push(buffer.subarray(at, eol).toString('utf8'));
      at = eol + 1;
    }
    return { value: lines, used: at };
  };
  return retryOnExit(() => processFor('hash-object', gitDir).request(paths.map((p) => `${p}\n`).join(''), parse, timeoutMs));
}

/** An entry of a tree to write: octal mode (`100644`, `100755`, `120000`, `160000`, `40000`), object id, name. */
export interface TreeEntry {
  mode: string;
  oid: string;
  /** The name's bytes as a latin1 string (tree names are bytes, not necessarily UTF-8). */
  name: string;
}

/**
 * Writes a tree object of `entries` (any order: git sorts them) through the long-lived
 * `git mktree -z --batch` of `gitDir`; git checks that each object exists (submodule commits
 * excepted).
 * @returns the tree's id.
 * @throws InvalidInputError `GIT_NAME_INVALID` for an empty name or one holding `/` or NUL;
 *   GitCommandError when git refuses the entries (a missing object, a bad mode).
 */
export async function writeTree(gitDir: string, entries: readonly TreeEntry[], timeoutMs = REQUEST_TIMEOUT_MS): Promise<string> {
  const parts: Buffer[] = [];
  for (const e of entries) {
    if (e.name.length === 0 || /[/\0]/.test(e.name)) throw new InvalidInputError('GIT_NAME_INVALID', `tree entry name ${JSON.stringify(e.name)} is empty or holds / or NUL`, { details: { name: e.name } });
    const type = e.mode === '40000' || e.mode === '040000' ? 'tree' : e.mode === '160000' ? 'commit' : 'blob';
    parts.push(Buffer.from(`${e.mode} ${type} ${e.oid}\t`, 'latin1'), Buffer.from(e.name, 'latin1'), Buffer.from([0]));
  }
  parts.push(Buffer.from([0]));
  const input = Buffer.concat(parts);
  const parse: AnswerParser<string> = (buffer) => {
    const eol = buffer.indexOf(0x0a);
    return eol < 0 ? null : { value: buffer.subarray(0, eol).toString('utf8'), used: eol + 1 };
  };
  return retryOnExit(() => processFor('mktree', gitDir).request(input, parse, timeoutMs));
}

/** One command of a ref transaction (git-update-ref(1) `--stdin`; object ids in full). */
export type RefCommand =
  /** Create `ref` at `newSha`; fails when it exists. */
  | { op: 'create'; ref: string; newSha: string }
  /** Move `ref` from `oldSha` to `newSha`. */
  | { op: 'update'; ref: string; newSha: string; oldSha: string }
  /** Delete `ref`, which must be at `oldSha`. */
  | { op: 'delete'; ref: string; oldSha: string };

/** Outcome of {@link updateRefs}: committed, or not (with git's message; nothing was changed unless git died mid-commit). */
export type RefTransactionResult = { ok: true } | { ok: false; message: string };

/**
 * Applies `commands` as one transaction (all or none) through the long-lived
 * `git update-ref --stdin` of `gitDir`. A transaction git refuses (a ref not at its expected
 * value, a lock held by another writer) is `{ ok: false }`, as is a process that died or timed
 * out meanwhile: callers re-read the refs to learn what happened, as after a failed
 * `git update-ref`.
 * @throws InvalidInputError `GIT_NAME_INVALID` for a ref or id holding a space, line break or NUL.
 */
export async function updateRefs(gitDir: string, commands: readonly RefCommand[], timeoutMs = REQUEST_TIMEOUT_MS): Promise<RefTransactionResult> {
  const lines = ['start'];
  for (const c of commands) {
    const fields = c.op === 'create' ? [c.ref, c.newSha] : c.op === 'update' ? [c.ref, c.newSha, c.oldSha] : [c.ref, c.oldSha];
    for (const f of fields) {
      assertOneLine(f, 'ref transaction field');
      if (f.includes(' ') || f.length === 0) throw new InvalidInputError('GIT_NAME_INVALID', `ref transaction field ${JSON.stringify(f)} is empty or holds a space`, { details: { value: f } });
    }
    lines.push(`${c.op} ${fields.join(' ')}`);
  }
  lines.push('prepare', 'commit');
  const expected = ['start: ok', 'prepare: ok', 'commit: ok'];
  const parse: AnswerParser<true> = (buffer) => {
    let at = 0;
    for (const want of expected) {
      const eol = buffer.indexOf(0x0a, at);
      if (eol < 0) return null;
      const line = buffer.subarray(at, eol).toString('utf8');
      if (line !== want) {
        throw new GitCommandError(`unexpected git update-ref answer ${JSON.stringify(line.slice(0, 200))}`, { args: ['update-ref', '--stdin'], exitCode: null, stderr: '' }, { code: 'GIT_PROTOCOL_ERROR' });
      }
      at = eol + 1;
    }
    return { value: true, used: at };
  };
  // One transaction at a time per repository: git exits on a refused transaction, and a
  // transaction written behind it would be lost with the process.
  const previous = refQueues.get(gitDir) ?? Promise.resolve();
  const run = previous.then(async (): Promise<RefTransactionResult> => {
    try {
      await processFor('update-ref', gitDir).request(`${lines.join('\n')}\n`, parse, timeoutMs);
      return { ok: true };
    } catch (err) {
      if (err instanceof GitCommandError) return { ok: false, message: `${err.message}${err.git.stderr ? ` (${lastLine(err.git.stderr)})` : ''}` };
      throw err;
    }
  });
  const settled = run.then(() => undefined, () => undefined);
  refQueues.set(gitDir, settled);
  void settled.then(() => {
    if (refQueues.get(gitDir) === settled) refQueues.delete(gitDir);
  });
  return run;
}

/** The last ref transaction queued per repository (see {@link updateRefs}). */
const refQueues = new Map<string, Promise<void>>();
