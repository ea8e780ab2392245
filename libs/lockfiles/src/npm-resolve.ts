import { Packument } from '@remediation/registry';
import { InvalidInputError } from '@remediation/errors';
import semver from 'semver';
import { isRecord } from './errors.js';
import { resolveNpmLocation, readNpmLockfile } from './npm.js';
import {
  LockWriter,
  admits,
  parseVersionMetadata,
  planNpmMove,
  wantedOf,
  type MissingDependency,
  type NpmLockUpdateRequest,
  type NpmVersionMetadata,
  type RequirementConflict,
} from './npm-update.js';
import { ROOT_ID, type DependencyKind } from './types.js';

/** A package version the resolver added to the lock, or an existing entry it moved to satisfy a new dependency. */
export interface NpmResolvedEntry {
  /** `packages` key (`node_modules/…`). */
  location: string;
  name: string;
  version: string;
  /** `added`: a new entry; `moved`: an existing entry no other dependent needs at its old version, moved. */
  change: 'added' | 'moved';
  /** Location of the dependent whose requirement it satisfies (the first one). */
  requiredBy: string;
  requirement: string;
}

/** Outcome of {@link updateNpmLockfileResolving}. */
export type NpmResolvingUpdateResult =
  | { status: 'updated'; text: string; locations: string[]; resolved: NpmResolvedEntry[] }
  | { status: 'unchanged'; locations: string[] }
  | { status: 'not-found' }
  /**
   * Not written. `missing`: requirements no published version satisfies (or whose every place in
   * the tree conflicts); `conflicts`: dependents that exclude the moved version.
   */
  | { status: 'unsatisfied'; missing: MissingDependency[]; conflicts: RequirementConflict[] };

/** Reads a packument (`GET <registry>/<name>`, the whole document) for the resolver. */
export type PackumentReader = (name: string) => Promise<unknown>;

/**
 * The version npm would pick for `requirement` from a packument, following npm-pick-manifest
 * (https://github.com/npm/npm-pick-manifest): `dist-tags.latest` when it satisfies, else the
 * highest satisfying version, non-deprecated versions first; pre-releases only when the range
 * names one (node-semver's default). Null when none satisfies.
 */
export function pickNpmVersion(packument: Packument, requirement: string): string | null {
  const range = semver.validRange(requirement === '' ? '*' : requirement, { loose: true });
  if (range === null) return null;
  const latest = packument['dist-tags']?.['latest'];
  if (latest !== undefined && packument.versions[latest] !== undefined && semver.satisfies(latest, range, { loose: true })) return latest;
  const all = Object.keys(packument.versions).filter((v) => semver.valid(v, { loose: true }) !== null);
  const deprecated = (v: string) => {
    const doc = packument.versions[v];
    return isRecord(doc) && typeof doc['deprecated'] === 'string' && doc['deprecated'] !== '';
  };
  return semver.maxSatisfying(all.filter((v) => !deprecated(v)), range, { loose: true }) ?? semver.maxSatisfying(all, range, { loose: true });
}

/** Folders a dependent at `from` resolves from, nearest last (Node's order reversed): `""`, `node_modules/a`, `node_modules/a/node_modules/b`. */
function ancestorDirs(from: string): string[] {
  const parts = from === '' ? [] : from.split('/');
  const out: string[] = [];
  for (let n = 0; n <= parts.length; n++) {
    if (n > 0 && parts[n - 1] === 'node_modules') continue;
    out.push(parts.slice(0, n).join('/'));
  }
  return out;
}

const locationIn = (dir: string, name: string) => (dir === '' ? `node_modules/${name}` : `${dir}/node_modules/${name}`);

interface Requirement {
  name: string;
  requirement: string;
  kind: DependencyKind;
  optionalPeer: boolean;
}

