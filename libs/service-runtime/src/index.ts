export { BaseEnv, loadEnv } from './config.js';
export { startService, runMain, createLogger } from './service.js';
export type { ServiceContext, ServiceDefinition, RunningService } from './service.js';
