import { z } from 'zod';

/**
 * Execution kinds. Plan and patch are both executions (docs/mission.md "Every step has a state"):
 * each has a state, started/completed times and error text.
 */
export const ExecutionKind = z.enum(['plan', 'patch']);
export type ExecutionKind = z.infer<typeof ExecutionKind>;

/** States of a plan execution. `planner_running` is the initial state. */
export const PlanState = z.enum(['planner_running', 'plan_generated', 'planner_failed', 'planner_cancelled']);
export type PlanState = z.infer<typeof PlanState>;

/**
 * States of a patch execution, including the pull-request steps that follow approval.
 * `patch_running` is the initial state; `step` says where inside it the execution is.
 */
export const PatchState = z.enum([
  'patch_running',
  'patch_generated',
  'patch_failed',
  'pr_opening',
  'pr_opened',
  'pr_failed',
  'changes_requested',
  'pr_updating',
  'pr_merged',
  'pr_closed',
  'patch_cancelled',
]);
export type PatchState = z.infer<typeof PatchState>;

/** Any execution state. */
export const ExecutionState = z.enum([...PlanState.options, ...PatchState.options]);
export type ExecutionState = z.infer<typeof ExecutionState>;

/** States with no further automatic work (a user action may start more). */
export const TERMINAL_STATES: ReadonlySet<ExecutionState> = new Set<ExecutionState>([
  'plan_generated',
  'planner_failed',
  'patch_generated',
  'patch_failed',
  'pr_opened',
  'pr_failed',
  'planner_cancelled',
  'patch_cancelled',
  'pr_merged',
  'pr_closed',
]);

/** Failed states, from which `POST /v1/executions/:id/retry` resumes at the step that failed. */
export const FAILED_STATES: ReadonlySet<ExecutionState> = new Set<ExecutionState>(['planner_failed', 'patch_failed', 'pr_failed']);

/** Running states, which `POST /v1/executions/:id/cancel` may stop. */
export const RUNNING_STATES: ReadonlySet<ExecutionState> = new Set<ExecutionState>(['planner_running', 'patch_running', 'pr_opening']);

/**
 * States maintaining an open pull request (a step runs; the PR stays open meanwhile):
 * `changes_requested` (a review asked for a change: a new patch version is made and pushed) and
 * `pr_updating` (the base branch moved: the branch is rebased, or the patch re-applied on the new
 * head).
 */
export const MAINTENANCE_STATES: ReadonlySet<ExecutionState> = new Set<ExecutionState>(['changes_requested', 'pr_updating']);

/**
 * States in which a step is running (a command holds a lease): the running states plus the
 * maintenance states. The reconciler watches these.
 */
export const ACTIVE_STATES: ReadonlySet<ExecutionState> = new Set<ExecutionState>([...RUNNING_STATES, ...MAINTENANCE_STATES]);

/**
 * Steps inside a running state: `workspace` (git-gateway prepares the overlay workspace),
 * `editing` (patcher edits manifests), `committing` (git-gateway turns the upper layer into a
 * commit), `pushing` (git-gateway pushes the branch), `opening` (pr-service opens the PR),
 * `planning` (planner computes the plan), `updating` (pr-service updates an open pull request
 * after a new version was pushed to it: reply, body, record).
 */
export const Step = z.enum(['planning', 'workspace', 'editing', 'committing', 'pushing', 'opening', 'updating']);
export type Step = z.infer<typeof Step>;

/**
 * Per-target status of a patch execution: `pending` until its editing step starts, `running` while
 * that step works on it, then the step's outcome (`success`, `failed`, or `skipped`: not selected,
 * not shipped by the partial-success decision, or cancelled); a step that fails before recording
 * outcomes leaves its running targets `failed` with the error. Set by applyTransition
 * (libs/persistence) and the patcher's outcomes.
 */
export const TargetStatus = z.enum(['pending', 'running', 'success', 'failed', 'skipped']);
export type TargetStatus = z.infer<typeof TargetStatus>;

/** Pull-request record states as the provider reports them. */
export const PullRequestState = z.enum(['opening', 'open', 'closed', 'merged', 'failed', 'rebase_failed']);
export type PullRequestState = z.infer<typeof PullRequestState>;
