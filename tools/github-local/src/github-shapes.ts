import { pathToFileURL } from 'node:url';
import type { BranchComparison, CommitInfo } from './git.js';
import type { CheckRunRecord, CommentRecord, PullRecord, ReviewCommentRecord, ReviewRecord } from './state-store.js';

/**
 * Renders github-local's records as the JSON objects api.github.com returns, complete enough
 * to pass the response schemas of GitHub's OpenAPI description (`simple-user`, `repository`,
 * `full-repository`, `pull-request`, `pull-request-simple`, `issue-comment`, `pull-request-review`,
 * `pull-request-review-comment`, `commit`, `branch-with-protection`, `check-run`, `installation`,
 * `installation-token`, `integration`) and, for webhook payloads, the `webhook-*` schemas of its
 * `x-webhooks`. API URLs are `<baseUrl>/repos/...`, web URLs `<baseUrl>/<owner>/<repo>/...`, as
 * api.github.com vs github.com.
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

/** GitHub's `author_association` of `login` on a repository of `owner`: `OWNER` or `NONE`. */
function association(login: string, owner: string): string {
  return login === owner ? 'OWNER' : 'NONE';
}

/** An empty `reaction-rollup` for the object at API URL `url`. */
function reactions(url: string): Record<string, unknown> {
  return {
    url: `${url}/reactions`,
    total_count: 0,
    '+1': 0,
    '-1': 0,
    laugh: 0,
    confused: 0,
    heart: 0,
    hooray: 0,
    eyes: 0,
    rocket: 0,
  };
}

/** Whole-second UTC ISO form of a git date (`2024-05-01T14:00:00+02:00` → `2024-05-01T12:00:00Z`). */
function utc(date: string): string {
  return new Date(date).toISOString().replace(/\.\d{3}Z$/, 'Z');
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
    merged_at: pull.mergedAt,
    merge_commit_sha: pull.mergeCommitSha,
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
    author_association: association(pull.user, owner),
    auto_merge: null,
    draft: pull.draft,
  };
}

/**
 * GitHub `pull-request` object (get/create/update, and `pull_request` of `pull_request`
 * webhooks): {@link pullRequestSimple} plus merge facts. `merged` once `pulls/merge` ran;
 * `mergeable_state` is `draft` for drafts, else `clean`/`dirty` from the trial merge,
 * `unknown` when git could not tell.
 */
export function pullRequest(
  facts: RepoFacts,
  repoJson: Record<string, unknown>,
  pull: PullRecord,
  comparison: BranchComparison,
  commentCount: number,
  reviewCommentCount = 0,
): Record<string, unknown> {
  const mergeableState =
    pull.draft ? 'draft' : comparison.mergeable === null ? 'unknown' : comparison.mergeable ? 'clean' : 'dirty';
  return {
    ...pullRequestSimple(facts, repoJson, pull),
    merged: pull.mergedAt !== null,
    mergeable: comparison.mergeable,
    rebaseable: comparison.mergeable,
    mergeable_state: mergeableState,
    merged_by: pull.mergedBy === null ? null : simpleUser(facts.baseUrl, pull.mergedBy),
    comments: commentCount,
    review_comments: reviewCommentCount,
    maintainer_can_modify: pull.maintainerCanModify,
    commits: comparison.commits,
    additions: comparison.additions,
    deletions: comparison.deletions,
    changed_files: comparison.changedFiles,
  };
}

/** GitHub `issue-comment` object (also the `comment` of `issue_comment` webhooks); `html_url` is `<pull html_url>#issuecomment-<id>`. */
export function issueComment(baseUrl: string, comment: CommentRecord): Record<string, unknown> {
  const api = `${baseUrl}/repos/${comment.owner}/${comment.repo}`;
  const url = `${api}/issues/comments/${comment.id}`;
  return {
    id: comment.id,
    node_id: nodeId('IC', comment.id),
    url,
    html_url: `${baseUrl}/${comment.owner}/${comment.repo}/pull/${comment.issueNumber}#issuecomment-${comment.id}`,
    body: comment.body,
    user: simpleUser(baseUrl, comment.user),
    created_at: comment.createdAt,
    updated_at: comment.updatedAt,
    issue_url: `${api}/issues/${comment.issueNumber}`,
    author_association: association(comment.user, comment.owner),
    performed_via_github_app: null,
    reactions: reactions(url),
  };
}

/**
 * The `issue` of an `issue_comment` webhook on a pull request (PRs are issues on GitHub):
 * GitHub's issue object with `pull_request` set (`url`, `html_url`, `diff_url`, `patch_url`, `merged_at`).
 * Its `id` differs from the pull request's, as on GitHub.
 */
