import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance } from 'fastify';
import { type ZodTypeProvider, jsonSchemaTransform, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  CancelRequest,
  CreateExecutionRequest,
  DeadLetter,
  CreatePullRequestRequest,
  CreateRemediationRequest,
  DiffResponse,
  ErrorBody,
  ExecutionResponse,
  FeedbackBody,
  FeedbackRequest,
  HistoryResponse,
  PullRequestBody,
  RemediationResponse,
  type RepositoryPolicy,
} from '@remediation/contracts';
import type { Database } from '@remediation/persistence';
import { getDeadLetters, getExecutionView, getHistory, getRemediationView } from '@remediation/persistence';
import type { NatsHandles } from '@remediation/messaging';
import type { Logger } from 'pino';
import { DEFAULT_MAX_URL_LENGTH, clientErrorHandler, frameworkErrors, installErrorHandler, installUrlLimit } from './errors.js';
import { createExecution, createRemediation } from './handlers/remediations.js';
import { cancelExecution, getDiff, requestPullRequest, retryExecution, submitFeedback } from './handlers/executions.js';

/** What the API's handlers need. */
export interface ApiContext {
  db: Database;
  nats: NatsHandles;
  worker: string;
  logger: Logger;
  /**
   * Codebase policy (which repository locations are accepted). Default: remote repositories on
   * github.com only, local paths and file:// refused.
   */
  repositoryPolicy?: RepositoryPolicy;
}

const IdParam = z.object({ id: z.string().min(1).max(100) });
const errors = { 400: ErrorBody, 404: ErrorBody, 409: ErrorBody, 413: ErrorBody, 414: ErrorBody, 415: ErrorBody, 422: ErrorBody, 503: ErrorBody };

/**
 * Builds the HTTP API v1 (fastify 5 + zod). Schemas on every route give validation,
 * serialisation and the OpenAPI description (served at `/docs`, JSON at `/docs/json`).
 * Every error answer is an `ErrorBody` (errors.ts): unknown routes 404, bodies past
 * `bodyLimitBytes` (default 50 MiB, scans can be large) 413, URLs past `maxUrlLength` (default
 * 8 KiB) 414, bodies other than `application/json` 415, headers past node's limit 431, bad JSON
 * and unknown fields 400.
 */
