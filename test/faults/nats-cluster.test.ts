import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { DEFAULT_STREAMS } from '@remediation/messaging';
import { type TestEnvironment, startTestEnvironment } from '../support/environment.js';
import { api, createExpressRemediation, effects, sql, startPatch, waitFor, waitSettled } from '../support/flows.js';

/**
 * docs/reliability.md "NATS cluster": the services on a three-server JetStream cluster (nats-server
 * 2.9 on loopback ports) with streams of three replicas; the command stream's leader is killed
 * mid-run and restarted. Nothing is lost (every execution reaches patch_generated) and nothing is
 * doubled (each state entered once, one patch version each), nothing dead-lettered.
 */
let env: TestEnvironment;
const RUNS = 4;

/** The stream's info, asked again while the cluster elects a leader (requests time out meanwhile). */
async function streamInfo(name: string) {
  const nc = await connect({ servers: env.natsCluster!.url.split(','), maxReconnectAttempts: 20, reconnectTimeWait: 250 });
  try {
    const jsm = await jetstreamManager(nc, { checkAPI: false });
    for (let attempt = 1; ; attempt++) {
      try {
        return await jsm.streams.info(name);
      } catch (err) {
        if (attempt >= 10) throw err;
      }
    }
  } finally {
    await nc.close();
  }
}

beforeAll(async () => {
  env = await startTestEnvironment('faults_natscluster', { NATS_REPLICAS: '3', ACK_WAIT_MS: '5000', RECONCILE_INTERVAL_MS: '2000' }, { natsCluster: 3 });
}, 240_000);

afterAll(async () => {
  await env?.close();
}, 60_000);

describe('NATS cluster', () => {
  it('streams have three replicas on the cluster', async () => {
    for (const name of [DEFAULT_STREAMS.commands, DEFAULT_STREAMS.events]) {
      const info = await streamInfo(name);
      expect(info.config.num_replicas).toBe(3);
      expect(info.cluster?.leader).toMatch(/^n[123]$/);
      expect(info.cluster?.replicas?.length).toBe(2);
    }
  }, 60_000);

  it('the command stream leader killed mid-run and restarted: nothing lost, nothing doubled', async () => {
    const remediations = [];
    for (let i = 0; i < RUNS; i++) remediations.push(await createExpressRemediation(env));
    for (const r of remediations) await waitFor(env, `/v1/remediations/${r.remediationId}`, (b) => b.state === 'plan_generated');
    const ids: string[] = [];
    for (const r of remediations) ids.push(await startPatch(env, r.remediationId));

    const leader = (await streamInfo(DEFAULT_STREAMS.commands)).cluster!.leader!;
    await env.natsCluster!.server(leader).restart({ hard: true, downMs: 3000 });
    const after = await streamInfo(DEFAULT_STREAMS.commands);
    expect(after.cluster?.leader).toMatch(/^n[123]$/);
    expect(after.cluster?.leader).not.toBe(leader); // a follower took over while it was down

    for (const id of ids) {
      const done = await waitSettled(env, id, 180_000);
      expect(done.state, JSON.stringify(done)).toBe('patch_generated');
      const e = await effects(env, id);
      expect(e.patchVersions).toBe(1);
      expect(Object.values(e.transitions).every((n) => n === 1), JSON.stringify(e.transitions)).toBe(true);
    }
    expect((await api(env, '/v1/dead-letters')).body.deadLetters).toEqual([]);
    expect(await sql(env, `select id from executions where state like '%failed'`)).toEqual([]);
  }, 300_000);
});
