import type Anthropic from '@anthropic-ai/sdk';
import { z } from 'zod';
import { AgentResponseInvalidError } from './errors.js';
import { createMessage, type ModelRetryEvent, type ModelRetryOptions } from './model-call.js';
import { type AgentTool, defineTool, toApiTool } from './tool.js';

/** Request settings shared by the one-shot decisions (partial success, triage). */
export interface ForcedToolCallOptions {
  client: Anthropic;
  model: string;
  /** `max_tokens`; default 1024. */
  maxTokens?: number;
  signal?: AbortSignal;
  /** Default true (streaming). */
  stream?: boolean;
  retry?: ModelRetryOptions;
  onRetry?: (event: ModelRetryEvent) => void | Promise<void>;
}

/**
 * One request whose answer must be a call of `tool` ("Forcing tool use":
 * `tool_choice: { type: 'tool', name }`), its input validated by `schema`.
 * @throws AgentResponseInvalidError (retryable) when the answer has no such call or its input is
 *   invalid; the errors of `createMessage` for API failures.
 */
export async function callForcedTool<S extends z.ZodType>(
  options: ForcedToolCallOptions,
  request: { system: string; userText: string; tool: AgentTool; schema: S },
): Promise<z.infer<S>> {
  const message = await createMessage(
    options.client,
    {
      model: options.model,
      max_tokens: options.maxTokens ?? 1024,
      system: request.system,
      messages: [{ role: 'user', content: request.userText }],
      tools: [toApiTool(request.tool)],
      tool_choice: { type: 'tool', name: request.tool.name },
    },
    {
      ...(options.stream !== undefined ? { stream: options.stream } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.retry ? { retry: options.retry } : {}),
      ...(options.onRetry ? { onRetry: options.onRetry } : {}),
    },
  );
  const call = message.content.find((b) => b.type === 'tool_use' && b.name === request.tool.name);
  if (!call || call.type !== 'tool_use') throw new AgentResponseInvalidError(`the model did not call ${request.tool.name}`, { stopReason: message.stop_reason });
  const parsed = request.schema.safeParse(call.input);
  if (!parsed.success) throw new AgentResponseInvalidError(`${request.tool.name} input is invalid: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/**
 * A tool whose only effect is to record its (validated) input: the answer of a forced tool call.
 * `run` answers `recorded`; the caller reads the input from {@link callForcedTool}'s result.
 */
export function recordingTool<S extends z.ZodType>(name: string, description: string, inputSchema: S): AgentTool<z.output<S>> {
  return defineTool({
    name,
    description,
    inputSchema,
    async run() {
      return 'recorded';
    },
  });
}
