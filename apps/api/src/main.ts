import { z } from 'zod';
import { BaseEnv, loadEnv } from '@remediation/config';
import { repositoryPolicyFromEnv } from '@remediation/contracts';
import { runMain } from '@remediation/service-runtime';
import { DEFAULT_SCAN_LIMITS_CONFIG } from './adapters/scan-parser.js';
import { AuthEnv, jwtSettingsFromEnv } from './auth.js';
import { DEFAULT_KEEP_ALIVE_MS } from './handlers/events.js';
import { DEFAULT_RATE_LIMIT } from './rate-limit.js';
import { buildApi } from './server.js';

/** API environment: the base plus the listen address, body/scan limits, the rate limit and the events' keep-alive (authentication: AuthEnv). */
const ApiEnv = BaseEnv.extend({
  API_PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  API_HOST: z.string().default('127.0.0.1'),
  API_SCAN_MAX_BYTES: z.coerce.number().int().positive().default(DEFAULT_SCAN_LIMITS_CONFIG.maxBytes),
  API_SCAN_MAX_COMPONENTS: z.coerce.number().int().positive().default(DEFAULT_SCAN_LIMITS_CONFIG.maxComponents),
  API_SCAN_MAX_DEPTH: z.coerce.number().int().min(2).default(DEFAULT_SCAN_LIMITS_CONFIG.maxDepth),
  API_SCAN_PARSE_THREADS: z.coerce.number().int().min(1).max(16).default(DEFAULT_SCAN_LIMITS_CONFIG.threads),
  API_SCAN_WORKER_HEAP_MB: z.coerce.number().int().min(64).default(DEFAULT_SCAN_LIMITS_CONFIG.workerHeapMb),
  API_SCAN_PARSE_TIMEOUT_MS: z.coerce.number().int().positive().default(DEFAULT_SCAN_LIMITS_CONFIG.parseTimeoutMs),
  API_RATE_LIMIT_MAX: z.coerce.number().int().min(0).default(DEFAULT_RATE_LIMIT.max),
  API_RATE_LIMIT_WINDOW_MS: z.coerce.number().int().positive().default(DEFAULT_RATE_LIMIT.windowMs),
  API_EVENTS_KEEP_ALIVE_MS: z.coerce.number().int().min(100).default(DEFAULT_KEEP_ALIVE_MS),
});

const env = loadEnv(ApiEnv);
const jwt = jwtSettingsFromEnv(loadEnv(AuthEnv));
// REPOSITORY_HOSTS_ALLOWED (default github.com) and ALLOW_LOCAL_REPOSITORIES (default false).
const repositoryPolicy = repositoryPolicyFromEnv();
await runMain(() => ({
  name: 'api',
  env,
  // Executions by state and the outbox backlog are read from PostgreSQL here, once for the stack.
  databaseGauges: true,
  retentionSweep: true,
  listen: { port: env.API_PORT, host: env.API_HOST },
  http: (ctx) =>
    buildApi(
      { db: ctx.db, nats: ctx.nats, worker: ctx.worker, logger: ctx.logger, jwt, repositoryPolicy },
      {
        scanLimits: {
          maxBytes: env.API_SCAN_MAX_BYTES,
          maxComponents: env.API_SCAN_MAX_COMPONENTS,
          maxDepth: env.API_SCAN_MAX_DEPTH,
          threads: env.API_SCAN_PARSE_THREADS,
          workerHeapMb: env.API_SCAN_WORKER_HEAP_MB,
          parseTimeoutMs: env.API_SCAN_PARSE_TIMEOUT_MS,
        },
        rateLimit: { max: env.API_RATE_LIMIT_MAX, windowMs: env.API_RATE_LIMIT_WINDOW_MS },
        events: { keepAliveMs: env.API_EVENTS_KEEP_ALIVE_MS },
      },
    ),
}));
