/**
 * Chaos run (a benchmark, not a test): many patch executions in flight while service processes
 * are SIGKILLed and restarted at random; then counts what was lost and what happened twice.
 *
 *   node --import tsx scripts/chaos.ts [--executions 200] [--remediations 10] [--kill-every-ms 4000]
 *     [--drain-timeout-ms 600000] [--pr-fraction 0.5] [--keep]
 *
 * 1. Starts a private environment like the fault tests (test/support/environment.ts): its own
 *    nats-server, a fresh database on 127.0.0.1:5432, the five services and github-local as
 *    processes, advisories and registry snapshot from test/fixtures.
 * 2. Creates `--remediations` express remediations (one bare remote each), waits for their plans,
 *    then submits `--executions` patch executions round-robin over them (tiers cycling
 *    minimal/moderate/comprehensive, branch `chaos/<n>`), a few every 100 ms; for `--pr-fraction`
 *    of them it asks for the pull request once they reach patch_generated. Every POST is retried
 *    with backoff while the API is down, with one `Idempotency-Key` per logical submission.
 * 3. A killer SIGKILLs a random service (api, planner, git-gateway, patcher, pr-service) every
 *    `--kill-every-ms` ± 25 % and restarts it after 0.5–2 s, until everything settled or 80 % of
 *    the drain timeout (counted from the first submission) elapsed; then the system drains.
 * 4. Reports (table on stdout, then one JSON line): terminal states and error codes, lost runs,
 *    duplicated effects (patch versions, refs, history entries, pull requests on github-local,
 *    public events), kills per service, time to drain, wall time. Exit code 0 only when nothing
 *    was lost or duplicated and no run failed (every input is valid, so a failure is the chaos's).
 *
 * The environment's directory is printed at start; `--keep` keeps it (and the database) when the
 * run fails, for the logs under `<dir>/data/logs/`; `--keep-always` keeps it in any case.
 * Other knobs: `--submit-per-tick 2`, `--tick-ms 100`, `--submit-timeout-ms 180000` (per POST,
 * retries included), `--kill-every-ms 0` (no kills: a baseline).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { unmountUnder } from '@remediation/stack';
import { type TestEnvironment, startTestEnvironment } from '../test/support/environment.js';
import { SETTLED, api, effects, sql } from '../test/support/flows.js';
import { createPlannedRemediations } from '../test/support/measure.js';
import { parseScriptArgs } from './cli-args.js';

const { values: args } = parseScriptArgs(import.meta.url, {
  options: {
    executions: { type: 'string', default: '200' },
    remediations: { type: 'string', default: '10' },
    'kill-every-ms': { type: 'string', default: '4000' },
    'drain-timeout-ms': { type: 'string', default: '600000' },
    'pr-fraction': { type: 'string', default: '0.5' },
    'submit-per-tick': { type: 'string', default: '2' },
    'tick-ms': { type: 'string', default: '100' },
    'submit-timeout-ms': { type: 'string', default: '180000' },
    keep: { type: 'boolean', default: false },
    'keep-always': { type: 'boolean', default: false },
  },
  strict: true,
});
const num = (name: keyof typeof args): number => {
  const v = Number(args[name]);
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name}: not a non-negative number: ${String(args[name])}`);
  return v;
};
const EXECUTIONS = Math.floor(num('executions'));
const REMEDIATIONS = Math.max(1, Math.floor(num('remediations')));
const KILL_EVERY_MS = num('kill-every-ms');
const DRAIN_TIMEOUT_MS = num('drain-timeout-ms');
const PR_FRACTION = Math.min(1, num('pr-fraction'));
const SUBMIT_PER_TICK = Math.max(1, Math.floor(num('submit-per-tick')));
const TICK_MS = num('tick-ms');
const SUBMIT_TIMEOUT_MS = num('submit-timeout-ms');

/** Service environment for chaos: short leases, many deliveries, a fast reconciler. */
const CHAOS_ENV = {
  ACK_WAIT_MS: '5000',
  MAX_DELIVER: '10',
  RETRY_BASE_MS: '200',
  RECONCILE_INTERVAL_MS: '2000',
  RECONCILE_STALE_MS: '30000',
  RECONCILE_MAX_REISSUES: '5',
};
const KILLABLE = ['api', 'planner', 'git-gateway', 'patcher', 'pr-service'] as const;
const TIERS = ['minimal', 'moderate', 'comprehensive'] as const;
/** After everything settled: long enough for unacked commands to be redelivered (2 × ack_wait). */
const QUIET_MS = 2 * Number(CHAOS_ENV.ACK_WAIT_MS) + 5_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (m: string) => process.stderr.write(`[chaos ${new Date().toISOString().slice(11, 23)}] ${m}\n`);
const describe = (err: unknown) => (err instanceof Error ? `${err.message}${(err as any).cause ? ` (${(err as any).cause.code ?? (err as any).cause.message})` : ''}` : String(err));
const runId = Date.now().toString(36);

