import { type InferEntity, defineEntity, p } from '@mikro-orm/core';
import type {
  AgentRunSummary,
  Codebase,
  FeedbackComment,
  FeedbackSource,
  IterationReason,
  PartialSuccessDecisionBody,
  PullRequestCheck,
  TargetOutcome,
  TargetProof,
  TargetVersion,
  TransitiveFixOption,
  ExecutionKind,
  ExecutionState,
  PlannerOutput,
  PullRequestState,
  Step,
  TargetStatus,
  Tier,
} from '@remediation/contracts';

/**
 * Entities, defined once with MikroORM's `defineEntity` (v7). Tables are created by the SQL
 * migrations in ./migrations (hand-written, reviewed SQL). PostgreSQL is the source of truth.
 */

/** A codebase + scan to remediate. Its state is derived from its latest plan execution. */
export const RemediationEntity = defineEntity({
  name: 'Remediation',
  tableName: 'remediations',
  properties: {
    id: p.string().primary(),
    /** The tenant owning the remediation, its executions and everything below them. */
    tenantId: p.string(),
    codebase: p.json<Codebase>(),
    /** The scan as submitted: a JSON document, or a string holding CycloneDX XML (validated by the API, read by the planner). */
    scan: p.json<Record<string, unknown> | string>().lazy(),
    /** Caller-supplied idempotency key (Idempotency-Key header); unique per tenant when present. */
    idempotencyKey: p.string().nullable(),
    /** Counter used to number executions: `<id>.<kind>.<n>`. */
    executionSeq: p.integer(),
    createdAt: p.datetime(),
  },
});

/** A plan or patch execution. Immutable inputs (tier, targets, branch, draft); mutable state. */
export const ExecutionEntity = defineEntity({
  name: 'Execution',
  tableName: 'executions',
  properties: {
    id: p.string().primary(),
    remediationId: p.string(),
    /** The remediation's tenant (copied: every query of the API scopes by it). */
    tenantId: p.string(),
    kind: p.string().$type<ExecutionKind>(),
    state: p.string().$type<ExecutionState>(),
    step: p.string().$type<Step>().nullable(),
    /** Compare-and-set version, incremented by every transition. */
    version: p.integer(),
    tier: p.string().$type<Tier>().nullable(),
    selectedTargets: p.json<string[]>().nullable(),
    branchName: p.string().nullable(),
    asDraft: p.boolean(),
    baseBranch: p.string().nullable(),
    baseCommit: p.string().nullable(),
    /** PlannerOutput, stored when a plan execution completes. */
    plan: p.json<PlannerOutput>().nullable(),
    /** The partial-success decision of the last editing step, when some targets failed. */
    decision: p.json<PartialSuccessDecisionBody>().nullable(),
    /** Globs of protected paths the agent may edit (CreateExecutionRequest.allowEdits). */
    allowEdits: p.json<string[]>(),
    errorCode: p.string().nullable(),
    errorMessage: p.text().nullable(),
    startedAt: p.datetime(),
    completedAt: p.datetime().nullable(),
    updatedAt: p.datetime(),
    /** Worker holding the current step's lease (fencing token with `leaseAttempt`). */
    leaseOwner: p.string().nullable(),
    /** Incremented by every claim of a step; a commit must present the value it claimed. */
    leaseAttempt: p.integer(),
    /** Last sign of life of the current step (claim, heartbeat or transition). */
    heartbeatAt: p.datetime().nullable(),
    /** Step at which the execution failed (retry resumes there). */
    failedStep: p.string().$type<Step>().nullable(),
    /** Pull request being opened by this execution (PR steps). */
    pullRequestId: p.string().nullable(),
    /** Times the reconciler re-issued the current step. */
    reissueCount: p.integer(),
    idempotencyKey: p.string().nullable(),
  },
});

