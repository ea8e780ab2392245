/**
 * Server-side rebase of a single-commit patch onto a moved base, without a work tree or index
 * (docs/architecture.md "git-gateway": `merge-tree --write-tree` + `commit-tree` measured 8 ms vs
 * 177 ms for `git rebase` in a worktree; "Git here is 2.39 (no `merge-tree --merge-base`) …
 * a single-commit patch rebases with `merge-tree --write-tree` on a fast-forwarded base; where
 * history was rewritten or a conflict appears, re-apply the patch onto the new head … Detect
 * newer git and use `--merge-base` there"; "Every commit the gateway makes is anchored by a ref
 * in the mirror (no GC loss)").
 *
 * Used by the PR flow (keep a PR mergeable when its base branch moves) and at execution start
 * (a patch prepared on an older base).
 *
 * Sources of the rules:
 *  - git-merge-tree(1), `--write-tree` mode (git ≥ 2.38): "Performs a merge, but does not make
 *    any new commits and does not read from or write to either the working tree or index";
 *    exit status 0 = clean, 1 = conflicts; output = `<tree>` then, on conflicts, the
 *    "Conflicted file info" section (filenames only with `--name-only`, NUL-terminated with
 *    `-z`) and the "Informational messages" section (`--messages`). Without `--merge-base`
 *    the merge base is computed from the commit graph (`git merge-base <branch1> <branch2>`).
 *  - Git v2.40 release notes: "merge-tree" learns a new `--merge-base` option — the merge base
 *    is given instead of computed, so `merge-tree --merge-base=<oldBase> <newBase> <patch>`
 *    is exactly a cherry-pick of `oldBase..patch` onto `newBase`, whatever the relation of
 *    `oldBase` and `newBase`.
 *
 * Why the 2.39 path refuses rewritten history: when `oldBase` is an ancestor of `newBase` and
 * the patch's parent is `oldBase`, the best common ancestor of `newBase` and the patch is
 * `oldBase` itself, so the computed-base merge equals a cherry-pick. When `oldBase` is not an
 * ancestor (force-push, amended commit), the computed base is some older commit and the merge
 * would re-introduce into the PR whatever `newBase` dropped or changed since then — unrelated
 * changes. The caller re-applies the patch on the new head instead (`kind: 'rewritten'`).
 */
import { InvalidInputError } from '@remediation/errors';
import { git, gitVersion, type GitOptions, type GitVersion } from './git.js';
import { readCommitAt, type CommitAuthor } from './commit.js';
import { isValidRefName } from './refs.js';

/**
 * How the merge base of the rebase merge is chosen.
 *  - `explicit-merge-base`: git ≥ 2.40, `merge-tree --write-tree --merge-base=<oldBase>`
 *    (cherry-pick semantics, valid for rewritten history too).
 *  - `computed-merge-base`: git 2.38/2.39, `merge-tree --write-tree` computes the base; only
 *    used when `oldBase` is an ancestor of `newBase` (then the computed base is `oldBase`).
 */
export type RebaseStrategy = 'explicit-merge-base' | 'computed-merge-base';

/** Input of {@link rebasePatch}. Commits may be given as any commit-ish; full ids are best. */
export interface RebasePatchInput {
  /** Bare mirror holding all three commits; receives the new objects and the anchoring ref. */
  mirrorPath: string;
  /** The single-commit patch: exactly one parent, which must be `oldBase` (or `newBase`). */
  patchCommit: string;
  /** The base the patch was made on (its parent). */
  oldBase: string;
  /** The base to move the patch onto (e.g. the branch's current head in the mirror). */
  newBase: string;
  /**
   * Committer of the rebased commit; default: the patch commit's committer. The author (name,
   * email, date) and the message are always the patch commit's.
   */
  author?: CommitAuthor;
  /** Committer date of the rebased commit; default now. A fixed date makes the id deterministic. */
  date?: Date;
  /**
   * Full ref that anchors the rebased commit, e.g. `refs/remediations/<rem>/<exec>/v2`. It must
   * not exist yet (`update-ref <ref> <sha> ''`), except on a retry: if it already points at a
   * commit with the same tree and parent `newBase`, that commit is returned (`reused: true`).
   * Written only for `kind: 'rebased'`.
   */
  ref?: string;
  /**
   * git capabilities (tests / callers that already probed); default: {@link gitVersion},
   * probed once per process.
   */
  gitVersion?: Pick<GitVersion, 'supportsMergeBase'>;
  /** Aborts the running git process (see git.ts). */
  signal?: AbortSignal;
}

