import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';

/**
 * Queries on the bare repositories github-local serves (`<reposRoot>/<owner>/<repo>.git`),
 * through the `git` CLI (`git --git-dir <repo> ...`) run with execa. Only {@link mergePull}
 * writes to a repo (it moves the base branch); the trial merge of {@link compareBranches}
 * writes its objects to a temporary directory.
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
  input?: string,
): Promise<{ ok: boolean; exitCode: number | undefined; stdout: string; stderr: string }> {
  const result = await execa('git', ['--git-dir', gitDir, ...args], {
    reject: false,
    env: { GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C', ...env },
    ...(input === undefined ? {} : { input }),
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

/** Author or committer of a commit as git records it. */
export interface GitIdentity {
  name: string;
  email: string;
  /** Strict ISO 8601 date with the original offset (`%aI`), e.g. `2024-05-01T14:00:00+02:00`. */
  date: string;
}

/** One commit read from a repository. */
export interface CommitInfo {
  sha: string;
  /** SHA of the commit's tree. */
  tree: string;
  /** Parent SHAs, first parent first (empty for a root commit). */
  parents: string[];
  author: GitIdentity;
  committer: GitIdentity;
  /** Full message (subject, blank line, body), without the trailing newline. */
  message: string;
}

const LOG_FORMAT = '--format=%H%x00%T%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%B%x1e';

function parseLog(stdout: string): CommitInfo[] {
  const commits: CommitInfo[] = [];
  for (const record of stdout.split('\x1e')) {
    const fields = record.replace(/^\n/, '').split('\0');
    if (fields.length < 10) continue;
    const [sha, tree, parents, an, ae, ad, cn, ce, cd, message] = fields as [
      string, string, string, string, string, string, string, string, string, string,
    ];
    commits.push({
      sha,
      tree,
      parents: parents.split(' ').filter((p) => p !== ''),
      author: { name: an, email: ae, date: ad },
      committer: { name: cn, email: ce, date: cd },
      message: message.replace(/\n+$/, ''),
    });
  }
  return commits;
}

/** The commit `sha` (any revision git accepts), or undefined when it is not a commit of the repo. */
export async function readCommit(gitDir: string, sha: string): Promise<CommitInfo | undefined> {
  if (sha === '' || sha.startsWith('-')) return undefined;
  const result = await git(gitDir, ['log', '-1', '--no-show-signature', LOG_FORMAT, `${sha}^{commit}`, '--']);
  return result.ok ? parseLog(result.stdout)[0] : undefined;
}

/**
 * Commits reachable from `headSha` but not from `baseSha` (`git log --reverse base..head`),
 * oldest first, at most `limit` (the oldest ones), as GitHub lists a pull request's commits.
 */
export async function commitsBetween(gitDir: string, baseSha: string, headSha: string, limit = 250): Promise<CommitInfo[]> {
  const result = await git(gitDir, ['log', '--reverse', '--topo-order', '--no-show-signature', LOG_FORMAT, `${baseSha}..${headSha}`, '--']);
  if (!result.ok) throw new Error(`git log ${baseSha}..${headSha} failed: ${result.stderr.trim()}`);
  return parseLog(result.stdout).slice(0, limit);
}

/** Paths a commit added, removed and modified against its first parent (`git diff-tree --name-status`). */
export async function changedPaths(
  gitDir: string,
  sha: string,
): Promise<{ added: string[]; removed: string[]; modified: string[] }> {
  const result = await git(gitDir, ['diff-tree', '--no-commit-id', '--name-status', '-r', '--root', '-z', '--no-renames', sha]);
  const out = { added: [] as string[], removed: [] as string[], modified: [] as string[] };
  const parts = result.stdout.split('\0');
  for (let i = 0; i + 1 < parts.length; i += 2) {
    const status = parts[i]!.trim();
    const path = parts[i + 1]!;
    if (status.startsWith('A')) out.added.push(path);
    else if (status.startsWith('D')) out.removed.push(path);
    else if (status !== '') out.modified.push(path);
  }
  return out;
}

/**
 * SHA of `ref` in `gitDir`: a full or abbreviated commit SHA, a branch (`refs/heads/<ref>`)
 * or a tag (`refs/tags/<ref>`), peeled to its commit; undefined when none of these exists.
 */
