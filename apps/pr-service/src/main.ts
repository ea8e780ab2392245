import { z } from 'zod';
import { BaseEnv, loadEnv, runMain } from '@remediation/service-runtime';
import { pullRequestOpenHandler } from './handlers/pull-request-open.js';

/** pr-service environment: GitHub REST base URL and token. */
const PrEnv = BaseEnv.extend({
  GITHUB_API_URL: z.string().url().default('https://api.github.com'),
  GITHUB_TOKEN: z.string().min(1, 'GITHUB_TOKEN is required to open pull requests'),
});

const env = loadEnv(PrEnv);
await runMain(() => ({
  name: 'pr-service',
  env,
  handlers: (ctx) => [
    pullRequestOpenHandler({
      db: ctx.db,
      worker: ctx.worker,
      github: { apiUrl: env.GITHUB_API_URL, token: async () => env.GITHUB_TOKEN },
    }),
  ],
}));
