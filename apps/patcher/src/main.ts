import { BaseEnv, loadEnv, runMain } from '@remediation/service-runtime';
import { NO_AGENT } from './agent.js';
import { patchApplyHandler } from './handlers/patch-apply.js';

const env = loadEnv(BaseEnv);
await runMain(() => ({
  name: 'patcher',
  env,
  handlers: (ctx) => [patchApplyHandler({ db: ctx.db, nc: ctx.nats.nc, worker: ctx.worker, agent: NO_AGENT })],
}));
