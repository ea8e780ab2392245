import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestEnvironment, startTestEnvironment } from '../support/environment.js';
import { api, createExpressRemediation, startPatch, waitFor, waitSettled } from '../support/flows.js';
import { type Sample, matching, parseExposition, sumOf } from '../support/prometheus-text.js';
import { deliverWebhook, webhookExample } from '../support/webhooks.js';

/**
 * The "done when" of the metrics (docs/operations.md): a real stack runs two remediations, one to
 * an open pull request, and every service's `/metrics` shows the domain metrics moved, read with a
 * real exposition parser. (The agent's counters are proven against messages-api-local in
 * libs/agent/src/run-agent.spec.ts: a scripted model shared by concurrent e2e runs is not.)
 */
const SERVICES = ['api', 'planner', 'git-gateway', 'patcher', 'pr-service'] as const;
const WEBHOOK_SECRET = 'metrics-webhook-secret';
let env: TestEnvironment;

beforeAll(async () => {
  env = await startTestEnvironment('metrics', {}, { serviceEnv: { 'pr-service': { GITHUB_WEBHOOK_SECRET: WEBHOOK_SECRET, PR_POLL_INTERVAL_MS: '600000' } } });
}, 420_000);

afterAll(async () => {
  await env?.close();
}, 60_000);

/** Scrapes one service's `/metrics`; its samples, each labelled with `service` by the service itself. */
async function scrape(service: string): Promise<Sample[]> {
  const res = await fetch(`${env.stack.serviceUrl(service)}/metrics`);
  expect(res.status, `${service} /metrics`).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  const { samples } = parseExposition(await res.text());
  for (const s of samples) expect(s.labels['service'], `${s.name} of ${service}`).toBe(service);
  return samples;
}

