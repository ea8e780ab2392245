import type { EntityManager } from '@mikro-orm/postgresql';
import {
  ACTIVE_STATES,
  type Codebase,
  type ExecutionState,
  type PartialSuccessDecisionBody,
  type PlannerOutput,
  type PullRequestBody,
  type TargetOutcome,
  type TargetProof,
  type TargetVersion,
  type Tier,
  type TransitiveFixOption,
  defaultBranchName,
  executionId as executionIdOf,
} from '@remediation/contracts';
import { NotFoundError, RemediationError } from '@remediation/errors';
import type { ExecutionStateCount } from '@remediation/metrics';
import type { Database } from './database.js';
import {
  ExecutionEntity,
  type ExecutionRow,
  ExecutionTargetEntity,
  type ExecutionTargetRow,
  type PatchVersionRow,
  PullRequestEntity,
} from './entities.js';
import { applyTransition, createExecutionInTx } from './transitions.js';
import { outboxWritten } from './outbox.js';
import { pullRequestBody } from './views.js';

/**
 * Loads an execution a command handler works on. The consumer runtime has already claimed the
 * step (lease); the handler's commit is fenced by it, so no state check is needed here.
 * @param tenant when given (the API always gives the caller's), another tenant's execution is not found.
 * @throws NotFoundError when the execution does not exist (a command for an unknown run) or is another tenant's.
 */
export async function loadExecution(db: Database, executionId: string, tenant?: string): Promise<ExecutionRow> {
  const exec = await findExecution(db, executionId, tenant);
  if (!exec) throw new NotFoundError('execution', executionId);
  return exec;
}

/**
 * The execution row, or null when it does not exist (e.g. the database was reset) or, with
 * `tenant`, belongs to another tenant. Read afresh.
 */
export async function findExecution(db: Database, executionId: string, tenant?: string): Promise<ExecutionRow | null> {
  return db.em().findOne(ExecutionEntity, { id: executionId, ...(tenant ? { tenantId: tenant } : {}) });
}

/** The targets of a patch execution, by name. */
export async function listExecutionTargets(db: Database, executionId: string): Promise<ExecutionTargetRow[]> {
  return db.em().find(ExecutionTargetEntity, { executionId }, { orderBy: { name: 'asc' } });
}

/**
 * An execution with its targets (by name).
 * @throws NotFoundError when the execution does not exist.
 */
export async function loadExecutionWithTargets(db: Database, executionId: string): Promise<{ execution: ExecutionRow; targets: ExecutionTargetRow[] }> {
  const [execution, targets] = await Promise.all([loadExecution(db, executionId), listExecutionTargets(db, executionId)]);
  return { execution, targets };
}

/** The id of the tenant's execution created with the scoped idempotency key `<remediation id>:<key>`, or null. Keys are per tenant. */
export async function findExecutionByIdempotencyKey(db: Database, tenant: string, idempotencyKey: string): Promise<string | null> {
  const row = await db.em().findOne(ExecutionEntity, { tenantId: tenant, idempotencyKey }, { fields: ['id'] });
  return row?.id ?? null;
}

/**
 * The PlannerOutput a patch execution was made from: its remediation's latest plan execution
 * started before it. After a re-plan (`createPlanExecution`) the remediation has several; a patch
 * execution keeps the one its targets were chosen from ({@link createPatchExecution} checks, under
 * the remediation's row lock that re-plans take too, that it is the latest and generated).
 * @returns null when that plan has no output (e.g. a patch execution created without a plan, as in specs).
 * @throws NotFoundError when the execution does not exist.
 */
export async function planOfExecution(db: Database, executionId: string): Promise<PlannerOutput | null> {
  const exec = await db.em().findOne(ExecutionEntity, { id: executionId }, { fields: ['remediationId', 'startedAt'] });
  if (!exec) throw new NotFoundError('execution', executionId);
  const [plan] = await db
    .em()
    .find(ExecutionEntity, { remediationId: exec.remediationId, kind: 'plan', startedAt: { $lte: exec.startedAt } }, { orderBy: { startedAt: 'desc' }, limit: 1 });
  return plan?.plan ?? null;
}

/**
 * The state and output of the remediation's latest plan execution (output null until
 * `plan_generated`).
 * @param tenant when given, another tenant's remediation is not found.
 * @throws NotFoundError when the remediation (or its plan execution) does not exist or is another tenant's.
 */
export async function loadLatestPlanExecution(
  db: Database,
  remediationId: string,
  tenant?: string,
): Promise<{ id: string; state: ExecutionState; plan: PlannerOutput | null }> {
  const [plan] = await db.em().find(ExecutionEntity, { remediationId, kind: 'plan', ...(tenant ? { tenantId: tenant } : {}) }, { orderBy: { startedAt: 'desc' }, limit: 1 });
  if (!plan) throw new NotFoundError('remediation', remediationId);
  return { id: plan.id, state: plan.state, plan: plan.plan ?? null };
}

