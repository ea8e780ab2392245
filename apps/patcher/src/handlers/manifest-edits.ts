import { readFile, writeFile } from 'node:fs/promises';
import { join, normalize } from 'node:path';
import type { PlannerOutput, TargetOutcome, TargetProof, TargetVersion, TransitiveFixOption } from '@remediation/contracts';
import { type Ecosystem, type ManifestDependency, ecosystemFor, restoreRequirement } from '@remediation/ecosystems';
import { describeError, isRemediationError } from '@remediation/errors';
import { bumpNpmDependency, declaredRequirements, proveRemediated, restoreNpmDependency } from '@remediation/manifests';
import { readLockfile } from '@remediation/lockfiles';
import { type DeclaringManifest, declaringManifests } from './ecosystem-edits.js';
import { applyFix, proveFix, restoreFix } from './transitive-fixes.js';

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
  /** purl type of the target (`npm`, `pypi`, …); absent means `npm` (rows stored before the column existed). */
  ecosystem?: string;
  /** Each installed version and its chosen version when the plan targets the package at several (`TargetVersion`). */
  versions?: TargetVersion[] | null;
  /** The plan's fix option of a transitive target (`ExecutionTarget.fix`); absent or null for a direct dependency. */
  fix?: TransitiveFixOption | null;
}

/** The target's purl type: its own, else `npm`. */
export function ecosystemOf(t: { ecosystem?: string }): string {
  return (t.ecosystem ?? 'npm').toLowerCase();
}

/**
 * The affected ranges of a target's advisories in the plan, in the ecosystem's range syntax
 * (node-semver ranges for npm, PEP 440 specifier sets for PyPI). With `ecosystem`, only the plan
 * target of that ecosystem is used (a name may exist in two ecosystems).
 */
export function advisoryRangesOf(plan: PlannerOutput | null, name: string, ecosystem?: string): string[] {
  // A package installed at several versions is several plan targets: every one's ranges count.
  const targets = plan?.targets.filter((p) => p.name === name && (ecosystem === undefined || p.ecosystem.toLowerCase() === ecosystem)) ?? [];
  return [...new Set(targets.flatMap((t) => t.advisories.flatMap((a) => a.affectedRanges)))];
}

/** Whether a declaration's lowest admissible version is one of the versions `t.versions` raises to (an edited declaration). */
function raisedFor(t: EditTarget, ecosystem: Ecosystem, declaration: ManifestDependency): boolean {
  const low = ecosystem.proveRemediated(declaration.requirement, declaration.style, []).lowestAdmissible;
  if (low === null || !ecosystem.versioning.isValid(low)) return false;
  return (t.versions ?? []).some((v) => ecosystem.versioning.isValid(v.to) && ecosystem.versioning.compare(v.to, low) === 0);
}

/** Whether the plan targets `t`'s package at several installed versions (then every manifest of the repository is searched). */
export function severalVersions(t: EditTarget): boolean {
  return (t.versions?.length ?? 0) > 1;
}

/**
 * The version a manifest's declaration of `t` is raised to: `t.toVersion`, or, when the target
 * lists several installed versions (`versions`), the `to` of the installed version the
 * declaration's requirement stands for (its lowest admissible version equals that `from`); null
 * when it stands for none of them (a pin the scan did not report: left alone).
 */
export function versionFor(t: EditTarget, ecosystem: Ecosystem, declaration: ManifestDependency): string | null {
  if (!severalVersions(t)) return t.toVersion;
  const low = ecosystem.proveRemediated(declaration.requirement, declaration.style, []).lowestAdmissible;
  if (low === null || !ecosystem.versioning.isValid(low)) return null;
  return t.versions!.find((v) => ecosystem.versioning.isValid(v.from) && ecosystem.versioning.compare(v.from, low) === 0)?.to ?? null;
}

const needsAgentNote = (t: EditTarget) =>
  `needs the agent: upgrade ${t.fromVersion} → ${t.toVersion} is a major jump or has known breaking changes; code changes may be needed and no code-fix agent is configured`;

/** A manifest path inside the repository, or null when it would leave it. */
function safeRelative(manifestPath: string): string | null {
  const rel = normalize(manifestPath);
  return rel.startsWith('..') || rel.startsWith('/') ? null : rel;
}

