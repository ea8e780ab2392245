import { InvalidInputError } from '@remediation/errors';
import { z } from 'zod';
import type { ProviderEvent } from '../provider.js';

/**
 * GitHub webhook payloads read into provider events. Only the fields pr-service uses are read
 * (GitHub docs "Webhook events and payloads"; shapes as in @octokit/webhooks-examples); other
 * fields are ignored.
 */

const Repository = z.object({ full_name: z.string().min(1) });
const User = z.object({ login: z.string() }).nullish();

const Push = z.object({ ref: z.string(), repository: Repository });

const PullRequestClosed = z.object({
  repository: Repository,
  pull_request: z.object({ number: z.number().int(), merged: z.boolean().nullish() }),
});

const PullRequestSynchronize = z.object({
  repository: Repository,
  pull_request: z.object({ number: z.number().int(), head: z.object({ sha: z.string() }) }),
});

const ReviewSubmitted = z.object({
  repository: Repository,
  pull_request: z.object({ number: z.number().int() }),
  review: z.object({ id: z.number().int(), user: User, body: z.string().nullish(), state: z.string() }),
});

const ReviewCommentCreated = z.object({
  repository: Repository,
  pull_request: z.object({ number: z.number().int() }),
  comment: z.object({ id: z.number().int(), user: User, body: z.string(), path: z.string().nullish(), line: z.number().int().nullish() }),
});

const IssueCommentCreated = z.object({
  repository: Repository,
  issue: z.object({ number: z.number().int(), pull_request: z.unknown().optional() }),
  comment: z.object({ id: z.number().int(), user: User, body: z.string().nullish() }),
});

const CheckRunEvent = z.object({ repository: Repository, check_run: z.object({ head_sha: z.string() }) });
const CheckSuiteEvent = z.object({ repository: Repository, check_suite: z.object({ head_sha: z.string() }) });

/**
 * Reads `payload` with `schema`.
 * @throws InvalidInputError `WEBHOOK_INVALID` naming the event and the fields that were wrong.
 */
function read<T extends z.ZodType>(schema: T, event: string, action: string | null, payload: Record<string, unknown>): z.infer<T> {
  const parsed = schema.safeParse(payload);
  if (parsed.success) return parsed.data;
  const what = parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ');
  throw new InvalidInputError('WEBHOOK_INVALID', `${event}${action ? `.${action}` : ''} payload: ${what}`);
}

/**
 * The provider events of one GitHub webhook delivery: `push` to a branch; `pull_request`
 * `closed` (merged or not) and `synchronize` (its branch was pushed to); `pull_request_review`
 * `submitted`; `pull_request_review_comment` `created`; `issue_comment` `created` on a pull
 * request; `check_run` / `check_suite` (any action). Anything else has no events.
 * @throws InvalidInputError `WEBHOOK_INVALID` when the payload of one of these lacks a field used.
 */
export function githubWebhookEvents(event: string, payload: Record<string, unknown>): ProviderEvent[] {
  const action = typeof payload['action'] === 'string' ? payload['action'] : null;
  switch (event) {
    case 'push': {
      const p = read(Push, event, action, payload);
      if (!p.ref.startsWith('refs/heads/')) return []; // a tag
      return [{ type: 'branch_pushed', repository: p.repository.full_name, branch: p.ref.slice('refs/heads/'.length) }];
    }
    case 'pull_request': {
      if (action === 'closed') {
        const p = read(PullRequestClosed, event, action, payload);
        return [{ type: 'pull_request_closed', repository: p.repository.full_name, number: p.pull_request.number, merged: p.pull_request.merged === true }];
      }
      if (action === 'synchronize') {
        const p = read(PullRequestSynchronize, event, action, payload);
        return [{ type: 'pull_request_pushed', repository: p.repository.full_name, number: p.pull_request.number, headSha: p.pull_request.head.sha }];
      }
      return [];
    }
    case 'pull_request_review': {
      if (action !== 'submitted') return [];
      const p = read(ReviewSubmitted, event, action, payload);
      const r = p.review;
      return [
        {
          type: 'review_submitted',
          repository: p.repository.full_name,
          number: p.pull_request.number,
          // Webhooks say `changes_requested`, the REST API `CHANGES_REQUESTED`.
          review: { kind: 'review', providerId: r.id, author: r.user?.login ?? '', body: r.body ?? '', state: r.state.toUpperCase() },
        },
      ];
    }
    case 'pull_request_review_comment': {
      if (action !== 'created') return [];
      const p = read(ReviewCommentCreated, event, action, payload);
      const c = p.comment;
      return [
        {
          type: 'comment_created',
          repository: p.repository.full_name,
          number: p.pull_request.number,
          comment: { kind: 'review_comment', providerId: c.id, author: c.user?.login ?? '', body: c.body, path: c.path ?? null, line: c.line ?? null },
        },
      ];
    }
    case 'issue_comment': {
      if (action !== 'created') return [];
      const p = read(IssueCommentCreated, event, action, payload);
      if (!p.issue.pull_request) return []; // a comment on an issue, not on a pull request
      const c = p.comment;
      return [
        {
          type: 'comment_created',
          repository: p.repository.full_name,
          number: p.issue.number,
          comment: { kind: 'issue_comment', providerId: c.id, author: c.user?.login ?? '', body: c.body ?? '' },
        },
      ];
    }
    case 'check_run': {
      const p = read(CheckRunEvent, event, action, payload);
      return [{ type: 'checks_changed', repository: p.repository.full_name, headSha: p.check_run.head_sha }];
    }
    case 'check_suite': {
      const p = read(CheckSuiteEvent, event, action, payload);
      return [{ type: 'checks_changed', repository: p.repository.full_name, headSha: p.check_suite.head_sha }];
    }
    default:
      return [];
  }
}