/** A target of a new patch execution, as chosen from the plan. */
export interface NewExecutionTarget {
  /** purl type of the plan target (`npm`, `pypi`, …); default `npm`. */
  ecosystem?: string;
  name: string;
  manifestPath: string;
  fromVersion: string;
  toVersion: string;
  /** `pending` (to patch) or `skipped` (no fix in the tier, with the reason). */
  status: 'pending' | 'skipped';
  reason: string | null;
  /** Advisory ids. */
  advisories: string[];
  needsAgent: boolean;
  /** Each installed version and its chosen version, when the plan targets the package at several (`TargetVersion`). */
  versions?: TargetVersion[];
  /** The plan's fix option to apply, for a transitive target (`ExecutionTarget.fix`). */
  fix?: TransitiveFixOption;
}

/**
 * Creates a patch execution `<remediation id>.patch.<n>` (n from the remediation's counter) in
 * `patch_running` with its targets, and its first command in the outbox, in one transaction. The
 * base branch is the codebase's.
 * @returns the new execution's id.
 * @param input.tenant when given, another tenant's remediation is not found (the execution always
 *   gets its remediation's tenant).
 * @param input.planExecutionId the plan execution the targets were chosen from: when given, it must
 *   still be the remediation's latest plan execution and `plan_generated` once the remediation row
 *   is locked (a re-plan started in between makes the targets stale).
 * @throws NotFoundError when the remediation does not exist (or is another tenant's);
 *   RemediationError `PLAN_NOT_READY` when `planExecutionId` is no longer the latest generated
 *   plan; the database's unique violation (SQLSTATE 23505) when `idempotencyKey` is taken.
 */
export async function createPatchExecution(
  db: Database,
  input: {
    remediationId: string;
    tenant?: string;
    tier: Tier;
    selectedTargets: string[] | null;
    branchName: string | null;
    asDraft: boolean;
    idempotencyKey: string | null;
    allowEdits: string[];
    targets: NewExecutionTarget[];
    planExecutionId?: string;
  },
  worker: string,
): Promise<string> {
  const created = await db.em().transactional(async (tx) => {
    const rows = await tx.execute<Array<{ execution_seq: number; codebase: Codebase; tenant_id: string }>>(
      'update remediations set execution_seq = execution_seq + 1 where id = ? and tenant_id = coalesce(?, tenant_id) returning execution_seq, codebase, tenant_id',
      [input.remediationId, input.tenant ?? null],
    );
    const rem = rows[0];
    if (!rem) throw new NotFoundError('remediation', input.remediationId);
    if (input.planExecutionId !== undefined) {
      const [latest] = await tx.find(ExecutionEntity, { remediationId: input.remediationId, kind: 'plan' }, { orderBy: { startedAt: 'desc' }, limit: 1, fields: ['id', 'state'] });
      if (latest?.id !== input.planExecutionId || latest.state !== 'plan_generated') {
        throw new RemediationError('PLAN_NOT_READY', `the plan of ${input.remediationId} changed while the execution was being created (now ${latest?.id ?? 'none'}, ${latest?.state ?? 'none'}): retry`, {
          details: { planExecutionId: latest?.id ?? null, state: latest?.state ?? null },
        });
      }
    }
    const id = executionIdOf(input.remediationId, 'patch', rem.execution_seq);
    await createExecutionInTx(
      tx,
      {
        id,
        remediationId: input.remediationId,
        tenant: rem.tenant_id,
        kind: 'patch',
        tier: input.tier,
        selectedTargets: input.selectedTargets,
        branchName: input.branchName,
        asDraft: input.asDraft,
        baseBranch: rem.codebase.baseBranch ?? null,
        idempotencyKey: input.idempotencyKey,
        allowEdits: input.allowEdits,
      },
      worker,
    );
    for (const t of input.targets) {
      await tx.insert(ExecutionTargetEntity, { executionId: id, ...t, ecosystem: t.ecosystem ?? 'npm', versions: t.versions ?? null, fix: t.fix ?? null, declaredFrom: null, declaredTo: null, proof: null });
    }
    return id;
  });
  outboxWritten(db);
  return created;
}

/** Stores a plan execution's output, in the caller's transaction (with `plan.completed`). */
export async function storePlan(tx: EntityManager, executionId: string, plan: PlannerOutput): Promise<void> {
  await tx.nativeUpdate(ExecutionEntity, { id: executionId }, { plan });
}

/**
 * Stores the outcome of each target after an editing step (status, reason, declared requirement
 * before and after) and its proof of remediation (null when it does not ship), in the caller's
 * transaction (with `patch.applied`).
 */
export async function recordTargetOutcomes(
  tx: EntityManager,
  executionId: string,
  outcomes: ReadonlyArray<TargetOutcome & { proof: TargetProof | null }>,
): Promise<void> {
  for (const o of outcomes) {
    await tx.nativeUpdate(
      ExecutionTargetEntity,
      { executionId, name: o.name },
      { status: o.status, reason: o.reason, declaredFrom: o.declaredFrom, declaredTo: o.declaredTo, proof: o.proof },
    );
  }
}

