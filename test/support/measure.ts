import { readFileSync } from 'node:fs';
import { type TestEnvironment } from './environment.js';
import { createExpressRemediation, sql, waitFor } from './flows.js';

/**
 * Measurement helpers shared by the benchmark scripts that drive a whole stack
 * (scripts/chaos.ts, scripts/bench-throughput.ts): remediations set up before the measurement,
 * per-step timings read back from `history` / `step_attempts` / `outbox`, CPU time per process
 * from /proc.
 */

/**
 * Creates `n` express remediations (one bare remote each, createExpressRemediation) and waits for
 * their plans.
 * @throws Error naming the remediations whose plan did not reach `plan_generated` in `timeoutMs`.
 */
export async function createPlannedRemediations(e: TestEnvironment, n: number, timeoutMs = 180_000) {
  const rems: Array<Awaited<ReturnType<typeof createExpressRemediation>>> = [];
  for (let i = 0; i < n; i++) rems.push(await createExpressRemediation(e));
  const plans = await Promise.all(rems.map((r) => waitFor(e, `/v1/remediations/${r.remediationId}`, (b) => b.state !== 'planner_running', timeoutMs)));
  const bad = plans.filter((p) => p.state !== 'plan_generated');
  if (bad.length) throw new Error(`plans not generated: ${JSON.stringify(bad.map((p) => [p.id, p.state]))}`);
  return rems;
}

/** Percentiles of a sample (nearest rank), in the sample's unit; null for an empty sample. */
export function percentiles(values: readonly number[], ps: readonly number[] = [50, 95, 99]): Record<string, number> | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const out: Record<string, number> = {};
  for (const p of ps) out[`p${p}`] = sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
  out['max'] = sorted[sorted.length - 1]!;
  out['n'] = sorted.length;
  return out;
}

/** One step of one execution, in ms: waiting for a worker (`queue`) and being worked on (`run`). */
export interface StepTiming {
  executionId: string;
  step: string;
  /** Entry into the step (the transition that set it) → the first claim of the step. */
  queueMs: number;
  /** First claim → the transition out of the step (includes retries and that transition's commit). */
  runMs: number;
  /** Entry → exit. */
  totalMs: number;
  /** Claims of the step (1 = no redelivery). */
  attempts: number;
}

/**
 * Per-step timings of patch executions from the database: for every step an execution entered
 * (`history` rows with a `to_state` and a `step`), the queue wait (entry → first `step_attempts`
 * start) and the run time (first start → the next transition of the execution). Steps that have
 * not been left yet are not returned. `executionIds` limits it to those executions (all when
 * absent). Clock: PostgreSQL rows written with the services' clocks (one machine).
 */
export async function stepTimings(e: TestEnvironment, executionIds?: readonly string[]): Promise<StepTiming[]> {
  const rows = await sql<{ execution_id: string; step: string; queue_ms: number; run_ms: number; total_ms: number; attempts: string }>(
    e,
    `with t as (
       select h.execution_id, h.step, h.at,
              lead(h.at) over (partition by h.execution_id order by h.at, h.id) as left_at
         from history h
        where h.to_state is not null and ($1::text[] is null or h.execution_id = any($1::text[]))),
     a as (
       select execution_id, step, min(started_at) as first_start, count(*) as attempts
         from step_attempts where ($1::text[] is null or execution_id = any($1::text[])) group by 1, 2)
     select t.execution_id, t.step,
            extract(epoch from a.first_start - t.at) * 1000 as queue_ms,
            extract(epoch from t.left_at - a.first_start) * 1000 as run_ms,
            extract(epoch from t.left_at - t.at) * 1000 as total_ms,
            a.attempts
       from t join a using (execution_id, step)
      where t.step is not null and t.left_at is not null`,
    [executionIds ? [...executionIds] : null],
  );
  return rows.map((r) => ({
    executionId: r.execution_id,
    step: r.step,
    queueMs: Number(r.queue_ms),
    runMs: Number(r.run_ms),
    totalMs: Number(r.total_ms),
    attempts: Number(r.attempts),
  }));
}

/** Queue-wait and run-time percentiles per step (ms), from `stepTimings`. */
export function summariseSteps(timings: readonly StepTiming[]): Record<string, { queue: Record<string, number> | null; run: Record<string, number> | null; total: Record<string, number> | null }> {
  const steps = [...new Set(timings.map((t) => t.step))];
  return Object.fromEntries(
    steps.map((s) => {
      const of = timings.filter((t) => t.step === s);
      return [s, { queue: percentiles(of.map((t) => t.queueMs)), run: percentiles(of.map((t) => t.runMs)), total: percentiles(of.map((t) => t.totalMs)) }];
    }),
  );
}

/**
 * Outbox relay delay (ms) of the rows written for `executionIds` (msg ids `<execution>:…`):
 * the row's `created_at` (its transaction's start) → `published_at` (the relay's commit).
 */
export async function relayDelays(e: TestEnvironment, executionIds: readonly string[]): Promise<number[]> {
  const rows = await sql<{ ms: number }>(
    e,
    `select extract(epoch from published_at - created_at) * 1000 as ms from outbox
      where published_at is not null and split_part(msg_id, ':', 1) = any($1::text[])`,
    [[...executionIds]],
  );
  return rows.map((r) => Number(r.ms));
}

/** CPU time of one process, seconds: its own, and that of its children it has waited for (git, for git-gateway). */
export interface ProcessCpu {
  self: number;
  children: number;
}

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on Linux). */
const USER_HZ = 100;

/**
 * CPU seconds of `pid` from /proc/<pid>/stat (utime + stime; cutime + cstime for waited-for
 * children); null when the process is gone or /proc is missing.
 */
export function processCpu(pid: number): ProcessCpu | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) in parentheses.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const n = (i: number) => Number(f[i - 3]);
    return { self: (n(14) + n(15)) / USER_HZ, children: (n(16) + n(17)) / USER_HZ };
  } catch {
    return null;
  }
}

/** Busy and total CPU seconds of the whole machine since boot (/proc/stat), for the share this benchmark did not cause. */
export function machineCpu(): { busy: number; total: number } | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const total = v.reduce((a, b) => a + b, 0);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    return { busy: (total - idle) / USER_HZ, total: total / USER_HZ };
  } catch {
    return null;
  }
}

/** The 1, 5 and 15 min load averages (/proc/loadavg). */
export function loadAverage(): [number, number, number] | null {
  try {
    const [a, b, c] = readFileSync('/proc/loadavg', 'utf8').split(' ').map(Number);
    return [a!, b!, c!];
  } catch {
    return null;
  }
}
