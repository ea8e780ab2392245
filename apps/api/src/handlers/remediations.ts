import { CreateExecutionRequest, CreateRemediationRequest, executionId, newRemediationId, providerRepository } from '@remediation/contracts';
import type { ExecutionResponse, PlannerOutput, RemediationResponse } from '@remediation/contracts';
import { InvalidInputError, NotFoundError, RemediationError } from '@remediation/errors';
import {
  ExecutionEntity,
  ExecutionTargetEntity,
  RemediationEntity,
  createExecutionInTx,
  getExecutionView,
  getRemediationView,
} from '@remediation/persistence';
import { parseCycloneDx } from '@remediation/sbom';
import type { ApiContext } from '../server.js';

/**
 * `POST /v1/remediations`: validates the codebase and the scan, stores the remediation and
 * starts its plan execution (`planner_running`), all in one transaction. With an
 * `Idempotency-Key` already used, returns the existing remediation (`created: false`).
 * @throws InvalidInputError `SCAN_INVALID` / `SCAN_UNSUPPORTED_VERSION` / `CODEBASE_INVALID`
 */
export async function createRemediation(
  ctx: ApiContext,
  body: CreateRemediationRequest,
  idempotencyKey: string | undefined,
): Promise<{ created: boolean; remediation: RemediationResponse }> {
  if (idempotencyKey) {
    const existing = await ctx.db.em().findOne(RemediationEntity, { idempotencyKey });
    if (existing) return { created: false, remediation: await getRemediationView(ctx.db, existing.id) };
  }
  validateCodebase(body.codebase.repository);
  if (!providerRepository(body.codebase)) {
    throw new InvalidInputError(
      'CODEBASE_INVALID',
      `cannot derive the pull-request repository (owner/repo) from ${JSON.stringify(body.codebase.repository)}: set codebase.pullRequestRepository`,
    );
  }
  parseCycloneDx(body.scan); // throws SCAN_* errors naming the bad field
  const id = newRemediationId();
  try {
    await ctx.db.em().transactional(async (tx) => {
      await tx.insert(RemediationEntity, {
        id,
        codebase: body.codebase,
        scan: body.scan,
        idempotencyKey: idempotencyKey ?? null,
        executionSeq: 1,
        createdAt: new Date(),
      } as never);
      await createExecutionInTx(tx, { id: executionId(id, 'plan', 1), remediationId: id, kind: 'plan' }, ctx.worker);
    });
  } catch (err) {
    if (idempotencyKey && (err as { code?: string }).code === '23505') {
      const existing = await ctx.db.em().findOne(RemediationEntity, { idempotencyKey });
      if (existing) return { created: false, remediation: await getRemediationView(ctx.db, existing.id) };
    }
    throw err;
  }
  return { created: true, remediation: await getRemediationView(ctx.db, id) };
}

function validateCodebase(repository: string): void {
  const ok =
    /^(https?|ssh|git|file):\/\/\S+$/.test(repository) || /^[^@\s]+@[^:\s]+:\S+$/.test(repository) || repository.startsWith('/');
  if (!ok) {
    throw new InvalidInputError(
      'CODEBASE_INVALID',
      `codebase.repository must be a git URL (https://, ssh://, git@host:path, file://) or an absolute path; got ${JSON.stringify(repository)}`,
    );
  }
}

/**
 * `POST /v1/remediations/:id/executions`: starts a patch execution for a tier (optionally a
 * subset of targets). Inputs are immutable: another choice means another execution. Several
 * may run at once. Targets without a fix in the tier are recorded as `skipped` with the reason.
 * @throws NotFoundError; RemediationError `PLAN_NOT_READY` (409), `UNKNOWN_TARGET` / `NO_TARGETS` (422)
 */
