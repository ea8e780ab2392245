import { type AgentConfig, type FeedbackItem, triageFeedback } from '@remediation/agent';
import { FEEDBACK_TRIAGED_SUBJECT, FeedbackTriagedEvent, type PullRequestCheck } from '@remediation/contracts';
import { InvalidTransitionError, describeError } from '@remediation/errors';
import type { GithubClient, GithubOctokit, VerifiedWebhook } from '@remediation/github';
import {
  type Database,
  ExecutionEntity,
  PatchVersionEntity,
  PullRequestEntity,
  ReviewFeedbackEntity,
  applyTransition,
  recordHistory,
  startFeedbackIteration,
} from '@remediation/persistence';
import type { Logger } from 'pino';
import { MARKER, commentOnce } from './comments.js';

/** A pull request record as the maintainer reads it. */
type PullRecord = Record<string, any>;

/** An Octokit for one PR's repository (its token minted for the operation), with owner and name. */
type RepoClient = { octokit: GithubOctokit; owner: string; repo: string };

/** A feedback item with the provider's id. */
export interface ProviderFeedback extends FeedbackItem {
  providerId: number;
}

/** Dependencies of the {@link PullRequestMaintainer}. */
export interface MaintainerDeps {
  db: Database;
  github: GithubClient;
  agent: AgentConfig;
  worker: string;
  logger: Logger;
  /** Logins of this service (its comments are never feedback). */
  botLogins: string[];
  /** Commit author e-mail of git-gateway's commits: any other author or committer is a person. */
  commitAuthorEmail: string;
  /** Feed failing check runs of the head SHA to the agent as feedback. */
  feedFailingChecks: boolean;
  /** A triage claimed longer ago than this (ms) and not finished is retried; default 60 000. */
  triageRetryMs?: number;
}

const OPEN_STATES = ['open', 'rebase_failed'];


/**
 * Keeps open pull requests mergeable and answers their reviewers, from webhooks or polling (the
 * same code path): learns that the base branch moved and asks for a rebase (`rebase.requested`),
 * unless a person pushed to the branch (then it stops and says so on the PR); stores every comment,
 * review and check result once (by the provider's id), triages it (rules, then the agent), and
 * starts an iteration for actionable feedback (`feedback.received` → `changes_requested`); records
 * merged/closed PRs (`pull_request.closed`) and check runs.
 */
export class PullRequestMaintainer {
  private readonly triageRetryMs: number;

  constructor(private readonly deps: MaintainerDeps) {
    this.triageRetryMs = deps.triageRetryMs ?? 60_000;
  }

  /**
   * Handles one verified webhook delivery. A delivery id seen before has no effect.
   * @returns what was done, for the HTTP answer and logs.
   */
  async handleWebhook(hook: VerifiedWebhook): Promise<'duplicate' | 'ignored' | 'handled'> {
    const p = hook.payload as Record<string, any>;
    const conn = this.deps.db.em().getConnection();
    const seen = await conn.execute<unknown[]>('select 1 from webhook_deliveries where delivery_id = ?', [hook.deliveryId]);
    if (seen.length > 0) return 'duplicate';
    // Recorded after it was handled: a delivery that failed half-way (crash, database down) is
    // handled again when GitHub redelivers it. Every effect below is idempotent on its own
    // (feedback by the provider's id, transitions guarded by state), so a concurrent duplicate
    // has no second effect either.
    const outcome = await this.dispatch(hook.event, p);
    await conn.execute('insert into webhook_deliveries (delivery_id, event, action) values (?, ?, ?) on conflict do nothing', [
      hook.deliveryId,
      hook.event,
      typeof p['action'] === 'string' ? p['action'] : null,
    ]);
    return outcome;
  }

