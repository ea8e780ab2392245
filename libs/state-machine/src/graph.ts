import { type ExecutionKind, type ExecutionState, FAILED_STATES, PatchState, PlanState, Step } from '@remediation/contracts';
import { type ExecutionSnapshot, type MachineEvent, can, transition } from './transition.js';

/** One drawn move of the machine: from a state (null = creation) to another on an event. */
export interface StateGraphEdge {
  from: ExecutionState | null;
  to: ExecutionState;
  /** Machine event types that make this move (`MachineEvent['type']`), sorted. */
  events: string[];
}

/** The states and moves of one execution kind. */
export interface StateGraph {
  kind: ExecutionKind;
  /** The state a new execution of this kind starts in. */
  initial: ExecutionState;
  /** Every state of the kind, in the order of its schema (`PlanState` / `PatchState`). */
  states: ExecutionState[];
  /** Moves between different states (step changes inside a state are not drawn). */
  edges: StateGraphEdge[];
}

const ERROR = { code: 'X', message: 'x' };

/** One event of each type, with the payload variants that reach every branch of `transition`. */
const SAMPLE_EVENTS: readonly MachineEvent[] = [
  { type: 'plan.requested' },
  { type: 'plan.completed' },
  { type: 'plan.failed', error: ERROR },
  { type: 'patch.requested' },
  { type: 'workspace.ready', baseCommit: 'c' },
  { type: 'patch.applied', changedTargets: 1 },
  { type: 'patch.applied', changedTargets: 0 },
  { type: 'patch.committed', patchVersion: { version: 1, ref: 'r', sha: 's' } },
  { type: 'patch.failed', error: ERROR },
  { type: 'pull_request.requested', pullRequestId: 'pr', patchVersion: 1 },
  { type: 'branch.pushed', pullRequestId: 'pr' },
  { type: 'pull_request.opened', pullRequestId: 'pr', number: 1, url: 'u' },
  { type: 'pull_request.failed', pullRequestId: 'pr', error: ERROR },
  { type: 'feedback.received', iteration: 2 },
  { type: 'rebase.requested', reason: 'r' },
  { type: 'rebase.conflicted', error: ERROR, iteration: 2 },
  { type: 'pull_request.updated', pullRequestId: 'pr' },
  { type: 'pull_request.closed', merged: true },
  { type: 'pull_request.closed', merged: false },
  { type: 'retry.requested' },
  { type: 'cancel.requested', reason: 'r' },
  { type: 'step.abandoned', error: ERROR },
];

/**
 * The state graph of an execution kind, derived from {@link transition} itself (not a second
 * table): every state (and creation) × every step × (in a failed state) every failed step × with
 * and without a pull request is offered every event of {@link SAMPLE_EVENTS}; each allowed move that changes the state
 * is an edge. The operator console draws it (`/console/state-machine.json`).
 */
export function stateGraph(kind: ExecutionKind): StateGraph {
  const states: ExecutionState[] = kind === 'plan' ? [...PlanState.options] : [...PatchState.options];
  const edges = new Map<string, StateGraphEdge>();
  const steps = [null, ...Step.options];
  for (const state of [null, ...states]) {
    for (const step of steps) {
      // Only a failed state remembers the step that failed (retry resumes there).
      for (const failedStep of state && FAILED_STATES.has(state) ? steps : [null]) {
        for (const pr of [false, true]) {
          const snapshot: ExecutionSnapshot = {
            tenant: 't',
            remediationId: 'r',
            executionId: 'e',
            kind,
            state,
            step,
            failedStep,
            pullRequestId: pr ? 'pr' : null,
            pullRequestVersion: pr ? 1 : null,
          };
          for (const event of SAMPLE_EVENTS) {
            if (!can(snapshot, event)) continue;
            const to = transition(snapshot, event, '1970-01-01T00:00:00.000Z').next.state;
            if (to === null || to === state) continue;
            const key = `${state}\u0000${to}`;
            const edge = edges.get(key) ?? { from: state, to, events: [] };
            if (!edge.events.includes(event.type)) edge.events = [...edge.events, event.type].sort();
            edges.set(key, edge);
          }
        }
      }
    }
  }
  const initial = [...edges.values()].find((e) => e.from === null)?.to;
  if (!initial) throw new Error(`the ${kind} machine has no creation event`);
  return { kind, initial, states, edges: [...edges.values()].filter((e) => e.from !== null) };
}
