/**
 * Environment validation (zod) with no service dependencies: libraries such as the agent use
 * `envFlag`/`loadEnv` without pulling in NATS or PostgreSQL clients.
 */
export { BaseEnv, defaultNodeId, envFlag, loadEnv } from './env.js';
export { SERVICE_NODE_FLAGS, serviceNodeFlags } from './node-flags.js';
