import type {
  AgentTurnSummary,
  AttemptsResponse,
  ConversationsResponse,
  ExecutionListQuery,
  ExecutionListResponse,
  ExecutionState,
  RemediationListQuery,
  RemediationListResponse,
} from '@remediation/contracts';
import { InvalidInputError, NotFoundError } from '@remediation/errors';
import type { Database } from './database.js';
import { AgentConversationEntity, ExecutionEntity, HistoryEntity, StepAttemptEntity } from './entities.js';
import { executionSummary, iso, stepAttemptBody } from './views.js';

/**
 * Lists of the operator console and other clients (issue 16): the tenant's executions and
 * remediations, newest first, paged by keyset (`before` = the previous page's `nextCursor`), an
 * execution's step attempts with their heartbeats, and its agent conversations summarised.
 */

/** A page position: the last item's time (ISO 8601) and id, as base64url JSON. */
function encodeCursor(at: Date, id: string): string {
  return Buffer.from(JSON.stringify([new Date(at).toISOString(), id])).toString('base64url');
}

/** @throws InvalidInputError `CURSOR_INVALID` when `cursor` is not a `nextCursor` this API gave. */
function decodeCursor(cursor: string): { at: Date; id: string } {
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (typeof at === 'string' && typeof id === 'string' && !Number.isNaN(Date.parse(at))) return { at: new Date(at), id };
  } catch {
    // reported below
  }
  throw new InvalidInputError('CURSOR_INVALID', 'before must be the nextCursor of a previous page', { details: { field: 'before' } });
}

/**
 * `GET /v1/executions`: the tenant's executions (plan and patch), newest first (`startedAt`, then
 * id), filtered by `state`, `kind` and `remediationId`, at most `limit`.
 * @throws InvalidInputError `CURSOR_INVALID` (a bad `before`)
 */
export async function listExecutions(db: Database, tenant: string, query: ExecutionListQuery): Promise<ExecutionListResponse> {
  const after = query.before ? decodeCursor(query.before) : null;
  const rows = await db.em().find(
    ExecutionEntity,
    {
      tenantId: tenant,
      ...(query.state ? { state: query.state } : {}),
      ...(query.kind ? { kind: query.kind } : {}),
      ...(query.remediationId ? { remediationId: query.remediationId } : {}),
      ...(after ? { $or: [{ startedAt: { $lt: after.at } }, { startedAt: after.at, id: { $lt: after.id } }] } : {}),
    },
    { orderBy: { startedAt: 'desc', id: 'desc' }, limit: query.limit + 1 },
  );
  const page = rows.slice(0, query.limit);
  const last = page.at(-1);
  return {
    executions: page.map((row) => ({ ...executionSummary(row), remediationId: row.remediationId, tier: row.tier ?? null })),
    nextCursor: rows.length > query.limit && last ? encodeCursor(last.startedAt, last.id) : null,
  };
}

/**
 * `GET /v1/remediations`: the tenant's remediations, newest first (`createdAt`, then id), each with
 * its repository, its latest plan execution's state and its number of patch executions; only
 * those whose latest plan is in `state` when given; at most `limit`.
 * @throws InvalidInputError `CURSOR_INVALID` (a bad `before`)
 */
export async function listRemediations(db: Database, tenant: string, query: RemediationListQuery): Promise<RemediationListResponse> {
  const after = query.before ? decodeCursor(query.before) : null;
  const rows = await db.em().execute<
    Array<{ id: string; codebase: { repository: string }; created_at: Date; plan_id: string; plan_state: ExecutionState; patches: string }>
  >(
    `select r.id, r.codebase, r.created_at, p.id as plan_id, p.state as plan_state,
            (select count(*) from executions x where x.remediation_id = r.id and x.kind = 'patch') as patches
       from remediations r
       join lateral (select id, state from executions e where e.remediation_id = r.id and e.kind = 'plan'
                     order by e.started_at desc, e.id desc limit 1) p on true
      where r.tenant_id = ? and (?::text is null or p.state = ?)
        and (?::timestamptz is null or r.created_at < ? or (r.created_at = ? and r.id < ?))
      order by r.created_at desc, r.id desc limit ?`,
    [tenant, query.state ?? null, query.state ?? null, after?.at ?? null, after?.at ?? null, after?.at ?? null, after?.id ?? null, query.limit + 1],
  );
  const page = rows.slice(0, query.limit);
  const last = page.at(-1);
  return {
    remediations: page.map((r) => ({
      id: r.id,
      repository: r.codebase.repository,
      state: r.plan_state,
      planExecutionId: r.plan_id,
      patchExecutions: Number(r.patches),
      createdAt: iso(r.created_at)!,
    })),
    nextCursor: rows.length > query.limit && last ? encodeCursor(last.created_at, last.id) : null,
  };
}

