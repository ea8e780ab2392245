import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ExecutionEvent, ProgressEvent } from '@remediation/contracts';
import { DEFAULT_STREAMS } from '@remediation/messaging';
import { createApiKey, openDatabase, upsertTenant } from '@remediation/persistence';
import { fixturePath, repoRoot } from '@remediation/testing';
import { type TestEnvironment, makeRemote, startTestEnvironment } from '../support/environment.js';
import { api, createExpressRemediation, startPatch } from '../support/flows.js';
import { type EventsStream, type SseEvent, isState, openEvents as openStream } from '../support/sse.js';

/**
 * Live progress (issue 16 point 3; docs/decisions/0019): the services as processes on a private
 * nats-server and a fresh database; the events routes of the API read as a client would (fetch
 * streaming, parsed with eventsource-parser). The stream's ids, the order of states and the
 * progress events come from the running services, compared with the execution's history.
 */

const KEEP_ALIVE_MS = 500;
let env: TestEnvironment;
let otherTenantKey: string;

beforeAll(async () => {
  // Through the internal-mirror protocol: each new repository's bundle download is clone progress.
  env = await startTestEnvironment('events', { API_EVENTS_KEEP_ALIVE_MS: String(KEEP_ALIVE_MS) }, { mirror: true });
  const db = await openDatabase(env.databaseUrl, { poolMax: 1 });
  try {
    await upsertTenant(db, { id: 'other-tenant' });
    otherTenantKey = (await createApiKey(db, { tenant: 'other-tenant', name: 'events', scopes: ['admin'] })).key;
  } finally {
    await db.close();
  }
}, 180_000);

afterAll(async () => {
  await env?.close();
}, 60_000);

/** Streams a test opened, closed after it whatever happened. */
const opened: EventsStream[] = [];
afterEach(() => {
  for (const s of opened.splice(0)) s.close();
});

/** Opens `path` of the stack's API with its key (or `headers`). */
const openEvents = (path: string, headers: Record<string, string> = { authorization: `Bearer ${env.stack.apiKey}` }) => openStream(new URL(path, env.stack.apiUrl), headers, opened);

