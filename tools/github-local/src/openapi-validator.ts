import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

/**
 * Validation of github-local's requests and responses against GitHub's published OpenAPI
 * description (`@octokit/openapi`, file `generated/api.github.com.json`, OpenAPI 3.0.3).
 *
 * The description is ~13 MB: it is read and parsed once, on first use, and only the
 * operations github-local serves are compiled (each request/response validator is compiled
 * the first time it is needed and then cached). `$ref`s such as `#/components/schemas/x`
 * resolve because the whole document is registered with Ajv under the id {@link SPEC_ID}
 * and every validator is compiled as `{ $ref: "<SPEC_ID>#/paths/..." }` (a JSON pointer into
 * the document), so refs inside it resolve against the document root. OpenAPI 3.0
 * `nullable: true` is understood by Ajv 8 next to a `type`; the two forms it rejects or
 * misreads are rewritten once at load (see {@link normalizeNullable}).
 */

/** Ajv id under which the OpenAPI document is registered; refs point into it as `github-openapi#/...`. */
const SPEC_ID = 'github-openapi';

/**
 * Operations served by github-local, keyed by GitHub's `operationId`. `path`/`method` locate
 * the operation in the OpenAPI document; `docs` is the GitHub REST docs URL of the endpoint
 * (the document's `externalDocs.url`), used as `documentation_url` in error bodies.
 */
export const OPERATIONS = {
  'repos/get': {
    method: 'get',
    path: '/repos/{owner}/{repo}',
    docs: 'https://docs.github.com/rest/repos/repos#get-a-repository',
  },
  'pulls/list': {
    method: 'get',
    path: '/repos/{owner}/{repo}/pulls',
    docs: 'https://docs.github.com/rest/pulls/pulls#list-pull-requests',
  },
  'pulls/create': {
    method: 'post',
    path: '/repos/{owner}/{repo}/pulls',
    docs: 'https://docs.github.com/rest/pulls/pulls#create-a-pull-request',
  },
  'pulls/get': {
    method: 'get',
    path: '/repos/{owner}/{repo}/pulls/{pull_number}',
    docs: 'https://docs.github.com/rest/pulls/pulls#get-a-pull-request',
  },
  'pulls/update': {
    method: 'patch',
    path: '/repos/{owner}/{repo}/pulls/{pull_number}',
    docs: 'https://docs.github.com/rest/pulls/pulls#update-a-pull-request',
  },
  'issues/list-comments': {
    method: 'get',
    path: '/repos/{owner}/{repo}/issues/{issue_number}/comments',
    docs: 'https://docs.github.com/rest/issues/comments#list-issue-comments',
  },
  'issues/create-comment': {
    method: 'post',
    path: '/repos/{owner}/{repo}/issues/{issue_number}/comments',
    docs: 'https://docs.github.com/rest/issues/comments#create-an-issue-comment',
  },
  'apps/create-installation-access-token': {
    method: 'post',
    path: '/app/installations/{installation_id}/access_tokens',
    docs: 'https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app',
  },
  'apps/get-repo-installation': {
    method: 'get',
    path: '/repos/{owner}/{repo}/installation',
    docs: 'https://docs.github.com/rest/apps/apps#get-a-repository-installation-for-the-authenticated-app',
  },
  'pulls/create-review': {
    method: 'post',
    path: '/repos/{owner}/{repo}/pulls/{pull_number}/reviews',
    docs: 'https://docs.github.com/rest/pulls/reviews#create-a-review-for-a-pull-request',
  },
  'pulls/list-reviews': {
    method: 'get',
    path: '/repos/{owner}/{repo}/pulls/{pull_number}/reviews',
    docs: 'https://docs.github.com/rest/pulls/reviews#list-reviews-for-a-pull-request',
  },
  'pulls/list-review-comments': {
    method: 'get',
    path: '/repos/{owner}/{repo}/pulls/{pull_number}/comments',
    docs: 'https://docs.github.com/rest/pulls/comments#list-review-comments-on-a-pull-request',
  },
  'pulls/list-commits': {
    method: 'get',
    path: '/repos/{owner}/{repo}/pulls/{pull_number}/commits',
    docs: 'https://docs.github.com/rest/pulls/pulls#list-commits-on-a-pull-request',
  },
  'pulls/merge': {
    method: 'put',
    path: '/repos/{owner}/{repo}/pulls/{pull_number}/merge',
    docs: 'https://docs.github.com/rest/pulls/pulls#merge-a-pull-request',
  },
  'repos/get-branch': {
    method: 'get',
    path: '/repos/{owner}/{repo}/branches/{branch}',
    docs: 'https://docs.github.com/rest/branches/branches#get-a-branch',
  },
  'checks/create': {
    method: 'post',
    path: '/repos/{owner}/{repo}/check-runs',
    docs: 'https://docs.github.com/rest/reference/checks#create-a-check-run',
  },
  'checks/list-for-ref': {
    method: 'get',
    path: '/repos/{owner}/{repo}/commits/{ref}/check-runs',
    docs: 'https://docs.github.com/rest/checks/runs#list-check-runs-for-a-git-reference',
  },
} as const satisfies Record<string, { method: string; path: string; docs: string }>;

