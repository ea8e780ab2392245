/**
 * Branch names of pull requests: git's own rules plus the service's (issue 11 "Codebase policy").
 */

/**
 * Why `name` is not a valid ref name for git, or null when it is: the rules of
 * git-check-ref-format(1) (https://git-scm.com/docs/git-check-ref-format), as
 * `git check-ref-format <name>` applies them (without `--allow-onelevel`, `--refspec-pattern` or
 * `--normalize`):
 *  1. no slash-separated component may begin with `.` or end with `.lock` (nor be empty);
 *  2. at least one `/`;
 *  3. no `..` anywhere;
 *  4. no ASCII control character (< 0x20, 0x7f), space, `~`, `^` or `:` anywhere;
 *  5. no `?`, `*` or `[` anywhere;
 *  6. may not begin or end with `/`, nor contain `//`;
 *  7. may not end with `.`;
 *  8. may not contain `@{`;
 *  9. may not be the single character `@`;
 * 10. may not contain `\`.
 * git-gateway checks full refs with it instead of starting `git check-ref-format`.
 */
export function gitRefNameProblem(name: string): string | null {
  if (name.length === 0) return 'is empty';
  if (name === '@') return 'may not be "@"';
  if (/[\x00-\x1f\x7f ~^:]/.test(name)) return 'may not contain control characters, space, "~", "^" or ":"';
  if (/[?*[]/.test(name)) return 'may not contain "?", "*" or "["';
  if (name.includes('\\')) return 'may not contain "\\"';
  if (name.includes('..')) return 'may not contain ".."';
  if (name.includes('@{')) return 'may not contain "@{"';
  if (name.startsWith('/') || name.endsWith('/') || name.includes('//')) return 'may not begin or end with "/" nor contain "//"';
  if (name.endsWith('.')) return 'may not end with "."';
  if (!name.includes('/')) return 'must contain at least one "/"';
  for (const component of name.split('/')) {
    if (component.startsWith('.')) return 'no "/"-separated component may begin with "."';
    if (component.endsWith('.lock')) return 'no "/"-separated component may end with ".lock"';
  }
  return null;
}

/**
 * Why `name` is not a valid branch name for git, or null when it is: {@link gitRefNameProblem}
 * applied to `refs/heads/<name>`, as `git check-ref-format --branch <name>` does, and, for
 * `--branch`, it may not begin with `-` nor be `HEAD`. Rule 9 (not the single character `@`)
 * holds for the whole `refs/heads/<name>`, so `@` passes here (as it does for git) and is refused
 * by {@link branchNameProblem}.
 */
export function gitBranchNameProblem(name: string): string | null {
  if (name.length === 0) return 'is empty';
  if (name.startsWith('-')) return 'may not begin with "-"';
  if (name === 'HEAD') return 'may not be HEAD';
  if (name.startsWith('/')) return 'may not begin or end with "/" nor contain "//"';
  return gitRefNameProblem(`refs/heads/${name}`);
}

/** The branch names repositories are most often created with (their base branch when none is given). */
export const COMMON_DEFAULT_BRANCHES: readonly string[] = ['main', 'master'];

/**
 * Why `name` may not be the head branch of a pull request, or null when it may: git's rules
 * ({@link gitBranchNameProblem}) plus ours: never `HEAD` (nor `FETCH_HEAD`, `ORIG_HEAD`, `@`, …),
 * never a full ref or a tag (`refs/…`, `tags/…`, `heads/…`, `remotes/…`). The base branch is
 * checked by {@link baseBranchProblem}, which needs the codebase.
 */
export function branchNameProblem(name: string): string | null {
  const git = gitBranchNameProblem(name);
  if (git) return `is not a valid git branch name: ${git} (git-check-ref-format)`;
  if (/^[A-Z_]*HEAD$/.test(name) || name === '@') return `${name} names a git symbolic ref (HEAD), not a branch`;
  if (/^(refs|tags|heads|remotes)\//.test(name)) return 'must be a short branch name, not a full ref or a tag (refs/…, tags/…, heads/…, remotes/…)';
  return null;
}

/**
 * Why `name` may not be the head branch of a pull request on a codebase whose base branch is
 * `baseBranch`, or null: it may not be the base branch. Without a `baseBranch` (the repository's
 * default branch, known only after cloning) the common defaults ({@link COMMON_DEFAULT_BRANCHES})
 * are refused; git-gateway re-checks against the resolved base branch before pushing.
 */
export function baseBranchProblem(name: string, baseBranch: string | undefined): string | null {
  const bases = baseBranch === undefined ? COMMON_DEFAULT_BRANCHES : [baseBranch];
  return bases.includes(name) ? `may not be the base branch (${name}): the pull request needs a branch of its own` : null;
}
