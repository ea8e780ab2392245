import { defineEntity, p } from '@mikro-orm/core';
import type {
  Codebase,
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
    codebase: p.json<Codebase>(),
    /** CycloneDX scan as submitted (validated by the planner). */
    scan: p.json<Record<string, unknown>>().lazy(),
    /** Caller-supplied idempotency key (Idempotency-Key header); unique when present. */
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
    errorCode: p.string(),
    errorMessage: p.text(),
    createdAt: p.datetime(),
  },
});

/** Per-target status of a patch execution. */
export const ExecutionTargetEntity = defineEntity({
  name: 'ExecutionTarget',
  tableName: 'execution_targets',
  properties: {
    executionId: p.string().primary(),
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
];
