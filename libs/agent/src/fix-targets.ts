import type { MessageParam } from '@anthropic-ai/sdk/resources/messages';
import type { AgentUsage } from './budget.js';
import { ecosystemFor } from '@remediation/ecosystems';
import { buildTargetContext, type TargetDescription } from './context-builder.js';
import { createBumpVersionTool, createManifestBumper, createReportOutcomeTool, type OutcomeReport } from './domain-tools.js';
import type { EditPolicy } from './edit-policy.js';
import { createFileTools, type FileToolLimits } from './file-tools.js';
import { renderPrompt } from './prompts.js';
import { runAgent, type AgentCheckpoint, type AgentRunResult, type RunAgentOptions } from './run-agent.js';
import { Workspace } from './workspace.js';

/** A target handed to the agent: what it is told plus the manifest edit already made. */
export interface FixTarget extends TargetDescription {
  /** Repository-relative manifest path (required here). */
  manifestPath: string;
  /** Unified diff of the deterministic manifest edit (see `manifestDiff`). */
  manifestDiff: string;
  /** Affected ranges of the target's advisories (the ecosystem's syntax: npm ranges, PEP 440 specifier sets), for `bump_version`'s proof. */
  advisoryRanges?: string[];
}

/** Options of {@link fixTargets}. */
export interface FixTargetsOptions
  extends Pick<RunAgentOptions, 'client' | 'model' | 'maxTokens' | 'maxTurns' | 'budget' | 'onToolCall' | 'onRetry' | 'signal' | 'stream' | 'retry' | 'metrics'> {
  /**
   * Awaited after each response and batch of tool results (see `RunAgentOptions.onTurn`), with
   * the root-relative paths this call has written so far: persist both to resume.
   */
  onTurn?: (checkpoint: AgentCheckpoint & { changedPaths: string[] }) => void | Promise<void>;
  /** The writable workspace (the execution's overlay `merged` dir), absolute. */
  workspaceDir: string;
  targets: FixTarget[];
  /** Protected paths this execution may write anyway (see {@link EditPolicy}). */
  policy?: EditPolicy;
  /**
   * Packages `bump_version` may change besides the targets, e.g. `@types/express-jwt`.
   * Default: the targets and `@types/<target>`.
   */
  bumpablePackages?: string[];
  /** A feedback iteration: the reviewer's text and the previous patch's diff. */
  feedback?: { text: string; previousDiff: string };
  /** Resume: a stored checkpoint's conversation and usage. */
  resume?: { conversation: MessageParam[]; usage: AgentUsage };
  limits?: FileToolLimits;
}

/** Result of {@link fixTargets}. */
export interface FixTargetsResult {
  run: AgentRunResult;
  /**
   * One outcome per target, in the order given: the model's report, or `failed` with the
   * reason when it reported none (run ended early, or it forgot).
   */
  outcomes: OutcomeReport[];
  /** Names the model reported an outcome for (the others got the default `failed`). */
  reportedTargets: string[];
  /**
   * Root-relative paths the agent wrote in THIS call (code files and bumped manifests); after a
   * resume, earlier writes are not included: the overlay upper dir is the source of truth.
   */
  changedPaths: string[];
}

/**
 * One agent run over all `targets` of an execution (they share the conversation and budget, so
 * the model sees how they interact): the system prompt (`prompts/system.md`), one user message
 * with each target's context (`prompts/target.md` via `buildTargetContext`) and, for a
 * feedback iteration, `prompts/feedback.md`; the jailed file tools, `bump_version` over the
 * manifest editor and `report_outcome`.
 * @throws what {@link runAgent} throws (AGENT_API_UNAVAILABLE retryable, AGENT_REQUEST_INVALID,
 *   AGENT_API_ACCESS_DENIED); persist from `onTurn` and pass `resume` on the retry.
 */
export async function fixTargets(options: FixTargetsOptions): Promise<FixTargetsResult> {
  const workspace = await Workspace.open(options.workspaceDir, { ...(options.policy ? { policy: options.policy } : {}) });
  const names = options.targets.map((t) => t.name);
  const ranges = new Map(options.targets.map((t) => [t.name, t.advisoryRanges]));
  const outcome = createReportOutcomeTool({ targets: names });
  if (options.resume) outcome.replay(options.resume.conversation);
  // One bump_version per run, of the first target's ecosystem (an execution's targets share it).
  const ecosystemType = options.targets[0]?.ecosystem ?? 'npm';
  const ecosystem = ecosystemType === 'npm' ? undefined : ecosystemFor(ecosystemType);
  const tools = [
    ...createFileTools(workspace, options.limits),
    createBumpVersionTool({
      bump: createManifestBumper(workspace, {
        allowedPackages: options.bumpablePackages ?? (ecosystem ? names : names.flatMap((n) => [n, `@types/${n.replace(/^@([^/]+)\//, '$1__')}`])),
        advisoryRanges: (name) => ranges.get(name) ?? ranges.get(ecosystem?.normaliseName(name) ?? name) ?? [],
        ...(ecosystem ? { ecosystem } : {}),
      }),
      defaultManifestPath: options.targets[0]?.manifestPath ?? ecosystem?.defaultManifestPath ?? 'package.json',
      ...(ecosystem ? { ecosystem } : {}),
    }),
    outcome.tool,
  ];

  let initialMessages: MessageParam[] | undefined;
  if (!options.resume) {
    const sections: string[] = [];
    for (const target of options.targets) {
      sections.push((await buildTargetContext({ workspaceDir: workspace.root, target, manifestDiff: target.manifestDiff })).text);
    }
    if (options.feedback) {
      sections.push(
        await renderPrompt('feedback', {
          feedback: options.feedback.text,
          targets: options.targets.map((t) => `- ${t.name} ${t.from} → ${t.to}`).join('\n'),
          diff: options.feedback.previousDiff.trimEnd(),
        }),
      );
    }
    initialMessages = [{ role: 'user', content: sections.join('\n---\n\n') }];
  }

  const run = await runAgent({
    client: options.client,
    model: options.model,
    maxTokens: options.maxTokens,
    maxTurns: options.maxTurns,
    budget: options.budget,
    system: await renderPrompt('system'),
    ...(options.resume ? { conversation: options.resume.conversation, usage: options.resume.usage } : { initialMessages: initialMessages! }),
    tools,
    ...(options.onToolCall ? { onToolCall: options.onToolCall } : {}),
    ...(options.onTurn ? { onTurn: (cp: AgentCheckpoint) => options.onTurn!({ ...cp, changedPaths: workspace.changedPaths() }) } : {}),
    ...(options.onRetry ? { onRetry: options.onRetry } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.stream !== undefined ? { stream: options.stream } : {}),
    ...(options.retry ? { retry: options.retry } : {}),
    ...(options.metrics ? { metrics: options.metrics } : {}),
  });
  const reported = new Map(outcome.reports().map((r) => [r.target, r]));
  const outcomes = names.map(
    (name): OutcomeReport => reported.get(name) ?? { target: name, status: 'failed', reason: `the agent reported no outcome (run ${run.outcome}: ${run.detail})` },
  );
  return { run, outcomes, reportedTargets: names.filter((n) => reported.has(n)), changedPaths: workspace.changedPaths() };
}
