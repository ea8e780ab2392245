import { z } from 'zod';
import { branchNameProblem } from './branch-name.js';
import { githubRepositoryNameProblem } from './repository-policy.js';
import { PlannerOutput, Tier, TransitiveFixOption } from './planner-output.js';
import { ExecutionKind, ExecutionState, PlanState, PullRequestState, Step, TargetStatus } from './states.js';

/**
 * HTTP API v1 request and response bodies. The same schemas validate requests, serialise
 * responses and produce the OpenAPI description served at `/docs`.
 */

/**
 * Where the code lives and where pull requests go. Unknown fields are refused (strict). The
 * repository location is checked against the server's codebase policy by the API
 * (`checkRepositoryLocation`), not by this schema (the policy is configuration).
 */
export const Codebase = z.strictObject({
  /**
   * Git URL: `https://host/owner/repo.git`, `ssh://git@host/owner/repo.git` or `git@host:owner/repo.git`
   * on a host the server allows; local paths and `file://` only where the operator enables them
   * (development). No credentials in the URL.
   */
  repository: z.string().min(1).max(2048),
  /** Branch to patch; defaults to the repository's default branch. */
  baseBranch: z.string().min(1).max(255).optional(),
  /**
   * Repository on the pull-request provider. Derived from the repository location when
   * omitted (`github.com/<owner>/<repo>` URLs, or the last two path segments `<owner>/<repo>.git`).
   */
  pullRequestRepository: z
    .strictObject({ owner: z.string().min(1).max(39), repo: z.string().min(1).max(100) })
    .superRefine((r, ctx) => {
      const problem = githubRepositoryNameProblem(r.owner, r.repo);
      if (problem) ctx.addIssue({ code: 'custom', message: `not a GitHub owner/repo: ${problem}` });
    })
    .optional(),
});
export type Codebase = z.infer<typeof Codebase>;

/**
 * A scan as submitted: a JSON document as an object (CycloneDX 1.4–1.7, SPDX 2.2/2.3, OSV-Scanner
 * results, Trivy or Grype JSON), or a document's text as a string (CycloneDX XML; JSON text is
 * accepted too). The format is detected from the content (`parseScan` of @remediation/sbom).
 */
export const ScanDocument = z
  .union([z.record(z.string(), z.unknown()), z.string().min(1)])
  .describe(
    'The scan. A JSON document as an object: CycloneDX 1.4–1.7, SPDX 2.2/2.3, OSV-Scanner results (v1/v2), Trivy or Grype JSON; ' +
      'or the text of a CycloneDX XML document (1.4–1.7) as a string. The format is detected from the content. ' +
      'Bad scans get 400 SCAN_INVALID (details.pointer: an RFC 6901 JSON pointer, or details.xpath for XML), ' +
      'SCAN_FORMAT_UNKNOWN or SCAN_UNSUPPORTED_VERSION; limits (API_SCAN_MAX_BYTES, API_SCAN_MAX_COMPONENTS, API_SCAN_MAX_DEPTH) are named with details.limit.',
  );
export type ScanDocument = z.infer<typeof ScanDocument>;

/** `POST /v1/remediations` body: a codebase and a {@link ScanDocument}. Unknown fields are refused. */
export const CreateRemediationRequest = z.strictObject({
  codebase: Codebase,
  scan: ScanDocument,
});
export type CreateRemediationRequest = z.infer<typeof CreateRemediationRequest>;

/** Error body of every non-2xx answer. */
export const ErrorBody = z.object({
  code: z.string(),
  message: z.string(),
  details: z.record(z.string(), z.unknown()).optional(),
});
export type ErrorBody = z.infer<typeof ErrorBody>;

/** Summary of an execution (plan or patch) inside other resources. */
export const ExecutionSummary = z.object({
  id: z.string(),
  kind: ExecutionKind,
  state: ExecutionState,
  step: Step.nullable(),
  startedAt: z.string(),
  completedAt: z.string().nullable(),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
});
export type ExecutionSummary = z.infer<typeof ExecutionSummary>;

