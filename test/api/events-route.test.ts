import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ExecutionEvent, type PlannerOutput, ProgressEvent } from '@remediation/contracts';
import { type CommandHandler, DEFAULT_STREAMS, type NatsHandles, type RunningConsumer, type RunningRelay, connectNats, ensureStreams, startCommandConsumer, startOutboxRelay } from '@remediation/messaging';
import { type Database, createApiKey, createRemediation, ensureDatabaseExists, getHistory, migrate, openDatabase, storePlan, upsertTenant } from '@remediation/persistence';
import { createLogger } from '@remediation/service-runtime';
import { type OwnNatsServer, startNatsServer } from '@remediation/stack';
import { buildApi } from '../../apps/api/src/server.js';
import { dropDatabase, freshDatabaseUrl } from '../support/environment.js';
import { type EventsStream, type SseEvent, isState, openEvents } from '../support/sse.js';

/**
 * The events routes (docs/decisions/0019) over a real nats-server and PostgreSQL, with the real
 * outbox relay and consumer runtime in this process: a `plan.run` handler of the spec's own
 * heartbeats named progress and completes when the spec lets it, so the spec knows exactly which
 * state and progress events the stream must carry and when. The whole stack doing the same is
 * test/e2e/events.test.ts.
 */

const KEEP_ALIVE_MS = 200;
let dir: string;
let nats: OwnNatsServer;
let databaseUrl: string;
let db: Database;
let handles: NatsHandles;
let relay: RunningRelay;
let consumer: RunningConsumer;
let app: Awaited<ReturnType<typeof buildApi>>;
let baseUrl: string;
const keys: Record<string, string> = {};
const opened: EventsStream[] = [];

/** A promise the spec resolves. */
function gate(): { open: () => void; opened: Promise<void> } {
  let open: () => void = () => undefined;
  const opened = new Promise<void>((r) => (open = r));
  return { open, opened };
}
/** The spec's steps of the handler: start heartbeating, heartbeat once more, complete the plan. */
const gates = { start: gate(), more: gate(), complete: gate() };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const EMPTY_TIER = { upgrades: [], advisoriesFixed: [], advisoriesRemaining: [], largestJump: null };
const PLAN: PlannerOutput = {
  schemaVersion: 1,
  targets: [],
  upgrade_tiers: { minimal: EMPTY_TIER, moderate: EMPTY_TIER, comprehensive: EMPTY_TIER },
  noFixTargets: [],
  transitive: [],
  sources: { advisories: 'osv', registry: 'spec' },
  warnings: [],
} as PlannerOutput;

/**
 * A planner stand-in, one stage per gate the spec opens: two named heartbeats, one more, then
 * `plan.completed` (so the order of what the stream carries is known).
 */
const planRun: CommandHandler = {
  kind: 'plan.run',
  async handle(ctx) {
    await gates.start.opened;
    ctx.heartbeat({ event: 'plan.lookup', package: 'express', ecosystem: 'npm' });
    ctx.heartbeat({ event: 'tool_call', tool: 'read_file', turn: 1, isError: false });
    await gates.more.opened;
    ctx.heartbeat({ event: 'plan.lookup', package: 'cookie', ecosystem: 'npm' });
    await gates.complete.opened;
    const executionId = ctx.payload.executionId;
    await ctx.transition({ executionId, event: { type: 'plan.completed' }, mutate: (tx) => storePlan(tx, executionId, PLAN) });
  },
  async giveUp() {},
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rem-events-route-'));
  nats = await startNatsServer(join(dir, 'nats'));
  databaseUrl = freshDatabaseUrl('events_route');
  await ensureDatabaseExists(databaseUrl);
  db = await openDatabase(databaseUrl, { poolMax: 6 });
  await migrate(db);
  for (const tenant of ['acme', 'globex']) {
    await upsertTenant(db, { id: tenant });
    keys[tenant] = (await createApiKey(db, { tenant, name: 'spec', scopes: ['remediations:read'] })).key;
  }
  handles = await connectNats(nats.url, 'events-route');
  await ensureStreams(handles.jsm, DEFAULT_STREAMS);
  const logger = createLogger('events-route', 'silent');
  relay = startOutboxRelay({ db, js: handles.js, logger, intervalMs: 50 });
  consumer = await startCommandConsumer({ nc: handles.nc, js: handles.js, jsm: handles.jsm, db, streams: DEFAULT_STREAMS, handler: planRun, logger, worker: 'spec:1', ackWaitMs: 5_000 });
  app = await buildApi({ db, nats: handles, worker: 'spec:api', logger }, { events: { keepAliveMs: KEEP_ALIVE_MS } });
  baseUrl = await app.listen({ port: 0, host: '127.0.0.1' });
}, 60_000);

