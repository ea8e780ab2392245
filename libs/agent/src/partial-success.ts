import type Anthropic from '@anthropic-ai/sdk';
import type { Severity } from '@remediation/contracts';
import { z } from 'zod';
import { callForcedTool, recordingTool } from './forced-tool.js';
import type { ModelRetryEvent, ModelRetryOptions } from './model-call.js';
import { renderPrompt } from './prompts.js';

/** One target's result as the decision sees it. */
export interface DecisionTarget {
  name: string;
  status: 'success' | 'failed' | 'skipped';
  /** Why it failed or was skipped, or notes on a success. */
  reason: string | null;
  /** Advisories of the target (fixed by a success, left open otherwise). */
  advisories: Array<{ id: string; severity: Severity }>;
}

/**
 * The deterministic policy, applied before the model and binding on it.
 *
 * Rules, in order (the first that decides ends the decision without a model call):
 * 1. No target succeeded → do not ship.
 * 2. `neverShipLeavingCritical` and a target that did not succeed (failed OR skipped) has an
 *    advisory of severity `critical` → do not ship: the critical advisory would stay open
 *    behind a pull request that looks like the fix, so a person decides.
 * 3. A name of `requiredTargets` did not succeed → do not ship.
 * 4. successes / (targets not skipped) < `minSuccessRatio` → do not ship.
 * 5. Every target that was not skipped succeeded → ship all successes (nothing partial to decide).
 * Otherwise the model decides `ship` and a subset of the successful targets (all of them when
 * `allowSubset` is false). Its answer is then clamped: names that did not succeed are dropped,
 * `requiredTargets` are added back, `ship` with no target becomes `false`.
 */
export interface PartialSuccessPolicy {
  neverShipLeavingCritical: boolean;
  /** Targets that must all succeed for anything to ship. Default none. */
  requiredTargets?: readonly string[];
  /** Least share (0..1) of non-skipped targets that must succeed. Default 0. */
  minSuccessRatio?: number;
  /** Whether the model may ship fewer than all successful targets. Default true. */
  allowSubset?: boolean;
  /** Why no subset is allowed, when `allowSubset` is false for this decision only (told to the model and in the override). */
  noSubsetReason?: string;
}

/** The decision, for the execution's history (docs/mission.md: "Partial success is a decision"). */
export interface PartialSuccessDecision {
  ship: boolean;
  /** Targets to ship (successful ones only); empty when not shipping. */
  targets: string[];
  /** Why: the policy rule, or the model's reasoning plus any policy corrections. */
  reasoning: string;
  /** `policy` when a rule decided without the model, else `model`. */
  decidedBy: 'policy' | 'model';
  /** Policy corrections applied to the model's answer. */
  overrides: string[];
}

/** Options of {@link decidePartialSuccess}. */
export interface DecidePartialSuccessOptions {
  /**
   * The model's client, or null when no agent is configured: then, where the policy leaves a
   * choice, every successful target ships (`decidedBy: 'policy'`, reasoning says why).
   */
  client: Anthropic | null;
  model: string;
  targets: DecisionTarget[];
  policy: PartialSuccessPolicy;
  /** `max_tokens` of the request; default 1024. */
  maxTokens?: number;
  signal?: AbortSignal;
  /** Default true (streaming). */
  stream?: boolean;
  retry?: ModelRetryOptions;
  onRetry?: (event: ModelRetryEvent) => void | Promise<void>;
}

const DecisionInput = z.strictObject({
  ship: z.boolean().describe('true to open a pull request with `targets` now'),
  targets: z.array(z.string()).describe('Targets to ship: a subset of those the policy allows; empty when not shipping'),
  reasoning: z.string().min(1).describe('Two to five sentences a reviewer can audit'),
});

/** The forced tool of the decision ("Forcing tool use": `tool_choice: { type: 'tool' }`). */
const decisionTool = recordingTool('decide_partial_success', 'Record the decision on shipping a partially successful remediation.', DecisionInput);

function describeTarget(t: DecisionTarget): string {
  const advisories = t.advisories.map((a) => `${a.id} [${a.severity}]`).join(', ') || 'none';
  return `- ${t.name}: ${t.status}${t.reason ? ` (${t.reason})` : ''}; advisories: ${advisories}`;
}