/** `GET /v1/remediations/:id` body. `state` is the state of the latest plan execution. */
export const RemediationResponse = z.object({
  id: z.string(),
  state: ExecutionState,
  codebase: Codebase,
  plan: PlannerOutput.nullable(),
  planExecution: ExecutionSummary,
  executions: z.array(ExecutionSummary),
  createdAt: z.string(),
  /**
   * Advisories published or modified after the plan's `advisoryDatabase.snapshotAt` that name one
   * of the scan's packages (any version): the plan may be out of date; re-plan with
   * `POST /v1/remediations/:id/plans`. Null when none, or when the plan records no snapshot.
   */
  stale: z
    .object({
      /** The plan's snapshot time. */
      since: z.string(),
      /** Canonical advisory ids, sorted. */
      advisories: z.array(z.string()),
    })
    .nullable()
    .optional(),
});
export type RemediationResponse = z.infer<typeof RemediationResponse>;

/**
 * `upgradeOption`, the v1 name of `tier` in request and response bodies: still accepted and still
 * answered in v1 (same values, same meaning), `tier` is the name to use.
 */
const UPGRADE_OPTION_ALIAS = 'Alias of `tier` kept in API v1 (its former name): same values, same meaning. Use `tier`.';

/** Fields of `POST /v1/remediations/:id/executions` other than the tier. Unknown fields are refused. */
const CreateExecutionFields = z.strictObject({
  /**
   * Subset of the plan's target names; all targets with a fix in the tier when omitted. A name of
   * the plan's `transitive` findings (npm) selects that finding too: its fix option in the tier is
   * applied (docs/decisions/0016); transitive findings are never selected by default.
   */
  targets: z.array(z.string().min(1)).min(1).optional(),
  /**
   * Branch to push; defaults to `remediation/<remediation id>/<execution kind>.<n>`. Git's rules
   * (git-check-ref-format --branch) and ours (`branchNameProblem`: not HEAD, not a full ref or tag);
   * the API also refuses the codebase's base branch.
   */
  branchName: z
    .string()
    .min(1)
    .max(200)
    .superRefine((name, ctx) => {
      const problem = branchNameProblem(name);
      if (problem) ctx.addIssue({ code: 'custom', message: `branchName ${problem}` });
    })
    .optional(),
  asDraft: z.boolean().default(false),
  /**
   * Globs of protected paths (tests, CI and config files) the code-fix agent may edit in this
   * execution, e.g. `["test/**"]`; none by default (see the agent's edit policy).
   */
  allowEdits: z.array(z.string().min(1).max(300)).max(50).default([]),
});

/**
 * `POST /v1/remediations/:id/executions` body. Executions are immutable in their inputs. The
 * tier is `tier`; `upgradeOption` (its v1 name) is accepted as an alias: give one of them, or both
 * with the same value. Parsed, the body has `tier` only.
 */
export const CreateExecutionRequest = CreateExecutionFields.extend({
  /** Upgrade tier to apply: `minimal`, `moderate` or `comprehensive` (see `PlannerOutput`). */
  tier: Tier.optional().describe('Upgrade tier to apply (required unless its alias `upgradeOption` is given).'),
  upgradeOption: Tier.optional().describe(UPGRADE_OPTION_ALIAS),
})
  .superRefine((body, ctx) => {
    if (body.tier === undefined && body.upgradeOption === undefined) {
      ctx.addIssue({ code: 'custom', path: ['tier'], message: 'tier is required (minimal, moderate or comprehensive)' });
    } else if (body.tier !== undefined && body.upgradeOption !== undefined && body.tier !== body.upgradeOption) {
      ctx.addIssue({ code: 'custom', path: ['upgradeOption'], message: `upgradeOption is an alias of tier and must equal it when both are given (tier ${body.tier}, upgradeOption ${body.upgradeOption})` });
    }
  })
  .transform(({ tier, upgradeOption, ...rest }) => ({ ...rest, tier: (tier ?? upgradeOption)! }));
/** A parsed `CreateExecutionRequest` (the tier under `tier`); `CreateExecutionInput` is what a client sends. */
export type CreateExecutionRequest = z.output<typeof CreateExecutionRequest>;
/** What a client sends to `POST /v1/remediations/:id/executions` (`tier`, or its alias `upgradeOption`). */
export type CreateExecutionInput = z.input<typeof CreateExecutionRequest>;

