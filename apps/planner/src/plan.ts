import {
  affectedRanges,
  fixedVersions,
  isAffected,
  type Advisory,
  type AdvisorySource,
} from '@remediation/advisories';
import {
  PlannerOutput,
  type JumpSize,
  type PlannedAdvisory,
  type PlannedTarget,
  type Tier,
  type TierOption,
  type TierPlan,
  type TierUpgrade,
  type TransitiveFinding,
} from '@remediation/contracts';
import { InvalidInputError } from '@remediation/errors';
import type { PackageVersions, VersionSource } from '@remediation/registry';
import pLimit from 'p-limit';
import { versToNpmRange, type ParsedScan, type ScanComponent, type ScanVulnerability } from '@remediation/sbom';
import semver from 'semver';
import {
  breakingChangeRisk,
  chooseTiers,
  jumpNotes,
  jumpSize,
  largerJump,
  NO_FIX_IN_LINE_NOTE,
} from './tiers.js';

/** What {@link computePlan} needs besides the scan. */
export interface PlanDeps {
  /** OSV advisories for npm (e.g. `loadOsvDirectory(dir, { ecosystem: 'npm' })`). */
  advisories: AdvisorySource;
  /** Published versions of npm packages. */
  versions: VersionSource;
  /** Registry URL or snapshot directory, recorded as `sources.registry`. */
  registryLabel: string;
  /** Repository-relative manifest declaring the direct dependencies. Default `package.json`. */
  manifestPath?: string;
  /** Parallel version look-ups. Default 8. */
  concurrency?: number;
}

/** One advisory of a finding, with how to tell whether another version is affected. */
interface KnownAdvisory {
  planned: PlannedAdvisory;
  /** Whether a version is affected; null when no range is known (scan gave only the installed version). */
  affects: ((version: string) => boolean) | null;
  /** Scanner's free-text recommendation, for no-fix reasons. */
  recommendation?: string;
}

/** A vulnerable component and its advisories (by advisory id). */
interface Finding {
  component: ScanComponent;
  advisories: Map<string, KnownAdvisory>;
  /** Set when the installed version cannot be read: the finding needs a person, not tiers. */
  problem?: string;
}

/**
 * Plans upgrades for a scan (docs/mission.md "Plan"), in any format `parseScan` of @remediation/sbom
 * reads (CycloneDX, SPDX, Trivy, Grype, OSV-Scanner): the normalised scan drives the plan.
 *
 * Targets are direct dependencies (`scan.directRefs`) with at least one advisory matching the
 * installed version. Advisories come from the scan's `vulnerabilities` when it has them
 * (`sources.advisories = 'scan'`; each id or alias is resolved in `deps.advisories` for its
 * ranges, else the scan's `affects` ranges are used, else the target gets a `noFixReason`),
 * otherwise from matching every npm component against `deps.advisories`
 * (`sources.advisories = 'osv'`).
 *
 * A version is *fixed* when no known advisory of the package affects it (in scan mode: the
 * scan's advisories plus the OSV directory's for that package). Tiers are chosen by
 * {@link chooseTiers} over stable, non-deprecated versions newer than the installed one.
 * Vulnerable non-direct components are reported in `transitive` with the direct dependencies
 * they come through; the scanned project's own advisories only produce a warning, and components
 * of other ecosystems one `not planned: <purl type>` warning per type with their count. Arrays are sorted (by name, then version / id) so equal inputs give equal output.
 *
 * @returns the plan, validated with `PlannerOutput.parse`.
 * @throws TransientError from `deps.versions` (registry unavailable): retrying the plan may work.
 *   A package the registry does not know (`PACKAGE_NOT_FOUND`) or another InvalidInputError of
 *   the version source makes that target a no-fix target with a warning instead.
 */
