import { loadEnv } from '@remediation/config';
import { runMain } from '@remediation/service-runtime';
import { agentConfigFromEnv } from '@remediation/agent';
import { registrySourcesFromEnv } from '@remediation/ecosystems';
import { PatcherEnv } from './agent.js';
import { patchApplyHandler } from './handlers/patch-apply.js';

const env = loadEnv(PatcherEnv);
const agent = agentConfigFromEnv(env);
await runMain(() => ({
  name: 'patcher',
  env,
  node: true,
  handlers: (ctx) => {
    const registries = registrySourcesFromEnv(env, ctx.metrics);
    ctx.logger.info(
      agent.agent ? { model: agent.agent.model, baseUrl: env.ANTHROPIC_BASE_URL ?? 'https://api.anthropic.com' } : {},
      agent.agent ? 'code-fix agent configured' : 'no ANTHROPIC_API_KEY: deterministic edits only; targets needing code changes are marked',
    );
    return [patchApplyHandler({ db: ctx.db, nc: ctx.nats.nc, worker: ctx.worker, nodeId: ctx.nodeId, agent, lockfileRegistry: { npm: registries.npm, cargo: registries.cargo }, metrics: ctx.metrics })];
  },
}));
