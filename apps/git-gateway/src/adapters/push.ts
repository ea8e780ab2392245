/**
 * Pushes a gateway commit from the mirror to a branch of the customer remote, with an
 * explicit lease so a branch someone else moved is never overwritten (git-push(1)
 * `--force-with-lease=<refname>:<expect>`; an empty `<expect>` means "must not exist yet").
 * Credentials are given per operation through a one-shot GIT_ASKPASS helper (askpass.ts):
 * never in the URL, the mirror config, a credential helper or logs.
 */
import { branchNameProblem } from '@remediation/contracts';
import { InvalidInputError } from '@remediation/errors';
import { git, GitCommandError, redactSecrets } from './git.js';
import { isValidRefName } from './refs.js';
import { type AskpassContext, withAskpass, type GitCredentials } from './askpass.js';
import { createProgressParser, type GitProgress } from './mirror.js';

/** Input of {@link pushBranch}. */
export interface PushBranchInput {
  /** Bare mirror holding `sha`. */
  mirrorPath: string;
  /** Remote URL or local path (not a configured remote name; no password in the URL). */
  remote: string;
  /** Full commit id to push. */
  sha: string;
  /** Target branch short name (pushed to `refs/heads/<branch>`). */
  branch: string;
  /**
   * Lease: `undefined` = no lease, plain fast-forward-only push; `null` = the branch must not
   * exist on the remote; a commit id = the branch must currently be exactly there (then the
   * push may rewrite it, e.g. after a rebase).
   */
  expectedRemoteSha?: string | null;
  /** HTTP(S) credentials (token as password) for this push only. */
  credentials?: GitCredentials;
  /** Heartbeats from `--progress` (`writing objects`, …). */
  onProgress?: (progress: GitProgress) => void;
  signal?: AbortSignal;
}

/**
 * The remote refused the update: the lease did not hold (branch moved / already exists),
 * the push was not a fast-forward, or a server hook / branch protection declined it.
 * Code `PUSH_REJECTED`, not retryable as is (re-read the remote, rebase, then push with a new
 * lease). `details`: `{ branch, reason, stderr, expectedRemoteSha, remoteSha }` (redacted).
 */
export class PushRejectedError extends InvalidInputError {
  constructor(message: string, details: Record<string, unknown>) {
    super('PUSH_REJECTED', message, { details });
    this.name = 'PushRejectedError';
  }
}

const OID = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/**
 * `git push --porcelain <remote> <sha>:refs/heads/<branch>` with
 * `--force-with-lease=refs/heads/<branch>:<expected>` when a lease is given.
 * A retry after a push that already landed (remote already at `sha`) succeeds.
 *
 * @returns `{ remoteSha }`: the commit the remote branch points at afterwards (= `sha`).
 * @throws PushRejectedError `PUSH_REJECTED` (see the class).
 * @throws InvalidInputError `PUSH_INVALID_INPUT` for a malformed sha/branch, a URL embedding a
 *   password, or a sha missing from the mirror.
 * @throws GitInputError `GIT_AUTH_FAILED` / `GIT_REPOSITORY_NOT_FOUND` (not retryable).
 * @throws GitCommandError for network and other failures (retryable).
 */
