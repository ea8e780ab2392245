import type { Registry } from '@remediation/metrics';
import type { NatsConnection } from '@nats-io/nats-core';
import { decidePartialSuccess } from '@remediation/agent';
import { type AgentRunSummary, MAINTENANCE_STATES, type PartialSuccessDecisionBody, type Severity, type TargetOutcome } from '@remediation/contracts';
import { InvalidInputError } from '@remediation/errors';
import { type CommandHandler, checkpointWorkspace, ensureWorkspace, patchVersionDiff } from '@remediation/messaging';
import {
  type Database,
  currentIteration,
  findPatchVersion,
  planOfExecution,
  loadCodebase,
  loadConversation,
  loadExecutionWithTargets,
  recordDecision,
  recordTargetOutcomes,
} from '@remediation/persistence';
import type { AgentConfig } from '@remediation/agent';
import { agentEditedCode, runAgentIteration, startConversation } from './agent-iteration.js';
import { iterationRequest } from './iteration-request.js';
import { type LockfileRegistry, addLockfileNotes, syncLockfiles } from './lockfile-edits.js';
import { applyManifestBumps, proveTargets, restoreUnshipped } from './manifest-edits.js';

/**
 * `patch.apply`: the editing step of an iteration of a patch execution.
 *
 * Iteration 1: deterministic manifest edits per target (idempotent, from the base snapshot);
 * then, with an agent configured, the code-fix agent for the targets that need it (major jump or
 * known breaking changes). A feedback iteration (`POST /v1/executions/:id/feedback`) runs the
 * agent with the feedback and the previous version's diff over the same workspace.
 *
 * Then: when some targets failed, the partial-success decision (policy first, then the model)
 * chooses what ships, and the bumps of targets that do not ship are put back; the lockfiles next
 * to the shipped targets' manifests are updated with their bumps (`syncLockfiles`: npm
 * package-lock.json / npm-shrinkwrap.json and Cargo.lock from registry metadata, else the reason
 * says "lockfile needs `<command>`"); the proof of remediation of every shipped target is computed
 * from the manifests as they now are and the versions the updated lockfiles pin; the
 * workspace is checkpointed; `patch.applied` moves the execution to `committing` (or to
 * `patch_failed` when nothing ships). Outcomes, proof and the decision are stored and shown.
 * @throws InvalidInputError `AGENT_NOT_CONFIGURED` for a feedback iteration without an agent.
 */