/** Refs under `refs/remediations/<rem>/<kind>.<n>/` in every mirror of the environment. */
function refsOf(e: TestEnvironment, executionId: string): string[] {
  const dot = executionId.indexOf('.');
  const prefix = `refs/remediations/${executionId.slice(0, dot)}/${executionId.slice(dot + 1)}/`;
  const mirrors = join(e.dir, 'data/persistent/mirrors');
  if (!existsSync(mirrors)) return [];
  return readdirSync(mirrors)
    .filter((m) => m.endsWith('.git'))
    .flatMap((m) => execFileSync('git', ['for-each-ref', '--format=%(refname)', prefix], { cwd: join(mirrors, m), encoding: 'utf8' }).split('\n').filter(Boolean));
}

/** One logical patch-execution submission (and maybe its pull-request request). */
interface Submission {
  n: number;
  remediationId: string;
  owner: string;
  tier: (typeof TIERS)[number];
  branch: string;
  key: string;
  wantPr: boolean;
  id?: string;
  /** POST attempts (1 = no retry). */
  attempts: number;
  /** The retried POST was answered 200 (the idempotency key found the first one). */
  replayed: boolean;
  error?: string;
  prRequested: boolean;
  prAccepted: boolean;
  prAttempts: number;
  prNote?: string;
  prError?: string;
}

interface Kill {
  service: string;
  at: number;
  downMs: number;
  restartMs: number;
  restartError?: string;
}

let env: TestEnvironment | undefined;
let killerStop = false;
let killerDone: Promise<void> = Promise.resolve();
let cleaned: Promise<void> | undefined;
let failed = true;

