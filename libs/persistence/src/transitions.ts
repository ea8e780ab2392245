import type { EntityManager } from '@mikro-orm/postgresql';
import { type ExecutionState, type Step, TERMINAL_STATES, type Tier } from '@remediation/contracts';
import { ConcurrencyConflictError, NotFoundError, RemediationError } from '@remediation/errors';
import { type Effect, type ExecutionSnapshot, type MachineEvent, transition } from '@remediation/state-machine';
import { executionMetrics } from '@remediation/metrics';
import type { Database } from './database.js';
import { outboxWritten } from './outbox.js';
import { ExecutionEntity, ExecutionTargetEntity, HistoryEntity, OutboxEntity, PatchVersionEntity, PullRequestEntity } from './entities.js';

/** Options of `applyTransition`. */
export interface ApplyTransitionOptions {
  /** Execution to move. */
  executionId: string;
  event: MachineEvent;
  /** Who applies it (service name + pid), kept in history. */
  worker: string;
  /** Extra details for the history row (no secrets, no patch contents). */
  details?: Record<string, unknown>;
  /**
   * Writes that must commit atomically with the transition (targets, patch versions, plan).
   * Runs inside the transaction, after the compare-and-set succeeded.
   */
  mutate?: (tx: EntityManager) => Promise<void>;
  /** Extra columns to set on the execution row in the same update (e.g. `baseCommit`). */
  set?: Partial<{ baseCommit: string; baseBranch: string; errorCode: string; errorMessage: string }>;
  /**
   * Fence: the lease the caller claimed for this step (`claimStep`). The compare-and-set then
   * also requires `lease_owner`/`lease_attempt` to be unchanged, so a worker that lost its lease
   * (paused past `ack_wait`, another delivery claimed the step) cannot commit.
   */
  lease?: Lease;
  /**
   * Inbox: the consumer and message id being processed. Recorded in the same transaction; a
   * message already recorded makes the call throw `AlreadyProcessedError` without effect.
   */
  inbox?: { consumer: string; messageId: string };
}

/** A claimed step: the fencing token a commit must present. */
export interface Lease {
  owner: string;
  attempt: number;
}

/** The step's lease is held by someone else now: this worker's commit is refused. */
export class LeaseLostError extends RemediationError {
  constructor(executionId: string, lease: Lease) {
    super('LEASE_LOST', `lease ${lease.owner}#${lease.attempt} on ${executionId} was lost to another worker; commit refused`, {
      retryable: false,
      details: { executionId, ...lease },
    });
    this.name = 'LeaseLostError';
  }
}

/** The message was already processed (inbox hit): no effect applied. */
export class AlreadyProcessedError extends RemediationError {
  constructor(consumer: string, messageId: string) {
    super('ALREADY_PROCESSED', `message ${messageId} was already processed by ${consumer}`, { retryable: false, details: { consumer, messageId } });
    this.name = 'AlreadyProcessedError';
  }
}

/** Result of `applyTransition`. */
export interface AppliedTransition {
  from: ExecutionState | null;
  to: ExecutionState;
  effects: readonly Effect[];
  version: number;
}

/**
 * Applies the state machine to one execution in ONE PostgreSQL transaction (docs/architecture.md
 * "The shared state machine"): read the row, run the pure `transition`, compare-and-set on
 * `(id, version)`, append a history row, insert the effects into the outbox. Either all of it
 * commits or none of it does.
 *
 * @throws NotFoundError when the execution does not exist.
 * @throws InvalidTransitionError when the event is not allowed in the current state (for a
 *   redelivered command this means the step already happened: callers ack and move on).
 * @throws ConcurrencyConflictError when another writer changed the row first (retryable).
 */
