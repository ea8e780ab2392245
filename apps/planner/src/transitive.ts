import type { JumpSize, TransitiveFixMechanism, TransitiveFixOption } from '@remediation/contracts';
import { poetryToPep440, type PackageReleases, type PublishedVersion, type RegistrySource, type Versioning } from '@remediation/ecosystems';
import { InvalidInputError } from '@remediation/errors';
import type { LockedPackage, LockfileKind, ResolvedGraph } from '@remediation/lockfiles';
import type { ParsedScan } from '@remediation/sbom';
import { breakingChangeRisk, jumpSize, NO_FIX_IN_LINE_NOTE } from './tiers.js';

/** What {@link transitiveOptions} needs to know about one vulnerable transitive component. */
export interface TransitiveInput {
  /** bom-ref of the vulnerable component in `scan`. */
  bomRef: string;
  /** Package name (npm: as the scan names it). */
  name: string;
  /** Installed version (valid in `versioning`). */
  version: string;
  /** Whether a version of the package is free of every known advisory of it. */
  isFixed: (version: string) => boolean;
}

/** The options found for one finding, the tier choices, and why kinds are missing (see `TransitiveFinding` in @remediation/contracts). */
export interface TransitiveOptions {
  options: TransitiveFixOption[];
  minimal: TransitiveFixOption | null;
  moderate: TransitiveFixOption | null;
  comprehensive: TransitiveFixOption | null;
  reasons: string[];
}

/** What the project around a finding is: its ecosystem (purl type) and, when given, its lockfile's resolved graph. */
export interface TransitiveProject {
  /** purl type of the finding: `npm`, `pypi`, `cargo`, `golang`, `maven`. */
  purlType: string;
  /** The repository's lockfile read by @remediation/lockfiles (`readLockfile`), when the caller has it. */
  lockfile?: ResolvedGraph;
  /** The package name of a bom-ref as the ecosystem names it (PyPI: PEP 503; Go: the module path); default the scan's name. */
  nameOf?: (bomRef: string) => string;
}

/**
 * How the ecosystem overrides or pins a transitive package (docs/decisions/0017-transitive-options-per-ecosystem.md):
 * the `mechanism`, whether it forces a version outside a parent's requirement (`forces`), and the
 * edit as the user writes it; or why there is none.
 */
type OverrideRule =
  | { mechanism: TransitiveFixMechanism; forces: boolean; edit: (name: string, version: string) => string }
  | { none: string };

/**
 * The override rule of a purl type and lockfile kind: npm `overrides`, yarn `resolutions` and
 * `pnpm.overrides` (package.json, all forcing); Maven `<dependencyManagement>` (forcing: it sets
 * the version of a transitive dependency whatever its parent declares); uv `override-dependencies`
 * (forcing); a pip constraint (requirements projects) and a Poetry dependency declaration (not
 * forcing: the resolver still honours every parent's requirement); Go a go.mod `require` (MVS
 * takes the highest required version, so a higher one always wins: forcing upwards); Cargo none.
 */
export function overrideRule(purlType: string, lockfileKind: LockfileKind | undefined): OverrideRule {
  const json = JSON.stringify;
  switch (purlType) {
    case 'npm':
      if (lockfileKind === 'yarn-v1' || lockfileKind === 'yarn-berry') return { mechanism: 'resolutions', forces: true, edit: (n, v) => `package.json "resolutions": { ${json(n)}: ${json(v)} }` };
      if (lockfileKind === 'pnpm') return { mechanism: 'pnpm.overrides', forces: true, edit: (n, v) => `package.json "pnpm": { "overrides": { ${json(n)}: ${json(v)} } }` };
      return { mechanism: 'overrides', forces: true, edit: (n, v) => `package.json "overrides": { ${json(n)}: ${json(v)} }` };
    case 'maven':
      return {
        mechanism: 'dependencyManagement',
        forces: true,
        edit: (n, v) => {
          const [groupId, artifactId] = n.split(':');
          return `pom.xml <dependencyManagement><dependencies><dependency><groupId>${groupId}</groupId><artifactId>${artifactId}</artifactId><version>${v}</version></dependency></dependencies></dependencyManagement>`;
        },
      };
    case 'pypi':
      if (lockfileKind === 'uv') return { mechanism: 'override-dependencies', forces: true, edit: (n, v) => `pyproject.toml [tool.uv] override-dependencies = ["${n}==${v}"]` };
      if (lockfileKind === 'poetry') return { mechanism: 'tool.poetry.dependencies', forces: false, edit: (n, v) => `pyproject.toml [tool.poetry.dependencies] ${n} = ">=${v}"` };
      return { mechanism: 'constraints', forces: false, edit: (n, v) => `constraints file (pip install -c constraints.txt): ${n}==${v}` };
    case 'golang':
      return { mechanism: 'require', forces: true, edit: (n, v) => `go.mod require ${n} ${v} (minimal version selection then picks it)` };
    case 'cargo':
      return { none: 'Cargo has no override: [patch] replaces a crate\'s source, not its version, so only the lockfile update or a parent bump can move it' };
    default:
      return { none: `no override is known for ${purlType}` };
  }
}