/**
 * Proof of remediation of one target (docs/mission.md "Proof of remediation"): the declared
 * requirement in every dependency section must have a lowest admissible version outside every
 * affected range of the target's advisories (rule of `proveRemediated` in `@remediation/manifests`).
 */
export const TargetProof = z.object({
  target: z.string(),
  remediated: z.boolean(),
  /**
   * Declared requirements checked, e.g. `["dependencies: ^6.0.0"]` for npm; for other ecosystems
   * `<manifest path> <section>: <requirement>`, e.g. `["requirements.txt requirements: ==4.2.14"]`.
   */
  declared: z.array(z.string()),
  /**
   * Repository-relative manifests whose declarations were checked (ecosystems other than npm: the
   * plan's manifest, its includes, or the manifests found declaring the dependency); the commit
   * step lets the deterministic edit touch exactly these. Absent for npm (the target's
   * `manifestPath`) and in proofs stored before it existed.
   */
  manifests: z.array(z.string()).optional(),
  /**
   * Repository-relative lockfiles updated in the same commit as the bump (npm package-lock.json /
   * npm-shrinkwrap.json, Cargo.lock; issue 15); the commit step lets the edit touch these too.
   * Absent when none was updated.
   */
  lockfiles: z.array(z.string()).optional(),
  /**
   * Proof over the resolved graph: each locked version of the target in those lockfiles,
   * `<lockfile> <version>: <reason>`; any affected version fails the proof.
   */
  locked: z.array(z.string()).optional(),
  /** node-semver `minVersion` of the (first) declared range, or null. */
  lowestAdmissible: z.string().nullable(),
  /** One sentence per checked declaration. */
  reason: z.string(),
});
export type TargetProof = z.infer<typeof TargetProof>;

/**
 * One installed version of a target and the version chosen for it, when the plan targets one
 * package at several installed versions (e.g. two requirements files pinning django 4.2 and
 * 3.2.18: `[{ from: '4.2', to: '4.2.16' }, { from: '3.2.18', to: '3.2.25' }]`). The patcher raises
 * each declaration to the `to` of the `from` its requirement admits.
 */
export const TargetVersion = z.object({ from: z.string(), to: z.string() });
export type TargetVersion = z.infer<typeof TargetVersion>;

/** One target of a patch execution. */
export const ExecutionTarget = z.object({
  name: z.string(),
  /** purl type of the package (`npm`, `pypi`, …); absent in bodies stored before it existed (npm). */
  ecosystem: z.string().optional(),
  manifestPath: z.string(),
  from: z.string(),
  to: z.string(),
  /** Declared requirement before and after the edit, e.g. `^1.2.3` → `^1.2.5`. */
  declaredFrom: z.string().nullable(),
  declaredTo: z.string().nullable(),
  status: TargetStatus,
  reason: z.string().nullable(),
  advisories: z.array(z.string()),
  /** True when the jump is major: code changes may be needed that only the agent can make. */
  needsAgent: z.boolean(),
  /** Proof of remediation of the declared requirement after editing; null before editing. */
  proof: TargetProof.nullable(),
  /**
   * Present when the plan targets the package at several installed versions: each with its chosen
   * version (`from`/`to` above are the highest installed version's).
   */
  versions: z.array(TargetVersion).optional(),
  /**
   * Set on a transitive target (a vulnerable package that is not a direct dependency, selected by
   * name in `targets`; docs/decisions/0016): the plan's fix option the tier chose and the patcher
   * applies — `override` (npm `overrides` in package.json plus every locked instance moved),
   * `parent_bump` (the direct dependency `fix.name` bumped to `fix.to`) or `lockfile_update` (only
   * the lockfile). `name` is then the vulnerable package and `from`/`to` are the option's
   * (`fix.name`'s versions).
   */
  fix: TransitiveFixOption.optional(),
});
export type ExecutionTarget = z.infer<typeof ExecutionTarget>;

/**
 * Outcome of one target after an editing step: stored on the execution's targets, and with an
 * agent conversation (the deterministic edits made before the agent started).
 */
