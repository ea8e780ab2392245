import type { CommandKind, ExecutionState, Step } from '@remediation/contracts';
import type { Database } from './database.js';
import { DeadLetterEntity, StepAttemptEntity } from './entities.js';
import type { Lease } from './transitions.js';

/** A claimed step attempt. */
export interface ClaimedStep {
  lease: Lease;
  /** Id of the `step_attempts` row. */
  attemptId: number;
  /** The state the execution was in when claimed (one of the command's states). */
  state: ExecutionState;
  /** The execution's tenant (the token of its public subjects, `remediation.evt.v1.<tenant>.…`). */
  tenant: string;
}

/**
 * Claims `step` of an execution for this delivery: takes the lease (owner = worker, attempt + 1)
 * and records a step attempt, in one statement pair. Whoever claims last holds the lease, which is
 * right because JetStream redelivers only after the previous holder's `ack_wait` expired.
 *
 * @returns null when the execution is not in one of `states` at `step` (the step already happened or the
 *   run was cancelled: the caller acks without effect).
 */
export async function claimStep(
  db: Database,
  claim: { executionId: string; states: readonly ExecutionState[]; step: Step; command: CommandKind; worker: string; deliveryCount: number },
): Promise<ClaimedStep | null> {
  return db.em().transactional(async (tx) => {
    const rows = await tx.execute<Array<{ lease_attempt: number; state: ExecutionState; tenant_id: string }>>(
      `update executions set lease_owner = ?, lease_attempt = lease_attempt + 1, heartbeat_at = now()
       where id = ? and state = any(?::text[]) and step = ? returning lease_attempt, state, tenant_id`,
      [claim.worker, claim.executionId, `{${claim.states.join(',')}}`, claim.step],
    );
    const row = rows[0];
    if (!row) return null;
    // Earlier attempts at this step still open lost their lease to this one.
    await tx.execute(
      `update step_attempts set finished_at = now(), outcome = 'fenced', error_code = 'LEASE_LOST',
         error_message = 'another delivery claimed the step' where execution_id = ? and step = ? and finished_at is null`,
      [claim.executionId, claim.step],
    );
    const id = await tx.insert(StepAttemptEntity, {
      executionId: claim.executionId,
      step: claim.step,
      command: claim.command,
      leaseAttempt: row.lease_attempt,
      deliveryCount: claim.deliveryCount,
      worker: claim.worker,
      startedAt: new Date(),
      heartbeatAt: new Date(),
      finishedAt: null,
      outcome: null,
      errorCode: null,
      errorMessage: null,
    });
    return { lease: { owner: claim.worker, attempt: row.lease_attempt }, attemptId: Number(id), state: row.state, tenant: row.tenant_id };
  });
}

/**
 * Records a heartbeat of a claimed step: refreshes the attempt's and the execution's
 * `heartbeat_at` (only while the lease is still ours) and, with `details`, appends a history row
 * (`event`, e.g. `heartbeat`, with `{ received, total }` or `{ tool }`).
 * @returns `'ok'`, `'lost'` (another worker holds the lease, or finished the step) or
 *   `'cancelled'` (a user cancelled the execution).
 */
export async function heartbeatStep(
  db: Database,
  claimed: ClaimedStep,
  executionId: string,
  history?: { event: string; details: Record<string, unknown> },
): Promise<'ok' | 'lost' | 'cancelled'> {
  return db.em().transactional(async (tx) => {
    const rows = await tx.execute<Array<{ state: string; lease_owner: string | null; lease_attempt: number }>>(
      'select state, lease_owner, lease_attempt from executions where id = ?',
      [executionId],
    );
    const row = rows[0];
    if (!row || row.state === 'planner_cancelled' || row.state === 'patch_cancelled') return 'cancelled';
    if (row.state !== claimed.state) return 'lost';
    if (row.lease_owner !== claimed.lease.owner || row.lease_attempt !== claimed.lease.attempt) return 'lost';
    await tx.execute('update executions set heartbeat_at = now() where id = ?', [executionId]);
    await tx.execute('update step_attempts set heartbeat_at = now() where id = ?', [claimed.attemptId]);
    if (history) {
      await tx.execute(
        'insert into history (execution_id, event, worker, details, at) values (?, ?, ?, ?::jsonb, now())',
        [executionId, history.event, claimed.lease.owner, JSON.stringify({ attempt: claimed.lease.attempt, ...history.details })],
      );
    }
    return 'ok';
  });
}

/** Closes a step attempt with its outcome (and error). Safe to call twice. */
export async function finishStep(
  db: Database,
  attemptId: number,
  outcome: 'succeeded' | 'retrying' | 'failed' | 'fenced' | 'cancelled' | 'abandoned',
  error?: { code: string; message: string },
): Promise<void> {
  await db
    .em()
    .execute(
      `update step_attempts set finished_at = coalesce(finished_at, now()), outcome = coalesce(outcome, ?),
         error_code = coalesce(error_code, ?), error_message = coalesce(error_message, ?) where id = ?`,
      [outcome, error?.code ?? null, error?.message ?? null, attemptId],
    );
}

/**
 * Keeps a message that was given up on (deliveries exhausted, or unparseable). Idempotent per
 * `(stream, streamSeq)`.
 */
export async function recordDeadLetter(
  db: Database,
  letter: {
    stream: string;
    streamSeq: number | null;
    subject: string;
    messageId: string | null;
    payload: Record<string, unknown> | null;
    deliveries: number;
    executionId: string | null;
    error: { code: string; message: string };
  },
): Promise<void> {
  await db.em().execute(
    `insert into dead_letters (stream, stream_seq, subject, message_id, payload, deliveries, execution_id, error_code, error_message, tenant_id)
     values (?, ?, ?, ?, ?::jsonb, ?, ?, ?, ?, (select tenant_id from executions where id = ?)) on conflict (stream, stream_seq) do nothing`,
    [
      letter.stream,
      letter.streamSeq,
      letter.subject,
      letter.messageId,
      letter.payload === null ? null : JSON.stringify(letter.payload),
      letter.deliveries,
      letter.executionId,
      letter.error.code,
      letter.error.message,
      letter.executionId,
    ],
  );
}

/** Step attempts of an execution, oldest first. */
export async function listStepAttempts(db: Database, executionId: string) {
  return db.em().find(StepAttemptEntity, { executionId }, { orderBy: { id: 'asc' } });
}

/** Dead letters, newest first (optionally of one execution). */
export async function listDeadLetters(db: Database, executionId?: string) {
  return db.em().find(DeadLetterEntity, executionId ? { executionId } : {}, { orderBy: { id: 'desc' }, limit: 500 });
}
