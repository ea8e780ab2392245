import { type AgentConfig, triageFeedback } from '@remediation/agent';
import { FeedbackTriagedEvent, feedbackTriagedSubject } from '@remediation/contracts';
import { InvalidTransitionError, describeError } from '@remediation/errors';
import {
  type Database,
  type PullRequestRecord,
  type ReviewFeedbackRecord,
  applyTransition,
  claimReviewFeedbackTriage,
  isOpenPullRequest,
  isPatchVersionCommit,
  isWebhookDeliveryHandled,
  linkReviewFeedbackIteration,
  listOpenPullRequests,
  listUntriagedReviewFeedback,
  listWaitingReviewFeedback,
  loadExecution,
  findPatchVersion,
  loadPullRequest,
  loadReviewFeedback,
  recordCheckRuns,
  recordHistory,
  recordPullRequestClosed,
  recordRebaseRequested,
  recordRebaseStopped,
  recordReviewFeedback,
  recordReviewFeedbackTriage,
  recordWebhookDelivery,
  startFeedbackIteration,
} from '@remediation/persistence';
import { type Registry, pullRequestMetrics } from '@remediation/metrics';
import type { Logger } from 'pino';
import { MARKER } from './comments.js';
import type { ProviderDelivery, ProviderFeedback, ProviderRepository, PullRequestProvider } from './provider.js';
import { type PullRequestSignal, pollSignals, webhookSignals } from './signals.js';

/** Dependencies of the {@link PullRequestMaintainer}. */
export interface MaintainerDeps {
  db: Database;
  provider: PullRequestProvider;
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
  /** Where merged/closed pull requests are counted (`remediation_pull_requests_total`). */
  metrics?: Registry;
}

/**
 * The provider repository of one pull request, connected on first use and kept for the rest of
 * a reaction or polling pass (one token).
 */
type Connection = () => Promise<ProviderRepository>;

/**
 * Keeps open pull requests mergeable and answers their reviewers. Webhook deliveries and polling
 * passes become signals (signals.ts), and each signal type has one reaction here: `base_moved`
 * asks for a rebase (`rebase.requested`) when the base really moved, unless a person pushed to the
 * branch (then it stops and says so on the PR; `head_pushed` notices that too); `review_submitted`
 * and `comment_created` store the feedback once (by the provider's id), triage it (rules, then the
 * agent) and start an iteration for actionable feedback (`feedback.received` →
 * `changes_requested`); `checks_changed` records the head's check runs; `closed` records a merged
 * or closed PR (`pull_request.closed`).
 */
export class PullRequestMaintainer {
  private readonly triageRetryMs: number;

  constructor(private readonly deps: MaintainerDeps) {
    this.triageRetryMs = deps.triageRetryMs ?? 60_000;
  }

  /**
   * Handles one verified webhook delivery. A delivery handled before has no effect.
   * @returns what was done, for the HTTP answer and logs: `ignored` when it has no signal (an
   *   event not acted on, or about a pull request this service does not know).
   */
  async handleWebhook(delivery: ProviderDelivery): Promise<'duplicate' | 'ignored' | 'handled'> {
    const { db } = this.deps;
    if (await isWebhookDeliveryHandled(db, delivery.id)) return 'duplicate';
    // Recorded after it was handled: a delivery that failed half-way (crash, database down) is
    // handled again when GitHub redelivers it. Every reaction is idempotent on its own (feedback
    // by the provider's id, transitions guarded by state), so a concurrent duplicate has no
    // second effect either.
    const signals = await webhookSignals(db, delivery.events);
    for (const signal of signals) await this.react(signal);
    await recordWebhookDelivery(db, { deliveryId: delivery.id, event: delivery.event, action: delivery.action });
    return signals.length > 0 ? 'handled' : 'ignored';
  }