describe('domain metrics on a real stack', () => {
  const scraped = new Map<string, Sample[]>();
  const all = () => [...scraped.values()].flat();
  const of = (service: string) => scraped.get(service)!;

  it('a remediation reaches an open pull request and a second patch while the services count', async () => {
    // Before any work: every service lists the domain families (defined at start), no pull request counted.
    const before = parseExposition(await (await fetch(`${env.stack.serviceUrl('pr-service')}/metrics`)).text());
    expect(before.types.get('remediation_pull_requests_total')).toBe('counter');
    expect(before.types.get('remediation_step_duration_seconds')).toBe('histogram');
    expect(sumOf(before.samples, 'remediation_pull_requests_total')).toBe(0);

    const express = await createExpressRemediation(env);
    const other = await createExpressRemediation(env);
    const [pushed, generated] = await Promise.all([startPatch(env, express.remediationId), startPatch(env, other.remediationId)]);
    const otherDone = await waitSettled(env, generated, 300_000);
    expect(otherDone.state, JSON.stringify(otherDone)).toBe('patch_generated');
    const pushedDone = await waitSettled(env, pushed, 300_000);
    expect(pushedDone.state, JSON.stringify(pushedDone)).toBe('patch_generated');
    expect((await api(env, `/v1/executions/${pushed}/pull-requests`, { method: 'POST', body: '{}' })).status).toBe(202);
    await waitFor(env, `/v1/executions/${pushed}`, (b) => b.state === 'pr_opened', 300_000);

    // Webhook deliveries: one GitHub does not sign with our secret, one of an event we ignore.
    const ping = webhookExample('ping');
    expect((await deliverWebhook(env, 'not-the-secret', 'ping', ping)).status).toBe(401);
    expect((await deliverWebhook(env, WEBHOOK_SECRET, 'ping', ping)).status).toBe(200);

    for (const service of SERVICES) scraped.set(service, await scrape(service));
  }, 900_000);

  it('transitions are counted where they are applied, and the current states come from PostgreSQL', () => {
    // plan.requested → … → plan_generated (planner), the patch through its steps (several services).
    expect(sumOf(all(), 'remediation_execution_transitions_total', { kind: 'plan', state: 'plan_generated' })).toBe(2);
    expect(sumOf(of('pr-service'), 'remediation_execution_transitions_total', { kind: 'patch', state: 'pr_opened' })).toBe(1);
    expect(sumOf(all(), 'remediation_execution_transitions_total', { kind: 'patch', state: 'patch_generated' })).toBe(2);
    // Read at scrape time by the API only (the tables are shared).
    expect(sumOf(of('api'), 'remediation_executions', { kind: 'patch', state: 'pr_opened' })).toBe(1);
    expect(sumOf(of('api'), 'remediation_executions', { kind: 'patch', state: 'patch_generated' })).toBe(1);
    expect(sumOf(of('api'), 'remediation_executions', { kind: 'plan', state: 'plan_generated' })).toBe(2);
    expect(matching(of('planner'), 'remediation_executions')).toEqual([]);
  });

  it('the outbox gauges are there and the relays published', () => {
    expect(matching(of('api'), 'remediation_outbox_backlog_messages')).toHaveLength(1);
    expect(matching(of('api'), 'remediation_outbox_oldest_age_seconds')).toHaveLength(1);
    expect(sumOf(of('api'), 'remediation_outbox_oldest_age_seconds')).toBeLessThan(60);
    expect(sumOf(all(), 'remediation_outbox_published_total')).toBeGreaterThanOrEqual(10);
  });

  it('steps report attempts, durations and their consumer backlog', () => {
    const succeeded = (service: string, consumer: string) =>
      sumOf(of(service), 'remediation_step_duration_seconds_count', { consumer, outcome: 'succeeded' });
    expect(succeeded('planner', 'cmd-plan-run')).toBe(2);
    expect(succeeded('git-gateway', 'cmd-workspace-prepare')).toBe(2);
    expect(succeeded('patcher', 'cmd-patch-apply')).toBe(2);
    expect(succeeded('git-gateway', 'cmd-patch-commit')).toBe(2);
    expect(succeeded('git-gateway', 'cmd-branch-push')).toBe(1);
    expect(succeeded('pr-service', 'cmd-pull-request-open')).toBe(1);
    expect(sumOf(of('planner'), 'remediation_step_attempts_total', { consumer: 'cmd-plan-run', outcome: 'succeeded' })).toBe(2);
    // Durations are real: the sum of a step's observations is positive, and within its +Inf bucket.
    expect(sumOf(of('patcher'), 'remediation_step_duration_seconds_sum', { consumer: 'cmd-patch-apply' })).toBeGreaterThan(0);
    expect(sumOf(of('patcher'), 'remediation_step_duration_seconds_bucket', { consumer: 'cmd-patch-apply', outcome: 'succeeded', le: '+Inf' })).toBe(2);
    // JetStream's view of each service's own consumers, read at scrape time: nothing left waiting.
    const pending = matching(of('planner'), 'remediation_jetstream_consumer_pending_messages', { consumer: 'cmd-plan-run' });
    expect(pending).toHaveLength(1);
    expect(pending[0]!.value).toBe(0);
    expect(matching(of('git-gateway'), 'remediation_jetstream_consumer_ack_pending_messages').map((s) => s.labels['consumer']).sort()).toEqual(
      ['cmd-branch-push', 'cmd-patch-commit', 'cmd-workspace-prepare', 'cmd-workspace-release'],
    );
    expect(sumOf(all(), 'remediation_dead_letters_total')).toBe(0);
  });

  it('git-gateway times workspaces, mirror fetches, commits and pushes', () => {
    const ok = (operation: string) => sumOf(of('git-gateway'), 'remediation_git_operation_duration_seconds_count', { operation, outcome: 'ok' });
    expect(ok('workspace_ready')).toBe(2);
    expect(ok('mirror_fetch')).toBe(3); // two workspaces, one push
    expect(ok('commit')).toBe(2);
    expect(ok('push')).toBe(1);
  });

  it('the planner counts registry and advisory lookups', () => {
    expect(sumOf(of('planner'), 'remediation_lookup_cache_requests_total', { source: 'registry', ecosystem: 'npm', outcome: 'miss' })).toBeGreaterThan(0);
    expect(sumOf(of('planner'), 'remediation_lookup_duration_seconds_count', { source: 'registry', ecosystem: 'npm', outcome: 'ok' })).toBeGreaterThan(0);
    expect(sumOf(of('planner'), 'remediation_lookup_duration_seconds_count', { source: 'advisories', outcome: 'ok' })).toBe(2);
  });

  it('pr-service counts the pull request opened, webhook deliveries and provider requests', () => {
    expect(sumOf(of('pr-service'), 'remediation_pull_requests_total', { provider: 'github', action: 'opened' })).toBe(1);
    expect(sumOf(of('pr-service'), 'remediation_webhook_deliveries_total', { provider: 'github', outcome: 'rejected' })).toBe(1);
    expect(sumOf(of('pr-service'), 'remediation_webhook_deliveries_total', { provider: 'github', outcome: 'ignored' })).toBe(1);
    expect(sumOf(of('pr-service'), 'remediation_provider_requests_total', { provider: 'github', outcome: 'ok' })).toBeGreaterThan(0);
  });
});