/** One record of merge-tree's "Informational messages" section (`--messages -z`). */
export interface MergeMessage {
  /** Stable conflict type, e.g. `Auto-merging`, `CONFLICT (contents)`, `CONFLICT (rename/delete)`. */
  type: string;
  /** Paths (or branch names) the message is about. */
  paths: string[];
  /** Human-readable message (may change between git versions). */
  message: string;
}

/** `details` of a `conflict` result (JSON-safe: stored in the run's history). */
export interface RebaseConflictDetails {
  /**
   * - `merge-conflict`: merge-tree exited 1 (`paths` = its conflicted files).
   * - `paths-mismatch`: the merge was clean but the result does not touch exactly the patch's
   *   paths vs `newBase` (e.g. a rename on the base made the change follow to another path,
   *   or the base already contains part of the change); `paths` = extra ∪ missing paths.
   * - `already-applied`: the result equals `newBase` (the base already contains the patch);
   *   `paths` = the patch's paths.
   */
  reason: 'merge-conflict' | 'paths-mismatch' | 'already-applied';
  strategy: RebaseStrategy;
  patchCommit: string;
  oldBase: string;
  newBase: string;
  /** The merged tree merge-tree wrote (with conflict markers for `merge-conflict`). */
  tree: string;
  /** Paths the result changes vs `newBase` that the patch does not change vs `oldBase`. */
  extraPaths: string[];
  /** Paths the patch changes that the result does not change vs `newBase`. */
  missingPaths: string[];
  /** merge-tree's informational messages (conflict types and texts). */
  messages: MergeMessage[];
}

/**
 * Outcome of {@link rebasePatch}:
 *  - `up-to-date`: nothing to do (`newBase` equals `oldBase`, or the patch's parent already is
 *    `newBase`); `sha` is the patch commit.
 *  - `rebased`: the new commit (parent `newBase`, same author and message, same changed paths
 *    as the patch) and its tree; anchored by `ref` when given.
 *  - `conflict`: no commit was made; `paths` are the conflicting (or mismatching) paths. The
 *    caller re-applies the patch on the new head.
 *  - `rewritten`: git < 2.40 and `oldBase` is not an ancestor of `newBase` (history rewritten);
 *    no merge was attempted. The caller re-applies the patch on the new head.
 */
export type RebaseResult =
  | { kind: 'up-to-date'; sha: string }
  | {
      kind: 'rebased';
      sha: string;
      tree: string;
      strategy: RebaseStrategy;
      /** Paths changed vs `newBase` (equal to the patch's paths vs `oldBase`), sorted. */
      changedPaths: string[];
      /** True when `ref` already held an equivalent commit (idempotent retry). */
      reused: boolean;
    }
  | { kind: 'conflict'; paths: string[]; details: RebaseConflictDetails }
  | { kind: 'rewritten'; reason: string };

/**
 * Picks the merge-base strategy from git's capabilities (pure; unit-tested with injected
 * versions since only git 2.39 is installed here).
 */
export function chooseRebaseStrategy(version: Pick<GitVersion, 'supportsMergeBase'>): RebaseStrategy {
  return version.supportsMergeBase ? 'explicit-merge-base' : 'computed-merge-base';
}

/**
 * The `git merge-tree` arguments for a strategy: `--write-tree -z --name-only --messages`,
 * plus `--merge-base=<oldBase>` for `explicit-merge-base`, then `<newBase> <patchCommit>`
 * (branch1 = newBase so conflict stage 2 / "ours" is the base, like `git rebase`).
 */
export function mergeTreeArgs(strategy: RebaseStrategy, commits: { oldBase: string; newBase: string; patchCommit: string }): string[] {
  return [
    'merge-tree',
    '--write-tree',
    '-z',
    '--name-only',
    '--messages',
    ...(strategy === 'explicit-merge-base' ? [`--merge-base=${commits.oldBase}`] : []),
    commits.newBase,
    commits.patchCommit,
  ];
}

/** Parsed `git merge-tree --write-tree -z --name-only --messages` stdout. */
export interface MergeTreeOutput {
  tree: string;
  /** Conflicted file info (empty for a clean merge), de-duplicated, in git's order. */
  conflictedPaths: string[];
  messages: MergeMessage[];
}

