/**
 * Thin wrapper over the git CLI (node:child_process). docs/architecture.md "git-gateway": the git CLI is
 * used for clone, fetch, checkout, merge-tree and push because isomorphic-git was 18× to 140×
 * slower here. Every git invocation of the gateway goes through {@link git} so that
 *  - the environment is hygienic (no inherited GIT_DIR / GIT_INDEX_FILE / GIT_WORK_TREE, no
 *    terminal prompts, C locale so stderr can be parsed),
 *  - failures become project errors ({@link GitCommandError} / {@link GitInputError}) whose
 *    details hold the git arguments and stderr with credentials redacted.
 */
import { spawn } from 'node:child_process';
import { InvalidInputError, TransientError } from '@remediation/errors';

/** Options of one git invocation. */
export interface GitOptions {
  /** Working directory of the git process (a work tree, or any directory). */
  cwd?: string;
  /** Passed as `--git-dir <gitDir>` before the subcommand (a bare mirror, typically). */
  gitDir?: string;
  /**
   * Extra environment variables for this invocation only (e.g. `GIT_INDEX_FILE`,
   * `GIT_AUTHOR_NAME`, `GIT_ASKPASS`). They are merged over the sanitised process environment.
   */
  env?: Record<string, string | undefined>;
  /** Data written to git's stdin (e.g. `update-index --index-info` lines, a commit message). */
  input?: string | Uint8Array;
  /** Called with each chunk of stderr as it arrives (used to parse `--progress` output). */
  onStderr?: (chunk: string) => void;
  /** Exit codes that are not failures (e.g. `[1]` for `cat-file -e`); default `[0]`. */
  acceptExitCodes?: number[];
  /** Aborts the git process group (SIGTERM, then SIGKILL after 5 s). */
  signal?: AbortSignal;
  /** Kills the git process group after this many milliseconds; default none. */
  timeoutMs?: number;
  /**
   * Secret strings (passwords, tokens) that must never appear in error details or messages;
   * each occurrence in args/stderr is replaced by `***`. URL userinfo (`https://user:pw@`) is
   * always redacted, whether listed here or not.
   */
  redact?: string[];
}

/** Result of a git invocation that exited with an accepted code. */
export interface GitResult {
  /** stdout decoded as UTF-8, final newline stripped. */
  stdout: string;
  /** stderr decoded as UTF-8 (not redacted: do not log it without {@link redactSecrets}). */
  stderr: string;
  /** The process exit code (one of `acceptExitCodes`). */
  exitCode: number;
}

/** Structured facts about a failed git invocation, safe to store (credentials redacted). */
export interface GitFailureDetails {
  /** Git arguments (after `--git-dir`), redacted. */
  args: string[];
  /** Exit code, or `null` when git was killed by a signal / could not start. */
  exitCode: number | null;
  /** Last 4,000 characters of stderr, redacted. */
  stderr: string;
  /** Signal that killed git (timeout, abort), if any. */
  signal?: string;
  /** Whether the process was killed by {@link GitOptions.timeoutMs}. */
  timedOut?: boolean;
  /** `cwd` / `gitDir` of the invocation (paths are not secrets). */
  cwd?: string;
  gitDir?: string;
}

/**
 * A git command failed in a way a retry may fix, or whose cause is not recognised
 * (network, lock contention, killed process). Code `GIT_COMMAND_FAILED` unless a more precise
 * code is given; `retryable: true` (TransientError). `details` is a {@link GitFailureDetails}.
 */
export class GitCommandError extends TransientError {
  /** Same as `details`, typed. */
  readonly git: GitFailureDetails;
  constructor(message: string, git: GitFailureDetails, options: { code?: string; cause?: unknown } = {}) {
    super(options.code ?? 'GIT_COMMAND_FAILED', message, { cause: options.cause, details: { ...git } });
    this.name = 'GitCommandError';
    this.git = git;
  }
}

/**
 * A git command failed for a reason retrying cannot fix: the repository does not exist, the
 * credentials are refused, a revision or ref is invalid, the path is not a git repository.
 * Codes: `GIT_REPOSITORY_NOT_FOUND`, `GIT_AUTH_FAILED`, `GIT_BAD_REVISION`, `GIT_NOT_A_REPOSITORY`,
 * `GIT_REMOTE_REFUSED` (git or the server refuses the remote itself: see PERMANENT_PATTERNS).
 * `retryable: false` (InvalidInputError). `details` is a {@link GitFailureDetails}.
 */
