export { openDatabase, migrate, ensureDatabaseExists, MIGRATIONS } from './database.js';
export type { Database } from './database.js';
export {
  RemediationEntity,
  ExecutionEntity,
  ExecutionTargetEntity,
  PatchVersionEntity,
  PullRequestEntity,
  HistoryEntity,
  OutboxEntity,
} from './entities.js';
export { applyTransition, createExecutionInTx, recordHistory } from './transitions.js';
export type { ApplyTransitionOptions, AppliedTransition } from './transitions.js';
export { relayOutboxBatch, countUnpublished } from './outbox.js';
export type { OutboxMessage } from './outbox.js';
export { getRemediationView, getExecutionView, getHistory, pullRequestBody, executionTargetBody } from './views.js';
export { executionAtStep, latestPlan } from './lookups.js';
export type { EntityManager } from '@mikro-orm/postgresql';
