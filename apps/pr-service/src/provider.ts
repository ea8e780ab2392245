import type { FeedbackItem } from '@remediation/agent';
import type { PullRequestCheck } from '@remediation/contracts';

/**
 * The pull-request provider seam (in the style of Renovate's `Platform`,
 * renovatebot/renovate lib/modules/platform/types.ts): what pr-service asks of the service hosting
 * the repository, in the field's words and without the provider's types. GitHub is one adapter
 * (adapters/github.ts). Lists return every item (the adapter follows the provider's pagination).
 */

/** A provider's name, as stored on the PR record (`pull_requests.provider`). */
export type ProviderName = 'github';

/** What a pull request is opened with. */
export interface PullRequestDraft {
  title: string;
  /** Markdown. */
  body: string;
  /** The branch with the patch version (pushed before). */
  headBranch: string;
  /** The branch it merges into. */
  baseBranch: string;
  draft: boolean;
}

/** A pull request as the provider shows it now: its head and merge state. */
export interface RemotePullRequest {
  number: number;
  /** The page of the pull request, for people. */
  url: string;
  /** `open`, `merged`, or `closed` without merging. */
  state: 'open' | 'closed' | 'merged';
  /** The commit at the head of its branch. */
  headSha: string;
}

/** A comment, review or failing check read from the provider, with the provider's id (unique per kind). */
export interface ProviderFeedback extends FeedbackItem {
  providerId: number;
}

/** A commit on a pull request's branch: who wrote it and who committed it. */
export interface PullRequestCommit {
  sha: string;
  author: { name: string | null; email: string | null };
  committer: { email: string | null };
}

/** A check run (CI) of a commit. */
export interface CheckRun extends PullRequestCheck {
  /** The provider's id of the run. */
  id: number;
  /** The app that ran it (e.g. `github-actions`), or null. */
  app: string | null;
  /** Its output's title and summary, when it has one. */
  title: string | null;
  summary: string | null;
}

/**
 * One repository on the provider, for one operation or one pass over a pull request: the
 * credentials are obtained once, when it is connected (GitHub App: an installation token minted
 * for it, scoped to the repository, never stored).
 */
export interface ProviderRepository {
  /** `owner/name`. */
  readonly repository: string;
  /**
   * Opens a pull request; when one is already open for the same head and base (a redelivered
   * command after the provider accepted it), returns that one.
   * @throws InvalidInputError `PULL_REQUEST_REJECTED` when the provider refuses it (4xx);
   *   TransientError when the provider cannot be reached or answers 5xx/429.
   */
  open(draft: PullRequestDraft): Promise<RemotePullRequest>;
  /** Replaces the body (Markdown) of pull request `number`. */
  update(number: number, change: { body: string }): Promise<void>;
  /**
   * Comments (or replies) on pull request `number` once per `key`: a comment carrying the key's
   * marker already there (a redelivered command) means it was said.
   * @returns the comment's URL, new or existing.
   */
  comment(number: number, key: string, body: string): Promise<string>;
  /** Pull request `number` now: head and merge state. */
  get(number: number): Promise<RemotePullRequest>;
  /** Every review of pull request `number` (state upper-case: `APPROVED`, `CHANGES_REQUESTED`, `COMMENTED`, …). */
  listReviews(number: number): Promise<ProviderFeedback[]>;
  /** Every review comment (on a line of the diff) of pull request `number`. */
  listReviewComments(number: number): Promise<ProviderFeedback[]>;
  /** Every comment on the conversation of pull request `number`. */
  listComments(number: number): Promise<ProviderFeedback[]>;
  /** The commits of pull request `number`, oldest first. */
  listCommits(number: number): Promise<PullRequestCommit[]>;
  /** The latest check run of each name on commit `sha`. */
  listCheckRuns(sha: string): Promise<CheckRun[]>;
  /** The commit at the head of `branch`. */
  branchHead(branch: string): Promise<string>;
}

/**
 * What a webhook delivery says happened, at the provider's coordinates (repository, number,
 * branch, commit); pr-service's normaliser (signals.ts) resolves them to its PR records.
 */
export type ProviderEvent =
  /** A push to `branch` (the base branch of some pull requests may have moved). */
  | { type: 'branch_pushed'; repository: string; branch: string }
  /** Pull request `number` was merged, or closed without merging. */
  | { type: 'pull_request_closed'; repository: string; number: number; merged: boolean }
  /** The branch of pull request `number` was pushed to; its head is `headSha` now. */
  | { type: 'pull_request_pushed'; repository: string; number: number; headSha: string }
  /** A review was submitted on pull request `number`. */
  | { type: 'review_submitted'; repository: string; number: number; review: ProviderFeedback }
  /** A comment (conversation, or on a line of the diff) was created on pull request `number`. */
  | { type: 'comment_created'; repository: string; number: number; comment: ProviderFeedback }
  /** A check run (or suite) of commit `headSha` was created, changed or completed. */
  | { type: 'checks_changed'; repository: string; headSha: string };

/** A verified webhook delivery, read into provider events. */
export interface ProviderDelivery {
  /** Unique per delivery, the same on a redelivery (GitHub: `X-GitHub-Delivery`). */
  id: string;
  /** The provider's event name and action (e.g. `pull_request_review`, `submitted`), for logs and records. */
  event: string;
  action: string | null;
  /** What happened; empty when nothing pr-service acts on. */
  events: ProviderEvent[];
}

/** A pull-request provider (GitHub is one adapter). */
export interface PullRequestProvider {
  readonly name: ProviderName;
  /**
   * Connects to repository `owner/name` for one operation or one pass over a pull request.
   * @throws InvalidInputError `REPOSITORY_INVALID` for a name that is not `owner/name`; the
   *   adapter's errors when credentials cannot be obtained (GitHub: `GITHUB_AUTH_UNAVAILABLE`,
   *   `GITHUB_APP_NOT_INSTALLED`).
   */
  connect(repository: string): Promise<ProviderRepository>;
  /**
   * Verifies a webhook delivery (signature over the raw body under `secret`) and reads it.
   * @param headers lower-cased request headers.
   * @throws InvalidInputError `WEBHOOK_SIGNATURE_INVALID` (missing or wrong signature),
   *   `WEBHOOK_INVALID` (missing headers, a body that is not a JSON object, or an event pr-service
   *   acts on whose payload lacks a field it needs).
   */
  readWebhook(secret: string, rawBody: string, headers: Record<string, string | string[] | undefined>): Promise<ProviderDelivery>;
  /** The page showing commit `sha` within the pull request at `pullRequestUrl`. */
  commitUrl(pullRequestUrl: string, sha: string): string;
}
