import type { JetStreamManager } from '@nats-io/jetstream';
import { ACTIVE_STATES, type CommandPayload, type Step, commandForStep, commandSubject } from '@remediation/contracts';
import { InvalidTransitionError, describeError } from '@remediation/errors';
import { type Database, applyTransition } from '@remediation/persistence';
import { type Registry, messagingMetrics } from '@remediation/metrics';
import type { Logger } from 'pino';

/** Default staleness thresholds per step, in ms: how long without a heartbeat before re-issue. */
export const DEFAULT_STALE_AFTER_MS: Record<Step, number> = {
  planning: 10 * 60_000,
  workspace: 30 * 60_000,
  editing: 30 * 60_000,
  committing: 5 * 60_000,
  pushing: 10 * 60_000,
  opening: 5 * 60_000,
  updating: 5 * 60_000,
};

/** Reconciler settings. */
export interface ReconcilerOptions {
  db: Database;
  logger: Logger;
  worker: string;
  /** Per-step thresholds (ms); missing steps use DEFAULT_STALE_AFTER_MS. */
  staleAfterMs?: Partial<Record<Step, number>>;
  /** Re-issues of one step before the run is failed (default 3). */
  maxReissues?: number;
  /** Sweep interval, ms (default 15 000). */
  intervalMs?: number;
  /**
   * Whether the command is still in the work queue (queued behind others, or in flight): such a
   * run is waiting, not lost, and is not re-issued. Returns the message's age in ms, or null when
   * the queue has no message for it. Without it every stale run is re-issued.
   */
  queuedFor?: (subject: string) => Promise<number | null>;
  /** Where re-issues and stale failures are counted (`remediation_reconciler_*_total{step}`). */
  metrics?: Registry;
}

/** Result of one sweep. */
export interface SweepResult {
  reissued: string[];
  failed: string[];
  /** False when another replica held the sweep lock. */
  ran: boolean;
}

const ADVISORY_LOCK = 727002;

/** A command queued longer than this many staleness thresholds is treated as lost. */
const QUEUED_LIMIT_FACTOR = 10;

/**
 * One reconciler sweep (docs/architecture.md: "A reconciler re-issues work for runs that are not
 * terminal and whose heartbeat has gone stale"). PostgreSQL is the source of truth: a run
 * whose command is still in the work queue is waiting, not lost (its heartbeat is refreshed); a run
 * whose command was lost (NATS lost its store, a relay crashed, deliveries ran out unseen) is
 * found by its stale `heartbeat_at` and its step's command (the one last issued on its subject) is
 * written to the outbox again; after `maxReissues` the run fails with `STALE_STEP` and the reason.
 * Safe with several replicas:
 * a transaction-scoped advisory lock lets one sweep run at a time, and re-issued commands are
 * fenced like any delivery (the last claimer holds the lease).
 */
