import type { PlannerOutput } from '@remediation/contracts';
import { NotFoundError } from '@remediation/errors';
import type { Database } from './database.js';
import { ExecutionEntity } from './entities.js';

/**
 * Loads an execution a command handler works on. The consumer runtime has already claimed the
 * step (lease); the handler's commit is fenced by it, so no state check is needed here.
 * @throws NotFoundError when the execution does not exist (a command for an unknown run).
 */
export async function loadExecution(db: Database, executionId: string) {
  const exec = await db.em().findOne(ExecutionEntity, { id: executionId });
  if (!exec) throw new NotFoundError('execution', executionId);
  return exec;
}

/** The PlannerOutput of the remediation's latest generated plan, or null. */
export async function latestPlan(db: Database, remediationId: string): Promise<PlannerOutput | null> {
  const row = await db
    .em()
    .findOne(ExecutionEntity, { remediationId, kind: 'plan', state: 'plan_generated' }, { orderBy: { startedAt: 'desc' } });
  return row?.plan ?? null;
}