export async function buildApi(
  ctx: ApiContext,
  options: { bodyLimitBytes?: number; maxUrlLength?: number } = {},
): Promise<FastifyInstance<any, any, any, any, any>> {
  const bodyLimit = options.bodyLimitBytes ?? 50 * 1024 * 1024;
  const maxUrlLength = options.maxUrlLength ?? DEFAULT_MAX_URL_LENGTH;
  const app = Fastify({
    loggerInstance: ctx.logger,
    bodyLimit,
    clientErrorHandler,
    frameworkErrors,
    // Long parameters reach the routes, where the URL limit (414) and the schemas (400) answer
    // (node's header limit, 16 KiB, bounds a parameter before this does).
    routerOptions: { maxParamLength: 64 * 1024 },
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installErrorHandler(app, { bodyLimit });
  installUrlLimit(app, maxUrlLength);
  // JSON only (fastify also parses text/plain by default): anything else is 415.
  // An empty body with a JSON content type (POST /retry from curl or a client) means "no body".
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    if (body === '') return done(null, undefined);
    try {
      done(null, JSON.parse(body as string));
    } catch (err) {
      done(Object.assign(new Error(`the request body is not valid JSON: ${(err as Error).message}`), { statusCode: 400, code: 'REQUEST_INVALID' }), undefined);
    }
  });
  await app.register(swagger, {
    openapi: {
      info: { title: 'Remediation API', version: '1.0.0', description: 'Plans and applies upgrades that fix vulnerable dependencies, and opens pull requests.' },
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  app.post('/v1/remediations', {
    schema: {
      summary: 'Create a remediation from a codebase and a CycloneDX scan; planning starts at once',
      headers: z.object({ 'idempotency-key': z.string().min(1).max(200).optional() }),
      body: CreateRemediationRequest,
      response: { 201: RemediationResponse, 200: RemediationResponse, ...errors },
    },
  }, async (req, reply) => {
    const { created, remediation } = await createRemediation(ctx, req.body, req.headers['idempotency-key']);
    return reply.code(created ? 201 : 200).send(remediation);
  });

  app.get('/v1/remediations/:id', {
    schema: { summary: 'A remediation: state (of its latest plan), plan, executions', params: IdParam, response: { 200: RemediationResponse, ...errors } },
  }, async (req) => getRemediationView(ctx.db, req.params.id));

  app.post('/v1/remediations/:id/executions', {
    schema: {
      summary: 'Start a patch execution for a tier (optionally a subset of targets)',
      params: IdParam,
      headers: z.object({ 'idempotency-key': z.string().min(1).max(200).optional() }),
      body: CreateExecutionRequest,
      response: { 202: ExecutionResponse, 200: ExecutionResponse, ...errors },
    },
  }, async (req, reply) => {
    const { created, execution } = await createExecution(ctx, req.params.id, req.body, req.headers['idempotency-key']);
    return reply.code(created ? 202 : 200).send(execution);
  });

  app.get('/v1/executions/:id', {
    schema: { summary: 'An execution: state, targets, patch versions (ref + SHA), pull requests', params: IdParam, response: { 200: ExecutionResponse, ...errors } },
  }, async (req) => getExecutionView(ctx.db, req.params.id));

  app.get('/v1/executions/:id/history', {
    schema: { summary: 'Every transition and heartbeat of an execution, in order', params: IdParam, response: { 200: HistoryResponse, ...errors } },
  }, async (req) => getHistory(ctx.db, req.params.id));

  app.get('/v1/remediations/:id/history', {
    schema: { summary: "History of the remediation's latest plan execution", params: IdParam, response: { 200: HistoryResponse, ...errors } },
  }, async (req) => getHistory(ctx.db, (await getRemediationView(ctx.db, req.params.id)).planExecution.id));

  app.post('/v1/executions/:id/retry', {
    schema: {
      summary: 'Resume a failed execution (plan or patch) at the step that failed',
      params: IdParam,
      response: { 202: ExecutionResponse, ...errors },
    },
  }, async (req, reply) => {
    await retryExecution(ctx, req.params.id);
    return reply.code(202).send(await getExecutionView(ctx.db, req.params.id));
  });

  app.post('/v1/executions/:id/feedback', {
    schema: {
      summary: 'Review feedback on the latest patch version: starts an iteration that yields the next version',
      params: IdParam,
      body: FeedbackRequest,
      response: { 202: FeedbackBody, ...errors },
    },
  }, async (req, reply) => {
    return reply.code(202).send(await submitFeedback(ctx, req.params.id, req.body));
  });

  app.post('/v1/executions/:id/cancel', {
    schema: {
      summary: 'Stop a running execution (plan or patch); its workspace is released',
      params: IdParam,
      body: CancelRequest.default({ reason: 'cancelled by the API caller' }),
      response: { 202: ExecutionResponse, ...errors },
    },
  }, async (req, reply) => {
    await cancelExecution(ctx, req.params.id, req.body?.reason ?? 'cancelled by the API caller');
    return reply.code(202).send(await getExecutionView(ctx.db, req.params.id));
  });

  app.get('/v1/dead-letters', {
    schema: {
      summary: 'Messages given up on after their deliveries ran out, newest first',
      querystring: z.strictObject({ executionId: z.string().max(200).optional() }),
      response: { 200: z.object({ deadLetters: z.array(DeadLetter) }), ...errors },
    },
  }, async (req) => ({ deadLetters: await getDeadLetters(ctx.db, req.query.executionId) }));

  app.get('/v1/executions/:id/diff', {
    schema: {
      summary: 'Unified diff of the latest (or a given) patch version',
      params: IdParam,
      querystring: z.strictObject({ version: z.coerce.number().int().positive().optional() }),
      response: { 200: DiffResponse, ...errors },
    },
  }, async (req) => getDiff(ctx, req.params.id, req.query.version));

  app.post('/v1/executions/:id/pull-requests', {
    schema: {
      summary: 'Approve a patch version and open its pull request',
      params: IdParam,
      body: CreatePullRequestRequest.default({}),
      response: { 202: PullRequestBody, ...errors },
    },
  }, async (req, reply) => reply.code(202).send(await requestPullRequest(ctx, req.params.id, req.body ?? {})));

  return app;
}
