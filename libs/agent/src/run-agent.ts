import type Anthropic from '@anthropic-ai/sdk';
import type {
  ContentBlock,
  ContentBlockParam,
  Message,
  MessageParam,
  StopReason,
  TextBlockParam,
  ToolChoice,
  ToolResultBlockParam,
  ToolUseBlockParam,
} from '@anthropic-ai/sdk/resources/messages';
import { addUsage, emptyUsage, estimateTokens, planNextRequest, type AgentBudget, type AgentUsage } from './budget.js';
import { AgentCancelledError } from './errors.js';
import { type Registry, agentMetrics } from '@remediation/metrics';
import { createMessage, type ModelRetryEvent, type ModelRetryOptions } from './model-call.js';
import { executeTool, toApiTool, type AgentTool } from './tool.js';

/**
 * How a run ended:
 * - `completed`: the model ended its turn without calling a tool (`end_turn`/`stop_sequence`).
 * - `turn_limit`: `maxTurns` responses were used and the model still wanted tools.
 * - `budget_exhausted`: a limit of {@link AgentBudget} left no room for another request.
 * - `cancelled`: `signal` aborted.
 * - `refused`: the model declined (`stop_reason: refusal`).
 */
export type AgentOutcome = 'completed' | 'turn_limit' | 'budget_exhausted' | 'cancelled' | 'refused';

/** One executed tool call, given to `onToolCall`. */
export interface ToolCallEvent {
  /** 1-based number of the response that asked for it (counted across resumes). */
  turn: number;
  toolUseId: string;
  name: string;
  input: unknown;
  isError: boolean;
  /** The tool_result text, cut to 500 characters (for logs and heartbeats). */
  preview: string;
  durationMs: number;
  /** True when the call is re-executed on resume (it had no result in the stored conversation). */
  resumed: boolean;
}

/**
 * A persistable state of the run, given to `onTurn`. Store `conversation` and `usage`; pass
 * them back as `conversation` and `usage` to resume.
 * - `phase: 'response'`: the model's answer was just appended (it may end with tool_use
 *   blocks whose results are not there yet; a resume re-executes them).
 * - `phase: 'tool_results'`: the tool results of that answer were appended.
 */
export interface AgentCheckpoint {
  phase: 'response' | 'tool_results';
  conversation: MessageParam[];
  turns: number;
  usage: AgentUsage;
}

/** Options of {@link runAgent}. */
export interface RunAgentOptions {
  /** A configured SDK client (`new Anthropic({ apiKey, baseURL, maxRetries })`). */
  client: Anthropic;
  /** Model id, e.g. `claude-sonnet-4-5`. */
  model: string;
  /** `max_tokens` of each request (clamped by the budget). */
  maxTokens: number;
  /** Most model responses in the conversation, counting those of earlier runs when resuming. */
  maxTurns: number;
  budget: AgentBudget;
  /** System prompt text (from `prompts/system.md`, see `renderPrompt`). Sent with a cache breakpoint. */
  system: string;
  /** Start: the first user message(s). Exactly one of `initialMessages` / `conversation`. */
  initialMessages?: MessageParam[];
  /** Resume: a stored `AgentCheckpoint.conversation`. */
  conversation?: MessageParam[];
  /** Usage already spent by earlier runs of this conversation (from the checkpoint). */
  usage?: AgentUsage;
  tools: AgentTool[];
  /** Optional `tool_choice` for every request ("Forcing tool use"); default the API's `auto`. */
  toolChoice?: ToolChoice;
  /** Awaited after each tool call: heartbeat and checkpoint hook. Throwing stops the run. */
  onToolCall?: (event: ToolCallEvent) => void | Promise<void>;
  /** Awaited after each response and after each batch of tool results: persist the conversation. */
  onTurn?: (checkpoint: AgentCheckpoint) => void | Promise<void>;
  /** Awaited before each of our API retries (overloaded / mid-stream errors). */
  onRetry?: (event: ModelRetryEvent) => void | Promise<void>;
  signal?: AbortSignal;
  /** Stream responses (default true: long `max_tokens` need it, see the SDK's "Long requests"). */
  stream?: boolean;
  retry?: ModelRetryOptions;
  /** Longest tool_result text sent back; longer ones are cut with a note. Default 50 000 characters. */
  maxToolResultChars?: number;
  /** Where turns, tool calls, tokens and cost are counted (`remediation_agent_*_total`). */
  metrics?: Registry;
}

