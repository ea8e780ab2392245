import { type Codebase, executionId } from '@remediation/contracts';
import { NotFoundError } from '@remediation/errors';
import type { Database } from './database.js';
import { RemediationEntity } from './entities.js';
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

/** The id of the tenant's remediation created with `idempotencyKey` (the `Idempotency-Key` header), or null. Keys are per tenant. */
export async function findRemediationByIdempotencyKey(db: Database, tenant: string, idempotencyKey: string): Promise<string | null> {
  const row = await db.em().findOne(RemediationEntity, { tenantId: tenant, idempotencyKey }, { fields: ['id'] });
  return row?.id ?? null;
}

/**
 * The codebase of a remediation (repository URL, base branch, pull-request repository).
 * @throws NotFoundError when the remediation does not exist.
 */
export async function loadCodebase(db: Database, remediationId: string): Promise<Codebase> {
  const row = await db.em().findOne(RemediationEntity, { id: remediationId }, { fields: ['codebase'] });
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