  private async dispatch(event: string, p: Record<string, any>): Promise<'ignored' | 'handled'> {
    const repository = String(p['repository']?.full_name ?? '');
    switch (event) {
      case 'push': {
        const branch = String(p['ref'] ?? '').replace(/^refs\/heads\//, '');
        const prs = await this.deps.db.em().find(PullRequestEntity, { repository, baseBranch: branch, state: { $in: OPEN_STATES as never } });
        for (const pr of prs) await this.checkBase(pr);
        return prs.length ? 'handled' : 'ignored';
      }
      case 'pull_request': {
        const pr = await this.find(repository, p['pull_request']?.number);
        if (!pr) return 'ignored';
        if (p['action'] === 'closed') await this.closed(pr, Boolean(p['pull_request']?.merged));
        else if (p['action'] === 'synchronize') await this.checkForeignHead(pr, String(p['pull_request']?.head?.sha ?? ''));
        return 'handled';
      }
      case 'pull_request_review': {
        const pr = await this.find(repository, p['pull_request']?.number);
        if (!pr || p['action'] !== 'submitted') return 'ignored';
        const r = p['review'];
        await this.feedback(pr, { kind: 'review', providerId: Number(r.id), author: String(r.user?.login ?? ''), body: String(r.body ?? ''), state: String(r.state ?? '').toUpperCase() });
        return 'handled';
      }
      case 'pull_request_review_comment': {
        const pr = await this.find(repository, p['pull_request']?.number);
        if (!pr || p['action'] !== 'created') return 'ignored';
        const c = p['comment'];
        await this.feedback(pr, { kind: 'review_comment', providerId: Number(c.id), author: String(c.user?.login ?? ''), body: String(c.body ?? ''), path: c.path ?? null, line: c.line ?? null });
        return 'handled';
      }
      case 'issue_comment': {
        if (!p['issue']?.pull_request || p['action'] !== 'created') return 'ignored';
        const pr = await this.find(repository, p['issue']?.number);
        if (!pr) return 'ignored';
        const c = p['comment'];
        await this.feedback(pr, { kind: 'issue_comment', providerId: Number(c.id), author: String(c.user?.login ?? ''), body: String(c.body ?? '') });
        return 'handled';
      }
      case 'check_run':
      case 'check_suite': {
        const sha = String(p['check_run']?.head_sha ?? p['check_suite']?.head_sha ?? '');
        const prs = await this.deps.db.em().find(PullRequestEntity, { repository, headSha: sha });
        for (const pr of prs) await this.checks(pr);
        return prs.length ? 'handled' : 'ignored';
      }
      default:
        return 'ignored';
    }
  }

  /**
   * One polling pass over every open pull request (the fallback when no webhook is configured):
   * PR state, base branch, reviews and comments, check runs; then pending actionable feedback.
   */
  async pollOnce(): Promise<void> {
    const prs = await this.deps.db.em().find(PullRequestEntity, { state: { $in: OPEN_STATES as never }, number: { $ne: null } });
    for (const pr of prs) {
      try {
        // One client (one token) for the whole pass over this PR.
        const gh = await this.client(pr);
        const { octokit, owner, repo } = gh;
        const remote = (await octokit.rest.pulls.get({ owner, repo, pull_number: pr.number! })).data;
        if (remote.state === 'closed') {
          await this.closed(pr, Boolean(remote.merged));
          continue;
        }
        await this.checkForeignHead(pr, remote.head.sha, gh);
        await this.checkBase(pr, { gh, prHead: remote.head.sha });
        for (const r of (await octokit.rest.pulls.listReviews({ owner, repo, pull_number: pr.number!, per_page: 100 })).data) {
          await this.feedback(pr, { kind: 'review', providerId: r.id, author: r.user?.login ?? '', body: r.body ?? '', state: r.state });
        }
        for (const c of (await octokit.rest.pulls.listReviewComments({ owner, repo, pull_number: pr.number!, per_page: 100 })).data) {
          await this.feedback(pr, { kind: 'review_comment', providerId: c.id, author: c.user?.login ?? '', body: c.body, path: c.path, line: c.line ?? null });
        }
        for (const c of (await octokit.rest.issues.listComments({ owner, repo, issue_number: pr.number!, per_page: 100 })).data) {
          await this.feedback(pr, { kind: 'issue_comment', providerId: c.id, author: c.user?.login ?? '', body: c.body ?? '' });
        }
        await this.checks(pr, gh);
      } catch (err) {
        this.deps.logger.warn({ pullRequestId: pr.id, err: describeError(err) }, 'polling a pull request failed; next pass retries');
      }
    }
    await this.startPending();
  }

  /**
   * After an update of the pull request finished or failed: starts feedback that waited, then
   * catches a base branch move that happened while the execution was busy (a webhook is not
   * repeated, so without polling nothing else would). Errors are logged, not thrown: the update
   * itself is done.
   */
  async afterUpdate(pullRequestId: string): Promise<void> {
    try {
      await this.startPending();
      const pr = await this.deps.db.em().findOne(PullRequestEntity, { id: pullRequestId });
      if (pr && OPEN_STATES.includes(pr.state)) await this.checkBase(pr);
    } catch (err) {
      this.deps.logger.warn({ err: describeError(err), pullRequestId }, 'after-update pass failed; the next event or pass retries');
    }
  }

  /**
   * Finishes what feedback handling left: triages stored items whose triage never finished (a
   * crash, or the model failing after its retries) and starts the iterations of actionable
   * feedback that arrived while its execution was busy. Run by every polling pass, after each PR
   * update, and on its own timer when polling is off.
   */
  async startPending(): Promise<void> {
    const em = this.deps.db.em();
    // The handler that stored an item triages it at once; only items left for longer are taken over.
    const cutoff = new Date(Date.now() - this.triageRetryMs);
    const untriaged = await em.find(
      ReviewFeedbackEntity,
      {
        actionable: null,
        $or: [{ triageClaimedAt: null, createdAt: { $lt: cutoff } }, { triageClaimedAt: { $lt: cutoff } }],
      },
      { orderBy: { id: 'asc' } },
    );
    for (const row of untriaged) {
      const pr = await em.findOne(PullRequestEntity, { id: row.pullRequestId });
      if (!pr || !OPEN_STATES.includes(pr.state)) continue;
      const item: ProviderFeedback = {
        kind: row.kind as ProviderFeedback['kind'],
        providerId: row.providerId,
        author: row.author,
        body: row.body,
        state: row.state ?? null,
        ...(row.path ? { path: row.path } : {}),
        ...(row.line ? { line: row.line } : {}),
      };
      try {
        await this.triage(row.id, pr, item, true);
      } catch (err) {
        this.deps.logger.warn({ err: describeError(err), feedbackId: row.id }, 'triage failed; retried later');
      }
    }
    const pending = await em.find(ReviewFeedbackEntity, { actionable: true, feedbackId: null }, { orderBy: { id: 'asc' } });
    for (const item of pending) {
      const exec = await em.findOne(ExecutionEntity, { id: item.executionId });
      if (exec?.state === 'pr_opened') await this.startIteration(item);
    }
  }

  private async find(repository: string, number: unknown): Promise<PullRecord | null> {
    if (typeof number !== 'number') return null;
    return (await this.deps.db.em().findOne(PullRequestEntity, { repository, number })) as PullRecord | null;
  }

  private async client(pr: PullRecord): Promise<RepoClient> {
    const [owner, repo] = pr.repository.split('/') as [string, string];
    return { octokit: await this.deps.github.forRepository(owner, repo), owner, repo };
  }

  /**
   * When the base branch's head is not the base of the PR's version, asks for a rebase, unless
   * rebasing stopped or the execution is busy (the next event or pass asks again).
   * @param known the client and PR head SHA when the caller already has them (a polling pass).
   */
  async checkBase(pr: PullRecord, known?: { gh: RepoClient; prHead: string }): Promise<void> {
    if (pr.rebaseStopped || pr.number == null) return;
    const exec = await this.deps.db.em().findOne(ExecutionEntity, { id: pr.executionId });
    if (exec?.state !== 'pr_opened' || exec.pullRequestId !== pr.id) return;
    const gh = known?.gh ?? (await this.client(pr));
    const { octokit, owner, repo } = gh;
    const head = (await octokit.rest.repos.getBranch({ owner, repo, branch: pr.baseBranch })).data.commit.sha;
    const version = await this.deps.db.em().findOne(PatchVersionEntity, { executionId: pr.executionId, version: pr.patchVersion });
    if (!version || version.baseCommit === head) return;
    // A rebase or re-application onto this very head already failed (said on the PR): wait for
    // the next move instead of failing (and commenting) again on every event or poll.
    if (pr.state === 'rebase_failed' && (exec.baseCommit === head || pr.rebaseHead === head)) return;
    // A PR head that is one of our versions is ours, whatever the PR's commit list shows (after
    // the base was rewritten, it lists the old base's commits too).
    const prHead = known?.prHead ?? (await octokit.rest.pulls.get({ owner, repo, pull_number: pr.number })).data.head.sha;
    if (!(await this.isOurs(pr, prHead)) && (await this.foreignCommits(pr, gh))) return;
    try {
      await applyTransition(this.deps.db, {
        executionId: pr.executionId,
        event: { type: 'rebase.requested', reason: `${pr.baseBranch} moved to ${head.slice(0, 12)}` },
        worker: this.deps.worker,
        details: { pullRequestId: pr.id, baseBranch: pr.baseBranch, head, fromVersion: pr.patchVersion, fromBase: version.baseCommit },
        mutate: async (tx) => {
          await tx.nativeUpdate(PullRequestEntity, { id: pr.id }, { rebaseHead: head, updatedAt: new Date() });
        },
      });
    } catch (err) {
      if (!(err instanceof InvalidTransitionError)) throw err; // raced with another event: fine
    }
  }

  /** Whether `sha` is one of the execution's patch versions. */
  private async isOurs(pr: PullRecord, sha: string): Promise<boolean> {
    return (await this.deps.db.em().findOne(PatchVersionEntity, { executionId: pr.executionId, sha })) !== null;
  }

  /**
   * Whether a person pushed to the PR branch (its head is not ours): a commit whose author or
   * committer is not this service. Then rebasing stops (a force-push would drop their work) and
   * the PR says why.
   */
  private async foreignCommits(pr: PullRecord, gh: RepoClient): Promise<boolean> {
    const { octokit, owner, repo } = gh;
    const commits = (await octokit.rest.pulls.listCommits({ owner, repo, pull_number: pr.number!, per_page: 100 })).data;
    const ours = this.deps.commitAuthorEmail.toLowerCase();
    const foreign = commits.filter((c) => (c.commit.author?.email ?? '').toLowerCase() !== ours || (c.commit.committer?.email ?? '').toLowerCase() !== ours);
    if (foreign.length === 0) return false;
    const who = [...new Set(foreign.map((c) => c.commit.author?.name ?? c.commit.author?.email ?? 'someone'))].join(', ');
    await this.stopRebasing(pr, gh, `${who} pushed ${foreign.length} commit(s) to ${pr.headBranch} (${foreign.map((c) => c.sha.slice(0, 7)).join(', ')})`);
    return true;
  }

  /** A head SHA that is none of our versions means someone pushed to the branch. */
  private async checkForeignHead(pr: PullRecord, headSha: string, gh?: RepoClient): Promise<void> {
    if (!headSha || pr.rebaseStopped || headSha === pr.headSha || (await this.isOurs(pr, headSha))) return;
    await this.foreignCommits(pr, gh ?? (await this.client(pr)));
  }

  private async stopRebasing(pr: PullRecord, gh: RepoClient, reason: string): Promise<void> {
    await this.deps.db.em().nativeUpdate(PullRequestEntity, { id: pr.id }, { rebaseStopped: reason, updatedAt: new Date() });
    pr.rebaseStopped = reason;
    await recordHistory(this.deps.db, { executionId: pr.executionId, event: 'pull_request.rebase_stopped', worker: this.deps.worker, details: { pullRequestId: pr.id, reason } });
    const { octokit, owner, repo } = gh;
    await commentOnce(octokit, { owner, repo, number: pr.number! }, `stop:${pr.id}`, `I will no longer rebase this pull request: ${reason}. Rebasing would overwrite those commits; please keep the branch up to date yourself.`);
  }

  private async closed(pr: PullRecord, merged: boolean): Promise<void> {
    await this.deps.db.em().nativeUpdate(PullRequestEntity, { id: pr.id }, { state: merged ? 'merged' : 'closed', updatedAt: new Date() });
    try {
      await applyTransition(this.deps.db, {
        executionId: pr.executionId,
        event: { type: 'pull_request.closed', merged },
        worker: this.deps.worker,
        details: { pullRequestId: pr.id, number: pr.number, merged },
      });
    } catch (err) {
      if (!(err instanceof InvalidTransitionError)) throw err;
    }
  }

  /** Reads the check runs of the PR's head SHA and stores them on the record. */
  private async checks(pr: PullRecord, gh?: RepoClient): Promise<void> {
    if (!pr.headSha) return;
    const { octokit, owner, repo } = gh ?? (await this.client(pr));
    const runs = (await octokit.rest.checks.listForRef({ owner, repo, ref: pr.headSha, per_page: 100 })).data.check_runs;
    const checks: PullRequestCheck[] = runs.map((r) => ({ name: r.name, status: r.status, conclusion: r.conclusion ?? null, headSha: r.head_sha, url: r.html_url ?? null }));
    await this.deps.db.em().nativeUpdate(PullRequestEntity, { id: pr.id }, { checks, updatedAt: new Date() });
    if (!this.deps.feedFailingChecks) return;
    for (const r of runs) {
      if (r.status !== 'completed' || !['failure', 'timed_out'].includes(r.conclusion ?? '')) continue;
      const summary = [r.output?.title, r.output?.summary].filter(Boolean).join(': ');
      await this.feedback(pr, { kind: 'check_run', providerId: r.id, author: r.app?.slug ?? 'checks', body: `Check "${r.name}" ${r.conclusion} on ${r.head_sha.slice(0, 7)}${summary ? `: ${summary}` : ''}`, state: r.conclusion ?? null });
    }
  }

  /**
   * Stores one piece of feedback (once: the provider's id is unique), then triages it.
   */
  async feedback(pr: PullRecord, item: ProviderFeedback): Promise<void> {
    // Our own comments and reviews are never feedback. A check run's author is the app that ran it
    // (CI, not a person or this service), so it is not filtered by login.
    if ((item.kind !== 'check_run' && this.deps.botLogins.includes(item.author)) || item.body.includes(MARKER)) return;
    const inserted = await this.deps.db
      .em()
      .getConnection()
      .execute<Array<{ id: string }>>(
        `insert into review_feedback (pull_request_id, execution_id, kind, provider_id, author, body, state, path, line)
         values (?, ?, ?, ?, ?, ?, ?, ?, ?) on conflict (kind, provider_id) do nothing returning id`,
        [pr.id, pr.executionId, item.kind, item.providerId, item.author, item.body, item.state ?? null, item.path ?? null, item.line ?? null],
      );
    if (inserted.length === 0) return; // seen before (webhook redelivery, or polling after a webhook)
    await this.triage(Number(inserted[0]!.id), pr, item, false);
  }

  /**
   * Triages one stored item, once: claims it (`triage_claimed_at`), asks the triage (rules, then
   * the agent), and stores the decision with its history entry and the public `feedback.triaged`
   * event in one transaction. Actionable feedback then starts an iteration when the execution is
   * idle on its open PR.
   * @param takeover false for the handler that just stored the item (claims an unclaimed item);
   *   true for {@link startPending}, which takes over an item left (claimed or not) for longer than
   *   `triageRetryMs`: a triage cut off by a crash or a failing model is retried.
   */
  private async triage(id: number, pr: PullRecord, item: ProviderFeedback, takeover: boolean): Promise<void> {
    const claimed = await this.deps.db
      .em()
      .getConnection()
      .execute<unknown[]>(
        `update review_feedback set triage_claimed_at = now()
          where id = ? and actionable is null
            and ${takeover ? 'coalesce(triage_claimed_at, created_at) < now() - make_interval(secs => ?)' : 'triage_claimed_at is null'}
          returning id`,
        takeover ? [id, this.triageRetryMs / 1000] : [id],
      );
    if (claimed.length === 0) return;
    const agent = this.deps.agent.agent;
    const triage = await triageFeedback({
      client: agent?.client ?? null,
      model: agent?.model ?? 'none',
      item,
      pullRequest: `${pr.repository}#${pr.number}: dependency upgrades of execution ${pr.executionId} (patch version ${pr.patchVersion})`,
      ...(agent ? { stream: agent.stream, retry: agent.retry } : {}),
    });
    const exec = await this.deps.db.em().findOneOrFail(ExecutionEntity, { id: pr.executionId });
    const event: FeedbackTriagedEvent = {
      schema: 'remediation.feedback-triaged.v1',
      remediationId: exec.remediationId,
      executionId: String(pr.executionId),
      pullRequest: { id: String(pr.id), number: Number(pr.number), url: String(pr.url ?? '') },
      feedback: { id, kind: item.kind, author: item.author, path: item.path ?? null, line: item.line ?? null },
      actionable: triage.actionable,
      reasoning: triage.reasoning,
      decidedBy: triage.decidedBy,
      at: new Date().toISOString(),
    };
    await recordHistory(
      this.deps.db,
      {
        executionId: pr.executionId,
        event: 'feedback.triaged',
        worker: this.deps.worker,
        details: { pullRequestId: pr.id, kind: item.kind, author: item.author, actionable: triage.actionable, decidedBy: triage.decidedBy, reasoning: triage.reasoning },
      },
      {
        publish: { msgId: `feedback.triaged:${id}`, subject: FEEDBACK_TRIAGED_SUBJECT, payload: FeedbackTriagedEvent.parse(event) },
        mutate: async (tx) => {
          await tx.nativeUpdate(
            ReviewFeedbackEntity,
            { id },
            { actionable: triage.actionable, reasoning: triage.actionable ? `${triage.reasoning}\nRequest: ${triage.request}` : triage.reasoning, triagedBy: triage.decidedBy },
          );
        },
      },
    );
    if (!triage.actionable) return;
    const row = await this.deps.db.em().findOneOrFail(ReviewFeedbackEntity, { id });
    const now = await this.deps.db.em().findOne(ExecutionEntity, { id: pr.executionId }, { disableIdentityMap: true });
    if (now?.state === 'pr_opened') await this.startIteration(row, triage.request);
  }

  private async startIteration(row: Record<string, any>, request?: string): Promise<void> {
    const text = request && request !== row.body ? `${request}\n\nThe reviewer (${row.author}) wrote:\n${row.body}` : `The reviewer (${row.author}) wrote:\n${row.body}`;
    try {
      await startFeedbackIteration(this.deps.db, {
        executionId: row.executionId,
        worker: this.deps.worker,
        source: 'github',
        text,
        comments: row.path ? [{ path: row.path, ...(row.line ? { line: row.line } : {}), body: row.body }] : [],
        onStored: async (tx, feedbackId) => {
          await tx.nativeUpdate(ReviewFeedbackEntity, { id: row.id }, { feedbackId });
        },
      });
    } catch (err) {
      if (!(err instanceof InvalidTransitionError)) throw err; // busy: startPending picks it up later
    }
  }
}
