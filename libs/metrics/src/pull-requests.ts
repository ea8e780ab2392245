import { Counter, Gauge, type Registry } from 'prom-client';
import { metricSet } from './metric-set.js';

/** What happened to a pull request. */
export type PullRequestAction = 'opened' | 'updated' | 'rebased' | 'merged' | 'closed';

/**
 * Pull request and provider metrics (docs/operations.md "Pull requests"). `provider` is the
 * hosting adapter (`github`).
 */
export const pullRequestMetrics = metricSet((registry: Registry) => ({
  pullRequests: new Counter({
    name: 'remediation_pull_requests_total',
    help: 'Pull requests opened, updated (new version pushed), rebased, merged or closed, by provider.',
    labelNames: ['provider', 'action'] as const,
    registers: [registry],
  }),
  webhookDeliveries: new Counter({
    name: 'remediation_webhook_deliveries_total',
    help: 'Webhook deliveries received, by provider and outcome (handled, ignored, duplicate, rejected: bad signature or payload, failed: error while handling).',
    labelNames: ['provider', 'outcome'] as const,
    registers: [registry],
  }),
  rateLimitRemaining: new Gauge({
    name: 'remediation_provider_rate_limit_remaining',
    help: 'Requests left in the current rate-limit window as the provider last reported (x-ratelimit-remaining).',
    labelNames: ['provider'] as const,
    registers: [registry],
  }),
  providerRequests: new Counter({
    name: 'remediation_provider_requests_total',
    help: 'Requests to the hosting provider API, by provider and outcome (ok, error).',
    labelNames: ['provider', 'outcome'] as const,
    registers: [registry],
  }),
}));

/** The pull request metric set of one registry. */
export type PullRequestMetrics = ReturnType<typeof pullRequestMetrics>;
