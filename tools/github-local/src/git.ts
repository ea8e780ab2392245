import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';

/**
 * Read-only queries on the bare repositories github-local serves (`<reposRoot>/<owner>/<repo>.git`),
 * through the `git` CLI (`git --git-dir <repo> ...`) run with execa. Nothing here writes to a
 * repo (the trial merge of {@link compareBranches} writes its objects to a temporary directory).
 */

/** Owner names github-local accepts: GitHub's characters, no leading dot (keeps `.github-local/` apart). */
const OWNER = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/;
/** Repository names github-local accepts: GitHub's characters (`.github` is a valid name). */
const REPO = /^[A-Za-z0-9_.-]+$/;

/**
 * Path of the bare repository of `owner/repo` under `reposRoot`, or undefined when a name
 * could escape the root (`..`, `/`, leading dot on the owner) and so cannot name a repo.
 */
export function bareRepoPath(reposRoot: string, owner: string, repo: string): string | undefined {
  if (!OWNER.test(owner) || !REPO.test(repo) || repo === '.' || repo === '..') return undefined;
  return join(reposRoot, owner, `${repo}.git`);
}

async function git(
  gitDir: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ ok: boolean; exitCode: number | undefined; stdout: string; stderr: string }> {
  const result = await execa('git', ['--git-dir', gitDir, ...args], {
    reject: false,
    env: { GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C', ...env },
  });
  if (result.failed && result.exitCode === undefined) {
    throw new Error(`git ${args.join(' ')} could not run: ${result.message}`);
  }
  return {
    ok: result.exitCode === 0,
    exitCode: result.exitCode,
    stdout: String(result.stdout),
    stderr: String(result.stderr),
  };
}

/** Whether `gitDir` is a directory git accepts as a repository (`git rev-parse --git-dir`). */
export async function repoExists(gitDir: string): Promise<boolean> {
  const info = await stat(gitDir).catch(() => undefined);
  if (!info?.isDirectory()) return false;
  return (await git(gitDir, ['rev-parse', '--git-dir'])).ok;
}

/** Branch HEAD points at (`git symbolic-ref HEAD` without `refs/heads/`), `main` when HEAD is detached. */
export async function defaultBranch(gitDir: string): Promise<string> {
  const result = await git(gitDir, ['symbolic-ref', '--quiet', 'HEAD']);
  const ref = result.stdout.trim();
  return result.ok && ref.startsWith('refs/heads/') ? ref.slice('refs/heads/'.length) : 'main';
}

/**
 * Commit SHA (40 hex) of branch `branch`, from `git rev-parse --verify --quiet refs/heads/<branch>^{commit}`,
 * or undefined when the branch does not exist.
 */
export async function branchSha(gitDir: string, branch: string): Promise<string | undefined> {
  if (branch === '' || branch.startsWith('-')) return undefined;
  const result = await git(gitDir, ['rev-parse', '--verify', '--quiet', `refs/heads/${branch}^{commit}`]);
  return result.ok ? result.stdout.trim() : undefined;
}

/** All branches with their commit SHAs (`git for-each-ref refs/heads/`), branch name → SHA. */
export async function branchShas(gitDir: string): Promise<Map<string, string>> {
  const result = await git(gitDir, ['for-each-ref', '--format=%(objectname) %(refname)', 'refs/heads/']);
  const map = new Map<string, string>();
  for (const line of result.stdout.split('\n')) {
    const match = /^([0-9a-f]+) refs\/heads\/(.+)$/.exec(line.trim());
    if (match) map.set(match[2]!, match[1]!);
  }
  return map;
}

/** Whether commit `ancestor` is reachable from `descendant` (`git merge-base --is-ancestor`); equal SHAs count. */
export async function isAncestor(gitDir: string, ancestor: string, descendant: string): Promise<boolean> {
  return (await git(gitDir, ['merge-base', '--is-ancestor', ancestor, descendant])).ok;
}

/** What GitHub reports about a head branch against its base: commit and line counts, mergeability. */
export interface BranchComparison {
  /** Commits on head not on base (`git rev-list --count base..head`). */
  commits: number;
  /** Lines added and deleted and files changed since the merge base (`git diff --numstat base...head`). */
  additions: number;
  deletions: number;
  changedFiles: number;
  /** Whether head merges into base without conflicts (`git merge-tree --write-tree`), null if git cannot tell. */
  mergeable: boolean | null;
}

/**
 * Compares `headSha` with `baseSha` in `gitDir` the way a pull request page does. The trial
 * merge writes its tree objects to a temporary object directory (the repo's objects are an
 * alternate), so the bare repo is not modified.
 */
export async function compareBranches(gitDir: string, baseSha: string, headSha: string): Promise<BranchComparison> {
  const [count, numstat] = await Promise.all([
    git(gitDir, ['rev-list', '--count', `${baseSha}..${headSha}`]),
    git(gitDir, ['diff', '--numstat', `${baseSha}...${headSha}`]),
  ]);
  let additions = 0;
  let deletions = 0;
  let changedFiles = 0;
  for (const line of numstat.stdout.split('\n')) {
    const match = /^(-|\d+)\t(-|\d+)\t/.exec(line);
    if (!match) continue;
    changedFiles++;
    additions += match[1] === '-' ? 0 : Number(match[1]);
    deletions += match[2] === '-' ? 0 : Number(match[2]);
  }
  const objects = await mkdtemp(join(tmpdir(), 'github-local-merge-'));
  let mergeable: boolean | null = null;
  try {
    const merge = await git(gitDir, ['merge-tree', '--write-tree', '--no-messages', baseSha, headSha], {
      GIT_OBJECT_DIRECTORY: objects,
      GIT_ALTERNATE_OBJECT_DIRECTORIES: join(gitDir, 'objects'),
    });
    mergeable = merge.exitCode === 0 ? true : merge.exitCode === 1 ? false : null;
  } finally {
    await rm(objects, { recursive: true, force: true });
  }
  return { commits: Number(count.stdout.trim()) || 0, additions, deletions, changedFiles, mergeable };
}
