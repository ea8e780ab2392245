import { z } from 'zod';
import { BaseEnv, loadEnv } from '@remediation/config';
import { runMain } from '@remediation/service-runtime';
import { AuthEnv, jwtSettingsFromEnv } from './auth.js';
import { buildApi } from './server.js';

/** API environment: the base plus the listen address (authentication: AuthEnv). */
const ApiEnv = BaseEnv.extend({
  API_PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  API_HOST: z.string().default('127.0.0.1'),
});

const env = loadEnv(ApiEnv);
const jwt = jwtSettingsFromEnv(loadEnv(AuthEnv));
await runMain(() => ({
  name: 'api',
  env,
  listen: { port: env.API_PORT, host: env.API_HOST },
  http: (ctx) => buildApi({ db: ctx.db, nats: ctx.nats, worker: ctx.worker, logger: ctx.logger, jwt }),
}));