export async function reconcileOnce(o: ReconcilerOptions): Promise<SweepResult> {
  const thresholds = { ...DEFAULT_STALE_AFTER_MS, ...(o.staleAfterMs ?? {}) };
  const maxReissues = o.maxReissues ?? 3;
  const toFail: Array<{ id: string; step: string; reissues: number; staleMs: number }> = [];
  const reissued: Array<{ id: string; step: Step }> = [];
  const ran = await o.db.em().transactional(async (tx) => {
    const lock = await tx.execute<Array<{ ok: boolean }>>('select pg_try_advisory_xact_lock(?) as ok', [ADVISORY_LOCK]);
    if (!lock[0]?.ok) return false;
    const cases = Object.entries(thresholds)
      .map(([step, ms]) => `when '${step}' then interval '${Math.max(0, Math.floor(ms))} milliseconds'`)
      .join(' ');
    const rows = await tx.execute<
      Array<{ id: string; remediation_id: string; step: Step; version: number; reissue_count: number; pull_request_id: string | null; stale_ms: number }>
    >(
      `select id, remediation_id, step, version, reissue_count, pull_request_id,
              (extract(epoch from now() - heartbeat_at) * 1000)::bigint as stale_ms
         from executions
        where state in (${[...ACTIVE_STATES].map((st) => `'${st}'`).join(', ')}) and step is not null
          and heartbeat_at < now() - (case step ${cases} else interval '1 hour' end)
        order by heartbeat_at
        limit 100
        for update skip locked`,
    );
    for (const r of rows) {
      const kind = commandForStep(r.step);
      const subject = commandSubject(kind, r.id);
      const queuedMs = o.queuedFor ? await o.queuedFor(subject).catch(() => null) : null;
      // Queued (waiting behind a backlog) is not lost: leave it, unless it has sat far longer than
      // any backlog could explain (e.g. its deliveries ran out unseen), then re-issue as lost.
      if (queuedMs !== null && queuedMs < (thresholds[r.step] ?? 3_600_000) * QUEUED_LIMIT_FACTOR) {
        await tx.execute('update executions set heartbeat_at = now() where id = ?', [r.id]);
        continue;
      }
      if (r.reissue_count >= maxReissues) {
        toFail.push({ id: r.id, step: r.step, reissues: r.reissue_count, staleMs: Number(r.stale_ms) });
        continue;
      }
      // The same command again: the one last issued for this step (its instruction, e.g. the
      // version `branch.push` delivers, was decided by the state machine), else one built from the row.
      const [issued] = await tx.execute<Array<{ payload: CommandPayload }>>('select payload from outbox where subject = ? order by id desc limit 1', [subject]);
      const payload: CommandPayload = issued
        ? { ...issued.payload, issuedAt: new Date().toISOString() }
        : {
            kind,
            remediationId: r.remediation_id,
            executionId: r.id,
            issuedAt: new Date().toISOString(),
            ...(r.pull_request_id && (kind === 'branch.push' || kind === 'pull_request.open' || kind === 'pull_request.update') ? { pullRequestId: r.pull_request_id } : {}),
          };
      const n = r.reissue_count + 1;
      await tx.execute('insert into outbox (msg_id, subject, payload) values (?, ?, ?::jsonb)', [
        `${r.id}:${r.version}:reissue${n}`,
        subject,
        JSON.stringify(payload),
      ]);
      await tx.execute('update executions set reissue_count = ?, heartbeat_at = now() where id = ?', [n, r.id]);
      await tx.execute(
        `insert into history (execution_id, event, step, worker, details, at) values (?, 'reconciler.reissued', ?, ?, ?::jsonb, now())`,
        [r.id, r.step, o.worker, JSON.stringify({ command: kind, reissue: n, staleMs: Number(r.stale_ms) })],
      );
      reissued.push({ id: r.id, step: r.step });
    }
    return true;
  });
  const failed: string[] = [];
  for (const f of toFail) {
    try {
      await applyTransition(o.db, {
        executionId: f.id,
        event: {
          type: 'step.abandoned',
          error: {
            code: 'STALE_STEP',
            message: `step ${f.step} showed no sign of life for ${Math.round(f.staleMs / 1000)} s after ${f.reissues} re-issue(s)`,
          },
        },
        worker: o.worker,
      });
      failed.push(f.id);
      if (o.metrics) messagingMetrics(o.metrics).staleFailures.inc({ step: f.step });
    } catch (err) {
      if (!(err instanceof InvalidTransitionError)) throw err;
    }
  }
  if (o.metrics) for (const r of reissued) messagingMetrics(o.metrics).reissues.inc({ step: r.step });
  const reissuedIds = reissued.map((r) => r.id);
  if (reissuedIds.length || failed.length) o.logger.warn({ reissued: reissuedIds, failed }, 'reconciler acted on stale runs');
  return { reissued: reissuedIds, failed, ran };
}

/** Runs `reconcileOnce` every `intervalMs` until stopped. Errors are logged, never fatal. */
export function startReconciler(o: ReconcilerOptions): { stop(): Promise<void> } {
  let stopped = false;
  let current: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    if (stopped) return;
    current = reconcileOnce(o).catch((err) => o.logger.warn({ err: describeError(err) }, 'reconciler sweep failed'));
  }, o.intervalMs ?? 15_000);
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await current;
    },
  };
}

/**
 * `queuedFor` for the reconciler, backed by the work-queue stream: the age (ms) of the last
 * message on the command's subject (one subject per execution and command), or null when the
 * queue holds none (acked, terminated, or lost with the server's store).
 */
export function queuedCommandAge(jsm: JetStreamManager, stream: string): (subject: string) => Promise<number | null> {
  return async (subject) => {
    try {
      const m = await jsm.streams.getMessage(stream, { last_by_subj: subject });
      return m ? Math.max(0, Date.now() - m.time.getTime()) : null;
    } catch (err) {
      if (/no message found|not found/i.test(String((err as Error)?.message ?? err))) return null;
      throw err;
    }
  };
}
