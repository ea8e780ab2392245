import type { Registry } from '@remediation/metrics';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { MessageParam } from '@anthropic-ai/sdk/resources/messages';
import { type AgentUsage, type FixTarget, type OutcomeReport, emptyUsage, fixTargets, manifestDiff } from '@remediation/agent';
import type { AgentRunSummary, PlannerOutput, TargetOutcome, Tier } from '@remediation/contracts';
import {
  type Database,
  type Lease,
  type StoredConversation,
  finishConversation,
  listConversations,
  markConversationResumed,
  saveConversation,
  startConversation as storeConversation,
} from '@remediation/persistence';
import type { AgentSettings } from '@remediation/agent';
import { ECOSYSTEMS, ecosystemFor } from '@remediation/ecosystems';
import { declaringManifests } from './ecosystem-edits.js';
import { advisoryRangesOf, ecosystemOf, type EditTarget, severalVersions } from './manifest-edits.js';

/**
 * Starts the stored conversation of an iteration: an empty conversation and the deterministic
 * outcomes made before the agent (so a resume does not redo them over the agent's edits).
 * Does nothing when it exists.
 */
export async function startConversation(db: Database, executionId: string, iteration: number, deterministic: TargetOutcome[]): Promise<void> {
  await storeConversation(db, { executionId, iteration, deterministic, usage: { ...emptyUsage() } });
}

/** What the agent is told about one target, from the plan and the manifest edit already made. */
async function describeTargets(input: { targets: EditTarget[]; plan: PlannerOutput | null; tier: Tier | null; lowerDir: string; mergedDir: string }): Promise<FixTarget[]> {
  const out: FixTarget[] = [];
  for (const t of input.targets) {
    const type = ecosystemOf(t);
    // A package installed at several versions is several plan targets: the row's own (its from
    // version) gives the tier option; the advisories of all of them count.
    const sameName = input.plan?.targets.filter((p) => p.name === t.name && p.ecosystem.toLowerCase() === type) ?? [];
    const planned = sameName.find((p) => p.currentVersion === t.fromVersion) ?? sameName[0];
    const advisories = [...new Map(sameName.flatMap((p) => p.advisories).map((a) => [a.id, a])).values()];
    const option = planned && input.tier ? planned.tiers[input.tier] : null;
    const ecosystem = type === 'npm' ? undefined : ecosystemFor(type);
    let diff: string;
    if (ecosystem) {
      // The deterministic edit may sit in another manifest than the plan's (includes, sub-projects).
      const { manifests } = await declaringManifests(input.lowerDir, ecosystem, t.name, t.manifestPath, { everywhere: severalVersions(t) });
      const diffs: string[] = [];
      for (const file of new Set(manifests.map((m) => m.file))) {
        const before = manifests.find((m) => m.file === file)!.text;
        const after = await readFile(join(input.mergedDir, file), 'utf8').catch(() => '');
        diffs.push(manifestDiff(file, before, after));
      }
      diff = diffs.join('');
    } else {
      const before = await readFile(join(input.lowerDir, t.manifestPath), 'utf8').catch(() => '');
      const after = await readFile(join(input.mergedDir, t.manifestPath), 'utf8').catch(() => '');
      diff = manifestDiff(t.manifestPath, before, after);
    }
    out.push({
      name: t.name,
      from: t.fromVersion,
      to: t.toVersion,
      jump: option?.jump ?? 'major',
      advisories: advisories.map((a) => ({ id: a.id, severity: a.severity, ...(a.summary ? { summary: a.summary } : {}), aliases: a.aliases ?? [] })),
      breakingChanges: option?.notes ?? [],
      manifestPath: t.manifestPath,
      manifestDiff: diff,
      advisoryRanges: type === 'npm' ? advisoryRangesOf(input.plan, t.name) : advisoryRangesOf(input.plan, t.name, type),
      ...(type === 'npm' ? {} : { ecosystem: type }),
    });
  }
  return out;
}

/** Result of {@link runAgentIteration}. */
export interface AgentIterationResult {
  /** One outcome per target given, in order. */
  outcomes: OutcomeReport[];
  /** Targets the model reported on (the others got a default `failed`). */
  reportedTargets: string[];
  summary: AgentRunSummary;
}

/**
 * One agent iteration over `targets` in the execution's workspace, durable across lost patchers:
 * - every tool call is a heartbeat recorded in the history with the tool's name (`tool_call`),
 *   then a workspace checkpoint (git-gateway), so another node can rebuild the files;
 * - the conversation and usage are stored after every response and batch of tool results
 *   (`agent_conversations`); a later delivery resumes from them instead of starting over;
 * - API retries (429/5xx/overloaded) are heartbeats too (`model_retry`).
 * The budget (turns, tokens, cost) spans resumes. Store-then-act: the summary is stored last.
 * @throws what `fixTargets` throws (retryable AGENT_API_UNAVAILABLE: the delivery is retried and
 *   resumes; AGENT_REQUEST_INVALID / AGENT_API_ACCESS_DENIED are not retryable).
 */
