import type { JumpSize, TransitiveFixOption } from '@remediation/contracts';
import type { PackageReleases, PublishedVersion, RegistrySource, Versioning } from '@remediation/ecosystems';
import { InvalidInputError } from '@remediation/errors';
import type { ParsedScan } from '@remediation/sbom';
import { breakingChangeRisk, jumpSize } from './tiers.js';

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

/** The options found for one finding, and why kinds are missing (see `TransitiveFinding` in @remediation/contracts). */
export interface TransitiveOptions {
  options: TransitiveFixOption[];
  minimal: TransitiveFixOption | null;
  reasons: string[];
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
 * Computes the fix options of one vulnerable transitive npm package from the scan's dependency
 * graph and registry metadata (issue 15 part 3; the rules and their order are in
 * docs/decisions/0015-transitive-fix-options.md):
 * - `lockfile_update` when every parent in the graph (a component whose `dependsOn` holds it)
 *   requires it with a range that admits a fixed version: the lowest such version;
 * - one `parent_bump` per direct dependency it is installed through, along the shortest path in
 *   the graph: the lowest version of that direct dependency, newer than the installed one, whose
 *   requirement on the next package of the path admits only fixed versions (at the end of the
 *   path) or versions that lead on to one, or which no longer depends on it;
 * - `override`: the lowest fixed version newer than the installed one (npm `overrides`,
 *   https://docs.npmjs.com/cli/v10/configuring-npm/package-json#overrides).
 * Ranges are read with npm's node-semver rules (`versioning.satisfies`) over the stable,
 * non-deprecated versions the registry lists (`versioning.candidates`). `minimal` is the first
 * option by {@link compareOptions}, except that a parent bump is only chosen when the package
 * comes through that one direct dependency (otherwise every path would need its own bump).
 * `cache` shares registry answers between the findings of one plan. Whatever could not be
 * checked (a package the registry does not know, a version whose
 * `dependencies` the registry document lacks, a requirement that is not a range) is a line in
 * `reasons`, never dropped.
 * @throws TransientError from the registry source (registry unavailable), like target planning.
 */
export async function transitiveOptions(
  finding: TransitiveInput,
  scan: ParsedScan,
  registry: RegistrySource,
  versioning: Versioning,
  cache: ReleasesCache = new Map(),
): Promise<TransitiveOptions> {
  const reasons: string[] = [];
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
  const option = (kind: TransitiveFixOption['kind'], name: string, from: string, to: string, path: string[], notes: string[]): TransitiveFixOption => {
    const jump = jumpSize(from, to, versioning);
    return { kind, name, from, to, jump, breakingChangeRisk: breakingChangeRisk(jump, from, versioning), path, notes };
  };
  /** The versions of `name` a requirement admits, or a reason when it is not a range. */
  const admitted = (versions: readonly string[], requirement: string, where: string): string[] | null => {
    try {
      return versions.filter((v) => versioning.satisfies(v, requirement));
    } catch (err) {
      if (err instanceof InvalidInputError) {
        reasons.push(`${where} requires ${JSON.stringify(requirement)}, not a range the planner reads`);
        return null;
      }
      throw err;
    }
  };

  const own = await releasesOf(finding.name);
  if (own === null) return { options: [], minimal: null, reasons };
  const ownStable = stable(own);
  const fixed = ownStable.filter((v) => versioning.compare(v, finding.version) > 0 && finding.isFixed(v));
  if (fixed.length === 0) {
    reasons.push(`no stable version of ${finding.name} newer than ${finding.version} is free of its advisories`);
    return { options: [], minimal: null, reasons };
  }
  const options: TransitiveFixOption[] = [];

  // (b) In-place lockfile update: every parent's requirement admits a fixed version.
  const parents = [...(dependentsOf(scan).get(finding.bomRef) ?? [])].sort();
  const requirements: { parent: string; requirement: string }[] = [];
  let known = parents.length > 0;
  if (parents.length === 0) reasons.push(`the scan's dependency graph names no parent of ${finding.name}: no lockfile update checked`);
  for (const ref of parents) {
    const parent = scan.component(ref);
    const label = parent?.version ? `${parent.name}@${parent.version}` : ref;
    const releases = parent?.version ? await releasesOf(parent.name) : null;
    const published = releases?.versions.find((v) => v.version === parent!.version);
    const requirement = published?.dependencies?.[finding.name];
    known &&= requirement !== undefined;
    if (!parent?.version) reasons.push(`parent ${JSON.stringify(ref)} has no version: its requirement on ${finding.name} is unknown`);
    else if (releases === null) continue; // reason given by releasesOf
    else if (published === undefined) reasons.push(`${label} is not listed by the registry: its requirement on ${finding.name} is unknown`);
    else if (published.dependencies === undefined) reasons.push(`the registry document of ${label} has no dependencies: its requirement on ${finding.name} is unknown`);
    else if (requirement === undefined) reasons.push(`${label} does not list ${finding.name} in its dependencies (optional or peer): no lockfile update checked`);
    else requirements.push({ parent: label, requirement });
  }
  if (known) {
    let candidates: string[] | null = fixed;
    for (const r of requirements) candidates = candidates === null ? null : admitted(candidates, r.requirement, r.parent);
    const to = candidates?.[0];
    if (to !== undefined) {
      options.push(
        option('lockfile_update', finding.name, finding.version, to, [], [
          `every parent admits ${to}: ${requirements.map((r) => `${r.parent} requires ${finding.name} ${r.requirement}`).join(', ')}`,
        ]),
      );
    } else if (candidates !== null) {
      reasons.push(`no lockfile update alone: ${requirements.map((r) => `${r.parent} requires ${finding.name} ${r.requirement}`).join(', ')}, which admit(s) no fixed version`);
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
        const requirement = version.dependencies[next];
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
  for (const ref of directs) {
    const direct = scan.component(ref);
    const path = shortestPath(scan, ref, finding.bomRef);
    if (!direct?.version || path === null) continue;
    const names = path.map((r) => scan.component(r)?.name ?? r);
    const shown = names.join(' → ');
    if (path.length > MAX_PATH_LENGTH) {
      reasons.push(`no parent bump computed through ${shown}: longer than ${MAX_PATH_LENGTH} packages`);
      continue;
    }
    if (!versioning.isValid(direct.version)) {
      reasons.push(`no parent bump computed through ${shown}: ${direct.name}'s version ${JSON.stringify(direct.version)} is not a semver version`);
      continue;
    }
    const releases = await releasesOf(direct.name);
    if (releases === null) continue;
    const newer = stable(releases).filter((v) => versioning.compare(v, direct.version!) > 0);
    let found: TransitiveFixOption | null = null;
    let unknown = 0;
    for (const v of newer) {
      const result = await leadsToFix(direct.name, releases.versions.find((p) => p.version === v)!, names.slice(1));
      if (result === 'unknown') unknown += 1;
      if (result !== 'only' && result !== 'some') continue;
      const requirement = releases.versions.find((p) => p.version === v)!.dependencies?.[names[1]!];
      const note =
        requirement === undefined
          ? `${direct.name}@${v} no longer depends on ${names[1]}`
          : `${direct.name}@${v} requires ${names[1]} ${requirement}` +
            (result === 'only' ? (names.length === 2 ? ', which admits only fixed versions' : ', which leads only to fixed versions') : ', which admits a fixed version: the lockfile update picks it');
      found = option('parent_bump', direct.name, direct.version, v, names, [note]);
      break;
    }
    if (found !== null) options.push(found);
    else {
      reasons.push(
        `no parent bump through ${shown}: none of the ${newer.length} newer stable version(s) of ${direct.name} leads to a fixed ${finding.name}` +
          (unknown > 0 ? ` (${unknown} without dependencies in the registry document)` : ''),
      );
    }
  }

  // (c) Override: pin the package to its lowest fixed version.
  const outside = requirements.filter((r) => admitted([fixed[0]!], r.requirement, r.parent)?.length === 0);
  options.push(
    option('override', finding.name, finding.version, fixed[0]!, [], [
      `package.json "overrides": { ${JSON.stringify(finding.name)}: ${JSON.stringify(fixed[0])} }`,
      ...outside.map((r) => `outside ${r.parent}'s requirement ${r.requirement}: the override forces it`),
    ]),
  );

  options.sort(compareOptions);
  const parentBumps = options.filter((o) => o.kind === 'parent_bump');
  const minimal = options.find((o) => o.kind !== 'parent_bump' || (directs.length === 1 && parentBumps.length === 1)) ?? null;
  return { options, minimal, reasons: [...new Set(reasons)] };
}

const DEPENDENTS = new WeakMap<ParsedScan, Map<string, string[]>>();

/** bom-ref → bom-refs that depend on it (the scan's graph reversed), computed once per scan. */
function dependentsOf(scan: ParsedScan): Map<string, string[]> {
  let reversed = DEPENDENTS.get(scan);
  if (reversed === undefined) {
    reversed = new Map();
    for (const [from, tos] of scan.dependencies) {
      for (const to of tos) {
        const list = reversed.get(to);
        if (list === undefined) reversed.set(to, [from]);
        else list.push(from);
      }
    }
    DEPENDENTS.set(scan, reversed);
  }
  return reversed;
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
    const dependents = dependentsOf(scan);
    const queue = [to];
    for (let i = 0; i < queue.length; i++) {
      const ref = queue[i]!;
      for (const parent of [...(dependents.get(ref) ?? [])].sort()) {
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