/** Result of {@link runAgent}. */
export interface AgentRunResult {
  outcome: AgentOutcome;
  /** Why the run stopped, in words (budget line, turn limit, stop reason). */
  detail: string;
  /** `stop_reason` of the last response, if any. */
  stopReason: StopReason | null;
  /** Model responses in the conversation (across resumes). */
  turns: number;
  /** Tool calls executed by this call of runAgent (including re-executed ones). */
  toolCalls: number;
  /** Cumulative usage (the given `usage` plus this run's). */
  usage: AgentUsage;
  /** The whole conversation: store it to resume or to audit. */
  conversation: MessageParam[];
  /** Text of the last model response (its text blocks joined), '' if none. */
  finalText: string;
}

/** The assistant message to keep in the conversation: the response's blocks as request params. */
function toParam(content: ContentBlock[]): ContentBlockParam[] {
  const out: ContentBlockParam[] = [];
  for (const block of content) {
    if (block.type === 'text') {
      if (block.text !== '') out.push({ type: 'text', text: block.text });
    } else if (block.type === 'tool_use') {
      out.push({ type: 'tool_use', id: block.id, name: block.name, input: block.input ?? {} });
    } else {
      out.push(block as unknown as ContentBlockParam);
    }
  }
  return out;
}

function blocksOf(message: MessageParam | undefined): ContentBlockParam[] {
  if (!message || typeof message.content === 'string') return [];
  return message.content;
}

function toolUsesOf(message: MessageParam | undefined): ToolUseBlockParam[] {
  return blocksOf(message).filter((b): b is ToolUseBlockParam => b.type === 'tool_use');
}

function textOf(message: MessageParam | undefined): string {
  if (!message) return '';
  if (typeof message.content === 'string') return message.content;
  return blocksOf(message)
    .filter((b): b is TextBlockParam => b.type === 'text')
    .map((b) => b.text)
    .join('\n');
}

/**
 * The agent's tool-use loop ("How to implement tool use", Anthropic tool use guide): send the
 * conversation with the tools; when the answer holds `tool_use` blocks, run each tool (in
 * order, validated by its zod schema, errors returned as `is_error` results) and send the
 * results back in one user message; repeat until the model ends its turn, the turn limit or the
 * budget is reached, or `signal` aborts.
 *
 * Resuming: pass a stored conversation (and its usage). If it ends with an assistant message
 * whose tool_use blocks have no results yet (a crash between the response and its results),
 * those calls are executed first, then the loop continues. A conversation that ends with a
 * final assistant answer (no tool_use) is already complete and returns `completed` without a
 * request.
 *
 * Other stop reasons: `max_tokens` without a tool call asks the model to continue (a user
 * message); a tool call cut by `max_tokens` is not executed (is_error result explaining why);
 * `pause_turn` continues; `refusal` ends with outcome `refused`.
 *
 * @throws AgentApiUnavailableError (AGENT_API_UNAVAILABLE, retryable) when the API stays
 *   unavailable after retries; AgentRequestInvalidError (AGENT_REQUEST_INVALID) when it rejects
 *   the request; AgentAccessDeniedError (AGENT_API_ACCESS_DENIED); whatever `onToolCall` or
 *   `onTurn` throw; Error for invalid options. Persist from `onTurn` to resume after a throw.
 */