export const TargetOutcome = z.object({
  name: z.string(),
  status: z.enum(['success', 'failed', 'skipped']),
  reason: z.string().nullable(),
  /** Declared requirement before and after the edit, e.g. `^1.2.3` → `^1.2.5`. */
  declaredFrom: z.string().nullable(),
  declaredTo: z.string().nullable(),
});
export type TargetOutcome = z.infer<typeof TargetOutcome>;


/** Summary of one agent run (an iteration of a patch execution). */
export const AgentRunSummary = z.object({
  /** `completed`, `turn_limit`, `budget_exhausted`, `cancelled`, `refused`, or `not_configured`. */
  outcome: z.string(),
  detail: z.string(),
  model: z.string(),
  turns: z.number().int(),
  toolCalls: z.number().int(),
  inputTokens: z.number().int(),
  outputTokens: z.number().int(),
  /** Estimated cost in US dollars under the configured pricing. */
  costUsd: z.number(),
  /** Times the run resumed from a stored conversation (a patcher was lost). */
  resumes: z.number().int(),
});
export type AgentRunSummary = z.infer<typeof AgentRunSummary>;

/** The partial-success decision of an execution (docs/mission.md "Partial success is a decision"). */
export const PartialSuccessDecisionBody = z.object({
  ship: z.boolean(),
  /** Targets shipped (successful ones only). */
  targets: z.array(z.string()),
  reasoning: z.string(),
  /** `policy` when a rule decided without the model, else `model`. */
  decidedBy: z.enum(['policy', 'model']),
  /** Policy corrections applied to the model's answer. */
  overrides: z.array(z.string()),
  at: z.string(),
});
export type PartialSuccessDecisionBody = z.infer<typeof PartialSuccessDecisionBody>;

/** A file/line comment of a review. */
export const FeedbackComment = z.strictObject({
  /** Repository-relative path. */
  path: z.string().min(1).max(1024),
  /** 1-based line in the patch version's file, when the comment is on a line. */
  line: z.number().int().positive().optional(),
  body: z.string().min(1).max(20_000),
});
export type FeedbackComment = z.infer<typeof FeedbackComment>;

/** `POST /v1/executions/:id/feedback` body: review feedback starting a new iteration. */
export const FeedbackRequest = z.strictObject({
  text: z.string().trim().min(1).max(50_000),
  comments: z.array(FeedbackComment).max(200).default([]),
});
export type FeedbackRequest = z.infer<typeof FeedbackRequest>;

/** Who gave feedback: `api` (a person through the API) or `github` (a review on the pull request). */
export const FeedbackSource = z.enum(['api', 'github']);
export type FeedbackSource = z.infer<typeof FeedbackSource>;

/**
 * Why an iteration after the first run of a patch execution started: `review` (actionable
 * feedback on the pull request), `user_feedback` (feedback through the API), `rebase_reapply`
 * (the base branch moved and the pull request's version no longer applied: the patch is re-applied
 * on the new head).
 */
export const IterationReason = z.enum(['review', 'user_feedback', 'rebase_reapply']);
export type IterationReason = z.infer<typeof IterationReason>;

/** An iteration of a patch execution after its first run (iteration 1 has no record). */
export const IterationBody = z.object({
  /** 2, 3, … in order. */
  number: z.number().int(),
  reason: IterationReason,
  /** The feedback it answers (`FeedbackBody.id`); null for `rebase_reapply`. */
  feedbackId: z.number().int().nullable(),
  /** The version it started from. */
  baseVersion: z.number().int(),
  /** The version it made, or null while it runs (or after it failed). */
  patchVersion: z.number().int().nullable(),
  /** Why, in words, when the reason alone does not say it (e.g. the conflicting paths of a re-application). */
  detail: z.string().nullable(),
  createdAt: z.string(),
});
export type IterationBody = z.infer<typeof IterationBody>;

/** Stored feedback, as listed on the execution and its versions. */
export const FeedbackBody = z.object({
  id: z.number().int(),
  /** The iteration it started. */
  iteration: z.number().int(),
  source: FeedbackSource,
  text: z.string(),
  comments: z.array(FeedbackComment),
  /** The version the feedback is about. */
  baseVersion: z.number().int(),
  /** The version the iteration produced, or null while it runs (or after it failed). */
  patchVersion: z.number().int().nullable(),
  createdAt: z.string(),
});
export type FeedbackBody = z.infer<typeof FeedbackBody>;

