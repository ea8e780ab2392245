import type { ExecutionState, PlannerOutput, Step } from '@remediation/contracts';
import type { Database } from './database.js';
import { ExecutionEntity } from './entities.js';

/**
 * Loads an execution that a command handler is about to work on, or null when it is no longer
 * at `state`/`step` (the step already happened: a redelivery or a duplicate command).
 * @throws NotFoundError-like MikroORM error when the execution does not exist.
 */
export async function executionAtStep(db: Database, executionId: string, state: ExecutionState, step: Step | null) {
  const exec = await db.em().findOneOrFail(ExecutionEntity, { id: executionId });
  return exec.state === state && (exec.step ?? null) === step ? exec : null;
}

/** The PlannerOutput of the remediation's latest generated plan, or null. */
export async function latestPlan(db: Database, remediationId: string): Promise<PlannerOutput | null> {
  const row = await db
    .em()
    .findOne(ExecutionEntity, { remediationId, kind: 'plan', state: 'plan_generated' }, { orderBy: { startedAt: 'desc' } });
  return row?.plan ?? null;
}
