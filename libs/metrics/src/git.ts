import { Histogram, type Registry } from 'prom-client';
import { SLOW_SECONDS_BUCKETS, metricSet, observeOutcome } from './metric-set.js';

/** The git work git-gateway times. */
export type GitOperation = 'workspace_ready' | 'mirror_fetch' | 'commit' | 'rebase' | 'push';

/** Git workspace metrics (docs/operations.md "Git workspaces"). */
export const gitMetrics = metricSet((registry: Registry) => ({
  duration: new Histogram({
    name: 'remediation_git_operation_duration_seconds',
    help: 'Latency of git-gateway work (workspace_ready, mirror_fetch, commit, rebase, push) by outcome (ok, error), in seconds.',
    labelNames: ['operation', 'outcome'] as const,
    buckets: SLOW_SECONDS_BUCKETS,
    registers: [registry],
  }),
}));

/** The git metric set of one registry. */
export type GitMetrics = ReturnType<typeof gitMetrics>;

/**
 * Times `work` into `remediation_git_operation_duration_seconds{operation,outcome}`: `ok` when it
 * resolves, `error` when it throws (the error is re-thrown).
 */
export async function timeGit<T>(registry: Registry | undefined, operation: GitOperation, work: () => Promise<T>): Promise<T> {
  return registry ? observeOutcome(gitMetrics(registry).duration, { operation }, work) : work();
}