/** Input of {@link applyManifestBumps}: the workspace's base snapshot and merged view, the targets, the plan. */
export interface ManifestBumpInput {
  lowerDir: string;
  mergedDir: string;
  targets: EditTarget[];
  plan: PlannerOutput | null;
  agentConfigured: boolean;
  /** Called between targets (keeps the step's lease). */
  heartbeat: () => void;
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
export async function applyManifestBumps(input: ManifestBumpInput): Promise<TargetOutcome[]> {
  const outcomes: TargetOutcome[] = [];
  const byManifest = new Map<string, EditTarget[]>();
  for (const t of input.targets) {
    if (t.status === 'skipped' || ecosystemOf(t) !== 'npm') continue;
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
      if (t.fix) {
        // A transitive target: its fix option's edit (override, parent bump, or none).
        const r = applyFix(text, { ...t, fix: t.fix });
        changed ||= r.text !== text;
        text = r.text;
        outcomes.push(r.outcome);
        continue;
      }
      try {
        const result = bumpNpmDependency(text, { name: t.name, to: t.toVersion, advisoryRanges: advisoryRangesOf(input.plan, t.name) });
        text = result.text;
        changed ||= result.changed;
        const edit = result.edits[0];
        const notes = [...result.notes];
        if (t.needsAgent && !input.agentConfigured) {
          notes.push(needsAgentNote(t));
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
  outcomes.push(...(await applyEcosystemBumps({ ...input, targets: input.targets.filter((t) => t.status !== 'skipped' && ecosystemOf(t) !== 'npm') })));
  return outcomes;
}

/**
 * The deterministic edits of targets of ecosystems other than npm, through the ecosystem's
 * manifest managers (`@remediation/ecosystems`): the manifests declaring the dependency are found
 * by `declaringManifests` (the plan's manifest and its includes, else every manifest of the
 * ecosystem in the repository), each rebuilt from the base snapshot and raised with
 * `ManifestManager.raiseFloor`, then every resulting requirement must pass
 * `Ecosystem.proveRemediated` against the plan's affected ranges. A target is `skipped` when no
 * manifest declares it or its ecosystem is not supported (`not supported yet: <type>`), and
 * `failed` when a manager refuses (a `--hash` pin names the lockfile command that must regenerate
 * it) or the proof fails; a failed target leaves every manifest untouched.
 */
async function applyEcosystemBumps(input: ManifestBumpInput): Promise<TargetOutcome[]> {
  const outcomes: TargetOutcome[] = [];
  const texts = new Map<string, string>();
  const base = new Map<string, string>();
  const result = (t: EditTarget, status: TargetOutcome['status'], reason: string): TargetOutcome => ({ name: t.name, status, reason, declaredFrom: null, declaredTo: null });
  for (const t of input.targets) {
    input.heartbeat();
    const ecosystem = ecosystemFor(ecosystemOf(t));
    if (!ecosystem) {
      outcomes.push(result(t, 'skipped', `not supported yet: ${ecosystemOf(t)}`));
      continue;
    }
    const { manifests, problems } = await declaringManifests(input.lowerDir, ecosystem, t.name, t.manifestPath, { everywhere: severalVersions(t) });
    if (manifests.length === 0) {
      const why = problems.length ? ` (${problems.join('; ')})` : '';
      outcomes.push(result(t, 'skipped', `${t.name} is not declared in ${t.manifestPath} or any other ${ecosystem.purlType} manifest of the repository${why}`));
      continue;
    }
    const ranges = advisoryRangesOf(input.plan, t.name, ecosystem.purlType);
    const edited = new Map<string, string>();
    const notes: string[] = [];
    let declaredFrom: string | null = null;
    let declaredTo: string | null = null;
    let failure: string | null = null;
    for (const m of manifests) {
      if (!base.has(m.file)) base.set(m.file, m.text);
      const text = edited.get(m.file) ?? texts.get(m.file) ?? m.text;
      const to = versionFor(t, ecosystem, m.declarations[0]!);
      if (to === null) {
        notes.push(`${m.file}: "${m.declarations[0]!.requirement}" is none of the installed versions the plan targets (${t.versions!.map((v) => v.from).join(', ')}); left alone`);
        continue;
      }
      // Inherited manifests (Maven parent poms) as this target's earlier edits left them.
      const context = m.context ? new Map([...m.context].map(([p, original]) => [p, edited.get(p) ?? texts.get(p) ?? original])) : undefined;
      const edit = m.manager.raiseFloor(m.file, text, t.name, to, context);
      if (edit.status === 'refused') {
        failure = edit.lockfileCommand ? `${edit.message} (lockfile command: ${edit.lockfileCommand})` : edit.message;
        break;
      }
      // The manifest the edit wrote: this one, or one it inherits from (a parent pom's property).
      const target = edit.status === 'edited' ? (edit.file ?? m.file) : m.file;
      const next = edit.status === 'edited' ? edit.text : text;
      if (target !== m.file) {
        context!.set(target, next);
        if (!base.has(target)) base.set(target, m.context!.get(target)!);
      }
      const unproven = proveAll(ecosystem, m.manager, m.file, target === m.file ? next : text, t.name, ranges, context).find((p) => !p.proof.remediated);
      if (unproven) {
        failure = `${unproven.dependency.location.file} line ${unproven.dependency.location.line}: ${unproven.proof.reason}`;
        break;
      }
      if (edit.status === 'edited') {
        edited.set(target, next);
        if (edit.notes) notes.push(...edit.notes);
        declaredFrom ??= edit.before;
        declaredTo ??= edit.after;
      } else {
        declaredFrom ??= edit.requirement;
        declaredTo ??= edit.requirement;
        notes.push(`${m.file}: "${edit.requirement}" already admits no version below ${to}`);
      }
    }
    if (failure !== null) {
      outcomes.push(result(t, 'failed', failure));
      continue;
    }
    for (const [file, text] of edited) texts.set(file, text);
    const files = [...new Set(manifests.map((m) => m.file))];
    if (files.length > 1) notes.push(`declared in ${files.join(', ')}`);
    if (t.needsAgent && !input.agentConfigured) notes.push(needsAgentNote(t));
    outcomes.push({ name: t.name, status: 'success', reason: notes.length ? notes.join('; ') : null, declaredFrom, declaredTo });
  }
  for (const [file, text] of texts) if (text !== base.get(file)) await writeFile(join(input.mergedDir, file), text);
  return outcomes;
}

/** Proof of remediation of every declaration of `name` in one manifest text. */
function proveAll(ecosystem: Ecosystem, manager: { extract: Ecosystem['managers'][number]['extract'] }, file: string, text: string, name: string, ranges: readonly string[], context?: ReadonlyMap<string, string>) {
  const wanted = ecosystem.normaliseName(name);
  return manager
    .extract(file, text, context)
    .dependencies.filter((d) => d.normalisedName === wanted)
    .map((dependency) => ({ dependency, proof: ecosystem.proveRemediated(dependency.requirement, dependency.style, ranges) }));
}

/**
 * Puts the declarations of targets that will not ship (failed, skipped, or left out by the
 * partial-success decision) back to the base commit's, so the patch carries none of their bumps.
 * @returns names whose declaration was restored.
 */
export async function restoreUnshipped(input: { lowerDir: string; mergedDir: string; targets: EditTarget[]; shipped: ReadonlySet<string> }): Promise<string[]> {
  const restored: string[] = [];
  const byManifest = new Map<string, EditTarget[]>();
  for (const t of input.targets) {
    if (input.shipped.has(t.name)) continue;
    if (ecosystemOf(t) !== 'npm') {
      if (await restoreEcosystemTarget(input.lowerDir, input.mergedDir, t)) restored.push(t.name);
      continue;
    }
    byManifest.set(t.manifestPath, [...(byManifest.get(t.manifestPath) ?? []), t]);
  }
  for (const [manifestPath, list] of byManifest) {
    const rel = safeRelative(manifestPath);
    if (rel === null) continue;
    const original = await readFile(join(input.lowerDir, rel), 'utf8').catch(() => null);
    const current = await readFile(join(input.mergedDir, rel), 'utf8').catch(() => null);
    if (original === null || current === null) continue;
    let text = current;
    for (const t of list) {
      if (t.fix) {
        const r = restoreFix(text, original, { ...t, fix: t.fix });
        if (r.restored) restored.push(t.name);
        text = r.text;
        continue;
      }
      const r = restoreNpmDependency(text, original, t.name);
      if (r.restored.length) restored.push(t.name);
      text = r.text;
    }
    if (text !== current) await writeFile(join(input.mergedDir, rel), text);
  }
  return restored;
}

/** {@link restoreUnshipped} for a target of another ecosystem: every manifest of the base declaring it, put back by `restoreRequirement`. */
async function restoreEcosystemTarget(lowerDir: string, mergedDir: string, t: EditTarget): Promise<boolean> {
  const ecosystem = ecosystemFor(ecosystemOf(t));
  if (!ecosystem) return false;
  const { manifests } = await declaringManifests(lowerDir, ecosystem, t.name, t.manifestPath, { everywhere: severalVersions(t) });
  let restored = false;
  for (const m of manifests) {
    if (m.context && (await restoreInherited(mergedDir, m, t.name, ecosystem.normaliseName))) restored = true;
    const current = await readFile(join(mergedDir, m.file), 'utf8').catch(() => null);
    if (current === null || current === m.text) continue;
    let next: string;
    try {
      next = restoreRequirement(m.manager, m.file, current, m.text, t.name, ecosystem.normaliseName).text;
    } catch {
      continue; // the agent left the manifest unreadable: its proof fails and says so
    }
    if (next !== current) {
      await writeFile(join(mergedDir, m.file), next);
      restored = true;
    }
  }
  return restored;
}

/**
 * Puts back the requirements of `name` that `m` inherits from another manifest (a Maven parent
 * pom's property): each such declaration's text in the workspace's version of that manifest is
 * replaced by the base's, found by extracting `m` again against the workspace's versions.
 * @returns whether a manifest was written.
 */
async function restoreInherited(mergedDir: string, m: DeclaringManifest, name: string, normalise: (name: string) => string): Promise<boolean> {
  const wanted = normalise(name);
  const merged = new Map<string, string>();
  for (const path of m.context!.keys()) {
    const current = await readFile(join(mergedDir, path), 'utf8').catch(() => null);
    if (current !== null) merged.set(path, current);
  }
  let written = false;
  try {
    const child = await readFile(join(mergedDir, m.file), 'utf8');
    const now = m.manager.extract(m.file, child, merged).dependencies.filter((d) => d.normalisedName === wanted && d.location.file !== m.file);
    for (const d of m.declarations.filter((x) => x.location.file !== m.file)) {
      const at = now.find((x) => x.location.file === d.location.file && x.location.section === d.location.section);
      const original = m.context!.get(d.location.file)!;
      const current = merged.get(d.location.file);
      if (!at || current === undefined) continue;
      const raw = original.slice(d.location.offset, d.location.offset + d.location.length);
      if (current.slice(at.location.offset, at.location.offset + at.location.length) === raw) continue;
      const next = current.slice(0, at.location.offset) + raw + current.slice(at.location.offset + at.location.length);
      merged.set(d.location.file, next);
      await writeFile(join(mergedDir, d.location.file), next);
      written = true;
    }
  } catch {
    // an unreadable manifest: its proof fails and says so
  }
  return written;
}

/**
 * Proof of remediation of each shipped target against the workspace's manifests as they are now
 * (docs/mission.md "Proof of remediation"): every declaration of the dependency (dependencies,
 * devDependencies, optionalDependencies) must have its lowest admissible version outside every
 * affected range of the target's advisories (`proveRemediated`). A dependency that is no longer
 * declared, or a manifest that cannot be read or parsed, fails the proof with the reason.
 */
export async function proveTargets(input: { mergedDir: string; targets: EditTarget[]; plan: PlannerOutput | null; lockfiles?: ReadonlyMap<string, readonly string[]> }): Promise<TargetProof[]> {
  const proofs: TargetProof[] = [];
  for (const t of input.targets) {
    const lockfiles = input.lockfiles?.get(t.name) ?? [];
    if (t.fix) {
      proofs.push(await proveFix(input.mergedDir, { ...t, fix: t.fix }, input.plan, lockfiles));
      continue;
    }
    const proof = await proveManifests(input.mergedDir, t, input.plan);
    proofs.push(lockfiles.length === 0 ? proof : await proveLocked(input.mergedDir, t, input.plan, proof, lockfiles));
  }
  return proofs;
}

/**
 * Proof over the resolved graph (issue 15 part 4): every version of the target locked in the
 * lockfiles updated with its bump must be outside every affected range of its advisories (an
 * exact requirement of that version through the same `proveRemediated` rule); one affected
 * version fails the proof. `lockfiles` and `locked` are added to the manifest proof.
 */
async function proveLocked(mergedDir: string, t: EditTarget, plan: PlannerOutput | null, proof: TargetProof, lockfiles: readonly string[]): Promise<TargetProof> {
  const ecosystem = ecosystemFor(ecosystemOf(t));
  const ranges = advisoryRangesOf(plan, t.name, ecosystemOf(t) === 'npm' ? undefined : ecosystemOf(t));
  const locked: string[] = [];
  const failures: string[] = [];
  for (const file of lockfiles) {
    const text = await readFile(join(mergedDir, file), 'utf8').catch(() => null);
    let versions: string[];
    try {
      if (text === null) throw new Error('cannot be read');
      const graph = readLockfile(file, text);
      const wanted = ecosystem ? ecosystem.normaliseName(t.name) : t.name;
      versions = [...new Set(Object.values(graph.packages).filter((p) => (ecosystem ? ecosystem.normaliseName(p.name) : p.name) === wanted).map((p) => p.version))];
    } catch (err) {
      failures.push(`${file}: ${describeError(err)}`);
      continue;
    }
    for (const v of versions) {
      const check = ecosystemOf(t) === 'npm' || !ecosystem ? proveRemediated(v, ranges) : ecosystem.proveRemediated(`=${v}`, 'cargo', ranges);
      locked.push(`${file} ${v}: ${check.reason}`);
      if (!check.remediated) failures.push(`${file} locks ${t.name} ${v}: ${check.reason}`);
    }
  }
  return {
    ...proof,
    remediated: proof.remediated && failures.length === 0,
    lockfiles: [...lockfiles],
    locked,
    reason: failures.length === 0 ? proof.reason : `${proof.reason}; ${failures.join('; ')}`,
  };
}

/** The manifest proof of one target (npm through @remediation/manifests, other ecosystems through their `proveRemediated`). */
async function proveManifests(mergedDir: string, t: EditTarget, plan: PlannerOutput | null): Promise<TargetProof> {
  if (ecosystemOf(t) !== 'npm') {
    return proveEcosystemTarget(mergedDir, t, plan);
  }
  const rel = safeRelative(t.manifestPath);
  const text = rel === null ? null : await readFile(join(mergedDir, rel), 'utf8').catch(() => null);
  if (text === null) {
    return { target: t.name, remediated: false, declared: [], lowestAdmissible: null, reason: `${t.manifestPath} cannot be read` };
  }
  let declared: ReturnType<typeof declaredRequirements>;
  try {
    declared = declaredRequirements(text, t.name);
  } catch (err) {
    return { target: t.name, remediated: false, declared: [], lowestAdmissible: null, reason: `${t.manifestPath}: ${describeError(err)}` };
  }
  if (declared.length === 0) {
    return { target: t.name, remediated: false, declared: [], lowestAdmissible: null, reason: `${t.name} is no longer declared in ${t.manifestPath}` };
  }
  const ranges = advisoryRangesOf(plan, t.name);
  const checks = declared.map((d) => ({ d, proof: proveRemediated(d.range, ranges) }));
  return {
    target: t.name,
    remediated: checks.every((c) => c.proof.remediated),
    declared: declared.map((d) => `${d.section}: ${d.range}`),
    lowestAdmissible: checks[0]!.proof.lowestAdmissible,
    reason: checks.map((c) => `${c.d.section}: ${c.proof.reason}`).join('; '),
  };
}

/**
 * {@link proveTargets} for a target of another ecosystem: every declaration of the dependency in
 * the manifests `declaringManifests` finds in the workspace must pass `Ecosystem.proveRemediated`
 * with the plan's affected ranges. `declared` lists `<file> <section>: <requirement>`, `manifests`
 * the files.
 */
async function proveEcosystemTarget(mergedDir: string, t: EditTarget, plan: PlannerOutput | null): Promise<TargetProof> {
  const ecosystem = ecosystemFor(ecosystemOf(t));
  if (!ecosystem) return { target: t.name, remediated: false, declared: [], lowestAdmissible: null, reason: `not supported yet: ${ecosystemOf(t)}` };
  const { manifests, problems } = await declaringManifests(mergedDir, ecosystem, t.name, t.manifestPath, { everywhere: severalVersions(t) });
  if (manifests.length === 0) {
    const why = problems.length ? ` (${problems.join('; ')})` : '';
    return { target: t.name, remediated: false, declared: [], lowestAdmissible: null, reason: `${t.name} is no longer declared in ${t.manifestPath} or any other ${ecosystem.purlType} manifest${why}` };
  }
  const ranges = advisoryRangesOf(plan, t.name, ecosystem.purlType);
  // With several installed versions, the declarations of other versions (left alone) are not this target's.
  const checks = manifests.flatMap((m) =>
    m.declarations
      .filter((d) => !severalVersions(t) || versionFor(t, ecosystem, d) !== null || raisedFor(t, ecosystem, d))
      .map((d) => ({ d, proof: ecosystem.proveRemediated(d.requirement, d.style, ranges) })),
  );
  if (checks.length === 0) {
    return { target: t.name, remediated: false, declared: [], lowestAdmissible: null, reason: `no declaration of ${t.name} stands for the installed versions the plan targets` };
  }
  return {
    target: t.name,
    remediated: checks.every((c) => c.proof.remediated),
    declared: checks.map((c) => `${c.d.location.file} ${c.d.location.section}: ${c.d.requirement}`),
    manifests: [...new Set(checks.map((c) => c.d.location.file))].sort(),
    lowestAdmissible: checks[0]!.proof.lowestAdmissible,
    reason: checks.map((c) => `${c.d.location.file} line ${c.d.location.line}: ${c.proof.reason}`).join('; '),
  };
}