/** One attempt at a step: which delivery, which worker, heartbeats, outcome. */
export const StepAttemptEntity = defineEntity({
  name: 'StepAttempt',
  tableName: 'step_attempts',
  properties: {
    id: p.bigint('number').primary(),
    executionId: p.string(),
    step: p.string().$type<Step>(),
    command: p.string(),
    leaseAttempt: p.integer(),
    deliveryCount: p.integer(),
    worker: p.string(),
    startedAt: p.datetime(),
    heartbeatAt: p.datetime(),
    finishedAt: p.datetime().nullable(),
    outcome: p.string().$type<'succeeded' | 'retrying' | 'failed' | 'fenced' | 'cancelled' | 'abandoned'>().nullable(),
    errorCode: p.string().nullable(),
    errorMessage: p.text().nullable(),
  },
});

/** Messages given up on: removed from the work queue, kept here for inspection. */
export const DeadLetterEntity = defineEntity({
  name: 'DeadLetter',
  tableName: 'dead_letters',
  properties: {
    id: p.bigint('number').primary(),
    stream: p.string(),
    streamSeq: p.bigint('number').nullable(),
    subject: p.string(),
    messageId: p.string().nullable(),
    payload: p.json<Record<string, unknown>>().nullable(),
    deliveries: p.integer(),
    executionId: p.string().nullable(),
    /** The execution's tenant; null when the message named no known execution (operators only). */
    tenantId: p.string().nullable(),
    errorCode: p.string(),
    errorMessage: p.text(),
    createdAt: p.datetime(),
  },
});

/**
 * A tenant: a team using the service. Its id is a NATS subject token (`^[a-z0-9][a-z0-9-]{0,62}$`)
 * of its public events. `allowedHosts` / `allowedOwners` limit the repositories its remediations
 * may name (empty = any the operator allows).
 */
export const TenantEntity = defineEntity({
  name: 'Tenant',
  tableName: 'tenants',
  properties: {
    id: p.string().primary(),
    name: p.string(),
    allowedHosts: p.array(),
    allowedOwners: p.array(),
    /** Days finished remediations are kept after their last execution completed; null keeps them forever (`pruneExpiredRemediations`). */
    executionRetentionDays: p.integer().nullable(),
    createdAt: p.datetime(),
  },
});

/** An API key of a service account: the SHA-256 of the key (never the key), its tenant and scopes. */
export const ApiKeyEntity = defineEntity({
  name: 'ApiKey',
  tableName: 'api_keys',
  properties: {
    id: p.string().primary(),
    tenantId: p.string(),
    name: p.string(),
    /** Hex SHA-256 of the key. */
    keyHash: p.string(),
    scopes: p.array(),
    createdAt: p.datetime(),
    revokedAt: p.datetime().nullable(),
  },
});

/** Per-target status of a patch execution. */
export const ExecutionTargetEntity = defineEntity({
  name: 'ExecutionTarget',
  tableName: 'execution_targets',
  properties: {
    executionId: p.string().primary(),
    /** purl type of the package (`npm`, `pypi`, …): the ecosystem the patcher edits it with. */
    ecosystem: p.string().primary(),
    name: p.string().primary(),
    manifestPath: p.string(),
    fromVersion: p.string(),
    toVersion: p.string(),
    declaredFrom: p.string().nullable(),
    declaredTo: p.string().nullable(),
    status: p.string().$type<TargetStatus>(),
    reason: p.text().nullable(),
    advisories: p.json<string[]>(),
    needsAgent: p.boolean(),
    /** Proof of remediation of the declared requirement after editing (see `TargetProof`). */
    proof: p.json<TargetProof>().nullable(),
    /** Each installed version and its chosen version when the plan targets the package at several (see `TargetVersion`); null otherwise. */
    versions: p.json<TargetVersion[]>().nullable(),
    /** The fix option applied to a transitive target (see `ExecutionTarget.fix`, migration 0013); null for a direct dependency. */
    fix: p.json<TransitiveFixOption>().nullable(),
  },
});

