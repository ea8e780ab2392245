import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance, type RouteOptions } from 'fastify';
import { type ZodTypeProvider, jsonSchemaTransform, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  CancelRequest,
  CreateExecutionRequest,
  AttemptsResponse,
  ConversationsResponse,
  DeadLetter,
  ExecutionListQuery,
  ExecutionListResponse,
  CreatePullRequestRequest,
  CreateRemediationRequest,
  DiffResponse,
  ErrorBody,
  ExecutionResponse,
  FeedbackBody,
  FeedbackRequest,
  HistoryResponse,
  PullRequestBody,
  RemediationListQuery,
  RemediationListResponse,
  RemediationResponse,
  type RepositoryPolicy,
} from '@remediation/contracts';
import type { Database } from '@remediation/persistence';
import { getDeadLetters, getExecutionView, getHistory, getRemediationView, getConversationSummaries, getStepAttempts, listExecutions, listRemediations } from '@remediation/persistence';
import type { NatsHandles } from '@remediation/messaging';
import type { Logger } from 'pino';
import { DEFAULT_SCAN_LIMITS_CONFIG, type ScanLimitsConfig } from './adapters/scan-parser.js';
import { installJsonBody, scanWasChecked } from './body.js';
import { installConsole } from './console.js';
import { type JwtSettings, installAuthentication } from './auth.js';
import { DEFAULT_MAX_URL_LENGTH, clientErrorHandler, frameworkErrors, installErrorHandler, installUrlLimit } from './errors.js';
import { DEFAULT_RATE_LIMIT, type RateLimitConfig, installRateLimit } from './rate-limit.js';
import { createExecution, createPlan, createRemediation } from './handlers/remediations.js';
import { cancelExecution, getDiff, requestPullRequest, retryExecution, submitFeedback } from './handlers/executions.js';
import { DEFAULT_EVENTS_OPTIONS, type EventsOptions, EventStreams } from './handlers/events.js';

/** What the API's handlers need. */
export interface ApiContext {
  db: Database;
  nats: NatsHandles;
  worker: string;
  logger: Logger;
  /** JWT verification (AUTH_* env); without it only API keys are accepted. */
  jwt?: JwtSettings | undefined;
  /**
   * Codebase policy (which repository locations are accepted). Default: remote repositories on
   * github.com only, local paths and file:// refused.
   */
  repositoryPolicy?: RepositoryPolicy;
}

const IdParam = z.object({ id: z.string().min(1).max(100) });
const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody, 413: ErrorBody, 414: ErrorBody, 415: ErrorBody, 422: ErrorBody, 503: ErrorBody };
/** Both credentials are accepted on every `/v1/` route (OpenAPI security requirement: either). */
const security: Array<Record<string, string[]>> = [{ bearer: [] }, { apiKey: [] }];

/** Options of {@link buildApi}; each part defaults to its `DEFAULT_*`. */
export interface ApiOptions {
  /** Body and scan limits, and the worker threads that parse scans (see ./body.ts). */
  scanLimits?: Partial<ScanLimitsConfig>;
  /** Requests per caller and window (see ./rate-limit.ts). */
  rateLimit?: Partial<RateLimitConfig>;
  /** Longest URL accepted, in characters (default 8 KiB): longer ones get 414. */
  maxUrlLength?: number;
  /** The Server-Sent Events routes: keep-alive interval and stream (see ./handlers/events.ts). */
  events?: Partial<EventsOptions>;
  /**
   * Called with every route as it is registered (fastify's `onRoute` hook, installed before any
   * route): test/security/authentication.test.ts lists the routes with it, so a new route is
   * checked for authentication without being named.
   */
  onRoute?: (route: RouteOptions) => void;
}

/**
 * Builds the HTTP API v1 (fastify 5 + zod). Schemas on every route give validation,
 * serialisation and the OpenAPI description (served at `/docs`, JSON at `/docs/json`).
 * Bodies are limited to `scanLimits.maxBytes` (default 50 MiB, scans can be large) and scans
 * are parsed and validated in worker threads ({@link installJsonBody}); requests are
 * rate-limited per tenant ({@link installRateLimit}).
 * Every `/v1/` route needs credentials and a scope (`config.scope`, see auth.ts) and works on the
 * caller's tenant only: another tenant's ids answer 404.
 * Every error answer is an `ErrorBody` (errors.ts): unknown routes 404, bodies past the limit
 * 413, URLs past `maxUrlLength` 414, bodies other than `application/json` 415, headers past
 * node's limit 431, bad JSON and unknown fields 400.
 */