/** One patch version: a commit on a ref in the mirror. */
export const PatchVersion = z.object({
  version: z.number().int(),
  ref: z.string(),
  sha: z.string(),
  baseCommit: z.string(),
  changedPaths: z.array(z.string()),
  createdAt: z.string(),
  /** Proof of remediation per shipped target of this version. */
  proof: z.array(TargetProof),
  /** True when every shipped target passes its proof; only such a version can be approved. */
  approvable: z.boolean(),
  /** The feedback this version answers, or null (the first version, a rebase, a re-application). */
  feedback: FeedbackBody.nullable(),
  /** The iteration this version delivers (its reason), or null (the first version, or a rebase of the pull request's version). */
  iteration: IterationBody.nullable(),
  /** The agent run that produced it, or null when only deterministic edits were made. */
  agent: AgentRunSummary.nullable(),
});
export type PatchVersion = z.infer<typeof PatchVersion>;

/** A check run of a pull request's head SHA, as read from the provider. */
export const PullRequestCheck = z.object({
  name: z.string(),
  /** `queued`, `in_progress` or `completed`. */
  status: z.string(),
  /** `success`, `failure`, `neutral`, `cancelled`, `skipped`, `timed_out`, `action_required`, or null while running. */
  conclusion: z.string().nullable(),
  headSha: z.string(),
  url: z.string().nullable(),
});
export type PullRequestCheck = z.infer<typeof PullRequestCheck>;

/** A comment, review or check result read from the provider, with its triage. */
export const ReviewFeedbackBody = z.object({
  pullRequestId: z.string(),
  kind: z.enum(['review', 'review_comment', 'issue_comment', 'check_run']),
  author: z.string(),
  body: z.string(),
  path: z.string().nullable(),
  line: z.number().int().nullable(),
  /** Null until triaged. */
  actionable: z.boolean().nullable(),
  reasoning: z.string().nullable(),
  triagedBy: z.string().nullable(),
  /** The iteration it started, when actionable. */
  iteration: z.number().int().nullable(),
  createdAt: z.string(),
});
export type ReviewFeedbackBody = z.infer<typeof ReviewFeedbackBody>;

/** A pull request record (its own record, never columns on the remediation). */
export const PullRequestBody = z.object({
  id: z.string(),
  executionId: z.string(),
  patchVersion: z.number().int(),
  provider: z.literal('github'),
  repository: z.string(),
  number: z.number().int().nullable(),
  url: z.string().nullable(),
  state: PullRequestState,
  draft: z.boolean(),
  headBranch: z.string(),
  baseBranch: z.string(),
  headSha: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
  /** Check runs of the head SHA, as last read. */
  checks: z.array(PullRequestCheck),
  /** Why the service stopped rebasing this PR (a person pushed to it), or null. */
  rebaseStopped: z.string().nullable(),
  /** The last maintenance failure (said on the PR too), or null. */
  lastError: z.object({ code: z.string(), message: z.string() }).nullable(),
});
export type PullRequestBody = z.infer<typeof PullRequestBody>;

/** `GET /v1/executions/:id` body. */
export const ExecutionResponse = ExecutionSummary.extend({
  remediationId: z.string(),
  tier: Tier.nullable().describe('The upgrade tier of a patch execution (null for a plan execution).'),
  upgradeOption: Tier.nullable().describe(UPGRADE_OPTION_ALIAS),
  branchName: z.string().nullable(),
  asDraft: z.boolean(),
  baseCommit: z.string().nullable(),
  targets: z.array(ExecutionTarget),
  patchVersions: z.array(PatchVersion),
  pullRequests: z.array(PullRequestBody),
  /** The partial-success decision, when some targets did not succeed. */
  decision: PartialSuccessDecisionBody.nullable(),
  /** Every feedback, oldest first (each starts an iteration). */
  feedback: z.array(FeedbackBody),
  /** Every iteration after the first run, in order, with its reason. */
  iterations: z.array(IterationBody),
  /** Comments, reviews and check results read from the pull requests, with their triage. */
  reviews: z.array(ReviewFeedbackBody),
});
export type ExecutionResponse = z.infer<typeof ExecutionResponse>;

