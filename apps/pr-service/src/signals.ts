import {
  type Database,
  type PullRequestRecord,
  findPullRequestByNumber,
  listOpenPullRequests,
  listPullRequestsAtHead,
} from '@remediation/persistence';
import type { ProviderEvent, ProviderFeedback, ProviderRepository } from './provider.js';

/**
 * The normaliser: webhook deliveries and polling passes become one typed signal union, each signal
 * about one of pr-service's PR records; the maintainer has one reaction per signal type. A signal
 * says what may have happened; its reaction checks (e.g. that the base really moved).
 */
export type PullRequestSignal =
  /**
   * The base branch may have moved (a push to it, a polling pass, or an update that finished):
   * the reaction compares its head with the base of the PR's version and asks for a rebase.
   * `headSha`: the PR's head when the source read it already.
   */
  | { type: 'base_moved'; pullRequest: PullRequestRecord; headSha?: string }
  /** The PR branch's head is `headSha` now: one that is none of our versions means a person pushed to it. */
  | { type: 'head_pushed'; pullRequest: PullRequestRecord; headSha: string }
  /** A review was submitted (stored once and triaged). */
  | { type: 'review_submitted'; pullRequest: PullRequestRecord; review: ProviderFeedback }
  /** A comment was created, on the conversation or on a line of the diff (stored once and triaged). */
  | { type: 'comment_created'; pullRequest: PullRequestRecord; comment: ProviderFeedback }
  /** Check runs of the PR's head changed: they are read again and shown on the PR. */
  | { type: 'checks_changed'; pullRequest: PullRequestRecord }
  /** The pull request was merged, or closed without merging: the execution ends. */
  | { type: 'closed'; pullRequest: PullRequestRecord; merged: boolean };

/**
 * The signals of one webhook delivery's events, each on the PR records it is about: a push to a
 * branch, on the open pull requests onto it; a check run change, on the records whose head is that
 * commit; anything else, on the record of its pull request number. Events about pull requests
 * this service does not know have no signals.
 */
export async function webhookSignals(db: Database, events: readonly ProviderEvent[]): Promise<PullRequestSignal[]> {
  const signals: PullRequestSignal[] = [];
  for (const event of events) {
    switch (event.type) {
      case 'branch_pushed':
        for (const pullRequest of await listOpenPullRequests(db, { repository: event.repository, baseBranch: event.branch })) {
          signals.push({ type: 'base_moved', pullRequest });
        }
        break;
      case 'checks_changed':
        for (const pullRequest of await listPullRequestsAtHead(db, event.repository, event.headSha)) signals.push({ type: 'checks_changed', pullRequest });
        break;
      default: {
        const pullRequest = await findPullRequestByNumber(db, event.repository, event.number);
        if (!pullRequest) break;
        if (event.type === 'pull_request_closed') signals.push({ type: 'closed', pullRequest, merged: event.merged });
        else if (event.type === 'pull_request_pushed') signals.push({ type: 'head_pushed', pullRequest, headSha: event.headSha });
        else if (event.type === 'review_submitted') signals.push({ type: 'review_submitted', pullRequest, review: event.review });
        else signals.push({ type: 'comment_created', pullRequest, comment: event.comment });
      }
    }
  }
  return signals;
}

/**
 * The signals of one polling pass over an open pull request, read from the provider as they are
 * consumed (the reaction to one runs before the next is read): merged or closed (then nothing
 * else); otherwise its head, its base, every review, review comment and comment, and its checks.
 * A record without a number (not opened on the provider) has none.
 */
export async function* pollSignals(pullRequest: PullRequestRecord, repository: ProviderRepository): AsyncGenerator<PullRequestSignal> {
  const number = pullRequest.number;
  if (number == null) return; // not opened on the provider
  const now = await repository.get(number);
  if (now.state !== 'open') {
    yield { type: 'closed', pullRequest, merged: now.state === 'merged' };
    return;
  }
  yield { type: 'head_pushed', pullRequest, headSha: now.headSha };
  yield { type: 'base_moved', pullRequest, headSha: now.headSha };
  for (const review of await repository.listReviews(number)) yield { type: 'review_submitted', pullRequest, review };
  for (const comment of await repository.listReviewComments(number)) yield { type: 'comment_created', pullRequest, comment };
  for (const comment of await repository.listComments(number)) yield { type: 'comment_created', pullRequest, comment };
  yield { type: 'checks_changed', pullRequest };
}