/** Stores the partial-success decision of an editing step, in the caller's transaction. */
export async function recordDecision(tx: EntityManager, executionId: string, decision: PartialSuccessDecisionBody): Promise<void> {
  await tx.nativeUpdate(ExecutionEntity, { id: executionId }, { decision });
}

/**
 * Approves a patch version for a pull request: creates the pull request record (`opening`, on the
 * execution's branch, or `remediation/<rem>/<kind>.<n>` by default) and applies
 * `pull_request.requested` (→ `pr_opening`, `branch.push` of that version) in one transaction. The
 * caller checked that the version is approvable (`assertApprovable`).
 * @param input.repository `owner/repo` on the provider.
 * @returns the new pull request record.
 * @throws InvalidTransitionError unless the execution is `patch_generated` or `pr_failed`.
 */
export async function requestPullRequest(
  db: Database,
  input: { execution: ExecutionRow; patchVersion: PatchVersionRow; pullRequestId: string; repository: string; worker: string },
): Promise<PullRequestBody> {
  const { execution: exec, patchVersion: pv, pullRequestId } = input;
  await applyTransition(db, {
    executionId: exec.id,
    event: { type: 'pull_request.requested', pullRequestId, patchVersion: pv.version },
    worker: input.worker,
    details: { pullRequestId, patchVersion: pv.version },
    mutate: async (tx) => {
      const now = new Date();
      await tx.insert(PullRequestEntity, {
        id: pullRequestId,
        executionId: exec.id,
        patchVersion: pv.version,
        provider: 'github',
        repository: input.repository,
        number: null,
        url: null,
        state: 'opening',
        draft: exec.asDraft,
        headBranch: exec.branchName ?? defaultBranchName(exec.id),
        baseBranch: exec.baseBranch ?? 'main',
        headSha: pv.sha,
        createdAt: now,
        updatedAt: now,
        checks: [],
        rebaseStopped: null,
        rebaseHead: null,
        lastError: null,
      });
    },
  });
  return pullRequestBody(await db.em().findOneOrFail(PullRequestEntity, { id: pullRequestId }));
}

/**
 * Resumes a failed execution (plan or patch) at the step that failed (`retry.requested`); a
 * failed pull request goes back to `opening`.
 * @param tenant when given, another tenant's execution is not found.
 * @throws NotFoundError; InvalidTransitionError when the execution is not failed.
 */
export async function retryExecution(db: Database, executionId: string, worker: string, tenant?: string): Promise<void> {
  const exec = await loadExecution(db, executionId, tenant);
  await applyTransition(db, {
    executionId,
    event: { type: 'retry.requested', ...(exec.pullRequestId ? { pullRequestId: exec.pullRequestId } : {}) },
    worker,
    details: { failedStep: exec.failedStep, previousError: exec.errorCode ? { code: exec.errorCode, message: exec.errorMessage } : null },
    mutate: async (tx) => {
      if (exec.pullRequestId && exec.state === 'pr_failed') {
        await tx.nativeUpdate(PullRequestEntity, { id: exec.pullRequestId }, { state: 'opening', updatedAt: new Date() });
      }
    },
  });
}

/**
 * Cancels a running execution (`cancel.requested`, error `CANCELLED` with `reason`); a pull request
 * being opened is marked `failed`.
 * @param tenant when given, another tenant's execution is not found.
 * @throws NotFoundError; InvalidTransitionError when the execution is not running.
 */
export async function cancelExecution(db: Database, executionId: string, reason: string, worker: string, tenant?: string): Promise<void> {
  const exec = await loadExecution(db, executionId, tenant);
  await applyTransition(db, {
    executionId,
    event: { type: 'cancel.requested', reason },
    worker,
    set: { errorCode: 'CANCELLED', errorMessage: reason },
    mutate: async (tx) => {
      if (exec.pullRequestId && exec.state === 'pr_opening') {
        await tx.nativeUpdate(PullRequestEntity, { id: exec.pullRequestId }, { state: 'failed', updatedAt: new Date() });
      }
    },
  });
}

/**
 * Executions grouped by kind and state, with the oldest heartbeat age (seconds) of those at a step in an
 * active state, as the reconciler sees them (0 for the others): one aggregate query, for the scrape-time gauges
 * `remediation_executions` and `remediation_execution_heartbeat_age_seconds`.
 */
export async function countExecutionsByState(db: Database): Promise<ExecutionStateCount[]> {
  const active = [...ACTIVE_STATES].map((s) => `'${s}'`).join(', ');
  const rows = await db.em().execute<Array<{ kind: string; state: string; n: string; age: string | null }>>(
    `select kind, state, count(*) as n,
            max(extract(epoch from now() - heartbeat_at)) filter (where state in (${active}) and step is not null) as age
       from executions group by kind, state`,
  );
  return rows.map((r) => ({ kind: r.kind, state: r.state, count: Number(r.n), oldestHeartbeatAgeSeconds: Math.max(0, Number(r.age ?? 0)) }));
}