export async function runAgentIteration(input: {
  db: Database;
  agent: AgentSettings;
  executionId: string;
  iteration: number;
  workspace: { mergedDir: string; lowerDir: string };
  targets: EditTarget[];
  plan: PlannerOutput | null;
  tier: Tier | null;
  allowEdits: string[];
  feedback?: { text: string; previousDiff: string };
  stored: StoredConversation;
  heartbeat: (details: Record<string, unknown> & { event: string }) => void;
  checkpoint: () => Promise<unknown>;
  signal: AbortSignal;
  /** The step's lease: conversation writes are fenced by it (a delivery that lost the step writes nothing). */
  lease: Lease | null;
  /** Where the agent's turns, tool calls, tokens and cost are counted. */
  metrics?: Registry;
}): Promise<AgentIterationResult> {
  const { db, agent, executionId, iteration } = input;
  const resumed = input.stored.conversation.length > 0;
  const knownPaths = new Set(input.stored.changedPaths);
  if (resumed) await markConversationResumed(db, executionId, iteration, input.lease);
  const save = async (cp: { conversation: MessageParam[]; usage: AgentUsage; turns: number; changedPaths: string[] }) => {
    for (const p of cp.changedPaths) knownPaths.add(p);
    await saveConversation(db, executionId, iteration, { conversation: cp.conversation, usage: { ...cp.usage }, turns: cp.turns, changedPaths: [...knownPaths].sort() }, input.lease);
  };
  const fixTargetsInput = await describeTargets({ targets: input.targets, plan: input.plan, tier: input.tier, ...input.workspace });
  input.heartbeat({ event: resumed ? 'agent_resumed' : 'agent_started', iteration, turns: input.stored.turns, targets: input.targets.map((t) => t.name) });
  const result = await fixTargets({
    client: agent.client,
    model: agent.model,
    maxTokens: agent.maxTokens,
    maxTurns: agent.maxTurns,
    budget: agent.budget,
    stream: agent.stream,
    retry: agent.retry,
    signal: input.signal,
    workspaceDir: input.workspace.mergedDir,
    targets: fixTargetsInput,
    policy: { allow: input.allowEdits },
    ...(input.feedback ? { feedback: input.feedback } : {}),
    ...(resumed ? { resume: { conversation: input.stored.conversation as MessageParam[], usage: input.stored.usage as unknown as AgentUsage } } : {}),
    onToolCall: async (e) => {
      input.heartbeat({ event: 'tool_call', tool: e.name, turn: e.turn, isError: e.isError, resumed: e.resumed, ...(e.isError ? { error: e.preview.slice(0, 300) } : {}) });
      await input.checkpoint();
    },
    onTurn: save,
    ...(input.metrics ? { metrics: input.metrics } : {}),
    onRetry: (e) => input.heartbeat({ event: 'model_retry', attempt: e.attempt, status: e.status ?? null, type: e.type, delayMs: e.delayMs }),
  });
  await save({ conversation: result.run.conversation, usage: result.run.usage, turns: result.run.turns, changedPaths: result.changedPaths });
  const summary: AgentRunSummary = {
    outcome: result.run.outcome,
    detail: result.run.detail,
    model: agent.model,
    turns: result.run.turns,
    toolCalls: result.run.toolCalls,
    inputTokens: result.run.usage.inputTokens,
    outputTokens: result.run.usage.outputTokens,
    costUsd: Math.round(result.run.usage.costUsd * 1e6) / 1e6,
    resumes: input.stored.resumes + (resumed ? 1 : 0),
  };
  await finishConversation(db, executionId, iteration, summary, input.lease);
  return { outcomes: result.outcomes, reportedTargets: result.reportedTargets, summary };
}

/**
 * Whether the agent changed any file other than a manifest (`package.json`, or a file a manager
 * of another ecosystem matches: `requirements*.txt`, `pyproject.toml`) in any iteration of
 * the execution (the paths stored with its conversations). Its code edits are not attributed to
 * targets (one conversation fixes them together), so a patch with such edits cannot have a target
 * cut out cleanly: the partial-success decision then ships all successful targets or none.
 */
export async function agentEditedCode(db: Database, executionId: string): Promise<boolean> {
  const conversations = await listConversations(db, executionId);
  const isManifest = (path: string) => path.split('/').at(-1) === 'package.json' || [...ECOSYSTEMS.values()].some((e) => e.managers.some((m) => m.matches(path)));
  return conversations.some((c) => c.changedPaths.some((path) => !isManifest(path)));
}