/**
 * How the lockfile alone is updated for a purl type and lockfile kind (the note of a
 * `lockfile_update`), or why there is no lockfile update: Go (go.sum records hashes, not choices:
 * the version moves through go.mod's `require`), Maven (no lockfile) and a pip project without
 * poetry.lock or uv.lock.
 */
function lockfileRule(purlType: string, lockfileKind: LockfileKind | undefined, name: string, to: string): { note: string | null } | { none: string } {
  switch (purlType) {
    case 'npm':
      return { note: lockfileKind === undefined ? null : `${lockfileKindLabel(lockfileKind)}: the entry of ${name} moves to ${to}` };
    case 'cargo':
      return { note: `Cargo.lock: cargo update -p ${name} --precise ${to}` };
    case 'pypi':
      if (lockfileKind === 'poetry') return { note: `poetry.lock: poetry update ${name} (picks ${to} or newer)` };
      if (lockfileKind === 'uv') return { note: `uv.lock: uv lock --upgrade-package ${name}==${to}` };
      return { none: 'no lockfile update: no poetry.lock or uv.lock was given (a requirements project pins through a constraint)' };
    case 'golang':
      return { none: 'no lockfile update: go.sum records hashes, not version choices; the version moves through a go.mod require' };
    case 'maven':
      return { none: 'no lockfile update: Maven has no lockfile' };
    default:
      return { none: `no lockfile update is known for ${purlType}` };
  }
}

function lockfileKindLabel(kind: LockfileKind): string {
  const files: Record<LockfileKind, string> = {
    'npm-package-lock': 'package-lock.json',
    'npm-shrinkwrap': 'npm-shrinkwrap.json',
    'yarn-v1': 'yarn.lock',
    'yarn-berry': 'yarn.lock',
    pnpm: 'pnpm-lock.yaml',
    poetry: 'poetry.lock',
    uv: 'uv.lock',
    cargo: 'Cargo.lock',
    'go-sum': 'go.sum',
  };
  return files[kind];
}

/** purl types whose registry source reads each version's dependencies (npm packuments, Cargo index `deps`). */
const REGISTRIES_WITH_DEPENDENCIES = new Set(['npm', 'cargo']);

/** Lockfile kinds whose packages record their requirements as ranges (pnpm, uv and Cargo record the resolved versions; go.sum none). */
const LOCKS_WITH_RANGES = new Set<LockfileKind>(['npm-package-lock', 'npm-shrinkwrap', 'yarn-v1', 'yarn-berry', 'poetry']);

/**
 * A package's requirement on `name` from its dependencies (name → requirement), or undefined when
 * it does not list it: an own entry only, so a package named like a member of `Object.prototype`
 * (npm has `constructor`) is not read as a requirement that is a function.
 */
function requirementOn(dependencies: Readonly<Record<string, string>> | undefined, name: string): string | undefined {
  return dependencies !== undefined && Object.hasOwn(dependencies, name) ? dependencies[name] : undefined;
}

const LOCKED = new WeakMap<ResolvedGraph, Map<string, LockedPackage>>();

/** `name@version` → locked package of a graph, computed once per graph. */
function lockedByNameVersion(graph: ResolvedGraph): Map<string, LockedPackage> {
  let hit = LOCKED.get(graph);
  if (hit === undefined) {
    hit = new Map();
    for (const p of Object.values(graph.packages)) if (!hit.has(`${p.name}@${p.version}`)) hit.set(`${p.name}@${p.version}`, p);
    LOCKED.set(graph, hit);
  }
  return hit;
}

