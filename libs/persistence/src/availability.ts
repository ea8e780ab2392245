import { ConnectionException } from '@mikro-orm/core';
import { isRemediationError } from '@remediation/errors';

/** PostgreSQL SQLSTATEs meaning the server or connection went away (PostgreSQL docs, Appendix A). */
const UNAVAILABLE_SQLSTATES = new Set(['08000', '08001', '08003', '08004', '08006', '57P01', '57P02', '57P03', '53300']);
const UNAVAILABLE_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND']);
const UNAVAILABLE_MESSAGES = /Connection terminated|connection error|terminating connection|timeout exceeded when trying to connect|Client was closed|Connection ended/i;

/**
 * Whether `err` (or one of its causes) means the database is unreachable rather than that the
 * work is wrong: a dropped connection, a restarting server, a refused connect. Such errors must
 * not burn JetStream deliveries: the consumer runtime keeps the message alive and retries.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  let current: unknown = err;
  for (let depth = 0; current && depth < 6; depth++) {
    if (current instanceof ConnectionException) return true;
    // An error the project already classified (e.g. the Messages API refusing connections) is
    // about its own dependency, not the database.
    if (isRemediationError(current)) return false;
    const e = current as { code?: unknown; errno?: unknown; sqlState?: unknown; message?: unknown; cause?: unknown };
    if (typeof e.code === 'string' && (UNAVAILABLE_SQLSTATES.has(e.code) || UNAVAILABLE_ERRNOS.has(e.code))) return true;
    if (typeof e.sqlState === 'string' && UNAVAILABLE_SQLSTATES.has(e.sqlState)) return true;
    if (typeof e.message === 'string' && UNAVAILABLE_MESSAGES.test(e.message)) return true;
    current = e.cause;
  }
  return false;
}
