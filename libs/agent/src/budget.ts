import type { Usage } from '@anthropic-ai/sdk/resources/messages';

/**
 * Prices of a model in USD per million tokens (the unit of Anthropic's pricing page,
 * https://docs.anthropic.com/en/docs/about-claude/pricing). Supplied by the caller (prices
 * change; nothing is hard-coded here).
 */
export interface ModelPricing {
  inputUsdPerMTok: number;
  outputUsdPerMTok: number;
  /** Prompt-cache writes (5-minute TTL); default 1.25 × input ("Prompt caching", pricing). */
  cacheWriteUsdPerMTok?: number;
  /** Prompt-cache reads; default 0.1 × input. */
  cacheReadUsdPerMTok?: number;
}

/**
 * Spending limits of one agent run, across resumes (pass the stored usage back). Token counts
 * are the API's `usage` (input = `input_tokens + cache_creation_input_tokens +
 * cache_read_input_tokens`). `Infinity` disables a limit.
 *
 * Enforcement, before every request (deterministic, no extra API call). The next request's
 * input is estimated as the previous request's reported input tokens plus the messages added
 * since, at 3 characters a token (for the first request: system + tools + messages at 3
 * characters a token); a request re-sends the whole conversation, so it only grows.
 * - input: stop when `inputTokens + estimate > maxInputTokens`.
 * - output: the request's `max_tokens` is clamped to the output tokens left, so
 *   `maxOutputTokens` is never exceeded.
 * - cost: `max_tokens` is also clamped so that `costUsd + estimate × input price + max_tokens ×
 *   output price <= maxCostUsd` (input priced as uncached input, the dearest kind but cache writes).
 * - when the clamped `max_tokens` is below `minOutputTokensPerRequest`, the run stops with
 *   outcome `budget_exhausted` and sends nothing more.
 * Input and cost limits hold as long as the estimate is not below the real count (3 characters
 * a token is conservative for code and English; the tokenizer decides).
 */
export interface AgentBudget {
  maxInputTokens: number;
  maxOutputTokens: number;
  maxCostUsd: number;
  pricing: ModelPricing;
  /** Smallest useful `max_tokens` of a request; default min(1024, the run's maxTokens). */
  minOutputTokensPerRequest?: number;
}

/** Tokens and money spent by a run (cumulative across resumes when passed back in). */
export interface AgentUsage {
  /** All input tokens: uncached + cache writes + cache reads. */
  inputTokens: number;
  outputTokens: number;
  cacheCreationInputTokens: number;
  cacheReadInputTokens: number;
  /** Cost in USD under the budget's pricing. */
  costUsd: number;
  /** Successful API responses counted. */
  requests: number;
}

/** Usage of nothing. */
export function emptyUsage(): AgentUsage {
  return { inputTokens: 0, outputTokens: 0, cacheCreationInputTokens: 0, cacheReadInputTokens: 0, costUsd: 0, requests: 0 };
}

/** Cost in USD of one response's `usage` under `pricing`. */
export function costOf(usage: Pick<Usage, 'input_tokens' | 'output_tokens' | 'cache_creation_input_tokens' | 'cache_read_input_tokens'>, pricing: ModelPricing): number {
  const cacheWrite = pricing.cacheWriteUsdPerMTok ?? pricing.inputUsdPerMTok * 1.25;
  const cacheRead = pricing.cacheReadUsdPerMTok ?? pricing.inputUsdPerMTok * 0.1;
  return (
    (usage.input_tokens * pricing.inputUsdPerMTok +
      (usage.cache_creation_input_tokens ?? 0) * cacheWrite +
      (usage.cache_read_input_tokens ?? 0) * cacheRead +
      usage.output_tokens * pricing.outputUsdPerMTok) /
    1_000_000
  );
}

/** `total` plus one response's usage; also returns that response's total input tokens. */
export function addUsage(total: AgentUsage, usage: Usage, pricing: ModelPricing): { total: AgentUsage; requestInputTokens: number } {
  const created = usage.cache_creation_input_tokens ?? 0;
  const read = usage.cache_read_input_tokens ?? 0;
  const requestInputTokens = usage.input_tokens + created + read;
  return {
    requestInputTokens,
    total: {
      inputTokens: total.inputTokens + requestInputTokens,
      outputTokens: total.outputTokens + usage.output_tokens,
      cacheCreationInputTokens: total.cacheCreationInputTokens + created,
      cacheReadInputTokens: total.cacheReadInputTokens + read,
      costUsd: total.costUsd + costOf(usage, pricing),
      requests: total.requests + 1,
    },
  };
}

/** Conservative token estimate of a JSON-serialisable value: 3 characters a token. */
export function estimateTokens(value: unknown): number {
  return Math.ceil(JSON.stringify(value ?? '').length / 3);
}

/**
 * The `max_tokens` the next request may use under `budget` (see {@link AgentBudget}), or why
 * the budget is exhausted.
 * @param nextRequestInputTokens estimated input tokens of the next request.
 */
export function planNextRequest(
  usage: AgentUsage,
  budget: AgentBudget,
  nextRequestInputTokens: number,
  maxTokens: number,
): { maxTokens: number } | { exhausted: string } {
  const minOut = Math.min(maxTokens, budget.minOutputTokensPerRequest ?? 1024);
  if (usage.inputTokens + nextRequestInputTokens > budget.maxInputTokens) {
    return {
      exhausted: `input token budget: ${usage.inputTokens} used of ${budget.maxInputTokens}, and the next request needs about ${nextRequestInputTokens} (estimated)`,
    };
  }
  const outLeft = budget.maxOutputTokens - usage.outputTokens;
  const costLeft = budget.maxCostUsd - usage.costUsd - (nextRequestInputTokens * budget.pricing.inputUsdPerMTok) / 1_000_000;
  const affordable = budget.pricing.outputUsdPerMTok > 0 ? Math.floor((costLeft * 1_000_000) / budget.pricing.outputUsdPerMTok) : Infinity;
  const allowed = Math.min(maxTokens, outLeft, costLeft < 0 ? -1 : affordable);
  if (allowed < minOut) {
    const why =
      outLeft < minOut
        ? `output token budget: ${usage.outputTokens} used of ${budget.maxOutputTokens}`
        : `cost budget: $${usage.costUsd.toFixed(4)} spent of $${budget.maxCostUsd}, not enough for another request of at least ${minOut} output tokens`;
    return { exhausted: why };
  }
  return { maxTokens: allowed };
}