export async function pushBranch(input: PushBranchInput): Promise<{ remoteSha: string }> {
  if (!OID.test(input.sha)) throw new InvalidInputError('PUSH_INVALID_INPUT', `sha ${JSON.stringify(input.sha)} is not a full object id`);
  if (input.expectedRemoteSha !== undefined && input.expectedRemoteSha !== null && !OID.test(input.expectedRemoteSha)) {
    throw new InvalidInputError('PUSH_INVALID_INPUT', `expectedRemoteSha ${JSON.stringify(input.expectedRemoteSha)} is not a full object id`);
  }
  // Our rules (@remediation/contracts branchNameProblem: git's, plus not HEAD, not a full ref or
  // tag), then git's rules for the full ref (refs.ts, without starting git).
  const problem = branchNameProblem(input.branch);
  if (problem || !isValidRefName(`refs/heads/${input.branch}`)) {
    throw new InvalidInputError('PUSH_INVALID_INPUT', `invalid branch name ${JSON.stringify(input.branch)}${problem ? `: ${problem}` : ''}`, { details: { branch: input.branch } });
  }
  if (/^[a-z][a-z0-9+.-]*:\/\/[^/@]*:[^/@]*@/i.test(input.remote)) {
    throw new InvalidInputError('PUSH_INVALID_INPUT', 'remote URL embeds a password: pass credentials separately', {
      details: { remote: redactSecrets(input.remote) },
    });
  }
  const has = await git(['cat-file', '-e', `${input.sha}^{commit}`], { gitDir: input.mirrorPath, acceptExitCodes: [0, 1, 128] });
  if (has.exitCode !== 0) {
    throw new InvalidInputError('PUSH_INVALID_INPUT', `commit ${input.sha} is not in the mirror`, { details: { sha: input.sha } });
  }

  const dst = `refs/heads/${input.branch}`;
  const lease =
    input.expectedRemoteSha === undefined ? [] : [`--force-with-lease=${dst}:${input.expectedRemoteSha ?? ''}`];
  return withAskpass(input.credentials, async (auth) => {
    const args = [...auth.configArgs, 'push', '--porcelain', '--progress', ...lease, '--', input.remote, `${input.sha}:${dst}`];
    const result = await git(args, {
      gitDir: input.mirrorPath,
      env: auth.env,
      redact: auth.redact,
      acceptExitCodes: [0, 1],
      ...(input.onProgress === undefined ? {} : { onStderr: createProgressParser('push', input.onProgress) }),
      ...(input.signal === undefined ? {} : { signal: input.signal }),
    });
    if (result.exitCode === 0) return { remoteSha: input.sha };

    const stderr = redactSecrets(result.stderr, auth.redact).slice(-4000);
    const rejected = result.stdout.split('\n').find((l) => l.startsWith('!'));
    if (rejected === undefined) {
      throw new GitCommandError(`git push failed: ${stderr.trim().split('\n').at(-1) ?? 'no stderr'}`, {
        args: args.map((a) => redactSecrets(a, auth.redact)),
        exitCode: result.exitCode,
        stderr,
        gitDir: input.mirrorPath,
      });
    }
    const reason = rejected.split('\t')[2] ?? 'rejected';
    // Idempotent retry: an earlier attempt may already have moved the branch to `sha`.
    const remoteSha = await lsRemoteBranch(input.mirrorPath, input.remote, dst, auth);
    if (remoteSha === input.sha) return { remoteSha };
    throw new PushRejectedError(`push to ${input.branch} rejected: ${reason}`, {
      branch: input.branch,
      reason,
      stderr,
      expectedRemoteSha: input.expectedRemoteSha ?? null,
      remoteSha,
    });
  });
}

/** `git ls-remote` of one ref: its commit, or null when the remote has no such ref. Throws git's errors. */
async function lsRemote(remote: string, ref: string, auth: AskpassContext, gitDir?: string): Promise<string | null> {
  const { stdout } = await git([...auth.configArgs, 'ls-remote', '--', remote, ref], { ...(gitDir ? { gitDir } : {}), env: auth.env, redact: auth.redact });
  const line = stdout.split('\n').find((l) => l.endsWith(`\t${ref}`));
  return line?.split('\t')[0] ?? null;
}

/** {@link lsRemote}, with an unreadable remote reported as null (the caller reports the rejection). */
async function lsRemoteBranch(mirrorPath: string, remote: string, ref: string, auth: AskpassContext): Promise<string | null> {
  return lsRemote(remote, ref, auth, mirrorPath).catch(() => null);
}

/**
 * The commit a branch of a remote points at, or null when the branch does not exist
 * (`git ls-remote`), with per-operation credentials for HTTP(S) remotes (askpass, as for
 * {@link pushBranch}: never stored or logged).
 * @throws GitCommandError (classified by the git wrapper) when the remote cannot be read.
 */
export async function remoteBranchSha(input: { remote: string; branch: string; credentials?: GitCredentials }): Promise<string | null> {
  return withAskpass(input.credentials, (auth) => lsRemote(input.remote, `refs/heads/${input.branch}`, auth));
}
