import { type Codebase, executionId } from '@remediation/contracts';
import { NotFoundError, RemediationError } from '@remediation/errors';
import type { Database } from './database.js';
import { ExecutionEntity, RemediationEntity } from './entities.js';
import { DEFAULT_TENANT } from './tenants.js';
import { createExecutionInTx } from './transitions.js';

/**
 * Stores a remediation (codebase + scan) and starts its plan execution `<id>.plan.1`
 * (`planner_running`, with its `plan.run` command in the outbox), in one transaction.
 * @param input.scan the scan as submitted (the caller validated it): a JSON document, or the text
 *   of a non-JSON one (CycloneDX XML), stored as a JSON string.
 * @param input.tenant the owning tenant (default `default`); the API always passes the caller's.
 * @throws the database's errors; unique violation (SQLSTATE 23505) when `idempotencyKey` is taken.
 */
export async function createRemediation(
  db: Database,
  input: { id: string; tenant?: string; codebase: Codebase; scan: Record<string, unknown> | string; idempotencyKey: string | null; worker: string },
): Promise<void> {
  const tenant = input.tenant ?? DEFAULT_TENANT;
  await db.em().transactional(async (tx) => {
    await tx.insert(RemediationEntity, {
      id: input.id,
      tenantId: tenant,
      codebase: input.codebase,
      scan: input.scan,
      idempotencyKey: input.idempotencyKey,
      executionSeq: 1,
      createdAt: new Date(),
    });
    await createExecutionInTx(tx, { id: executionId(input.id, 'plan', 1), remediationId: input.id, tenant, kind: 'plan' }, input.worker);
  });
}

/**
 * Re-plans a remediation: creates its next plan execution `<id>.plan.<n>` (n from the
 * remediation's execution counter, shared with patch executions) in `planner_running`, with its
 * `plan.run` command in the outbox, in one transaction. The planner plans the same stored scan
 * with what it knows now; the remediation's view and later patch executions use the newest plan
 * execution (by start time: `getRemediationView`, `loadLatestPlanExecution`).
 * The remediation row is locked first, so two concurrent re-plans cannot both pass the check.
 * @param input.tenant when given, another tenant's remediation is not found.
 * @param input.idempotencyKey stored on the execution as given (callers scope it, e.g. `<id>:plans:<key>`).
 * @returns the new execution's id.
 * @throws NotFoundError when the remediation does not exist (or is another tenant's);
 *   RemediationError `PLAN_RUNNING` (details `{ executionId }`) while a plan execution of the
 *   remediation is `planner_running`; the database's unique violation (SQLSTATE 23505) when
 *   `idempotencyKey` is taken.
 */
export async function createPlanExecution(
  db: Database,
  input: { remediationId: string; tenant?: string; idempotencyKey: string | null },
  worker: string,
): Promise<string> {
  return db.em().transactional(async (tx) => {
    const rows = await tx.execute<Array<{ execution_seq: number; tenant_id: string }>>(
      'update remediations set execution_seq = execution_seq + 1 where id = ? and tenant_id = coalesce(?, tenant_id) returning execution_seq, tenant_id',
      [input.remediationId, input.tenant ?? null],
    );
    const rem = rows[0];
    if (!rem) throw new NotFoundError('remediation', input.remediationId);
    const running = await tx.findOne(ExecutionEntity, { remediationId: input.remediationId, kind: 'plan', state: 'planner_running' }, { fields: ['id'] });
    if (running) {
      throw new RemediationError('PLAN_RUNNING', `${running.id} is still planning ${input.remediationId}: re-plan once it has finished`, {
        retryable: false,
        details: { executionId: running.id },
      });
    }
    const id = executionId(input.remediationId, 'plan', rem.execution_seq);
    await createExecutionInTx(tx, { id, remediationId: input.remediationId, tenant: rem.tenant_id, kind: 'plan', idempotencyKey: input.idempotencyKey }, worker);
    return id;
  });
}

/** The id of the tenant's remediation created with `idempotencyKey` (the `Idempotency-Key` header), or null. Keys are per tenant. */
export async function findRemediationByIdempotencyKey(db: Database, tenant: string, idempotencyKey: string): Promise<string | null> {
  const row = await db.em().findOne(RemediationEntity, { tenantId: tenant, idempotencyKey }, { fields: ['id'] });
  return row?.id ?? null;
}

/**
 * The codebase of a remediation (repository URL, base branch, pull-request repository).
 * @param tenant when given, only that tenant's remediation is found (the API passes the caller's).
 * @throws NotFoundError when the remediation does not exist (or is another tenant's).
 */
export async function loadCodebase(db: Database, remediationId: string, tenant?: string): Promise<Codebase> {
  const row = await db.em().findOne(RemediationEntity, { id: remediationId, ...(tenant ? { tenantId: tenant } : {}) }, { fields: ['codebase'] });
  if (!row) throw new NotFoundError('remediation', remediationId);
  return row.codebase;
}

/**
 * The scan of a remediation as submitted (a lazy column: loaded only here): a JSON document, or
 * the text of a CycloneDX XML one.
 * @throws NotFoundError when the remediation does not exist.
 */
export async function loadScan(db: Database, remediationId: string): Promise<Record<string, unknown> | string> {
  const row = await db.em().findOne(RemediationEntity, { id: remediationId }, { populate: ['scan'] });
  if (!row) throw new NotFoundError('remediation', remediationId);
  return row.scan;
}
