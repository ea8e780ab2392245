import { readFile, writeFile } from 'node:fs/promises';
import { join, normalize } from 'node:path';
import type { CommandHandler } from '@remediation/messaging';
import { describeError, isRemediationError } from '@remediation/errors';
import { bumpNpmDependency } from '@remediation/manifests';
import { type Database, ExecutionTargetEntity, latestPlan } from '@remediation/persistence';
import type { NatsConnection } from '@nats-io/nats-core';
import { checkpointWorkspace, ensureWorkspace } from '../workspace-client.js';
import type { CodeFixAgent } from '../agent.js';

/** Outcome of one target after editing. */
interface TargetOutcome {
  name: string;
  status: 'success' | 'failed' | 'skipped';
  reason: string | null;
  declaredFrom: string | null;
  declaredTo: string | null;
}

/**
 * `patch.apply`: deterministic manifest edits in the execution's workspace, per target.
 *
 * Idempotent: each manifest is rebuilt from the base snapshot (the overlay lower dir), never
 * from a possibly half-edited merged view, so a redelivery after a crash writes the same bytes.
 * Targets end `success`, `failed` (with the reason) or `skipped`; the execution moves to
 * `committing` when at least one target changed, else to `patch_failed`.
 */
export function patchApplyHandler(deps: { db: Database; nc: NatsConnection; worker: string; agent: CodeFixAgent | null }): CommandHandler {
  return {
    kind: 'patch.apply',
    async handle(ctx) {
      const { executionId, remediationId } = ctx.payload;
      const plan = await latestPlan(deps.db, remediationId);
      const targets = await deps.db.em().find(ExecutionTargetEntity, { executionId }, { orderBy: { name: 'asc' } });
      ctx.heartbeat(); // throws at once when the execution was cancelled while this delivery waited
      // git-gateway owns the workspace: resumed, or rebuilt from its checkpoint on this node.
      const ws = await ensureWorkspace(deps.nc, executionId, () => ctx.heartbeat());

      const outcomes: TargetOutcome[] = [];
      const byManifest = new Map<string, typeof targets>();
      for (const t of targets) {
        if (t.status === 'skipped') continue;
        const list = byManifest.get(t.manifestPath) ?? [];
        list.push(t);
        byManifest.set(t.manifestPath, list);
      }
      for (const [manifestPath, list] of byManifest) {
        const rel = normalize(manifestPath);
        if (rel.startsWith('..') || rel.startsWith('/')) {
          for (const t of list) outcomes.push({ name: t.name, status: 'failed', reason: `manifest path ${manifestPath} leaves the repository`, declaredFrom: null, declaredTo: null });
          continue;
        }
        let text: string;
        try {
          text = await readFile(join(ws.lowerDir, rel), 'utf8');
        } catch (err) {
          for (const t of list) outcomes.push({ name: t.name, status: 'failed', reason: `cannot read ${manifestPath}: ${describeError(err)}`, declaredFrom: null, declaredTo: null });
          continue;
        }
        let changed = false;
        for (const t of list) {
          ctx.heartbeat();
          const advisoryRanges = plan?.targets.find((p) => p.name === t.name)?.advisories.flatMap((a) => a.affectedRanges) ?? [];
          try {
            const result = bumpNpmDependency(text, { name: t.name, to: t.toVersion, advisoryRanges });
            text = result.text;
            changed ||= result.changed;
            const edit = result.edits[0];
            const notes = [...result.notes];
            if (t.needsAgent && !deps.agent) {
              notes.push(`major upgrade ${t.fromVersion} → ${t.toVersion}: code changes may be needed and no code-fix agent is configured`);
            }
            outcomes.push({
              name: t.name,
              status: 'success',
              reason: notes.length ? notes.join('; ') : null,
              declaredFrom: edit?.from ?? null,
              declaredTo: edit?.to ?? null,
            });
          } catch (err) {
            outcomes.push({
              name: t.name,
              status: isRemediationError(err) && err.code === 'DEPENDENCY_NOT_DECLARED' ? 'skipped' : 'failed',
              reason: describeError(err),
              declaredFrom: null,
              declaredTo: null,
            });
          }
        }
        if (changed) await writeFile(join(ws.mergedDir, rel), text);
      }
      const changedTargets = outcomes.filter((o) => o.status === 'success').length;
      // Edits survive a lost node from here on: the next step rebuilds the workspace from this.
      const checkpoint = await checkpointWorkspace(deps.nc, executionId, () => ctx.heartbeat());
      await ctx.transition({
        executionId,
        event: { type: 'patch.applied', changedTargets },
        details: { outcomes: outcomes.map((o) => ({ name: o.name, status: o.status })), checkpoint: checkpoint.sha ?? null },
        ...(changedTargets === 0
          ? { set: { errorCode: 'NO_TARGET_PATCHED', errorMessage: outcomes.map((o) => `${o.name}: ${o.reason}`).join('; ') || 'no target to patch' } }
          : {}),
        mutate: async (tx) => {
          for (const o of outcomes) {
            await tx.nativeUpdate(
              ExecutionTargetEntity,
              { executionId, name: o.name },
              { status: o.status, reason: o.reason, declaredFrom: o.declaredFrom, declaredTo: o.declaredTo },
            );
          }
        },
      });
    },
    async giveUp(ctx, error) {
      await ctx.transition({ executionId: ctx.payload.executionId, event: { type: 'patch.failed', error } });
    },
  };
}
