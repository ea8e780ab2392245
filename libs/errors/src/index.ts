/**
 * The project's error hierarchy. Every error has a stable `code` (SCREAMING_SNAKE, never
 * reworded once published) and a `retryable` flag that the consumer runtime maps to
 * `nak(delay)` (retryable) or `term()` (not retryable). `cause` is kept.
 *
 * Shape follows Temporal's `ApplicationFailure` (nonRetryable) and nats.js error classes
 * (`(message, { cause })`).
 */
export class RemediationError extends Error {
  /** Stable machine-readable code, e.g. `SCAN_INVALID`. */
  readonly code: string;
  /** Whether trying the same operation again may succeed. */
  readonly retryable: boolean;
  /** Structured details safe to show to API callers and store in history. */
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: string,
    message: string,
    options: { retryable?: boolean; cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RemediationError';
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.details = options.details;
  }
}

/** Input that can never become valid by retrying (bad scan, bad manifest, unknown tier). */
export class InvalidInputError extends RemediationError {
  constructor(code: string, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(code, message, { ...options, retryable: false });
    this.name = 'InvalidInputError';
  }
}

/** A dependency (registry, git remote, GitHub, database, NATS) failed in a way a retry may fix. */
export class TransientError extends RemediationError {
  constructor(code: string, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(code, message, { ...options, retryable: true });
    this.name = 'TransientError';
  }
}

/** The requested state change is not allowed from the current state (see the state machine). */
export class InvalidTransitionError extends RemediationError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('INVALID_TRANSITION', message, { retryable: false, details });
    this.name = 'InvalidTransitionError';
  }
}

/** A compare-and-set lost: someone else changed the row first. */
export class ConcurrencyConflictError extends RemediationError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('CONCURRENCY_CONFLICT', message, { retryable: true, details });
    this.name = 'ConcurrencyConflictError';
  }
}

/** The thing asked for does not exist. */
export class NotFoundError extends RemediationError {
  constructor(what: string, id: string) {
    super('NOT_FOUND', `${what} ${id} not found`, { retryable: false, details: { what, id } });
    this.name = 'NotFoundError';
  }
}

/** Type guard for the project's errors. */
export function isRemediationError(err: unknown): err is RemediationError {
  return err instanceof RemediationError;
}

/** Error message with its cause chain, for history rows and logs: `outer: inner: innermost`. */
export function describeError(err: unknown): string {
  const parts: string[] = [];
  let current: unknown = err;
  for (let depth = 0; current !== undefined && current !== null && depth < 5; depth++) {
    parts.push(current instanceof Error ? current.message : String(current));
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join(': ');
}

/**
 * `{ code, message }` of an error for a failed state and its history row: the project error's
 * code, else `fallbackCode`; the message with its cause chain.
 */
export function errorInfo(err: unknown, fallbackCode: string): { code: string; message: string } {
  return { code: isRemediationError(err) ? err.code : fallbackCode, message: describeError(err) };
}