describe('GET /v1/executions/:id/events and /v1/remediations/:id/events (Server-Sent Events)', () => {
  let remediationId: string;
  let executionId: string;
  /** Everything the stream held for the execution once it settled (a fresh connection's replay). */
  let replay: SseEvent[];

  it('follows an execution live from patch_running to patch_generated with progress, resumes with Last-Event-ID without repeats or gaps, and replays the same events later', async () => {
    ({ remediationId } = await createExpressRemediation(env));
    executionId = await startPatch(env, remediationId);

    // Live: connect right after the start, leave after the first progress event, resume from its id.
    const first = await openEvents(`/v1/executions/${executionId}/events`);
    expect(first.status).toBe(200);
    expect(first.contentType).toMatch(/^text\/event-stream/);
    const progress = await first.until((e) => e.event === 'progress');
    first.close();
    const seenFirst = first.events.slice(0, first.events.indexOf(progress) + 1);
    const second = await openEvents(`/v1/executions/${executionId}/events`, { authorization: `Bearer ${env.stack.apiKey}`, 'last-event-id': progress.id });
    expect(second.status).toBe(200);
    await second.until(isState('patch_generated'));
    await new Promise((r) => setTimeout(r, 1_000)); // nothing more should come
    second.close();

    replay = await (async () => {
      const s = await openEvents(`/v1/executions/${executionId}/events`);
      await s.until(isState('patch_generated'));
      await new Promise((r) => setTimeout(r, 500));
      s.close();
      return s.events;
    })();

    // Replay: the whole run, in stream order, states from creation to patch_generated.
    const ids = replay.map((e) => Number(e.id));
    expect(ids.every((id, i) => Number.isInteger(id) && id > 0 && (i === 0 || id > ids[i - 1]!))).toBe(true);
    const states = replay.filter((e) => e.event === 'state').map((e) => ExecutionEvent.parse(e.data));
    expect(states[0]).toMatchObject({ executionId, from: null, to: 'patch_running' });
    expect(states.at(-1)).toMatchObject({ executionId, to: 'patch_generated', patchVersion: { version: 1 } });
    for (let i = 1; i < states.length; i++) expect(states[i]!.from).toBe(states[i - 1]!.to);
    const progressEvents = replay.filter((e) => e.event === 'progress').map((e) => ProgressEvent.parse(e.data));
    expect(progressEvents.length).toBeGreaterThan(0);
    for (const p of progressEvents) expect(p).toMatchObject({ schema: 'remediation.progress.v1', executionId, remediationId });
    expect(replay.every((e) => e.data.executionId === executionId)).toBe(true);

    // Each progress event is a heartbeat the history recorded (same event name, step attempt and details).
    const history = (await api(env, `/v1/executions/${executionId}/history`)).body.entries as Array<{ event: string; details: Record<string, unknown> }>;
    for (const p of progressEvents) {
      const recorded = history.some(({ event, details: { attempt, ...rest } }) => event === p.event && attempt === p.attempt && isDeepStrictEqual(rest, p.details));
      expect(recorded, JSON.stringify(p)).toBe(true);
    }

    // Resume: what the first connection saw, then the second one, is the replay exactly.
    expect([...seenFirst, ...second.events].map((e) => e.id)).toEqual(replay.map((e) => e.id));
    expect(second.events[0]!.id).not.toBe(progress.id);
    expect(first.comments.length + second.comments.length).toBeGreaterThan(0); // `: keep-alive`
    expect([...first.comments, ...second.comments].every((c) => c.trim() === 'keep-alive')).toBe(true);
  }, 180_000);

  it('Last-Event-ID of a replayed event gives exactly the events after it', async () => {
    const middle = replay[Math.floor(replay.length / 2)]!;
    const s = await openEvents(`/v1/executions/${executionId}/events`, { authorization: `Bearer ${env.stack.apiKey}`, 'last-event-id': middle.id });
    await s.until(isState('patch_generated'));
    await new Promise((r) => setTimeout(r, 500));
    s.close();
    expect(s.events.map((e) => e.id)).toEqual(replay.slice(replay.indexOf(middle) + 1).map((e) => e.id));
  });

  it("the remediation's stream holds its plan's and its patch's events", async () => {
    const s = await openEvents(`/v1/remediations/${remediationId}/events`);
    await s.until(isState('patch_generated'));
    s.close();
    const states = s.events.filter((e) => e.event === 'state').map((e) => `${e.data.kind}:${e.data.to}`);
    expect(states).toEqual(expect.arrayContaining(['plan:planner_running', 'plan:plan_generated', 'patch:patch_running', 'patch:patch_generated']));
    expect(s.events.every((e) => e.data.remediationId === remediationId)).toBe(true);
    // The patch's own events are there, in the same order and with the same ids.
    expect(s.events.filter((e) => e.data.executionId === executionId).map((e) => e.id)).toEqual(replay.map((e) => e.id));
  });

  it('needs credentials (401), hides other tenants (404) and unknown ids (404), refuses a bad Last-Event-ID (400)', async () => {
    const path = `/v1/executions/${executionId}/events`;
    const anonymous = await fetch(new URL(path, env.stack.apiUrl));
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ code: 'UNAUTHENTICATED' });
    for (const p of [path, `/v1/remediations/${remediationId}/events`]) {
      const foreign = await fetch(new URL(p, env.stack.apiUrl), { headers: { authorization: `Bearer ${otherTenantKey}` } });
      expect(foreign.status).toBe(404);
      expect(await foreign.json()).toMatchObject({ code: 'NOT_FOUND' });
    }
    const unknown = await fetch(new URL(`/v1/executions/${remediationId}.patch.99/events`, env.stack.apiUrl), { headers: { 'x-api-key': env.stack.apiKey } });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ code: 'NOT_FOUND' });
    const bad = await fetch(new URL(path, env.stack.apiUrl), { headers: { authorization: `Bearer ${env.stack.apiKey}`, 'last-event-id': 'abc' } });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: 'REQUEST_INVALID', message: expect.stringContaining('Last-Event-ID') });
  });

  it("deletes the stream's JetStream consumer when the client goes away", async () => {
    const nc = await connect({ servers: env.nats.url });
    try {
      const jsm = await jetstreamManager(nc);
      const count = async () => (await jsm.consumers.list(DEFAULT_STREAMS.events).next()).length;
      const settled = async (n: number) => {
        const deadline = Date.now() + 10_000;
        while ((await count()) !== n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
        return count();
      };
      expect(await settled(0)).toBe(0); // the earlier tests' streams are gone too
      const s = await openEvents(`/v1/executions/${executionId}/events`);
      await s.until(isState('patch_generated'));
      expect(await count()).toBe(1);
      s.close();
      expect(await settled(0)).toBe(0);
    } finally {
      await nc.close();
    }
  });
});

describe('remediate (CLI) waits on the events stream', () => {
  it('shows one progress line per step and the states as they come, and ends at patch_generated', async () => {
    const bare = await makeRemote(env.reposRoot, `cli${Date.now().toString(36)}`, 'express', {
      'package.json': readFileSync(fixturePath('manifests/express-4.19.2/package.json'), 'utf8'),
    });
    const scan = fixturePath('scans/express-4.19.2.cdx.json');
    const child = spawn(process.execPath, ['--import', 'tsx', 'apps/cli/src/main.ts', '--repo', bare, '--scan', scan, '--tier', 'minimal', '--api', env.stack.apiUrl], {
      cwd: repoRoot,
      env: { ...process.env, REMEDIATION_API_KEY: env.stack.apiKey },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code, stderr).toBe(0);
    const summary = JSON.parse(stdout);
    expect(summary).toMatchObject({ state: 'patch_generated', executionId: expect.stringMatching(/\.patch\.\d+$/) });
    const lines = stderr.split('\n');
    // States from the stream (not polled): each transition of the patch, in order.
    expect(lines, stderr).toContain(`[remediate] execution ${summary.executionId}: patch_running (workspace)`);
    expect(lines, stderr).toContain(`[remediate] execution ${summary.executionId}: patch_generated`);
    // A progress line per step, e.g. "workspace: clone 3/3 objects".
    const progressLines = lines.filter((l) => /^\[remediate\] +(planning|workspace|editing|committing): /.test(l));
    expect(progressLines.length, stderr).toBeGreaterThan(0);
    expect(stderr).not.toMatch(/polling/);
  }, 180_000);
});