/** GitHub `operationId` of an operation github-local serves, e.g. `pulls/create`. */
export type OperationId = keyof typeof OPERATIONS;

/**
 * Webhook deliveries github-local sends, keyed by their entry in the OpenAPI document's
 * `x-webhooks` (whose request body schema is `#/components/schemas/webhook-<key>`).
 * `event` is the `X-GitHub-Event` header, `action` the payload's `action` (null for `push`),
 * `operationId` the entry's `operationId` (checked at load), `docs` GitHub's payload docs.
 */
export const WEBHOOKS = {
  'pull-request-opened': { event: 'pull_request', action: 'opened', operationId: 'pull-request/opened' },
  'pull-request-closed': { event: 'pull_request', action: 'closed', operationId: 'pull-request/closed' },
  'pull-request-reopened': { event: 'pull_request', action: 'reopened', operationId: 'pull-request/reopened' },
  'pull-request-edited': { event: 'pull_request', action: 'edited', operationId: 'pull-request/edited' },
  'pull-request-synchronize': { event: 'pull_request', action: 'synchronize', operationId: 'pull-request/synchronize' },
  'pull-request-review-submitted': {
    event: 'pull_request_review',
    action: 'submitted',
    operationId: 'pull-request-review/submitted',
  },
  'pull-request-review-comment-created': {
    event: 'pull_request_review_comment',
    action: 'created',
    operationId: 'pull-request-review-comment/created',
  },
  'issue-comment-created': { event: 'issue_comment', action: 'created', operationId: 'issue-comment/created' },
  'check-run-created': { event: 'check_run', action: 'created', operationId: 'check-run/created' },
  'check-run-completed': { event: 'check_run', action: 'completed', operationId: 'check-run/completed' },
  push: { event: 'push', action: null, operationId: 'push' },
} as const satisfies Record<string, { event: string; action: string | null; operationId: string }>;

/** Key of a webhook github-local sends (an `x-webhooks` entry), e.g. `pull-request-opened`. */
export type WebhookName = keyof typeof WEBHOOKS;

/** One schema violation, trimmed from Ajv's `ErrorObject` (no schema/data copies). */
export interface ValidationIssue {
  /** JSON pointer into the validated value, e.g. `/head/repo/owner` (empty for the root). */
  instancePath: string;
  /** JSON pointer into the schema that failed, e.g. `github-openapi#/components/schemas/pull-request/required`. */
  schemaPath: string;
  /** Ajv keyword that failed (`required`, `type`, `enum`, `format`, ...). */
  keyword: string;
  /** Keyword parameters, e.g. `{ missingProperty: "number" }`. */
  params: Record<string, unknown>;
  /** Ajv's human message, e.g. `must have required property 'number'`. */
  message: string;
}

/** Outcome of a validation: `valid`, or the violations found (all of them, Ajv `allErrors`). */
export type ValidationResult = { valid: true } | { valid: false; issues: ValidationIssue[] };

/** Outcome of request validation; `message` is GitHub-style (`Invalid request.\n\nFor 'properties/title', 1 is not a string.`). */
export type RequestValidationResult =
  | { valid: true; params: Record<string, unknown>; body: unknown }
  | { valid: false; message: string; issues: ValidationIssue[] };

interface OpenApiParameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  schema?: unknown;
}

interface OpenApiOperation {
  operationId?: string;
  parameters?: Array<OpenApiParameter | { $ref: string }>;
  requestBody?: { required?: boolean; content?: Record<string, { schema?: unknown }> };
  responses?: Record<string, { $ref: string } | { content?: Record<string, { schema?: unknown }> }>;
}

interface OpenApiDocument {
  paths: Record<string, Record<string, OpenApiOperation>>;
  /** Webhook payloads: `{ <key>: { post: { operationId, requestBody: { content: { 'application/json': { schema } } } } } }`. */
  'x-webhooks': Record<string, { post?: OpenApiOperation }>;
  components: {
    parameters: Record<string, OpenApiParameter>;
    responses: Record<string, { content?: Record<string, { schema?: unknown }> }>;
  };
}

