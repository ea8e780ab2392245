import type {
  ExecutionResponse,
  ExecutionTarget,
  ExecutionSummary,
  DeadLetter,
  FeedbackBody,
  HistoryResponse,
  IterationBody,
  ReviewFeedbackBody,
  PullRequestBody,
  RemediationResponse,
  StepAttempt,
} from '@remediation/contracts';
import { NotFoundError } from '@remediation/errors';
import { advisoriesChangedSince } from './advisory-database.js';
import type { Database } from './database.js';
import {
  ExecutionEntity,
  type ExecutionRow,
  ExecutionTargetEntity,
  type ExecutionTargetRow,
  DeadLetterEntity,
  FeedbackEntity,
  type FeedbackRow,
  HistoryEntity,
  IterationEntity,
  type IterationRow,
  ReviewFeedbackEntity,
  StepAttemptEntity,
  type StepAttemptRow,
  PatchVersionEntity,
  PullRequestEntity,
  type PullRequestRow,
  RemediationEntity,
} from './entities.js';

/** A time as ISO 8601, or null. */
export function iso(d: Date | null | undefined): string | null {
  return d ? new Date(d).toISOString() : null;
}

/** The summary of an execution row (`ExecutionSummary`), as listed inside other resources and in lists. */
export function executionSummary(row: ExecutionRow): ExecutionSummary {
  return {
    id: row.id,
    kind: row.kind,
    state: row.state,
    step: row.step ?? null,
    startedAt: iso(row.startedAt)!,
    completedAt: iso(row.completedAt),
    error: row.errorCode ? { code: row.errorCode, message: row.errorMessage ?? '' } : null,
  };
}

/**
 * `GET /v1/remediations/:id`: the remediation with its latest plan execution (whose state is the
 * remediation's state), every execution, and `stale`: advisories changed since the plan's advisory
 * database snapshot that name one of its packages (see `advisoriesChangedSince`).
 * @param tenant when given (the API always gives the caller's), another tenant's remediation is not found.
 * @throws NotFoundError
 */
export async function getRemediationView(db: Database, id: string, tenant?: string): Promise<RemediationResponse> {
  const em = db.em();
  const rem = await em.findOne(RemediationEntity, { id, ...(tenant ? { tenantId: tenant } : {}) });
  if (!rem) throw new NotFoundError('remediation', id);
  const executions = await em.find(ExecutionEntity, { remediationId: id }, { orderBy: { startedAt: 'asc', id: 'asc' } });
  const plans = executions.filter((e) => e.kind === 'plan');
  const plan = plans.at(-1);
  if (!plan) throw new NotFoundError('plan execution of remediation', id);
  return {
    id: rem.id,
    state: plan.state,
    codebase: rem.codebase,
    plan: plan.plan ?? null,
    planExecution: executionSummary(plan),
    executions: executions.map(executionSummary),
    createdAt: iso(rem.createdAt)!,
    stale: await planStaleness(db, plan),
  };
}

/** `stale` of a remediation view: null without a recorded snapshot or when nothing changed since. */
async function planStaleness(db: Database, plan: ExecutionRow): Promise<{ since: string; advisories: string[] } | null> {
  const recorded = plan.plan?.advisoryDatabase;
  if (!recorded) return null;
  const since = recorded.snapshotAt ?? iso(plan.startedAt)!;
  const changed = await advisoriesChangedSince(db, { executionId: plan.id, since });
  return changed.length > 0 ? { since, advisories: changed.map((a) => a.id) } : null;
}

/** Serialises a pull-request row. */
export function pullRequestBody(pr: PullRequestRow): PullRequestBody {
  return {
    id: pr.id,
    executionId: pr.executionId,
    patchVersion: pr.patchVersion,
    provider: 'github',
    repository: pr.repository,
    number: pr.number ?? null,
    url: pr.url ?? null,
    state: pr.state,
    draft: pr.draft,
    headBranch: pr.headBranch,
    baseBranch: pr.baseBranch,
    headSha: pr.headSha ?? null,
    createdAt: iso(pr.createdAt)!,
    updatedAt: iso(pr.updatedAt ?? pr.createdAt)!,
    checks: pr.checks ?? [],
    rebaseStopped: pr.rebaseStopped ?? null,
    lastError: pr.lastError ?? null,
  };
}