export class GitInputError extends InvalidInputError {
  /** Same as `details`, typed. */
  readonly git: GitFailureDetails;
  constructor(code: string, message: string, git: GitFailureDetails, options: { cause?: unknown } = {}) {
    super(code, message, { cause: options.cause, details: { ...git } });
    this.name = 'GitInputError';
    this.git = git;
  }
}

/** Type guard: any error thrown by {@link git} for a failed command. */
export function isGitError(err: unknown): err is GitCommandError | GitInputError {
  return err instanceof GitCommandError || err instanceof GitInputError;
}

/**
 * Environment variables that change which repository / index / work tree git uses. They are
 * removed from the inherited environment so a gateway started from a git hook (or a test run
 * inside one) cannot write into the wrong repository.
 */
const LOCATION_ENV = [
  'GIT_DIR',
  'GIT_WORK_TREE',
  'GIT_INDEX_FILE',
  'GIT_OBJECT_DIRECTORY',
  'GIT_ALTERNATE_OBJECT_DIRECTORIES',
  'GIT_NAMESPACE',
  'GIT_COMMON_DIR',
  'GIT_PREFIX',
  'GIT_CEILING_DIRECTORIES',
  'GIT_ASKPASS',
  'SSH_ASKPASS',
  'GIT_CONFIG_PARAMETERS',
  'GIT_CONFIG_COUNT',
];

/**
 * Stderr patterns of failures that retrying cannot fix → {@link GitInputError} codes.
 * `GIT_REMOTE_REFUSED`: git itself refuses the remote (git's connect.c / transport.c messages:
 * "strange hostname … blocked" for a host starting with `-`, "transport '…' not allowed" under
 * protocol.allow / GIT_ALLOW_PROTOCOL, an unknown remote helper) or the server answers with an
 * HTTP status a retry cannot change (400, 414, 422; 401/403 are `GIT_AUTH_FAILED`, 404/410
 * `GIT_REPOSITORY_NOT_FOUND`).
 */
