/**
 * `@remediation/agent`: the code-fix agent. An `@anthropic-ai/sdk` tool-use loop with budgets,
 * retries and resume (`runAgent`), file tools jailed to the workspace (`Workspace`,
 * `createFileTools`), domain tools (`bump_version`, `report_outcome`), the per-target context
 * (`buildTargetContext`), prompts loaded from `libs/agent/prompts/*.md`, and the partial-success
 * decision (`decidePartialSuccess`). No shell, package manager or network tool exists.
 * This file is the library's only public entry.
 */
export {
  AgentAccessDeniedError,
  AgentApiUnavailableError,
  AgentRequestInvalidError,
  AgentResponseInvalidError,
  PromptTemplateError,
  ToolError,
  type AgentErrorCode,
} from './errors.js';
export { defineTool, executeTool, toApiTool, type AgentTool, type ToolOutcome, type ToolRunContext } from './tool.js';
export { readRefusal, writeRefusal, type EditPolicy } from './edit-policy.js';
export { DEFAULT_MAX_FILE_BYTES, Workspace, type ResolvedPath } from './workspace.js';
export { createFileTools, type FileToolLimits } from './file-tools.js';
export { MAX_PACKAGE_NAME_CHARS, MAX_PATH_CHARS, MAX_PATTERN_CHARS, MAX_VERSION_CHARS } from './limits.js';
export {
  createBumpVersionTool,
  createManifestBumper,
  createReportOutcomeTool,
  type BumpVersionFn,
  type BumpVersionRequest,
  type OutcomeReport,
  type ReportedStatus,
} from './domain-tools.js';
export { addUsage, costOf, emptyUsage, planNextRequest, type AgentBudget, type AgentUsage, type ModelPricing } from './budget.js';
export { createMessage, toAgentError, type CreateMessageOptions, type ModelRetryEvent, type ModelRetryOptions } from './model-call.js';
export {
  runAgent,
  type AgentCheckpoint,
  type AgentOutcome,
  type AgentRunResult,
  type RunAgentOptions,
  type ToolCallEvent,
} from './run-agent.js';
export { loadPrompt, renderPrompt, renderTemplate, PROMPTS_DIR, type PromptName } from './prompts.js';
export {
  buildTargetContext,
  findPackageUsages,
  findEcosystemUsages,
  manifestDiff,
  SOURCE_EXTENSIONS,
  type PackageUsage,
  type TargetAdvisory,
  type TargetContext,
  type TargetDescription,
  type UsageKind,
  type UsageSearch,
} from './context-builder.js';
export { fixTargets, type FixTarget, type FixTargetsOptions, type FixTargetsResult } from './fix-targets.js';
export {
  decidePartialSuccess,
  type DecidePartialSuccessOptions,
  type DecisionTarget,
  type PartialSuccessDecision,
  type PartialSuccessPolicy,
} from './partial-success.js';
export { triageFeedback, type FeedbackItem, type TriageDecision, type TriageFeedbackOptions } from './triage.js';
export { AgentEnv, agentConfigFromEnv, type AgentConfig, type AgentSettings } from './config.js';
