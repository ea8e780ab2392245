import type { QueryResult } from '@mikro-orm/core';
import type { AgentRunSummary, TargetOutcome } from '@remediation/contracts';
import type { Database } from './database.js';
import { AgentConversationEntity, type AgentConversationRow } from './entities.js';
import { type Lease, LeaseLostError } from './transitions.js';

/**
 * The stored agent conversation of each iteration of a patch execution (`agent_conversations`,
 * keyed by execution and iteration number): a patcher that is lost mid-run is resumed by another
 * from it. Store-then-act: the conversation is saved after every response and batch of tool
 * results, the summary last.
 */

/** A stored conversation as an iteration reads it. */
export interface StoredConversation {
  /** Messages API `messages` so far (`MessageParam[]`). */
  conversation: unknown[];
  /** Token and cost counters so far (the agent's `AgentUsage`). */
  usage: Record<string, number>;
  turns: number;
  /** Times a patcher resumed it after another was lost. */
  resumes: number;
  /** Repository-relative paths the agent wrote so far. */
  changedPaths: string[];
  /** Outcomes of the deterministic edits made before the agent started. */
  deterministic: TargetOutcome[];
  /** The run's summary once it ended, else null. */
  result: AgentRunSummary | null;
}

/** The stored conversation of an iteration, or null when the agent has not started it. */
export async function loadConversation(db: Database, executionId: string, iteration: number): Promise<StoredConversation | null> {
  const row = await db.em().findOne(AgentConversationEntity, { executionId, iteration });
  if (!row) return null;
  return {
    conversation: row.conversation,
    usage: row.usage,
    turns: row.turns,
    resumes: row.resumes,
    changedPaths: row.changedPaths,
    deterministic: row.deterministic,
    result: row.result ?? null,
  };
}

/**
 * Starts the stored conversation of an iteration: empty, with the outcomes of the deterministic
 * edits made before the agent (so a resume does not redo them over the agent's edits). Does
 * nothing when it exists.
 * @param usage the agent's zeroed usage counters.
 */
export async function startConversation(
  db: Database,
  input: { executionId: string; iteration: number; deterministic: TargetOutcome[]; usage: Record<string, number> },
): Promise<void> {
  await db
    .em()
    .createQueryBuilder(AgentConversationEntity)
    .insert({
      executionId: input.executionId,
      iteration: input.iteration,
      conversation: [],
      usage: input.usage,
      turns: 0,
      resumes: 0,
      changedPaths: [],
      deterministic: input.deterministic,
      result: null,
      updatedAt: new Date(),
    })
    .onConflict(['executionId', 'iteration'])
    .ignore()
    .execute();
}

/**
 * Updates an iteration's conversation row, fenced by the step's lease when one is given: the
 * write happens only while `executions.lease_owner/lease_attempt` are that lease (a patcher that
 * lost its step to another delivery cannot overwrite the conversation the new owner resumes).
 * @throws LeaseLostError when `lease` is given and no longer held.
 */
async function updateConversation(db: Database, executionId: string, iteration: number, set: string, params: unknown[], lease: Lease | null): Promise<void> {
  const fence = lease ? ' and exists (select 1 from executions e where e.id = ? and e.lease_owner = ? and e.lease_attempt = ?)' : '';
  const updated = await db
    .em()
    .getConnection()
    .execute<QueryResult>(`update agent_conversations set ${set}, updated_at = now() where execution_id = ? and iteration = ?${fence}`, [
      ...params,
      executionId,
      iteration,
      ...(lease ? [executionId, lease.owner, lease.attempt] : []),
    ], 'run');
  if (lease && updated.affectedRows === 0) throw new LeaseLostError(executionId, lease);
}

/**
 * Counts a resume of an iteration's conversation by another delivery.
 * @param lease the step's lease (see {@link updateConversation}); null for an unfenced write.
 * @throws LeaseLostError when the lease is no longer held.
 */
export async function markConversationResumed(db: Database, executionId: string, iteration: number, lease: Lease | null = null): Promise<void> {
  await updateConversation(db, executionId, iteration, 'resumes = resumes + 1', [], lease);
}

/**
 * Saves an iteration's conversation so far (after each response and batch of tool results).
 * @param lease the step's lease (see {@link updateConversation}); null for an unfenced write.
 * @throws LeaseLostError when the lease is no longer held.
 */
export async function saveConversation(
  db: Database,
  executionId: string,
  iteration: number,
  progress: { conversation: unknown[]; usage: Record<string, number>; turns: number; changedPaths: string[] },
  lease: Lease | null = null,
): Promise<void> {
  await updateConversation(
    db,
    executionId,
    iteration,
    'conversation = ?::jsonb, usage = ?::jsonb, turns = ?, changed_paths = ?::jsonb',
    [JSON.stringify(progress.conversation), JSON.stringify(progress.usage), progress.turns, JSON.stringify(progress.changedPaths)],
    lease,
  );
}

/**
 * Stores the summary of an iteration's finished agent run.
 * @param lease the step's lease (see {@link updateConversation}); null for an unfenced write.
 * @throws LeaseLostError when the lease is no longer held.
 */
export async function finishConversation(db: Database, executionId: string, iteration: number, summary: AgentRunSummary, lease: Lease | null = null): Promise<void> {
  await updateConversation(db, executionId, iteration, 'result = ?::jsonb', [JSON.stringify(summary)], lease);
}

/** Every stored conversation of an execution (one per iteration the agent ran in), oldest first. */
export async function listConversations(db: Database, executionId: string): Promise<AgentConversationRow[]> {
  return db.em().find(AgentConversationEntity, { executionId }, { orderBy: { iteration: 'asc' } });
}
