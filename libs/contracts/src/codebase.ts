import type { Codebase } from './api.js';

/**
 * The pull-request provider's `{ owner, repo }` for a codebase: the explicit
 * `pullRequestRepository`, else parsed from the repository location —
 * `https://github.com/<owner>/<repo>(.git)`, `git@github.com:<owner>/<repo>.git`, or the last
 * two path segments of a URL or local path (`/srv/git/<owner>/<repo>.git`).
 * @returns null when no owner/repo can be derived.
 */
export function providerRepository(codebase: Codebase): { owner: string; repo: string } | null {
  if (codebase.pullRequestRepository) return codebase.pullRequestRepository;
  const location = codebase.repository.replace(/[?#].*$/, '').replace(/\/+$/, '');
  const scp = /^[^@/]+@[^:/]+:(.+)$/.exec(location);
  const path = scp ? scp[1]! : location.replace(/^[a-z+]+:\/\/[^/]+/i, '');
  const parts = path.split('/').filter(Boolean);
  if (parts.length < 2) return null;
  const owner = parts[parts.length - 2]!;
  const repo = parts[parts.length - 1]!.replace(/\.git$/, '');
  const valid = /^[A-Za-z0-9_.-]+$/;
  if (!valid.test(owner) || !valid.test(repo)) return null;
  return { owner, repo };
}

/** Default branch name of a patch execution's pull request: `remediation/<remediation id>/<kind>.<n>`. */
export function defaultBranchName(executionId: string): string {
  const dot = executionId.indexOf('.');
  return `remediation/${executionId.slice(0, dot)}/${executionId.slice(dot + 1)}`;
}