/** Stops everything; removes the environment unless `--keep` and the run failed. */
function cleanup(): Promise<void> {
  cleaned ??= (async () => {
    killerStop = true;
    await killerDone.catch(() => undefined);
    if (!env) return;
    if ((args.keep && failed) || args['keep-always']) {
      await env.stack.stop().catch((e) => log(`stack stop: ${describe(e)}`));
      await env.nats.stop().catch((e) => log(`nats stop: ${describe(e)}`));
      await unmountUnder(env.dir).catch(() => undefined);
      log(`kept: ${env.dir} (logs in ${env.stack.logDir}); database ${env.databaseUrl}`);
      const admin = new URL(env.databaseUrl);
      const dbName = admin.pathname.slice(1);
      admin.pathname = '/postgres';
      log(`remove with: rm -rf ${env.dir}; psql '${admin}' -c 'drop database "${dbName}"'`);
    } else {
      await env.close().catch((e) => log(`close: ${describe(e)}`));
    }
  })();
  return cleaned;
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    log(`${sig}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  });
}

/**
 * POST with retries while the API is down or answers 5xx; one idempotency key for all attempts.
 * Returns the first answer below 500. `beforeRetry` may decide the request already took effect.
 */
async function postRetrying(
  path: string,
  body: unknown,
  key: string,
  onAttempt: () => void,
  beforeRetry?: () => Promise<{ status: number; body: any } | null>,
): Promise<{ status: number; body: any }> {
  const giveUpAt = Date.now() + SUBMIT_TIMEOUT_MS;
  let delay = 200;
  let last = '';
  for (let attempt = 1; ; attempt++) {
    if (attempt > 1 && beforeRetry) {
      const settled = await beforeRetry().catch(() => null);
      if (settled) return settled;
    }
    onAttempt();
    try {
      const r = await api(env!, path, {
        method: 'POST',
        headers: { 'idempotency-key': key },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      });
      if (r.status < 500) return r;
      last = `${r.status} ${JSON.stringify(r.body)?.slice(0, 200)}`;
    } catch (err) {
      last = describe(err);
    }
    if (killerStop && cleaned) throw new Error('stopping');
    if (Date.now() > giveUpAt) throw new Error(`gave up after ${attempt} attempts: ${last}`);
    await sleep(delay * (0.5 + Math.random()));
    delay = Math.min(delay * 2, 4_000);
  }
}

async function main(): Promise<number> {
  const t0 = Date.now();
  log(`executions ${EXECUTIONS}, remediations ${REMEDIATIONS}, kill every ${KILL_EVERY_MS} ms, drain timeout ${DRAIN_TIMEOUT_MS} ms, PR fraction ${PR_FRACTION}`);
  env = await startTestEnvironment('chaos', CHAOS_ENV);
  const e = env;
  log(`environment dir ${e.dir} (logs: ${e.stack.logDir}), database ${e.databaseUrl}, nats ${e.nats.url}, api ${e.stack.apiUrl}, github ${e.stack.githubUrl}`);
  log(`stack up in ${Date.now() - t0} ms`);

  // Remediations (before the chaos) and their plans.
  const rems = await createPlannedRemediations(e, REMEDIATIONS);
  log(`${rems.length} remediations planned at +${Date.now() - t0} ms`);

  const subs: Submission[] = Array.from({ length: EXECUTIONS }, (_, n) => {
    const rem = rems[n % rems.length]!;
    return {
      n,
      remediationId: rem.remediationId,
      owner: rem.owner,
      tier: TIERS[Math.floor(n / rems.length) % TIERS.length]!,
      branch: `chaos/${n}`,
      key: `chaos-${runId}-exec-${n}`,
      // Spread evenly: exactly floor(N × fraction) of them.
      wantPr: Math.floor((n + 1) * PR_FRACTION) > Math.floor(n * PR_FRACTION),
      attempts: 0,
      replayed: false,
      prRequested: false,
      prAccepted: false,
      prAttempts: 0,
    };
  });
  const byId = new Map<string, Submission>();
  const tasks: Promise<void>[] = [];
  let lastSubmissionAt = 0;
  let lastExecutionSubmissionAt = 0;
  let submissionsDone = 0;

  const stateOf = async (id: string) => (await sql<{ state: string }>(e, 'select state from executions where id = $1', [id]))[0]?.state;

  const submitExecution = async (s: Submission) => {
    try {
      const r = await postRetrying(
        `/v1/remediations/${s.remediationId}/executions`,
        { tier: s.tier, branchName: s.branch },
        s.key,
        () => s.attempts++,
      );
      if (r.status === 202 || r.status === 200) {
        s.id = r.body.id;
        s.replayed = r.status === 200;
        byId.set(s.id!, s);
        lastSubmissionAt = lastExecutionSubmissionAt = Date.now();
      } else {
        s.error = `${r.status} ${JSON.stringify(r.body)}`;
      }
    } catch (err) {
      s.error = describe(err);
    } finally {
      submissionsDone++;
    }
  };

  const requestPr = async (s: Submission) => {
    // No second request once the first took effect (its response may have been lost with the API).
    const tookEffect = async () => {
      const st = await stateOf(s.id!);
      if (st && st !== 'patch_generated') {
        s.prNote = `response lost; state already ${st}`;
        return { status: 202, body: null };
      }
      return null;
    };
    try {
      const r = await postRetrying(`/v1/executions/${s.id}/pull-requests`, {}, `chaos-${runId}-pr-${s.n}`, () => s.prAttempts++, tookEffect);
      if (r.status === 202) {
        s.prAccepted = true;
        lastSubmissionAt = Date.now();
      } else if (r.status === 409 && (await tookEffect())) {
        s.prAccepted = true;
      } else {
        s.prError = `${r.status} ${JSON.stringify(r.body)}`;
      }
    } catch (err) {
      s.prError = describe(err);
    }
  };

  // Killer.
  const kills: Kill[] = [];
  let down: string | null = null;
  const chaosStart = Date.now();
  const drainDeadline = chaosStart + DRAIN_TIMEOUT_MS;
  const killStopAt = chaosStart + 0.8 * DRAIN_TIMEOUT_MS;
  const killer = async () => {
    if (KILL_EVERY_MS <= 0) return;
    let next = Date.now() + KILL_EVERY_MS * (0.75 + Math.random() * 0.5);
    for (;;) {
      while (!killerStop && Date.now() < next) await sleep(Math.max(1, Math.min(100, next - Date.now())));
      if (killerStop) return;
      const service = KILLABLE[Math.floor(Math.random() * KILLABLE.length)]!;
      const proc = e.stack.processes.get(service);
      if (!proc) throw new Error(`no process ${service}`);
      const at = Date.now();
      next = at + KILL_EVERY_MS * (0.75 + Math.random() * 0.5);
      down = service;
      e.stack.signal(service, 'SIGKILL');
      await proc.exited;
      const downMs = 500 + Math.random() * 1500;
      await sleep(downMs);
      const kill: Kill = { service, at: at - chaosStart, downMs: Math.round(downMs), restartMs: 0 };
      kills.push(kill);
      const r0 = Date.now();
      for (let attempt = 1; ; attempt++) {
        try {
          await e.stack.restart(service);
          break;
        } catch (err) {
          kill.restartError = describe(err);
          log(`restart of ${service} failed (attempt ${attempt}): ${kill.restartError}`);
          if (attempt >= 5) throw new Error(`could not restart ${service}: ${kill.restartError}`);
          await sleep(1000);
        }
      }
      kill.restartMs = Date.now() - r0;
      down = null;
      log(`killed ${service} at +${kill.at} ms, back after ${kill.downMs} + ${kill.restartMs} ms`);
    }
  };
  let killerError: unknown = null;
  killerDone = killer().catch((err) => {
    killerError = err;
    log(`killer stopped: ${describe(err)}`);
  });

  // Monitor: states from the database; asks for pull requests; decides when everything settled.
  const states = new Map<string, { state: string; error_code: string | null }>();
  let settledAt: number | null = null;
  let monitorStop = false;
  const isSettled = () => {
    if (submissionsDone < subs.length) return false;
    for (const s of subs) {
      if (!s.id) continue;
      const st = states.get(s.id)?.state;
      if (!st || !SETTLED.has(st)) return false;
      if (s.wantPr && st === 'patch_generated' && !s.prError) return false;
    }
    return true;
  };
  let lastProgress = 0;
  const monitor = async () => {
    while (!monitorStop) {
      try {
        const rows = await sql<{ id: string; state: string; error_code: string | null }>(e, `select id, state, error_code from executions where kind = 'patch'`);
        for (const r of rows) states.set(r.id, r);
        for (const s of subs) {
          if (s.id && s.wantPr && !s.prRequested && states.get(s.id)?.state === 'patch_generated') {
            s.prRequested = true;
            tasks.push(requestPr(s));
          }
        }
        if (settledAt === null && isSettled()) {
          settledAt = Date.now();
          log(`everything settled at +${settledAt - chaosStart} ms`);
        }
        if (Date.now() - lastProgress > 5000) {
          lastProgress = Date.now();
          const counts: Record<string, number> = {};
          for (const s of subs) {
            const st = s.id ? (states.get(s.id)?.state ?? 'accepted?') : s.error ? 'unsubmitted' : 'submitting';
            counts[st] = (counts[st] ?? 0) + 1;
          }
          log(`+${Date.now() - chaosStart} ms: ${JSON.stringify(counts)}; PRs asked ${subs.filter((s) => s.prRequested).length}; kills ${kills.length}${down ? `; ${down} down` : ''}`);
        }
      } catch (err) {
        log(`monitor: ${describe(err)}`);
      }
      await sleep(500);
    }
  };
  const monitorDone = monitor();

  // Submissions, a few per tick.
  log(`submitting ${EXECUTIONS} executions, ${SUBMIT_PER_TICK} per ${TICK_MS} ms`);
  for (const s of subs) {
    tasks.push(submitExecution(s));
    if ((s.n + 1) % SUBMIT_PER_TICK === 0) await sleep(TICK_MS);
  }
  // Wait for settling (or the killer's end), then stop the killer.
  while (settledAt === null && Date.now() < killStopAt && !killerError) await sleep(250);
  killerStop = true;
  await killerDone;
  const killerStoppedAt = Date.now();
  log(`killer stopped at +${killerStoppedAt - chaosStart} ms after ${kills.length} kills (${settledAt ? 'everything settled' : killerError ? 'killer error' : '80 % of the drain timeout'})`);
  // Drain.
  while (settledAt === null && Date.now() < drainDeadline) await sleep(250);
  const drainEndedAt = Date.now();
  const atDrainEnd = new Map([...states].map(([k, v]) => [k, { ...v }]));
  // In-flight submissions should have ended by now (they give up after --submit-timeout-ms).
  await Promise.race([Promise.all(tasks), sleep(SUBMIT_TIMEOUT_MS)]);
  // Quiet period: unacked commands are redelivered; the relays publish what is left in the outbox.
  log(`drain ended (${settledAt ? 'settled' : 'timeout'}); quiet period ${QUIET_MS} ms`);
  await sleep(QUIET_MS);
  for (let i = 0; i < 60; i++) {
    const [{ n }] = (await sql<{ n: string }>(e, 'select count(*) as n from outbox where published_at is null')) as [{ n: string }];
    if (Number(n) === 0) break;
    if (i === 59) log(`outbox still holds ${n} unpublished rows`);
    await sleep(500);
  }
  monitorStop = true;
  await monitorDone;

  // ---- Measurements ----
  log('measuring');
  const finalRows = await sql<{ id: string; remediation_id: string; state: string; step: string | null; error_code: string | null; error_message: string | null; failed_step: string | null }>(
    e,
    `select id, remediation_id, state, step, error_code, error_message, failed_step from executions where kind = 'patch'`,
  );
  const final = new Map(finalRows.map((r) => [r.id, r]));
  const accepted = subs.filter((s) => s.id);
  const terminal: Record<string, number> = {};
  const failureCodes: Record<string, Record<string, number>> = {};
  for (const s of accepted) {
    const r = final.get(s.id!);
    const st = r?.state ?? 'missing';
    terminal[st] = (terminal[st] ?? 0) + 1;
    if (r && (r.error_code || st.endsWith('_failed'))) {
      const byCode = (failureCodes[st] ??= {});
      const code = `${r.error_code ?? '?'}${r.failed_step ? `@${r.failed_step}` : ''}`;
      byCode[code] = (byCode[code] ?? 0) + 1;
    }
  }
  const missingInDb = accepted.filter((s) => !final.has(s.id!)).map((s) => s.id!);
  const notSettledAtDrainEnd = accepted
    .filter((s) => final.has(s.id!))
    .filter((s) => {
      const st = atDrainEnd.get(s.id!)?.state;
      return !st || !SETTLED.has(st) || (s.wantPr && st === 'patch_generated' && !s.prError);
    })
    .map((s) => ({ id: s.id!, state: atDrainEnd.get(s.id!)?.state ?? null, finalState: final.get(s.id!)?.state ?? null, step: final.get(s.id!)?.step ?? null }));
  const changedAfterDrain = accepted
    .filter((s) => atDrainEnd.get(s.id!) && final.get(s.id!) && atDrainEnd.get(s.id!)!.state !== final.get(s.id!)!.state)
    .map((s) => ({ id: s.id!, atDrainEnd: atDrainEnd.get(s.id!)!.state, final: final.get(s.id!)!.state }));
  const unsubmitted = subs.filter((s) => !s.id).map((s) => ({ n: s.n, error: s.error ?? 'never answered' }));
  const prFailures = subs.filter((s) => s.prError).map((s) => ({ id: s.id, error: s.prError }));
  const ourIds = new Set(accepted.map((s) => s.id!));
  const extraExecutions = finalRows.filter((r) => !ourIds.has(r.id)).map((r) => ({ id: r.id, state: r.state }));

  // Duplicated effects per execution.
  const dupExec: Array<{ id: string; what: string[] }> = [];
  const repeatedSteps: Array<{ id: string; entries: Record<string, number> }> = [];
  const leakedRefs: Array<{ id: string; state: string; refs: string[] }> = [];
  for (const s of accepted) {
    if (!final.has(s.id!)) continue;
    const eff = await effects(e, s.id!);
    const what: string[] = [];
    if (eff.patchVersions > 1) what.push(`patchVersions=${eff.patchVersions}`);
    if (eff.refs > 1) {
      // Which refs: patch versions (`v<n>`) are the effect; a work-in-progress `checkpoint` ref
      // left behind after the patch version exists is a leak, reported apart.
      const refs = refsOf(e, s.id!);
      const versionRefs = refs.filter((r) => /\/v\d+$/.test(r));
      const others = refs.filter((r) => !/\/v\d+$/.test(r));
      if (versionRefs.length > 1) what.push(`refs=${eff.refs} (${refs.map((r) => r.split('/').pop()).join(', ')})`);
      if (others.length) leakedRefs.push({ id: s.id!, state: final.get(s.id!)!.state, refs: others });
    }
    for (const st of ['patch_generated', 'pr_opened', 'patch_failed', 'pr_failed']) {
      if ((eff.transitions[st] ?? 0) > 1) what.push(`history ${st}×${eff.transitions[st]}`);
    }
    if (what.length) dupExec.push({ id: s.id!, what });
    const again = Object.fromEntries(Object.entries(eff.transitions).filter(([, n]) => n > 1));
    if (Object.keys(again).length) repeatedSteps.push({ id: s.id!, entries: again });
  }
  const prRows = await sql<{ execution_id: string; n: string }>(e, 'select execution_id, count(*) as n from pull_requests group by execution_id having count(*) > 1');
  for (const r of prRows) dupExec.push({ id: r.execution_id, what: [`pull_request rows=${r.n}`] });

  // Pull requests on github-local, per remediation's owner.
  const ghPulls: Array<{ owner: string; number: number; head: string; state: string }> = [];
  for (const r of rems) {
    for (let page = 1; ; page++) {
      const res = await fetch(`${e.stack.githubUrl}/repos/${r.owner}/express/pulls?state=all&per_page=100&page=${page}`, {
        headers: { authorization: 'token x', accept: 'application/vnd.github+json' },
      });
      if (!res.ok) throw new Error(`github-local pulls of ${r.owner}/express: ${res.status} ${await res.text()}`);
      const list = (await res.json()) as Array<{ number: number; state: string; head: { ref: string } }>;
      for (const p of list) ghPulls.push({ owner: r.owner, number: p.number, head: p.head.ref, state: p.state });
      if (list.length < 100) break;
    }
  }
  const byHead = new Map<string, number[]>();
  for (const p of ghPulls) {
    const k = `${p.owner}:${p.head}`;
    byHead.set(k, [...(byHead.get(k) ?? []), p.number]);
  }
  const dupPulls = [...byHead].filter(([, ns]) => ns.length > 1).map(([head, numbers]) => ({ head, numbers }));

  // Public events vs. history: one event per entry into a state.
  const expected = await sql<{ execution_id: string; to_state: string; n: string }>(
    e,
    `select execution_id, to_state, count(*) as n from history
      where to_state is not null and from_state is distinct from to_state group by execution_id, to_state`,
  );
  const nc = await connect({ servers: e.nats.url });
  const seen = new Map<string, { n: number; msgIds: string[] }>();
  let eventsRead = 0;
  try {
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    const info = await jsm.streams.info('REMEDIATION_EVENTS');
    const stream = await js.streams.get('REMEDIATION_EVENTS');
    for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
      const m = await stream.getMessage({ seq }).catch(() => null);
      if (!m) continue;
      const ev = m.json<{ schema?: string; executionId: string; to: string }>();
      // Progress events (remediation.progress.v1, docs/decisions/0019) share the stream and have no
      // state: only state events are counted against the history.
      if (ev.schema === 'remediation.progress.v1') continue;
      eventsRead++;
      const k = `${ev.executionId}|${ev.to}`;
      const cur = seen.get(k) ?? { n: 0, msgIds: [] };
      cur.n++;
      cur.msgIds.push(m.header?.get('Nats-Msg-Id') ?? `seq ${seq}`);
      seen.set(k, cur);
    }
  } finally {
    await nc.close();
  }
  const expectedMap = new Map(expected.map((r) => [`${r.execution_id}|${r.to_state}`, Number(r.n)]));
  const dupEvents: Array<{ executionId: string; to: string; published: number; history: number; msgIds: string[] }> = [];
  const missingEvents: Array<{ executionId: string; to: string; published: number; history: number }> = [];
  for (const k of new Set([...seen.keys(), ...expectedMap.keys()])) {
    const [executionId, to] = k.split('|') as [string, string];
    const published = seen.get(k)?.n ?? 0;
    const history = expectedMap.get(k) ?? 0;
    if (published > history) dupEvents.push({ executionId, to, published, history, msgIds: seen.get(k)!.msgIds });
    if (published < history) missingEvents.push({ executionId, to, published, history });
  }

  // Recovery machinery at work (informational).
  const reissues = Number((await sql<{ n: string }>(e, `select count(*) as n from history where event = 'reconciler.reissued'`))[0]!.n);
  const deadLetters = Number((await sql<{ n: string }>(e, 'select count(*) as n from dead_letters'))[0]!.n);
  const outcomes = Object.fromEntries(
    (await sql<{ outcome: string | null; n: string }>(e, 'select outcome, count(*) as n from step_attempts group by outcome')).map((r) => [r.outcome ?? 'unfinished', Number(r.n)]),
  );
  const reissuesByStep = Object.fromEntries(
    (await sql<{ step: string; n: string }>(e, `select step, count(*) as n from history where event = 'reconciler.reissued' group by step`)).map((r) => [r.step, Number(r.n)]),
  );
  // Re-issued although no worker had claimed the step yet: the command was only waiting in the queue.
  const reissuedUnclaimed = Number(
    (
      await sql<{ n: string }>(
        e,
        `select count(*) as n from history h where h.event = 'reconciler.reissued' and not exists
           (select 1 from step_attempts a where a.execution_id = h.execution_id and a.step = h.step and a.started_at < h.at)`,
      )
    )[0]!.n,
  );
  // Why attempts were retried (nak with delay) or failed: step and error code.
  const retryCauses = Object.fromEntries(
    (
      await sql<{ k: string; n: string }>(
        e,
        `select outcome || ' ' || step || ' ' || coalesce(error_code, '?') as k, count(*) as n from step_attempts
          where outcome in ('retrying', 'failed') group by 1 order by 2 desc`,
      )
    ).map((r) => [r.k, Number(r.n)]),
  );
  const fencedByStep = Object.fromEntries(
    (await sql<{ step: string; n: string }>(e, `select step, count(*) as n from step_attempts where outcome = 'fenced' group by step`)).map((r) => [r.step, Number(r.n)]),
  );
  // Queue wait: from entering a step to its first claim (seconds).
  const queueWait = Object.fromEntries(
    (
      await sql<{ step: string; p50: number; max: number }>(
        e,
        `with entries as (select execution_id, step, min(at) as at from history where to_state is not null and step is not null group by execution_id, step),
              firsts as (select execution_id, step, min(started_at) as started from step_attempts group by execution_id, step)
         select en.step, percentile_cont(0.5) within group (order by extract(epoch from f.started - en.at)) as p50,
                max(extract(epoch from f.started - en.at)) as max
           from entries en join firsts f using (execution_id, step) group by en.step`,
      )
    ).map((r) => [r.step, { p50: Math.round(Number(r.p50) * 10) / 10, max: Math.round(Number(r.max) * 10) / 10 }]),
  );
  const redeliveries = Number((await sql<{ n: string }>(e, 'select count(*) as n from step_attempts where delivery_count > 1'))[0]!.n);

  const killsPer: Record<string, number> = Object.fromEntries(KILLABLE.map((s) => [s, 0]));
  for (const k of kills) killsPer[k.service] = (killsPer[k.service] ?? 0) + 1;
  const lostTotal = missingInDb.length + notSettledAtDrainEnd.length;
  const dupTotal = dupExec.length + dupPulls.length + dupEvents.length + extraExecutions.length;
  // Every input is valid: a run that ended failed (or cancelled) was failed by the chaos.
  const failedRuns = accepted
    .map((s) => final.get(s.id!))
    .filter((r): r is NonNullable<typeof r> => !!r && (r.state.endsWith('_failed') || r.state.endsWith('_cancelled')));
  const ok =
    lostTotal === 0 && dupTotal === 0 && failedRuns.length === 0 && unsubmitted.length === 0 && missingEvents.length === 0 && !killerError;
  failed = !ok;
  const end = Date.now();
  const nodeVersion = process.version;
  let cpus = String(availableParallelism());
  try {
    cpus = execFileSync('nproc', { encoding: 'utf8' }).trim();
  } catch {
    // nproc missing: node's count
  }

  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    if (execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim()) commit += '+dirty';
  } catch {
    // not a git checkout
  }
  const result = {
    ok,
    commit,
    params: { executions: EXECUTIONS, remediations: REMEDIATIONS, killEveryMs: KILL_EVERY_MS, drainTimeoutMs: DRAIN_TIMEOUT_MS, prFraction: PR_FRACTION, serviceEnv: CHAOS_ENV },
    machine: { nproc: Number(cpus), node: nodeVersion },
    date: new Date(t0).toISOString(),
    submitted: EXECUTIONS,
    accepted: accepted.length,
    postRetries: subs.reduce((a, s) => a + Math.max(0, s.attempts - 1), 0),
    replayedByIdempotencyKey: subs.filter((s) => s.replayed).length,
    unsubmitted,
    pullRequests: {
      wanted: subs.filter((s) => s.wantPr).length,
      requested: subs.filter((s) => s.prRequested).length,
      accepted: subs.filter((s) => s.prAccepted).length,
      retries: subs.reduce((a, s) => a + Math.max(0, s.prAttempts - 1), 0),
      responseLost: subs.filter((s) => s.prNote).length,
      failures: prFailures,
      onGithub: ghPulls.length,
    },
    terminal,
    failureCodes,
    failedRuns: failedRuns.length,
    lost: { total: lostTotal, notSettledAtDrainEnd, missingInDb },
    duplicated: { total: dupTotal, executions: dupExec, pullRequestsOnGithub: dupPulls, events: dupEvents, extraExecutionsInDb: extraExecutions },
    events: { read: eventsRead, missing: missingEvents },
    changedAfterDrain,
    leakedCheckpointRefs: leakedRefs,
    repeatedStepEntries: repeatedSteps.length,
    recovery: { reissues, reissuesByStep, reissuedUnclaimed, deadLetters, redeliveredAttempts: redeliveries, attemptOutcomes: outcomes, retryCauses, fencedByStep, queueWaitSeconds: queueWait },
    kills: { total: kills.length, perService: killsPer, restartFailures: kills.filter((k) => k.restartError).length, error: killerError ? describe(killerError) : null },
    timeToDrainMs: settledAt !== null && lastSubmissionAt ? Math.max(0, settledAt - lastSubmissionAt) : null,
    drainFromLastExecutionSubmissionMs: settledAt !== null && lastExecutionSubmissionAt ? Math.max(0, settledAt - lastExecutionSubmissionAt) : null,
    settledAfterMs: settledAt !== null ? settledAt - chaosStart : null,
    chaosMs: killerStoppedAt - chaosStart,
    drainEndedAfterMs: drainEndedAt - chaosStart,
    wallMs: end - t0,
    dir: e.dir,
  };

  // Table.
  const rows: Array<[string, string]> = [
    ['executions submitted', String(EXECUTIONS)],
    ['accepted by the API', `${accepted.length} (POST retries ${result.postRetries}, answered by idempotency key ${result.replayedByIdempotencyKey})`],
    ['never accepted', String(unsubmitted.length)],
    ...Object.entries(terminal)
      .sort()
      .map(([st, n]): [string, string] => [
        `  ${st}`,
        `${n}${failureCodes[st] ? ` (${Object.entries(failureCodes[st]!).map(([c, k]) => `${c} ×${k}`).join(', ')})` : ''}`,
      ]),
    ['PRs wanted / requested / accepted', `${result.pullRequests.wanted} / ${result.pullRequests.requested} / ${result.pullRequests.accepted} (retries ${result.pullRequests.retries}, failures ${prFailures.length})`],
    ['PRs on github-local', String(ghPulls.length)],
    ['failed runs (all inputs are valid)', String(failedRuns.length)],
    ['lost runs', `${lostTotal} (not settled ${notSettledAtDrainEnd.length}, missing in DB ${missingInDb.length})`],
    ['duplicated effects', `${dupTotal} (executions ${dupExec.length}, PRs per head ${dupPulls.length}, events ${dupEvents.length}, extra executions ${extraExecutions.length})`],
    ['leaked checkpoint refs (not counted as duplicates)', String(leakedRefs.length)],
    ['public events read / missing', `${eventsRead} / ${missingEvents.length}`],
    ['kills', `${kills.length}: ${Object.entries(killsPer).map(([s, n]) => `${s} ${n}`).join(', ')}`],
    ['recovery', `redelivered attempts ${redeliveries}, dead letters ${deadLetters}, attempts ${JSON.stringify(outcomes)}, fenced ${JSON.stringify(fencedByStep)}`],
    ['retried/failed attempts by cause', Object.keys(retryCauses).length ? Object.entries(retryCauses).map(([k, n]) => `${k} ×${n}`).join(', ') : 'none'],
    ['reconciler re-issues', `${reissues} ${JSON.stringify(reissuesByStep)}, ${reissuedUnclaimed} of them before any claim of the step`],
    ['queue wait p50/max (s)', Object.entries(queueWait).map(([st, q]) => `${st} ${q.p50}/${q.max}`).join(', ')],
    ['time to drain (last submission → all settled)', result.timeToDrainMs === null ? 'not settled' : `${(result.timeToDrainMs / 1000).toFixed(1)} s`],
    ['  (last execution POST → all settled)', result.drainFromLastExecutionSubmissionMs === null ? 'not settled' : `${(result.drainFromLastExecutionSubmissionMs / 1000).toFixed(1)} s`],
    ['settled after first submission', result.settledAfterMs === null ? 'not settled' : `${(result.settledAfterMs / 1000).toFixed(1)} s`],
    ['wall time', `${(result.wallMs / 1000).toFixed(1)} s`],
    [
      'result',
      ok
        ? 'OK: nothing lost, nothing duplicated, nothing failed'
        : `FAILED: ${[
            lostTotal && `${lostTotal} lost`,
            dupTotal && `${dupTotal} duplicated`,
            failedRuns.length && `${failedRuns.length} runs failed`,
            unsubmitted.length && `${unsubmitted.length} never accepted`,
            missingEvents.length && `${missingEvents.length} events missing`,
            killerError && 'killer error',
          ]
            .filter(Boolean)
            .join(', ')}`,
    ],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  process.stdout.write(`\nChaos run ${result.date} at ${commit} (nproc ${cpus}, node ${nodeVersion})\n`);
  for (const [k, v] of rows) process.stdout.write(`${k.padEnd(w)}  ${v}\n`);
  for (const x of notSettledAtDrainEnd) process.stdout.write(`  lost: ${x.id} at drain end ${x.state}, now ${x.finalState}${x.step ? `/${x.step}` : ''}\n`);
  for (const x of missingInDb) process.stdout.write(`  lost: ${x} accepted but not in the database\n`);
  for (const x of dupExec) process.stdout.write(`  duplicated: ${x.id}: ${x.what.join(', ')}\n`);
  for (const x of dupPulls) process.stdout.write(`  duplicated PRs: ${x.head}: #${x.numbers.join(', #')}\n`);
  for (const x of dupEvents) process.stdout.write(`  duplicated events: ${x.executionId} → ${x.to}: ${x.published} published, ${x.history} in history (${x.msgIds.join(', ')})\n`);
  for (const x of extraExecutions) process.stdout.write(`  duplicated execution: ${x.id} (${x.state}) not returned to any submission\n`);
  for (const x of missingEvents) process.stdout.write(`  missing events: ${x.executionId} → ${x.to}: ${x.published} published, ${x.history} in history\n`);
  for (const x of unsubmitted) process.stdout.write(`  never accepted: #${x.n}: ${x.error}\n`);
  for (const x of prFailures) process.stdout.write(`  PR request failed: ${x.id}: ${x.error}\n`);
  for (const x of leakedRefs) process.stdout.write(`  leaked ref: ${x.id} (${x.state}): ${x.refs.join(', ')}\n`);
  for (const x of changedAfterDrain) process.stdout.write(`  changed after drain: ${x.id}: ${x.atDrainEnd} → ${x.final}\n`);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  return ok ? 0 : 1;
}

let code = 1;
try {
  code = await main();
} catch (err) {
  log(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  if (env) log(`environment dir ${env.dir}`);
  code = 2;
} finally {
  await cleanup();
}
process.exit(code);