interface Engine {
  spec: OpenApiDocument;
  /** Strict instance: request bodies and responses (no coercion, no defaults). */
  strict: Ajv;
  /** Instance for path/query parameters: coerces strings to the declared types, fills defaults. */
  params: Ajv;
  cache: Map<string, ValidateFunction | null>;
}

let engine: Engine | undefined;

/**
 * Absolute path of the OpenAPI description used for validation:
 * `<node_modules>/@octokit/openapi/generated/api.github.com.json`.
 * @throws Error when `@octokit/openapi` is not installed.
 */
export function openApiSpecPath(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('@octokit/openapi/package.json')), 'generated', 'api.github.com.json');
}

/** Escapes one JSON-pointer segment (RFC 6901). */
function pointerSegment(segment: string): string {
  return segment.replaceAll('~', '~0').replaceAll('/', '~1');
}

/** Ajv `$ref` to a location in the OpenAPI document given as raw (unescaped) segments. */
function specRef(...segments: string[]): string {
  return `${SPEC_ID}#/${segments.map(pointerSegment).join('/')}`;
}

function newAjv(extra: { coerceTypes?: boolean; useDefaults?: boolean }): Ajv {
  const ajv = new Ajv({
    strict: false,
    allErrors: true,
    verbose: true,
    validateSchema: false,
    logger: false,
    ...extra,
  });
  addFormatsModule.default(ajv);
  return ajv;
}

/**
 * Rewrites, in place, the OpenAPI 3.0 `nullable` forms Ajv 8 does not handle:
 * `{ nullable: true, anyOf|oneOf|allOf|$ref: ... }` without `type` (Ajv throws
 * `"nullable" cannot be used without "type"`) becomes `{ anyOf: [<the rest>, { type: 'null' }] }`,
 * and `{ type, nullable: true, enum }` gets `null` added to `enum` (else Ajv rejects null).
 * GitHub's description has such schemas in e.g. `installation.account`, `commit.author`,
 * `check-run.conclusion`.
 */
