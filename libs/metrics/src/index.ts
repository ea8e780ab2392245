import type { Registry } from 'prom-client';
import { agentMetrics } from './agent.js';
import { executionMetrics } from './executions.js';
import { gitMetrics } from './git.js';
import { lookupMetrics } from './lookups.js';
import { messagingMetrics } from './messaging.js';
import { pullRequestMetrics } from './pull-requests.js';

export type { Registry } from 'prom-client';
export { metricSet, cachedRead, observeOutcome, secondsSince, SLOW_SECONDS_BUCKETS, FAST_SECONDS_BUCKETS } from './metric-set.js';
export { executionMetrics } from './executions.js';
export type { ExecutionMetrics, ExecutionStateCount, OutboxBacklog, ExecutionGaugeSources } from './executions.js';
export { messagingMetrics } from './messaging.js';
export type { MessagingMetrics, AttemptOutcome, DeadLetterReason, ProgressDropReason, ConsumerBacklog } from './messaging.js';
export { gitMetrics, timeGit } from './git.js';
export type { GitMetrics, GitOperation } from './git.js';
export { lookupMetrics, timeLookup, countCacheHit } from './lookups.js';
export type { LookupMetrics, LookupSource } from './lookups.js';
export { agentMetrics } from './agent.js';
export type { AgentMetrics } from './agent.js';
export { pullRequestMetrics } from './pull-requests.js';
export type { PullRequestMetrics, PullRequestAction } from './pull-requests.js';

/**
 * Defines every domain metric in `registry` (each set once per registry). Services call it at
 * start so `/metrics` lists every series family from the first scrape; the drift test uses it to
 * know every metric name the dashboard and alert rules may use.
 */
export function defineDomainMetrics(registry: Registry): void {
  executionMetrics(registry);
  messagingMetrics(registry);
  gitMetrics(registry);
  lookupMetrics(registry);
  agentMetrics(registry);
  pullRequestMetrics(registry);
}