export function pullAsIssue(facts: RepoFacts, pull: PullRecord, commentCount: number): Record<string, unknown> {
  const { baseUrl, owner, repo } = facts;
  const api = `${baseUrl}/repos/${owner}/${repo}`;
  const url = `${api}/issues/${pull.number}`;
  const html = `${baseUrl}/${owner}/${repo}/pull/${pull.number}`;
  const id = stableId(`issue:${owner}/${repo}#${pull.number}`);
  return {
    url,
    repository_url: api,
    labels_url: `${url}/labels{/name}`,
    comments_url: `${url}/comments`,
    events_url: `${url}/events`,
    html_url: html,
    id,
    node_id: nodeId('PR', pull.id),
    number: pull.number,
    title: pull.title,
    user: simpleUser(baseUrl, pull.user),
    labels: [],
    state: pull.state,
    locked: false,
    assignee: null,
    assignees: [],
    milestone: null,
    comments: commentCount,
    created_at: pull.createdAt,
    updated_at: pull.updatedAt,
    closed_at: pull.closedAt,
    author_association: association(pull.user, owner),
    active_lock_reason: null,
    draft: pull.draft,
    pull_request: {
      url: `${api}/pulls/${pull.number}`,
      html_url: html,
      diff_url: `${html}.diff`,
      patch_url: `${html}.patch`,
      merged_at: pull.mergedAt,
    },
    body: pull.body,
    reactions: reactions(url),
    timeline_url: `${url}/timeline`,
    performed_via_github_app: null,
    state_reason: pull.state === 'closed' ? 'completed' : null,
  };
}

/**
 * GitHub `pull-request-review` object (`pulls/create-review`, `pulls/list-reviews`);
 * `html_url` is `<pull html_url>#pullrequestreview-<id>`, `submitted_at` absent while `PENDING`.
 * With `webhook` true, the `review` of a `pull_request_review` webhook: `state` lowercase
 * (`approved`, `changes_requested`, `commented`), as GitHub sends it there.
 */
export function pullRequestReview(baseUrl: string, review: ReviewRecord, webhook = false): Record<string, unknown> {
  const pullApi = `${baseUrl}/repos/${review.owner}/${review.repo}/pulls/${review.pullNumber}`;
  const html = `${baseUrl}/${review.owner}/${review.repo}/pull/${review.pullNumber}#pullrequestreview-${review.id}`;
  return {
    id: review.id,
    node_id: nodeId('PRR', review.id),
    user: simpleUser(baseUrl, review.user),
    body: review.body,
    state: webhook ? review.state.toLowerCase() : review.state,
    html_url: html,
    pull_request_url: pullApi,
    author_association: association(review.user, review.owner),
    _links: { html: { href: html }, pull_request: { href: pullApi } },
    ...(review.submittedAt === null ? {} : { submitted_at: review.submittedAt }),
    commit_id: review.commitId,
  };
}

/**
 * GitHub `pull-request-review-comment` object (`pulls/list-review-comments`, and the `comment`
 * of `pull_request_review_comment` webhooks, which also need `reactions`, `position` and the
 * `original_*`/`start_*` fields). `html_url` is `<pull html_url>#discussion_r<id>`.
 */
export function reviewComment(baseUrl: string, comment: ReviewCommentRecord): Record<string, unknown> {
  const api = `${baseUrl}/repos/${comment.owner}/${comment.repo}`;
  const url = `${api}/pulls/comments/${comment.id}`;
  const pullApi = `${api}/pulls/${comment.pullNumber}`;
  const html = `${baseUrl}/${comment.owner}/${comment.repo}/pull/${comment.pullNumber}#discussion_r${comment.id}`;
  return {
    url,
    pull_request_review_id: comment.reviewId,
    id: comment.id,
    node_id: nodeId('PRRC', comment.id),
    diff_hunk: comment.diffHunk,
    path: comment.path,
    position: comment.position,
    original_position: comment.position,
    commit_id: comment.commitId,
    original_commit_id: comment.commitId,
    user: simpleUser(baseUrl, comment.user),
    body: comment.body,
    created_at: comment.createdAt,
    updated_at: comment.updatedAt,
    html_url: html,
    pull_request_url: pullApi,
    author_association: association(comment.user, comment.owner),
    _links: { self: { href: url }, html: { href: html }, pull_request: { href: pullApi } },
    reactions: reactions(url),
    start_line: comment.startLine,
    original_start_line: comment.startLine,
    start_side: comment.startSide,
    line: comment.line,
    original_line: comment.line,
    side: comment.side,
    subject_type: 'line',
  };
}

/** Login of a GitHub no-reply address (`login@users.noreply.github.com`, `123+login@...`), else undefined. */
export function loginFromEmail(email: string): string | undefined {
  const match = /^(?:\d+\+)?([A-Za-z0-9-]+(?:\[bot\])?)@users\.noreply\.github\.com$/i.exec(email);
  return match?.[1];
}