export async function buildApi(ctx: ApiContext, options: ApiOptions = {}): Promise<FastifyInstance<any, any, any, any, any>> {
  const scanLimits: ScanLimitsConfig = { ...DEFAULT_SCAN_LIMITS_CONFIG, ...options.scanLimits };
  const bodyLimit = scanLimits.maxBytes;
  const app = Fastify({
    loggerInstance: ctx.logger,
    bodyLimit,
    clientErrorHandler,
    frameworkErrors,
    // Long parameters reach the routes, where the URL limit (414) and the schemas (400) answer
    // (node's header limit, 16 KiB, bounds a parameter before this does).
    routerOptions: { maxParamLength: 64 * 1024 },
  }).withTypeProvider<ZodTypeProvider>();
  if (options.onRoute) app.addHook('onRoute', options.onRoute);
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installErrorHandler(app, { bodyLimit });
  installUrlLimit(app, options.maxUrlLength ?? DEFAULT_MAX_URL_LENGTH);
  // Authentication first, so the rate limit counts requests per tenant.
  installAuthentication(app, { db: ctx.db, jwt: ctx.jwt });
  await installRateLimit(app, { ...DEFAULT_RATE_LIMIT, ...options.rateLimit });
  // JSON only (fastify also parses text/plain by default): anything else is 415.
  app.removeAllContentTypeParsers();
  installJsonBody(app, scanLimits);
  await app.register(swagger, {
    openapi: {
      info: { title: 'Remediation API', version: '1.0.0', description: 'Plans and applies upgrades that fix vulnerable dependencies, and opens pull requests.' },
      components: {
        securitySchemes: {
          bearer: {
            type: 'http',
            scheme: 'bearer',
            bearerFormat: 'JWT',
            description: "A JWT of the configured issuer (AUTH_JWKS_URL, AUTH_ISSUER, AUTH_AUDIENCE) with a tenant claim (AUTH_TENANT_CLAIM) and scopes in `scope` or `scp`; or an API key (`rk_…`) as the bearer token. Scopes: remediations:read, remediations:write, executions:approve, admin (implies all).",
          },
          apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'An API key of a service account (`rk_…`, `./run admin api-key-create`).' },
        },
      },
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  await installConsole(app);

  app.get('/v1/remediations', {
    config: { scope: 'remediations:read' },
    schema: {
      security,
      summary: "The tenant's remediations, newest first (repository, latest plan's state, patch executions); filter by the plan's state; paged with `before` = `nextCursor`",
      querystring: RemediationListQuery,
      response: { 200: RemediationListResponse, ...errors },
    },
  }, async (req) => listRemediations(ctx.db, req.caller.tenant, req.query));

  app.get('/v1/executions', {
    config: { scope: 'remediations:read' },
    schema: {
      security,
      summary: "The tenant's executions (plan and patch), newest first; filter by state, kind and remediation; paged with `before` = `nextCursor`",
      querystring: ExecutionListQuery,
      response: { 200: ExecutionListResponse, ...errors },
    },
  }, async (req) => listExecutions(ctx.db, req.caller.tenant, req.query));

  app.get('/v1/executions/:id/attempts', {
    config: { scope: 'remediations:read' },
    schema: {
      security,
      summary: 'Every step attempt of an execution in order (worker, delivery count, outcome, error), each with the heartbeats its worker recorded (clone progress, agent tool calls)',
      params: IdParam,
      response: { 200: AttemptsResponse, ...errors },
    },
  }, async (req) => getStepAttempts(ctx.db, req.params.id, req.caller.tenant));

  app.get('/v1/executions/:id/conversations', {
    config: { scope: 'remediations:read' },
    schema: {
      security,
      summary: "The code-fix agent's conversations of an execution, one per iteration, summarised: each answer's text and tool calls (tool, path or target, refused or not), and the run's summary",
      params: IdParam,
      response: { 200: ConversationsResponse, ...errors },
    },
  }, async (req) => getConversationSummaries(ctx.db, req.params.id, req.caller.tenant));

  app.post('/v1/remediations', {
    config: { scope: 'remediations:write' },
    schema: {
      security,
      summary: 'Create a remediation from a codebase and a scan (CycloneDX JSON/XML, SPDX, OSV-Scanner, Trivy, Grype); planning starts at once',
      headers: z.object({ 'idempotency-key': z.string().min(1).max(200).optional() }),
      body: CreateRemediationRequest,
      response: { 201: RemediationResponse, 200: RemediationResponse, ...errors },
    },
  }, async (req, reply) => {
    const { created, remediation } = await createRemediation(ctx, req.caller, req.body, req.headers['idempotency-key'], { scanChecked: scanWasChecked(req) });
    return reply.code(created ? 201 : 200).send(remediation);
  });

  app.get('/v1/remediations/:id', {
    config: { scope: 'remediations:read' },
    schema: { security, summary: 'A remediation: state (of its latest plan), plan, executions', params: IdParam, response: { 200: RemediationResponse, ...errors } },
  }, async (req) => getRemediationView(ctx.db, req.params.id, req.caller.tenant));

  app.post('/v1/remediations/:id/executions', {
    config: { scope: 'remediations:write' },
    schema: {
      security,
      summary: 'Start a patch execution for a tier (optionally a subset of targets)',
      params: IdParam,
      headers: z.object({ 'idempotency-key': z.string().min(1).max(200).optional() }),
      body: CreateExecutionRequest,
      response: { 202: ExecutionResponse, 200: ExecutionResponse, ...errors },
    },
  }, async (req, reply) => {
    const { created, execution } = await createExecution(ctx, req.caller, req.params.id, req.body, req.headers['idempotency-key']);
    return reply.code(created ? 202 : 200).send(execution);
  });

  app.post('/v1/remediations/:id/plans', {
    config: { scope: 'remediations:write' },
    schema: {
      security,
      summary: 'Re-plan a remediation (e.g. once its plan is stale): a new plan execution of the same scan with the advisories known now; 409 PLAN_RUNNING while a plan is running',
      params: IdParam,
      headers: z.object({ 'idempotency-key': z.string().min(1).max(200).optional() }),
      response: { 202: ExecutionResponse, 200: ExecutionResponse, ...errors },
    },
  }, async (req, reply) => {
    const { created, execution } = await createPlan(ctx, req.caller, req.params.id, req.headers['idempotency-key']);
    return reply.code(created ? 202 : 200).send(execution);
  });

  app.get('/v1/executions/:id', {
    config: { scope: 'remediations:read' },
    schema: { security, summary: 'An execution: state, targets, patch versions (ref + SHA), pull requests', params: IdParam, response: { 200: ExecutionResponse, ...errors } },
  }, async (req) => getExecutionView(ctx.db, req.params.id, req.caller.tenant));

  app.get('/v1/executions/:id/history', {
    config: { scope: 'remediations:read' },
    schema: { security, summary: 'Every transition and heartbeat of an execution, in order', params: IdParam, response: { 200: HistoryResponse, ...errors } },
  }, async (req) => getHistory(ctx.db, req.params.id, req.caller.tenant));

  app.get('/v1/remediations/:id/history', {
    config: { scope: 'remediations:read' },
    schema: { security, summary: "History of the remediation's latest plan execution", params: IdParam, response: { 200: HistoryResponse, ...errors } },
  }, async (req) => getHistory(ctx.db, (await getRemediationView(ctx.db, req.params.id, req.caller.tenant)).planExecution.id, req.caller.tenant));

  // Server-Sent Events (handlers/events.ts): open streams end when the API shuts down.
  const eventStreams = new EventStreams(ctx, { ...DEFAULT_EVENTS_OPTIONS, ...options.events });
  app.addHook('preClose', async () => eventStreams.closeAll());
  const eventsHeaders = z.object({
    'last-event-id': z.string().max(100).optional().describe('Resume after this event: the `id:` of the last event received (a stream sequence)'),
  });
  const eventsDescription =
    'Server-Sent Events (text/event-stream): `id:` = the event\'s stream sequence; `event: state` with the ExecutionEvent ' +
    '(remediation.execution.v1) or `event: progress` with the ProgressEvent (remediation.progress.v1) as `data:`; a comment ' +
    '`: keep-alive` every 15 s. Replays the stored events, then follows live; `Last-Event-ID` resumes after that event. ' +
    'Authenticate with the Authorization (or X-API-Key) header: use fetch streaming, since EventSource cannot set headers. See docs/events.md.';

  const eventRoutes = [
    { url: '/v1/executions/:id/events', summary: 'Live events of an execution (state changes and progress) as Server-Sent Events', open: eventStreams.execution },
    { url: '/v1/remediations/:id/events', summary: 'Live events of every execution of a remediation (plans and patches) as Server-Sent Events', open: eventStreams.remediation },
  ];
  for (const route of eventRoutes) {
    app.get(route.url, {
      config: { scope: 'remediations:read' },
      schema: {
        security,
        summary: route.summary,
        description: eventsDescription,
        params: IdParam,
        headers: eventsHeaders,
        response: { 200: { description: 'A stream of Server-Sent Events that does not end on its own', content: { 'text/event-stream': { schema: z.string() } } }, ...errors },
      },
    }, async (req, reply) => route.open.call(eventStreams, req.caller, req.params.id, req.headers['last-event-id'], reply));
  }

  app.post('/v1/executions/:id/retry', {
    config: { scope: 'remediations:write' },
    schema: {
      security,
      summary: 'Resume a failed execution (plan or patch) at the step that failed',
      params: IdParam,
      response: { 202: ExecutionResponse, ...errors },
    },
  }, async (req, reply) => {
    await retryExecution(ctx, req.caller, req.params.id);
    return reply.code(202).send(await getExecutionView(ctx.db, req.params.id, req.caller.tenant));
  });

  app.post('/v1/executions/:id/feedback', {
    config: { scope: 'remediations:write' },
    schema: {
      security,
      summary: 'Review feedback on the latest patch version: starts an iteration that yields the next version',
      params: IdParam,
      body: FeedbackRequest,
      response: { 202: FeedbackBody, ...errors },
    },
  }, async (req, reply) => {
    return reply.code(202).send(await submitFeedback(ctx, req.caller, req.params.id, req.body));
  });

  app.post('/v1/executions/:id/cancel', {
    config: { scope: 'remediations:write' },
    schema: {
      security,
      summary: 'Stop a running execution (plan or patch); its workspace is released',
      params: IdParam,
      body: CancelRequest.default({ reason: 'cancelled by the API caller' }),
      response: { 202: ExecutionResponse, ...errors },
    },
  }, async (req, reply) => {
    await cancelExecution(ctx, req.caller, req.params.id, req.body?.reason ?? 'cancelled by the API caller');
    return reply.code(202).send(await getExecutionView(ctx.db, req.params.id, req.caller.tenant));
  });

  app.get('/v1/dead-letters', {
    config: { scope: 'admin' },
    schema: {
      security,
      summary: "The tenant's messages given up on after their deliveries ran out, newest first (scope admin)",
      querystring: z.strictObject({ executionId: z.string().max(200).optional() }),
      response: { 200: z.object({ deadLetters: z.array(DeadLetter) }), ...errors },
    },
  }, async (req) => ({ deadLetters: await getDeadLetters(ctx.db, req.caller.tenant, req.query.executionId) }));

  app.get('/v1/executions/:id/diff', {
    config: { scope: 'remediations:read' },
    schema: {
      security,
      summary: 'Unified diff of the latest (or a given) patch version',
      params: IdParam,
      querystring: z.strictObject({ version: z.coerce.number().int().positive().optional() }),
      response: { 200: DiffResponse, ...errors },
    },
  }, async (req) => getDiff(ctx, req.caller, req.params.id, req.query.version));

  app.post('/v1/executions/:id/pull-requests', {
    config: { scope: 'executions:approve' },
    schema: {
      security,
      summary: 'Approve a patch version and open its pull request',
      params: IdParam,
      body: CreatePullRequestRequest.default({}),
      response: { 202: PullRequestBody, ...errors },
    },
  }, async (req, reply) => reply.code(202).send(await requestPullRequest(ctx, req.caller, req.params.id, req.body ?? {})));

  return app;
}
