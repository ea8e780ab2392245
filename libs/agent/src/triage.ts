import type Anthropic from '@anthropic-ai/sdk';
import { z } from 'zod';
import { callForcedTool, recordingTool } from './forced-tool.js';
import type { ModelRetryEvent, ModelRetryOptions } from './model-call.js';
import { renderPrompt } from './prompts.js';

/** A piece of feedback read from the pull-request provider. */
export interface FeedbackItem {
  kind: 'review' | 'review_comment' | 'issue_comment' | 'check_run';
  author: string;
  body: string;
  path?: string | null;
  line?: number | null;
  /** For reviews: `CHANGES_REQUESTED`, `COMMENTED`, `APPROVED`; for checks: the conclusion. */
  state?: string | null;
}

/** The triage of one piece of feedback (stored with it and shown in the execution). */
export interface TriageDecision {
  actionable: boolean;
  reasoning: string;
  /** When actionable: the change asked for, as an instruction for the next iteration. */
  request: string;
  /** `policy` when a rule decided without the model, else `model`. */
  decidedBy: 'policy' | 'model';
}

/** Options of {@link triageFeedback}. */
export interface TriageFeedbackOptions {
  /** The model's client, or null when no agent is configured (policy rules only). */
  client: Anthropic | null;
  model: string;
  item: FeedbackItem;
  /** Title and a short description of the pull request, for context. */
  pullRequest: string;
  /** Logins whose feedback is never actionable (bots, the service itself). */
  ignoredAuthors?: readonly string[];
  maxTokens?: number;
  stream?: boolean;
  retry?: ModelRetryOptions;
  onRetry?: (event: ModelRetryEvent) => void | Promise<void>;
  signal?: AbortSignal;
}

const TriageInput = z.strictObject({
  actionable: z.boolean().describe('true when the feedback asks for a change to this pull request'),
  reasoning: z.string().min(1).describe('One to three sentences a reviewer can audit'),
  request: z.string().describe('The change asked for, as an instruction; empty when not actionable'),
});

/** The forced tool of the triage ("Forcing tool use": `tool_choice: { type: 'tool' }`). */
const triageTool = recordingTool('triage_feedback', 'Record whether the feedback asks for a change to the pull request.', TriageInput);

/**
 * Decides whether review feedback is actionable (a request for a code change) or not (a question,
 * praise, a bot's noise). Rules first, binding and without a model call:
 * 1. a comment or review by an author in `ignoredAuthors` or a login ending in `[bot]` → not
 *    actionable (bot noise); check runs are by apps (CI) and go by their conclusion instead;
 * 2. an empty body on anything but a failed check → not actionable;
 * 3. an `APPROVED` review → not actionable;
 * 4. a check run that did not fail (`success`, `neutral`, `skipped`) → not actionable.
 * Then the model answers through a forced `triage_feedback` tool call (`prompts/triage.md`).
 * Without a model (`client: null`), what the rules leave is not actionable, with that reason.
 * @throws AgentResponseInvalidError (retryable) when the answer lacks a valid tool call; the
 *   errors of `createMessage` for API failures.
 */
export async function triageFeedback(options: TriageFeedbackOptions): Promise<TriageDecision> {
  const { item } = options;
  const policy = (reasoning: string): TriageDecision => ({ actionable: false, reasoning, request: '', decidedBy: 'policy' });
  if (item.kind !== 'check_run' && (options.ignoredAuthors?.includes(item.author) || item.author.endsWith('[bot]'))) {
    return policy(`written by ${item.author}, a bot or this service`);
  }
  const failedCheck = item.kind === 'check_run' && ['failure', 'timed_out', 'action_required'].includes(item.state ?? '');
  if (item.kind === 'check_run' && !failedCheck) return policy(`check concluded ${item.state ?? 'without a conclusion'}: nothing to change`);
  if (!item.body.trim() && !failedCheck) return policy('no text: nothing is asked');
  if (item.kind === 'review' && item.state === 'APPROVED') return policy('an approval asks for no change');
  if (!options.client) return policy('no code-fix agent is configured to read the feedback, so it is not acted on');

  const system = await renderPrompt('triage', {
    pullRequest: options.pullRequest,
    kind: item.kind + (item.state ? ` (${item.state})` : ''),
    author: item.author,
    location: item.path ? `${item.path}${item.line ? `:${item.line}` : ''}` : 'the whole pull request',
    body: item.body.trim() || '(no text)',
  });
  const answer = await callForcedTool(
    { ...options, client: options.client },
    { system, userText: 'Triage this feedback with the triage_feedback tool.', tool: triageTool, schema: TriageInput },
  );
  const request = answer.actionable ? answer.request.trim() || item.body.trim() : '';
  return { actionable: answer.actionable, reasoning: answer.reasoning, request, decidedBy: 'model' };
}
