import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProgressEvent } from '@remediation/contracts';
import { DEFAULT_STREAMS, type NatsHandles, connectNats, ensureStreams, jetStreamProgressPublisher } from '@remediation/messaging';
import { defineDomainMetrics } from '@remediation/metrics';
import { type OwnNatsServer, startNatsServer } from '@remediation/stack';

/**
 * The best-effort progress publisher (docs/decisions/0019) against a real nats-server: events the
 * events stream stores are not counted; publishes JetStream does not take (no stream yet: NATS
 * answers "no responders") and publishes past the in-flight bound are dropped and counted in
 * `remediation_progress_events_dropped_total{reason}` (docs/operations.md).
 */
let dir: string;
let nats: OwnNatsServer;
let handles: NatsHandles;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rem-progress-'));
  nats = await startNatsServer(join(dir, 'nats'));
  handles = await connectNats(nats.url, 'progress-test');
}, 60_000);

afterAll(async () => {
  await handles?.close();
  await nats?.stop();
  await rm(dir, { recursive: true, force: true });
});

const event = (n: number): ProgressEvent => ({
  schema: 'remediation.progress.v1',
  remediationId: 'rem_p',
  executionId: 'rem_p.patch.1',
  step: 'workspace',
  event: 'workspace.progress',
  details: { operation: 'clone', received: n, total: 10 },
  attempt: 1,
  at: new Date().toISOString(),
});

async function droppedByReason(metrics: Registry): Promise<Record<string, number>> {
  const metric = (await metrics.getMetricsAsJSON()).find((m) => m.name === 'remediation_progress_events_dropped_total');
  return Object.fromEntries((metric?.values ?? []).filter((v) => v.value > 0).map((v) => [String(v.labels['reason']), v.value]));
}

describe('progress publisher', () => {
  it('counts the events it drops by reason: JetStream not taking them, and the in-flight bound', async () => {
    const metrics = new Registry();
    defineDomainMetrics(metrics);
    const logger = pino({ level: 'silent' });
    // No events stream yet: every publish fails.
    const failing = jetStreamProgressPublisher(handles.js, logger, { metrics });
    for (let i = 0; i < 3; i++) failing.publish('acme', event(i));
    await failing.settle();
    expect(failing.dropped).toBe(3);
    expect(await droppedByReason(metrics)).toEqual({ publish_failed: 3 });

    await ensureStreams(handles.jsm, DEFAULT_STREAMS);
    const stored = jetStreamProgressPublisher(handles.js, logger, { metrics });
    stored.publish('acme', event(1));
    await stored.settle();
    expect(stored.dropped).toBe(0);
    expect(await droppedByReason(metrics)).toEqual({ publish_failed: 3 });

    // One publish may wait at a time: the next ones, made before it is acknowledged, are dropped.
    const bounded = jetStreamProgressPublisher(handles.js, logger, { metrics, maxInFlight: 1 });
    for (let i = 0; i < 4; i++) bounded.publish('acme', event(i));
    await bounded.settle();
    expect(bounded.dropped).toBe(3);
    expect(await droppedByReason(metrics)).toEqual({ publish_failed: 3, in_flight_limit: 3 });
  });
});