export async function computePlan(scan: ParsedScan, deps: PlanDeps): Promise<PlannerOutput> {
  const warnings: string[] = [...scan.warnings];
  const mode: 'scan' | 'osv' = scan.vulnerabilities !== null ? 'scan' : 'osv';
  const manifestPath = deps.manifestPath ?? 'package.json';

  const findings =
    mode === 'scan' ? findingsFromScan(scan, deps.advisories, warnings) : findingsFromOsv(scan, deps.advisories, warnings);

  const targets: Finding[] = [];
  const transitiveFindings: Finding[] = [];
  for (const finding of findings.values()) {
    const c = finding.component;
    if (finding.problem !== undefined && !scan.directRefs.has(c.bomRef)) {
      warnings.push(
        `${c.name} (${JSON.stringify(c.bomRef)}), installed through ${scan.via(c.bomRef).map((ref) => scan.component(ref)?.name ?? ref).join(', ') || 'an unknown path'}, ` +
          `may be affected by ${[...finding.advisories.keys()].sort().join(', ')} but needs a person: ${finding.problem}`,
      );
    } else if (scan.root && c.bomRef === scan.root.bomRef) {
      warnings.push(
        `the scanned project ${label(c)} is itself affected by ${[...finding.advisories.keys()].sort().join(', ')}; ` +
          'it is not a dependency, so it is not a target',
      );
    } else if (scan.directRefs.has(c.bomRef)) {
      targets.push(finding);
    } else {
      transitiveFindings.push(finding);
    }
  }
  targets.sort(compareFindings);
  transitiveFindings.sort(compareFindings);

  // Each target collects its own warnings so their order does not depend on look-up timing.
  const limit = pLimit(deps.concurrency ?? 8);
  const results = await Promise.all(
    targets.map((finding) =>
      limit(async () => {
        const own: string[] = [];
        const target =
          finding.problem !== undefined
            ? needsPerson(finding, finding.problem, manifestPath)
            : await planTarget(finding, mode, deps, manifestPath, own);
        return { target, warnings: own };
      }),
    ),
  );
  const planned = results.map((r) => r.target);
  for (const r of results) warnings.push(...r.warnings);

  const transitive: TransitiveFinding[] = transitiveFindings.map((f) => ({
    purl: f.component.purl!,
    name: f.component.name,
    version: f.component.version!,
    advisories: [...f.advisories.keys()].sort(),
    via: [...new Set(scan.via(f.component.bomRef).map((ref) => scan.component(ref)?.name ?? ref))].sort(),
  }));

  const output = {
    schemaVersion: 1 as const,
    targets: planned,
    upgrade_tiers: {
      minimal: summariseTier(planned, 'minimal'),
      moderate: summariseTier(planned, 'moderate'),
      comprehensive: summariseTier(planned, 'comprehensive'),
    },
    noFixTargets: [...new Set(planned.filter((t) => t.noFixReason !== undefined).map((t) => t.name))].sort(),
    transitive,
    sources: { advisories: mode, registry: deps.registryLabel },
    warnings,
  };
  return PlannerOutput.parse(output);
}

function label(c: ScanComponent): string {
  return c.version ? `${c.name}@${c.version}` : c.name;
}

function compareFindings(a: Finding, b: Finding): number {
  return compareNameVersion(a.component, b.component);
}

function compareNameVersion(
  a: { name: string; version?: string | undefined },
  b: { name: string; version?: string | undefined },
): number {
  if (a.name !== b.name) return a.name < b.name ? -1 : 1;
  const va = a.version ?? '';
  const vb = b.version ?? '';
  if (semver.valid(va) && semver.valid(vb)) return semver.compare(va, vb);
  return va < vb ? -1 : va > vb ? 1 : 0;
}

/** PlannedAdvisory + evaluator for an OSV advisory of package `name`. */
function fromOsv(advisory: Advisory, name: string): KnownAdvisory {
  return {
    planned: {
      id: advisory.id,
      aliases: [...advisory.aliases].sort(),
      ...(advisory.summary !== undefined ? { summary: advisory.summary } : {}),
      severity: advisory.severity,
      ...(advisory.url !== undefined ? { url: advisory.url } : {}),
      affectedRanges: affectedRanges(advisory, name),
      fixedVersions: fixedVersions(advisory, name),
    },
    affects: (version) => isAffected(advisory, name, version),
  };
}

/** What the planner can do with a component (see {@link ComponentTriage}). */
type Triage =
  | { kind: 'npm' }
  | { kind: 'skip' }
  /** An npm package whose installed version cannot be read: if vulnerable, it needs a person. */
  | { kind: 'unreadable_version'; reason: string }
  /** A component whose purl is missing or unparsable: its package is unknown. */
  | { kind: 'unreadable'; reason: string };