/** One history entry: a state or step change, or a heartbeat. */
export const HistoryEntry = z.object({
  at: z.string(),
  event: z.string(),
  from: ExecutionState.nullable(),
  to: ExecutionState.nullable(),
  step: Step.nullable(),
  worker: z.string().nullable(),
  details: z.record(z.string(), z.unknown()),
});
export type HistoryEntry = z.infer<typeof HistoryEntry>;

/** One attempt at a step: which delivery, which worker, its heartbeats and outcome. */
export const StepAttempt = z.object({
  step: Step,
  command: z.string(),
  /** Lease attempt (fencing token) of this claim. */
  attempt: z.number().int(),
  /** JetStream delivery count of the message that carried it (1 = first delivery). */
  deliveryCount: z.number().int(),
  worker: z.string(),
  startedAt: z.string(),
  heartbeatAt: z.string(),
  finishedAt: z.string().nullable(),
  /** `succeeded`, `retrying` (nak with delay), `failed`, `fenced` (lease lost), `cancelled`, `abandoned` (dead-lettered), or null while running. */
  outcome: z.string().nullable(),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
});
export type StepAttempt = z.infer<typeof StepAttempt>;

/** `GET /v1/executions/:id/history` body: transitions and heartbeats in order, and step attempts. */
export const HistoryResponse = z.object({
  executionId: z.string(),
  state: ExecutionState,
  entries: z.array(HistoryEntry),
  attempts: z.array(StepAttempt),
});
export type HistoryResponse = z.infer<typeof HistoryResponse>;

/** `GET /v1/executions/:id/diff` body: the unified diff of the latest patch version. */
export const DiffResponse = z.object({
  executionId: z.string(),
  version: z.number().int(),
  baseCommit: z.string(),
  sha: z.string(),
  diff: z.string(),
});
export type DiffResponse = z.infer<typeof DiffResponse>;

/** A message given up on, kept for inspection (`GET /v1/dead-letters`). */
export const DeadLetter = z.object({
  id: z.number().int(),
  stream: z.string(),
  streamSeq: z.number().int().nullable(),
  subject: z.string(),
  messageId: z.string().nullable(),
  payload: z.record(z.string(), z.unknown()).nullable(),
  deliveries: z.number().int(),
  executionId: z.string().nullable(),
  error: z.object({ code: z.string(), message: z.string() }),
  createdAt: z.string(),
});
export type DeadLetter = z.infer<typeof DeadLetter>;

/** `POST /v1/executions/:id/cancel` body. */
export const CancelRequest = z.strictObject({ reason: z.string().min(1).max(500).default('cancelled by the API caller') });
export type CancelRequest = z.infer<typeof CancelRequest>;

/** `POST /v1/executions/:id/pull-requests` body. */
export const CreatePullRequestRequest = z.strictObject({
  /** Patch version to open; the latest when omitted. */
  patchVersion: z.number().int().positive().optional(),
});
export type CreatePullRequestRequest = z.infer<typeof CreatePullRequestRequest>;

/** Most items one list request answers (`limit`). */
export const LIST_LIMIT_MAX = 200;

/**
 * Query of `GET /v1/executions`: the tenant's executions, newest first, filtered by `state`,
 * `kind` and `remediationId`; `limit` items (default 50, at most {@link LIST_LIMIT_MAX}); `before`
 * is the `nextCursor` of the previous page. Unknown parameters are refused.
 */
export const ExecutionListQuery = z.strictObject({
  state: ExecutionState.optional(),
  kind: ExecutionKind.optional(),
  remediationId: z.string().min(1).max(100).optional(),
  limit: z.coerce.number().int().min(1).max(LIST_LIMIT_MAX).default(50),
  before: z.string().min(1).max(300).optional().describe('The `nextCursor` of the previous page.'),
});
export type ExecutionListQuery = z.infer<typeof ExecutionListQuery>;

/** One execution in a list: its summary, the remediation it belongs to and its tier (null for a plan). */
export const ExecutionListItem = ExecutionSummary.extend({ remediationId: z.string(), tier: Tier.nullable() });
export type ExecutionListItem = z.infer<typeof ExecutionListItem>;

