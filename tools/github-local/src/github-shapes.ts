import { pathToFileURL } from 'node:url';
import type { BranchComparison } from './git.js';
import type { CommentRecord, PullRecord } from './state-store.js';

/**
 * Renders github-local's records as the JSON objects api.github.com returns, complete enough
 * to pass the response schemas of GitHub's OpenAPI description (`simple-user`, `repository`,
 * `full-repository`, `pull-request`, `pull-request-simple`, `issue-comment`). API URLs are
 * `<baseUrl>/repos/...`, web URLs `<baseUrl>/<owner>/<repo>/...`, as api.github.com vs github.com.
 */

/** What is known about a served repository when rendering it. */
export interface RepoFacts {
  /** Server base URL without trailing slash, e.g. `http://127.0.0.1:3900`. */
  baseUrl: string;
  owner: string;
  repo: string;
  /** Absolute path of the bare repository. */
  gitDir: string;
  defaultBranch: string;
  /** ISO timestamps (whole seconds) from the bare repo directory's birth/modification times. */
  createdAt: string;
  pushedAt: string;
  /** Number of open pull requests (GitHub counts them as open issues). */
  openIssues: number;
}

/** Stable positive 31-bit id from a string (FNV-1a), so repos and users keep their ids across restarts. */
export function stableId(text: string): number {
  let hash = 0x811c9dc5;
  for (const char of text) {
    hash ^= char.codePointAt(0)!;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return (hash & 0x7fffffff) || 1;
}

function nodeId(prefix: string, id: number): string {
  return `${prefix}_${Buffer.from(`github-local:${prefix}:${id}`).toString('base64url')}`;
}

/** GitHub `simple-user` object for `login` (type `User`). */
export function simpleUser(baseUrl: string, login: string): Record<string, unknown> {
  const id = stableId(`user:${login}`);
  const api = `${baseUrl}/users/${login}`;
  return {
    login,
    id,
    node_id: nodeId('U', id),
    avatar_url: `${baseUrl}/avatars/${login}`,
    gravatar_id: '',
    url: api,
    html_url: `${baseUrl}/${login}`,
    followers_url: `${api}/followers`,
    following_url: `${api}/following{/other_user}`,
    gists_url: `${api}/gists{/gist_id}`,
    starred_url: `${api}/starred{/owner}{/repo}`,
    subscriptions_url: `${api}/subscriptions`,
    organizations_url: `${api}/orgs`,
    repos_url: `${api}/repos`,
    events_url: `${api}/events{/privacy}`,
    received_events_url: `${api}/received_events`,
    type: 'User',
    user_view_type: 'public',
    site_admin: false,
  };
}

/**
 * GitHub `repository` object (also satisfies `full-repository`: it carries both schemas'
 * required fields). `clone_url`/`git_url` are the `file://` URL of the bare repo, `ssh_url`
 * its path: that is where a client can really clone from.
 */
export function repository(facts: RepoFacts): Record<string, unknown> {
  const { baseUrl, owner, repo } = facts;
  const id = stableId(`repo:${owner}/${repo}`);
  const api = `${baseUrl}/repos/${owner}/${repo}`;
  const html = `${baseUrl}/${owner}/${repo}`;
  return {
    id,
    node_id: nodeId('R', id),
    name: repo,
    full_name: `${owner}/${repo}`,
    owner: simpleUser(baseUrl, owner),
    private: false,
    html_url: html,
    description: null,
    fork: false,
    url: api,
    archive_url: `${api}/{archive_format}{/ref}`,
    assignees_url: `${api}/assignees{/user}`,
    blobs_url: `${api}/git/blobs{/sha}`,
    branches_url: `${api}/branches{/branch}`,
    collaborators_url: `${api}/collaborators{/collaborator}`,
    comments_url: `${api}/comments{/number}`,
    commits_url: `${api}/commits{/sha}`,
    compare_url: `${api}/compare/{base}...{head}`,
    contents_url: `${api}/contents/{+path}`,
    contributors_url: `${api}/contributors`,
    deployments_url: `${api}/deployments`,
    downloads_url: `${api}/downloads`,
    events_url: `${api}/events`,
    forks_url: `${api}/forks`,
    git_commits_url: `${api}/git/commits{/sha}`,
    git_refs_url: `${api}/git/refs{/sha}`,
    git_tags_url: `${api}/git/tags{/sha}`,
    git_url: pathToFileURL(facts.gitDir).href,
    hooks_url: `${api}/hooks`,
    issue_comment_url: `${api}/issues/comments{/number}`,
    issue_events_url: `${api}/issues/events{/number}`,
    issues_url: `${api}/issues{/number}`,
    keys_url: `${api}/keys{/key_id}`,
    labels_url: `${api}/labels{/name}`,
    languages_url: `${api}/languages`,
    merges_url: `${api}/merges`,
    milestones_url: `${api}/milestones{/number}`,
    notifications_url: `${api}/notifications{?since,all,participating}`,
    pulls_url: `${api}/pulls{/number}`,
    releases_url: `${api}/releases{/id}`,
    ssh_url: facts.gitDir,
    stargazers_url: `${api}/stargazers`,
    statuses_url: `${api}/statuses/{sha}`,
    subscribers_url: `${api}/subscribers`,
    subscription_url: `${api}/subscription`,
    tags_url: `${api}/tags`,
    teams_url: `${api}/teams`,
    trees_url: `${api}/git/trees{/sha}`,
    clone_url: pathToFileURL(facts.gitDir).href,
    mirror_url: null,
    svn_url: html,
    homepage: null,
    language: null,
    forks_count: 0,
    forks: 0,
    stargazers_count: 0,
    watchers_count: 0,
    watchers: 0,
    size: 0,
    default_branch: facts.defaultBranch,
    open_issues_count: facts.openIssues,
    open_issues: facts.openIssues,
    is_template: false,
    topics: [],
    has_issues: true,
    has_projects: false,
    has_wiki: false,
    has_pages: false,
    has_downloads: true,
    has_discussions: false,
    archived: false,
    disabled: false,
    visibility: 'public',
    pushed_at: facts.pushedAt,
    created_at: facts.createdAt,
    updated_at: facts.pushedAt,
    permissions: { admin: true, maintain: true, push: true, triage: true, pull: true },
    allow_rebase_merge: true,
    allow_squash_merge: true,
    allow_merge_commit: true,
    allow_auto_merge: false,
    allow_update_branch: false,
    delete_branch_on_merge: false,
    use_squash_pr_title_as_default: false,
    squash_merge_commit_title: 'COMMIT_OR_PR_TITLE',
    squash_merge_commit_message: 'COMMIT_MESSAGES',
    merge_commit_title: 'MERGE_MESSAGE',
    merge_commit_message: 'PR_TITLE',
    allow_forking: true,
    web_commit_signoff_required: false,
    license: null,
  };
}

/** GitHub `full-repository` object (`GET /repos/{owner}/{repo}`): {@link repository} plus network counts. */
export function fullRepository(facts: RepoFacts): Record<string, unknown> {
  return { ...repository(facts), network_count: 0, subscribers_count: 0 };
}

/**
 * GitHub `pull-request-simple` object (list items). `repoJson` is the rendered
 * {@link repository} of the PR's repository (head and base are the same repo: no forks).
 */
export function pullRequestSimple(
  facts: RepoFacts,
  repoJson: Record<string, unknown>,
  pull: PullRecord,
): Record<string, unknown> {
  const { baseUrl, owner, repo } = facts;
  const api = `${baseUrl}/repos/${owner}/${repo}`;
  const self = `${api}/pulls/${pull.number}`;
  const html = `${baseUrl}/${owner}/${repo}/pull/${pull.number}`;
  const ownerUser = simpleUser(baseUrl, owner);
  const side = (s: { ref: string; sha: string }) => ({
    label: `${owner}:${s.ref}`,
    ref: s.ref,
    sha: s.sha,
    user: ownerUser,
    repo: repoJson,
  });
  return {
    url: self,
    id: pull.id,
    node_id: nodeId('PR', pull.id),
    html_url: html,
    diff_url: `${html}.diff`,
    patch_url: `${html}.patch`,
    issue_url: `${api}/issues/${pull.number}`,
    commits_url: `${self}/commits`,
    review_comments_url: `${self}/comments`,
    review_comment_url: `${api}/pulls/comments{/number}`,
    comments_url: `${api}/issues/${pull.number}/comments`,
    statuses_url: `${api}/statuses/${pull.head.sha}`,
    number: pull.number,
    state: pull.state,
    locked: false,
    title: pull.title,
    user: simpleUser(baseUrl, pull.user),
    body: pull.body,
    labels: [],
    milestone: null,
    active_lock_reason: null,
    created_at: pull.createdAt,
    updated_at: pull.updatedAt,
    closed_at: pull.closedAt,
    merged_at: null,
    merge_commit_sha: null,
    assignee: null,
    assignees: [],
    requested_reviewers: [],
    requested_teams: [],
    head: side(pull.head),
    base: side(pull.base),
    _links: {
      self: { href: self },
      html: { href: html },
      issue: { href: `${api}/issues/${pull.number}` },
      comments: { href: `${api}/issues/${pull.number}/comments` },
      review_comments: { href: `${self}/comments` },
      review_comment: { href: `${api}/pulls/comments{/number}` },
      commits: { href: `${self}/commits` },
      statuses: { href: `${api}/statuses/${pull.head.sha}` },
    },
    author_association: pull.user === owner ? 'OWNER' : 'NONE',
    auto_merge: null,
    draft: pull.draft,
  };
}

/**
 * GitHub `pull-request` object (get/create/update): {@link pullRequestSimple} plus merge
 * facts. Nothing is ever merged here (`merged: false`); `mergeable_state` is `draft` for
 * drafts, else `clean`/`dirty` from the trial merge, `unknown` when git could not tell.
 */
export function pullRequest(
  facts: RepoFacts,
  repoJson: Record<string, unknown>,
  pull: PullRecord,
  comparison: BranchComparison,
  commentCount: number,
): Record<string, unknown> {
  const mergeableState =
    pull.draft ? 'draft' : comparison.mergeable === null ? 'unknown' : comparison.mergeable ? 'clean' : 'dirty';
  return {
    ...pullRequestSimple(facts, repoJson, pull),
    merged: false,
    mergeable: comparison.mergeable,
    rebaseable: comparison.mergeable,
    mergeable_state: mergeableState,
    merged_by: null,
    comments: commentCount,
    review_comments: 0,
    maintainer_can_modify: pull.maintainerCanModify,
    commits: comparison.commits,
    additions: comparison.additions,
    deletions: comparison.deletions,
    changed_files: comparison.changedFiles,
  };
}

/** GitHub `issue-comment` object; `html_url` is `<pull html_url>#issuecomment-<id>`. */
export function issueComment(baseUrl: string, comment: CommentRecord): Record<string, unknown> {
  const api = `${baseUrl}/repos/${comment.owner}/${comment.repo}`;
  return {
    id: comment.id,
    node_id: nodeId('IC', comment.id),
    url: `${api}/issues/comments/${comment.id}`,
    html_url: `${baseUrl}/${comment.owner}/${comment.repo}/pull/${comment.issueNumber}#issuecomment-${comment.id}`,
    body: comment.body,
    user: simpleUser(baseUrl, comment.user),
    created_at: comment.createdAt,
    updated_at: comment.updatedAt,
    issue_url: `${api}/issues/${comment.issueNumber}`,
    author_association: comment.user === comment.owner ? 'OWNER' : 'NONE',
    performed_via_github_app: null,
  };
}
