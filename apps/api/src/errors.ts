import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import type { ErrorBody } from '@remediation/contracts';
import { isRemediationError } from '@remediation/errors';

/** HTTP status for each error code; unknown codes of non-retryable errors are 400. */
const STATUS_BY_CODE: Record<string, number> = {
  NOT_FOUND: 404,
  INVALID_TRANSITION: 409,
  CONCURRENCY_CONFLICT: 409,
  PLAN_NOT_READY: 409,
  PLAN_RUNNING: 409,
  PATCH_NOT_READY: 409,
  PATCH_NOT_APPROVABLE: 409,
  UNKNOWN_TARGET: 422,
  NO_TARGETS: 422,
  SCAN_INVALID: 400,
  SCAN_UNSUPPORTED_VERSION: 400,
  SCAN_FORMAT_UNKNOWN: 400,
  CODEBASE_INVALID: 400,
  BRANCH_NAME_INVALID: 400,
  UPSTREAM_UNAVAILABLE: 503,
};

/** The only content type request bodies may have. */
export const ACCEPTED_CONTENT_TYPE = 'application/json';

/** Longest request target (path and query) the API reads, in bytes (characters): 8 KiB. Longer → 414. */
export const DEFAULT_MAX_URL_LENGTH = 8 * 1024;

/**
 * Bodies of fastify's own errors (fastify "Errors" reference, `FST_ERR_*` codes) in our
 * {@link ErrorBody} shape, naming what was wrong and what is accepted.
 */
function fastifyErrorBody(err: FastifyError, bodyLimit: number): { status: number; body: ErrorBody } | null {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, body: { code: 'BODY_TOO_LARGE', message: `request body is larger than the limit of ${bodyLimit} bytes`, details: { limitBytes: bodyLimit } } };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE': {
      return {
        status: 415,
        body: {
          code: 'UNSUPPORTED_MEDIA_TYPE',
          message: `unsupported content type: request bodies must be ${ACCEPTED_CONTENT_TYPE}`,
          details: { accepted: [ACCEPTED_CONTENT_TYPE] },
        },
      };
    }
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { status: 400, body: { code: 'REQUEST_INVALID', message: 'the request body does not match its Content-Length' } };
    default:
      return null;
  }
}

/**
 * Maps errors to `{ code, message, details }` bodies (ErrorBody): request validation → 400
 * `REQUEST_INVALID` naming each bad field; project errors by code; fastify's content errors →
 * 413 `BODY_TOO_LARGE`, 415 `UNSUPPORTED_MEDIA_TYPE` (naming `application/json`); unknown routes →
 * 404 `ROUTE_NOT_FOUND`; anything else → 500 `INTERNAL` without internals.
 */
export function installErrorHandler(app: FastifyInstance<any, any, any, any, any>, options: { bodyLimit: number }): void {
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
    const known = fastifyErrorBody(err, options.bodyLimit);
    if (known) return reply.code(known.status).send(known.body);
    if (err.statusCode && err.statusCode < 500) {
      return reply.code(err.statusCode).send({ code: err.code ?? 'REQUEST_INVALID', message: err.message });
    }
    req.log.error({ err }, 'unhandled error');
    return reply.code(500).send({ code: 'INTERNAL', message: 'internal error' });
  });
  app.setNotFoundHandler((req, reply) => {
    const path = (req.url.split('?')[0] ?? '').slice(0, 200);
    return reply.code(404).send({ code: 'ROUTE_NOT_FOUND', message: `no route ${req.method} ${path}`, details: { method: req.method, path } });
  });
}

/**
 * `onRequest` check of the request target's length: longer than `maxUrlLength` → 414
 * `URL_TOO_LONG`. (Targets past node's header limit, 16 KiB by default, never reach fastify:
 * {@link clientErrorHandler} answers those 431.)
 */
export function installUrlLimit(app: FastifyInstance<any, any, any, any, any>, maxUrlLength: number): void {
  app.addHook('onRequest', async (req, reply) => {
    if (req.url.length > maxUrlLength) {
      return reply.code(414).send({
        code: 'URL_TOO_LONG',
        message: `request URL is ${req.url.length} characters long; the limit is ${maxUrlLength}`,
        details: { limit: maxUrlLength },
      });
    }
  });
}

/**
 * fastify's `frameworkErrors` (errors fastify raises before a route's hooks, e.g. a malformed URL
 * `FST_ERR_BAD_URL`, a parameter past the router's limit): answered with our {@link ErrorBody},
 * without repeating the URL.
 */
export function frameworkErrors(err: FastifyError, _req: FastifyRequest, reply: FastifyReply): void {
  const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 400;
  const body: ErrorBody =
    status === 414
      ? { code: 'URL_TOO_LONG', message: `request URL is longer than the limit of ${DEFAULT_MAX_URL_LENGTH}`, details: { limit: DEFAULT_MAX_URL_LENGTH } }
      : { code: 'REQUEST_INVALID', message: `malformed request URL (${err.code ?? 'invalid'})` };
  void reply.code(status).send(body);
}

const CLIENT_ERRORS: Record<string, { status: number; reason: string; body: ErrorBody }> = {
  HPE_HEADER_OVERFLOW: {
    status: 431,
    reason: 'Request Header Fields Too Large',
    body: { code: 'HEADERS_TOO_LARGE', message: 'request headers (with the request line) are larger than the server accepts (16 KiB)' },
  },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, reason: 'Request Timeout', body: { code: 'REQUEST_TIMEOUT', message: 'the request took too long to arrive' } },
};

/**
 * fastify's `clientErrorHandler` (node's `clientError`: a request node could not parse, before any
 * route): answers with our {@link ErrorBody} — 431 `HEADERS_TOO_LARGE` for headers past node's
 * `maxHeaderSize`, 408 for a timeout, 400 `REQUEST_MALFORMED` for anything else — then closes the
 * connection.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket, _req?: IncomingMessage): void {
  if (!socket.writable) return;
  const known = (err.code && CLIENT_ERRORS[err.code]) || {
    status: 400,
    reason: 'Bad Request',
    body: { code: 'REQUEST_MALFORMED', message: 'the request is not valid HTTP/1.1' },
  };
  const body = JSON.stringify(known.body);
  socket.end(
    `HTTP/1.1 ${known.status} ${known.reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