export async function applyTransition(db: Database, options: ApplyTransitionOptions): Promise<AppliedTransition> {
  const applied = await db.em().transactional(async (tx) => {
    const row = await tx.findOne(ExecutionEntity, { id: options.executionId });
    if (!row) throw new NotFoundError('execution', options.executionId);
    if (options.lease && (row.leaseOwner !== options.lease.owner || row.leaseAttempt !== options.lease.attempt)) {
      throw new LeaseLostError(row.id, options.lease);
    }
    if (options.inbox) {
      const inserted = await tx.execute<Array<{ message_id: string }>>(
        'insert into processed_messages (consumer, message_id) values (?, ?) on conflict do nothing returning message_id',
        [options.inbox.consumer, options.inbox.messageId],
      );
      if (inserted.length === 0) throw new AlreadyProcessedError(options.inbox.consumer, options.inbox.messageId);
    }
    // The version the execution's pull request shows: the state machine's push policy needs it.
    const pullRequest = row.pullRequestId ? await tx.findOne(PullRequestEntity, { id: row.pullRequestId }, { fields: ['patchVersion'] }) : null;
    const snapshot: ExecutionSnapshot = {
      tenant: row.tenantId,
      remediationId: row.remediationId,
      executionId: row.id,
      kind: row.kind,
      state: row.state,
      step: row.step ?? null,
      failedStep: row.failedStep ?? null,
      pullRequestId: row.pullRequestId ?? null,
      pullRequestVersion: pullRequest?.patchVersion ?? null,
    };
    const now = new Date();
    const result = transition(snapshot, options.event, now.toISOString());
    const to = result.next.state!;
    const terminal = TERMINAL_STATES.has(to);
    const stepChanged = result.next.step !== snapshot.step || to !== snapshot.state;
    const prId =
      'pullRequestId' in options.event && options.event.pullRequestId ? options.event.pullRequestId : (row.pullRequestId ?? null);
    const updated = await tx.nativeUpdate(
      ExecutionEntity,
      {
        id: row.id,
        version: row.version,
        ...(options.lease ? { leaseOwner: options.lease.owner, leaseAttempt: options.lease.attempt } : {}),
      },
      {
        state: to,
        step: result.next.step,
        version: row.version + 1,
        updatedAt: now,
        completedAt: terminal ? now : null,
        failedStep: result.next.failedStep ?? null,
        pullRequestId: prId,
        heartbeatAt: now,
        // A new step starts unclaimed with a fresh re-issue budget.
        ...(stepChanged ? { leaseOwner: null, reissueCount: 0 } : {}),
        ...(to !== snapshot.state && !terminal ? { errorCode: null, errorMessage: null } : {}),
        ...(options.set ?? {}),
        ...('error' in options.event
          ? { errorCode: options.event.error.code, errorMessage: options.event.error.message }
          : {}),
      },
    );
    if (updated !== 1) {
      if (options.lease) throw new LeaseLostError(row.id, options.lease);
      throw new ConcurrencyConflictError(`execution ${row.id} changed while applying ${options.event.type}`, {
        executionId: row.id,
        expectedVersion: row.version,
      });
    }
    await trackTargetStatus(tx, row.id, snapshot, { state: to, step: result.next.step ?? null }, options.event);
    if (options.mutate) await options.mutate(tx);
    await tx.insert(HistoryEntity, {
      executionId: row.id,
      event: options.event.type,
      fromState: snapshot.state,
      toState: to,
      step: result.next.step,
      worker: options.worker,
      details: { ...eventDetails(options.event), ...(options.details ?? {}) },
      at: now,
    });
    await insertEffects(tx, result.effects, `${row.id}:${row.version + 1}`);
    return { kind: row.kind, applied: { from: snapshot.state, to, effects: result.effects, version: row.version + 1 } };
  });
  // Counted once committed (a rolled-back attempt changed nothing).
  if (db.metrics) executionMetrics(db.metrics).transitions.inc({ kind: applied.kind, state: applied.applied.to });
  if (applied.applied.effects.length > 0) outboxWritten(db);
  return applied.applied;
}

/**
 * Creates an execution row in its initial state by applying the creation event
 * (`plan.requested` / `patch.requested`) inside the caller's transaction.
 */
export async function createExecutionInTx(
  tx: EntityManager,
  row: {
    id: string;
    remediationId: string;
    /** The remediation's tenant. */
    tenant: string;
    kind: 'plan' | 'patch';
    tier?: Tier | null;
    selectedTargets?: string[] | null;
    branchName?: string | null;
    asDraft?: boolean;
    baseBranch?: string | null;
    idempotencyKey?: string | null;
    allowEdits?: string[];
  },
  worker: string,
): Promise<readonly Effect[]> {
  const now = new Date();
  const snapshot: ExecutionSnapshot = {
    tenant: row.tenant,
    remediationId: row.remediationId,
    executionId: row.id,
    kind: row.kind,
    state: null,
    step: null,
  };
  const event: MachineEvent = row.kind === 'plan' ? { type: 'plan.requested' } : { type: 'patch.requested' };
  const result = transition(snapshot, event, now.toISOString());
  await tx.insert(ExecutionEntity, {
    id: row.id,
    remediationId: row.remediationId,
    tenantId: row.tenant,
    kind: row.kind,
    state: result.next.state!,
    step: result.next.step,
    version: 1,
    tier: row.tier ?? null,
    selectedTargets: row.selectedTargets ?? null,
    branchName: row.branchName ?? null,
    asDraft: row.asDraft ?? false,
    baseBranch: row.baseBranch ?? null,
    baseCommit: null,
    plan: null,
    errorCode: null,
    errorMessage: null,
    startedAt: now,
    completedAt: null,
    updatedAt: now,
    leaseOwner: null,
    leaseAttempt: 0,
    heartbeatAt: now,
    failedStep: null,
    pullRequestId: null,
    reissueCount: 0,
    idempotencyKey: row.idempotencyKey ?? null,
    decision: null,
    allowEdits: row.allowEdits ?? [],
  });
  await tx.insert(HistoryEntity, {
    executionId: row.id,
    event: event.type,
    fromState: null,
    toState: result.next.state,
    step: result.next.step,
    worker,
    details: {},
    at: now,
  });
  await insertEffects(tx, result.effects, `${row.id}:1`);
  return result.effects;
}