/** Serialises a target row (`ExecutionTarget` of the API). */
export function executionTargetBody(t: ExecutionTargetRow): ExecutionTarget {
  return {
    name: t.name,
    ecosystem: t.ecosystem,
    manifestPath: t.manifestPath,
    from: t.fromVersion,
    to: t.toVersion,
    declaredFrom: t.declaredFrom ?? null,
    declaredTo: t.declaredTo ?? null,
    status: t.status,
    reason: t.reason ?? null,
    advisories: t.advisories,
    needsAgent: t.needsAgent,
    proof: t.proof ?? null,
    ...(t.versions ? { versions: t.versions } : {}),
    ...(t.fix ? { fix: t.fix } : {}),
  };
}

/**
 * Serialises a feedback row with the iteration it started (`FeedbackBody` of the API: the
 * iteration's number, base version and resulting version).
 */
export function feedbackBody(f: FeedbackRow, iteration: IterationRow): FeedbackBody {
  return {
    id: Number(f.id),
    iteration: iteration.number,
    source: f.source,
    text: f.text,
    comments: f.comments ?? [],
    baseVersion: iteration.baseVersion,
    patchVersion: iteration.patchVersion ?? null,
    createdAt: iso(f.createdAt)!,
  };
}

/** Serialises an iteration row (`IterationBody` of the API). */
export function iterationBody(i: IterationRow): IterationBody {
  return {
    number: i.number,
    reason: i.reason,
    feedbackId: i.feedbackId == null ? null : Number(i.feedbackId),
    baseVersion: i.baseVersion,
    patchVersion: i.patchVersion ?? null,
    detail: i.detail ?? null,
    createdAt: iso(i.createdAt)!,
  };
}

/**
 * `GET /v1/executions/:id`: state, targets with from/to/status, patch versions (ref + SHA) and
 * pull requests.
 * @param tenant when given (the API always gives the caller's), another tenant's execution is not found.
 * @throws NotFoundError
 */
export async function getExecutionView(db: Database, id: string, tenant?: string): Promise<ExecutionResponse> {
  const em = db.em();
  const row = await em.findOne(ExecutionEntity, { id, ...(tenant ? { tenantId: tenant } : {}) });
  if (!row) throw new NotFoundError('execution', id);
  const [targets, versions, prs, feedback, iterations, reviews] = await Promise.all([
    em.find(ExecutionTargetEntity, { executionId: id }, { orderBy: { name: 'asc' } }),
    em.find(PatchVersionEntity, { executionId: id }, { orderBy: { version: 'asc' } }),
    em.find(PullRequestEntity, { executionId: id }, { orderBy: { createdAt: 'asc' } }),
    em.find(FeedbackEntity, { executionId: id }, { orderBy: { id: 'asc' } }),
    em.find(IterationEntity, { executionId: id }, { orderBy: { number: 'asc' } }),
    em.find(ReviewFeedbackEntity, { executionId: id }, { orderBy: { id: 'asc' } }),
  ]);
  const iterationBodies = new Map(iterations.map((i) => [i.number, iterationBody(i)]));
  const iterationByFeedback = new Map(iterations.filter((i) => i.feedbackId != null).map((i) => [Number(i.feedbackId), i]));
  // Every feedback started an iteration (they are stored together).
  const feedbackBodies = feedback.filter((f) => iterationByFeedback.has(Number(f.id))).map((f) => feedbackBody(f, iterationByFeedback.get(Number(f.id))!));
  const feedbackById = new Map(feedbackBodies.map((f) => [f.id, f]));
  const feedbackOfIteration = (n: number | null | undefined) => {
    const fid = n == null ? null : iterationBodies.get(n)?.feedbackId;
    return fid == null ? null : (feedbackById.get(fid) ?? null);
  };
  return {
    ...executionSummary(row),
    remediationId: row.remediationId,
    tier: row.tier ?? null,
    upgradeOption: row.tier ?? null,
    branchName: row.branchName ?? null,
    asDraft: row.asDraft,
    baseCommit: row.baseCommit ?? null,
    targets: targets.map(executionTargetBody),
    patchVersions: versions.map((v) => ({
      version: v.version,
      ref: v.ref,
      sha: v.sha,
      baseCommit: v.baseCommit,
      changedPaths: v.changedPaths,
      createdAt: iso(v.createdAt)!,
      proof: v.proof ?? [],
      approvable: v.proofPassed,
      feedback: feedbackOfIteration(v.iteration),
      iteration: v.iteration == null ? null : (iterationBodies.get(v.iteration) ?? null),
      agent: v.agent ?? null,
    })),
    pullRequests: prs.map(pullRequestBody),
    decision: row.decision ?? null,
    feedback: feedbackBodies,
    iterations: [...iterationBodies.values()],
    reviews: reviews.map((r) => ({
      pullRequestId: r.pullRequestId,
      kind: r.kind as ReviewFeedbackBody['kind'],
      author: r.author,
      body: r.body,
      path: r.path ?? null,
      line: r.line ?? null,
      actionable: r.actionable ?? null,
      reasoning: r.reasoning ?? null,
      triagedBy: r.triagedBy ?? null,
      iteration: r.feedbackId != null ? (iterationByFeedback.get(Number(r.feedbackId))?.number ?? null) : null,
      createdAt: iso(r.createdAt)!,
    })),
  };
}

