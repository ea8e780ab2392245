import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ERROR_STATUS,
  type ApiErrorType,
  type MessagesRequestBody,
  type RecordedRequest,
  type ScriptContentBlock,
  type ScriptErrorTurn,
  type ScriptResponseTurn,
  type ScriptTurn,
} from './script.js';
import { validateMessagesRequest } from './validate-request.js';

/** Options of {@link startMessagesApiLocal}. */
export interface MessagesApiLocalOptions {
  /** The answers, one per request that passes validation, in order. */
  script: ScriptTurn[];
  /** TCP port; 0 (default) picks a free one (read it back from `url`). */
  port?: number;
  /** Interface to bind; default `127.0.0.1`. */
  host?: string;
  /**
   * Accepted API key, sent as `x-api-key` (the API's header) or `Authorization: Bearer <key>`
   * (what `@anthropic-ai/sdk` 1.12 sends for `apiKey`). Default: any non-empty key; a request
   * with neither header is always 401 `authentication_error`, as on the real API.
   */
  apiKey?: string;
  /** Characters per `text_delta` / `input_json_delta` chunk when streaming; default 12. */
  chunkSize?: number;
}

/** A running messages-api-local server. */
export interface MessagesApiLocal {
  /** Base URL for the SDK's `baseURL`, e.g. `http://127.0.0.1:40111` (no trailing slash, no `/v1`). */
  readonly url: string;
  /** Copies of every request received, in arrival order. */
  readonly requests: RecordedRequest[];
  /** Script failures: failed assertions, exhausted script, stream/non-stream mismatches, unknown tools. */
  readonly failures: string[];
  /** Script turns not yet served. */
  readonly remainingTurns: number;
  /** Throws when there are failures or unserved turns (call at the end of a test). */
  assertDone(): void;
  /** Stops listening and closes open connections. Safe to call twice. */
  close(): Promise<void>;
}

/** Error-type defaults for `error.message` (wording of the real API where known). */
const DEFAULT_ERROR_MESSAGE: Record<ApiErrorType, string> = {
  invalid_request_error: 'Invalid request',
  authentication_error: 'invalid x-api-key',
  billing_error: 'Your credit balance is too low to access the Anthropic API.',
  permission_error: 'Your API key does not have permission to use the specified resource.',
  not_found_error: 'Not found',
  request_too_large: 'Request exceeds the maximum allowed number of bytes.',
  rate_limit_error: 'Number of request tokens has exceeded your per-minute rate limit',
  api_error: 'Internal server error',
  timeout_error: 'Request timed out',
  overloaded_error: 'Overloaded',
};

/** Rough token estimate (4 characters a token) for default `usage`. */
function estimateTokens(value: unknown): number {
  return Math.max(1, Math.ceil(JSON.stringify(value ?? '').length / 4));
}

function isErrorTurn(turn: ScriptResponseTurn | ScriptErrorTurn): turn is ScriptErrorTurn {
  return 'error' in turn;
}

/**
 * Starts a local HTTP server that speaks the Anthropic Messages API (`POST /v1/messages`) for
 * the real `@anthropic-ai/sdk` client: `new Anthropic({ apiKey: 'test', baseURL: api.url })`.
 *
 * - Auth: an API key required, as `x-api-key` or `Authorization: Bearer` (SDK 1.12 sends the
 *   latter), else 401 `authentication_error`; `anthropic-version` required (400), as on the
 *   API ("Versions", "Errors").
 * - Validation (400 `invalid_request_error`, real wording): model, integer max_tokens >= 1,
 *   messages starting with `user` and alternating, non-empty content, tool_use only in
 *   assistant and tool_result only in user messages, every tool_use answered by a tool_result
 *   in the next message (no unknown ids, results first), tools with unique names matching
 *   `^[a-zA-Z0-9_-]{1,64}$` and an `input_schema` of type object, tool_choice naming a tool,
 *   no unknown top-level fields. Invalid requests consume no script turn.
 * - Answers: the next script turn. A response is a `Message` (non-streaming JSON) or the SSE
 *   sequence of "Streaming Messages": `message_start`, `content_block_start`, `ping`,
 *   `content_block_delta` (`text_delta` / `input_json_delta`), `content_block_stop`,
 *   `message_delta` (stop_reason, usage), `message_stop`. An error turn answers its status
 *   with `{ type: 'error', error: { type, message }, request_id }` (429 with `retry-after`),
 *   or, with `midStream`, an SSE `error` event after `message_start`.
 * - Script failures (assertion thrown, script exhausted, tool_use of a tool the request does
 *   not define, stream mismatch) answer 400/500 with `x-should-retry: false` so the SDK does
 *   not retry them, and are listed in `failures`.
 *
 * @param options.port 0 (default) for a free port.
 * @returns the running server; `close()` it.
 */
