import {
  affectedRanges,
  affectedTest,
  fixedVersions,
  informationalKind,
  isAffected,
  osvPackageOfPurl,
  samePackage,
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
import { cargoEcosystem, ECOSYSTEMS, ecosystemFor, goEcosystem, NpmReleaseSource, npmVersioning, type Ecosystem, type PackageReleases, type RegistrySource, type Versioning } from '@remediation/ecosystems';
import { InvalidInputError } from '@remediation/errors';
import type { ResolvedGraph } from '@remediation/lockfiles';
import type { VersionSource } from '@remediation/registry';
import pLimit from 'p-limit';
import { purlParts, versToNpmRange, type ParsedScan, type ScanComponent, type ScanVulnerability } from '@remediation/sbom';
import {
  breakingChangeRisk,
  chooseTiers,
  jumpNotes,
  jumpSize,
  largerJump,
  NO_FIX_IN_LINE_NOTE,
} from './tiers.js';
import { transitiveOptions, type ReleasesCache, type TransitiveOptions } from './transitive.js';

/** What {@link computePlan} needs besides the scan. */
export interface PlanDeps {
  /**
   * OSV advisories of the planned ecosystems (e.g. `loadOsvDirectory(dir, { ecosystem: ['npm', 'PyPI'] })`);
   * looked up by OSV ecosystem, so a PyPI `requests` never matches an npm `requests`.
   */
  advisories: AdvisorySource;
  /** Published versions of npm packages (read through `NpmReleaseSource`), unless `registries` has `npm`. */
  versions?: VersionSource;
  /** npm's registry URL or snapshot directory, recorded as `sources.registry` (see {@link computePlan}). */
  registryLabel?: string;
  /** Registry source per purl type (e.g. `pypi` → `PypiRegistrySource`); `npm` here wins over `versions`. */
  registries?: ReadonlyMap<string, RegistrySource>;
  /**
   * Repository-relative manifest declaring npm's direct dependencies. Default: the ecosystem's
   * `defaultManifestPath` (`package.json`; `requirements.txt` for PyPI).
   */
  manifestPath?: string;
  /** Parallel version look-ups. Default 8. */
  concurrency?: number;
  /**
   * The repository's lockfile, read by @remediation/lockfiles (`readLockfile`), when the caller has
   * it: transitive findings of its ecosystem take their override mechanism from its kind (yarn
   * `resolutions`, pnpm `pnpm.overrides`, uv `override-dependencies`, Poetry…) and parents'
   * requirements from it where its format records ranges (docs/decisions/0017).
   */
  lockfile?: ResolvedGraph;
}

/** One advisory of a finding, with how to tell whether another version is affected. */
interface KnownAdvisory {
  planned: PlannedAdvisory;
  /** Whether a version is affected; null when no range is known (scan gave only the installed version). */
  affects: ((version: string) => boolean) | null;
  /** Scanner's free-text recommendation, for no-fix reasons. */
  recommendation?: string;
  /** The OSV advisory it was built from, when it was (for fixes published under another package, see {@link fixesInOtherMajorPackages}). */
  advisory?: Advisory;
}

/** A vulnerable component and its advisories (by advisory id). */
interface Finding {
  component: ScanComponent;
  /** The component's ecosystem; null for a purl type not in `ECOSYSTEMS` (see `unsupported`). */
  ecosystem: Ecosystem | null;
  /** Package name as the target names it (npm: the scan's; PyPI: PEP 503 normalised). */
  name: string;
  advisories: Map<string, KnownAdvisory>;
  /** Set when the installed version cannot be read: the finding needs a person, not tiers. */
  problem?: string;
  /** purl type of a component no ecosystem plans yet: a `not_supported` target. */
  unsupported?: string;
}

/**
 * Plans upgrades for a scan (docs/mission.md "Plan"), in any format `parseScan` of @remediation/sbom
 * reads (CycloneDX, SPDX, Trivy, Grype, OSV-Scanner): the normalised scan drives the plan.
 *
 * Components are dispatched by purl type through `ECOSYSTEMS` of @remediation/ecosystems (npm,
 * PyPI): each supported component is matched with its ecosystem's OSV ecosystem name and planned
 * with its ecosystem's versioning and registry source. Targets are direct dependencies
 * (`scan.directRefs`) with at least one advisory matching the installed version. Advisories come
 * from the scan's `vulnerabilities` when it has them (`sources.advisories = 'scan'`; each id or
 * alias is resolved in `deps.advisories` for its ranges, else the scan's `affects` ranges are
 * used (npm), else the target gets a `noFixReason`), otherwise from matching every supported
 * component against `deps.advisories` (`sources.advisories = 'osv'`).
 *
 * A version is *fixed* when no known advisory of the package affects it (in scan mode: the
 * scan's advisories plus the OSV directory's for that package). Tiers are chosen by
 * {@link chooseTiers} over the versioning's candidates newer than the installed one.
 * Vulnerable non-direct components are reported in `transitive` with the direct dependencies
 * they come through; the scanned project's own advisories only produce a warning. Components of
 * purl types not in `ECOSYSTEMS` give one `not planned: <purl type>` warning per type with their
 * count, and each such direct dependency the scan reports vulnerable (scan mode) or whose exact
 * version an advisory of the database lists (OSV mode) is a `not_supported` target with
 * `noFixReason: "not supported yet: <purl type>"` (issue 13: never dropped silently).
 * Arrays are sorted (by name, then version / id) so equal inputs give equal output.
 *
 * `sources.registry` names the registry of the one ecosystem whose targets were looked up
 * (npm's `deps.registryLabel` when none was), or `<purl type>=<label>` per ecosystem joined by `, `.
 *
 * @returns the plan, validated with `PlannerOutput.parse`.
 * @throws TransientError from a registry source (registry unavailable): retrying the plan may work.
 *   A package the registry does not know (`PACKAGE_NOT_FOUND`) or another InvalidInputError of
 *   the registry source makes that target a no-fix target with a warning instead.
 */
export async function computePlan(scan: ParsedScan, deps: PlanDeps): Promise<PlannerOutput> {
  const warnings: string[] = [...scan.warnings];
  const mode: 'scan' | 'osv' = scan.vulnerabilities !== null ? 'scan' : 'osv';

  const findings =
    mode === 'scan' ? findingsFromScan(scan, deps.advisories, warnings) : findingsFromOsv(scan, deps.advisories, warnings);

  const targets: Finding[] = [];
  const transitiveFindings: Finding[] = [];
  for (const finding of findings.values()) {
    const c = finding.component;
    if (finding.unsupported !== undefined) {
      // Only direct dependencies become targets; the others are counted in `not planned: <type>`.
      if (scan.directRefs.has(c.bomRef) && !(scan.root && c.bomRef === scan.root.bomRef)) targets.push(finding);
    } else if (finding.problem !== undefined && !scan.directRefs.has(c.bomRef)) {
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
  const registries = new Registries(deps);
  const results = await Promise.all(
    targets.map((finding) =>
      limit(async () => {
        const own: string[] = [];
        const target =
          finding.unsupported !== undefined
            ? notSupported(finding, finding.unsupported)
            : finding.problem !== undefined
              ? needsPerson(finding, finding.problem, deps)
              : await planTarget(finding, mode, deps, registries, own);
        return { target, warnings: own };
      }),
    ),
  );
  const planned = results.map((r) => r.target);
  for (const r of results) warnings.push(...r.warnings);

  const releasesCaches = new Map<string, ReleasesCache>();
  const fixes = await Promise.all(transitiveFindings.map((f) => limit(() => planTransitive(f, scan, deps, registries, releasesCaches))));
  const transitive: TransitiveFinding[] = transitiveFindings.map((f, i) => ({
    purl: f.component.purl!,
    name: f.name,
    version: f.component.version!,
    advisories: [...f.advisories.keys()].sort(),
    via: [...new Set(scan.via(f.component.bomRef).map((ref) => scan.component(ref)?.name ?? ref))].sort(),
    options: fixes[i]!.options,
    minimal: fixes[i]!.minimal,
    moderate: fixes[i]!.moderate,
    comprehensive: fixes[i]!.comprehensive,
    ...(fixes[i]!.reasons.length > 0 ? { reasons: fixes[i]!.reasons } : {}),
    affectedRanges: [...new Set([...f.advisories.values()].flatMap((a) => a.planned.affectedRanges))].sort(),
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
    sources: { advisories: mode, registry: registries.sourcesLabel() },
    warnings,
  };
  return PlannerOutput.parse(output);
}

/**
 * The registry source of each purl type for one plan: `deps.registries`, else for npm
 * `deps.versions` through `NpmReleaseSource`; remembers which were used for `sources.registry`.
 */
class Registries {
  private readonly used = new Map<string, string>();

  constructor(private readonly deps: PlanDeps) {}

  /** The source for `purlType`, or undefined when none is configured. Marks it used. */
  for(purlType: string): RegistrySource | undefined {
    const configured = this.deps.registries?.get(purlType);
    const source =
      configured ?? (purlType === 'npm' && this.deps.versions ? new NpmReleaseSource(this.deps.versions, this.deps.registryLabel ?? '') : undefined);
    if (source) this.used.set(purlType, source.label);
    return source;
  }

  /** `sources.registry`: see {@link computePlan}. */
  sourcesLabel(): string {
    if (this.used.size === 1) return [...this.used.values()][0]!;
    if (this.used.size > 1) return [...this.used.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([type, l]) => `${type}=${l}`).join(', ');
    return this.deps.registryLabel ?? this.deps.registries?.get('npm')?.label ?? '';
  }
}

function label(c: ScanComponent): string {
  return c.version ? `${c.name}@${c.version}` : c.name;
}

function compareFindings(a: Finding, b: Finding): number {
  if (a.name !== b.name) return a.name < b.name ? -1 : 1;
  const va = a.component.version ?? '';
  const vb = b.component.version ?? '';
  const versioning = a.ecosystem ?? b.ecosystem;
  if (versioning && a.ecosystem === b.ecosystem && versioning.versioning.isValid(va) && versioning.versioning.isValid(vb)) {
    return versioning.versioning.compare(va, vb);
  }
  return va < vb ? -1 : va > vb ? 1 : 0;
}

/**
 * The name a target of `ecosystem` carries: npm the scan's name (the purl's identity); other
 * ecosystems the package name OSV uses for the purl (the purl's name; Go: namespace and name, the
 * module path; Maven: `group:artifact`; the scan's `name` is a label) normalised by the ecosystem
 * (PyPI: PEP 503, `PyYAML` → `pyyaml`; Go and Maven: unchanged, their names are case-sensitive).
 */
function packageName(c: ScanComponent, ecosystem: Ecosystem): string {
  if (ecosystem.purlType === 'npm') return c.name;
  // The name as OSV writes it: Go the module path (`pkg:golang/github.com/spf13/viper`), Maven
  // `group:artifact`. A purl that did not parse was reported by the scan parser: the scan's name.
  const purl = purlParts(c);
  const name = purl === undefined ? c.name : (osvPackageOfPurl(purl)?.name ?? purl.name);
  return ecosystem.normaliseName(name);
}

/** PlannedAdvisory + evaluator for an OSV advisory of package `name` in OSV ecosystem `osvEcosystem`. */
function fromOsv(advisory: Advisory, name: string, osvEcosystem: string): KnownAdvisory {
  const kind = informationalKind(advisory, name, osvEcosystem);
  return {
    planned: {
      id: advisory.id,
      aliases: [...advisory.aliases].sort(),
      ...(advisory.summary !== undefined ? { summary: advisory.summary } : {}),
      severity: advisory.severity,
      ...(advisory.url !== undefined ? { url: advisory.url } : {}),
      affectedRanges: affectedRanges(advisory, name, osvEcosystem),
      fixedVersions: fixedVersions(advisory, name, osvEcosystem),
      ...(kind !== undefined ? { kind } : {}),
    },
    affects: affectedTest(advisory, name, osvEcosystem),
    advisory,
  };
}

/**
 * Fixes the advisories of a target publish only under another major version's package name
 * (Go: `<module>/v2`, a new module path, https://go.dev/ref/mod#major-version-suffixes;
 * `Ecosystem.isOtherMajorPackage`): `<package> <highest fixed version>` per such package, sorted.
 * Empty for ecosystems without that notion.
 */
function fixesInOtherMajorPackages(known: readonly KnownAdvisory[], name: string, ecosystem: Ecosystem): string[] {
  const other = ecosystem.isOtherMajorPackage;
  if (other === undefined) return [];
  const out = new Set<string>();
  for (const k of known) {
    if (k.advisory === undefined) continue;
    for (const entry of k.advisory.affected) {
      if (entry.ecosystem !== ecosystem.osvEcosystem || !other(name, entry.name)) continue;
      const fixed = fixedVersions(k.advisory, entry.name, ecosystem.osvEcosystem).at(-1);
      if (fixed !== undefined) out.add(`${entry.name} ${fixed}`);
    }
  }
  return [...out].sort();
}

/** What the planner can do with a component (see {@link ComponentTriage}). */
type Triage =
  | { kind: 'planned'; ecosystem: Ecosystem }
  | { kind: 'skip' }
  /** A component of a purl type no ecosystem plans yet. */
  | { kind: 'unsupported'; type: string }
  /** A package of a supported ecosystem whose installed version cannot be read: if vulnerable, it needs a person. */
  | { kind: 'unreadable_version'; ecosystem: Ecosystem; reason: string }
  /** A component whose purl is missing or unparsable: its package is unknown. */
  | { kind: 'unreadable'; reason: string };

/** At most this many unreadable components are listed one by one in the warnings. */
const MAX_LISTED_COMPONENTS = 50;

/** `only npm, pypi, cargo, golang and maven are planned`: the purl types of `ECOSYSTEMS`, for the `not planned` warning. */
function plannedTypes(): string {
  const types = [...ECOSYSTEMS.keys()];
  return types.length === 1 ? `only ${types[0]} is planned` : `only ${types.slice(0, -1).join(', ')} and ${types.at(-1)} are planned`;
}

/**
 * Sorts components into what the planner handles (packages of an ecosystem in `ECOSYSTEMS` with
 * a version of its scheme) and what it cannot, and turns the rest into warnings: counts per other
 * purl type, and each component whose version or purl cannot be read by bom-ref and name with the
 * reason (issue 11: bad scans never vanish silently). Containers (no purl, no version) are not
 * packages: ignored.
 */
class ComponentTriage {
  private readonly byEcosystem = new Map<string, number>();
  private readonly seen = new Map<string, Triage>();
  private readonly unreadable: string[] = [];

  /** The triage of `c`, decided at its first call; later calls for its bom-ref return it (scan mode: a component may be named by several vulnerabilities). */
  of(c: ScanComponent): Triage {
    const known = this.seen.get(c.bomRef);
    if (known) return known;
    const triage = this.once(c);
    this.seen.set(c.bomRef, triage);
    return triage;
  }

  /** The triage of a component this instance has not seen, not remembered (OSV mode: each component is triaged once). */
  once(c: ScanComponent): Triage {
    const triage = this.decide(c);
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
    const ecosystem = ecosystemFor(c.ecosystem);
    if (ecosystem === undefined) {
      this.byEcosystem.set(c.ecosystem, (this.byEcosystem.get(c.ecosystem) ?? 0) + 1);
      return { kind: 'unsupported', type: c.ecosystem };
    }
    const reason = unreadableVersion(c.version, ecosystem.versioning);
    return reason === null ? { kind: 'planned', ecosystem } : { kind: 'unreadable_version', ecosystem, reason };
  }

  /**
   * Adds the warnings: one `not planned: <purl type> (<n> component(s); only npm, pypi, cargo, golang and maven are
   * planned)` per other purl type (issue 12: components of every ecosystem are kept and listed,
   * never dropped), then the unreadable components.
   */
  flush(warnings: string[]): void {
    for (const [ecosystem, count] of [...this.byEcosystem.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
      warnings.push(`not planned: ${ecosystem} (${count} component(s); ${plannedTypes()})`);
    }
    warnings.push(...this.unreadable.slice(0, MAX_LISTED_COMPONENTS));
    if (this.unreadable.length > MAX_LISTED_COMPONENTS) {
      warnings.push(`… and ${this.unreadable.length - MAX_LISTED_COMPONENTS} more component(s) that cannot be planned`);
    }
  }
}

/** Name of a version scheme in messages (`semver`, `PEP 440`). */
function schemeName(versioning: Versioning): string {
  return versioning.scheme === 'pep440' ? 'PEP 440' : versioning.scheme;
}

/** Why an installed version cannot be read by the ecosystem's scheme (semver 2.0.0 for npm, PEP 440 for PyPI), or null when it can. */
function unreadableVersion(version: string | undefined, versioning: Versioning): string | null {
  if (version === undefined) return 'the scan gives no version (neither `version` nor the purl)';
  if (version.trim() === '') return 'its version is empty';
  if (!versioning.isValid(version)) {
    return `version ${JSON.stringify(version.length > 80 ? `${version.slice(0, 79)}…` : version)} is not a ${schemeName(versioning)} version`;
  }
  return null;
}

/** The root's triage: planned when it is a package of a supported ecosystem with a readable version, else skipped (never counted). */
function rootTriage(c: ScanComponent): Triage {
  const ecosystem = c.ecosystem === null ? undefined : ecosystemFor(c.ecosystem);
  return ecosystem !== undefined && unreadableVersion(c.version, ecosystem.versioning) === null ? { kind: 'planned', ecosystem } : { kind: 'skip' };
}

/**
 * Advisories of the database listing exactly the installed version of a component of an
 * unsupported purl type (OSV `affected[].versions`; its ranges cannot be ordered without the
 * ecosystem's versioning). Empty when the purl has no OSV ecosystem or the source holds none of it.
 */
function exactVersionAdvisories(c: ScanComponent, source: AdvisorySource): Advisory[] {
  if (!c.purl || c.version === undefined) return [];
  const purl = purlParts(c);
  const pkg = purl === undefined ? undefined : osvPackageOfPurl(purl);
  if (pkg === undefined || !source.ecosystems.includes(pkg.ecosystem)) return [];
  const { ecosystem, name } = pkg;
  return source
    .forPackage(name, ecosystem)
    .filter((a) => a.affected.some((e) => e.ecosystem === ecosystem && samePackage(e.name, name, ecosystem) && e.versions.includes(c.version!)));
}

/** PlannedAdvisory of an advisory for a component no ecosystem plans: ranges and fixes as the advisory lists them for that package. */
function unsupportedAdvisory(advisory: Advisory): KnownAdvisory {
  return {
    planned: {
      id: advisory.id,
      aliases: [...advisory.aliases].sort(),
      ...(advisory.summary !== undefined ? { summary: advisory.summary } : {}),
      severity: advisory.severity,
      ...(advisory.url !== undefined ? { url: advisory.url } : {}),
      affectedRanges: [],
      fixedVersions: [],
    },
    affects: null,
  };
}

/**
 * OSV mode: every component of a supported ecosystem (root included) matched against the
 * advisory source with its OSV ecosystem. A component whose version cannot be read, with
 * advisories known for its package, is a finding that needs a person (every advisory of the
 * package may apply). A component of an unsupported purl type is a finding (a `not_supported`
 * target when direct) when an advisory lists its exact version.
 */
function findingsFromOsv(scan: ParsedScan, source: AdvisorySource, warnings: string[]): Map<string, Finding> {
  const findings = new Map<string, Finding>();
  const triage = new ComponentTriage();
  const all = scan.root ? [scan.root, ...scan.components] : [...scan.components];
  for (const c of all) {
    // The scanned project: checked (for a warning) when it is a supported package, never counted as skipped.
    // Each component comes here once: a parsed scan lists each once (the root apart), under a bom-ref of its own.
    const t = c === scan.root ? rootTriage(c) : triage.once(c);
    if (t.kind === 'unreadable_version') {
      const name = packageName(c, t.ecosystem);
      const possible = source.forPackage(name, t.ecosystem.osvEcosystem);
      if (possible.length > 0) {
        findings.set(c.bomRef, {
          component: c,
          ecosystem: t.ecosystem,
          name,
          advisories: new Map(possible.map((a) => [a.id, fromOsv(a, name, t.ecosystem.osvEcosystem)])),
          problem: `${t.reason}; ${possible.length} known advisory(ies) of ${name} may apply`,
        });
      }
      continue;
    }
    if (t.kind === 'unsupported') {
      const listed = exactVersionAdvisories(c, source);
      if (listed.length > 0) {
        findings.set(c.bomRef, {
          component: c,
          ecosystem: null,
          name: c.name,
          advisories: new Map(listed.map((a) => [a.id, unsupportedAdvisory(a)])),
          unsupported: t.type,
        });
      }
      continue;
    }
    if (t.kind !== 'planned') continue;
    const name = packageName(c, t.ecosystem);
    const matched = source.matchAdvisories(name, c.version!, t.ecosystem.osvEcosystem);
    if (matched.length === 0) continue;
    findings.set(c.bomRef, {
      component: c,
      ecosystem: t.ecosystem,
      name,
      advisories: new Map(matched.map((a) => [a.id, fromOsv(a, name, t.ecosystem.osvEcosystem)])),
    });
  }
  triage.flush(warnings);
  return findings;
}

/**
 * Scan mode: the scan's vulnerabilities, resolved through the advisory source where possible.
 * Every component is triaged (so unreadable ones are listed even when not reported vulnerable);
 * a reported component whose version cannot be read is a finding that needs a person, one
 * whose purl cannot be read a warning naming the vulnerability, one of an unsupported purl type
 * a finding that becomes a `not_supported` target when direct.
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
      const t = c === scan.root ? rootTriage(c) : triage.of(c);
      if (t.kind === 'skip') continue;
      if (t.kind === 'unreadable') {
        const ids = unplannable.get(c.bomRef) ?? new Set<string>();
        unplannable.set(c.bomRef, ids.add(vuln.id));
        continue;
      }
      const problem = t.kind === 'unreadable_version' ? t.reason : undefined;
      if (problem === undefined) {
        const statusOfInstalled = affects.versions.find((v) => v.version !== undefined && v.version === c.version)?.status;
        if (statusOfInstalled === 'unaffected') continue;
      }

      let known: KnownAdvisory;
      let ecosystem: Ecosystem | null = null;
      let name = c.name;
      if (t.kind === 'unsupported') {
        known = fromScanEntry(vuln, affects, null);
      } else {
        ecosystem = t.ecosystem;
        name = packageName(c, ecosystem);
        const osv = ecosystem.osvEcosystem;
        const osvNamesPackage = resolved !== undefined && resolved.affected.some((a) => a.ecosystem === osv && samePackage(a.name, name, osv));
        known = osvNamesPackage ? fromOsv(resolved, name, osv) : fromScanEntry(vuln, affects, ecosystem.versioning);
        if (!osvNamesPackage) unresolved.add(vuln.id);
        else if (problem === undefined && !isAffected(resolved, name, c.version!, osv)) {
          warnings.push(
            `${label(c)}: the scan reports ${vuln.id} but ${resolved.id}'s ranges do not include ${c.version}; kept as the scan says`,
          );
        }
      }
      mergeScanDetails(known, vuln, resolved);

      const finding: Finding = findings.get(c.bomRef) ?? {
        component: c,
        ecosystem,
        name,
        advisories: new Map<string, KnownAdvisory>(),
        ...(problem !== undefined ? { problem } : {}),
        ...(t.kind === 'unsupported' ? { unsupported: t.type } : {}),
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

/** Version schemes whose affected ranges are node-semver ranges: npm's, Cargo's and Go's (semver versions; Go's with a `v`, which node-semver reads). */
const NODE_SEMVER_RANGE_SCHEMES = new Set([npmVersioning.scheme, cargoEcosystem.versioning.scheme, goEcosystem.versioning.scheme]);

/**
 * A scan vulnerability without an OSV record. npm, Cargo and Go: ranges from
 * `affects[].versions[].range` (`vers:npm`/`vers:semver`/`vers:cargo`/`vers:golang` or npm ranges), matched by
 * node-semver; fixed versions the scanner names (`affects[].fixedVersions`: Trivy, Grype,
 * OSV-Scanner) plus the upper bounds of those ranges. Other ecosystems (PyPI): no ranges are read
 * (only semver `vers` schemes are), so the target gets a no-fix reason; the scanner's fixed
 * versions valid in the scheme are kept. Unsupported purl types (`versioning` null): the
 * scanner's fixed versions as written.
 */
function fromScanEntry(vuln: ScanVulnerability, affects: ScanVulnerability['affects'][number], versioning: Versioning | null): KnownAdvisory {
  const npm = versioning !== null && NODE_SEMVER_RANGE_SCHEMES.has(versioning.scheme);
  const ranges: string[] = [];
  if (npm) {
    for (const entry of affects.versions) {
      if (entry.status !== 'affected' || entry.range === undefined) continue;
      const range = versToNpmRange(entry.range);
      if (range !== null) ranges.push(range);
    }
  }
  const fixed = new Set<string>(affects.fixedVersions.filter((v) => versioning === null || versioning.isValid(v)));
  if (npm) {
    for (const range of ranges) {
      for (const m of range.matchAll(/(?:^|\s)<([0-9][^\s|]*)/g)) if (versioning.isValid(m[1]!)) fixed.add(m[1]!);
    }
  }
  return {
    planned: {
      id: vuln.id,
      aliases: [],
      severity: vuln.severity,
      affectedRanges: ranges,
      fixedVersions: versioning === null ? [...fixed] : [...fixed].sort(versioning.compare),
    },
    affects:
      ranges.length === 0 || versioning === null
        ? null
        : (version) => ranges.some((r) => npmVersioning.satisfies(version, r)),
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

/** The manifest a target of `ecosystem` names: `deps.manifestPath` for npm, else the ecosystem's default. */
function manifestFor(ecosystem: Ecosystem, deps: PlanDeps): string {
  return ecosystem.purlType === 'npm' && deps.manifestPath !== undefined ? deps.manifestPath : ecosystem.defaultManifestPath;
}

function sortedAdvisories(finding: Finding): PlannedAdvisory[] {
  return [...finding.advisories.values()].map((a) => a.planned).sort((a, b) => (a.id < b.id ? -1 : 1));
}

/**
 * A target the planner cannot plan because its installed version cannot be read: no tiers,
 * `status: 'needs_person'` with the reason (also the `noFixReason`, for consumers that only
 * know that field).
 */
function needsPerson(finding: Finding, reason: string, deps: PlanDeps): PlannedTarget {
  const c = finding.component;
  const ecosystem = finding.ecosystem!;
  return {
    purl: c.purl!,
    ecosystem: ecosystem.purlType,
    name: finding.name,
    currentVersion: c.version ?? '',
    manifestPath: manifestFor(ecosystem, deps),
    advisories: sortedAdvisories(finding),
    tiers: { ...EMPTY_TIERS },
    noFixReason: `needs a person: ${reason}`,
    status: 'needs_person',
    reason,
  };
}

/**
 * A vulnerable direct dependency of a purl type no ecosystem plans yet (issue 13): no tiers,
 * `status: 'not_supported'`, `noFixReason: "not supported yet: <type>"`. The manifest is unknown
 * to the planner: `manifestPath` is `.` (the repository root).
 */
function notSupported(finding: Finding, type: string): PlannedTarget {
  const c = finding.component;
  const reason = `not supported yet: ${type}`;
  return {
    purl: c.purl!,
    ecosystem: type,
    name: finding.name,
    currentVersion: c.version ?? '',
    manifestPath: '.',
    advisories: sortedAdvisories(finding),
    tiers: { ...EMPTY_TIERS },
    noFixReason: reason,
    status: 'not_supported',
    reason,
  };
}

/**
 * Every known advisory of a finding's package: its own (`own`, sorted by id) followed by the
 * other advisories `source` holds for the package (not already among them by id or alias).
 * Together they decide what "fixed" means. Every entry's `affects` must be non-null.
 */
function knownAdvisories(finding: Finding, own: readonly KnownAdvisory[], source: AdvisorySource): KnownAdvisory[] {
  const ecosystem = finding.ecosystem!;
  const known: KnownAdvisory[] = [...own];
  for (const advisory of source.forPackage(finding.name, ecosystem.osvEcosystem)) {
    if (finding.advisories.has(advisory.id) || own.some((a) => a.planned.aliases.includes(advisory.id))) continue;
    known.push(fromOsv(advisory, finding.name, ecosystem.osvEcosystem));
  }
  return known;
}

/**
 * Fix options of one transitive finding (see `transitiveOptions`; `cache` holds the plan's
 * registry answers, keyed by purl type and name): every planned ecosystem, with `deps.lockfile`
 * when it pins packages of the finding's ecosystem. Findings whose advisories have no known range,
 * whose version is not valid or whose ecosystem has no registry configured get a stated reason instead.
 */
async function planTransitive(
  finding: Finding,
  scan: ParsedScan,
  deps: PlanDeps,
  registries: Registries,
  caches: Map<string, ReleasesCache>,
): Promise<TransitiveOptions> {
  const none = (reason: string): TransitiveOptions => ({ options: [], minimal: null, moderate: null, comprehensive: null, reasons: [reason] });
  const ecosystem = finding.ecosystem;
  if (ecosystem === null) return none('options not computed: unknown ecosystem');
  const own = [...finding.advisories.values()].sort((a, b) => (a.planned.id < b.planned.id ? -1 : 1));
  const unknownRange = own.filter((a) => a.affects === null).map((a) => a.planned.id);
  if (unknownRange.length > 0) return none(`no affected version range is known for ${unknownRange.join(', ')}`);
  const version = finding.component.version!;
  if (!ecosystem.versioning.isValid(version)) return none(`installed version ${JSON.stringify(version)} is not a ${schemeName(ecosystem.versioning)} version`);
  const registry = registries.for(ecosystem.purlType);
  if (registry === undefined) return none(`no ${ecosystem.purlType} registry configured`);
  const known = knownAdvisories(finding, own, deps.advisories);
  let cache = caches.get(ecosystem.purlType);
  if (cache === undefined) caches.set(ecosystem.purlType, (cache = new Map()));
  const lockfile = deps.lockfile !== undefined && lockfileEcosystem(deps.lockfile) === ecosystem.purlType ? deps.lockfile : undefined;
  return transitiveOptions(
    {
      bomRef: finding.component.bomRef,
      name: finding.name,
      version,
      isFixed: (v) => known.every((a) => !a.affects!(v)),
    },
    scan,
    registry,
    ecosystem.versioning,
    cache,
    {
      purlType: ecosystem.purlType,
      ...(lockfile !== undefined ? { lockfile } : {}),
      nameOf: (ref) => {
        const c = scan.component(ref);
        return c === undefined ? ref : packageName(c, ecosystem);
      },
    },
  );
}

/** purl type of the packages a lockfile pins (its first package's; npm for an empty one). */
function lockfileEcosystem(graph: ResolvedGraph): string {
  for (const p of Object.values(graph.packages)) return p.ecosystem;
  return graph.kind === 'poetry' || graph.kind === 'uv' ? 'pypi' : graph.kind === 'cargo' ? 'cargo' : graph.kind === 'go-sum' ? 'golang' : 'npm';
}

/** Plans one target: looks its versions up in its ecosystem's registry and chooses the tiers with its versioning. */
async function planTarget(
  finding: Finding,
  mode: 'scan' | 'osv',
  deps: PlanDeps,
  registries: Registries,
  warnings: string[],
): Promise<PlannedTarget> {
  const c = finding.component;
  const ecosystem = finding.ecosystem!;
  const versioning = ecosystem.versioning;
  const name = finding.name;
  const current = c.version!;
  const own = [...finding.advisories.values()].sort((a, b) => (a.planned.id < b.planned.id ? -1 : 1));
  const base = {
    status: 'planned' as const,
    purl: c.purl!,
    ecosystem: ecosystem.purlType,
    name,
    currentVersion: current,
    manifestPath: manifestFor(ecosystem, deps),
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
  if (!versioning.isValid(current)) {
    return noFix(`installed version ${JSON.stringify(current)} is not a ${schemeName(versioning)} version`);
  }

  // Every known advisory of the package decides what "fixed" means.
  const known = knownAdvisories(finding, own, deps.advisories);
  const extraInScanMode = mode === 'scan' ? known.slice(own.length).filter((a) => a.affects!(current)).map((a) => a.planned.id) : [];
  if (extraInScanMode.length > 0) {
    warnings.push(
      `${label(c)}: the OSV directory lists ${extraInScanMode.join(', ')}, not reported by the scan; the tiers avoid them too`,
    );
  }
  const isFixed = (version: string): boolean => known.every((a) => !a.affects!(version));

  const registry = registries.for(ecosystem.purlType);
  if (registry === undefined) {
    warnings.push(`${label(c)}: no registry source is configured for ${ecosystem.purlType}`);
    return noFix(`versions of ${name} could not be listed (no ${ecosystem.purlType} registry configured)`);
  }
  let releases: PackageReleases;
  try {
    releases = await registry.releases(name);
  } catch (err) {
    if (err instanceof InvalidInputError) {
      warnings.push(`${label(c)}: versions unavailable (${err.code}): ${err.message}`);
      return noFix(`versions of ${name} could not be listed (${err.code})`);
    }
    throw err;
  }

  const choice = chooseTiers(current, releases, isFixed, versioning);
  if (choice.minimal === null) {
    const ids = known.map((a) => a.planned.id).join(', ');
    const unfixed = own.filter((a) => a.planned.fixedVersions.length === 0).map((a) => a.planned.id);
    const reason =
      choice.candidates.length === 0
        ? `no stable version newer than ${current} is published`
        : `none of the ${choice.candidates.length} stable version(s) newer than ${current} is free of ${ids}`;
    const elsewhere = fixesInOtherMajorPackages(known, name, ecosystem);
    if (elsewhere.length > 0) {
      // Go: the fix is a new module path, a major upgrade that needs code changes (import paths), never a plain bump.
      return noFix(
        `new-module-path: ${reason}; fixed only in ${elsewhere.join(', ')}, a new module path: a major upgrade that needs code changes ` +
          `(change the imports to the new path, then go mod tidy), not a version bump of ${name}`,
      );
    }
    return noFix(unfixed.length > 0 ? `${reason}; ${unfixed.join(', ')} name(s) no fixed version` : reason);
  }

  const ids = own.map((a) => a.planned.id);
  const extraNote =
    extraInScanMode.length > 0 ? [`also clears ${extraInScanMode.join(', ')} (OSV directory; not reported by the scan)`] : [];
  const requiresPython = new Map(releases.versions.filter((v) => v.requiresPython !== undefined).map((v) => [v.version, v.requiresPython!]));
  const option = (version: string | null, notes: string[] = []): TierOption | null => {
    if (version === null) return null;
    const jump = jumpSize(current, version, versioning);
    const python = requiresPython.get(version);
    return {
      version,
      jump,
      advisoriesFixed: [...ids],
      breakingChangeRisk: breakingChangeRisk(jump, current, versioning),
      notes: [...notes, ...jumpNotes(current, version, versioning), ...(python !== undefined ? [`requires Python ${python}`] : []), ...extraNote],
    };
  };
  const latest = releases.latest;
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
