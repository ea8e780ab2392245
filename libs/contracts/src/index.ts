export * from './planner-output.js';
export * from './states.js';
export * from './messages.js';
export * from './ids.js';
export * from './api.js';
export * from './codebase.js';
export * from './repository-policy.js';
export * from './branch-name.js';
