/**
 * Throughput and latency of deterministic patch executions (a benchmark, not a test; issue 17).
 *
 *   node --import tsx scripts/bench-throughput.ts [--executions 200] [--latency-samples 10]
 *     [--replicas 1] [--nodes N] [--remediations 10] [--post-concurrency 8] [--env KEY=VALUE ...]
 *     [--profile DIR] [--json] [--keep]
 *
 * 1. Starts a private environment like the fault tests and scripts/chaos.ts
 *    (test/support/environment.ts: own nats-server, a fresh database on 127.0.0.1:5432, the five
 *    services and github-local as processes, fixtures of test/fixtures), services logging at
 *    `info`, with `--replicas` processes of planner and pr-service (the API stays one) and as many
 *    worker nodes (`--nodes` overrides the count): a worker node is a git-gateway and a patcher
 *    with their own `NODE_ID` and `LOCAL_ROOT` sharing `DATA_ROOT` (docs/decisions/0021; with one
 *    node, the stack's unnamed node). Workspaces are node-local, so git-gateway and the patcher
 *    scale by nodes, not by processes sharing one local root. No model API key: the patcher makes its deterministic manifest edits only.
 * 2. Creates `--remediations` express 4.19.2 remediations, waits for their plans, and runs one
 *    execution of each to `patch_generated`: mirrors and base snapshots are warm from here on.
 * 3. Latency: `--latency-samples` minimal-tier executions one after another (nothing else
 *    running), each timed from its POST to `patch_generated` as seen in the database (polled
 *    every 5 ms); per step the queue wait and run time (history and step_attempts).
 * 4. Throughput: `--executions` executions (tiers cycling) POSTed as fast as `--post-concurrency`
 *    concurrent requests allow, then waits for all to reach `patch_generated`. Reports executions
 *    per second (overall: first POST → last `patch_generated`; sustained: between the 10th and
 *    90th percentile completions), POST → `patch_generated` percentiles, per-step queue wait and
 *    run time, outbox relay delay, CPU seconds per process (/proc, its own and its waited-for
 *    children's, e.g. git under git-gateway) and of this database's PostgreSQL backends, and the
 *    database's committed transactions (pg_stat_database) per execution.
 *
 * `--env KEY=VALUE` adds service environment (e.g. `--env PATCH_APPLY_CONCURRENCY=8`);
 * `--profile DIR` runs git-gateway and patcher with `--cpu-prof` (profiles written to DIR when the
 * stack stops) and prints their top functions by self time. Prints a table; `--json` prints one JSON
 * document instead. Load averages are printed with the figures: on a shared machine they say how
 * much the figures are worth.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { unmountUnder } from '@remediation/stack';
import { type TestEnvironment, startTestEnvironment } from '../test/support/environment.js';
import { SETTLED, api } from '../test/support/flows.js';
import {
  type ProcessCpu,
  createPlannedRemediations,
  loadAverage,
  machineCpu,
  percentiles,
  processCpu,
  relayDelays,
  stepTimings,
  summariseSteps,
} from '../test/support/measure.js';
import { parseScriptArgs } from './cli-args.js';

const { values: args } = parseScriptArgs(import.meta.url, {
  options: {
    executions: { type: 'string', default: '200' },
    'latency-samples': { type: 'string', default: '10' },
    replicas: { type: 'string', default: '1' },
    nodes: { type: 'string' },
    remediations: { type: 'string', default: '10' },
    'post-concurrency': { type: 'string', default: '8' },
    'timeout-ms': { type: 'string', default: '900000' },
    env: { type: 'string', multiple: true, default: [] },
    profile: { type: 'string' },
    json: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  },
  strict: true,
});
const count = (name: 'executions' | 'latency-samples' | 'replicas' | 'nodes' | 'remediations' | 'post-concurrency' | 'timeout-ms', min: number): number => {
  const v = Number(args[name]);
  if (!Number.isInteger(v) || v < min) throw new Error(`--${name}: not an integer ≥ ${min}: ${String(args[name])}`);
  return v;
};
const EXECUTIONS = count('executions', 0);
const SAMPLES = count('latency-samples', 0);
const REPLICAS = count('replicas', 1);
const NODES = args.nodes === undefined ? REPLICAS : count('nodes', 1);
const REMEDIATIONS = count('remediations', 1);
const POST_CONCURRENCY = count('post-concurrency', 1);
const TIMEOUT_MS = count('timeout-ms', 1000);
const EXTRA_ENV = Object.fromEntries(
  (args.env ?? []).map((kv) => {
    const i = kv.indexOf('=');
    if (i <= 0) throw new Error(`--env: expected KEY=VALUE, got ${kv}`);
    return [kv.slice(0, i), kv.slice(i + 1)];
  }),
);
const PROFILE_DIR = args.profile ? resolve(args.profile) : undefined;
const WORKERS = ['planner', 'git-gateway', 'patcher', 'pr-service'] as const;
const TIERS = ['minimal', 'moderate', 'comprehensive'] as const;

const log = (m: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 23)}] ${m}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (v: number, d = 1) => Math.round(v * 10 ** d) / 10 ** d;
const runId = Date.now().toString(36);

let env: TestEnvironment | undefined;
let ok = false;

/** POSTs a patch execution; returns its id. */
async function submit(e: TestEnvironment, remediationId: string, tier: string, branch: string, key: string): Promise<string> {
  const r = await api(e, `/v1/remediations/${remediationId}/executions`, {
    method: 'POST',
    headers: { 'idempotency-key': key },
    body: JSON.stringify({ tier, branchName: branch }),
  });
  if (r.status !== 202) throw new Error(`POST execution: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.id as string;
}

/** CPU seconds of every stack process, nats-server and this database's PostgreSQL backends, now. */
async function cpuSnapshot(e: TestEnvironment, db: pg.Client, dbName: string): Promise<Map<string, ProcessCpu>> {
  const out = new Map<string, ProcessCpu>();
  for (const [name, p] of e.stack.processes) {
    const c = p.child.pid ? processCpu(p.child.pid) : null;
    if (c) out.set(name, c);
  }
  const nats = e.nats.process.child.pid ? processCpu(e.nats.process.child.pid) : null;
  if (nats) out.set('nats-server', nats);
  const backends = await db.query<{ pid: number }>('select pid from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [dbName]);
  for (const { pid } of backends.rows) {
    const c = processCpu(pid);
    if (c) out.set(`postgres:${pid}`, c);
  }
  return out;
}

/** CPU seconds per process between two snapshots; PostgreSQL backends summed (one that appeared in between counts whole). */
function cpuDelta(before: Map<string, ProcessCpu>, after: Map<string, ProcessCpu>): Record<string, { self: number; children: number }> {
  const out: Record<string, { self: number; children: number }> = {};
  for (const [name, a] of after) {
    const b = before.get(name) ?? { self: 0, children: 0 };
    const key = name.startsWith('postgres:') ? 'postgres (this database)' : name;
    const cur = out[key] ?? { self: 0, children: 0 };
    out[key] = { self: round(cur.self + a.self - b.self, 2), children: round(cur.children + a.children - b.children, 2) };
  }
  return out;
}

async function xactCommits(db: pg.Client, dbName: string): Promise<number> {
  // Statistics are flushed by backends at most once a second (PostgreSQL 15): read after a pause.
  const r = await db.query<{ n: string }>('select xact_commit as n from pg_stat_database where datname = $1', [dbName]);
  return Number(r.rows[0]?.n ?? 0);
}

/**
 * Top functions of the V8 CPU profiles in `dir` (`--cpu-prof`: one file per thread; per process
 * the thread with the most non-idle samples, its main thread) whose file names carry the pids of
 * `pids`: by self time, and by inclusive time for the project's own functions (apps/, libs/).
 */
function profileSummary(dir: string, pids: Map<string, number>, top = 15) {
  type Node = { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] };
  const out: Record<string, { sampledMs: number; top: Array<{ fn: string; selfMs: number; pct: number }>; project: Array<{ fn: string; inclusiveMs: number; pct: number }> }> = {};
  for (const [service, pid] of pids) {
    let best: (typeof out)[string] | null = null;
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile') && f.includes(`.${pid}.`))) {
      const prof = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
      const byId = new Map(prof.nodes.map((n) => [n.id, n]));
      const parent = new Map<number, number>();
      for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
      const name = (n: Node) => `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^.*\/(node_modules|apps|libs)\//, '$1/')}:${n.callFrame.lineNumber + 1}`;
      const self = new Map<string, number>();
      const inclusive = new Map<string, number>();
      let busy = 0;
      prof.samples.forEach((id, i) => {
        const n = byId.get(id)!;
        if (n.callFrame.functionName === '(idle)') return;
        const dt = (prof.timeDeltas[i] ?? 0) / 1000;
        busy += dt;
        self.set(name(n), (self.get(name(n)) ?? 0) + dt);
        const seen = new Set<string>();
        for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
          const k = name(byId.get(cur)!);
          if (!/^\S+ (apps|libs)\//.test(k) || seen.has(k)) continue;
          seen.add(k);
          inclusive.set(k, (inclusive.get(k) ?? 0) + dt);
        }
      });
      if (best && best.sampledMs >= busy) continue;
      const pct = (ms: number) => round((100 * ms) / Math.max(1, busy), 1);
      best = {
        sampledMs: round(busy, 0),
        top: [...self].sort((a, b) => b[1] - a[1]).slice(0, top).map(([fn, ms]) => ({ fn, selfMs: round(ms, 0), pct: pct(ms) })),
        project: [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, top).map(([fn, ms]) => ({ fn, inclusiveMs: round(ms, 0), pct: pct(ms) })),
      };
    }
    if (best) out[service] = best;
  }
  return out;
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const loadAtStart = loadAverage();
  log(`executions ${EXECUTIONS}, latency samples ${SAMPLES}, replicas ${REPLICAS}, remediations ${REMEDIATIONS}, load ${loadAtStart?.join(' ')}`);
  if (PROFILE_DIR) mkdirSync(PROFILE_DIR, { recursive: true });
  const profileEnv = PROFILE_DIR ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${PROFILE_DIR}` } : undefined;
  env = await startTestEnvironment(
    'bench',
    { LOG_LEVEL: 'info', ...EXTRA_ENV },
    {
      replicas: Object.fromEntries(WORKERS.map((w) => [w, REPLICAS])),
      ...(NODES > 1 ? { nodes: Array.from({ length: NODES }, (_, i) => `node-${i + 1}`) } : {}),
      ...(profileEnv ? { serviceEnv: { 'git-gateway': profileEnv, patcher: profileEnv } } : {}),
    },
  );
  const e = env;
  const dbName = new URL(e.databaseUrl).pathname.slice(1);
  log(`stack up in ${Date.now() - t0} ms: ${e.dir}, database ${dbName}`);
  const db = new pg.Client({ connectionString: e.databaseUrl });
  await db.connect();
  const stateOf = async (id: string) => (await db.query<{ state: string }>('select state from executions where id = $1', [id])).rows[0]?.state;
  const failureOf = async (id: string) => {
    const r = (await db.query<{ error_code: string | null; error_message: string | null }>('select error_code, error_message from executions where id = $1', [id])).rows[0];
    return `${r?.error_code ?? '?'} ${r?.error_message ?? ''}`.trim();
  };
  try {
    // Warm: plans, then one execution per remediation (mirror cloned, base snapshot extracted).
    const rems = await createPlannedRemediations(e, REMEDIATIONS);
    const warm = await Promise.all(rems.map((r, i) => submit(e, r.remediationId, 'minimal', `bench/warm-${i}`, `bench-${runId}-warm-${i}`)));
    for (const id of warm) {
      for (let st = await stateOf(id); !st || !SETTLED.has(st); st = await stateOf(id)) await sleep(100);
      const st = await stateOf(id);
      if (st !== 'patch_generated') throw new Error(`warm-up execution ${id} ended ${st}: ${await failureOf(id)}`);
    }
    log(`warm at +${Date.now() - t0} ms`);

    // Latency: one at a time.
    const samples: Array<{ id: string; ms: number }> = [];
    for (let i = 0; i < SAMPLES; i++) {
      const rem = rems[i % rems.length]!;
      await sleep(300); // let the previous run's tail (relay, acks) settle
      const start = performance.now();
      const id = await submit(e, rem.remediationId, 'minimal', `bench/latency-${i}`, `bench-${runId}-lat-${i}`);
      let st: string | undefined;
      for (st = await stateOf(id); !st || !SETTLED.has(st); st = await stateOf(id)) await sleep(5);
      const ms = performance.now() - start;
      if (st !== 'patch_generated') throw new Error(`latency sample ${id} ended ${st}: ${await failureOf(id)}`);
      samples.push({ id, ms });
    }
    const latencySteps = summariseSteps(await stepTimings(e, samples.map((s) => s.id)));
    const latency = { postToPatchGeneratedMs: percentiles(samples.map((s) => s.ms)), steps: latencySteps, relayMs: percentiles(await relayDelays(e, samples.map((s) => s.id))) };
    log(`latency p50 ${latency.postToPatchGeneratedMs?.['p50']?.toFixed(0)} ms at +${Date.now() - t0} ms`);

    // Throughput.
    let throughput: Record<string, unknown> | null = null;
    if (EXECUTIONS > 0) {
      await sleep(1500);
      const loadBefore = loadAverage();
      const cpuBefore = await cpuSnapshot(e, db, dbName);
      const machineBefore = machineCpu();
      const xactBefore = await xactCommits(db, dbName);
      const ids: string[] = [];
      const firstPost = Date.now();
      let next = 0;
      const postedAt = new Map<string, number>();
      await Promise.all(
        Array.from({ length: POST_CONCURRENCY }, async () => {
          for (let n = next++; n < EXECUTIONS; n = next++) {
            const rem = rems[n % rems.length]!;
            const at = Date.now();
            const id = await submit(e, rem.remediationId, TIERS[Math.floor(n / rems.length) % TIERS.length]!, `bench/tp-${n}`, `bench-${runId}-tp-${n}`);
            postedAt.set(id, at);
            ids.push(id);
          }
        }),
      );
      const lastPost = Date.now();
      log(`${EXECUTIONS} POSTed in ${lastPost - firstPost} ms`);
      const deadline = firstPost + TIMEOUT_MS;
      let lastLog = 0;
      for (;;) {
        const r = await db.query<{ state: string; n: string }>('select state, count(*) as n from executions where id = any($1::text[]) group by state', [ids]);
        const counts = Object.fromEntries(r.rows.map((x) => [x.state, Number(x.n)]));
        const settled = r.rows.filter((x) => SETTLED.has(x.state)).reduce((a, x) => a + Number(x.n), 0);
        if (settled === ids.length) break;
        if (Date.now() > deadline) throw new Error(`not settled after ${TIMEOUT_MS} ms: ${JSON.stringify(counts)}`);
        if (Date.now() - lastLog > 5000) {
          lastLog = Date.now();
          log(`+${Date.now() - firstPost} ms ${JSON.stringify(counts)} load ${loadAverage()?.[0]}`);
        }
        await sleep(100);
      }
      const cpuAfter = await cpuSnapshot(e, db, dbName);
      const machineAfter = machineCpu();
      const loadAfter = loadAverage();
      await sleep(1500);
      const xactAfter = await xactCommits(db, dbName);
      const done = await db.query<{ id: string; state: string; error_code: string | null; at: Date }>(
        `select e.id, e.state, e.error_code, (select min(h.at) from history h where h.execution_id = e.id and h.to_state = 'patch_generated') as at
           from executions e where e.id = any($1::text[])`,
        [ids],
      );
      const failed = done.rows.filter((r) => r.state !== 'patch_generated');
      const doneAt = done.rows.filter((r) => r.at).map((r) => r.at.getTime()).sort((a, b) => a - b);
      const lastDone = doneAt[doneAt.length - 1] ?? Date.now();
      const i10 = Math.floor(doneAt.length * 0.1);
      const i90 = Math.max(i10 + 1, Math.ceil(doneAt.length * 0.9) - 1);
      const sustained = doneAt.length >= 10 ? (i90 - i10) / ((doneAt[i90]! - doneAt[i10]!) / 1000) : null;
      const wallS = (lastDone - firstPost) / 1000;
      const e2e = done.rows.filter((r) => r.at).map((r) => r.at.getTime() - postedAt.get(r.id)!);
      const cpu = cpuDelta(cpuBefore, cpuAfter);
      throughput = {
        executions: EXECUTIONS,
        patchGenerated: doneAt.length,
        failed: failed.map((r) => ({ id: r.id, state: r.state, errorCode: r.error_code })),
        postSeconds: round((lastPost - firstPost) / 1000, 2),
        wallSeconds: round(wallS, 2),
        perSecondOverall: round(doneAt.length / wallS, 2),
        perSecondSustained: sustained === null ? null : round(sustained, 2),
        postToPatchGeneratedMs: percentiles(e2e),
        steps: summariseSteps(await stepTimings(e, ids)),
        relayMs: percentiles(await relayDelays(e, ids)),
        cpuSeconds: cpu,
        cpuMsPerExecution: Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, round((1000 * (v.self + v.children)) / Math.max(1, doneAt.length), 1)])),
        machineCpu:
          machineBefore && machineAfter
            ? { busySeconds: round(machineAfter.busy - machineBefore.busy, 1), ofSeconds: round(machineAfter.total - machineBefore.total, 1) }
            : null,
        transactions: { committed: xactAfter - xactBefore, perExecution: round((xactAfter - xactBefore) / Math.max(1, doneAt.length), 1) },
        load: { before: loadBefore, after: loadAfter },
      };
      log(`throughput ${throughput['perSecondOverall']}/s overall, ${throughput['perSecondSustained']}/s sustained`);
    }

    let commit = 'unknown';
    try {
      commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
      if (execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim()) commit += '+dirty';
    } catch {
      // not a git checkout
    }
    const pids = new Map<string, number>();
    for (const [name, p] of e.stack.processes) if (p.child.pid && /^(git-gateway|patcher)/.test(name)) pids.set(name, p.child.pid);
    await db.end().catch(() => undefined);
    if (PROFILE_DIR) await e.stack.stop(); // profiles are written when the processes exit
    const result = {
      date: new Date(t0).toISOString(),
      commit,
      machine: { nproc: Number(execFileSync('nproc', { encoding: 'utf8' }).trim()), node: process.version, loadAtStart },
      params: { executions: EXECUTIONS, latencySamples: SAMPLES, replicas: REPLICAS, nodes: NODES, remediations: REMEDIATIONS, postConcurrency: POST_CONCURRENCY, env: EXTRA_ENV },
      latency,
      throughput,
      ...(PROFILE_DIR ? { profile: profileSummary(PROFILE_DIR, pids) } : {}),
      loadAtEnd: loadAverage(),
      wallSeconds: round((Date.now() - t0) / 1000, 1),
    };
    ok = !throughput || (throughput['failed'] as unknown[]).length === 0;
    if (args.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else printTable(result);
  } finally {
    await db.end().catch(() => undefined);
  }
}

type Pcts = Record<string, number> | null;
function printTable(r: any): void {
  const ms = (p: Pcts) => (p ? `p50 ${round(p['p50']!, 0)} / p95 ${round(p['p95']!, 0)} / max ${round(p['max']!, 0)} ms (n ${p['n']})` : '—');
  const w = (s: string) => process.stdout.write(`${s}\n`);
  w(`\nThroughput benchmark ${r.date} at ${r.commit} (nproc ${r.machine.nproc}, node ${r.machine.node}); replicas of planner and pr-service ${r.params.replicas}, worker nodes (git-gateway + patcher) ${r.params.nodes}; env ${JSON.stringify(r.params.env)}`);
  w(`load average at start ${r.machine.loadAtStart?.join(' ')}, at end ${r.loadAtEnd?.join(' ')}`);
  w(`\nLatency, one execution at a time (warm mirror), POST → patch_generated: ${ms(r.latency.postToPatchGeneratedMs)}`);
  for (const [step, s] of Object.entries<any>(r.latency.steps)) w(`  ${step.padEnd(11)} queue ${ms(s.queue)}; run ${ms(s.run)}`);
  w(`  outbox relay delay ${ms(r.latency.relayMs)}`);
  const t = r.throughput;
  if (t) {
    w(`\nThroughput: ${t.patchGenerated}/${t.executions} patch_generated (${t.failed.length} not), POSTs took ${t.postSeconds} s`);
    w(`  executions/s: overall ${t.perSecondOverall} (first POST → last patch_generated ${t.wallSeconds} s), sustained ${t.perSecondSustained} (10th → 90th percentile completion)`);
    w(`  POST → patch_generated ${ms(t.postToPatchGeneratedMs)}`);
    for (const [step, s] of Object.entries<any>(t.steps)) w(`  ${step.padEnd(11)} queue ${ms(s.queue)}; run ${ms(s.run)}`);
    w(`  outbox relay delay ${ms(t.relayMs)}`);
    w(`  CPU seconds (own + waited-for children), ms per execution:`);
    for (const [p, c] of Object.entries<any>(t.cpuSeconds).sort((a: any, b: any) => b[1].self + b[1].children - a[1].self - a[1].children)) {
      w(`    ${p.padEnd(26)} ${String(c.self).padStart(7)} + ${String(c.children).padStart(6)} s  ${String(t.cpuMsPerExecution[p]).padStart(7)} ms/exec`);
    }
    if (t.machineCpu) w(`    whole machine busy ${t.machineCpu.busySeconds} of ${t.machineCpu.ofSeconds} CPU-s (includes other work)`);
    w(`  transactions committed: ${t.transactions.committed} (${t.transactions.perExecution} per execution, pg_stat_database; includes the relays' and reconcilers' polling)`);
    w(`  load average before ${t.load.before?.join(' ')}, after ${t.load.after?.join(' ')}`);
  }
  if (r.profile) {
    for (const [svc, p] of Object.entries<any>(r.profile)) {
      w(`\nCPU profile ${svc} (main thread, whole run including start-up): ${p.sampledMs} ms not idle; top self time:`);
      for (const f of p.top) w(`  ${String(f.selfMs).padStart(6)} ms ${String(f.pct).padStart(5)} %  ${f.fn}`);
      w(`  the project's functions by inclusive time:`);
      for (const f of p.project) w(`  ${String(f.inclusiveMs).padStart(6)} ms ${String(f.pct).padStart(5)} %  ${f.fn}`);
    }
  }
  w(`\nwall ${r.wallSeconds} s`);
}

let code = 1;
try {
  await main();
  code = ok ? 0 : 1;
} catch (err) {
  log(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  code = 2;
} finally {
  if (env) {
    if (args.keep) {
      await env.stack.stop().catch(() => undefined);
      await env.nats.stop().catch(() => undefined);
      await unmountUnder(env.dir).catch(() => undefined);
      log(`kept ${env.dir} (logs in ${env.stack.logDir}), database ${env.databaseUrl}`);
    } else {
      await env.close().catch((err) => log(`close: ${String(err)}`));
    }
  }
}
process.exit(code);