const PERMANENT_PATTERNS: Array<[RegExp, string]> = [
  [/repository '.*' (?:not found|does not exist)|repository not found|does not appear to be a git repository|no such repository|requested URL returned error: (?:404|410)/i, 'GIT_REPOSITORY_NOT_FOUND'],
  [/authentication failed|could not read (username|password)|permission denied \(publickey|terminal prompts disabled|HTTP Basic: Access denied|403 Forbidden|requested URL returned error: (?:401|403)/i, 'GIT_AUTH_FAILED'],
  [/strange (?:hostname|pathname|username|port) '.*' blocked|transport '[^']*' not allowed|hostname contains invalid characters|unable to find remote helper for|unsupported URL protocol|requested URL returned error: (?:400|414|422)/i, 'GIT_REMOTE_REFUSED'],
  [/not a git repository/i, 'GIT_NOT_A_REPOSITORY'],
  [/unknown revision|bad revision|needed a single revision|not a valid object name|invalid object name|bad object|not a tree object|not a valid commit name|is not a valid ref name|invalid refspec|couldn't find remote ref/i, 'GIT_BAD_REVISION'],
];

/** Largest stdout kept from one git process (bytes); more kills it (as an abort). */
const MAX_BUFFER = 512 * 1024 * 1024;

const userinfoPattern = /([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/gi;

/**
 * Removes credentials from text: URL userinfo (`scheme://user:pw@` → `scheme://***@`) and each
 * listed secret (→ `***`). Used for every error message and detail the wrapper builds.
 */
export function redactSecrets(text: string, secrets: readonly string[] = []): string {
  let out = text.replace(userinfoPattern, '$1***@');
  for (const secret of secrets) {
    if (secret.length > 0) out = out.split(secret).join('***');
  }
  return out;
}

/**
 * The environment every git process of the gateway gets: the process environment without the
 * variables that relocate the repository ({@link LOCATION_ENV}), no terminal prompts, C locale
 * (stderr is parsed), then `extra` merged over it.
 */
export function gitEnvironment(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...process.env };
  for (const key of LOCATION_ENV) delete env[key];
  Object.assign(env, {
    GIT_TERMINAL_PROMPT: '0',
    GCM_INTERACTIVE: 'never',
    LC_ALL: 'C',
    LANGUAGE: 'C',
  });
  Object.assign(env, extra);
  return env;
}

/**
 * Runs `git [--git-dir <gitDir>] <args...>`.
 *
 * @param args git arguments (never a shell string; no credentials: pass them through
 *   `env`/askpass, see push.ts).
 * @returns stdout/stderr/exit code when the exit code is accepted (default only 0).
 * @throws GitInputError when stderr shows a permanent failure (see the class for codes).
 * @throws GitCommandError for any other failure, a timeout, an abort, or git missing
 *   (`GIT_NOT_INSTALLED`).
 */
export async function git(args: readonly string[], options: GitOptions = {}): Promise<GitResult> {
  const fullArgs = options.gitDir === undefined ? [...args] : ['--git-dir', options.gitDir, ...args];
  const env = gitEnvironment(options.env);

  // git runs in its own process group so a timeout/abort also kills its helpers (ssh,
  // remote-https, ext:: commands) that would otherwise keep the pipes open. node:child_process
  // directly (not execa): git-gateway starts ~25 git processes per execution, and execa's
  // per-process AbortController (an AbortError with a source-mapped stack each time) cost ≈ 6 %
  // of its main thread under load (docs/benchmarks.md "Throughput").
  const subprocess = spawn('git', fullArgs, {
    cwd: options.cwd,
    env,
    stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    detached: true,
  });
  let killedFor: 'timeout' | 'abort' | undefined;
  let escalation: NodeJS.Timeout | undefined;
  const killGroup = (signal: NodeJS.Signals): void => {
    try {
      if (subprocess.pid !== undefined) process.kill(-subprocess.pid, signal);
    } catch {
      // already gone
    }
  };
  const kill = (why: 'timeout' | 'abort'): void => {
    if (killedFor !== undefined) return;
    killedFor = why;
    killGroup('SIGTERM');
    escalation = setTimeout(() => killGroup('SIGKILL'), 5_000);
    escalation.unref();
  };
  const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => kill('timeout'), options.timeoutMs);
  const onAbort = (): void => kill('abort');
  if (options.signal?.aborted === true) onAbort();
  else options.signal?.addEventListener('abort', onAbort, { once: true });
  const onStderr = options.onStderr;
  const result = await new Promise<{ stdout: string; stderr: string; exitCode?: number; signal?: string; code?: string }>((resolveRun) => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    subprocess.stdout!.on('data', (chunk: Buffer) => {
      outBytes += chunk.length;
      if (outBytes > MAX_BUFFER) kill('abort');
      else out.push(chunk);
    });
    subprocess.stderr!.on('data', (chunk: Buffer) => {
      err.push(chunk);
      if (onStderr === undefined) return;
      try {
        onStderr(chunk.toString('utf8'));
      } catch {
        // A failing progress listener must not break the git command.
      }
    });
    let spawnError: string | undefined;
    subprocess.once('error', (e: NodeJS.ErrnoException) => {
      spawnError = e.code ?? 'SPAWN_FAILED';
      // No 'close' follows a failed spawn.
      if (subprocess.pid === undefined) resolveRun({ stdout: '', stderr: e.message, code: spawnError });
    });
    if (options.input !== undefined && subprocess.stdin) {
      // git may exit before reading all of its input (EPIPE): its exit code tells what happened.
      subprocess.stdin.on('error', () => undefined);
      subprocess.stdin.end(options.input);
    }
    subprocess.once('close', (code, signal) => {
      const text = (chunks: Buffer[]) => Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
      resolveRun({
        stdout: text(out),
        stderr: text(err),
        ...(code === null ? {} : { exitCode: code }),
        ...(signal === null ? {} : { signal }),
        ...(spawnError === undefined ? {} : { code: spawnError }),
      });
    });
  }).finally(() => {
    if (timer !== undefined) clearTimeout(timer);
    if (escalation !== undefined) clearTimeout(escalation);
    options.signal?.removeEventListener('abort', onAbort);
  });
  const stdout = typeof result.stdout === 'string' ? result.stdout : '';
  const stderr = typeof result.stderr === 'string' ? result.stderr : '';
  const accepted = options.acceptExitCodes ?? [0];
  if (killedFor === undefined && result.exitCode !== undefined && accepted.includes(result.exitCode) && result.signal === undefined) {
    return { stdout, stderr, exitCode: result.exitCode };
  }

  const secrets = options.redact ?? [];
  const cleanStderr = redactSecrets(stderr, secrets).slice(-4000);
  const details: GitFailureDetails = {
    args: args.map((a) => redactSecrets(a, secrets)),
    exitCode: result.exitCode ?? null,
    stderr: cleanStderr,
    ...(result.signal === undefined ? {} : { signal: result.signal }),
    ...(killedFor === 'timeout' ? { timedOut: true } : {}),
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    ...(options.gitDir === undefined ? {} : { gitDir: options.gitDir }),
  };
  const sub = subcommandOf(args);
  if (result.code === 'ENOENT') {
    throw new GitCommandError('git executable not found on PATH', details, { code: 'GIT_NOT_INSTALLED' });
  }
  const lastLine = lastMeaningfulLine(cleanStderr);
  if (killedFor === 'timeout') {
    throw new GitCommandError(`git ${sub} timed out after ${options.timeoutMs} ms`, details, { code: 'GIT_TIMEOUT' });
  }
  if (killedFor === 'abort') {
    throw new GitCommandError(`git ${sub} was aborted`, details, { code: 'GIT_ABORTED' });
  }
  for (const [pattern, code] of PERMANENT_PATTERNS) {
    if (pattern.test(cleanStderr)) {
      throw new GitInputError(code, `git ${sub} failed: ${lastLine}`, details);
    }
  }
  throw new GitCommandError(
    `git ${sub} failed (exit ${result.exitCode ?? result.signal ?? 'unknown'}): ${lastLine}`,
    details,
  );
}

/** The git subcommand in `args`, skipping global options and their values (`-c k=v`, `-C dir`). */
function subcommandOf(args: readonly string[]): string {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '-c' || arg === '-C' || arg === '--git-dir' || arg === '--work-tree' || arg === '--namespace') {
      i++;
      continue;
    }
    if (!arg.startsWith('-')) return arg;
  }
  return 'command';
}