/** A patch version: one commit on its own ref in the mirror. */
export const PatchVersionEntity = defineEntity({
  name: 'PatchVersion',
  tableName: 'patch_versions',
  properties: {
    executionId: p.string().primary(),
    version: p.integer().primary(),
    ref: p.string(),
    sha: p.string(),
    baseCommit: p.string(),
    changedPaths: p.json<string[]>(),
    createdAt: p.datetime(),
    /** Per-target proof of remediation of this version's manifests. */
    proof: p.json<TargetProof[]>(),
    /** False when a shipped target fails its proof: the version is not offered for approval. */
    proofPassed: p.boolean(),
    /**
     * Number of the iteration this version delivers (`iterations.number`); null for the first
     * version (iteration 1 has no record) and for a server-side rebase of the version a pull request
     * already shows.
     */
    iteration: p.integer().nullable(),
    /** The agent run that produced it (outcome, turns, usage, cost), if any. */
    agent: p.json<AgentRunSummary>().nullable(),
  },
});

/** What a person said about a patch version (through the API, or a review on the PR). */
export const FeedbackEntity = defineEntity({
  name: 'Feedback',
  tableName: 'feedback',
  properties: {
    id: p.bigint('number').primary(),
    executionId: p.string(),
    /** `api` (a person through the API) or `github` (a review on the PR). */
    source: p.string().$type<FeedbackSource>(),
    text: p.text(),
    comments: p.json<FeedbackComment[]>(),
    createdAt: p.datetime(),
  },
});

/**
 * An iteration of a patch execution after its first run: why it started (`review`,
 * `user_feedback`, `rebase_reapply`), the feedback it answers (none for a re-application), the
 * version it started from and the version it made. Iteration 1 (the first run) has no record.
 */
export const IterationEntity = defineEntity({
  name: 'Iteration',
  tableName: 'iterations',
  properties: {
    executionId: p.string().primary(),
    /** 2, 3, …: one more than the previous iteration of the execution. */
    number: p.integer().primary(),
    reason: p.string().$type<IterationReason>(),
    /** The feedback it answers; null for a re-application on a moved base. */
    feedbackId: p.bigint('number').nullable(),
    /** The patch version it started from. */
    baseVersion: p.integer(),
    /** The patch version it made, once committed. */
    patchVersion: p.integer().nullable(),
    /** Why, in words, when the reason alone does not say it (e.g. the conflicting paths of a re-application). */
    detail: p.text().nullable(),
    createdAt: p.datetime(),
  },
});

/** A stored agent conversation of one iteration: resumed by another patcher after a crash. */
export const AgentConversationEntity = defineEntity({
  name: 'AgentConversation',
  tableName: 'agent_conversations',
  properties: {
    executionId: p.string().primary(),
    iteration: p.integer().primary(),
    /** Messages API `messages` so far (MessageParam[]). */
    conversation: p.json<unknown[]>(),
    usage: p.json<Record<string, number>>(),
    turns: p.integer(),
    /** Times a patcher resumed this conversation after another was lost. */
    resumes: p.integer(),
    /** Repository-relative paths the agent wrote so far (the commit guard allows them). */
    changedPaths: p.json<string[]>(),
    /** Outcomes of the deterministic edits made before the agent started. */
    deterministic: p.json<TargetOutcome[]>(),
    /** Set when the run ended: its summary. */
    result: p.json<AgentRunSummary>().nullable(),
    updatedAt: p.datetime(),
  },
});

/** A pull request: its own record, several per remediation over time. */
export const PullRequestEntity = defineEntity({
  name: 'PullRequest',
  tableName: 'pull_requests',
  properties: {
    id: p.string().primary(),
    executionId: p.string(),
    patchVersion: p.integer(),
    provider: p.string().$type<'github'>(),
    repository: p.string(),
    number: p.integer().nullable(),
    url: p.string().nullable(),
    state: p.string().$type<PullRequestState>(),
    draft: p.boolean(),
    headBranch: p.string(),
    baseBranch: p.string(),
    headSha: p.string().nullable(),
    createdAt: p.datetime(),
    updatedAt: p.datetime(),
    /** Check runs of the head SHA as last read from the provider. */
    checks: p.json<PullRequestCheck[]>(),
    /** Why rebasing stopped (a person pushed to the branch), or null while it is maintained. */
    rebaseStopped: p.text().nullable(),
    /** The base branch head the last rebase request targeted (a failed one is not retried on it). */
    rebaseHead: p.string().nullable(),
    /** The last maintenance failure said on the PR (code, message), or null. */
    lastError: p.json<{ code: string; message: string }>().nullable(),
  },
});