/**
 * Registry answers shared by the findings of one plan (name → releases, or the InvalidInputError
 * the source threw, e.g. `PACKAGE_NOT_FOUND`), so each package is read once per plan.
 */
export type ReleasesCache = Map<string, Promise<PackageReleases | InvalidInputError>>;

/** Stable, non-deprecated versions of a releases object (`versioning.candidates`), computed once per object. */
const STABLE = new WeakMap<PackageReleases, string[]>();

/** Longest path (in packages) from a direct dependency that is followed for a parent bump. */
const MAX_PATH_LENGTH = 6;

const JUMP_ORDER: Record<JumpSize, number> = { patch: 0, minor: 1, major: 2 };
const KIND_ORDER: Record<TransitiveFixOption['kind'], number> = { lockfile_update: 0, parent_bump: 1, override: 2 };

/**
 * Orders options smallest change first (docs/decisions/0015-transitive-fix-options.md): a
 * `lockfile_update` (no manifest change), then `parent_bump`s by jump (patch < minor < major),
 * then the `override`; ties by name.
 */
export function compareOptions(a: TransitiveFixOption, b: TransitiveFixOption): number {
  if (a.kind !== b.kind) return KIND_ORDER[a.kind] - KIND_ORDER[b.kind];
  if (a.jump !== b.jump) return JUMP_ORDER[a.jump] - JUMP_ORDER[b.jump];
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * Computes the fix options of one vulnerable transitive package from the scan's dependency graph,
 * registry metadata and, when given, the project's lockfile (issue 15 part 3; the rules and their
 * order are in docs/decisions/0015-transitive-fix-options.md, the ecosystems' mechanisms and the
 * tiers in docs/decisions/0017-transitive-options-per-ecosystem.md):
 * - `lockfile_update` when every parent in the graph (a component whose `dependsOn` holds it)
 *   requires it with a range that admits a fixed version: the lowest such version. A parent's
 *   requirement comes from the registry's metadata of that parent version
 *   (`PublishedVersion.dependencies`: npm packuments, Cargo index `deps`), else from the lockfile
 *   when its format records ranges (package-lock, yarn.lock, poetry.lock). Go and Maven have no
 *   lockfile update, nor a pip project without poetry.lock / uv.lock: a reason says so;
 * - one `parent_bump` per direct dependency it is installed through, along the shortest path in
 *   the graph: the lowest version of that direct dependency, newer than the installed one, whose
 *   requirement on the next package of the path admits only fixed versions (at the end of the
 *   path) or versions that lead on to one, or which no longer depends on it. Needs the registry's
 *   per-version dependencies (npm, Cargo); for the others a reason says why none is computed;
 * - `override`: the ecosystem's mechanism ({@link overrideRule}) at the lowest fixed version newer
 *   than the installed one; a mechanism that does not force (a pip constraint, a Poetry
 *   declaration) at the lowest fixed version every known parent requirement admits. Cargo: none.
 * Ranges are read with the ecosystem's `versioning.satisfies` (Poetry constraints through
 * `poetryToPep440`) over the stable, non-deprecated versions the registry lists
 * (`versioning.candidates`). `minimal` is the first option by {@link compareOptions}, except
 * that a parent bump is only chosen when the package comes through that one direct dependency
 * (otherwise every path would need its own bump). `moderate` and `comprehensive` move the
 * minimal choice's change (same kind, same package) to the newest fixing version on `from`'s line
 * (falling back to the minimal one, noted) and to the newest stable version if it fixes (else
 * null), as `chooseTiers` does for targets. `cache` shares registry answers between the findings
 * of one plan. Whatever could not be checked (a package the registry does not know, a version
 * whose dependencies the registry document lacks, a requirement that is not a range, an
 * ecosystem without such a mechanism) is a line in `reasons`, never dropped.
 * @throws TransientError from the registry source (registry unavailable), like target planning.
 */