  /**
   * One polling pass over every open pull request (the fallback when no webhook is configured),
   * each through one connection (one token): its signals as the pass reads them, then pending
   * feedback. A pull request whose pass fails is logged and retried by the next pass.
   */
  async pollOnce(): Promise<void> {
    for (const pr of await listOpenPullRequests(this.deps.db)) {
      try {
        const repository = await this.deps.provider.connect(pr.repository);
        const connection: Connection = async () => repository;
        for await (const signal of pollSignals(pr, repository)) await this.react(signal, connection);
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
      const pr = await loadPullRequest(this.deps.db, pullRequestId);
      if (pr && isOpenPullRequest(pr)) await this.react({ type: 'base_moved', pullRequest: pr });
    } catch (err) {
      this.deps.logger.warn({ err: describeError(err), pullRequestId }, 'after-update pass failed; the next event or pass retries');
    }
  }

  /**
   * Reacts to one signal (one reaction per signal type).
   * @param connection the PR's repository when the caller has it (a polling pass); else
   *   connected on first use.
   */
  async react(signal: PullRequestSignal, connection: Connection = this.connectOnce(signal.pullRequest.repository)): Promise<void> {
    switch (signal.type) {
      case 'base_moved':
        return this.baseMoved(signal.pullRequest, connection, signal.headSha);
      case 'head_pushed':
        return this.headPushed(signal.pullRequest, signal.headSha, connection);
      case 'review_submitted':
        return this.feedbackReceived(signal.pullRequest, signal.review);
      case 'comment_created':
        return this.feedbackReceived(signal.pullRequest, signal.comment);
      case 'checks_changed':
        return this.checksChanged(signal.pullRequest, connection);
      case 'closed':
        return this.closed(signal.pullRequest, signal.merged);
      default: {
        const unknown: never = signal;
        throw new Error(`unknown signal ${JSON.stringify(unknown)}`);
      }
    }
  }

  /**
   * Finishes what feedback handling left: triages stored items whose triage never finished (a
   * crash, or the model failing after its retries) and starts the iterations of actionable
   * feedback that arrived while its execution was busy. Run by every polling pass, after each PR
   * update, and on its own timer when polling is off.
   */
  async startPending(): Promise<void> {
    const { db } = this.deps;
    // The reaction that stored an item triages it at once; only items left for longer are taken over.
    for (const row of await listUntriagedReviewFeedback(db, this.triageRetryMs)) {
      const pr = await loadPullRequest(db, row.pullRequestId);
      if (!pr || !isOpenPullRequest(pr)) continue;
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
    for (const row of await listWaitingReviewFeedback(db)) {
      const exec = await loadExecution(db, row.executionId);
      if (exec.state === 'pr_opened') await this.startIteration(row);
    }
  }

  private connectOnce(repository: string): Connection {
    let connected: Promise<ProviderRepository> | undefined;
    return () => (connected ??= this.deps.provider.connect(repository));
  }

  /**
   * `base_moved`: when the base branch's head is not the base of the PR's version, asks for a
   * rebase, unless rebasing stopped or the execution is busy (the next event or pass asks again).
   * @param prHead the PR's head when the signal carries it (a polling pass).
   */
  private async baseMoved(pr: PullRequestRecord, connection: Connection, prHead?: string): Promise<void> {
    if (pr.rebaseStopped || pr.number == null) return;
    const { db } = this.deps;
    const exec = await loadExecution(db, pr.executionId);
    if (exec.state !== 'pr_opened' || exec.pullRequestId !== pr.id) return;
    const repository = await connection();
    const head = await repository.branchHead(pr.baseBranch);
    const version = await findPatchVersion(db, pr.executionId, pr.patchVersion);
    if (!version || version.baseCommit === head) return;
    // A rebase or re-application onto this very head already failed (said on the PR): wait for
    // the next move instead of failing (and commenting) again on every event or poll.
    if (pr.state === 'rebase_failed' && (exec.baseCommit === head || pr.rebaseHead === head)) return;
    // A PR head that is one of our versions is ours, whatever the PR's commit list shows (after
    // the base was rewritten, it lists the old base's commits too).
    const headSha = prHead ?? (await repository.get(pr.number)).headSha;
    if (!(await isPatchVersionCommit(db, pr.executionId, headSha)) && (await this.foreignCommits(pr, pr.number, repository))) return;
    try {
      await applyTransition(db, {
        executionId: pr.executionId,
        event: { type: 'rebase.requested', reason: `${pr.baseBranch} moved to ${head.slice(0, 12)}` },
        worker: this.deps.worker,
        details: { pullRequestId: pr.id, baseBranch: pr.baseBranch, head, fromVersion: pr.patchVersion, fromBase: version.baseCommit },
        mutate: (tx) => recordRebaseRequested(tx, pr.id, head),
      });
    } catch (err) {
      if (!(err instanceof InvalidTransitionError)) throw err; // raced with another event: fine
    }
  }

  /** `head_pushed`: a head that is none of our versions means someone pushed to the branch. */
  private async headPushed(pr: PullRequestRecord, headSha: string, connection: Connection): Promise<void> {
    if (!headSha || pr.rebaseStopped || pr.number == null || headSha === pr.headSha) return;
    if (await isPatchVersionCommit(this.deps.db, pr.executionId, headSha)) return;
    await this.foreignCommits(pr, pr.number, await connection());
  }

  /**
   * Whether a person pushed to the PR branch: a commit whose author or committer is not this
   * service. Then rebasing stops (a force-push would drop their work) and the PR says why.
   */
  private async foreignCommits(pr: PullRequestRecord, number: number, repository: ProviderRepository): Promise<boolean> {
    const ours = this.deps.commitAuthorEmail.toLowerCase();
    const foreign = (await repository.listCommits(number)).filter(
      (c) => (c.author.email ?? '').toLowerCase() !== ours || (c.committer.email ?? '').toLowerCase() !== ours,
    );
    if (foreign.length === 0) return false;
    const who = [...new Set(foreign.map((c) => c.author.name ?? c.author.email ?? 'someone'))].join(', ');
    const reason = `${who} pushed ${foreign.length} commit(s) to ${pr.headBranch} (${foreign.map((c) => c.sha.slice(0, 7)).join(', ')})`;
    await recordRebaseStopped(this.deps.db, pr, reason, this.deps.worker);
    pr.rebaseStopped = reason; // later signals of the same pass see it
    await repository.comment(number, `stop:${pr.id}`, `I will no longer rebase this pull request: ${reason}. Rebasing would overwrite those commits; please keep the branch up to date yourself.`);
    return true;
  }

  /** `closed`: records the merged or closed PR and ends the execution. */
  private async closed(pr: PullRequestRecord, merged: boolean): Promise<void> {
    await recordPullRequestClosed(this.deps.db, pr.id, merged);
    try {
      await applyTransition(this.deps.db, {
        executionId: pr.executionId,
        event: { type: 'pull_request.closed', merged },
        worker: this.deps.worker,
        details: { pullRequestId: pr.id, number: pr.number, merged },
      });
      if (this.deps.metrics) pullRequestMetrics(this.deps.metrics).pullRequests.inc({ provider: this.deps.provider.name, action: merged ? 'merged' : 'closed' });
    } catch (err) {
      if (!(err instanceof InvalidTransitionError)) throw err;
    }
  }

  /** `checks_changed`: reads the check runs of the PR's head and stores them on the record; failing ones are feedback when asked. */
  private async checksChanged(pr: PullRequestRecord, connection: Connection): Promise<void> {
    if (!pr.headSha) return;
    const runs = await (await connection()).listCheckRuns(pr.headSha);
    await recordCheckRuns(
      this.deps.db,
      pr.id,
      runs.map((r) => ({ name: r.name, status: r.status, conclusion: r.conclusion, headSha: r.headSha, url: r.url })),
    );
    if (!this.deps.feedFailingChecks) return;
    for (const r of runs) {
      if (r.status !== 'completed' || !['failure', 'timed_out'].includes(r.conclusion ?? '')) continue;
      const summary = [r.title, r.summary].filter(Boolean).join(': ');
      const body = `Check "${r.name}" ${r.conclusion} on ${r.headSha.slice(0, 7)}${summary ? `: ${summary}` : ''}`;
      await this.feedbackReceived(pr, { kind: 'check_run', providerId: r.id, author: r.app ?? 'checks', body, state: r.conclusion });
    }
  }

  /** `review_submitted`, `comment_created` (and failing checks): stores the feedback once (the provider's id is unique), then triages it. */
  private async feedbackReceived(pr: PullRequestRecord, item: ProviderFeedback): Promise<void> {
    // Our own comments and reviews are never feedback. A check run's author is the app that ran it
    // (CI, not a person or this service), so it is not filtered by login.
    if ((item.kind !== 'check_run' && this.deps.botLogins.includes(item.author)) || item.body.includes(MARKER)) return;
    const id = await recordReviewFeedback(this.deps.db, pr, item);
    if (id === null) return; // seen before (webhook redelivery, or polling after a webhook)
    await this.triage(id, pr, item, false);
  }

  /**
   * Triages one stored item, once: claims it, asks the triage (rules, then the agent), and stores
   * the decision with its history entry and the public `feedback.triaged` event in one
   * transaction. Actionable feedback then starts an iteration when the execution is idle on its
   * open PR.
   * @param takeover false for the reaction that just stored the item (claims an unclaimed item);
   *   true for {@link startPending}, which takes over an item left (claimed or not) for longer than
   *   `triageRetryMs`: a triage cut off by a crash or a failing model is retried.
   */
  private async triage(id: number, pr: PullRequestRecord, item: ProviderFeedback, takeover: boolean): Promise<void> {
    const { db } = this.deps;
    if (!(await claimReviewFeedbackTriage(db, id, takeover ? this.triageRetryMs : undefined))) return;
    const agent = this.deps.agent.agent;
    const triage = await triageFeedback({
      client: agent?.client ?? null,
      model: agent?.model ?? 'none',
      item,
      pullRequest: `${pr.repository}#${pr.number}: dependency upgrades of execution ${pr.executionId} (patch version ${pr.patchVersion})`,
      ...(agent ? { stream: agent.stream, retry: agent.retry } : {}),
    });
    const exec = await loadExecution(db, pr.executionId);
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
      db,
      {
        executionId: pr.executionId,
        event: 'feedback.triaged',
        worker: this.deps.worker,
        details: { pullRequestId: pr.id, kind: item.kind, author: item.author, actionable: triage.actionable, decidedBy: triage.decidedBy, reasoning: triage.reasoning },
      },
      {
        publish: { msgId: `feedback.triaged:${id}`, subject: feedbackTriagedSubject(exec.tenantId), payload: FeedbackTriagedEvent.parse(event) },
        mutate: (tx) =>
          recordReviewFeedbackTriage(tx, id, {
            actionable: triage.actionable,
            reasoning: triage.actionable ? `${triage.reasoning}\nRequest: ${triage.request}` : triage.reasoning,
            triagedBy: triage.decidedBy,
          }),
      },
    );
    if (!triage.actionable) return;
    const row = await loadReviewFeedback(db, id);
    const now = await loadExecution(db, pr.executionId);
    if (row && now.state === 'pr_opened') await this.startIteration(row, triage.request);
  }

  private async startIteration(row: ReviewFeedbackRecord, request?: string): Promise<void> {
    const text = request && request !== row.body ? `${request}\n\nThe reviewer (${row.author}) wrote:\n${row.body}` : `The reviewer (${row.author}) wrote:\n${row.body}`;
    try {
      await startFeedbackIteration(this.deps.db, {
        executionId: row.executionId,
        worker: this.deps.worker,
        source: 'github',
        text,
        comments: row.path ? [{ path: row.path, ...(row.line ? { line: row.line } : {}), body: row.body }] : [],
        onStored: (tx, feedbackId) => linkReviewFeedbackIteration(tx, row.id, feedbackId),
      });
    } catch (err) {
      if (!(err instanceof InvalidTransitionError)) throw err; // busy: startPending picks it up later
    }
  }
}