/**
 * Parses `merge-tree --write-tree -z --name-only --messages` output (git-merge-tree(1)
 * "OUTPUT"): `<tree>NUL`, then for a conflicted merge `<path>NUL`… followed by an empty
 * record (`NUL`), then message records `<n>NUL<path1>NUL…<pathN>NUL<type>NUL<message>NUL`.
 * For a clean merge without `--messages` records the output is just `<tree>`.
 * @param conflicted whether merge-tree exited 1 (the conflicted-file-info section is present).
 */
export function parseMergeTreeOutput(stdout: string, conflicted: boolean): MergeTreeOutput {
  const fields = stdout.split('\0');
  const tree = (fields[0] ?? '').trim();
  let i = 1;
  const conflictedPaths: string[] = [];
  if (conflicted) {
    while (i < fields.length && fields[i] !== '') {
      const path = fields[i]!;
      if (!conflictedPaths.includes(path)) conflictedPaths.push(path);
      i++;
    }
  }
  // The messages section starts after an empty record (a leading NUL).
  if (i < fields.length && fields[i] === '') i++;
  const messages: MergeMessage[] = [];
  while (i < fields.length) {
    const countText = fields[i]!;
    if (!/^\d+$/.test(countText)) break;
    const count = Number(countText);
    const paths = fields.slice(i + 1, i + 1 + count);
    const type = fields[i + 1 + count];
    const message = fields[i + 2 + count];
    if (type === undefined || message === undefined) break;
    messages.push({ type, paths, message: message.replace(/\n$/, '') });
    i += count + 3;
  }
  return { tree, conflictedPaths, messages };
}

let cachedVersion: Promise<GitVersion> | undefined;

/** {@link gitVersion}, probed once per process (a failed probe is retried next time). */
function probeGitVersion(): Promise<GitVersion> {
  if (cachedVersion === undefined) {
    cachedVersion = gitVersion();
    cachedVersion.catch(() => {
      cachedVersion = undefined;
    });
  }
  return cachedVersion;
}

type CommitField = 'patchCommit' | 'oldBase' | 'newBase';

function invalid(message: string, details: Record<string, unknown>): InvalidInputError {
  return new InvalidInputError('REBASE_INVALID_INPUT', message, { details });
}

/** Rejects values that could be read as options or break the line-based batch input. */
function assertRevisionText(field: CommitField, value: string): void {
  if (typeof value !== 'string' || value.length === 0 || value.startsWith('-') || /[\s\0-\x1f\x7f]/.test(value)) {
    throw invalid(`${field} ${JSON.stringify(value)} is not a valid commit`, { field, commit: value });
  }
}

/** Facts about the patch commit read with one `git log -1`. */
interface PatchCommitInfo {
  tree: string;
  parents: string[];
  authorName: string;
  authorEmail: string;
  /** `<unix seconds> <±hhmm>` (`--date=raw`). */
  authorDate: string;
  committerName: string;
  committerEmail: string;
  /** Raw message (subject + body) exactly as stored, re-encoded to UTF-8 when needed. */
  message: string;
}

/**
 * Rebases the single-commit patch `oldBase..patchCommit` onto `newBase` inside the bare
 * mirror, without a work tree (see the module comment for the rules and their sources).
 *
 * Steps: resolve the three commits (one `cat-file --batch-check`); read the patch commit
 * (`log -1 --format`, message via `%B`, byte-exact); return `up-to-date` when there is nothing
 * to move; git < 2.40: `merge-base --is-ancestor <oldBase> <newBase>` or return `rewritten`;
 * `merge-tree --write-tree` (exit 1 → `conflict`); check with `diff-tree -r --name-only
 * --no-renames` that the result changes exactly the patch's paths vs `newBase` (otherwise
 * `conflict`: a rebase must never put unrelated changes into the PR diff); `commit-tree <tree>
 * -p <newBase>` keeping the patch's author and message; `update-ref <ref> <sha> ''`.
 *
 * @returns a {@link RebaseResult}.
 * @throws InvalidInputError `REBASE_INVALID_INPUT` (not retryable) when a commit is unknown to
 *   the mirror or is not a commit (`details.field` / `details.commit` name it), when the patch
 *   does not have exactly one parent, when its parent is neither `oldBase` nor `newBase`, or
 *   when `ref` is not a valid full ref under `refs/`.
 * @throws InvalidInputError `REF_CONFLICT` when `ref` exists and points at a commit with
 *   another tree or parent.
 * @throws GitCommandError (retryable) / GitInputError from git.ts for git failures (e.g.
 *   `GIT_NOT_A_REPOSITORY` for a bad `mirrorPath`, `GIT_ABORTED`).
 */