export async function transitiveOptions(
  finding: TransitiveInput,
  scan: ParsedScan,
  registry: RegistrySource,
  versioning: Versioning,
  cache: ReleasesCache = new Map(),
  project: TransitiveProject = { purlType: 'npm' },
): Promise<TransitiveOptions> {
  const reasons: string[] = [];
  const none = (): TransitiveOptions => ({ options: [], minimal: null, moderate: null, comprehensive: null, reasons: [...new Set(reasons)] });
  const lockKind = project.lockfile?.kind;
  const releasesOf = async (name: string): Promise<PackageReleases | null> => {
    let hit = cache.get(name);
    if (hit === undefined) {
      hit = registry.releases(name).catch((err: unknown) => {
        if (err instanceof InvalidInputError) return err;
        throw err;
      });
      cache.set(name, hit);
    }
    const result = await hit;
    if (result instanceof InvalidInputError) {
      reasons.push(`versions of ${name} could not be listed (${result.code})`);
      return null;
    }
    return result;
  };
  const stable = (releases: PackageReleases): string[] => {
    let hit = STABLE.get(releases);
    if (hit === undefined) STABLE.set(releases, (hit = versioning.candidates(releases.versions)));
    return hit;
  };
  const option = (
    kind: TransitiveFixOption['kind'],
    name: string,
    from: string,
    to: string,
    path: string[],
    notes: string[],
    mechanism?: TransitiveFixMechanism,
  ): TransitiveFixOption => {
    const jump = jumpSize(from, to, versioning);
    return { kind, name, from, to, jump, breakingChangeRisk: breakingChangeRisk(jump, from, versioning), path, notes, ...(mechanism !== undefined ? { mechanism } : {}) };
  };
  /** The versions a requirement admits, or a reason when it is not a range. */
  const admitted = (versions: readonly string[], requirement: string, where: string): string[] | null => {
    const range = lockKind === 'poetry' ? (poetryToPep440(requirement) ?? requirement) : requirement;
    try {
      return versions.filter((v) => versioning.satisfies(v, range));
    } catch (err) {
      if (err instanceof InvalidInputError) {
        reasons.push(`${where} requires ${JSON.stringify(requirement)}, not a range the planner reads`);
        return null;
      }
      throw err;
    }
  };
  const nameOf = (ref: string): string => project.nameOf?.(ref) ?? scan.component(ref)?.name ?? ref;

  const own = await releasesOf(finding.name);
  if (own === null) return none();
  const ownStable = stable(own);
  const fixed = ownStable.filter((v) => versioning.compare(v, finding.version) > 0 && finding.isFixed(v));
  if (fixed.length === 0) {
    reasons.push(`no stable version of ${finding.name} newer than ${finding.version} is free of its advisories`);
    return none();
  }
  const options: TransitiveFixOption[] = [];

  // Every parent's requirement on the package: registry metadata first, else the lockfile's range.
  const parents = scan.dependents(finding.bomRef);
  const requirements: { parent: string; requirement: string }[] = [];
  let missing = 0; // parents whose requirement is unknown
  const locked = project.lockfile !== undefined && LOCKS_WITH_RANGES.has(project.lockfile.kind) ? lockedByNameVersion(project.lockfile) : null;
  const registryHasDependencies = REGISTRIES_WITH_DEPENDENCIES.has(project.purlType);
  for (const ref of parents) {
    const parent = scan.component(ref);
    const parentName = nameOf(ref);
    const label = parent?.version ? `${parentName}@${parent.version}` : ref;
    if (!parent?.version) {
      missing += 1;
      reasons.push(`parent ${JSON.stringify(ref)} has no version: its requirement on ${finding.name} is unknown`);
      continue;
    }
    const fromLock = requirementOn(locked?.get(`${parentName}@${parent.version}`)?.dependencies, finding.name);
    if (fromLock !== undefined) {
      requirements.push({ parent: label, requirement: fromLock });
      continue;
    }
    if (!registryHasDependencies) {
      missing += 1;
      reasons.push(
        `${label}'s requirement on ${finding.name} is unknown: the ${project.purlType} registry's version list carries no dependencies` +
          (project.lockfile === undefined ? ' and no lockfile was given' : locked === null ? ` and ${lockfileKindLabel(project.lockfile.kind)} records resolved versions, not ranges` : ` and ${lockfileKindLabel(project.lockfile.kind)} has no entry ${label}`),
      );
      continue;
    }
    const releases = await releasesOf(parentName);
    const published = releases?.versions.find((v) => v.version === parent.version);
    const requirement = requirementOn(published?.dependencies, finding.name);
    if (requirement !== undefined) {
      requirements.push({ parent: label, requirement });
      continue;
    }
    missing += 1;
    if (releases === null) continue; // reason given by releasesOf
    else if (published === undefined) reasons.push(`${label} is not listed by the registry: its requirement on ${finding.name} is unknown`);
    else if (published.dependencies === undefined) reasons.push(`the registry document of ${label} has no dependencies: its requirement on ${finding.name} is unknown`);
    else reasons.push(`${label} does not list ${finding.name} in its dependencies (optional or peer): no lockfile update checked`);
  }
  const known = parents.length > 0 && missing === 0;
  /** The fixed versions every known requirement admits (null when a requirement is not a range). */
  let admittedByAll: string[] | null = fixed;
  for (const r of requirements) admittedByAll = admittedByAll === null ? null : admitted(admittedByAll, r.requirement, r.parent);
  const requirementList = requirements.map((r) => `${r.parent} requires ${finding.name} ${r.requirement}`).join(', ');

  /** The lockfile update of the package to `to` (a version every parent admits). */
  const lockfileOption = (to: string): TransitiveFixOption => {
    const note = (lockfileRule(project.purlType, lockKind, finding.name, to) as { note: string | null }).note;
    return option('lockfile_update', finding.name, finding.version, to, [], [`every parent admits ${to}: ${requirementList}`, ...(note !== null ? [note] : [])]);
  };

  // (b) In-place lockfile update: every parent's requirement admits a fixed version.
  const lockRule = lockfileRule(project.purlType, lockKind, finding.name, fixed[0]!);
  let lockCandidates: string[] = [];
  if ('none' in lockRule) reasons.push(lockRule.none);
  else if (parents.length === 0) {
    reasons.push(
      project.lockfile?.edgesComplete === false
        ? `${lockfileKindLabel(project.lockfile.kind)} records no package-to-package edges: the parents of ${finding.name} are unknown, no lockfile update checked`
        : `the scan's dependency graph names no parent of ${finding.name}: no lockfile update checked`,
    );
  } else if (known && admittedByAll !== null) {
    lockCandidates = admittedByAll;
    const to = lockCandidates[0];
    if (to !== undefined) {
      options.push(lockfileOption(to));
    } else {
      reasons.push(`no lockfile update alone: ${requirementList}, which admit(s) no fixed version`);
    }
  }

  // (a) Parent bump, per direct dependency, along the shortest path.
  const directs = scan.via(finding.bomRef).filter((ref) => ref !== finding.bomRef);
  const leads = new Map<string, Promise<'only' | 'some' | 'none' | 'unknown'>>();
  /** Whether `name@version`'s requirement on `path[0]` admits only fixed versions (at the end), some, or none. */
  const leadsToFix = (name: string, version: PublishedVersion, path: readonly string[]): Promise<'only' | 'some' | 'none' | 'unknown'> => {
    const key = `${name}@${version.version}>${path.join('>')}`;
    let hit = leads.get(key);
    if (hit === undefined) {
      hit = (async () => {
        if (version.dependencies === undefined) return 'unknown';
        const next = path[0]!;
        const requirement = requirementOn(version.dependencies, next);
        if (requirement === undefined) return 'only'; // no longer depends on it
        if (path.length === 1) {
          const hits = admitted(ownStable, requirement, `${name}@${version.version}`);
          if (hits === null) return 'unknown';
          if (hits.length === 0) return 'none';
          if (hits.every(finding.isFixed)) return 'only';
          return hits.some(finding.isFixed) ? 'some' : 'none';
        }
        const releases = await releasesOf(next);
        if (releases === null) return 'unknown';
        const hits = admitted(stable(releases), requirement, `${name}@${version.version}`);
        if (hits === null) return 'unknown';
        const results = await Promise.all(
          hits.map((v) => leadsToFix(next, releases.versions.find((p) => p.version === v)!, path.slice(1))),
        );
        if (results.length > 0 && results.every((r) => r === 'only')) return 'only';
        return results.some((r) => r === 'only' || r === 'some') ? 'some' : results.includes('unknown') ? 'unknown' : 'none';
      })();
      leads.set(key, hit);
    }
    return hit;
  };
  /** The parent bump of `direct` to `v` along `names`, or null when `v` does not lead to a fix. */
  const bumpTo = async (direct: { name: string; version: string }, releases: PackageReleases, v: string, names: string[]): Promise<TransitiveFixOption | null> => {
    const published = releases.versions.find((p) => p.version === v)!;
    const result = await leadsToFix(direct.name, published, names.slice(1));
    if (result !== 'only' && result !== 'some') return null;
    const requirement = requirementOn(published.dependencies, names[1]!);
    const note =
      requirement === undefined
        ? `${direct.name}@${v} no longer depends on ${names[1]}`
        : `${direct.name}@${v} requires ${names[1]} ${requirement}` +
          (result === 'only' ? (names.length === 2 ? ', which admits only fixed versions' : ', which leads only to fixed versions') : ', which admits a fixed version: the lockfile update picks it');
    return option('parent_bump', direct.name, direct.version, v, names, [note]);
  };
  const bumps = new Map<string, { direct: { name: string; version: string }; releases: PackageReleases; names: string[]; newer: string[] }>();
  if (directs.length === 0) {
    reasons.push(
      project.lockfile?.edgesComplete === false
        ? `${lockfileKindLabel(project.lockfile.kind)} records no package-to-package edges: which direct dependency brings ${finding.name} is unknown, no parent bump checked`
        : `the scan's dependency graph has no path from a direct dependency to ${finding.name}: no parent bump checked`,
    );
  }
  for (const ref of directs) {
    const direct = scan.component(ref);
    const path = shortestPath(scan, ref, finding.bomRef);
    if (!direct?.version || path === null) continue;
    const names = path.map(nameOf);
    const shown = names.join(' → ');
    if (path.length > MAX_PATH_LENGTH) {
      reasons.push(`no parent bump computed through ${shown}: longer than ${MAX_PATH_LENGTH} packages`);
      continue;
    }
    if (!versioning.isValid(direct.version)) {
      reasons.push(`no parent bump computed through ${shown}: ${names[0]}'s version ${JSON.stringify(direct.version)} is not a ${versioning.scheme} version`);
      continue;
    }
    if (!registryHasDependencies) {
      reasons.push(`no parent bump computed through ${shown}: the ${project.purlType} registry's version list carries no dependencies of ${names[0]}`);
      continue;
    }
    const releases = await releasesOf(names[0]!);
    if (releases === null) continue;
    const newer = stable(releases).filter((v) => versioning.compare(v, direct.version!) > 0);
    let found: TransitiveFixOption | null = null;
    for (const v of newer) {
      found = await bumpTo({ name: names[0]!, version: direct.version }, releases, v, names);
      if (found !== null) break;
    }
    if (found !== null) {
      options.push(found);
      bumps.set(found.name, { direct: { name: names[0]!, version: direct.version }, releases, names, newer });
    } else {
      let unknown = 0;
      for (const v of newer) if ((await leadsToFix(names[0]!, releases.versions.find((p) => p.version === v)!, names.slice(1))) === 'unknown') unknown += 1;
      reasons.push(
        `no parent bump through ${shown}: none of the ${newer.length} newer stable version(s) of ${names[0]} leads to a fixed ${finding.name}` +
          (unknown > 0 ? ` (${unknown} without dependencies in the registry document)` : ''),
      );
    }
  }

  // (c) Override: the ecosystem's mechanism at the lowest fixed version (inside every known requirement when it does not force).
  const rule = overrideRule(project.purlType, lockKind);
  let overrideCandidates: string[] = [];
  /** The override of the package to `to` with the ecosystem's mechanism (never called for Cargo). */
  const overrideOption = (to: string): TransitiveFixOption => {
    const r = rule as Exclude<OverrideRule, { none: string }>;
    const outside = r.forces ? requirements.filter((q) => admitted([to], q.requirement, q.parent)?.length === 0) : [];
    const unchecked = !r.forces && !known ? [`valid only inside every parent's requirement on ${finding.name}, which the planner does not know for every parent`] : [];
    return option('override', finding.name, finding.version, to, [], [r.edit(finding.name, to), ...outside.map((q) => `outside ${q.parent}'s requirement ${q.requirement}: the override forces it`), ...unchecked], r.mechanism);
  };
  if ('none' in rule) reasons.push(rule.none);
  else {
    overrideCandidates = rule.forces ? fixed : (admittedByAll ?? []);
    const to = overrideCandidates[0];
    if (to === undefined) reasons.push(`no ${rule.mechanism} pin: it cannot go outside a parent's requirement, and ${requirementList} admit(s) no fixed version`);
    else options.push(overrideOption(to));
  }

  options.sort(compareOptions);
  const parentBumps = options.filter((o) => o.kind === 'parent_bump');
  const minimal = options.find((o) => o.kind !== 'parent_bump' || (directs.length === 1 && parentBumps.length === 1)) ?? null;

  // Moderate and comprehensive: the minimal choice's change, moved up its line / to the newest stable version.
  let moderate: TransitiveFixOption | null = null;
  let comprehensive: TransitiveFixOption | null = null;
  if (minimal !== null) {
    const sameLine = (v: string): boolean => versioning.sameLine(minimal.from, v);
    /**
     * How many of `ascending` (versions newer than `from`) are on `from`'s line: a line is a
     * contiguous run of the version order starting at `from`, so only that prefix is read.
     */
    const lineEnd = (ascending: readonly string[]): number => {
      let i = 0;
      while (i < ascending.length && sameLine(ascending[i]!)) i++;
      return i;
    };
    const retarget = minimal.kind === 'lockfile_update' ? lockfileOption : overrideOption;
    if (minimal.kind === 'parent_bump') {
      const bump = bumps.get(minimal.name)!;
      const onLine = bump.newer.slice(0, lineEnd(bump.newer)).filter((v) => versioning.compare(v, minimal.to) > 0).reverse();
      for (const v of onLine) {
        moderate = await bumpTo(bump.direct, bump.releases, v, bump.names);
        if (moderate !== null) break;
      }
      const newest = bump.newer.at(-1);
      comprehensive = newest === undefined ? null : newest === minimal.to ? minimal : await bumpTo(bump.direct, bump.releases, newest, bump.names);
    } else {
      const candidates = minimal.kind === 'lockfile_update' ? lockCandidates : overrideCandidates;
      const lineNewest = candidates[lineEnd(candidates) - 1];
      moderate = lineNewest === undefined || lineNewest === minimal.to ? (lineNewest === undefined ? null : minimal) : retarget(lineNewest);
      const newest = ownStable.at(-1);
      comprehensive = newest !== undefined && candidates.includes(newest) ? (newest === minimal.to ? minimal : retarget(newest)) : null;
    }
    if (moderate === null) moderate = sameLine(minimal.to) ? minimal : { ...minimal, notes: [...minimal.notes, NO_FIX_IN_LINE_NOTE] };
  }
  return { options, minimal, moderate, comprehensive, reasons: [...new Set(reasons)] };
}

