/**
 * messages-api-local: a local server speaking the Anthropic Messages API (`POST /v1/messages`,
 * JSON and SSE streaming), answering from a script, for tests and local runs of the real
 * `@anthropic-ai/sdk` client (the Anthropic API is unreachable here). This is the package's
 * only public entry.
 */
export { startMessagesApiLocal, type MessagesApiLocal, type MessagesApiLocalOptions } from './server.js';
export {
  ERROR_STATUS,
  lastToolResults,
  type ApiErrorType,
  type MessagesRequestBody,
  type RecordedRequest,
  type RecordedToolResult,
  type RequestAssertion,
  type ScriptContentBlock,
  type ScriptErrorTurn,
  type ScriptResponseTurn,
  type ScriptStopReason,
  type ScriptTurn,
  type ScriptTurnFn,
  type ScriptUsage,
} from './script.js';
export { validateMessagesRequest } from './validate-request.js';