/** GitHub's no-reply commit email of `login`: `<id>+<login>@users.noreply.github.com`. */
export function noreplyEmail(login: string): string {
  return `${stableId(`user:${login}`)}+${login}@users.noreply.github.com`;
}

/**
 * GitHub `commit` object (`pulls/list-commits` items, `commit` of `repos/get-branch`).
 * `author`/`committer` are users when the email is a GitHub no-reply address, else null
 * (GitHub maps emails to accounts; github-local knows no accounts). Dates are UTC.
 */
export function commit(baseUrl: string, owner: string, repo: string, info: CommitInfo): Record<string, unknown> {
  const api = `${baseUrl}/repos/${owner}/${repo}`;
  const user = (email: string) => {
    const login = loginFromEmail(email);
    return login === undefined ? null : simpleUser(baseUrl, login);
  };
  return {
    url: `${api}/commits/${info.sha}`,
    sha: info.sha,
    node_id: `C_${Buffer.from(`github-local:C:${owner}/${repo}:${info.sha}`).toString('base64url')}`,
    html_url: `${baseUrl}/${owner}/${repo}/commit/${info.sha}`,
    comments_url: `${api}/commits/${info.sha}/comments`,
    commit: {
      url: `${api}/git/commits/${info.sha}`,
      author: { name: info.author.name, email: info.author.email, date: utc(info.author.date) },
      committer: { name: info.committer.name, email: info.committer.email, date: utc(info.committer.date) },
      message: info.message,
      comment_count: 0,
      tree: { sha: info.tree, url: `${api}/git/trees/${info.tree}` },
      verification: { verified: false, reason: 'unsigned', signature: null, payload: null, verified_at: null },
    },
    author: user(info.author.email),
    committer: user(info.committer.email),
    parents: info.parents.map((sha) => ({
      sha,
      url: `${api}/commits/${sha}`,
      html_url: `${baseUrl}/${owner}/${repo}/commit/${sha}`,
    })),
  };
}

/** GitHub `branch-with-protection` object (`repos/get-branch`): never protected here. */
export function branchWithProtection(
  baseUrl: string,
  owner: string,
  repo: string,
  name: string,
  commitJson: Record<string, unknown>,
): Record<string, unknown> {
  const api = `${baseUrl}/repos/${owner}/${repo}/branches/${encodeURIComponent(name)}`;
  return {
    name,
    commit: commitJson,
    _links: { self: api, html: `${baseUrl}/${owner}/${repo}/tree/${name}` },
    protected: false,
    protection: { enabled: false, required_status_checks: { enforcement_level: 'off', contexts: [], checks: [] } },
    protection_url: `${api}/protection`,
  };
}

/** What is known about the configured GitHub App when rendering it. */
export interface AppFacts {
  id: number;
  slug: string;
  /** Login of the app's owner (the server's actor). */
  owner: string;
  /** Permissions granted to its installations (`app-permissions`). */
  permissions: Record<string, string>;
  /** Events its installations receive. */
  events: string[];
  /** ISO time the app and its installations claim to have been created (server start). */
  createdAt: string;
}

/** GitHub `integration` object (a GitHub App: `app` of check runs). */
export function integration(baseUrl: string, app: AppFacts): Record<string, unknown> {
  return {
    id: app.id,
    slug: app.slug,
    node_id: nodeId('A', app.id),
    client_id: `Iv1.${app.id.toString(16).padStart(16, '0')}`,
    owner: simpleUser(baseUrl, app.owner),
    name: app.slug,
    description: null,
    external_url: baseUrl,
    html_url: `${baseUrl}/apps/${app.slug}`,
    created_at: app.createdAt,
    updated_at: app.createdAt,
    permissions: app.permissions,
    events: app.events,
  };
}

/**
 * GitHub `installation` object (`apps/get-repo-installation`) of installation `inst`, as seen
 * from a repository of `owner` (the account shown when the installation covers every account, `*`).
 */
export function installation(
  baseUrl: string,
  app: AppFacts,
  inst: { id: number; owner: string; repos?: string[] },
  owner: string,
): Record<string, unknown> {
  const account = inst.owner === '*' ? owner : inst.owner;
  return {
    id: inst.id,
    account: simpleUser(baseUrl, account),
    repository_selection: inst.repos === undefined ? 'all' : 'selected',
    access_tokens_url: `${baseUrl}/app/installations/${inst.id}/access_tokens`,
    repositories_url: `${baseUrl}/installation/repositories`,
    html_url: `${baseUrl}/settings/installations/${inst.id}`,
    app_id: app.id,
    client_id: `Iv1.${app.id.toString(16).padStart(16, '0')}`,
    target_id: stableId(`user:${account}`),
    target_type: 'User',
    permissions: app.permissions,
    events: app.events,
    created_at: app.createdAt,
    updated_at: app.createdAt,
    single_file_name: null,
    has_multiple_single_files: false,
    single_file_paths: [],
    app_slug: app.slug,
    suspended_by: null,
    suspended_at: null,
    contact_email: null,
  };
}