afterAll(async () => {
  for (const g of Object.values(gates)) g.open();
  await app?.close();
  await consumer?.stop();
  await relay?.stop();
  await handles?.close();
  await db?.close();
  await nats?.stop();
  await dropDatabase(databaseUrl).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

afterEach(() => {
  for (const s of opened.splice(0)) s.close();
});

const as = (tenant: string, extra: Record<string, string> = {}) => ({ authorization: `Bearer ${keys[tenant]}`, ...extra });
const open = (path: string, headers: Record<string, string>) => openEvents(new URL(path, baseUrl), headers, opened);
const consumers = async () => (await handles.jsm.consumers.list(DEFAULT_STREAMS.events).next()).length;
async function consumersSettle(n: number): Promise<number> {
  const deadline = Date.now() + 5_000;
  while ((await consumers()) !== n && Date.now() < deadline) await sleep(50);
  return consumers();
}

describe('events routes over the public stream', () => {
  const remediationId = 'rem_events1';
  const executionId = `${remediationId}.plan.1`;
  let all: SseEvent[];

  it('replays the stored events, follows live ones in stream order, with progress only from recorded heartbeats, and keeps the connection alive', async () => {
    await createRemediation(db, { id: remediationId, tenant: 'acme', codebase: { repository: 'https://github.com/acme/app.git' }, scan: { bomFormat: 'CycloneDX', specVersion: '1.5', components: [] }, idempotencyKey: null, worker: 'spec:1' });
    // Another remediation of the same tenant: its events are in the stream but never in ours.
    await createRemediation(db, { id: 'rem_events2', tenant: 'acme', codebase: { repository: 'https://github.com/acme/other.git' }, scan: { bomFormat: 'CycloneDX', specVersion: '1.5', components: [] }, idempotencyKey: null, worker: 'spec:1' });

    const live = await open(`/v1/executions/${executionId}/events`, as('acme'));
    expect(live.status).toBe(200);
    expect(live.contentType).toMatch(/^text\/event-stream/);
    await live.until(isState('planner_running'), 30_000);
    gates.start.open();
    await live.until((e) => e.event === 'progress' && e.data.details.tool === 'read_file', 30_000);
    gates.more.open();
    await live.until((e) => e.event === 'progress' && e.data.details.package === 'cookie', 30_000);
    expect(live.events.some(isState('plan_generated'))).toBe(false); // still waiting for the spec
    gates.complete.open();
    await live.until(isState('plan_generated'), 30_000);
    await sleep(3 * KEEP_ALIVE_MS);

    const kinds = live.events.map((e) => `${e.event}:${e.data.to ?? `${e.data.event}/${e.data.details.package ?? e.data.details.tool}`}`);
    // The first two heartbeats are recorded (and so published) concurrently: either order.
    expect(kinds[0]).toBe('state:planner_running');
    expect(kinds.slice(1, 3).sort()).toEqual(['progress:plan.lookup/express', 'progress:tool_call/read_file']);
    expect(kinds.slice(3)).toEqual(['progress:plan.lookup/cookie', 'state:plan_generated']);
    const ids = live.events.map((e) => Number(e.id));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(ids.length);
    for (const e of live.events) {
      expect(e.data.executionId).toBe(executionId);
      if (e.event === 'state') ExecutionEvent.parse(e.data);
      else expect(ProgressEvent.parse(e.data)).toMatchObject({ remediationId, step: 'planning', attempt: 1 });
    }
    // Each id is the event's sequence in REMEDIATION_EVENTS, on the subject its kind says.
    for (const e of live.events) {
      const stored = await handles.jsm.streams.getMessage(DEFAULT_STREAMS.events, { seq: Number(e.id) });
      expect(stored?.subject).toBe(e.event === 'state' ? `remediation.evt.v1.acme.execution.${e.data.to}` : 'remediation.evt.v1.acme.progress.planning');
      expect(stored?.json()).toEqual(e.data);
    }
    // Progress is what the history recorded, nothing more.
    const history = await getHistory(db, executionId, 'acme');
    const recorded = history.entries.filter((h) => h.event === 'plan.lookup' || h.event === 'tool_call');
    expect(recorded).toHaveLength(3);
    expect(live.comments.length).toBeGreaterThanOrEqual(2);
    expect(live.comments.every((c) => c.trim() === 'keep-alive')).toBe(true);

    // A later connection replays the same events with the same ids.
    const again = await open(`/v1/executions/${executionId}/events`, as('acme'));
    await again.until(isState('plan_generated'), 10_000);
    await sleep(300);
    expect(again.events).toEqual(live.events);
    all = live.events;
  });

  it('Last-Event-ID resumes right after that event: no repeat, no gap', async () => {
    for (let k = 0; k < all.length; k++) {
      const resumed = await open(`/v1/executions/${executionId}/events`, as('acme', { 'last-event-id': all[k]!.id }));
      if (k < all.length - 1) await resumed.until(isState('plan_generated'), 10_000);
      await sleep(200);
      resumed.close();
      expect(resumed.events.map((e) => e.id)).toEqual(all.slice(k + 1).map((e) => e.id));
    }
  });

  it("the remediation's stream is its executions' events", async () => {
    const s = await open(`/v1/remediations/${remediationId}/events`, as('acme'));
    await s.until(isState('plan_generated'), 10_000);
    await sleep(300);
    expect(s.events).toEqual(all);
  });

  it('401 without credentials, 404 for another tenant and for unknown ids, 400 for a bad Last-Event-ID, each as JSON before any stream', async () => {
    const anonymous = await open(`/v1/executions/${executionId}/events`, {});
    expect([anonymous.status, anonymous.error?.code]).toEqual([401, 'UNAUTHENTICATED']);
    for (const path of [`/v1/executions/${executionId}/events`, `/v1/remediations/${remediationId}/events`, '/v1/executions/rem_nope.plan.1/events', '/v1/remediations/rem_nope/events']) {
      const foreign = await open(path, as(path.includes('nope') ? 'acme' : 'globex'));
      expect([foreign.status, foreign.error?.code], path).toEqual([404, 'NOT_FOUND']);
    }
    const bad = await open(`/v1/executions/${executionId}/events`, as('acme', { 'last-event-id': '12abc' }));
    expect(bad.status).toBe(400);
    expect(bad.error).toMatchObject({ code: 'REQUEST_INVALID', message: expect.stringContaining('Last-Event-ID') });
    expect(await consumersSettle(0)).toBe(0); // none of these made a consumer
  });

  it('deletes the JetStream consumer when the client disconnects, and ends open streams when the API closes', async () => {
    expect(await consumersSettle(0)).toBe(0);
    const s = await open(`/v1/executions/${executionId}/events`, as('acme'));
    await s.until(isState('plan_generated'), 10_000);
    expect(await consumers()).toBe(1);
    s.close();
    expect(await consumersSettle(0)).toBe(0);

    const held = await open(`/v1/executions/${executionId}/events`, as('acme'));
    await held.until(isState('plan_generated'), 10_000);
    expect(await consumers()).toBe(1);
    await app.close(); // returns only once the open stream was ended
    expect(await consumersSettle(0)).toBe(0);
    await expect(held.until(() => false, 5_000)).rejects.toThrow(/stream ended/);
  });
});
