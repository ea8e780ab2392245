export { transition, can } from './transition.js';
export type { ExecutionSnapshot, MachineEvent, Effect, TransitionResult } from './transition.js';