function lastMeaningfulLine(stderr: string): string {
  const lines = stderr
    .split(/[\r\n]+/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  const fatal = lines.filter((l) => /^(fatal|error):/i.test(l));
  return (fatal.length > 0 ? fatal.join(' ') : lines.at(-1)) ?? 'no stderr';
}

/** Parsed `git --version`. */
export interface GitVersion {
  major: number;
  minor: number;
  patch: number;
  /** The full version string, e.g. `2.39.5` or `2.45.1.windows.1`. */
  raw: string;
  /**
   * `git merge-tree --write-tree --merge-base` (git ≥ 2.40). docs/architecture.md: "Git here is 2.39
   * (no `merge-tree --merge-base`) … Detect newer git and use `--merge-base` there."
   */
  supportsMergeBase: boolean;
  /** `git merge-tree --write-tree` (git ≥ 2.38). */
  supportsWriteTree: boolean;
}

/**
 * Parses the output of `git --version` (`git version 2.39.5`, `git version 2.39.5 (Apple Git-…)`,
 * `git version 2.45.1.windows.1`).
 * @throws GitCommandError code `GIT_VERSION_UNPARSEABLE` when the text has no version.
 */
export function parseGitVersion(text: string): GitVersion {
  const match = /git version (\d+)\.(\d+)(?:\.(\d+))?([^\s]*)/.exec(text);
  if (match === null) {
    throw new GitCommandError(`cannot parse git version from ${JSON.stringify(text.slice(0, 100))}`, { args: ['--version'], exitCode: 0, stderr: '' }, { code: 'GIT_VERSION_UNPARSEABLE' });
  }
  const major = Number(match[1]);
  const minor = Number(match[2]);
  const patch = Number(match[3] ?? 0);
  const atLeast = (ma: number, mi: number): boolean => major > ma || (major === ma && minor >= mi);
  return {
    major,
    minor,
    patch,
    raw: `${match[1]}.${match[2]}${match[3] === undefined ? '' : `.${match[3]}`}${match[4] ?? ''}`,
    supportsMergeBase: atLeast(2, 40),
    supportsWriteTree: atLeast(2, 38),
  };
}

/**
 * Capability check: runs `git --version` and parses it.
 * @returns the version and feature flags (see {@link GitVersion}).
 * @throws GitCommandError `GIT_NOT_INSTALLED` / `GIT_VERSION_UNPARSEABLE`;
 * @throws GitInputError `GIT_TOO_OLD` when older than 2.38, the minimum for
 *   `merge-tree --write-tree` used by the rebase step (docs/architecture.md "git-gateway").
 */
export async function gitVersion(): Promise<GitVersion> {
  const { stdout } = await git(['--version']);
  const version = parseGitVersion(stdout);
  if (!version.supportsWriteTree) {
    throw new GitInputError('GIT_TOO_OLD', `git ${version.raw} is too old: git-gateway needs git >= 2.38 (merge-tree --write-tree)`, {
      args: ['--version'],
      exitCode: 0,
      stderr: '',
    });
  }
  return version;
}