/**
 * GitHub `check-run` object (`checks/create`, `checks/list-for-ref`, and `check_run` of
 * `check_run` webhooks). `pulls` are the open PRs whose head is the checked commit;
 * `app` the rendered {@link integration} or null. Without a given `external_id`/`details_url`,
 * GitHub reports `''` and the app's homepage (here the run's page when there is no app).
 */
export function checkRun(
  facts: RepoFacts,
  run: CheckRunRecord,
  app: Record<string, unknown> | null,
  pulls: PullRecord[],
): Record<string, unknown> {
  const { baseUrl, owner, repo } = facts;
  const api = `${baseUrl}/repos/${owner}/${repo}`;
  const repoRef = { id: stableId(`repo:${owner}/${repo}`), url: api, name: repo };
  const suiteId = stableId(`suite:${owner}/${repo}:${run.headSha}`);
  return {
    id: run.id,
    head_sha: run.headSha,
    node_id: nodeId('CR', run.id),
    // GitHub fills these in when the creator gave none: '' and the app's homepage.
    external_id: run.externalId ?? '',
    url: `${api}/check-runs/${run.id}`,
    html_url: `${baseUrl}/${owner}/${repo}/runs/${run.id}`,
    details_url: run.detailsUrl ?? (app ? String(app['external_url']) : `${baseUrl}/${owner}/${repo}/runs/${run.id}`),
    status: run.status,
    conclusion: run.conclusion,
    started_at: run.startedAt,
    completed_at: run.completedAt,
    output: {
      title: run.output.title,
      summary: run.output.summary,
      text: run.output.text,
      annotations_count: 0,
      annotations_url: `${api}/check-runs/${run.id}/annotations`,
    },
    name: run.name,
    check_suite: { id: suiteId },
    app,
    pull_requests: pulls.map((p) => ({
      id: p.id,
      number: p.number,
      url: `${api}/pulls/${p.number}`,
      head: { ref: p.head.ref, sha: p.head.sha, repo: repoRef },
      base: { ref: p.base.ref, sha: p.base.sha, repo: repoRef },
    })),
  };
}

/**
 * The `check_suite` GitHub puts in `check_run` webhooks (richer than the REST `{ id }`):
 * one suite per head commit, its status/conclusion those of `run`.
 */
export function webhookCheckSuite(
  facts: RepoFacts,
  run: CheckRunRecord,
  app: Record<string, unknown> | null,
  headBranch: string | null,
  pullRequests: unknown[],
): Record<string, unknown> {
  const { baseUrl, owner, repo } = facts;
  const id = stableId(`suite:${owner}/${repo}:${run.headSha}`);
  return {
    id,
    node_id: nodeId('CS', id),
    head_branch: headBranch,
    head_sha: run.headSha,
    status: run.status,
    conclusion: run.conclusion,
    url: `${baseUrl}/repos/${owner}/${repo}/check-suites/${id}`,
    before: null,
    after: run.headSha,
    pull_requests: pullRequests,
    app,
    created_at: run.createdAt,
    updated_at: run.completedAt ?? run.createdAt,
  };
}

/** `repository` of `push` webhooks: {@link repository} with owner `name`/`email`, times as Unix seconds. */
export function pushRepository(facts: RepoFacts): Record<string, unknown> {
  const base = repository(facts);
  const seconds = (iso: string) => Math.floor(Date.parse(iso) / 1000);
  return {
    ...base,
    owner: { name: facts.owner, email: null, ...(base['owner'] as Record<string, unknown>) },
    created_at: seconds(facts.createdAt),
    pushed_at: seconds(facts.pushedAt),
    stargazers: 0,
    master_branch: facts.defaultBranch,
  };
}

/** One entry of `commits`/`head_commit` of a `push` webhook (timestamps keep git's offset, as GitHub's do). */
export function pushCommit(
  baseUrl: string,
  owner: string,
  repo: string,
  info: CommitInfo,
  paths: { added: string[]; removed: string[]; modified: string[] },
): Record<string, unknown> {
  const person = (p: { name: string; email: string }) => {
    const username = loginFromEmail(p.email);
    return { name: p.name, email: p.email, ...(username === undefined ? {} : { username }) };
  };
  return {
    id: info.sha,
    tree_id: info.tree,
    distinct: true,
    message: info.message,
    timestamp: info.committer.date,
    url: `${baseUrl}/${owner}/${repo}/commit/${info.sha}`,
    author: person(info.author),
    committer: person(info.committer),
    added: paths.added,
    removed: paths.removed,
    modified: paths.modified,
  };
}
