/**
 * `@remediation/persistence`: PostgreSQL through MikroORM. Apps call the named functions below
 * (grouped by aggregate: remediations, executions, patch versions, iterations, agent
 * conversations, steps, outbox, views) instead of ORM calls or SQL of their own; writes that must
 * commit with a state change take the transaction of `applyTransition`'s `mutate`.
 */
export { openDatabase, migrate, ensureDatabaseExists, MIGRATIONS } from './database.js';
export type { Database } from './database.js';
export {
  TENANT_ID_PATTERN,
  SCOPES,
  DEFAULT_TENANT,
  API_KEY_PREFIX,
  hashApiKey,
  upsertTenant,
  loadTenant,
  createApiKey,
  findApiKey,
  revokeApiKey,
} from './tenants.js';
export type { Tenant, Scope, ApiKeyIdentity } from './tenants.js';
export {
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
} from './entities.js';
export type {
  RemediationRow,
  ExecutionRow,
  ExecutionTargetRow,
  PatchVersionRow,
  FeedbackRow,
  IterationRow,
  AgentConversationRow,
  PullRequestRow,
  ReviewFeedbackRow,
  HistoryRow,
  StepAttemptRow,
  DeadLetterRow,
  TenantRow,
  ApiKeyRow,
} from './entities.js';
export { applyTransition, recordHistory, pullRequestFailed, LeaseLostError, AlreadyProcessedError } from './transitions.js';
export type { ApplyTransitionOptions, AppliedTransition, Lease } from './transitions.js';
export { renewNodeLease, claimWorkspace, recordRedirect, workspaceOwner } from './nodes.js';
export type { WorkspaceClaim } from './nodes.js';
export { claimStep, heartbeatStep, finishStep, recordDeadLetter, listStepAttempts, listDeadLetters } from './steps.js';
export type { ClaimedStep } from './steps.js';
export { relayOutboxBatch, outboxBacklog, onOutboxWritten, outboxWritten } from './outbox.js';
export { countExecutionsByState } from './executions.js';
export type { OutboxMessage } from './outbox.js';
export { getRemediationView, getExecutionView, getHistory, executionSummary, stepAttemptBody, getDeadLetters, pullRequestBody, executionTargetBody, feedbackBody, iterationBody } from './views.js';
export { listExecutions, listRemediations, getStepAttempts, getConversationSummaries, summariseConversation } from './lists.js';
export { createPlanExecution, createRemediation, findRemediationByIdempotencyKey, loadCodebase, loadScan } from './remediations.js';
export {
  loadExecution,
  findExecution,
  listExecutionTargets,
  loadExecutionWithTargets,
  findExecutionByIdempotencyKey,
  planOfExecution,
  loadLatestPlanExecution,
  createPatchExecution,
  storePlan,
  recordTargetOutcomes,
  recordDecision,
  requestPullRequest,
  retryExecution,
  cancelExecution,
} from './executions.js';
export type { NewExecutionTarget } from './executions.js';
export {
  listPatchVersions,
  findPatchVersion,
  latestPatchVersionOn,
  nextPatchVersionNumber,
  loadPatchVersion,
  assertApprovable,
  recordPatchVersion,
  loadPushContext,
  recordPush,
} from './patch-versions.js';
export type { NewPatchVersion } from './patch-versions.js';
export {
  iterationReasonOf,
  nextIterationNumber,
  nextFeedbackIteration,
  insertIteration,
  insertFeedback,
  startFeedbackIteration,
  currentIteration,
  loadVersionIteration,
} from './iterations.js';
export type { NewIteration, CurrentIteration } from './iterations.js';
export { loadConversation, startConversation, markConversationResumed, saveConversation, finishConversation, listConversations } from './agent-conversations.js';
export type { StoredConversation } from './agent-conversations.js';
export {
  OPEN_PULL_REQUEST_STATES,
  isOpenPullRequest,
  loadPullRequest,
  findPullRequestByNumber,
  listOpenPullRequests,
  listPullRequestsAtHead,
  loadPullRequestWithExecution,
  isPatchVersionCommit,
  recordPullRequestOpened,
  recordPullRequestUpdated,
  recordPullRequestError,
  recordRebaseRequested,
  recordRebaseStopped,
  recordPullRequestClosed,
  recordCheckRuns,
  recordReviewFeedback,
  loadReviewFeedback,
  claimReviewFeedbackTriage,
  recordReviewFeedbackTriage,
  linkReviewFeedbackIteration,
  listUntriagedReviewFeedback,
  listWaitingReviewFeedback,
  isWebhookDeliveryHandled,
  recordWebhookDelivery,
} from './pull-requests.js';
export type {
  PullRequestRecord,
  ReviewFeedbackRecord,
  PullRequestWithExecution,
  ReviewFeedbackInput,
} from './pull-requests.js';
export type { EntityManager } from '@mikro-orm/postgresql';
export { isDatabaseUnavailable } from './availability.js';
export {
  syncAdvisorySource,
  getAdvisorySyncState,
  findAdvisoriesForPackages,
  findAdvisoriesByIds,
  findPlanAdvisories,
  ADVISORY_LOOKUP_CONNECTIONS,
  warmAdvisoryLookup,
  advisoryDatabaseSnapshot,
  advisoriesChangedSince,
  recordPlanPackages,
} from './advisory-database.js';
export type {
  AdvisorySyncState,
  AdvisorySyncResult,
  FetchedRecords,
  StoredAdvisory,
  AdvisoryDatabaseSnapshot,
} from './advisory-database.js';
export { DEFAULT_RETENTION, EXECUTION_CHILD_TABLES, pruneExpired, pruneExpiredRemediations, type PruneCounts, type RetentionPolicy } from './retention.js';