export async function startMessagesApiLocal(options: MessagesApiLocalOptions): Promise<MessagesApiLocal> {
  const script = [...options.script];
  const chunkSize = Math.max(1, options.chunkSize ?? 12);
  const requests: RecordedRequest[] = [];
  const failures: string[] = [];
  let nextTurn = 0;
  let requestCounter = 0;

  const server = createServer((req, res) => {
    void handle(req, res).catch((error: unknown) => {
      failures.push(`messages-api-local internal error: ${error instanceof Error ? error.stack : String(error)}`);
      if (!res.headersSent) sendError(res, 500, 'api_error', 'messages-api-local internal error', { 'x-should-retry': 'false' });
      else res.end();
    });
  });

  async function readBody(req: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const index = requestCounter++;
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
    const raw = await readBody(req);
    let body: MessagesRequestBody | undefined;
    try {
      body = raw === '' ? undefined : (JSON.parse(raw) as MessagesRequestBody);
    } catch {
      body = undefined;
    }
    const record: RecordedRequest = {
      index,
      method: req.method ?? 'GET',
      path,
      headers,
      body,
      stream: body?.stream === true,
      status: 0,
      turn: null,
    };
    requests.push(record);
    const fail = (status: number, type: ApiErrorType, message: string, extra: Record<string, string> = {}): void => {
      record.status = status;
      record.errorMessage = message;
      sendError(res, status, type, message, { 'request-id': requestId(index), ...extra }, requestId(index));
    };

    if (path !== '/v1/messages') return fail(404, 'not_found_error', `Not found: ${req.method} ${path}`);
    if (req.method !== 'POST') return fail(405, 'invalid_request_error', `Method ${req.method} not allowed`);
    // The API takes the key as `x-api-key`; SDK 1.12 sends it as `Authorization: Bearer <key>`.
    const key = headers['x-api-key'] || /^bearer\s+(\S+)$/i.exec(headers['authorization'] ?? '')?.[1];
    if (!key) return fail(401, 'authentication_error', 'x-api-key header is required');
    if (options.apiKey !== undefined && key !== options.apiKey) return fail(401, 'authentication_error', 'invalid x-api-key');
    if (!headers['anthropic-version']) return fail(400, 'invalid_request_error', 'anthropic-version: header is required');
    if (body === undefined) return fail(400, 'invalid_request_error', 'There was an error parsing the body of your request: it is not valid JSON');
    const problem = validateMessagesRequest(body);
    if (problem) return fail(400, 'invalid_request_error', problem);

    if (nextTurn >= script.length) {
      const message = `messages-api-local: script exhausted (${script.length} turns) at request ${index}`;
      failures.push(message);
      return fail(500, 'api_error', message, { 'x-should-retry': 'false' });
    }
    const turnIndex = nextTurn++;
    record.turn = turnIndex;
    let entry = script[turnIndex]!;
    const scriptFail = (message: string): void => {
      const full = `messages-api-local: turn ${turnIndex}: ${message}`;
      failures.push(full);
      fail(400, 'invalid_request_error', full, { 'x-should-retry': 'false' });
    };
    try {
      while (typeof entry === 'function') entry = await entry(structuredClone(record));
      if (entry.expect) await entry.expect(structuredClone(record));
    } catch (error) {
      return scriptFail(`assertion failed: ${error instanceof Error ? error.message : String(error)}`);
    }

    if (isErrorTurn(entry)) {
      const status = ERROR_STATUS[entry.error];
      const message = entry.message ?? DEFAULT_ERROR_MESSAGE[entry.error];
      const retryAfter = entry.retryAfterSeconds ?? (entry.error === 'rate_limit_error' ? 1 : undefined);
      if (entry.midStream) {
        if (!record.stream) return scriptFail('midStream error turn served to a non-streaming request');
        record.status = 200;
        record.errorMessage = message;
        startStream(res, requestId(index));
        writeEvent(res, 'message_start', { type: 'message_start', message: messageShell(body, requestId(index), estimateTokens(body)) });
        writeEvent(res, 'ping', { type: 'ping' });
        writeEvent(res, 'error', { type: 'error', error: { type: entry.error, message }, request_id: requestId(index) });
        res.end();
        return;
      }
      return fail(status, entry.error, message, retryAfter === undefined ? {} : { 'retry-after': String(retryAfter) });
    }

    if (entry.stream !== undefined && entry.stream !== record.stream) {
      return scriptFail(`expected a ${entry.stream ? 'streaming' : 'non-streaming'} request`);
    }
    const toolNames = new Set((body.tools ?? []).map((t) => t.name));
    const unknown = entry.content.filter((b) => b.type === 'tool_use' && !toolNames.has(b.name)).map((b) => (b as { name: string }).name);
    if (unknown.length > 0) return scriptFail(`scripted tool_use of tools the request does not define: ${unknown.join(', ')}`);

    const message = buildMessage(entry, body, index);
    record.status = 200;
    if (record.stream) streamMessage(res, message, chunkSize, requestId(index));
    else {
      res.writeHead(200, { 'content-type': 'application/json', 'request-id': requestId(index) });
      res.end(JSON.stringify(message));
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closed: Promise<void> | null = null;

  return {
    url: `http://${host}:${address.port}`,
    get requests() {
      return structuredClone(requests);
    },
    get failures() {
      return [...failures];
    },
    get remainingTurns() {
      return script.length - nextTurn;
    },
    assertDone() {
      const problems = [...failures];
      if (nextTurn < script.length) problems.push(`${script.length - nextTurn} script turn(s) not served`);
      if (problems.length > 0) throw new Error(`messages-api-local: ${problems.join('; ')}`);
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

function requestId(index: number): string {
  return `req_local_${String(index).padStart(6, '0')}`;
}

function sendError(res: ServerResponse, status: number, type: ApiErrorType, message: string, headers: Record<string, string> = {}, reqId?: string): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify({ type: 'error', error: { type, message }, ...(reqId ? { request_id: reqId } : {}) }));
}

/** Content block as the API returns it (SDK 1.12 `TextBlock` / `ToolUseBlock`). */
type OutBlock =
  | { type: 'text'; text: string; citations: null }
  | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown>; caller: { type: 'direct' } };

interface OutMessage {
  id: string;
  type: 'message';
  role: 'assistant';
  model: string;
  content: OutBlock[];
  stop_reason: string | null;
  stop_sequence: null;
  stop_details: null;
  container: null;
  usage: { input_tokens: number; output_tokens: number; cache_creation_input_tokens: number; cache_read_input_tokens: number; service_tier: 'standard' };
}

function messageShell(body: MessagesRequestBody, id: string, inputTokens: number): OutMessage {
  return {
    id: `msg_local_${id.slice('req_local_'.length)}`,
    type: 'message',
    role: 'assistant',
    model: body.model,
    content: [],
    stop_reason: null,
    stop_sequence: null,
    stop_details: null,
    container: null,
    usage: { input_tokens: inputTokens, output_tokens: 1, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, service_tier: 'standard' },
  };
}

function buildMessage(turn: ScriptResponseTurn, body: MessagesRequestBody, index: number): OutMessage {
  const content: OutBlock[] = turn.content.map((b: ScriptContentBlock, i) =>
    b.type === 'text'
      ? { type: 'text', text: b.text, citations: null }
      : { type: 'tool_use', id: b.id ?? `toolu_local_${index}_${i}`, name: b.name, input: b.input, caller: { type: 'direct' } },
  );
  const message = messageShell(body, requestId(index), turn.usage?.input_tokens ?? estimateTokens({ s: body.system, m: body.messages, t: body.tools }));
  message.content = content;
  message.stop_reason = turn.stop_reason ?? (content.some((b) => b.type === 'tool_use') ? 'tool_use' : 'end_turn');
  message.usage = {
    input_tokens: message.usage.input_tokens,
    output_tokens: turn.usage?.output_tokens ?? estimateTokens(content),
    cache_creation_input_tokens: turn.usage?.cache_creation_input_tokens ?? 0,
    cache_read_input_tokens: turn.usage?.cache_read_input_tokens ?? 0,
    service_tier: 'standard',
  };
  return message;
}

function startStream(res: ServerResponse, reqId: string): void {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'request-id': reqId });
}