/** At most this many unreadable components are listed one by one in the warnings. */
const MAX_LISTED_COMPONENTS = 50;

/**
 * Sorts components into what the planner handles (npm packages with a semver version) and
 * what it cannot, and turns the rest into warnings: counts per other ecosystem, and each
 * component whose version or purl cannot be read by bom-ref and name with the reason (issue 11:
 * bad scans never vanish silently). Containers (no purl, no version) are not packages: ignored.
 */
class ComponentTriage {
  private readonly byEcosystem = new Map<string, number>();
  private readonly seen = new Map<string, Triage>();
  private readonly unreadable: string[] = [];

  of(c: ScanComponent): Triage {
    const known = this.seen.get(c.bomRef);
    if (known) return known;
    const triage = this.decide(c);
    this.seen.set(c.bomRef, triage);
    if (triage.kind === 'unreadable' || triage.kind === 'unreadable_version') {
      this.unreadable.push(`component ${JSON.stringify(c.bomRef)} (${c.declaredName}) cannot be planned: ${triage.reason}`);
    }
    return triage;
  }

  private decide(c: ScanComponent): Triage {
    if (c.ecosystem === null) {
      if (c.purlProblem !== undefined) return { kind: 'unreadable', reason: c.purlProblem };
      // Containers (no purl, no version: e.g. a lockfile "application") are not packages.
      return c.version === undefined ? { kind: 'skip' } : { kind: 'unreadable', reason: 'it has a version but no purl' };
    }
    if (c.ecosystem !== 'npm') {
      this.byEcosystem.set(c.ecosystem, (this.byEcosystem.get(c.ecosystem) ?? 0) + 1);
      return { kind: 'skip' };
    }
    const reason = unreadableVersion(c.version);
    return reason === null ? { kind: 'npm' } : { kind: 'unreadable_version', reason };
  }