function normalizeNullable(node: unknown): void {
  if (Array.isArray(node)) {
    for (const item of node) normalizeNullable(item);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  const schema = node as Record<string, unknown>;
  for (const value of Object.values(schema)) normalizeNullable(value);
  if (schema['nullable'] !== true) return;
  if (!('type' in schema)) {
    const { nullable: _nullable, description, title, ...rest } = schema;
    for (const key of Object.keys(schema)) delete schema[key];
    Object.assign(schema, {
      ...(description === undefined ? {} : { description }),
      ...(title === undefined ? {} : { title }),
      anyOf: [rest, { type: 'null' }],
    });
  } else if (Array.isArray(schema['enum']) && !schema['enum'].includes(null)) {
    schema['enum'] = [...schema['enum'], null];
  }
}

/** Loads and registers the OpenAPI document on first call (≈13 MB JSON, parsed once per process). */
function getEngine(): Engine {
  if (engine) return engine;
  const spec = JSON.parse(readFileSync(openApiSpecPath(), 'utf8')) as OpenApiDocument;
  for (const [id, op] of Object.entries(OPERATIONS)) {
    const found = spec.paths[op.path]?.[op.method];
    if (found?.operationId !== id) {
      throw new Error(`github-local: operation ${id} not found at ${op.method.toUpperCase()} ${op.path} in ${openApiSpecPath()}`);
    }
  }
  for (const [key, hook] of Object.entries(WEBHOOKS)) {
    if (spec['x-webhooks']?.[key]?.post?.operationId !== hook.operationId) {
      throw new Error(`github-local: webhook ${hook.operationId} not found at x-webhooks.${key} in ${openApiSpecPath()}`);
    }
  }
  normalizeNullable(spec);
  const strict = newAjv({});
  const params = newAjv({ coerceTypes: true, useDefaults: true });
  strict.addSchema(spec as object, SPEC_ID);
  params.addSchema(spec as object, SPEC_ID);
  engine = { spec, strict, params, cache: new Map() };
  return engine;
}

/**
 * Loads the OpenAPI document and compiles every validator of the served operations now
 * instead of on first request (so a server fails at start, not mid-test, if the spec moved).
 * @throws Error when the document is missing or an operation is not where {@link OPERATIONS} says.
 */
export function warmUpValidators(): void {
  const { spec } = getEngine();
  for (const id of Object.keys(OPERATIONS) as OperationId[]) {
    paramsValidator(id);
    bodyValidator(id);
    for (const status of Object.keys(operation(spec, id).responses ?? {})) responseValidator(id, Number(status));
  }
}

/**
 * Compiles the payload validator of every webhook in {@link WEBHOOKS} now (the webhook schemas
 * are large; a server with a `webhook` receiver calls this at start so the first delivery is not slow).
 * @throws Error when the document is missing or a webhook is not where {@link WEBHOOKS} says.
 */
export function warmUpWebhookValidators(): void {
  for (const key of Object.keys(WEBHOOKS) as WebhookName[]) webhookValidator(key);
}

function operation(spec: OpenApiDocument, id: OperationId): OpenApiOperation {
  const op = OPERATIONS[id];
  return spec.paths[op.path]![op.method]!;
}

function cached(key: string, make: () => ValidateFunction | null): ValidateFunction | null {
  const { cache } = getEngine();
  if (!cache.has(key)) cache.set(key, make());
  return cache.get(key)!;
}

/** Validator of the object `{ ...pathParams, ...queryParams }` of an operation (coercing). */
function paramsValidator(id: OperationId): ValidateFunction {
  return cached(`${id} params`, () => {
    const { spec, params: ajv } = getEngine();
    const op = OPERATIONS[id];
    const properties: Record<string, unknown> = {};
    const required: string[] = [];
    (operation(spec, id).parameters ?? []).forEach((entry, index) => {
      let param: OpenApiParameter;
      let ref: string;
      if ('$ref' in entry) {
        const name = entry.$ref.replace('#/components/parameters/', '');
        param = spec.components.parameters[name]!;
        ref = specRef('components', 'parameters', name, 'schema');
      } else {
        param = entry;
        ref = specRef('paths', op.path, op.method, 'parameters', String(index), 'schema');
      }
      if (param.in !== 'path' && param.in !== 'query') return;
      // Inline self-contained parameter schemas: Ajv applies `default` only to schemas placed
      // directly under `properties`, not behind a `$ref`.
      const selfContained = param.schema !== undefined && !JSON.stringify(param.schema).includes('"$ref"');
      properties[param.name] = param.schema === undefined ? {} : selfContained ? param.schema : { $ref: ref };
      if (param.required) required.push(param.name);
    });
    return ajv.compile({ type: 'object', properties, required });
  })!;
}

/** Validator of the JSON request body, or null when the operation takes no body. */
function bodyValidator(id: OperationId): ValidateFunction | null {
  return cached(`${id} body`, () => {
    const { spec, strict } = getEngine();
    const op = OPERATIONS[id];
    if (!operation(spec, id).requestBody?.content?.['application/json']?.schema) return null;
    return strict.compile({
      $ref: specRef('paths', op.path, op.method, 'requestBody', 'content', 'application/json', 'schema'),
    });
  });
}

/**
 * Validator of the response body for `status`, or null when the status is documented without
 * a JSON body. Undocumented error statuses (4xx/5xx GitHub sends but does not list, e.g. 401,
 * or 404 on `pulls/create`) use `basic-error` (`validation-error` for 422); undocumented
 * success statuses are always invalid.
 */
function responseValidator(id: OperationId, status: number): ValidateFunction | null {
  return cached(`${id} response ${status}`, () => {
    const { spec, strict } = getEngine();
    const op = OPERATIONS[id];
    const documented = operation(spec, id).responses?.[String(status)];
    if (documented === undefined) {
      if (status < 400) return strict.compile({ not: {} });
      const fallback = status === 422 ? 'validation-error' : 'basic-error';
      return strict.compile({ $ref: specRef('components', 'schemas', fallback) });
    }
    if ('$ref' in documented) {
      const name = documented.$ref.replace('#/components/responses/', '');
      if (!spec.components.responses[name]?.content?.['application/json']?.schema) return null;
      return strict.compile({ $ref: specRef('components', 'responses', name, 'content', 'application/json', 'schema') });
    }
    if (!documented.content?.['application/json']?.schema) return null;
    return strict.compile({
      $ref: specRef('paths', op.path, op.method, 'responses', String(status), 'content', 'application/json', 'schema'),
    });
  });
}

/** Validator of the JSON payload of webhook `key` (`x-webhooks.<key>.post.requestBody`). */
function webhookValidator(key: WebhookName): ValidateFunction {
  return cached(`webhook ${key}`, () => {
    const { strict } = getEngine();
    return strict.compile({
      $ref: specRef('x-webhooks', key, 'post', 'requestBody', 'content', 'application/json', 'schema'),
    });
  })!;
}

function toIssues(errors: ErrorObject[] | null | undefined): ValidationIssue[] {
  return (errors ?? []).map((e) => ({
    instancePath: e.instancePath,
    schemaPath: e.schemaPath,
    keyword: e.keyword,
    params: { ...e.params },
    message: e.message ?? e.keyword,
  }));
}

/** GitHub-style location of a body error: `/head/0` → `properties/head/items`. */
function bodyLocation(instancePath: string): string {
  const segments = instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'));
  return segments.map((s) => (/^\d+$/.test(s) ? 'items' : `properties/${s}`)).join('/');
}

function typeName(type: unknown): string {
  const t = Array.isArray(type) ? type.join(' or ') : String(type);
  return /^[aeiou]/.test(t) ? `an ${t}` : `a ${t}`;
}

/**
 * Turns Ajv errors into GitHub's wording for invalid requests, e.g.
 * `Invalid request.\n\nFor 'properties/title', 123 is not a string.` or
 * `Invalid request.\n\n"head" wasn't supplied.` (same wording as api.github.com).
 */
function requestMessage(errors: ErrorObject[], where: 'body' | 'params'): string {
  const lines = errors.slice(0, 5).map((e) => {
    const location = where === 'body' ? bodyLocation(e.instancePath) : e.instancePath.slice(1);
    const value = JSON.stringify(e.data) ?? 'undefined';
    if (e.keyword === 'required') {
      const missing = String((e.params as { missingProperty: string }).missingProperty);
      return location === '' ? `"${missing}" wasn't supplied.` : `For '${location}', "${missing}" wasn't supplied.`;
    }
    const prefix = location === '' ? '' : `For '${location}', `;
    if (e.keyword === 'type') return `${prefix}${value} is not ${typeName((e.params as { type: unknown }).type)}.`;
    if (e.keyword === 'enum') {
      return `${prefix}${value} is not a member of ${JSON.stringify((e.params as { allowedValues: unknown }).allowedValues)}.`;
    }
    return `${prefix}${value} ${e.message ?? 'is invalid'}.`;
  });
  return `Invalid request.\n\n${lines.join('\n')}`;
}

/**
 * Validates an incoming request of operation `id` against the OpenAPI description:
 * path and query parameters (strings coerced to the declared types, defaults such as
 * `state=open`, `per_page=30` filled in; unknown query parameters ignored as GitHub does) and
 * the JSON body (no coercion: a number where a string is declared is an error). A missing body
 * is validated as `{}` when the operation takes one.
 * @returns the coerced parameters and the body, or a GitHub-style message naming the failing path.
 */
export function validateRequest(
  id: OperationId,
  request: { params: Record<string, unknown>; query: Record<string, unknown>; body: unknown },
): RequestValidationResult {
  const params: Record<string, unknown> = { ...request.query, ...request.params };
  const checkParams = paramsValidator(id);
  if (!checkParams(params)) {
    return { valid: false, message: requestMessage(checkParams.errors ?? [], 'params'), issues: toIssues(checkParams.errors) };
  }
  const checkBody = bodyValidator(id);
  const body = checkBody && request.body === undefined ? {} : request.body;
  if (checkBody && !checkBody(body)) {
    return { valid: false, message: requestMessage(checkBody.errors ?? [], 'body'), issues: toIssues(checkBody.errors) };
  }
  return { valid: true, params, body };
}

/**
 * Validates a response body github-local is about to send for operation `id` with HTTP
 * `status` against the schema GitHub documents for that status (see {@link responseValidator}
 * for undocumented statuses). A failure means github-local drifted from GitHub's shape.
 * @returns `{ valid: true }` or every violation found.
 */
export function validateResponse(id: OperationId, status: number, body: unknown): ValidationResult {
  const check = responseValidator(id, status);
  if (check === null) return { valid: true };
  if (check(body)) return { valid: true };
  return { valid: false, issues: toIssues(check.errors) };
}

/**
 * Validates a webhook payload github-local is about to deliver against the schema of its
 * `x-webhooks` entry (e.g. `webhook-pull-request-opened`). A failure means github-local drifted
 * from GitHub's payload shape; the delivery is then not sent.
 * @returns `{ valid: true }` or every violation found.
 */
export function validateWebhook(key: WebhookName, payload: unknown): ValidationResult {
  const check = webhookValidator(key);
  if (check(payload)) return { valid: true };
  return { valid: false, issues: toIssues(check.errors) };
}
