import { readFile, writeFile } from 'node:fs/promises';
import { join, normalize } from 'node:path';
import type { PlannerOutput, TargetOutcome, TargetProof } from '@remediation/contracts';
import { describeError, isRemediationError } from '@remediation/errors';
import { bumpNpmDependency, declaredRequirements, proveRemediated, restoreNpmDependency } from '@remediation/manifests';

/** Outcome of one target after editing (stored on `execution_targets`). */
export type { TargetOutcome };

/** What the editing step knows of a target row. */
export interface EditTarget {
  name: string;
  manifestPath: string;
  fromVersion: string;
  toVersion: string;
  status: string;
  needsAgent: boolean;
}

/** The affected ranges (npm syntax) of a target's advisories in the plan. */
export function advisoryRangesOf(plan: PlannerOutput | null, name: string): string[] {
  return plan?.targets.find((p) => p.name === name)?.advisories.flatMap((a) => a.affectedRanges) ?? [];
}

/** A manifest path inside the repository, or null when it would leave it. */
function safeRelative(manifestPath: string): string | null {
  const rel = normalize(manifestPath);
  return rel.startsWith('..') || rel.startsWith('/') ? null : rel;
}

/**
 * The deterministic manifest edits of the first iteration, per target, written into the
 * workspace's merged view.
 *
 * Idempotent: each manifest is rebuilt from the base snapshot (`lowerDir`), never from a possibly
 * half-edited merged view, so a redelivery after a crash writes the same bytes. A target whose
 * dependency is not declared is `skipped`; one whose bump fails (unsupported specifier, proof of
 * remediation not met, …) is `failed` with the reason. `noAgentNote` is added to the reason of
 * targets that need code changes when no agent is configured.
 */
export async function applyManifestBumps(input: {
  lowerDir: string;
  mergedDir: string;
  targets: EditTarget[];
  plan: PlannerOutput | null;
  agentConfigured: boolean;
  heartbeat: () => void;
}): Promise<TargetOutcome[]> {
  const outcomes: TargetOutcome[] = [];
  const byManifest = new Map<string, EditTarget[]>();
  for (const t of input.targets) {
    if (t.status === 'skipped') continue;
    byManifest.set(t.manifestPath, [...(byManifest.get(t.manifestPath) ?? []), t]);
  }
  const fail = (t: EditTarget, reason: string): TargetOutcome => ({ name: t.name, status: 'failed', reason, declaredFrom: null, declaredTo: null });
  for (const [manifestPath, list] of byManifest) {
    const rel = safeRelative(manifestPath);
    if (rel === null) {
      outcomes.push(...list.map((t) => fail(t, `manifest path ${manifestPath} leaves the repository`)));
      continue;
    }
    let text: string;
    try {
      text = await readFile(join(input.lowerDir, rel), 'utf8');
    } catch (err) {
      outcomes.push(...list.map((t) => fail(t, `cannot read ${manifestPath}: ${describeError(err)}`)));
      continue;
    }
    let changed = false;
    for (const t of list) {
      input.heartbeat();
      try {
        const result = bumpNpmDependency(text, { name: t.name, to: t.toVersion, advisoryRanges: advisoryRangesOf(input.plan, t.name) });
        text = result.text;
        changed ||= result.changed;
        const edit = result.edits[0];
        const notes = [...result.notes];
        if (t.needsAgent && !input.agentConfigured) {
          notes.push(`needs the agent: upgrade ${t.fromVersion} → ${t.toVersion} is a major jump or has known breaking changes; code changes may be needed and no code-fix agent is configured`);
        }
        outcomes.push({ name: t.name, status: 'success', reason: notes.length ? notes.join('; ') : null, declaredFrom: edit?.from ?? null, declaredTo: edit?.to ?? null });
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
    if (changed) await writeFile(join(input.mergedDir, rel), text);
  }
  return outcomes;
}

/**
 * Puts the declarations of targets that will not ship (failed, skipped, or left out by the
 * partial-success decision) back to the base commit's, so the patch carries none of their bumps.
 * @returns names whose declaration was restored.
 */
export async function restoreUnshipped(input: { lowerDir: string; mergedDir: string; targets: EditTarget[]; shipped: ReadonlySet<string> }): Promise<string[]> {
  const restored: string[] = [];
  const byManifest = new Map<string, string[]>();
  for (const t of input.targets) {
    if (input.shipped.has(t.name)) continue;
    byManifest.set(t.manifestPath, [...(byManifest.get(t.manifestPath) ?? []), t.name]);
  }
  for (const [manifestPath, names] of byManifest) {
    const rel = safeRelative(manifestPath);
    if (rel === null) continue;
    const original = await readFile(join(input.lowerDir, rel), 'utf8').catch(() => null);
    const current = await readFile(join(input.mergedDir, rel), 'utf8').catch(() => null);
    if (original === null || current === null) continue;
    let text = current;
    for (const name of names) {
      const r = restoreNpmDependency(text, original, name);
      if (r.restored.length) restored.push(name);
      text = r.text;
    }
    if (text !== current) await writeFile(join(input.mergedDir, rel), text);
  }
  return restored;
}

/**
 * Proof of remediation of each shipped target against the workspace's manifests as they are now
 * (docs/mission.md "Proof of remediation"): every declaration of the dependency (dependencies,
 * devDependencies, optionalDependencies) must have its lowest admissible version outside every
 * affected range of the target's advisories (`proveRemediated`). A dependency that is no longer
 * declared, or a manifest that cannot be read or parsed, fails the proof with the reason.
 */
export async function proveTargets(input: { mergedDir: string; targets: EditTarget[]; plan: PlannerOutput | null }): Promise<TargetProof[]> {
  const proofs: TargetProof[] = [];
  for (const t of input.targets) {
    const rel = safeRelative(t.manifestPath);
    const text = rel === null ? null : await readFile(join(input.mergedDir, rel), 'utf8').catch(() => null);
    if (text === null) {
      proofs.push({ target: t.name, remediated: false, declared: [], lowestAdmissible: null, reason: `${t.manifestPath} cannot be read` });
      continue;
    }
    let declared: ReturnType<typeof declaredRequirements>;
    try {
      declared = declaredRequirements(text, t.name);
    } catch (err) {
      proofs.push({ target: t.name, remediated: false, declared: [], lowestAdmissible: null, reason: `${t.manifestPath}: ${describeError(err)}` });
      continue;
    }
    if (declared.length === 0) {
      proofs.push({ target: t.name, remediated: false, declared: [], lowestAdmissible: null, reason: `${t.name} is no longer declared in ${t.manifestPath}` });
      continue;
    }
    const ranges = advisoryRangesOf(input.plan, t.name);
    const checks = declared.map((d) => ({ d, proof: proveRemediated(d.range, ranges) }));
    proofs.push({
      target: t.name,
      remediated: checks.every((c) => c.proof.remediated),
      declared: declared.map((d) => `${d.section}: ${d.range}`),
      lowestAdmissible: checks[0]!.proof.lowestAdmissible,
      reason: checks.map((c) => `${c.d.section}: ${c.proof.reason}`).join('; '),
    });
  }
  return proofs;
}
