import {
  type CommandKind,
  type CommandPayload,
  type ExecutionEvent,
  type ExecutionKind,
  type ExecutionState,
  type PatchVersionRef,
  type PushInstruction,
  type Step,
  FAILED_STATES,
  MAINTENANCE_STATES,
  commandForStep,
  commandSubject,
  eventSubject,
} from '@remediation/contracts';
import { InvalidTransitionError } from '@remediation/errors';

/**
 * The remediation state machine: a pure function `transition(snapshot, event, at)` returning the
 * next snapshot and the effects (commands to send, events to publish). No I/O: the caller applies
 * it in one database transaction (compare-and-set, history row, outbox rows). The shape follows
 * xstate's pure transitions (state + event in, next state + actions out).
 */

/** What the machine needs to know about an execution. `state` is null before creation. */
export interface ExecutionSnapshot {
  /** The tenant owning the execution: its public events' subject token. */
  readonly tenant: string;
  readonly remediationId: string;
  readonly executionId: string;
  readonly kind: ExecutionKind;
  readonly state: ExecutionState | null;
  readonly step: Step | null;
  /** The step at which the execution failed (set on entering a failed state), for retry. */
  readonly failedStep?: Step | null;
  /** The pull request being opened (for a retry of `pr_failed`), or the open one being maintained. */
  readonly pullRequestId?: string | null;
  /** The patch version that pull request shows (its record's `patchVersion`), when there is one. */
  readonly pullRequestVersion?: number | null;
}

/** Events that drive executions. Names are `<subject>.<past participle>`. */
export type MachineEvent =
  | { type: 'plan.requested' }
  | { type: 'plan.completed' }
  | { type: 'plan.failed'; error: { code: string; message: string } }
  | { type: 'patch.requested' }
  | { type: 'workspace.ready'; baseCommit: string }
  /** `reason`: why nothing was patched when `changedTargets` is 0 (e.g. `PARTIAL_SUCCESS_DECLINED`). */
  | { type: 'patch.applied'; changedTargets: number; reason?: { code: string; message: string } }
  | { type: 'patch.committed'; patchVersion: PatchVersionRef }
  | { type: 'patch.failed'; error: { code: string; message: string } }
  /** `patchVersion`: the approved version the new pull request is opened with. */
  | { type: 'pull_request.requested'; pullRequestId: string; patchVersion: number }
  | { type: 'branch.pushed'; pullRequestId: string }
  | { type: 'pull_request.opened'; pullRequestId: string; number: number; url: string }
  | { type: 'pull_request.failed'; pullRequestId: string; error: { code: string; message: string } }
  | { type: 'feedback.received'; iteration: number }
  | { type: 'rebase.requested'; reason: string }
  | { type: 'rebase.conflicted'; error: { code: string; message: string }; iteration: number }
  | { type: 'pull_request.updated'; pullRequestId: string }
  | { type: 'pull_request.closed'; merged: boolean }
  | { type: 'retry.requested'; pullRequestId?: string }
  | { type: 'cancel.requested'; reason: string }
  | { type: 'step.abandoned'; error: { code: string; message: string } };

/** A command for a service, or a public event. */
export type Effect =
  | { type: 'command'; subject: string; payload: CommandPayload }
  | { type: 'event'; subject: string; payload: ExecutionEvent };

/** Result of a transition. */
export interface TransitionResult {
  readonly next: ExecutionSnapshot;
  readonly effects: readonly Effect[];
}

interface Target {
  state: ExecutionState;
  step: Step | null;
  command?: { kind: CommandKind; pullRequestId?: string; push?: PushInstruction };
}

/**
 * The push policy (who decides what `branch.push` delivers): opening a pull request pushes the
 * approved version and fails on a conflicting base; a review iteration pushes the version it made
 * and fails on a conflicting base (the pull request stays on its version and says why); an open
 * pull request whose base moved (`pr_updating`) pushes its version rebased, and re-applies the patch
 * on the new head when the rebase conflicts, then pushes the re-applied version the same way.
 */
function pushCommand(state: ExecutionState, patchVersion: number): NonNullable<Target['command']> {
  return { kind: 'branch.push', push: { patchVersion, onConflict: state === 'pr_updating' ? 'reapply' : 'fail' } };
}