/** A comment, review or check result read from the provider, and its triage. */
export const ReviewFeedbackEntity = defineEntity({
  name: 'ReviewFeedback',
  tableName: 'review_feedback',
  properties: {
    id: p.bigint('number').primary(),
    pullRequestId: p.string(),
    executionId: p.string(),
    /** `review`, `review_comment`, `issue_comment` or `check_run`. */
    kind: p.string(),
    /** The provider's id of the item (unique per kind): a second delivery is recognised. */
    providerId: p.bigint('number'),
    author: p.string(),
    body: p.text(),
    /** Review state (`CHANGES_REQUESTED`, `COMMENTED`, `APPROVED`) or check conclusion; else null. */
    state: p.string().nullable(),
    path: p.string().nullable(),
    line: p.integer().nullable(),
    /** Null until triaged. */
    actionable: p.boolean().nullable(),
    reasoning: p.text().nullable(),
    /** `model`, `policy` (rules without a model call) or null. */
    triagedBy: p.string().nullable(),
    /** When a triage of it started (a claim; an old unfinished one is retried). */
    triageClaimedAt: p.datetime().nullable(),
    /** The feedback it became (and so the iteration it started), when actionable. */
    feedbackId: p.bigint('number').nullable(),
    createdAt: p.datetime(),
  },
});

/** Every transition and heartbeat of an execution, in order. */
export const HistoryEntity = defineEntity({
  name: 'History',
  tableName: 'history',
  properties: {
    id: p.bigint('number').primary(),
    executionId: p.string(),
    event: p.string(),
    fromState: p.string().$type<ExecutionState>().nullable(),
    toState: p.string().$type<ExecutionState>().nullable(),
    step: p.string().$type<Step>().nullable(),
    worker: p.string().nullable(),
    details: p.json<Record<string, unknown>>(),
    at: p.datetime(),
  },
});

/** Transactional outbox: effects to publish to JetStream (`Nats-Msg-Id` = id). */
export const OutboxEntity = defineEntity({
  name: 'Outbox',
  tableName: 'outbox',
  properties: {
    id: p.bigint('number').primary(),
    msgId: p.string(),
    subject: p.string(),
    payload: p.json<Record<string, unknown>>(),
    createdAt: p.datetime(),
    publishedAt: p.datetime().nullable(),
  },
});

/** Every entity, for `MikroORM.init({ entities })`. */
export const ALL_ENTITIES = [
  RemediationEntity,
  ExecutionEntity,
  ExecutionTargetEntity,
  PatchVersionEntity,
  PullRequestEntity,
  HistoryEntity,
  OutboxEntity,
  StepAttemptEntity,
  DeadLetterEntity,
  FeedbackEntity,
  IterationEntity,
  AgentConversationEntity,
  ReviewFeedbackEntity,
  TenantEntity,
  ApiKeyEntity,
];

/** Row types of the entities, as loaded (MikroORM `InferEntity`). */
export type RemediationRow = InferEntity<typeof RemediationEntity>;
export type ExecutionRow = InferEntity<typeof ExecutionEntity>;
export type ExecutionTargetRow = InferEntity<typeof ExecutionTargetEntity>;
export type PatchVersionRow = InferEntity<typeof PatchVersionEntity>;
export type FeedbackRow = InferEntity<typeof FeedbackEntity>;
export type IterationRow = InferEntity<typeof IterationEntity>;
export type AgentConversationRow = InferEntity<typeof AgentConversationEntity>;
export type PullRequestRow = InferEntity<typeof PullRequestEntity>;
export type ReviewFeedbackRow = InferEntity<typeof ReviewFeedbackEntity>;
export type HistoryRow = InferEntity<typeof HistoryEntity>;
export type StepAttemptRow = InferEntity<typeof StepAttemptEntity>;
export type DeadLetterRow = InferEntity<typeof DeadLetterEntity>;
export type TenantRow = InferEntity<typeof TenantEntity>;
export type ApiKeyRow = InferEntity<typeof ApiKeyEntity>;