/**
 * {@link updateNpmLockfile}, and when the new version needs dependencies the lock does not have,
 * resolves them from registry metadata instead of refusing — our own small resolver, reading only
 * packuments (no tarball, no install script; docs/decisions/0014). For each unsatisfied
 * (dependent, name, requirement): the version is {@link pickNpmVersion}'s; it is placed the way
 * npm's arborist places a dependency
 * (https://github.com/npm/cli/blob/latest/workspaces/arborist/lib/place-dep.js): at the highest
 * `node_modules` folder on the dependent's resolution path where it does not conflict — a free
 * folder whose other dependents resolving the name through it all admit the version — else
 * deeper, down to the dependent's own `node_modules` (the root keeping its incompatible copy); an
 * existing entry that shadows the path is moved instead when every dependent reaching it admits
 * the new version. Placed versions' own dependencies are resolved the same way, recursively.
 * New entries carry `version`, `resolved` (`dist.tarball`), `integrity`, the dependent's
 * `dev`/`optional` flags and the dependency maps, in `packages` and (v1, v2) the nested
 * `dependencies` mirror, keys in npm's sorted order; entries the old version needed and the new
 * one does not are left (npm prunes extraneous entries on its next write; `npm ci` installs them
 * harmlessly). The result is checked like {@link updateNpmLockfile}'s: every edge from or to a
 * written entry resolves to a version its requirement admits.
 * @param readPackument the registry's packument of a name (whole document).
 * @throws as {@link updateNpmLockfile}; InvalidInputError `REGISTRY_DOCUMENT_INVALID` when a
 *   packument is invalid; whatever `readPackument` throws (registry errors).
 */