/**
 * Decides whether to ship a partially successful patch: the deterministic
 * {@link PartialSuccessPolicy} first, then, only when the policy leaves a choice, the model
 * through a forced tool call (`tool_choice: { type: 'tool', name: 'decide_partial_success' }`),
 * whose answer is clamped to what the policy allows.
 * @throws AgentResponseInvalidError (AGENT_RESPONSE_INVALID, retryable) when the model's answer
 *   lacks a valid decision tool call; the errors of `createMessage` for API failures.
 */
export async function decidePartialSuccess(options: DecidePartialSuccessOptions): Promise<PartialSuccessDecision> {
  const { targets, policy } = options;
  const succeeded = targets.filter((t) => t.status === 'success').map((t) => t.name);
  const considered = targets.filter((t) => t.status !== 'skipped');
  const byPolicy = (ship: boolean, reasoning: string): PartialSuccessDecision => ({
    ship,
    targets: ship ? succeeded : [],
    reasoning,
    decidedBy: 'policy',
    overrides: [],
  });

  if (succeeded.length === 0) return byPolicy(false, 'policy: no target succeeded, nothing to ship');
  if (policy.neverShipLeavingCritical) {
    const open = targets.filter((t) => t.status !== 'success' && t.advisories.some((a) => a.severity === 'critical'));
    if (open.length > 0) {
      const list = open.map((t) => `${t.name} (${t.advisories.filter((a) => a.severity === 'critical').map((a) => a.id).join(', ')})`).join('; ');
      return byPolicy(false, `policy neverShipLeavingCritical: critical advisories would stay open: ${list}`);
    }
  }
  const missingRequired = (policy.requiredTargets ?? []).filter((n) => !succeeded.includes(n));
  if (missingRequired.length > 0) return byPolicy(false, `policy requiredTargets: ${missingRequired.join(', ')} did not succeed`);
  const ratio = considered.length === 0 ? 1 : succeeded.length / considered.length;
  if (ratio < (policy.minSuccessRatio ?? 0)) {
    return byPolicy(false, `policy minSuccessRatio: ${succeeded.length}/${considered.length} succeeded, below ${policy.minSuccessRatio}`);
  }
  if (succeeded.length === considered.length) return byPolicy(true, 'policy: every target that applies succeeded; nothing partial to decide');

  if (options.client === null) {
    return byPolicy(true, `policy allows shipping ${succeeded.join(', ')} and no agent is configured to weigh the rest: shipping every successful target`);
  }
  const allowSubset = policy.allowSubset ?? true;
  const notes = [
    allowSubset ? '' : `You may not choose a subset${policy.noSubsetReason ? ` (${policy.noSubsetReason})` : ''}: ship all of them or none.`,
    policy.requiredTargets?.length ? `These must be shipped if anything is: ${policy.requiredTargets.join(', ')}.` : '',
  ]
    .filter(Boolean)
    .join('\n');
  const system = await renderPrompt('partial-success', {
    targets: targets.map(describeTarget).join('\n'),
    shippable: succeeded.join(', '),
    policyNotes: notes,
  });
  const answer = await callForcedTool(
    { ...options, client: options.client },
    { system, userText: 'Decide whether to ship, with the decide_partial_success tool.', tool: decisionTool, schema: DecisionInput },
  );

  const overrides: string[] = [];
  let chosen = [...new Set(answer.targets)];
  const notAllowed = chosen.filter((n) => !succeeded.includes(n));
  if (notAllowed.length) {
    overrides.push(`dropped targets that did not succeed: ${notAllowed.join(', ')}`);
    chosen = chosen.filter((n) => succeeded.includes(n));
  }
  let ship = answer.ship;
  if (ship && !allowSubset && chosen.length !== succeeded.length) {
    overrides.push(`${policy.noSubsetReason ?? 'allowSubset is false'}: shipping every successful target`);
    chosen = [...succeeded];
  }
  const required = (policy.requiredTargets ?? []).filter((n) => !chosen.includes(n));
  if (ship && required.length) {
    overrides.push(`added required targets: ${required.join(', ')}`);
    chosen.push(...required);
  }
  if (ship && chosen.length === 0) {
    overrides.push('no allowed target left to ship: not shipping');
    ship = false;
  }
  if (!ship) chosen = [];
  chosen.sort((a, b) => succeeded.indexOf(a) - succeeded.indexOf(b));
  const reasoning = overrides.length ? `${answer.reasoning}\n[policy: ${overrides.join('; ')}]` : answer.reasoning;
  return { ship, targets: chosen, reasoning, decidedBy: 'model', overrides };
}