export async function rebasePatch(input: RebasePatchInput): Promise<RebaseResult> {
  const fields: CommitField[] = ['patchCommit', 'oldBase', 'newBase'];
  for (const field of fields) assertRevisionText(field, input[field]);
  const g = (args: string[], extra: GitOptions = {}) => git(args, { gitDir: input.mirrorPath, signal: input.signal, ...extra });

  if (input.ref !== undefined) {
    if (!input.ref.startsWith('refs/') || !isValidRefName(input.ref)) {
      throw invalid(`ref ${JSON.stringify(input.ref)} is not a valid full ref under refs/`, { field: 'ref', ref: input.ref });
    }
  }

  // Resolve all three commits in one process; `^{commit}` makes trees/blobs "missing".
  const batch = await g(['cat-file', '--batch-check=%(objectname) %(objecttype)'], {
    input: fields.map((f) => `${input[f]}^{commit}\n`).join(''),
  });
  const lines = batch.stdout.split('\n');
  const resolved = {} as Record<CommitField, string>;
  fields.forEach((field, index) => {
    const match = /^([0-9a-f]{40,64}) commit$/.exec(lines[index] ?? '');
    if (match === null) {
      throw invalid(`${field} ${input[field]} is not a commit in the mirror`, { field, commit: input[field] });
    }
    resolved[field] = match[1]!;
  });
  const { patchCommit, oldBase, newBase } = resolved;

  const patch = await readPatchCommit(g, patchCommit);
  if (patch.parents.length !== 1) {
    throw invalid(`patchCommit ${patchCommit} has ${patch.parents.length} parents; a single-commit patch has exactly one`, {
      field: 'patchCommit',
      commit: patchCommit,
      parents: patch.parents,
    });
  }
  const parent = patch.parents[0]!;
  if (parent === newBase) return { kind: 'up-to-date', sha: patchCommit };
  if (parent !== oldBase) {
    throw invalid(`patchCommit ${patchCommit} has parent ${parent}, not oldBase ${oldBase}`, {
      field: 'oldBase',
      commit: input.oldBase,
      patchCommit,
      parent,
    });
  }
  if (oldBase === newBase) return { kind: 'up-to-date', sha: patchCommit };

  const strategy = chooseRebaseStrategy(input.gitVersion ?? (await probeGitVersion()));
  if (strategy === 'computed-merge-base') {
    const ancestor = await g(['merge-base', '--is-ancestor', oldBase, newBase], { acceptExitCodes: [0, 1] });
    if (ancestor.exitCode !== 0) {
      return {
        kind: 'rewritten',
        reason:
          `oldBase ${oldBase} is not an ancestor of newBase ${newBase} (history rewritten) and git < 2.40 has no ` +
          'merge-tree --merge-base: re-apply the patch on the new head',
      };
    }
  }

  const merge = await g(mergeTreeArgs(strategy, { oldBase, newBase, patchCommit }), { acceptExitCodes: [0, 1] });
  const parsed = parseMergeTreeOutput(merge.stdout, merge.exitCode === 1);
  const base = { strategy, patchCommit, oldBase, newBase, tree: parsed.tree, messages: parsed.messages };
  if (merge.exitCode === 1) {
    const paths = parsed.conflictedPaths.length > 0 ? [...parsed.conflictedPaths] : conflictPathsFromMessages(parsed.messages);
    return {
      kind: 'conflict',
      paths: [...new Set(paths)].sort(),
      details: { reason: 'merge-conflict', ...base, extraPaths: [], missingPaths: [] },
    };
  }

  // A rebase must never introduce unrelated changes into the PR diff.
  const [patchPaths, resultPaths] = await Promise.all([changedPathsBetween(g, oldBase, patchCommit), changedPathsBetween(g, newBase, parsed.tree)]);
  const patchSet = new Set(patchPaths);
  const resultSet = new Set(resultPaths);
  const extraPaths = resultPaths.filter((p) => !patchSet.has(p));
  const missingPaths = patchPaths.filter((p) => !resultSet.has(p));
  if (extraPaths.length > 0 || missingPaths.length > 0) {
    const alreadyApplied = resultPaths.length === 0;
    return {
      kind: 'conflict',
      paths: [...new Set([...extraPaths, ...missingPaths])].sort(),
      details: { reason: alreadyApplied ? 'already-applied' : 'paths-mismatch', ...base, extraPaths, missingPaths },
    };
  }

  const tree = parsed.tree;
  const matches = (c: { tree: string; parents: string[] } | null): boolean =>
    c !== null && c.tree === tree && c.parents.length === 1 && c.parents[0] === newBase;

  // Idempotent retry: the ref already holds an equivalent commit.
  const existing = input.ref === undefined ? null : await readCommitAt(input.mirrorPath, input.ref);
  if (input.ref !== undefined && existing !== null) {
    if (matches(existing)) return { kind: 'rebased', sha: existing.sha, tree, strategy, changedPaths: resultPaths, reused: true };
    throw refConflict(input.ref, existing.sha, newBase);
  }

  const committerDate = `@${Math.floor((input.date ?? new Date()).getTime() / 1000)} +0000`;
  const identity: Record<string, string> = {
    GIT_AUTHOR_NAME: patch.authorName,
    GIT_AUTHOR_EMAIL: patch.authorEmail,
    GIT_AUTHOR_DATE: `@${patch.authorDate}`,
    GIT_COMMITTER_NAME: input.author?.name ?? patch.committerName,
    GIT_COMMITTER_EMAIL: input.author?.email ?? patch.committerEmail,
    GIT_COMMITTER_DATE: committerDate,
  };
  const sha = (
    await g(['-c', 'commit.gpgSign=false', '-c', 'i18n.commitEncoding=UTF-8', 'commit-tree', tree, '-p', newBase], {
      env: identity,
      input: patch.message,
    })
  ).stdout.trim();

  if (input.ref !== undefined) {
    const update = await g(['update-ref', '-m', 'git-gateway: rebase', input.ref, sha, ''], { acceptExitCodes: [0, 1, 128] });
    if (update.exitCode !== 0) {
      // Lost a race with another writer of the same ref: an equivalent commit is still success.
      const now = await readCommitAt(input.mirrorPath, input.ref);
      if (matches(now)) return { kind: 'rebased', sha: now!.sha, tree, strategy, changedPaths: resultPaths, reused: true };
      throw refConflict(input.ref, now?.sha ?? null, newBase);
    }
  }
  return { kind: 'rebased', sha, tree, strategy, changedPaths: resultPaths, reused: false };
}

