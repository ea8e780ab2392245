import { InvalidInputError, RemediationError, TransientError } from '@remediation/errors';

/**
 * Codes of the agent's errors (stable once published, see `@remediation/errors`):
 * - `AGENT_API_UNAVAILABLE` (retryable): the Messages API kept failing with 429, 408, 409, 5xx,
 *   529 `overloaded_error`, a mid-stream `error` event, or a connection error, after the SDK's
 *   retries and ours. Retrying the step later may succeed.
 * - `AGENT_REQUEST_INVALID` (not retryable): the API rejected the request (400
 *   `invalid_request_error`, 404, 413 `request_too_large`, 422) or the SDK refused it before
 *   sending (e.g. a non-streaming request whose `max_tokens` needs streaming). A bug or a
 *   configuration error (unknown model): the same request fails again.
 * - `AGENT_API_ACCESS_DENIED` (not retryable): 401 `authentication_error`, 402 `billing_error`,
 *   403 `permission_error`: fix the key or the account.
 * - `AGENT_RESPONSE_INVALID` (retryable): the model's answer does not have the required shape
 *   (e.g. the forced decision tool call is missing or its input fails validation).
 * - `PROMPT_TEMPLATE_INVALID` (not retryable): a prompt file is missing or uses a placeholder
 *   the caller did not supply.
 */
export type AgentErrorCode =
  | 'AGENT_API_UNAVAILABLE'
  | 'AGENT_REQUEST_INVALID'
  | 'AGENT_API_ACCESS_DENIED'
  | 'AGENT_RESPONSE_INVALID'
  | 'PROMPT_TEMPLATE_INVALID';

/** The Messages API is unavailable after all retries (`AGENT_API_UNAVAILABLE`, retryable). */
export class AgentApiUnavailableError extends TransientError {
  constructor(message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super('AGENT_API_UNAVAILABLE', message, options);
    this.name = 'AgentApiUnavailableError';
  }
}

/** The request to the Messages API is invalid (`AGENT_REQUEST_INVALID`, not retryable). */
export class AgentRequestInvalidError extends InvalidInputError {
  constructor(message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super('AGENT_REQUEST_INVALID', message, options);
    this.name = 'AgentRequestInvalidError';
  }
}

/** The API refused the credentials or the account (`AGENT_API_ACCESS_DENIED`, not retryable). */
export class AgentAccessDeniedError extends InvalidInputError {
  constructor(message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super('AGENT_API_ACCESS_DENIED', message, options);
    this.name = 'AgentAccessDeniedError';
  }
}

/** The model's answer has the wrong shape (`AGENT_RESPONSE_INVALID`, retryable). */
export class AgentResponseInvalidError extends RemediationError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('AGENT_RESPONSE_INVALID', message, { retryable: true, details });
    this.name = 'AgentResponseInvalidError';
  }
}

/** A prompt file is missing or its placeholders do not match (`PROMPT_TEMPLATE_INVALID`). */
export class PromptTemplateError extends InvalidInputError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('PROMPT_TEMPLATE_INVALID', message, { details });
    this.name = 'PromptTemplateError';
  }
}

/**
 * A tool call the agent must refuse or that failed: its message goes back to the model as an
 * `is_error: true` tool result ("Handling tool use and tool results", "Handling errors"), never
 * out of the loop. Messages say what was wrong and what to do instead.
 */
export class ToolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ToolError';
  }
}

/** Thrown inside the loop when the caller's signal aborted a request; becomes outcome `cancelled`. */
export class AgentCancelledError extends Error {
  constructor() {
    super('agent run cancelled');
    this.name = 'AgentCancelledError';
  }
}
