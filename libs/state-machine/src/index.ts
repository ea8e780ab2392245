export { transition, can } from './transition.js';
export type { ExecutionSnapshot, MachineEvent, Effect, TransitionResult } from './transition.js';
export { stateGraph } from './graph.js';
export type { StateGraph, StateGraphEdge } from './graph.js';
