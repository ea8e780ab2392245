import type { FastifyError, FastifyInstance } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { isRemediationError } from '@remediation/errors';

/** HTTP status for each error code; unknown codes of non-retryable errors are 400. */
const STATUS_BY_CODE: Record<string, number> = {
  NOT_FOUND: 404,
  INVALID_TRANSITION: 409,
  CONCURRENCY_CONFLICT: 409,
  PLAN_NOT_READY: 409,
  PATCH_NOT_READY: 409,
  PATCH_NOT_APPROVABLE: 409,
  UNKNOWN_TARGET: 422,
  NO_TARGETS: 422,
  SCAN_INVALID: 400,
  SCAN_UNSUPPORTED_VERSION: 400,
  CODEBASE_INVALID: 400,
  UPSTREAM_UNAVAILABLE: 503,
};

/**
 * Maps errors to `{ code, message, details }` bodies (ErrorBody): request validation → 400
 * `REQUEST_INVALID` naming each bad field; project errors by code; anything else → 500
 * `INTERNAL` without internals.
 */
export function installErrorHandler(app: FastifyInstance<any, any, any, any, any>): void {
  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (hasZodFastifySchemaValidationErrors(err)) {
      return reply.code(400).send({
        code: 'REQUEST_INVALID',
        message: `invalid request: ${err.validation.map((v) => `${err.validationContext ?? ''}${v.instancePath || ''} ${v.message}`.trim()).join('; ')}`,
        details: { issues: err.validation.map((v) => ({ path: v.instancePath, message: v.message })) },
      });
    }
    if (isRemediationError(err)) {
      const status = STATUS_BY_CODE[err.code] ?? (err.retryable ? 503 : 400);
      return reply.code(status).send({ code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) });
    }
    if (err.statusCode && err.statusCode < 500) {
      return reply.code(err.statusCode).send({ code: err.code ?? 'REQUEST_INVALID', message: err.message });
    }
    req.log.error({ err }, 'unhandled error');
    return reply.code(500).send({ code: 'INTERNAL', message: 'internal error' });
  });
}
