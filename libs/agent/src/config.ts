import Anthropic from '@anthropic-ai/sdk';
import type { AgentBudget } from './budget.js';
import type { ModelRetryOptions } from './model-call.js';
import type { PartialSuccessPolicy } from './partial-success.js';
import { envFlag } from '@remediation/config';
import { z } from 'zod';


/**
 * Environment of the code-fix agent (patcher) and of the review triage (pr-service); services
 * merge it into their own (`BaseEnv.extend(AgentEnv.shape)`). Without `ANTHROPIC_API_KEY` the
 * patcher runs the deterministic manifest edits only and marks targets that need code changes
 * (docs/mission.md "Without an API key"), and review feedback is stored but not acted on.
 */
export const AgentEnv = z.object({
  /** Key of the Messages API; unset = no agent. */
  ANTHROPIC_API_KEY: z.string().min(1).optional(),
  /** Messages-API-compatible endpoint (no `/v1`); default the SDK's (https://api.anthropic.com). */
  ANTHROPIC_BASE_URL: z.string().url().optional(),
  /** Model id of every agent request. */
  AGENT_MODEL: z.string().min(1).default('claude-sonnet-4-5'),
  /** `max_tokens` of each request. */
  AGENT_MAX_TOKENS: z.coerce.number().int().positive().default(8192),
  /** Most model responses per iteration (across resumes). */
  AGENT_MAX_TURNS: z.coerce.number().int().positive().default(40),
  /** Token and cost budget per iteration (across resumes). */
  AGENT_MAX_INPUT_TOKENS: z.coerce.number().int().positive().default(2_000_000),
  AGENT_MAX_OUTPUT_TOKENS: z.coerce.number().int().positive().default(200_000),
  AGENT_MAX_COST_USD: z.coerce.number().positive().default(10),
  /** Pricing used for the cost budget, USD per million tokens (Claude Sonnet 4.5 list prices by default). */
  AGENT_PRICE_INPUT_PER_MTOK: z.coerce.number().nonnegative().default(3),
  AGENT_PRICE_OUTPUT_PER_MTOK: z.coerce.number().nonnegative().default(15),
  /** Stream responses (recommended for long `max_tokens`). */
  AGENT_STREAM: envFlag.default(true),
  /** SDK retries per request (429, 5xx, 529 with backoff honouring `retry-after`). */
  AGENT_API_MAX_RETRIES: z.coerce.number().int().min(0).max(10).default(4),
  /** Our retries of overloaded / mid-stream errors after the SDK's, and their first delay (ms). */
  AGENT_OVERLOADED_RETRIES: z.coerce.number().int().min(0).max(10).default(3),
  AGENT_RETRY_BASE_MS: z.coerce.number().int().positive().default(2000),
  /** Partial-success policy: never ship when a target left open has a critical advisory. */
  AGENT_NEVER_SHIP_LEAVING_CRITICAL: envFlag.default(true),
  /** Partial-success policy: least share (0..1) of targets that must succeed. */
  AGENT_MIN_SUCCESS_RATIO: z.coerce.number().min(0).max(1).default(0),
  /** Partial-success policy: whether the model may ship fewer than all successful targets. */
  AGENT_ALLOW_SUBSET: envFlag.default(true),
});
export type AgentEnv = z.infer<typeof AgentEnv>;

/** The configured code-fix agent: the SDK client and the run settings. */
export interface AgentSettings {
  client: Anthropic;
  model: string;
  maxTokens: number;
  maxTurns: number;
  budget: AgentBudget;
  stream: boolean;
  retry: ModelRetryOptions;
}

/** The agent (or null) and the partial-success policy, from the environment. */
export interface AgentConfig {
  /** Null when no API key is configured. */
  agent: AgentSettings | null;
  policy: PartialSuccessPolicy;
}

/**
 * Builds the agent settings from the environment (the real `@anthropic-ai/sdk` client, pointed
 * at `ANTHROPIC_BASE_URL` when set). The key lives in this process only: never in messages,
 * the database or logs.
 */
export function agentConfigFromEnv(env: AgentEnv): AgentConfig {
  const policy: PartialSuccessPolicy = {
    neverShipLeavingCritical: env.AGENT_NEVER_SHIP_LEAVING_CRITICAL,
    minSuccessRatio: env.AGENT_MIN_SUCCESS_RATIO,
    allowSubset: env.AGENT_ALLOW_SUBSET,
  };
  if (!env.ANTHROPIC_API_KEY) return { agent: null, policy };
  const client = new Anthropic({
    apiKey: env.ANTHROPIC_API_KEY,
    ...(env.ANTHROPIC_BASE_URL ? { baseURL: env.ANTHROPIC_BASE_URL } : {}),
    maxRetries: env.AGENT_API_MAX_RETRIES,
  });
  return {
    policy,
    agent: {
      client,
      model: env.AGENT_MODEL,
      maxTokens: env.AGENT_MAX_TOKENS,
      maxTurns: env.AGENT_MAX_TURNS,
      budget: {
        maxInputTokens: env.AGENT_MAX_INPUT_TOKENS,
        maxOutputTokens: env.AGENT_MAX_OUTPUT_TOKENS,
        maxCostUsd: env.AGENT_MAX_COST_USD,
        pricing: { inputUsdPerMTok: env.AGENT_PRICE_INPUT_PER_MTOK, outputUsdPerMTok: env.AGENT_PRICE_OUTPUT_PER_MTOK },
      },
      stream: env.AGENT_STREAM,
      retry: { overloadedRetries: env.AGENT_OVERLOADED_RETRIES, baseDelayMs: env.AGENT_RETRY_BASE_MS },
    },
  };
}