/**
 * Appends a history row that is not a transition (a heartbeat, a progress note, a retry) and, with
 * `also.publish`, writes a public event to the outbox in the same transaction (published by the relay;
 * `msgId` de-duplicates a republish in JetStream's window, so make it name the fact, e.g.
 * `feedback.triaged:<id>`).
 * @param details e.g. `{ received: 450, total: 1000 }` for clone progress.
 * @throws the database's errors (unique `msgId` violated when the same fact is recorded twice).
 */
export async function recordHistory(
  db: Database,
  entry: { executionId: string; event: string; worker: string; details?: Record<string, unknown> },
  also: {
    publish?: { msgId: string; subject: string; payload: Record<string, unknown> };
    /** More writes in the same transaction (e.g. the decision the entry records). */
    mutate?: (tx: EntityManager) => Promise<void>;
  } = {},
): Promise<void> {
  await db.em().transactional(async (tx) => {
    await tx.insert(HistoryEntity, {
      executionId: entry.executionId,
      event: entry.event,
      fromState: null,
      toState: null,
      step: null,
      worker: entry.worker,
      details: entry.details ?? {},
      at: new Date(),
    });
    await also.mutate?.(tx);
    if (also.publish) {
      const { msgId, subject, payload } = also.publish;
      await tx.insert(OutboxEntity, { msgId, subject, payload, createdAt: new Date(), publishedAt: null });
    }
  });
}

/**
 * Per-target status follows the patch step (docs/mission.md: per-target `running/success/failed/skipped`):
 * when a patch execution's editing step starts (or is retried), its selected targets are `running`;
 * when the execution then fails or is cancelled before the step recorded their outcomes, the targets
 * still `running` become `failed` (with the execution's error) or `skipped` (cancelled). Outcomes the
 * step records itself (the transition's `mutate`, run after this) take precedence. Later iterations
 * (feedback, reviews, re-applications: the execution has a patch version) keep the outcomes of the
 * version they revise.
 */
async function trackTargetStatus(
  tx: EntityManager,
  executionId: string,
  from: ExecutionSnapshot,
  to: { state: ExecutionState; step: Step | null },
  event: MachineEvent,
): Promise<void> {
  const startsEditing = to.state === 'patch_running' && to.step === 'editing' && (from.state !== 'patch_running' || from.step !== 'editing');
  if (startsEditing && (await tx.count(PatchVersionEntity, { executionId })) === 0) {
    // The first version's editing step works on every selected target; a later iteration starts
    // from the outcomes of the version it revises.
    await tx.nativeUpdate(ExecutionTargetEntity, { executionId, status: { $ne: 'skipped' } }, { status: 'running', reason: null });
  } else if (from.state === 'patch_running' && (to.state === 'patch_failed' || to.state === 'patch_cancelled')) {
    const reason = to.state === 'patch_cancelled' ? `the execution was cancelled${'reason' in event && event.reason ? `: ${event.reason}` : ''}` : 'error' in event ? `the step failed: ${event.error.code}: ${event.error.message}` : 'the step failed';
    await tx.nativeUpdate(ExecutionTargetEntity, { executionId, status: 'running' }, { status: to.state === 'patch_cancelled' ? 'skipped' : 'failed', reason });
  }
}

async function insertEffects(tx: EntityManager, effects: readonly Effect[], msgIdBase: string): Promise<void> {
  let i = 0;
  for (const effect of effects) {
    await tx.insert(OutboxEntity, {
      msgId: `${msgIdBase}:${i++}`,
      subject: effect.subject,
      payload: effect.payload as unknown as Record<string, unknown>,
      createdAt: new Date(),
      publishedAt: null,
    });
  }
}

function eventDetails(event: MachineEvent): Record<string, unknown> {
  const { type: _type, ...rest } = event;
  return rest;
}

/**
 * The transition that fails a pull-request step (push or open) and marks its PR record `failed`,
 * for `CommandContext.transition` / `applyTransition` (shared by git-gateway and pr-service).
 */
export function pullRequestFailed(
  executionId: string,
  pullRequestId: string | undefined,
  error: { code: string; message: string },
): Omit<ApplyTransitionOptions, 'worker' | 'lease' | 'inbox'> {
  return {
    executionId,
    event: { type: 'pull_request.failed', pullRequestId: pullRequestId ?? '', error },
    mutate: async (tx) => {
      // Only a PR being opened fails; an open PR whose update failed stays open (pr-service
      // comments on it, and marks it `rebase_failed` when a rebase failed).
      if (pullRequestId) await tx.nativeUpdate(PullRequestEntity, { id: pullRequestId, state: 'opening' }, { state: 'failed', updatedAt: new Date() });
    },
  };
}