export async function runAgent(options: RunAgentOptions): Promise<AgentRunResult> {
  const metrics = options.metrics ? agentMetrics(options.metrics) : null;
  const start = options.conversation ?? options.initialMessages;
  if ((options.conversation === undefined) === (options.initialMessages === undefined)) {
    throw new Error('runAgent: give exactly one of initialMessages (start) or conversation (resume)');
  }
  if (!start || start.length === 0) throw new Error('runAgent: the conversation is empty');
  if (!Number.isInteger(options.maxTurns) || options.maxTurns < 1) throw new Error('runAgent: maxTurns must be a positive integer');
  const names = new Set<string>();
  for (const t of options.tools) {
    if (names.has(t.name)) throw new Error(`runAgent: duplicate tool ${t.name}`);
    names.add(t.name);
  }

  const conversation: MessageParam[] = structuredClone(start);
  const tools = new Map(options.tools.map((t) => [t.name, t]));
  const apiTools = options.tools.map(toApiTool);
  const maxResultChars = options.maxToolResultChars ?? 50_000;
  let usage: AgentUsage = options.usage ? { ...options.usage } : emptyUsage();
  let turns = conversation.filter((m) => m.role === 'assistant').length;
  let toolCalls = 0;
  let stopReason: StopReason | null = null;
  /** Input tokens of the previous request and the conversation length it had. */
  let previousInput = 0;
  let sentLength = 0;

  const result = (outcome: AgentOutcome, detail: string): AgentRunResult => ({
    outcome,
    detail,
    stopReason,
    turns,
    toolCalls,
    usage,
    conversation: structuredClone(conversation),
    finalText: textOf(conversation.findLast((m) => m.role === 'assistant')),
  });
  const checkpoint = async (phase: AgentCheckpoint['phase']): Promise<void> => {
    await options.onTurn?.({ phase, conversation: structuredClone(conversation), turns, usage: { ...usage } });
  };

  /** Runs the tool calls of the last assistant message and appends their results. */
  const runToolCalls = async (uses: ToolUseBlockParam[], truncated: boolean, resumed: boolean): Promise<void> => {
    const results: ToolResultBlockParam[] = [];
    for (const [i, use] of uses.entries()) {
      const started = Date.now();
      let outcome: { content: string; isError: boolean };
      if (options.signal?.aborted) {
        outcome = { isError: true, content: 'not executed: the run was cancelled' };
      } else if (truncated && i === uses.length - 1) {
        outcome = {
          isError: true,
          content: 'not executed: your response reached max_tokens while writing this tool call, so its input may be incomplete. Call it again with a smaller input (e.g. edit_file instead of write_file).',
        };
      } else {
        const tool = tools.get(use.name);
        outcome = tool
          ? await executeTool(tool, use.input, { toolUseId: use.id, ...(options.signal ? { signal: options.signal } : {}) })
          : { isError: true, content: `unknown tool ${use.name}; available tools: ${[...tools.keys()].join(', ')}` };
      }
      let content = outcome.content === '' ? '(no output)' : outcome.content;
      if (content.length > maxResultChars) content = `${content.slice(0, maxResultChars)}\n[output cut at ${maxResultChars} characters]`;
      results.push({ type: 'tool_result', tool_use_id: use.id, content, ...(outcome.isError ? { is_error: true } : {}) });
      if (!options.signal?.aborted) toolCalls++;
      metrics?.toolCalls.inc({ tool: tools.has(use.name) ? use.name : 'unknown', outcome: outcome.isError ? 'error' : 'ok' });
      await options.onToolCall?.({
        turn: turns,
        toolUseId: use.id,
        name: use.name,
        input: use.input,
        isError: outcome.isError,
        preview: content.slice(0, 500),
        durationMs: Date.now() - started,
        resumed,
      });
    }
    conversation.push({ role: 'user', content: results });
    await checkpoint('tool_results');
  };

  // Resume: finish the tool calls of a stored answer, or notice the run already completed.
  const last = conversation.at(-1);
  if (last?.role === 'assistant') {
    const pending = toolUsesOf(last);
    if (pending.length === 0) return result('completed', 'the stored conversation already ends with the final answer');
    await runToolCalls(pending, false, true);
    if (options.signal?.aborted) return result('cancelled', 'cancelled while re-executing tool calls');
  }

  for (;;) {
    if (options.signal?.aborted) return result('cancelled', 'cancelled');
    if (turns >= options.maxTurns) return result('turn_limit', `turn limit of ${options.maxTurns} responses reached`);
    const estimate =
      previousInput > 0
        ? previousInput + estimateTokens(conversation.slice(sentLength))
        : estimateTokens({ system: options.system, tools: apiTools, messages: conversation });
    const plan = planNextRequest(usage, options.budget, estimate, options.maxTokens);
    if ('exhausted' in plan) return result('budget_exhausted', plan.exhausted);

    let message: Message;
    try {
      message = await createMessage(
        options.client,
        {
          model: options.model,
          max_tokens: plan.maxTokens,
          system: [{ type: 'text', text: options.system, cache_control: { type: 'ephemeral' } }],
          messages: conversation,
          ...(apiTools.length ? { tools: apiTools } : {}),
          ...(options.toolChoice ? { tool_choice: options.toolChoice } : {}),
        },
        {
          ...(options.stream !== undefined ? { stream: options.stream } : {}),
          ...(options.signal ? { signal: options.signal } : {}),
          ...(options.retry ? { retry: options.retry } : {}),
          ...(options.onRetry ? { onRetry: options.onRetry } : {}),
        },
      );
    } catch (error) {
      if (error instanceof AgentCancelledError) return result('cancelled', 'cancelled during a model request');
      throw error;
    }
    const before = usage;
    const added = addUsage(usage, message.usage, options.budget.pricing);
    usage = added.total;
    if (metrics) countResponse(metrics, options.model, before, usage);
    previousInput = added.requestInputTokens;
    sentLength = conversation.length;
    turns++;
    stopReason = message.stop_reason;
    const content = toParam(message.content);
    const uses = content.filter((b): b is ToolUseBlockParam => b.type === 'tool_use');

    if (content.length === 0) {
      // Nothing to keep (an empty assistant message is only valid last): finish.
      return result(stopReason === 'refusal' ? 'refused' : 'completed', `model stopped with ${stopReason} and no content`);
    }
    conversation.push({ role: 'assistant', content });
    await checkpoint('response');

    if (uses.length > 0) {
      await runToolCalls(uses, stopReason === 'max_tokens', false);
      continue;
    }
    if (stopReason === 'max_tokens' || stopReason === 'pause_turn') {
      conversation.push({ role: 'user', content: 'Your reply was cut off. Continue exactly where you left off.' });
      continue;
    }
    if (stopReason === 'refusal') return result('refused', 'the model refused (stop_reason refusal)');
    return result('completed', `model ended its turn (${stopReason})`);
  }
}

/** Counts one model response: a turn, the tokens by type and the cost it added (usage totals before and after it). */
function countResponse(metrics: ReturnType<typeof agentMetrics>, model: string, before: AgentUsage, after: AgentUsage): void {
  const labels = { provider: 'anthropic', model };
  metrics.turns.inc(labels);
  metrics.tokens.inc({ ...labels, type: 'input' }, after.inputTokens - before.inputTokens);
  metrics.tokens.inc({ ...labels, type: 'output' }, after.outputTokens - before.outputTokens);
  metrics.tokens.inc({ ...labels, type: 'cache_write' }, after.cacheCreationInputTokens - before.cacheCreationInputTokens);
  metrics.tokens.inc({ ...labels, type: 'cache_read' }, after.cacheReadInputTokens - before.cacheReadInputTokens);
  metrics.cost.inc(labels, after.costUsd - before.costUsd);
}