/**
 * `GET /v1/executions/:id/history`: every transition and heartbeat in order.
 * @param tenant when given (the API always gives the caller's), another tenant's execution is not found.
 * @throws NotFoundError
 */
export async function getHistory(db: Database, executionId: string, tenant?: string): Promise<HistoryResponse> {
  const em = db.em();
  const exec = await em.findOne(ExecutionEntity, { id: executionId, ...(tenant ? { tenantId: tenant } : {}) });
  if (!exec) throw new NotFoundError('execution', executionId);
  const [rows, attempts] = await Promise.all([
    em.find(HistoryEntity, { executionId }, { orderBy: { id: 'asc' } }),
    em.find(StepAttemptEntity, { executionId }, { orderBy: { id: 'asc' } }),
  ]);
  return {
    executionId,
    state: exec.state,
    attempts: attempts.map(stepAttemptBody),
    entries: rows.map((h) => ({
      at: iso(h.at)!,
      event: h.event,
      from: h.fromState ?? null,
      to: h.toState ?? null,
      step: h.step ?? null,
      worker: h.worker ?? null,
      details: h.details ?? {},
    })),
  };
}

/** Serialises a step attempt row (`StepAttempt`). */
export function stepAttemptBody(a: StepAttemptRow): StepAttempt {
  return {
    step: a.step,
    command: a.command,
    attempt: a.leaseAttempt,
    deliveryCount: a.deliveryCount,
    worker: a.worker,
    startedAt: iso(a.startedAt)!,
    heartbeatAt: iso(a.heartbeatAt)!,
    finishedAt: iso(a.finishedAt),
    outcome: a.outcome ?? null,
    error: a.errorCode ? { code: a.errorCode, message: a.errorMessage ?? '' } : null,
  };
}

/**
 * A tenant's dead letters (newest first, at most 500), optionally of one execution. Letters that
 * named no known execution have no tenant and are for operators only (`listDeadLetters`).
 */
export async function getDeadLetters(db: Database, tenant: string, executionId?: string): Promise<DeadLetter[]> {
  const rows = await db.em().find(DeadLetterEntity, { tenantId: tenant, ...(executionId ? { executionId } : {}) }, { orderBy: { id: 'desc' }, limit: 500 });
  return rows.map((d) => ({
    id: Number(d.id),
    stream: d.stream,
    streamSeq: d.streamSeq === null || d.streamSeq === undefined ? null : Number(d.streamSeq),
    subject: d.subject,
    messageId: d.messageId ?? null,
    payload: d.payload ?? null,
    deliveries: d.deliveries,
    executionId: d.executionId ?? null,
    error: { code: d.errorCode, message: d.errorMessage },
    createdAt: iso(d.createdAt)!,
  }));
}