export async function updateNpmLockfileResolving(request: NpmLockUpdateRequest, readPackument: PackumentReader): Promise<NpmResolvingUpdateResult> {
  const plan = planNpmMove(request);
  if ('status' in plan) return plan;
  if (plan.conflicts.length > 0) return { status: 'unsatisfied', missing: plan.missing, conflicts: plan.conflicts };
  const { graph, meta, targets } = plan;

  // The tree as it will be: location → version, and each dependent's requirements.
  const versionAt = new Map<string, string>();
  const flagsAt = new Map<string, { dev?: boolean; optional?: boolean }>();
  for (const p of Object.values(graph.packages)) {
    for (const l of p.locations) {
      versionAt.set(l, p.version);
      flagsAt.set(l, { ...(p.dev ? { dev: true } : {}), ...(p.optional ? { optional: true } : {}) });
    }
  }
  // Requirements by dependent location, and by the name they require (for the placement checks).
  const requirementsOf = new Map<string, Requirement[]>();
  const setRequirements = (from: string, reqs: Requirement[]) => requirementsOf.set(from, reqs);
  for (const e of graph.edges) {
    if (e.from === ROOT_ID && graph.rootsInferred) continue;
    const from = e.from === ROOT_ID ? (e.importer === undefined || e.importer === '.' ? '' : e.importer) : e.from;
    const requirement = e.from === ROOT_ID && request.requirement !== undefined && e.importer === '.' && e.name === request.name ? request.requirement : e.requirement;
    setRequirements(from, [...(requirementsOf.get(from) ?? []), { name: e.name, requirement, kind: e.kind, optionalPeer: e.kind === 'peer' && e.to === null }]);
  }
  for (const t of targets) {
    versionAt.set(t, meta.version);
    setRequirements(t, wantedOf(meta));
  }
  const exists = (l: string) => versionAt.has(l);
  /** Every dependent (location) that would resolve `name` to `location` (`hypothetical`: were a package added there). */
  const dependentsThrough = (name: string, location: string, hypothetical: boolean): Array<{ from: string; requirement: string }> => {
    const out: Array<{ from: string; requirement: string }> = [];
    const has = hypothetical ? (l: string) => l === location || exists(l) : exists;
    const dir = location.slice(0, location.length - `node_modules/${name}`.length).replace(/\/$/, '');
    for (const [from, reqs] of requirementsOf) {
      // Only dependents inside the folder that holds `location` can resolve to it.
      if (dir !== '' && from !== dir && !from.startsWith(`${dir}/`)) continue;
      for (const r of reqs) if (r.name === name && resolveNpmLocation(from, name, has) === location) out.push({ from, requirement: r.requirement });
    }
    return out;
  };

  const packuments = new Map<string, Packument>();
  const packumentOf = async (name: string): Promise<Packument> => {
    const cached = packuments.get(name);
    if (cached) return cached;
    const parsed = Packument.safeParse(await readPackument(name));
    if (!parsed.success) throw new InvalidInputError('REGISTRY_DOCUMENT_INVALID', `package document for ${name} is invalid: it has no "versions" object`, { cause: parsed.error, details: { name } });
    packuments.set(name, parsed.data);
    return parsed.data;
  };

  const written = new Map<string, { meta: NpmVersionMetadata; entry: NpmResolvedEntry }>();
  const queue: Array<{ from: string; req: Requirement }> = [];
  for (const t of targets) for (const req of wantedOf(meta)) queue.push({ from: t, req });
  const failed: MissingDependency[] = [];
  while (queue.length > 0) {
    const { from, req } = queue.shift()!;
    const current = resolveNpmLocation(from, req.name, exists);
    if (current === null && req.optionalPeer) continue;
    if (current !== null && admits(versionAt.get(current)!, req.requirement)) continue;
    const packument = await packumentOf(req.name);
    const version = pickNpmVersion(packument, req.requirement);
    const found = current === null ? null : versionAt.get(current)!;
    if (version === null) {
      failed.push({ location: from, name: req.name, requirement: req.requirement, kind: req.kind, found });
      continue;
    }
    const dirs = ancestorDirs(from);
    const candidates = dirs.map((d) => locationIn(d, req.name));
    const start = current === null ? 0 : candidates.indexOf(current);
    let placed: { location: string; change: 'added' | 'moved' } | null = null;
    for (let i = Math.max(start, 0); i < candidates.length && placed === null; i++) {
      const location = candidates[i]!;
      if (location === from) continue;
      if (exists(location)) {
        if (location === current && !written.has(location) && !targets.includes(location) && dependentsThrough(req.name, location, false).every((d) => admits(version, d.requirement))) {
          placed = { location, change: 'moved' };
        }
        continue;
      }
      if (dependentsThrough(req.name, location, true).every((d) => d.from === from || admits(version, d.requirement))) placed = { location, change: 'added' };
    }
    if (placed === null) {
      failed.push({ location: from, name: req.name, requirement: req.requirement, kind: req.kind, found });
      continue;
    }
    const versionMeta = parseVersionMetadata(packument.versions[version], req.name, version);
    versionAt.set(placed.location, version);
    const fromFlags = flagsAt.get(from) ?? {};
    flagsAt.set(placed.location, { ...(fromFlags.dev ? { dev: true } : {}), ...(fromFlags.optional || req.kind === 'optional' ? { optional: true } : {}) });
    const wanted = wantedOf(versionMeta);
    setRequirements(placed.location, wanted);
    written.set(placed.location, { meta: versionMeta, entry: { location: placed.location, name: req.name, version, change: placed.change, requiredBy: from, requirement: req.requirement } });
    for (const r of wanted) queue.push({ from: placed.location, req: r });
  }
  if (failed.length > 0) return { status: 'unsatisfied', missing: failed, conflicts: [] };

  const w = new LockWriter(request.text, plan.doc);
  const layout = { packages: plan.hasPackages, legacy: isRecord(plan.doc['dependencies']) };
  const entries = [...written.values()].sort((a, b) => a.entry.location.length - b.entry.location.length);
  for (const { meta: m, entry } of entries) {
    if (entry.change === 'added') w.addEntry(entry.location, m, flagsAt.get(entry.location) ?? {}, layout);
    else w.moveEntry(entry.location, m, plan.hasPackages);
  }
  for (const t of targets) w.moveEntry(t, meta, plan.hasPackages);
  if (request.requirement !== undefined && plan.hasPackages) w.setRootRequirement(request.name, request.requirement);

  // The written lock, read back: every edge from or to a written entry resolves to an admitted version.
  const after = readNpmLockfile(request.file, w.text);
  const touched = new Set([...targets, ...written.keys()]);
  const broken: MissingDependency[] = [];
  for (const e of after.edges) {
    if (!touched.has(e.from) && (e.to === null || !touched.has(e.to))) continue;
    if (e.from === ROOT_ID && after.rootsInferred) continue;
    if (request.override === true && e.name === request.name) continue; // the override replaces these requirements
    const to = e.to === null ? null : after.packages[e.to]!;
    if (to === null && e.kind === 'peer') continue;
    if (to === null || !admits(to.version, e.requirement)) broken.push({ location: e.from, name: e.name, requirement: e.requirement, kind: e.kind, found: to?.version ?? null });
  }
  if (broken.length > 0) return { status: 'unsatisfied', missing: broken, conflicts: [] };
  return { status: 'updated', text: w.text, locations: targets, resolved: entries.map((e) => e.entry) };
}
