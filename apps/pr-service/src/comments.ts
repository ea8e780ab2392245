import type { GithubOctokit } from '@remediation/github';

/** Hidden marker in every comment this service writes: its own comments are never feedback. */
export const MARKER = '<!-- remediation-service';

/**
 * Posts a comment on a pull request once: a comment carrying `<!-- remediation-service:<key> -->`
 * already there (a redelivered command) means it was said.
 * @returns the comment's URL, new or existing.
 */
export async function commentOnce(octokit: GithubOctokit, pr: { owner: string; repo: string; number: number }, key: string, body: string): Promise<string> {
  const tag = `${MARKER}:${key} -->`;
  const existing = await octokit.paginate(octokit.rest.issues.listComments, { owner: pr.owner, repo: pr.repo, issue_number: pr.number, per_page: 100 });
  const found = existing.find((c) => (c.body ?? '').includes(tag));
  if (found) return found.html_url;
  const created = await octokit.rest.issues.createComment({ owner: pr.owner, repo: pr.repo, issue_number: pr.number, body: `${body}\n\n${tag}` });
  return created.data.html_url;
}
