/**
 * Request validation of `POST /v1/messages`, after the Messages API reference "Create a Message"
 * (https://docs.anthropic.com/en/api/messages), the tool use guide "Handling tool use and tool
 * results" (https://docs.anthropic.com/en/docs/build-with-claude/tool-use) and the error
 * messages the real API returns (field-path prefixed, e.g. `messages.3: ...`).
 *
 * Stricter than the API in one place, on purpose: consecutive messages of the same role are
 * rejected (the API merges them); an agent loop that relies on merging has a bug.
 */

/** Top-level body fields of `MessageCreateParams` (SDK 1.12) plus the sampling ones older models take. */
const KNOWN_FIELDS = new Set([
  'model',
  'max_tokens',
  'messages',
  'system',
  'tools',
  'tool_choice',
  'stream',
  'metadata',
  'stop_sequences',
  'temperature',
  'top_k',
  'top_p',
  'thinking',
  'service_tier',
  'cache_control',
  'container',
  'diagnostics',
  'inference_geo',
  'output_config',
  'speed',
  'user_profile_id',
  'workspace_id',
]);

/** Content block types the server accepts in requests (others are rejected). */
const USER_BLOCKS = new Set(['text', 'image', 'document', 'tool_result', 'search_result']);
const ASSISTANT_BLOCKS = new Set(['text', 'tool_use', 'thinking', 'redacted_thinking']);

/** Tool name rule of the tool use guide ("Specifying client tools": `^[a-zA-Z0-9_-]{1,64}$`). */
const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Checks a parsed request body. Returns the first problem as the API words it
 * (`<field path>: <message>`), or null when the body is valid.
 */
export function validateMessagesRequest(body: unknown): string | null {
  if (!isObject(body)) return 'Input should be a valid dictionary or object to extract fields from';
  for (const key of Object.keys(body)) {
    if (!KNOWN_FIELDS.has(key)) return `${key}: Extra inputs are not permitted`;
  }
  if (body['model'] === undefined) return 'model: Field required';
  if (typeof body['model'] !== 'string' || body['model'] === '') return 'model: Input should be a valid string';
  const maxTokens = body['max_tokens'];
  if (maxTokens === undefined) return 'max_tokens: Field required';
  if (typeof maxTokens !== 'number' || !Number.isInteger(maxTokens)) return 'max_tokens: Input should be a valid integer';
  if (maxTokens < 1) return 'max_tokens: Input should be greater than or equal to 1';
  if (body['stream'] !== undefined && typeof body['stream'] !== 'boolean') return 'stream: Input should be a valid boolean';

  const system = body['system'];
  if (system !== undefined) {
    if (Array.isArray(system)) {
      for (const [i, b] of system.entries()) {
        if (!isObject(b) || b['type'] !== 'text' || typeof b['text'] !== 'string') return `system.${i}: Input should be a valid text block`;
      }
    } else if (typeof system !== 'string') {
      return 'system: Input should be a valid string or list of text blocks';
    }
  }

  const toolProblem = validateTools(body);
  if (toolProblem) return toolProblem;
  const toolNames = new Set((Array.isArray(body['tools']) ? body['tools'] : []).map((t: Json) => String(t['name'])));

  const messages = body['messages'];
  if (messages === undefined) return 'messages: Field required';
  if (!Array.isArray(messages)) return 'messages: Input should be a valid list';
  if (messages.length === 0) return 'messages: at least one message is required';

  let usesTools = false;
  /** tool_use ids of the previous assistant message that still need a tool_result. */
  let pendingToolUse: string[] = [];
  const seenToolUseIds = new Set<string>();
  for (const [i, m] of messages.entries()) {
    if (!isObject(m)) return `messages.${i}: Input should be a valid dictionary`;
    const role = m['role'];
    if (role !== 'user' && role !== 'assistant') return `messages.${i}.role: Input should be 'user' or 'assistant'`;
    if (i === 0 && role !== 'user') return 'messages: first message must use the "user" role';
    if (i > 0 && (messages[i - 1] as Json)['role'] === role) {
      return `messages: roles must alternate between "user" and "assistant", but found multiple "${role}" roles in a row`;
    }
    const content = m['content'];
    if (content === undefined) return `messages.${i}.content: Field required`;
    const isFinal = i === messages.length - 1;
    if (typeof content === 'string') {
      if (content === '' && !(isFinal && role === 'assistant')) {
        return `messages.${i}: all messages must have non-empty content except for the optional final assistant message`;
      }
      if (pendingToolUse.length > 0) return missingResults(i - 1, pendingToolUse);
      continue;
    }
    if (!Array.isArray(content)) return `messages.${i}.content: Input should be a valid string or list of content blocks`;
    if (content.length === 0 && !(isFinal && role === 'assistant')) {
      return `messages.${i}: all messages must have non-empty content except for the optional final assistant message`;
    }
    const allowed = role === 'user' ? USER_BLOCKS : ASSISTANT_BLOCKS;
    const results: string[] = [];
    const toolUses: string[] = [];
    let seenNonResult = false;
    for (const [j, b] of content.entries()) {
      const at = `messages.${i}.content.${j}`;
      if (!isObject(b)) return `${at}: Input should be a valid dictionary`;
      const type = b['type'];
      if (typeof type !== 'string') return `${at}.type: Field required`;
      if (!allowed.has(type)) {
        return `${at}.type: '${type}' blocks are not allowed in ${role} messages`;
      }
      if (type === 'text') {
        if (typeof b['text'] !== 'string') return `${at}.text: Field required`;
        if (b['text'] === '') return 'messages: text content blocks must be non-empty';
        seenNonResult = true;
      } else if (type === 'tool_use') {
        usesTools = true;
        if (typeof b['id'] !== 'string' || b['id'] === '') return `${at}.id: Field required`;
        if (typeof b['name'] !== 'string') return `${at}.name: Field required`;
        if (!isObject(b['input'])) return `${at}.input: Input should be a valid dictionary`;
        if (seenToolUseIds.has(b['id'])) return `messages.${i}: \`tool_use\` ids must be unique`;
        seenToolUseIds.add(b['id']);
        toolUses.push(b['id']);
      } else if (type === 'tool_result') {
        usesTools = true;
        if (typeof b['tool_use_id'] !== 'string') return `${at}.tool_use_id: Field required`;
        if (seenNonResult) {
          return `messages.${i}: \`tool_result\` blocks must come first in the content of a user message, before any other block`;
        }
        const c = b['content'];
        if (c !== undefined && typeof c !== 'string') {
          if (!Array.isArray(c)) return `${at}.content: Input should be a valid string or list of content blocks`;
          for (const [k, x] of c.entries()) {
            if (!isObject(x) || typeof x['type'] !== 'string') return `${at}.content.${k}: Input should be a valid content block`;
            if (x['type'] === 'text' && (typeof x['text'] !== 'string' || x['text'] === '')) {
              return 'messages: text content blocks must be non-empty';
            }
          }
        }
        if (b['is_error'] !== undefined && typeof b['is_error'] !== 'boolean') return `${at}.is_error: Input should be a valid boolean`;
        results.push(b['tool_use_id']);
      } else {
        seenNonResult = true;
      }
    }
    if (role === 'user') {
      const unexpected = results.filter((id) => !pendingToolUse.includes(id));
      if (unexpected.length > 0) {
        return (
          `messages.${i}.content.0: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${unexpected.join(', ')}. ` +
          'Each `tool_result` block must have a corresponding `tool_use` block in the previous message.'
        );
      }
      const missing = pendingToolUse.filter((id) => !results.includes(id));
      if (missing.length > 0) return missingResults(i - 1, missing);
      pendingToolUse = [];
    } else {
      pendingToolUse = toolUses;
      if (isFinal && toolUses.length > 0) return missingResults(i, toolUses);
    }
  }
  if (usesTools && toolNames.size === 0) return 'Requests which include `tool_use` or `tool_result` blocks must define tools.';
  return null;
}