export function patchApplyHandler(deps: {
  db: Database;
  nc: NatsConnection;
  worker: string;
  /**
   * This patcher's node: its workspace requests go to that node's git-gateway, which holds the
   * workspace while this node runs the step (docs/decisions/0021). Absent: any gateway.
   */
  nodeId?: string;
  agent: AgentConfig;
  lockfileRegistry?: LockfileRegistry | null;
  /** Where the agent's work is counted. */
  metrics?: Registry;
}): CommandHandler {
  return {
    kind: 'patch.apply',
    async handle(ctx) {
      const { executionId, remediationId } = ctx.payload;
      const { execution: exec, targets: rows } = await loadExecutionWithTargets(deps.db, executionId);
      const plan = await planOfExecution(deps.db, executionId);
      const current = await currentIteration(deps.db, executionId);
      const iteration = current?.number ?? 1;
      const agent = deps.agent.agent;
      // A re-application on a moved base: bumps re-run, agent re-does code. Otherwise an iteration
      // after the first answers feedback (a review on the PR, or feedback through the API).
      const reapply = current?.reason === 'rebase_reapply';
      const review = current !== null && !reapply;
      if (review && !agent) {
        throw new InvalidInputError('AGENT_NOT_CONFIGURED', 'feedback iterations need the code-fix agent and the patcher has no ANTHROPIC_API_KEY');
      }
      ctx.heartbeat(); // throws at once when the execution was cancelled while this delivery waited
      // git-gateway owns the workspace: resumed, or rebuilt from its checkpoint (or last version).
      const ws = await ensureWorkspace(deps.nc, executionId, () => ctx.heartbeat(), deps.nodeId);
      const checkpoint = () => checkpointWorkspace(deps.nc, executionId, () => ctx.heartbeat(), deps.nodeId);

      let stored = await loadConversation(deps.db, executionId, iteration);
      let outcomes: TargetOutcome[];
      if (review) {
        // The targets of the version under review keep their outcome; the agent may change it.
        outcomes = rows
          .filter((t) => t.status !== 'skipped' || t.declaredTo !== null)
          .map((t) => ({ name: t.name, status: t.status as TargetOutcome['status'], reason: t.reason ?? null, declaredFrom: t.declaredFrom ?? null, declaredTo: t.declaredTo ?? null }));
      } else if (stored) {
        outcomes = stored.deterministic; // made before the agent started; redoing them would undo its edits
      } else {
        // A re-application bumps again exactly what the version on the old base shipped.
        const toBump = reapply ? rows.filter((r) => r.status === 'success') : rows;
        outcomes = await applyManifestBumps({ lowerDir: ws.lowerDir, mergedDir: ws.mergedDir, targets: toBump, plan, agentConfigured: agent !== null, heartbeat: () => ctx.heartbeat() });
      }

      const byName = new Map(rows.map((r) => [r.name, r]));
      // A re-application re-does the agent's work of the version it replaces, if there was any.
      const redoAgent = reapply && (await findPatchVersion(deps.db, executionId, current.baseVersion))?.agent != null;
      const forAgent = outcomes.filter((o) => o.status === 'success' && (review || redoAgent || byName.get(o.name)?.needsAgent));
      let agentSummary: AgentRunSummary | null = null;
      if (agent && forAgent.length > 0) {
        if (!stored) {
          await checkpoint(); // the deterministic edits are durable before the agent starts
          await startConversation(deps.db, executionId, iteration, outcomes);
          stored = (await loadConversation(deps.db, executionId, iteration))!;
        }
        let previousDiff: { text: string; previousDiff: string } | undefined;
        if (current) {
          const base = await findPatchVersion(deps.db, executionId, current.baseVersion);
          if (!base) throw new InvalidInputError('PATCH_VERSION_NOT_FOUND', `patch version ${current.baseVersion} of ${executionId} (the base of iteration ${iteration}) not found`);
          const { repository } = await loadCodebase(deps.db, remediationId);
          const diff = await patchVersionDiff(deps.nc, { repository, baseCommit: base.baseCommit, sha: base.sha });
          previousDiff = { text: iterationRequest(current, exec.baseBranch ?? null), previousDiff: diff };
        }
        const result = await runAgentIteration({
          ...(deps.metrics ? { metrics: deps.metrics } : {}),
          db: deps.db,
          agent,
          executionId,
          iteration,
          workspace: ws,
          targets: forAgent.map((o) => byName.get(o.name)!),
          plan,
          tier: exec.tier ?? null,
          allowEdits: exec.allowEdits ?? [],
          ...(previousDiff ? { feedback: previousDiff } : {}),
          stored,
          heartbeat: (d) => ctx.heartbeat(d),
          checkpoint,
          signal: ctx.signal,
          lease: ctx.lease,
        });
        // A run cut off by the step's signal (timeout, cancel, lost lease) goes no further: the
        // edits below (putting back unshipped bumps) would spoil the workspace the retry resumes in.
        ctx.heartbeat();
        agentSummary = result.summary;
        const reported = new Map(result.outcomes.map((r) => [r.target, r]));
        const spoke = new Set(result.reportedTargets);
        outcomes = outcomes.map((o) => {
          const r = reported.get(o.name);
          if (!r || !forAgent.some((f) => f.name === o.name)) return o;
          // A feedback iteration may touch one target only: the others keep their outcome.
          if ((review || reapply) && !spoke.has(o.name)) return o;
          return { ...o, status: r.status, reason: `agent: ${r.reason}` };
        });
      }

      // Partial success is a decision (docs/mission.md): policy first, then the model.
      const succeeded = outcomes.filter((o) => o.status === 'success');
      let decision: PartialSuccessDecisionBody | null = null;
      if (succeeded.length > 0 && outcomes.some((o) => o.status === 'failed')) {
        const severities = (name: string) =>
          (plan?.targets.find((p) => p.name === name)?.advisories ?? []).map((a) => ({ id: a.id, severity: a.severity as Severity }));
        ctx.heartbeat({ event: 'decision_started', failed: outcomes.filter((o) => o.status === 'failed').map((o) => o.name) });
        const decided = await decidePartialSuccess({
          client: agent?.client ?? null,
          model: agent?.model ?? 'none',
          targets: outcomes.map((o) => ({ name: o.name, status: o.status, reason: o.reason, advisories: severities(o.name) })),
          policy: (await agentEditedCode(deps.db, executionId))
            ? { ...deps.agent.policy, allowSubset: false, noSubsetReason: 'the agent edited code, which is not attributed to single targets' }
            : deps.agent.policy,
          ...(agent ? { stream: agent.stream, retry: agent.retry } : {}),
          signal: ctx.signal,
        });
        ctx.heartbeat();
        decision = { ...decided, at: new Date().toISOString() };
        const shipping = new Set(decided.targets);
        outcomes = outcomes.map((o) =>
          o.status === 'success' && !shipping.has(o.name)
            ? { ...o, status: 'skipped', reason: `not shipped by the partial-success decision (${decided.decidedBy}): ${decided.reasoning}` }
            : o,
        );
      }
      const shipped = outcomes.filter((o) => o.status === 'success');
      const shippedNames = new Set(shipped.map((o) => o.name));
      const restored = await restoreUnshipped({ lowerDir: ws.lowerDir, mergedDir: ws.mergedDir, targets: rows, shipped: shippedNames });
      // Lockfiles next to the manifests move with the bumps (or the reason says which command they need).
      const synced = await syncLockfiles({ lowerDir: ws.lowerDir, mergedDir: ws.mergedDir, targets: rows, outcomes, registry: deps.lockfileRegistry ?? null, heartbeat: () => ctx.heartbeat() });
      addLockfileNotes(shipped, synced);
      const proofs = await proveTargets({
        mergedDir: ws.mergedDir,
        targets: rows.filter((r) => shippedNames.has(r.name)),
        plan,
        lockfiles: new Map([...synced].map(([name, s]) => [name, s.lockfiles])),
      });
      const proofByName = new Map(proofs.map((p) => [p.target, p]));
      // The declared requirement after every edit (the agent may have touched the manifest).
      for (const o of shipped) {
        const declared = proofByName.get(o.name)?.declared[0];
        if (declared) o.declaredTo = declared.slice(declared.indexOf(': ') + 2);
      }

      // Edits survive a lost node from here on: the next step rebuilds the workspace from this.
      const cp = await checkpoint();
      const agentFailed = agentSummary && shipped.length === 0 && agentSummary.outcome !== 'completed';
      const noneReason = decision && !decision.ship
        ? { errorCode: 'PARTIAL_SUCCESS_DECLINED', errorMessage: `nothing shipped: ${decision.reasoning}` }
        : agentFailed
          ? { errorCode: agentSummary!.outcome === 'budget_exhausted' ? 'AGENT_BUDGET_EXHAUSTED' : 'AGENT_STOPPED', errorMessage: `agent ${agentSummary!.outcome}: ${agentSummary!.detail}` }
          : { errorCode: 'NO_TARGET_PATCHED', errorMessage: outcomes.map((o) => `${o.name}: ${o.reason}`).join('; ') || 'no target to patch' };
      await ctx.transition({
        executionId,
        event: { type: 'patch.applied', changedTargets: shipped.length, ...(shipped.length === 0 ? { reason: { code: noneReason.errorCode, message: noneReason.errorMessage } } : {}) },
        details: {
          iteration,
          outcomes: outcomes.map((o) => ({ name: o.name, status: o.status })),
          checkpoint: cp.sha ?? null,
          ...(agentSummary ? { agent: agentSummary } : {}),
          ...(decision ? { decision: { ship: decision.ship, targets: decision.targets, decidedBy: decision.decidedBy } } : {}),
          ...(restored.length ? { restored } : {}),
          proof: proofs.map((p) => ({ target: p.target, remediated: p.remediated })),
        },
        ...(shipped.length === 0 ? { set: noneReason } : {}),
        mutate: async (tx) => {
          // An update of an open PR that ships nothing leaves the PR on its version: that version's
          // target outcomes stand (the next re-application or review starts from them); this
          // iteration's outcomes are in the history entry.
          if (shipped.length === 0 && MAINTENANCE_STATES.has(exec.state)) return;
          await recordTargetOutcomes(tx, executionId, outcomes.map((o) => ({ ...o, proof: proofByName.get(o.name) ?? null })));
          if (decision) await recordDecision(tx, executionId, decision);
        },
      });
    },
    async giveUp(ctx, error) {
      await ctx.transition({ executionId: ctx.payload.executionId, event: { type: 'patch.failed', error } });
    },
  };
}
