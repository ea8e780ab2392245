import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type PlannerOutput, type TargetOutcome, type TargetProof, type TransitiveFixOption, describeTransitiveFix } from '@remediation/contracts';
import { describeError, isRemediationError } from '@remediation/errors';
import { ROOT_ID, type ResolvedGraph, readLockfile } from '@remediation/lockfiles';
import { bumpNpmDependency, declaredRequirements, proveRemediated, restoreNpmDependency, restoreNpmOverride, setNpmOverride } from '@remediation/manifests';

/** What the transitive-fix code needs of a target row: a transitive target carries `fix` (`ExecutionTarget.fix`). */
export interface FixTarget {
  name: string;
  manifestPath: string;
  fromVersion: string;
  toVersion: string;
  fix?: TransitiveFixOption | null;
}

/** How a fix option reads (`describeTransitiveFix` of @remediation/contracts): `override cookie → 0.7.0`. */
export const describeFix = describeTransitiveFix;

/**
 * Applies a transitive target's fix option to the text of its package.json (docs/decisions/0016):
 * `override` adds or sets the npm `overrides` entry of the vulnerable package (`setNpmOverride`),
 * `parent_bump` raises the direct dependency `fix.name` to `fix.to` (`bumpNpmDependency`, the
 * direct bumps' editor; its own advisories are not this target's, so no proof here: the proof
 * over the lockfile follows), `lockfile_update` changes no manifest. The lockfile moves later
 * (`syncLockfiles`). A refusal (an override a direct declaration excludes, a parent that is not
 * declared) fails the target with the reason; the text is then unchanged.
 * @returns the new text and the target's outcome (reason starting with {@link describeFix}).
 */
export function applyFix(text: string, t: FixTarget & { fix: TransitiveFixOption }): { text: string; outcome: TargetOutcome } {
  const fix = t.fix;
  const what = `${describeFix(fix)} (fixes transitive ${t.name}${fix.path.length > 1 ? ` via ${fix.path.join(' → ')}` : ''})`;
  try {
    if (fix.kind === 'override') {
      const r = setNpmOverride(text, fix.name, fix.to);
      return { text: r.text, outcome: { name: t.name, status: 'success', reason: what, declaredFrom: r.from, declaredTo: r.to } };
    }
    if (fix.kind === 'parent_bump') {
      const r = bumpNpmDependency(text, { name: fix.name, to: fix.to });
      const edit = r.edits[0];
      return { text: r.text, outcome: { name: t.name, status: 'success', reason: [what, ...r.notes].join('; '), declaredFrom: edit?.from ?? null, declaredTo: edit?.to ?? null } };
    }
    return { text, outcome: { name: t.name, status: 'success', reason: what, declaredFrom: null, declaredTo: null } };
  } catch (err) {
    const status = isRemediationError(err) && err.code === 'DEPENDENCY_NOT_DECLARED' ? 'skipped' : 'failed';
    return { text, outcome: { name: t.name, status, reason: `${describeFix(fix)}: ${describeError(err)}`, declaredFrom: null, declaredTo: null } };
  }
}

/** Puts a transitive target's package.json edit back to the base's (`restoreUnshipped`): the override entry, or the parent's declaration. */
export function restoreFix(text: string, original: string, t: FixTarget & { fix: TransitiveFixOption }): { text: string; restored: boolean } {
  if (t.fix.kind === 'override') return restoreNpmOverride(text, original, t.fix.name);
  if (t.fix.kind === 'parent_bump') {
    const r = restoreNpmDependency(text, original, t.fix.name);
    return { text: r.text, restored: r.restored.length > 0 };
  }
  return { text, restored: false };
}

/**
 * What the lockfile update of a transitive target moves (`syncLockfiles`): the direct parent to
 * the option's version with its new declared requirement (`parent_bump`), or the vulnerable
 * package itself — the entries at the installed version (`lockfile_update`, every parent admits
 * the new one), or every entry, dependents' requirements replaced by the override (`override`).
 */
export function lockfileMove(t: FixTarget & { fix: TransitiveFixOption }, declaredTo: string | null): { name: string; version: string; from?: string; requirement?: string; override?: boolean } {
  const fix = t.fix;
  if (fix.kind === 'parent_bump') return { name: fix.name, version: fix.to, ...(declaredTo ? { requirement: declaredTo } : {}) };
  if (fix.kind === 'lockfile_update') return { name: fix.name, version: fix.to, from: fix.from };
  return { name: fix.name, version: fix.to, override: true };
}

