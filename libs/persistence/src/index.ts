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
  StepAttemptEntity,
  DeadLetterEntity,
  FeedbackEntity,
  AgentConversationEntity,
  ReviewFeedbackEntity,
} from './entities.js';
export { applyTransition, createExecutionInTx, recordHistory, pullRequestFailed, LeaseLostError, AlreadyProcessedError } from './transitions.js';
export type { ApplyTransitionOptions, AppliedTransition, Lease } from './transitions.js';
export { claimStep, heartbeatStep, finishStep, recordDeadLetter, listStepAttempts, listDeadLetters } from './steps.js';
export type { ClaimedStep } from './steps.js';
export { relayOutboxBatch, countUnpublished } from './outbox.js';
export type { OutboxMessage } from './outbox.js';
export { getRemediationView, getExecutionView, getHistory, getDeadLetters, pullRequestBody, executionTargetBody, feedbackBody } from './views.js';
export { loadExecution, latestPlan, startFeedbackIteration, nextFeedbackIteration, insertFeedback } from './lookups.js';
export {
  OPEN_PULL_REQUEST_STATES,
  isOpenPullRequest,
  loadPullRequest,
  findPullRequestByNumber,
  listOpenPullRequests,
  listPullRequestsAtHead,
  loadPullRequestWithExecution,
  loadPatchVersion,
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
  ExecutionRecord,
  PatchVersionRecord,
  ExecutionTargetRecord,
  FeedbackRecord,
  PullRequestWithExecution,
  ReviewFeedbackInput,
} from './pull-requests.js';
export type { EntityManager } from '@mikro-orm/postgresql';
export { isDatabaseUnavailable } from './availability.js';
