import {
  type CreateExecutionInput,
  type CreateRemediationRequest,
  ExecutionResponse,
  HistoryResponse,
  PullRequestBody,
  RemediationResponse,
} from '@remediation/contracts';
import type { z } from 'zod';

/** Error answered by the API: carries the HTTP status and the API's error code. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/**
 * Credentials of the API (issue 11): an API key of a service account (sent as `X-API-Key`) or a
 * JWT of the configured issuer (sent as `Authorization: Bearer`).
 */
export interface Credentials {
  apiKey?: string;
  token?: string;
}

/** A small typed client of the HTTP API v1 (responses validated with the contract schemas). */
export class RemediationClient {
  constructor(
    private readonly baseUrl: string,
    private readonly credentials: Credentials = {},
  ) {}

  private async call<S extends z.ZodType>(schema: S, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<z.infer<S>> {
    let res: Response;
    try {
      res = await fetch(new URL(path, this.baseUrl), {
        method,
        headers: {
          accept: 'application/json',
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(this.credentials.token ? { authorization: `Bearer ${this.credentials.token}` } : {}),
          ...(this.credentials.apiKey ? { 'x-api-key': this.credentials.apiKey } : {}),
          ...headers,
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    } catch (err) {
      throw new ApiError(0, 'API_UNREACHABLE', `cannot reach the API at ${this.baseUrl}: ${(err as Error).message}`);
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      throw new ApiError(res.status, 'API_BAD_RESPONSE', `${method} ${path}: not JSON (${res.status}): ${text.slice(0, 200)}`);
    }
    if (!res.ok) {
      const e = json as { code?: string; message?: string } | undefined;
      throw new ApiError(res.status, e?.code ?? 'HTTP_' + res.status, `${method} ${path} → ${res.status} ${e?.code ?? ''}: ${e?.message ?? text}`);
    }
    return schema.parse(json);
  }

  createRemediation(body: CreateRemediationRequest, idempotencyKey?: string) {
    return this.call(RemediationResponse, 'POST', '/v1/remediations', body, idempotencyKey ? { 'idempotency-key': idempotencyKey } : {});
  }
  getRemediation(id: string) {
    return this.call(RemediationResponse, 'GET', `/v1/remediations/${encodeURIComponent(id)}`);
  }
  /** Starts a patch execution; the body names the tier `tier` (`upgradeOption` is its v1 alias). */
  createExecution(remediationId: string, body: CreateExecutionInput) {
    return this.call(ExecutionResponse, 'POST', `/v1/remediations/${encodeURIComponent(remediationId)}/executions`, body);
  }
  getExecution(id: string) {
    return this.call(ExecutionResponse, 'GET', `/v1/executions/${encodeURIComponent(id)}`);
  }
  getHistory(id: string) {
    return this.call(HistoryResponse, 'GET', `/v1/executions/${encodeURIComponent(id)}/history`);
  }
  requestPullRequest(executionId: string, patchVersion?: number) {
    return this.call(PullRequestBody, 'POST', `/v1/executions/${encodeURIComponent(executionId)}/pull-requests`, patchVersion ? { patchVersion } : {});
  }
}
