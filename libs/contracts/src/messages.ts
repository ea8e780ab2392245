import { z } from 'zod';
import { ExecutionKind, ExecutionState, Step } from './states.js';

/**
 * Message contracts on NATS JetStream. Subjects are versioned (`v1`); a breaking payload change
 * gets a new subject version. Messages carry ids, refs and SHAs, never patch contents
 * (docs/mission.md "Messages carry references").
 */
export const SUBJECT_PREFIX = 'remediation';

/** Command kinds: each has one durable consumer, owned by one app. */
export const CommandKind = z.enum([
  'plan.run',
  'workspace.prepare',
  'patch.apply',
  'patch.commit',
  'branch.push',
  'pull_request.open',
  'pull_request.update',
  'pull_request.comment',
  'workspace.release',
]);
export type CommandKind = z.infer<typeof CommandKind>;

/**
 * The state and step an execution must be at for a command to do its work. The consumer runtime
 * claims the step (lease) before calling the handler; a command whose execution is elsewhere is
 * acknowledged without effect (its step already happened, or the run was cancelled).
 * `null` = no claim (housekeeping commands such as `workspace.release`).
 */
export const COMMAND_STEPS: Record<CommandKind, { states: readonly ExecutionState[]; step: Step } | null> = {
  'plan.run': { states: ['planner_running'], step: 'planning' },
  'workspace.prepare': { states: ['patch_running', 'pr_updating'], step: 'workspace' },
  'patch.apply': { states: ['patch_running', 'changes_requested', 'pr_updating'], step: 'editing' },
  'patch.commit': { states: ['patch_running', 'changes_requested', 'pr_updating'], step: 'committing' },
  'branch.push': { states: ['pr_opening', 'changes_requested', 'pr_updating'], step: 'pushing' },
  'pull_request.open': { states: ['pr_opening'], step: 'opening' },
  'pull_request.update': { states: ['changes_requested', 'pr_updating'], step: 'updating' },
  'pull_request.comment': null,
  'workspace.release': null,
};

/** The command that performs `step` (inverse of COMMAND_STEPS), used by retry and the reconciler. */
export function commandForStep(step: Step): CommandKind {
  const found = (Object.entries(COMMAND_STEPS) as Array<[CommandKind, { step: Step } | null]>).find(([, v]) => v?.step === step);
  if (!found) throw new Error(`no command performs step ${step}`);
  return found[0];
}

/**
 * Subject of a command for one execution: `remediation.cmd.v1.<kind>.<execution id>`, e.g.
 * `remediation.cmd.v1.plan.run.rem_0mwq….plan.1`. The execution id in the subject lets the
 * reconciler ask the work queue whether an execution's command is still queued
 * (`last_by_subj`) before re-issuing it.
 */
export function commandSubject(kind: CommandKind, executionId: string): string {
  return `${SUBJECT_PREFIX}.cmd.v1.${kind}.${executionId}`;
}

/** Filter subject of a command kind's durable consumer: `remediation.cmd.v1.<kind>.>`. */
export function commandFilterSubject(kind: CommandKind): string {
  return `${SUBJECT_PREFIX}.cmd.v1.${kind}.>`;
}

/**
 * Subject of a public event: `remediation.evt.v1.<tenant>.execution.<state>`. The tenant token lets
 * each team subscribe to its own events (`remediation.evt.v1.<tenant>.>`); tenant ids are valid
 * subject tokens by construction (`^[a-z0-9][a-z0-9-]{0,62}$`, docs/events.md).
 */
export function eventSubject(tenant: string, state: ExecutionState): string {
  return `${SUBJECT_PREFIX}.evt.v1.${tenant}.execution.${state}`;
}

/**
 * What `branch.push` delivers, decided by the state machine when it issues the command: git-gateway
 * executes it and decides nothing. The version goes to the pull request's head branch; when the
 * base branch moved since the version was made, git-gateway first rebases it server-side onto the
 * new head (a new patch version), and when that rebase cannot be done cleanly, `onConflict` says
 * what follows: `fail` the step (`REBASE_CONFLICT` / `BASE_REWRITTEN`), or `reapply` the patch on
 * the new head (a `rebase_reapply` iteration: an open pull request's maintenance).
 */
export const PushInstruction = z.object({
  /** The patch version to push. */
  patchVersion: z.number().int().positive(),
  onConflict: z.enum(['fail', 'reapply']),
});
export type PushInstruction = z.infer<typeof PushInstruction>;