/** The table of allowed moves: `(kind, state, step, event)` → target. Null = not allowed. */
function decide(s: ExecutionSnapshot, e: MachineEvent): Target | null {
  if (e.type === 'cancel.requested') {
    if (s.state === 'planner_running') return { state: 'planner_cancelled', step: null };
    if (s.state === 'patch_running' || s.state === 'pr_opening') {
      return { state: 'patch_cancelled', step: null, command: { kind: 'workspace.release' } };
    }
    return null;
  }
  if (e.type === 'step.abandoned') {
    // Deliveries or re-issues ran out (dead letter, reconciler): fail at the current step.
    if (s.state === 'planner_running') return { state: 'planner_failed', step: null };
    if (s.state === 'patch_running') return { state: 'patch_failed', step: null };
    if (s.state === 'pr_opening') return { state: 'pr_failed', step: null };
    if (MAINTENANCE_STATES.has(s.state!)) return maintenanceFailed(s);
    return null;
  }
  if (e.type === 'pull_request.closed') {
    // The PR was merged or closed on the provider: the execution ends, whatever was running.
    if (s.state === 'pr_opened' || MAINTENANCE_STATES.has(s.state!)) return { state: e.merged ? 'pr_merged' : 'pr_closed', step: null };
    return null;
  }
  if (e.type === 'retry.requested') {
    const step = s.failedStep ?? null;
    if (s.state === 'planner_failed') return { state: 'planner_running', step: 'planning', command: { kind: 'plan.run' } };
    if (s.state === 'patch_failed' && step && ['workspace', 'editing', 'committing'].includes(step)) {
      return { state: 'patch_running', step, command: { kind: commandForStep(step) } };
    }
    if (s.state === 'pr_failed' && step && (step === 'pushing' || step === 'opening')) {
      const pullRequestId = e.pullRequestId ?? s.pullRequestId ?? undefined;
      if (!pullRequestId) return null;
      if (step === 'opening') return { state: 'pr_opening', step, command: { kind: 'pull_request.open', pullRequestId } };
      // Pushing again: the version the pull request record was requested with.
      if (s.pullRequestVersion == null) return null;
      return { state: 'pr_opening', step, command: { ...pushCommand('pr_opening', s.pullRequestVersion), pullRequestId } };
    }
    return null;
  }
  if (s.kind === 'plan') {
    switch (e.type) {
      case 'plan.requested':
        return s.state === null ? { state: 'planner_running', step: 'planning', command: { kind: 'plan.run' } } : null;
      case 'plan.completed':
        return s.state === 'planner_running' ? { state: 'plan_generated', step: null } : null;
      case 'plan.failed':
        return s.state === 'planner_running' ? { state: 'planner_failed', step: null } : null;
      default:
        return null;
    }
  }
  // Iterating states share the edit → commit chain; an open PR's maintenance then pushes and updates it.
  const iterating = s.state === 'patch_running' || MAINTENANCE_STATES.has(s.state!);
  switch (e.type) {
    case 'patch.requested':
      return s.state === null ? { state: 'patch_running', step: 'workspace', command: { kind: 'workspace.prepare' } } : null;
    case 'workspace.ready':
      return iterating && s.step === 'workspace' ? { state: s.state!, step: 'editing', command: { kind: 'patch.apply' } } : null;
    case 'patch.applied':
      if (!iterating || s.step !== 'editing') return null;
      if (e.changedTargets > 0) return { state: s.state!, step: 'committing', command: { kind: 'patch.commit' } };
      return s.state === 'patch_running' ? { state: 'patch_failed', step: null } : maintenanceFailed(s);
    case 'patch.committed':
      if (!iterating || s.step !== 'committing') return null;
      if (s.state === 'patch_running') return { state: 'patch_generated', step: null };
      return withPullRequest(s, { state: s.state!, step: 'pushing', command: pushCommand(s.state!, e.patchVersion.version) });
    case 'patch.failed':
      if (s.state === 'patch_running') return { state: 'patch_failed', step: null };
      return MAINTENANCE_STATES.has(s.state!) ? maintenanceFailed(s) : null;
    case 'feedback.received':
      // Review feedback starts an iteration on the same workspace: the agent edits, git-gateway
      // commits the next patch version (docs/mission.md "Review and iteration"); on an open PR the
      // version is then pushed to it (`changes_requested`).
      if (s.state === 'patch_generated') return { state: 'patch_running', step: 'editing', command: { kind: 'patch.apply' } };
      if (s.state === 'pr_opened') return { state: 'changes_requested', step: 'editing', command: { kind: 'patch.apply' } };
      return null;
    case 'rebase.requested':
      // The base branch moved: git-gateway rebases the PR's version onto the new head and pushes.
      if (s.state !== 'pr_opened' || s.pullRequestVersion == null) return null;
      return withPullRequest(s, { state: 'pr_updating', step: 'pushing', command: pushCommand('pr_updating', s.pullRequestVersion) });
    case 'rebase.conflicted':
      // The rebase conflicted: re-apply the patch on the new head (fresh workspace, bumps re-run,
      // agent changes re-done) as a new patch version.
      return s.state === 'pr_updating' && s.step === 'pushing' ? { state: 'pr_updating', step: 'workspace', command: { kind: 'workspace.prepare' } } : null;
    case 'pull_request.requested':
      return s.state === 'patch_generated' || s.state === 'pr_failed'
        ? { state: 'pr_opening', step: 'pushing', command: { ...pushCommand('pr_opening', e.patchVersion), pullRequestId: e.pullRequestId } }
        : null;
    case 'branch.pushed':
      if (s.state === 'pr_opening' && s.step === 'pushing') {
        return { state: 'pr_opening', step: 'opening', command: { kind: 'pull_request.open', pullRequestId: e.pullRequestId } };
      }
      return MAINTENANCE_STATES.has(s.state!) && s.step === 'pushing'
        ? { state: s.state!, step: 'updating', command: { kind: 'pull_request.update', pullRequestId: e.pullRequestId } }
        : null;
    case 'pull_request.opened':
      return s.state === 'pr_opening' && s.step === 'opening' ? { state: 'pr_opened', step: null } : null;
    case 'pull_request.updated':
      return MAINTENANCE_STATES.has(s.state!) && s.step === 'updating' ? { state: 'pr_opened', step: null } : null;
    case 'pull_request.failed':
      if (s.state === 'pr_opening') return { state: 'pr_failed', step: null };
      return MAINTENANCE_STATES.has(s.state!) ? maintenanceFailed(s) : null;
    default:
      return null;
  }
}