async function readPatchCommit(g: (args: string[], extra?: GitOptions) => ReturnType<typeof git>, sha: string): Promise<PatchCommitInfo> {
  // %B is the raw message (byte-exact, including a missing or extra final newline); the
  // trailing %x00 protects it from the wrapper's final-newline stripping. Re-encoded to UTF-8
  // (i18n.logOutputEncoding) so commits with an `encoding` header survive the round trip.
  const { stdout } = await g([
    '-c',
    'i18n.logOutputEncoding=UTF-8',
    'log',
    '-1',
    '--no-show-signature',
    '--no-mailmap',
    '--date=raw',
    '--format=%T%x00%P%x00%an%x00%ae%x00%ad%x00%cn%x00%ce%x00%B%x00',
    sha,
    '--',
  ]);
  const [tree = '', parents = '', authorName = '', authorEmail = '', authorDate = '', committerName = '', committerEmail = '', ...rest] = stdout.split('\0');
  // The message may itself contain no NUL (git refuses NULs in messages); rest = [message, ''].
  const message = rest.slice(0, -1).join('\0');
  return {
    tree,
    parents: parents.split(' ').filter((p) => p.length > 0),
    authorName,
    authorEmail,
    authorDate,
    committerName,
    committerEmail,
    message,
  };
}

async function changedPathsBetween(g: (args: string[], extra?: GitOptions) => ReturnType<typeof git>, from: string, to: string): Promise<string[]> {
  const { stdout } = await g(['diff-tree', '-r', '-z', '--no-renames', '--name-only', from, to, '--']);
  return stdout
    .split('\0')
    .filter((p) => p.length > 0)
    .sort();
}

/** Fallback when a conflict is reported only in messages: the paths of `CONFLICT (…)` records. */
function conflictPathsFromMessages(messages: MergeMessage[]): string[] {
  return messages.filter((m) => m.type.startsWith('CONFLICT')).flatMap((m) => m.paths);
}

function refConflict(ref: string, current: string | null, newBase: string): InvalidInputError {
  return new InvalidInputError('REF_CONFLICT', `ref ${ref} is at ${current ?? '(absent)'}, not at a rebase of the patch onto ${newBase}`, {
    details: { ref, current, newBase },
  });
}
