/**
 * The script a messages-api-local server answers from: one entry per expected request, in order.
 *
 * Shapes follow the Anthropic Messages API reference, "Create a Message" (response `content`,
 * `stop_reason`, `usage`) and "Errors" (HTTP status and `error.type` pairs):
 * https://docs.anthropic.com/en/api/messages and https://docs.anthropic.com/en/api/errors
 */

/** `stop_reason` values of the Messages API ("Create a Message", response `stop_reason`). */
export type ScriptStopReason = 'end_turn' | 'max_tokens' | 'stop_sequence' | 'tool_use' | 'pause_turn' | 'refusal';

/** A content block the scripted model answers with. */
export type ScriptContentBlock =
  | { type: 'text'; text: string }
  | {
      type: 'tool_use';
      /** Tool name; must be one of the request's `tools` (else the script fails). */
      name: string;
      /** Tool input object, sent as is (streamed as `input_json_delta` chunks). */
      input: Record<string, unknown>;
      /** Block id; default `toolu_local_<request>_<block>`. */
      id?: string;
    };

/** Token usage the scripted response reports. Defaults: a chars/4 estimate of request and response. */
export interface ScriptUsage {
  input_tokens?: number;
  output_tokens?: number;
  cache_creation_input_tokens?: number;
  cache_read_input_tokens?: number;
}

/**
 * Inspection hook run on the request before the turn is answered. Throw (e.g. a failed
 * `expect`) to fail the script: the server then answers 400 `invalid_request_error` with
 * `x-should-retry: false` and records the message in `failures`.
 */
export type RequestAssertion = (request: RecordedRequest) => void | Promise<void>;

/** A successful scripted answer. */
export interface ScriptResponseTurn {
  content: ScriptContentBlock[];
  /** Default `tool_use` when `content` holds a tool_use block, else `end_turn`. */
  stop_reason?: ScriptStopReason;
  usage?: ScriptUsage;
  /** Serve only to a streaming (`true`) or non-streaming (`false`) request; a mismatch fails the script. */
  stream?: boolean;
  expect?: RequestAssertion;
}

/**
 * Error types and their HTTP status ("Errors" page of the API reference):
 * 400 invalid_request_error, 401 authentication_error, 402 billing_error, 403 permission_error,
 * 404 not_found_error, 413 request_too_large, 429 rate_limit_error, 500 api_error,
 * 504 timeout_error, 529 overloaded_error.
 */
export const ERROR_STATUS = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
} as const;

/** An `error.type` of the Messages API. */
export type ApiErrorType = keyof typeof ERROR_STATUS;

/** A scripted error answer. */
export interface ScriptErrorTurn {
  error: ApiErrorType;
  /** `error.message`; a default per type otherwise (e.g. `Overloaded`). */
  message?: string;
  /**
   * Value of the `retry-after` header in seconds (fractions allowed; the SDK honours them).
   * Default: 1 for `rate_limit_error`, absent otherwise.
   */
  retryAfterSeconds?: number;
  /**
   * Streaming requests only: answer HTTP 200, send `message_start` and a `ping`, then an
   * `error` event with this error, as the API does when it fails mid-stream ("Streaming
   * Messages", "Error events"). The SDK does not retry those.
   */
  midStream?: boolean;
  expect?: RequestAssertion;
}

/** A turn computed from the request (for branching scripts). */
export type ScriptTurnFn = (request: RecordedRequest) => ScriptTurn | Promise<ScriptTurn>;

/** One entry of a script. */
export type ScriptTurn = ScriptResponseTurn | ScriptErrorTurn | ScriptTurnFn;

/** Every request the server received, valid or not, in arrival order. */
export interface RecordedRequest {
  /** 0-based arrival index. */
  index: number;
  method: string;
  /** Path without the query string, e.g. `/v1/messages`. */
  path: string;
  /** Lower-cased header names; repeated headers joined with `, `. */
  headers: Record<string, string>;
  /** Parsed JSON body, or `undefined` when the body is not JSON. */
  body: MessagesRequestBody | undefined;
  /** `body.stream === true`. */
  stream: boolean;
  /** HTTP status answered (200 for a stream, even one that ends in an `error` event). */
  status: number;
  /** Index of the script turn that answered, or null (validation failure, auth failure, exhausted script). */
  turn: number | null;
  /** `error.message` when the server answered an error (validation, scripted, or assertion). */
  errorMessage?: string;
}

/** The parts of a Messages API request body the server reads (anything else is kept as sent). */
export interface MessagesRequestBody {
  model: string;
  max_tokens: number;
  messages: Array<{ role: 'user' | 'assistant'; content: string | Array<Record<string, unknown>> }>;
  system?: string | Array<{ type: 'text'; text: string }>;
  tools?: Array<{ name: string; description?: string; input_schema: Record<string, unknown> }>;
  tool_choice?: { type: 'auto' | 'any' | 'tool' | 'none'; name?: string };
  stream?: boolean;
  [key: string]: unknown;
}

/** A `tool_result` block of a request, its content flattened to text. */
export interface RecordedToolResult {
  tool_use_id: string;
  /** Text of the block (string content, or its text blocks joined with `\n`). */
  content: string;
  is_error: boolean;
}

/**
 * The `tool_result` blocks of the request's LAST message (the results of the previous turn's
 * tool calls), in order. Empty when the last message holds none.
 */
export function lastToolResults(request: RecordedRequest): RecordedToolResult[] {
  const last = request.body?.messages?.at(-1);
  if (!last || typeof last.content === 'string') return [];
  return last.content
    .filter((b) => b['type'] === 'tool_result')
    .map((b) => {
      const c = b['content'];
      const text =
        typeof c === 'string'
          ? c
          : Array.isArray(c)
            ? c
                .filter((x: Record<string, unknown>) => x['type'] === 'text')
                .map((x: Record<string, unknown>) => String(x['text']))
                .join('\n')
            : '';
      return { tool_use_id: String(b['tool_use_id']), content: text, is_error: b['is_error'] === true };
    });
}