function missingResults(index: number, ids: string[]): string {
  return (
    `messages.${index}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${ids.join(', ')}. ` +
    'Each `tool_use` block must have a corresponding `tool_result` block in the next message.'
  );
}

function validateTools(body: Json): string | null {
  const tools = body['tools'];
  const names = new Set<string>();
  if (tools !== undefined) {
    if (!Array.isArray(tools)) return 'tools: Input should be a valid list';
    for (const [i, t] of tools.entries()) {
      if (!isObject(t)) return `tools.${i}: Input should be a valid dictionary`;
      if (typeof t['name'] !== 'string') return `tools.${i}.name: Field required`;
      if (!TOOL_NAME.test(t['name'])) return `tools.${i}.name: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'`;
      if (names.has(t['name'])) return 'tools: Tool names must be unique.';
      names.add(t['name']);
      if (t['description'] !== undefined && typeof t['description'] !== 'string') return `tools.${i}.description: Input should be a valid string`;
      const schema = t['input_schema'];
      if (schema === undefined) return `tools.${i}.custom.input_schema: Field required`;
      if (!isObject(schema)) return `tools.${i}.custom.input_schema: Input should be a valid dictionary`;
      if (schema['type'] !== 'object') return `tools.${i}.custom.input_schema.type: Input should be 'object'`;
      if (schema['properties'] !== undefined && schema['properties'] !== null && !isObject(schema['properties'])) {
        return `tools.${i}.custom.input_schema.properties: Input should be a valid dictionary`;
      }
    }
  }
  const choice = body['tool_choice'];
  if (choice !== undefined) {
    if (!isObject(choice)) return 'tool_choice: Input should be a valid dictionary';
    const type = choice['type'];
    if (type !== 'auto' && type !== 'any' && type !== 'tool' && type !== 'none') {
      return "tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'";
    }
    if ((type === 'any' || type === 'tool') && names.size === 0) return 'tool_choice: tool_choice may only be specified while providing tools.';
    if (type === 'tool') {
      if (typeof choice['name'] !== 'string') return 'tool_choice.tool.name: Field required';
      if (!names.has(choice['name'])) return `tool_choice.tool.name: Tool '${choice['name']}' not found in provided tools`;
    }
  }
  return null;
}