export async function resolveCommitRef(gitDir: string, ref: string): Promise<string | undefined> {
  if (ref === '' || ref.startsWith('-')) return undefined;
  const candidates = /^[0-9a-f]{4,40}$/i.test(ref) ? [ref] : [];
  candidates.push(`refs/heads/${ref}`, `refs/tags/${ref}`);
  for (const candidate of candidates) {
    const result = await git(gitDir, ['rev-parse', '--verify', '--quiet', `${candidate}^{commit}`]);
    if (result.ok) return result.stdout.trim();
  }
  return undefined;
}

/** Unified diff (`git diff -U3 base...head -- path`) of one file of a pull request, '' when unchanged. */
export async function fileDiff(gitDir: string, baseSha: string, headSha: string, path: string): Promise<string> {
  const result = await git(gitDir, ['diff', '--no-color', '--no-ext-diff', '-U3', `${baseSha}...${headSha}`, '--', path]);
  return result.ok ? result.stdout : '';
}

/** Where a review comment sits in a file's diff: GitHub's `position`, `line`/`side` and `diff_hunk`. */
export interface DiffLocation {
  /** Lines below the file's first `@@` header (that line's next line is 1); later headers count too. */
  position: number;
  line: number;
  side: 'LEFT' | 'RIGHT';
  /** From the enclosing hunk's `@@` header down to and including the commented line. */
  diffHunk: string;
}

/**
 * Locates a line in a unified diff of one file (as {@link fileDiff} returns), given either
 * `{ line, side }` (line of the new file for `RIGHT`, of the old file for `LEFT`) or a diff
 * `{ position }`. Undefined when the line is not part of the diff (GitHub then answers 422).
 */
export function locateInDiff(
  diff: string,
  target: { line: number; side: 'LEFT' | 'RIGHT' } | { position: number },
): DiffLocation | undefined {
  const lines = diff.split('\n');
  const first = lines.findIndex((l) => l.startsWith('@@'));
  if (first < 0) return undefined;
  let oldLine = 0;
  let newLine = 0;
  let hunkStart = first;
  for (let i = first; i < lines.length; i++) {
    const text = lines[i]!;
    const position = i - first;
    const header = /^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@/.exec(text);
    if (header) {
      oldLine = Number(header[1]);
      newLine = Number(header[2]);
      hunkStart = i;
      continue;
    }
    const kind = text[0];
    if (kind !== ' ' && kind !== '+' && kind !== '-') continue;
    const here = {
      position,
      line: kind === '-' ? oldLine : newLine,
      side: (kind === '-' ? 'LEFT' : 'RIGHT') as 'LEFT' | 'RIGHT',
      diffHunk: lines.slice(hunkStart, i + 1).join('\n'),
    };
    const matches =
      'position' in target
        ? target.position === position
        : target.side === 'RIGHT'
          ? kind !== '-' && newLine === target.line
          : kind !== '+' && oldLine === target.line;
    if (matches) return 'position' in target ? here : { ...here, line: target.line, side: target.side };
    if (kind !== '+') oldLine++;
    if (kind !== '-') newLine++;
  }
  return undefined;
}

/** How {@link mergePull} combines head into base, as `pulls/merge`'s `merge_method`. */
export type MergeMethod = 'merge' | 'squash' | 'rebase';

/** What {@link mergePull} needs: the PR's branches and SHAs, the commit message, who merges. */
export interface MergeRequest {
  method: MergeMethod;
  /** Base branch name (moved by the merge) and the SHA it must still point at. */
  baseRef: string;
  baseSha: string;
  headSha: string;
  /** Message of the merge or squash commit (ignored by `rebase`, which keeps each commit's). */
  message: string;
  /** Author of the merge/squash commit (rebased commits keep their authors). */
  author: { name: string; email: string };
  /** Committer of the new commits. */
  committer: { name: string; email: string };
}

/** Outcome of {@link mergePull}: the new tip of the base branch, or why nothing was merged. */
export type MergeOutcome =
  | { merged: true; sha: string }
  | { merged: false; reason: 'conflict' | 'base-moved' };

function identityEnv(author: { name: string; email: string }, committer: { name: string; email: string }): Record<string, string> {
  return {
    GIT_AUTHOR_NAME: author.name,
    GIT_AUTHOR_EMAIL: author.email,
    GIT_COMMITTER_NAME: committer.name,
    GIT_COMMITTER_EMAIL: committer.email,
  };
}