/** The affected ranges of a transitive package's advisories in the plan (`TransitiveFinding.affectedRanges`). */
export function transitiveRangesOf(plan: PlannerOutput | null, name: string): string[] {
  return [...new Set((plan?.transitive ?? []).filter((f) => f.name === name).flatMap((f) => f.affectedRanges ?? []))];
}

/**
 * The package ids a fix must have moved in a lockfile graph: for a parent bump, the instances of
 * the vulnerable package reached from the direct dependency along the option's path (other
 * instances are other findings); otherwise every instance of the package.
 */
function instancesOf(graph: ResolvedGraph, t: FixTarget & { fix: TransitiveFixOption }): string[] {
  const all = Object.values(graph.packages).filter((p) => p.name === t.name).map((p) => p.id);
  if (t.fix.kind !== 'parent_bump' || t.fix.path.length < 2) return all;
  let at = graph.edges.filter((e) => e.from === ROOT_ID && e.name === t.fix.path[0] && (e.importer === undefined || e.importer === '.')).flatMap((e) => (e.to ? [e.to] : []));
  for (const name of t.fix.path.slice(1)) {
    const here = new Set(at);
    at = [...new Set(graph.edges.filter((e) => here.has(e.from) && e.name === name).flatMap((e) => (e.to ? [e.to] : [])))];
  }
  return at;
}

/**
 * Proof of remediation of a transitive target (issue 15 part 4, over the resolved graph): every
 * version of the vulnerable package the updated lockfiles lock where the fix reaches it
 * ({@link instancesOf}) must be outside every affected range of its advisories
 * (`proveRemediated` of an exact version); `declared` shows the manifest side (the `overrides`
 * entry, or the parent's declarations). Without an updated lockfile only an override is proven
 * (its version, like a declaration's floor); a parent bump or lockfile update then fails the
 * proof, saying the lockfile was not updated.
 */
export async function proveFix(mergedDir: string, t: FixTarget & { fix: TransitiveFixOption }, plan: PlannerOutput | null, lockfiles: readonly string[]): Promise<TargetProof> {
  const ranges = transitiveRangesOf(plan, t.name);
  const fix = t.fix;
  const text = await readFile(join(mergedDir, t.manifestPath), 'utf8').catch(() => null);
  const declared: string[] = [];
  const failures: string[] = [];
  let lowest: string | null = null;
  if (text === null) failures.push(`${t.manifestPath} cannot be read`);
  else if (fix.kind === 'override') {
    const overrides = (JSON.parse(text.replace(/^\uFEFF/, '')) as { overrides?: Record<string, unknown> }).overrides?.[fix.name];
    const value = typeof overrides === 'object' && overrides !== null ? (overrides as Record<string, unknown>)['.'] : overrides;
    if (typeof value !== 'string') failures.push(`${t.manifestPath} has no overrides entry for ${fix.name}`);
    else {
      declared.push(`overrides: ${value}`);
      const p = proveRemediated(value, ranges);
      lowest = p.lowestAdmissible;
      if (!p.remediated) failures.push(`overrides: ${p.reason}`);
    }
  } else if (fix.kind === 'parent_bump') {
    declared.push(...declaredRequirements(text, fix.name).map((d) => `${d.section}: ${d.range}`));
  }
  const locked: string[] = [];
  for (const file of lockfiles) {
    try {
      const lockText = await readFile(join(mergedDir, file), 'utf8');
      const graph = readLockfile(file, lockText);
      const ids = instancesOf(graph, t);
      if (ids.length === 0) failures.push(`${file} locks no ${t.name} where the ${fix.kind.replace('_', ' ')} reaches it`);
      for (const version of [...new Set(ids.map((id) => graph.packages[id]!.version))]) {
        const check = proveRemediated(version, ranges);
        locked.push(`${file} ${version}: ${check.reason}`);
        if (!check.remediated) failures.push(`${file} locks ${t.name} ${version}: ${check.reason}`);
      }
    } catch (err) {
      failures.push(`${file}: ${describeError(err)}`);
    }
  }
  if (lockfiles.length === 0 && fix.kind !== 'override') failures.push(`no lockfile was updated, so ${t.name} is not proven to move (${describeFix(fix)})`);
  return {
    target: t.name,
    remediated: failures.length === 0,
    declared,
    ...(lockfiles.length > 0 ? { lockfiles: [...lockfiles], locked } : {}),
    lowestAdmissible: lowest,
    reason: failures.length === 0 ? `${describeFix(fix)}: every locked ${t.name} is outside ${ranges.join(' || ') || 'no known range'}` : failures.join('; '),
  };
}
