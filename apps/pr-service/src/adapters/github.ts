import { InvalidInputError, TransientError, describeError } from '@remediation/errors';
import { type GithubClient, type GithubOctokit, githubRequestError, verifyWebhook } from '@remediation/github';
import { commentTag } from '../comments.js';
import type { PullRequestProvider, ProviderRepository, RemotePullRequest } from '../provider.js';
import { githubWebhookEvents } from './github-webhooks.js';

/** Items per page of a list (GitHub's maximum); `octokit.paginate` follows the `Link` header to the next. */
const PER_PAGE = 100;

/** `owner/name` of a GitHub repository. */
const REPOSITORY = /^([A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)\/([A-Za-z0-9._-]+)$/;

/** A pull request as GitHub's REST API returns it (`pulls/get`, `pulls/create`: `merged`; `pulls/list`: `merged_at`). */
interface GithubPull {
  number: number;
  html_url: string;
  state: string;
  merged?: boolean | null;
  merged_at: string | null;
  head: { sha: string };
}

function remote(pull: GithubPull): RemotePullRequest {
  const merged = typeof pull.merged === 'boolean' ? pull.merged : pull.merged_at !== null;
  return { number: pull.number, url: pull.html_url, state: pull.state === 'open' ? 'open' : merged ? 'merged' : 'closed', headSha: pull.head.sha };
}

/**
 * The GitHub adapter of the {@link PullRequestProvider}: libs/github's client (an installation
 * token minted per connection, scoped to the repository; retry and throttling), Octokit's
 * pagination for every list (GitHub docs "Using pagination in the REST API"), webhook signatures
 * checked by @octokit/webhooks.
 */
export function createGithubProvider(github: GithubClient): PullRequestProvider {
  return {
    name: 'github',
    async connect(repository) {
      const match = REPOSITORY.exec(repository);
      if (!match) throw new InvalidInputError('REPOSITORY_INVALID', `repository ${JSON.stringify(repository)} is not owner/name`);
      const [, owner, repo] = match as unknown as [string, string, string];
      return classifyFailures(githubRepository(await github.forRepository(owner, repo), owner, repo));
    },
    async readWebhook(secret, rawBody, headers) {
      const hook = await verifyWebhook(secret, rawBody, headers);
      const action = hook.payload['action'];
      return { id: hook.deliveryId, event: hook.event, action: typeof action === 'string' ? action : null, events: githubWebhookEvents(hook.event, hook.payload) };
    },
    commitUrl: (pullRequestUrl, sha) => `${pullRequestUrl}/commits/${sha}`,
  };
}

/**
 * The repository with every request's failure classified (`githubRequestError` of
 * @remediation/github): a status a retry cannot change (400, 401, 403 other than a rate limit,
 * 404, 410, 414, 422) is `GITHUB_REQUEST_REJECTED`, not retryable; 408, 429, 5xx, rate limits and
 * network errors are `GITHUB_UNAVAILABLE`, retryable. Project errors pass through.
 */
function classifyFailures(repository: ProviderRepository): ProviderRepository {
  const wrapped: Record<string, unknown> = { ...repository };
  for (const [name, value] of Object.entries(repository)) {
    if (typeof value !== 'function') continue;
    wrapped[name] = async (...args: unknown[]) => {
      try {
        return await (value as (...a: unknown[]) => Promise<unknown>).apply(repository, args);
      } catch (err) {
        throw githubRequestError(err, `GitHub ${name} on ${repository.repository}`);
      }
    };
  }
  return wrapped as unknown as ProviderRepository;
}

/** One repository through one Octokit (one token). */
function githubRepository(octokit: GithubOctokit, owner: string, repo: string): ProviderRepository {
  const at = { owner, repo };
  return {
    repository: `${owner}/${repo}`,

    async open(draft) {
      try {
        const res = await octokit.rest.pulls.create({ ...at, title: draft.title, head: draft.headBranch, base: draft.baseBranch, body: draft.body, draft: draft.draft });
        return remote(res.data);
      } catch (err) {
        const status = (err as { status?: number }).status;
        const message = describeError(err);
        if (status === 422 && /already exists/i.test(message)) {
          const existing = await octokit.rest.pulls.list({ ...at, state: 'open', head: `${owner}:${draft.headBranch}`, base: draft.baseBranch });
          if (!existing.data[0]) throw new TransientError('PULL_REQUEST_LOOKUP_FAILED', `GitHub says a PR exists for ${draft.headBranch} but none was listed`);
          return remote(existing.data[0]);
        }
        if (status !== undefined && status >= 400 && status < 500 && status !== 429) {
          throw new InvalidInputError('PULL_REQUEST_REJECTED', `GitHub refused to open the pull request (${status}): ${message}`);
        }
        throw new TransientError('GITHUB_UNAVAILABLE', `opening the pull request failed: ${message}`, { cause: err });
      }
    },

    async update(number, change) {
      await octokit.rest.pulls.update({ ...at, pull_number: number, body: change.body });
    },

    async comment(number, key, body) {
      const tag = commentTag(key);
      const existing = await octokit.paginate(octokit.rest.issues.listComments, { ...at, issue_number: number, per_page: PER_PAGE });
      const found = existing.find((c) => (c.body ?? '').includes(tag));
      if (found) return found.html_url;
      const created = await octokit.rest.issues.createComment({ ...at, issue_number: number, body: `${body}\n\n${tag}` });
      return created.data.html_url;
    },

    async get(number) {
      return remote((await octokit.rest.pulls.get({ ...at, pull_number: number })).data);
    },

    async listReviews(number) {
      const reviews = await octokit.paginate(octokit.rest.pulls.listReviews, { ...at, pull_number: number, per_page: PER_PAGE });
      return reviews.map((r) => ({ kind: 'review' as const, providerId: r.id, author: r.user?.login ?? '', body: r.body ?? '', state: r.state.toUpperCase() }));
    },

    async listReviewComments(number) {
      const comments = await octokit.paginate(octokit.rest.pulls.listReviewComments, { ...at, pull_number: number, per_page: PER_PAGE });
      return comments.map((c) => ({ kind: 'review_comment' as const, providerId: c.id, author: c.user?.login ?? '', body: c.body, path: c.path, line: c.line ?? null }));
    },

    async listComments(number) {
      const comments = await octokit.paginate(octokit.rest.issues.listComments, { ...at, issue_number: number, per_page: PER_PAGE });
      return comments.map((c) => ({ kind: 'issue_comment' as const, providerId: c.id, author: c.user?.login ?? '', body: c.body ?? '' }));
    },

    async listCommits(number) {
      // GitHub lists at most 250 commits of a pull request here.
      const commits = await octokit.paginate(octokit.rest.pulls.listCommits, { ...at, pull_number: number, per_page: PER_PAGE });
      return commits.map((c) => ({
        sha: c.sha,
        author: { name: c.commit.author?.name ?? null, email: c.commit.author?.email ?? null },
        committer: { email: c.commit.committer?.email ?? null },
      }));
    },

    async listCheckRuns(sha) {
      const runs = await octokit.paginate(octokit.rest.checks.listForRef, { ...at, ref: sha, per_page: PER_PAGE });
      return runs.map((r) => ({
        id: r.id,
        name: r.name,
        status: r.status,
        conclusion: r.conclusion ?? null,
        headSha: r.head_sha,
        url: r.html_url ?? null,
        app: r.app?.slug ?? null,
        title: r.output?.title ?? null,
        summary: r.output?.summary ?? null,
      }));
    },

    async branchHead(branch) {
      return (await octokit.rest.repos.getBranch({ ...at, branch })).data.commit.sha;
    },
  };
}