/**
 * `GET /v1/executions/:id/attempts`: the step attempts in order, each with the heartbeats its
 * worker recorded with details while it held that lease (history rows of the attempt's worker
 * whose `details.attempt` is the attempt's lease attempt, see `heartbeatStep`).
 * @param tenant another tenant's execution is not found.
 * @throws NotFoundError
 */
export async function getStepAttempts(db: Database, executionId: string, tenant: string): Promise<AttemptsResponse> {
  const em = db.em();
  const exec = await em.findOne(ExecutionEntity, { id: executionId, tenantId: tenant });
  if (!exec) throw new NotFoundError('execution', executionId);
  const [attempts, beats] = await Promise.all([
    em.find(StepAttemptEntity, { executionId }, { orderBy: { id: 'asc' } }),
    // Heartbeats carry the lease attempt in their details; transitions do not.
    em.find(HistoryEntity, { executionId, fromState: null, toState: null }, { orderBy: { id: 'asc' } }),
  ]);
  return {
    executionId,
    state: exec.state,
    attempts: attempts.map((a) => ({
      ...stepAttemptBody(a),
      heartbeats: beats
        .filter((h) => h.worker === a.worker && h.details?.['attempt'] === a.leaseAttempt)
        .map((h) => ({ at: iso(h.at)!, event: h.event, details: h.details ?? {} })),
    })),
  };
}

/** Longest text of one model answer in a conversation summary, in characters. */
const SUMMARY_TEXT_MAX = 2000;

type Block = { type?: string; text?: string; name?: string; id?: string; input?: Record<string, unknown>; tool_use_id?: string; is_error?: boolean };

/**
 * Summarises a stored Messages API conversation (`MessageParam[]`): each assistant message becomes a
 * turn with its text and its tool calls (name, the `path` / `target` / `name` its input gave, and
 * whether the matching `tool_result` was an error). User messages (the prompt, tool results) are
 * not repeated.
 */
export function summariseConversation(conversation: readonly unknown[]): AgentTurnSummary[] {
  const errors = new Map<string, boolean>();
  for (const m of conversation as Array<{ role?: string; content?: unknown }>) {
    if (m.role !== 'user' || !Array.isArray(m.content)) continue;
    for (const b of m.content as Block[]) if (b.type === 'tool_result' && b.tool_use_id) errors.set(b.tool_use_id, b.is_error === true);
  }
  const turns: AgentTurnSummary[] = [];
  for (const m of conversation as Array<{ role?: string; content?: unknown }>) {
    if (m.role !== 'assistant') continue;
    const blocks: Block[] = typeof m.content === 'string' ? [{ type: 'text', text: m.content }] : Array.isArray(m.content) ? (m.content as Block[]) : [];
    const text = blocks
      .filter((b) => b.type === 'text' && b.text)
      .map((b) => b.text!)
      .join('\n')
      .trim();
    turns.push({
      turn: turns.length + 1,
      text: text ? (text.length > SUMMARY_TEXT_MAX ? `${text.slice(0, SUMMARY_TEXT_MAX)}…` : text) : null,
      toolCalls: blocks
        .filter((b) => b.type === 'tool_use')
        .map((b) => {
          const subject = b.input?.['path'] ?? b.input?.['target'] ?? b.input?.['name'];
          return { name: b.name ?? '?', subject: typeof subject === 'string' ? subject : null, isError: b.id && errors.has(b.id) ? errors.get(b.id)! : null };
        }),
    });
  }
  return turns;
}

/**
 * `GET /v1/executions/:id/conversations`: the agent's conversations of an execution, one per
 * iteration, summarised ({@link summariseConversation}).
 * @param tenant another tenant's execution is not found.
 * @throws NotFoundError
 */
export async function getConversationSummaries(db: Database, executionId: string, tenant: string): Promise<ConversationsResponse> {
  const em = db.em();
  const exec = await em.findOne(ExecutionEntity, { id: executionId, tenantId: tenant });
  if (!exec) throw new NotFoundError('execution', executionId);
  const rows = await em.find(AgentConversationEntity, { executionId }, { orderBy: { iteration: 'asc' } });
  return {
    executionId,
    conversations: rows.map((c) => ({
      iteration: c.iteration,
      turns: summariseConversation(c.conversation),
      resumes: c.resumes,
      result: c.result ?? null,
      updatedAt: iso(c.updatedAt)!,
    })),
  };
}
