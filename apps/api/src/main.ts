import { z } from 'zod';
import { BaseEnv, loadEnv } from '@remediation/config';
import { repositoryPolicyFromEnv } from '@remediation/contracts';
import { runMain } from '@remediation/service-runtime';
import { buildApi } from './server.js';

/** API environment: the base plus the listen address. */
const ApiEnv = BaseEnv.extend({
  API_PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  API_HOST: z.string().default('127.0.0.1'),
});

const env = loadEnv(ApiEnv);
// REPOSITORY_HOSTS_ALLOWED (default github.com) and ALLOW_LOCAL_REPOSITORIES (default false).
const repositoryPolicy = repositoryPolicyFromEnv();
await runMain(() => ({
  name: 'api',
  env,
  listen: { port: env.API_PORT, host: env.API_HOST },
  http: (ctx) => buildApi({ db: ctx.db, nats: ctx.nats, worker: ctx.worker, logger: ctx.logger, repositoryPolicy }),
}));
