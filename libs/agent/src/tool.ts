import type { Tool } from '@anthropic-ai/sdk/resources/messages';
import { isRemediationError } from '@remediation/errors';
import { z } from 'zod';
import { ToolError } from './errors.js';

/** What a tool's `run` gets besides its validated input. */
export interface ToolRunContext {
  /** Id of the `tool_use` block being answered. */
  toolUseId: string;
  /** Aborts with the run. */
  signal?: AbortSignal;
}

/**
 * A tool the model may call. One source for its input: `inputSchema` (zod) becomes the API's
 * `input_schema` (JSON Schema 2020-12 via `z.toJSONSchema`, "Specifying client tools" of the
 * tool use guide) and validates the model's `input` at runtime before `run`.
 *
 * `run` returns the text of the `tool_result`. To refuse or fail, throw: a {@link ToolError}
 * (message sent as is) or any error (sent as `<code>: <message>` for project errors); the model
 * gets it as an `is_error: true` tool result and the loop continues.
 */
export interface AgentTool<TInput = any> {
  /** `^[a-zA-Z0-9_-]{1,64}$`, unique within a run. */
  readonly name: string;
  /** What it does, when to use it, what it refuses: the model reads this. */
  readonly description: string;
  readonly inputSchema: z.ZodType<TInput>;
  run(input: TInput, context: ToolRunContext): Promise<string>;
}

/** Builds an {@link AgentTool} with `run`'s input typed from the schema. */
export function defineTool<S extends z.ZodType>(spec: {
  name: string;
  description: string;
  inputSchema: S;
  run(input: z.output<S>, context: ToolRunContext): Promise<string>;
}): AgentTool<z.output<S>> {
  return spec as unknown as AgentTool<z.output<S>>;
}

/**
 * The API definition of a tool: `{ name, description, input_schema }` with the JSON Schema of
 * the zod schema's input side (defaults optional), without the `$schema` key.
 */
export function toApiTool(tool: AgentTool): Tool {
  const schema = z.toJSONSchema(tool.inputSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  delete schema['$schema'];
  if (schema['type'] !== 'object') throw new Error(`tool ${tool.name}: input schema must be an object schema`);
  return { name: tool.name, description: tool.description, input_schema: schema as Tool['input_schema'] };
}

/** Result of {@link executeTool}: the `tool_result` text and whether it is an error. */
export interface ToolOutcome {
  content: string;
  isError: boolean;
}

/**
 * Validates `input` against the tool's schema and runs it. Never throws: validation errors,
 * {@link ToolError}s and any other error become `{ isError: true, content: <clear message> }`.
 */
export async function executeTool(tool: AgentTool, input: unknown, context: ToolRunContext): Promise<ToolOutcome> {
  const parsed = tool.inputSchema.safeParse(input);
  if (!parsed.success) {
    return { isError: true, content: `invalid input for ${tool.name}:\n${z.prettifyError(parsed.error)}` };
  }
  try {
    const content = await tool.run(parsed.data, context);
    return { isError: false, content };
  } catch (error) {
    if (error instanceof ToolError) return { isError: true, content: error.message };
    if (isRemediationError(error)) return { isError: true, content: `${error.code}: ${error.message}` };
    return { isError: true, content: `${tool.name} failed: ${error instanceof Error ? error.message : String(error)}` };
  }
}