export async function createExecution(
  ctx: ApiContext,
  remediationId: string,
  body: CreateExecutionRequest,
  idempotencyKey?: string,
): Promise<{ created: boolean; execution: ExecutionResponse }> {
  const key = idempotencyKey ? `${remediationId}:${idempotencyKey}` : null;
  if (key) {
    const existing = await ctx.db.em().findOne(ExecutionEntity, { idempotencyKey: key });
    if (existing) return { created: false, execution: await getExecutionView(ctx.db, existing.id) };
  }
  let id: string;
  try {
    id = await insertExecution(ctx, remediationId, body, key);
  } catch (err) {
    if (key && (err as { code?: string }).code === '23505') {
      const existing = await ctx.db.em().findOne(ExecutionEntity, { idempotencyKey: key });
      if (existing) return { created: false, execution: await getExecutionView(ctx.db, existing.id) };
    }
    throw err;
  }
  return { created: true, execution: await getExecutionView(ctx.db, id) };
}

async function insertExecution(ctx: ApiContext, remediationId: string, body: CreateExecutionRequest, key: string | null): Promise<string> {
  return ctx.db.em().transactional(async (tx) => {
    const rows = await tx.execute<Array<{ execution_seq: number; codebase: { baseBranch?: string } }>>(
      'update remediations set execution_seq = execution_seq + 1 where id = ? returning execution_seq, codebase',
      [remediationId],
    );
    const rem = rows[0];
    if (!rem) throw new NotFoundError('remediation', remediationId);
    const plans = await tx.find(ExecutionEntity, { remediationId, kind: 'plan' }, { orderBy: { startedAt: 'desc' }, limit: 1 });
    const planRow = plans[0];
    if (!planRow || planRow.state !== 'plan_generated' || !planRow.plan) {
      throw new RemediationError('PLAN_NOT_READY', `the plan of ${remediationId} is ${planRow?.state ?? 'missing'}, not plan_generated`, {
        details: { state: planRow?.state },
      });
    }
    const plan: PlannerOutput = planRow.plan;
    const tier = body.upgradeOption;
    const known = new Set(plan.targets.map((t) => t.name));
    if (body.targets) {
      const unknown = body.targets.filter((t) => !known.has(t));
      if (unknown.length) {
        throw new RemediationError('UNKNOWN_TARGET', `not targets of this plan: ${unknown.join(', ')}`, {
          details: { unknown, targets: [...known] },
        });
      }
    }
    const chosen = plan.targets.filter((t) => !body.targets || body.targets.includes(t.name));
    const withFix = chosen.filter((t) => t.tiers[tier] !== null);
    if (withFix.length === 0) {
      throw new RemediationError('NO_TARGETS', `no selected target has a fixed version in the ${tier} tier`, {
        details: { tier, selected: chosen.map((t) => t.name) },
      });
    }
    const id = executionId(remediationId, 'patch', rem.execution_seq);
    await createExecutionInTx(
      tx,
      {
        id,
        remediationId,
        kind: 'patch',
        tier,
        selectedTargets: body.targets ?? null,
        branchName: body.branchName ?? null,
        asDraft: body.asDraft,
        baseBranch: rem.codebase.baseBranch ?? null,
        idempotencyKey: key,
        allowEdits: body.allowEdits ?? [],
      },
      ctx.worker,
    );
    for (const t of chosen) {
      const option = t.tiers[tier];
      await tx.insert(ExecutionTargetEntity, {
        executionId: id,
        name: t.name,
        manifestPath: t.manifestPath,
        fromVersion: t.currentVersion,
        toVersion: option?.version ?? t.currentVersion,
        declaredFrom: null,
        declaredTo: null,
        status: option ? 'pending' : 'skipped',
        reason: option ? null : (t.noFixReason ?? `no fixed version in the ${tier} tier`),
        advisories: t.advisories.map((a) => a.id),
        // A major jump or known breaking changes: code may need changes only the agent can make.
        needsAgent: option?.jump === 'major' || option?.breakingChangeRisk === 'high',
      } as never);
    }
    return id;
  });
}