/** Payload of every command: which execution to work on. */
export const CommandPayload = z.object({
  kind: CommandKind,
  remediationId: z.string().min(1),
  executionId: z.string().min(1),
  /** Pull request record id, for `branch.push`, `pull_request.open|update|comment`. */
  pullRequestId: z.string().optional(),
  /** What to push (`branch.push`). */
  push: PushInstruction.optional(),
  /** What to say on the pull request (`pull_request.comment`): why an update failed. */
  note: z.object({ code: z.string(), message: z.string(), rebaseFailed: z.boolean() }).optional(),
  /** When the command was issued (ISO 8601). */
  issuedAt: z.string(),
});
export type CommandPayload = z.infer<typeof CommandPayload>;

/** A patch version as messages and events carry it: a ref and a SHA, never the diff. */
export const PatchVersionRef = z.object({
  version: z.number().int().positive(),
  ref: z.string(),
  sha: z.string().regex(/^[0-9a-f]{40}$/),
});
export type PatchVersionRef = z.infer<typeof PatchVersionRef>;

/** Public event: one per execution state change (`remediation.evt.v1.<tenant>.execution.<state>`). */
export const ExecutionEvent = z.object({
  schema: z.literal('remediation.execution.v1'),
  remediationId: z.string(),
  executionId: z.string(),
  kind: ExecutionKind,
  from: ExecutionState.nullable(),
  to: ExecutionState,
  step: Step.nullable(),
  /** ISO 8601 time of the transition. */
  at: z.string(),
  patchVersion: PatchVersionRef.optional(),
  pullRequest: z.object({ number: z.number().int(), url: z.string() }).optional(),
  /** Why the state changed when it is not obvious, e.g. `rebase`, `feedback`, `merged`. */
  reason: z.string().optional(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});
export type ExecutionEvent = z.infer<typeof ExecutionEvent>;

/** Subject of the public event for a triaged piece of pull request feedback: `remediation.evt.v1.<tenant>.feedback.triaged`. */
export function feedbackTriagedSubject(tenant: string): string {
  return `${SUBJECT_PREFIX}.evt.v1.${tenant}.feedback.triaged`;
}

/**
 * Public event: a review, review comment, PR comment or failing check on an open pull request was
 * stored and triaged (`remediation.evt.v1.<tenant>.feedback.triaged`), once per item. When actionable, the
 * execution's `changes_requested` event follows.
 */
export const FeedbackTriagedEvent = z.object({
  schema: z.literal('remediation.feedback-triaged.v1'),
  remediationId: z.string(),
  executionId: z.string(),
  pullRequest: z.object({ id: z.string(), number: z.number().int(), url: z.string() }),
  feedback: z.object({
    /** Our id of the stored item. */
    id: z.number().int(),
    kind: z.enum(['review', 'review_comment', 'issue_comment', 'check_run']),
    author: z.string(),
    path: z.string().nullable(),
    line: z.number().int().nullable(),
  }),
  actionable: z.boolean(),
  reasoning: z.string(),
  /** `model` (the triage agent) or `policy` (rules, without a model call). */
  decidedBy: z.enum(['model', 'policy']),
  /** ISO 8601 time of the triage. */
  at: z.string(),
});
export type FeedbackTriagedEvent = z.infer<typeof FeedbackTriagedEvent>;

/**
 * Subject of a public progress event: `remediation.evt.v1.<tenant>.progress.<step>`, e.g.
 * `remediation.evt.v1.acme.progress.workspace` (docs/events.md, docs/decisions/0019).
 */
export function progressSubject(tenant: string, step: Step): string {
  return `${SUBJECT_PREFIX}.evt.v1.${tenant}.progress.${step}`;
}

/** Filter subject of every public event of one tenant: `remediation.evt.v1.<tenant>.>`. */
export function tenantEventsFilterSubject(tenant: string): string {
  return `${SUBJECT_PREFIX}.evt.v1.${tenant}.>`;
}

/**
 * Public event: a heartbeat of a running step that the history records (clone or bundle progress
 * `workspace.progress` with `received`/`total`, an agent's `tool_call`, a planner's `plan.lookup`,
 * and the like), published best-effort on `remediation.evt.v1.<tenant>.progress.<step>` at most once
 * a second per step attempt plus every named event (docs/decisions/0019). Not transactional:
 * one can be missing; the history (`GET /v1/executions/:id/history`) is the record.
 */
export const ProgressEvent = z.object({
  schema: z.literal('remediation.progress.v1'),
  remediationId: z.string(),
  executionId: z.string(),
  /** The step the heartbeat belongs to; the subject's last token. */
  step: Step,
  /**
   * What happened: `heartbeat` (a progress heartbeat without a name), or the named event, e.g.
   * `workspace.progress`, `tool_call`, `agent_started`, `model_retry`, `plan.lookup`. New names may appear.
   */
  event: z.string(),
  /**
   * The heartbeat's details as the history records them, e.g. `{ operation, phase, received, total }`
   * for `workspace.progress` (objects, or bytes for a bundle download), `{ tool, turn, isError }` for `tool_call`.
   */
  details: z.record(z.string(), z.unknown()),
  /** The step attempt (lease attempt) that sent it: 1 for the first delivery, more after redeliveries and retries. */
  attempt: z.number().int().positive(),
  /** ISO 8601 time of the heartbeat. */
  at: z.string(),
});
export type ProgressEvent = z.infer<typeof ProgressEvent>;

/**
 * Request/reply subject (core NATS, queue group `git-gateway`) for the unified diff of a patch
 * version. Request: `DiffRequest`; reply: `DiffReply`.
 */
export const DIFF_RPC_SUBJECT = `${SUBJECT_PREFIX}.rpc.v1.diff`;

/**
 * Request/reply subjects (core NATS, queue group `git-gateway`) for the workspaces git-gateway
 * owns: `ensure` makes the execution's workspace ready on this node (resuming the existing one,
 * or rebuilding it from the base snapshot + the last checkpoint, never re-cloning) and
 * `checkpoint` records its current changes as a work-in-progress commit on a ref.
 */
export const WORKSPACE_RPC_SUBJECTS = {
  ensure: `${SUBJECT_PREFIX}.rpc.v1.workspace.ensure`,
  checkpoint: `${SUBJECT_PREFIX}.rpc.v1.workspace.checkpoint`,
} as const;

/** The workspace RPCs of git-gateway. */
export type WorkspaceRpc = keyof typeof WORKSPACE_RPC_SUBJECTS;

/**
 * Subject of a workspace RPC addressed to one node's git-gateway:
 * `remediation.rpc.v1.workspace.<node id>.ensure|checkpoint` (docs/decisions/0021). The patcher
 * asks its own node, which holds the execution's workspace while the patcher runs the step.
 */
export function nodeWorkspaceSubject(nodeId: string, rpc: WorkspaceRpc): string {
  return `${SUBJECT_PREFIX}.rpc.v1.workspace.${nodeId}.${rpc}`;
}

/**
 * Commands whose work needs the execution's workspace files, so they run on the node holding
 * them (docs/decisions/0021): `workspace.prepare` makes the workspace (its node becomes the
 * holder), `patch.apply` edits it, `patch.commit` commits it, `workspace.release` removes it.
 */
export const NODE_AFFINE_COMMANDS: ReadonlySet<CommandKind> = new Set<CommandKind>(['workspace.prepare', 'patch.apply', 'patch.commit', 'workspace.release']);

/** Body of a workspace request: which execution's workspace. */
export const WorkspaceRequest = z.object({ executionId: z.string().min(1) });
export type WorkspaceRequest = z.infer<typeof WorkspaceRequest>;

/**
 * Reply to a workspace request: the workspace's merged (writable) and lower (base snapshot)
 * dirs on this node, or an error with its code and whether retrying may help.
 */
export const WorkspaceReply = z.union([
  z.object({
    ok: z.literal(true),
    mergedDir: z.string(),
    lowerDir: z.string(),
    /** ensure: where the workspace came from; checkpoint: absent. */
    restoredFrom: z.enum(['existing', 'checkpoint', 'empty']).optional(),
    /** checkpoint: the checkpoint commit, or null when there were no changes. */
    sha: z.string().nullable().optional(),
  }),
  z.object({ ok: z.literal(false), code: z.string(), message: z.string(), retryable: z.boolean() }),
]);
export type WorkspaceReply = z.infer<typeof WorkspaceReply>;

/** Body of a diff request: the repository and the two commits (full SHAs) to compare. */
export const DiffRequest = z.object({
  repository: z.string(),
  baseCommit: z.string().regex(/^[0-9a-f]{40}$/),
  sha: z.string().regex(/^[0-9a-f]{40}$/),
});
export type DiffRequest = z.infer<typeof DiffRequest>;

/** Reply to a diff request: the unified diff, or an error with its code. */
export const DiffReply = z.union([
  z.object({ ok: z.literal(true), diff: z.string() }),
  z.object({ ok: z.literal(false), code: z.string(), message: z.string() }),
]);
export type DiffReply = z.infer<typeof DiffReply>;