function writeEvent(res: ServerResponse, event: string, data: unknown): void {
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

function chunks(text: string, size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

/** The SSE event sequence of "Streaming Messages" for a complete message. */
function streamMessage(res: ServerResponse, message: OutMessage, chunkSize: number, reqId: string): void {
  startStream(res, reqId);
  const start = { ...message, content: [], stop_reason: null, usage: { ...message.usage, output_tokens: 1 } };
  writeEvent(res, 'message_start', { type: 'message_start', message: start });
  for (const [index, block] of message.content.entries()) {
    if (block.type === 'text') {
      writeEvent(res, 'content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '', citations: null } });
      if (index === 0) writeEvent(res, 'ping', { type: 'ping' });
      for (const piece of chunks(block.text, chunkSize)) {
        writeEvent(res, 'content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text: piece } });
      }
    } else {
      writeEvent(res, 'content_block_start', {
        type: 'content_block_start',
        index,
        content_block: { type: 'tool_use', id: block.id, name: block.name, input: {}, caller: block.caller },
      });
      if (index === 0) writeEvent(res, 'ping', { type: 'ping' });
      writeEvent(res, 'content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: '' } });
      for (const piece of chunks(JSON.stringify(block.input), chunkSize)) {
        writeEvent(res, 'content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: piece } });
      }
    }
    writeEvent(res, 'content_block_stop', { type: 'content_block_stop', index });
  }
  writeEvent(res, 'message_delta', {
    type: 'message_delta',
    delta: { stop_reason: message.stop_reason, stop_sequence: null },
    usage: {
      input_tokens: message.usage.input_tokens,
      output_tokens: message.usage.output_tokens,
      cache_creation_input_tokens: message.usage.cache_creation_input_tokens,
      cache_read_input_tokens: message.usage.cache_read_input_tokens,
    },
  });
  writeEvent(res, 'message_stop', { type: 'message_stop' });
  res.end();
}
