import { Counter, type Registry } from 'prom-client';
import { metricSet } from './metric-set.js';

/**
 * Code-fix agent metrics (docs/operations.md "Agent"). `provider` is the model API (`anthropic`),
 * `model` the configured model id, `tool` one of the agent's tool names (a fixed set).
 */
export const agentMetrics = metricSet((registry: Registry) => ({
  turns: new Counter({
    name: 'remediation_agent_turns_total',
    help: 'Model responses received by the code-fix agent.',
    labelNames: ['provider', 'model'] as const,
    registers: [registry],
  }),
  toolCalls: new Counter({
    name: 'remediation_agent_tool_calls_total',
    help: 'Tool calls the agent executed, by tool and outcome (ok, error).',
    labelNames: ['tool', 'outcome'] as const,
    registers: [registry],
  }),
  tokens: new Counter({
    name: 'remediation_agent_tokens_total',
    help: 'Tokens used by the agent, by type (input, output, cache_write, cache_read; input includes the cache ones).',
    labelNames: ['provider', 'model', 'type'] as const,
    registers: [registry],
  }),
  cost: new Counter({
    name: 'remediation_agent_cost_dollars_total',
    help: 'Cost of the agent model requests in US dollars under the configured pricing.',
    labelNames: ['provider', 'model'] as const,
    registers: [registry],
  }),
}));

/** The agent metric set of one registry. */
export type AgentMetrics = ReturnType<typeof agentMetrics>;