/**
 * The error a failing event carries: its `error`, or for `patch.applied` with nothing patched its
 * `reason` (default `NO_TARGET_PATCHED`). Every event that fails a step is one of these.
 */
function failureOf(e: MachineEvent): { code: string; message: string } {
  if ('error' in e) return e.error;
  return (e.type === 'patch.applied' ? e.reason : undefined) ?? { code: 'NO_TARGET_PATCHED', message: 'no target could be patched' };
}


/**
 * A failed maintenance step: the PR stays open with its previous version (the execution goes back
 * to `pr_opened`) and pr-service says why on the PR (`pull_request.comment`); a failed rebase
 * marks the PR `rebase_failed`.
 */
function maintenanceFailed(s: ExecutionSnapshot): Target | null {
  return withPullRequest(s, { state: 'pr_opened', step: null, command: { kind: 'pull_request.comment' } });
}

/** Adds the execution's pull request to the target's command (maintenance commands need it). */
function withPullRequest(s: ExecutionSnapshot, t: Target): Target | null {
  if (!s.pullRequestId || !t.command) return null;
  return { ...t, command: { ...t.command, pullRequestId: s.pullRequestId } };
}

/**
 * Computes the next snapshot and effects for `event` on `snapshot`.
 *
 * Effects: a command when the next step belongs to another service; a public event
 * (`remediation.evt.v1.<tenant>.execution.<state>`) whenever the state (not only the step) changes.
 *
 * @param at time of the transition (ISO 8601), put in commands and events.
 * @throws InvalidTransitionError when the event is not allowed in the current state/step.
 */
export function transition(snapshot: ExecutionSnapshot, event: MachineEvent, at: string): TransitionResult {
  const target = decide(snapshot, event);
  if (!target) {
    throw new InvalidTransitionError(
      `${event.type} is not allowed for a ${snapshot.kind} execution in state ${snapshot.state ?? '(new)'}` +
        (snapshot.step ? ` at step ${snapshot.step}` : ''),
      { executionId: snapshot.executionId, state: snapshot.state, step: snapshot.step, event: event.type },
    );
  }
  const failed = FAILED_STATES.has(target.state);
  const next: ExecutionSnapshot = {
    ...snapshot,
    state: target.state,
    step: target.step,
    failedStep: failed ? snapshot.step : target.state === snapshot.state ? (snapshot.failedStep ?? null) : null,
  };
  const effects: Effect[] = [];
  if (target.command) {
    const payload: CommandPayload = {
      kind: target.command.kind,
      remediationId: snapshot.remediationId,
      executionId: snapshot.executionId,
      issuedAt: at,
      ...(target.command.pullRequestId ? { pullRequestId: target.command.pullRequestId } : {}),
      ...(target.command.push ? { push: target.command.push } : {}),
      ...(target.command.kind === 'pull_request.comment'
        ? { note: { ...failureOf(event), rebaseFailed: snapshot.state === 'pr_updating' } }
        : {}),
    };
    effects.push({ type: 'command', subject: commandSubject(target.command.kind, snapshot.executionId), payload });
  }
  if (target.state !== snapshot.state) {
    const payload: ExecutionEvent = {
      schema: 'remediation.execution.v1',
      remediationId: snapshot.remediationId,
      executionId: snapshot.executionId,
      kind: snapshot.kind,
      from: snapshot.state,
      to: target.state,
      step: target.step,
      at,
      ...(event.type === 'patch.committed' ? { patchVersion: event.patchVersion } : {}),
      ...(event.type === 'rebase.requested' ? { reason: `rebase: ${event.reason}` } : {}),
      ...(event.type === 'feedback.received' ? { reason: `feedback: iteration ${event.iteration}` } : {}),
      ...(event.type === 'pull_request.closed' ? { reason: event.merged ? 'merged' : 'closed' } : {}),
      ...(event.type === 'pull_request.opened' ? { pullRequest: { number: event.number, url: event.url } } : {}),
      ...('error' in event ? { error: event.error } : {}),
      ...(event.type === 'cancel.requested' ? { error: { code: 'CANCELLED', message: event.reason } } : {}),
      ...(event.type === 'patch.applied' && event.changedTargets === 0
        ? { error: failureOf(event) }
        : {}),
    };
    effects.push({ type: 'event', subject: eventSubject(snapshot.tenant, target.state), payload });
  }
  return { next, effects };
}

/** Whether `event` is allowed now (same rules as `transition`, without building effects). */
export function can(snapshot: ExecutionSnapshot, event: MachineEvent): boolean {
  return decide(snapshot, event) !== null;
}