  /**
   * Adds the warnings: one `not planned: <purl type> (<n> component(s); only npm is planned)`
   * per other ecosystem (issue 12: components of every ecosystem are kept and listed, never
   * dropped), then the unreadable components.
   */
  flush(warnings: string[]): void {
    for (const [ecosystem, count] of [...this.byEcosystem.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
      warnings.push(`not planned: ${ecosystem} (${count} component(s); only npm is planned)`);
    }
    warnings.push(...this.unreadable.slice(0, MAX_LISTED_COMPONENTS));
    if (this.unreadable.length > MAX_LISTED_COMPONENTS) {
      warnings.push(`… and ${this.unreadable.length - MAX_LISTED_COMPONENTS} more component(s) that cannot be planned`);
    }
  }
}

/** Why an installed version cannot be read (semver 2.0.0, as npm versions are), or null when it can. */
function unreadableVersion(version: string | undefined): string | null {
  if (version === undefined) return 'the scan gives no version (neither `version` nor the purl)';
  if (version.trim() === '') return 'its version is empty';
  if (semver.valid(version) === null) return `version ${JSON.stringify(version.length > 80 ? `${version.slice(0, 79)}…` : version)} is not a semver version`;
  return null;
}

/**
 * OSV mode: every npm component (root included) matched against the advisory source. An npm
 * component whose version cannot be read, with advisories known for its package, is a finding
 * that needs a person (every advisory of the package may apply).
 */
function findingsFromOsv(scan: ParsedScan, source: AdvisorySource, warnings: string[]): Map<string, Finding> {
  const findings = new Map<string, Finding>();
  const triage = new ComponentTriage();
  const all = scan.root ? [scan.root, ...scan.components] : [...scan.components];
  for (const c of all) {
    if (c === scan.root) {
      // The scanned project: checked (for a warning) when it is an npm package, never counted as skipped.
      if (c.ecosystem !== 'npm' || unreadableVersion(c.version) !== null) continue;
    } else {
      const t = triage.of(c);
      if (t.kind === 'unreadable_version') {
        const possible = source.forPackage(c.name);
        if (possible.length > 0) {
          findings.set(c.bomRef, {
            component: c,
            advisories: new Map(possible.map((a) => [a.id, fromOsv(a, c.name)])),
            problem: `${t.reason}; ${possible.length} known advisory(ies) of ${c.name} may apply`,
          });
        }
        continue;
      }
      if (t.kind !== 'npm') continue;
    }
    const matched = source.matchAdvisories(c.name, c.version!);
    if (matched.length === 0) continue;
    findings.set(c.bomRef, {
      component: c,
      advisories: new Map(matched.map((a) => [a.id, fromOsv(a, c.name)])),
    });
  }
  triage.flush(warnings);
  return findings;
}

/**
 * Scan mode: the scan's vulnerabilities, resolved through the advisory source where possible.
 * Every component is triaged (so unreadable ones are listed even when not reported vulnerable);
 * a reported npm component whose version cannot be read is a finding that needs a person, one
 * whose purl cannot be read a warning naming the vulnerability.
 */
function findingsFromScan(scan: ParsedScan, source: AdvisorySource, warnings: string[]): Map<string, Finding> {
  const findings = new Map<string, Finding>();
  const triage = new ComponentTriage();
  for (const c of scan.components) triage.of(c);
  const unresolved = new Set<string>();
  const unplannable = new Map<string, Set<string>>();

  for (const vuln of scan.vulnerabilities ?? []) {
    const resolved = [vuln.id, ...vuln.aliases].map((id) => source.findById(id)).find((a) => a !== undefined);
    for (const affects of vuln.affects) {
      const c = scan.component(affects.ref);
      if (!c) continue; // unknown refs are named by the parser's warnings
      const rootKind: Triage = c.ecosystem === 'npm' && unreadableVersion(c.version) === null ? { kind: 'npm' } : { kind: 'skip' };
      const t = c === scan.root ? rootKind : triage.of(c);
      if (t.kind === 'skip') continue;
      if (t.kind === 'unreadable') {
        const ids = unplannable.get(c.bomRef) ?? new Set<string>();
        unplannable.set(c.bomRef, ids.add(vuln.id));
        continue;
      }
      const problem = 'reason' in t ? t.reason : undefined;
      if (problem === undefined) {
        const statusOfInstalled = affects.versions.find((v) => v.version !== undefined && v.version === c.version)?.status;
        if (statusOfInstalled === 'unaffected') continue;
      }

      const osvNamesPackage = resolved !== undefined && resolved.affected.some((a) => a.name.toLowerCase() === c.name.toLowerCase());
      const known = osvNamesPackage ? fromOsv(resolved, c.name) : fromScanEntry(vuln, affects);
      if (!osvNamesPackage) unresolved.add(vuln.id);
      else if (problem === undefined && !isAffected(resolved, c.name, c.version!)) {
        warnings.push(
          `${label(c)}: the scan reports ${vuln.id} but ${resolved.id}'s ranges do not include ${c.version}; kept as the scan says`,
        );
      }
      mergeScanDetails(known, vuln, resolved);

      const finding: Finding = findings.get(c.bomRef) ?? {
        component: c,
        advisories: new Map<string, KnownAdvisory>(),
        ...(problem !== undefined ? { problem } : {}),
      };
      const existing = finding.advisories.get(known.planned.id);
      if (existing) {
        existing.planned.aliases = [...new Set([...existing.planned.aliases, ...known.planned.aliases])].sort();
      } else {
        finding.advisories.set(known.planned.id, known);
      }
      findings.set(c.bomRef, finding);
    }
  }
  triage.flush(warnings);
  for (const [ref, ids] of unplannable) {
    warnings.push(`component ${JSON.stringify(ref)} is reported vulnerable to ${[...ids].sort().join(', ')} but its package cannot be read (see above): not planned`);
  }
  if (unresolved.size > 0) {
    warnings.push(
      `${unresolved.size} scan vulnerabilit(ies) not found in the OSV directory, the scan's own ranges are used: ${[...unresolved].sort().join(', ')}`,
    );
  }
  return findings;
}

/**
 * A scan vulnerability without an OSV record: ranges from `affects[].versions[].range`; fixed
 * versions the scanner names (`affects[].fixedVersions`: Trivy, Grype, OSV-Scanner) plus the
 * upper bounds of those ranges.
 */
function fromScanEntry(vuln: ScanVulnerability, affects: ScanVulnerability['affects'][number]): KnownAdvisory {
  const ranges: string[] = [];
  for (const entry of affects.versions) {
    if (entry.status !== 'affected' || entry.range === undefined) continue;
    const npm = versToNpmRange(entry.range);
    if (npm !== null) ranges.push(npm);
  }
  const fixed = new Set<string>(affects.fixedVersions.filter((v) => semver.valid(v) !== null));
  for (const range of ranges) {
    for (const m of range.matchAll(/(?:^|\s)<([0-9][^\s|]*)/g)) if (semver.valid(m[1]!)) fixed.add(m[1]!);
  }
  return {
    planned: {
      id: vuln.id,
      aliases: [],
      severity: vuln.severity,
      affectedRanges: ranges,
      fixedVersions: [...fixed].sort(semver.compare),
    },
    affects:
      ranges.length === 0
        ? null
        : (version) => ranges.some((r) => semver.satisfies(version, r, { includePrerelease: true })),
    ...(vuln.recommendation !== undefined ? { recommendation: vuln.recommendation } : {}),
  };
}

/** Adds the scan's id, aliases, severity, description and link to an advisory built from OSV or the scan. */
function mergeScanDetails(known: KnownAdvisory, vuln: ScanVulnerability, resolved: Advisory | undefined): void {
  const p = known.planned;
  p.aliases = [...new Set([...p.aliases, vuln.id, ...vuln.aliases])].filter((a) => a !== p.id).sort();
  if (vuln.severity !== 'unknown') p.severity = vuln.severity;
  else if (resolved && p.severity === 'unknown') p.severity = resolved.severity;
  if (p.summary === undefined && vuln.description) p.summary = firstLine(vuln.description);
  if (p.url === undefined) {
    const url = vuln.advisoryUrls[0] ?? vuln.source?.url;
    if (url !== undefined) p.url = url;
  }
  if (known.recommendation === undefined && vuln.recommendation !== undefined) known.recommendation = vuln.recommendation;
}

function firstLine(text: string): string {
  const line = text.split(/\r?\n/, 1)[0]!.trim();
  return line.length > 200 ? `${line.slice(0, 199)}…` : line;
}

const EMPTY_TIERS = { minimal: null, moderate: null, comprehensive: null };

/**
 * A target the planner cannot plan because its installed version cannot be read: no tiers,
 * `status: 'needs_person'` with the reason (also the `noFixReason`, for consumers that only
 * know that field).
 */
function needsPerson(finding: Finding, reason: string, manifestPath: string): PlannedTarget {
  const c = finding.component;
  return {
    purl: c.purl!,
    ecosystem: 'npm',
    name: c.name,
    currentVersion: c.version ?? '',
    manifestPath,
    advisories: [...finding.advisories.values()].map((a) => a.planned).sort((a, b) => (a.id < b.id ? -1 : 1)),
    tiers: { ...EMPTY_TIERS },
    noFixReason: `needs a person: ${reason}`,
    status: 'needs_person',
    reason,
  };
}

/** Plans one target: looks its versions up and chooses the tiers. */
async function planTarget(
  finding: Finding,
  mode: 'scan' | 'osv',
  deps: PlanDeps,
  manifestPath: string,
  warnings: string[],
): Promise<PlannedTarget> {
  const c = finding.component;
  const current = c.version!;
  const own = [...finding.advisories.values()].sort((a, b) => (a.planned.id < b.planned.id ? -1 : 1));
  const base = {
    status: 'planned' as const,
    purl: c.purl!,
    ecosystem: 'npm' as const,
    name: c.name,
    currentVersion: current,
    manifestPath,
    advisories: own.map((a) => a.planned),
  };
  const noFix = (reason: string): PlannedTarget => ({ ...base, tiers: { ...EMPTY_TIERS }, noFixReason: reason });

  const unknownRange = own.filter((a) => a.affects === null);
  if (unknownRange.length > 0) {
    const recommendations = [...new Set(unknownRange.map((a) => a.recommendation).filter((r) => r !== undefined))];
    return noFix(
      `no affected version range is known for ${unknownRange.map((a) => a.planned.id).join(', ')}` +
        (recommendations.length > 0 ? ` (the scanner recommends: ${recommendations.join('; ')})` : ''),
    );
  }
  if (semver.valid(current) === null) {
    return noFix(`installed version ${JSON.stringify(current)} is not a semver version`);
  }

  // Every known advisory of the package decides what "fixed" means.
  const known: KnownAdvisory[] = [...own];
  const extraInScanMode: string[] = [];
  for (const advisory of deps.advisories.forPackage(c.name)) {
    if (finding.advisories.has(advisory.id) || own.some((a) => a.planned.aliases.includes(advisory.id))) continue;
    const extra = fromOsv(advisory, c.name);
    known.push(extra);
    if (mode === 'scan' && extra.affects!(current)) extraInScanMode.push(advisory.id);
  }
  if (extraInScanMode.length > 0) {
    warnings.push(
      `${label(c)}: the OSV directory lists ${extraInScanMode.join(', ')}, not reported by the scan; the tiers avoid them too`,
    );
  }
  const isFixed = (version: string): boolean => known.every((a) => !a.affects!(version));

  let versions: PackageVersions;
  try {
    versions = await deps.versions.listVersions(c.name);
  } catch (err) {
    if (err instanceof InvalidInputError) {
      warnings.push(`${label(c)}: versions unavailable (${err.code}): ${err.message}`);
      return noFix(`versions of ${c.name} could not be listed (${err.code})`);
    }
    throw err;
  }

  const choice = chooseTiers(current, versions, isFixed);
  if (choice.minimal === null) {
    const ids = known.map((a) => a.planned.id).join(', ');
    const unfixed = own.filter((a) => a.planned.fixedVersions.length === 0).map((a) => a.planned.id);
    const reason =
      choice.candidates.length === 0
        ? `no stable version newer than ${current} is published`
        : `none of the ${choice.candidates.length} stable version(s) newer than ${current} is free of ${ids}`;
    return noFix(unfixed.length > 0 ? `${reason}; ${unfixed.join(', ')} name(s) no fixed version` : reason);
  }

  const ids = own.map((a) => a.planned.id);
  const extraNote =
    extraInScanMode.length > 0 ? [`also clears ${extraInScanMode.join(', ')} (OSV directory; not reported by the scan)`] : [];
  const option = (version: string | null, notes: string[] = []): TierOption | null => {
    if (version === null) return null;
    const jump = jumpSize(current, version);
    return {
      version,
      jump,
      advisoriesFixed: [...ids],
      breakingChangeRisk: breakingChangeRisk(jump, current),
      notes: [...notes, ...jumpNotes(current, version), ...extraNote],
    };
  };
  const latest = versions.distTags['latest'];
  return {
    ...base,
    tiers: {
      minimal: option(choice.minimal),
      moderate: option(choice.moderate, choice.moderateFellBack ? [NO_FIX_IN_LINE_NOTE] : []),
      comprehensive: option(
        choice.comprehensive,
        latest !== undefined && choice.comprehensive !== null && latest !== choice.comprehensive
          ? [`dist-tags.latest is ${latest}`]
          : [],
      ),
    },
  };
}

/** What choosing `tier` does across all targets (`upgrade_tiers.<tier>`). */
function summariseTier(targets: readonly PlannedTarget[], tier: Tier): TierPlan {
  const upgrades: TierUpgrade[] = [];
  const fixed = new Set<string>();
  const remaining = new Set<string>();
  let largestJump: JumpSize | null = null;
  for (const t of targets) {
    const option = t.tiers[tier];
    if (option === null) {
      for (const a of t.advisories) remaining.add(a.id);
      continue;
    }
    upgrades.push({
      name: t.name,
      purl: t.purl,
      from: t.currentVersion,
      to: option.version,
      jump: option.jump,
      advisoriesFixed: option.advisoriesFixed,
      breakingChangeRisk: option.breakingChangeRisk,
    });
    for (const id of option.advisoriesFixed) fixed.add(id);
    for (const a of t.advisories) if (!option.advisoriesFixed.includes(a.id)) remaining.add(a.id);
    largestJump = largerJump(largestJump, option.jump);
  }
  for (const id of remaining) fixed.delete(id);
  return {
    upgrades,
    advisoriesFixed: [...fixed].sort(),
    advisoriesRemaining: [...remaining].sort(),
    largestJump,
  };
}
