import hostedGitInfo from 'hosted-git-info';
import type { Codebase } from './api.js';
import { isRepositoryRefusal, parseRepositoryLocation } from './repository-policy.js';

/**
 * The pull-request provider's `{ owner, repo }` for a codebase: the explicit
 * `pullRequestRepository`, else parsed from the repository location. Locations on hosts
 * hosted-git-info knows (github.com in any of its URL forms: `https://github.com/<owner>/<repo>(.git)`,
 * `git@github.com:<owner>/<repo>.git`, `ssh://git@github.com/…`, `git+https://…`) are read by
 * hosted-git-info, npm's own parser; any other URL (GitHub Enterprise, a local GitHub-compatible
 * server), scp-style location or local path gives its last two path segments
 * (`/srv/git/<owner>/<repo>.git`).
 * @returns null when no owner/repo can be derived (fewer than two segments, or a segment outside
 *   `[A-Za-z0-9_.-]`).
 */
export function providerRepository(codebase: Codebase): { owner: string; repo: string } | null {
  if (codebase.pullRequestRepository) return codebase.pullRequestRepository;
  const hosted = hostedGitInfo.fromUrl(codebase.repository, { noGitPlus: true });
  const [owner, repo] = hosted?.user && hosted.project ? [hosted.user, hosted.project] : lastTwoSegments(codebase.repository);
  const valid = /^[A-Za-z0-9_.-]+$/;
  if (!owner || !repo || !valid.test(owner) || !valid.test(repo)) return null;
  return { owner, repo: repo.replace(/\.git$/, '') };
}

/** The last two path segments of a location as {@link parseRepositoryLocation} reads it (URL, scp-style or local path). */
function lastTwoSegments(location: string): [string | undefined, string | undefined] {
  const parsed = parseRepositoryLocation(location);
  if (isRepositoryRefusal(parsed)) return [undefined, undefined];
  const parts = parsed.path.split('/').filter(Boolean);
  return [parts[parts.length - 2], parts[parts.length - 1]];
}

/** Default branch name of a patch execution's pull request: `remediation/<remediation id>/<kind>.<n>`. */
export function defaultBranchName(executionId: string): string {
  const dot = executionId.indexOf('.');
  return `remediation/${executionId.slice(0, dot)}/${executionId.slice(dot + 1)}`;
}
