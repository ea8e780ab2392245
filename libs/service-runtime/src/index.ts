export { startService, runMain, createLogger } from './service.js';
export type { ServiceContext, ServiceDefinition, RunningService } from './service.js';
export { faultsFromEnv } from './faults.js';
export type { FaultPoint } from './faults.js';
export { LOG_REDACTION, REDACT_PATHS, REDACTED, SECRET_FIELDS } from './redaction.js';