/**
 * Merges a pull request in the bare repository and moves the base branch, as GitHub's merge
 * button does:
 * - `merge`: `git merge-tree --write-tree base head`, then a two-parent commit
 *   (`git commit-tree -p base -p head`);
 * - `squash`: the same tree committed with base as the only parent;
 * - `rebase`: head's non-merge commits replayed on base with `git cherry-pick` in a temporary
 *   `--shared` clone (git 2.39's merge-tree cannot take a merge base), then pushed back.
 * The base branch is only moved if it still points at `baseSha` (`update-ref <new> <old>`,
 * or a fast-forward-only push), else `base-moved`. Conflicts give `conflict` and change nothing.
 */
export async function mergePull(gitDir: string, request: MergeRequest): Promise<MergeOutcome> {
  const ref = `refs/heads/${request.baseRef}`;
  if (request.method === 'rebase') return rebasePull(gitDir, request);
  const merge = await git(gitDir, ['merge-tree', '--write-tree', '--no-messages', request.baseSha, request.headSha]);
  if (merge.exitCode === 1) return { merged: false, reason: 'conflict' };
  if (!merge.ok) throw new Error(`git merge-tree failed: ${merge.stderr.trim()}`);
  const tree = merge.stdout.split('\n')[0]!.trim();
  const parents = request.method === 'merge' ? ['-p', request.baseSha, '-p', request.headSha] : ['-p', request.baseSha];
  const commit = await git(
    gitDir,
    ['commit-tree', tree, ...parents, '-F', '-'],
    identityEnv(request.author, request.committer),
    `${request.message}\n`,
  );
  if (!commit.ok) throw new Error(`git commit-tree failed: ${commit.stderr.trim()}`);
  const sha = commit.stdout.trim();
  const update = await git(gitDir, ['update-ref', '-m', 'github-local: merge pull request', ref, sha, request.baseSha]);
  return update.ok ? { merged: true, sha } : { merged: false, reason: 'base-moved' };
}

async function rebasePull(gitDir: string, request: MergeRequest): Promise<MergeOutcome> {
  const work = await mkdtemp(join(tmpdir(), 'github-local-rebase-'));
  // Committer only: cherry-pick keeps each commit's author.
  const env = {
    GIT_TERMINAL_PROMPT: '0',
    LC_ALL: 'C',
    GIT_COMMITTER_NAME: request.committer.name,
    GIT_COMMITTER_EMAIL: request.committer.email,
  };
  const inClone = (args: string[]) => execa('git', ['-C', work, ...args], { reject: false, env });
  try {
    const clone = await execa('git', ['clone', '-q', '--shared', '--no-checkout', gitDir, work], { reject: false, env });
    if (clone.exitCode !== 0) throw new Error(`git clone --shared failed: ${String(clone.stderr).trim()}`);
    const list = await git(gitDir, ['rev-list', '--reverse', '--topo-order', '--no-merges', `${request.baseSha}..${request.headSha}`]);
    const commits = list.stdout.split('\n').filter((l) => l !== '');
    await inClone(['checkout', '-q', '--detach', request.baseSha]);
    if (commits.length > 0) {
      const pick = await inClone(['cherry-pick', '--allow-empty', '--keep-redundant-commits', ...commits]);
      if (pick.exitCode !== 0) return { merged: false, reason: 'conflict' };
    }
    const sha = String((await inClone(['rev-parse', 'HEAD'])).stdout).trim();
    const push = await inClone(['push', '-q', gitDir, `${sha}:refs/heads/${request.baseRef}`]);
    return push.exitCode === 0 ? { merged: true, sha } : { merged: false, reason: 'base-moved' };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** The bare repositories under `reposRoot` (`<owner>/<repo>.git` directories), sorted by owner and name. */
export async function listBareRepos(reposRoot: string): Promise<Array<{ owner: string; repo: string; gitDir: string }>> {
  const found: Array<{ owner: string; repo: string; gitDir: string }> = [];
  const owners = await readdir(reposRoot, { withFileTypes: true }).catch(() => []);
  for (const owner of owners.filter((d) => d.isDirectory()).map((d) => d.name).sort()) {
    const entries = await readdir(join(reposRoot, owner), { withFileTypes: true }).catch(() => []);
    for (const entry of entries.filter((d) => d.isDirectory() && d.name.endsWith('.git')).map((d) => d.name).sort()) {
      const repo = entry.slice(0, -'.git'.length);
      const gitDir = bareRepoPath(reposRoot, owner, repo);
      if (gitDir !== undefined && (await repoExists(gitDir))) found.push({ owner, repo, gitDir });
    }
  }
  return found;
}