/** `GET /v1/executions` body. `nextCursor` is null on the last page. */
export const ExecutionListResponse = z.object({ executions: z.array(ExecutionListItem), nextCursor: z.string().nullable() });
export type ExecutionListResponse = z.infer<typeof ExecutionListResponse>;

/**
 * Query of `GET /v1/remediations`: the tenant's remediations, newest first, optionally only those
 * whose latest plan is in `state`; paging as {@link ExecutionListQuery}.
 */
export const RemediationListQuery = z.strictObject({
  state: PlanState.optional(),
  limit: z.coerce.number().int().min(1).max(LIST_LIMIT_MAX).default(50),
  before: z.string().min(1).max(300).optional().describe('The `nextCursor` of the previous page.'),
});
export type RemediationListQuery = z.infer<typeof RemediationListQuery>;

/** One remediation in a list: where its code is, its latest plan's state, and how many executions it has. */
export const RemediationListItem = z.object({
  id: z.string(),
  repository: z.string(),
  /** State of the latest plan execution. */
  state: ExecutionState,
  planExecutionId: z.string(),
  /** Patch executions started from it. */
  patchExecutions: z.number().int(),
  createdAt: z.string(),
});
export type RemediationListItem = z.infer<typeof RemediationListItem>;

/** `GET /v1/remediations` body. `nextCursor` is null on the last page. */
export const RemediationListResponse = z.object({ remediations: z.array(RemediationListItem), nextCursor: z.string().nullable() });
export type RemediationListResponse = z.infer<typeof RemediationListResponse>;

/** A heartbeat with details of a step attempt (clone progress `{ received, total }`, an agent tool call `{ tool }`, …). */
export const AttemptHeartbeat = z.object({ at: z.string(), event: z.string(), details: z.record(z.string(), z.unknown()) });
export type AttemptHeartbeat = z.infer<typeof AttemptHeartbeat>;

/** A step attempt with the heartbeats its worker recorded while it held the lease. */
export const StepAttemptWithHeartbeats = StepAttempt.extend({ heartbeats: z.array(AttemptHeartbeat) });
export type StepAttemptWithHeartbeats = z.infer<typeof StepAttemptWithHeartbeats>;

/** `GET /v1/executions/:id/attempts` body: the step attempts in order, each with its heartbeats. */
export const AttemptsResponse = z.object({ executionId: z.string(), state: ExecutionState, attempts: z.array(StepAttemptWithHeartbeats) });
export type AttemptsResponse = z.infer<typeof AttemptsResponse>;

/** One tool call of the agent, as summarised: the tool, what it named, and whether it was refused. */
export const AgentToolCallSummary = z.object({
  name: z.string(),
  /** The path, target or package the call named (`path`, `target` or `name` of its input), or null. */
  subject: z.string().nullable(),
  /** Whether its result was an error (refused or failed); null when no result was stored yet. */
  isError: z.boolean().nullable(),
});
export type AgentToolCallSummary = z.infer<typeof AgentToolCallSummary>;

/** One answer of the model in a conversation: its text (cut at 2,000 characters) and its tool calls. */
export const AgentTurnSummary = z.object({ turn: z.number().int(), text: z.string().nullable(), toolCalls: z.array(AgentToolCallSummary) });
export type AgentTurnSummary = z.infer<typeof AgentTurnSummary>;

/**
 * The agent's conversation of one iteration, summarised: the model's answers in order, without the
 * prompt or the tool results' contents (file texts stay in the database).
 */
export const AgentConversationSummary = z.object({
  /** The iteration (1 = the first run; the version it made lists the same number). */
  iteration: z.number().int(),
  turns: z.array(AgentTurnSummary),
  resumes: z.number().int(),
  /** The run's summary once it ended, else null (still running, or cut off). */
  result: AgentRunSummary.nullable(),
  updatedAt: z.string(),
});
export type AgentConversationSummary = z.infer<typeof AgentConversationSummary>;

/** `GET /v1/executions/:id/conversations` body: one summary per agent run, by iteration. */
export const ConversationsResponse = z.object({ executionId: z.string(), conversations: z.array(AgentConversationSummary) });
export type ConversationsResponse = z.infer<typeof ConversationsResponse>;