const TOWARDS = new WeakMap<ParsedScan, Map<string, Map<string, string | null>>>();

/**
 * The shortest path of bom-refs from `from` to `to` in the scan's graph (both included), or null.
 * Searched upwards from `to` over its dependents (breadth first, dependents in bom-ref order),
 * so only `to`'s ancestors are visited, once per `to` and scan, whatever the number of `from`s.
 */
function shortestPath(scan: ParsedScan, from: string, to: string): string[] | null {
  let byTarget = TOWARDS.get(scan);
  if (byTarget === undefined) TOWARDS.set(scan, (byTarget = new Map()));
  let towards = byTarget.get(to);
  if (towards === undefined) {
    // ref → the next bom-ref on a shortest path down to `to` (null for `to` itself).
    towards = new Map<string, string | null>([[to, null]]);
    const queue = [to];
    for (let i = 0; i < queue.length; i++) {
      const ref = queue[i]!;
      for (const parent of scan.dependents(ref)) {
        if (!towards.has(parent)) {
          towards.set(parent, ref);
          queue.push(parent);
        }
      }
    }
    byTarget.set(to, towards);
  }
  if (!towards.has(from)) return null;
  const path: string[] = [];
  for (let at: string | null | undefined = from; at !== null && at !== undefined; at = towards.get(at)) path.push(at);
  return path;
}
