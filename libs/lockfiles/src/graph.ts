import {
  ROOT_ID,
  type DependencyEdge,
  type DependencyKind,
  type DependencyPaths,
  type DirectDependency,
  type LockedPackage,
  type LockfileKind,
  type ResolvedGraph,
} from './types.js';

/** Collects packages and edges while a reader walks a lockfile; {@link GraphBuilder.finish} makes the graph. */
export class GraphBuilder {
  readonly packages: Record<string, LockedPackage> = {};
  readonly edges: DependencyEdge[] = [];
  readonly direct: DirectDependency[] = [];

  /** Adds a package, or merges the locations of one already added under the same id. */
  addPackage(pkg: LockedPackage): LockedPackage {
    const existing = this.packages[pkg.id];
    if (existing) {
      for (const l of pkg.locations) if (!existing.locations.includes(l)) existing.locations.push(l);
      return existing;
    }
    this.packages[pkg.id] = pkg;
    return pkg;
  }

  /** A direct dependency of the root project (importer `.`) or of a workspace member. */
  addDirect(dep: DirectDependency): void {
    this.direct.push(dep);
    this.edges.push({ from: ROOT_ID, to: dep.to, name: dep.name, requirement: dep.requirement, kind: dep.kind, importer: dep.importer });
  }

  addEdge(from: string, name: string, requirement: string, kind: DependencyKind, to: string | null): void {
    this.edges.push({ from, to, name, requirement, kind });
  }

  /**
   * When the lockfile does not record the root's requirements: every package no other package
   * depends on becomes a direct dependency with requirement `*` (kind `dev` when the lockfile
   * marks it dev).
   */
  inferDirect(): void {
    const hasParent = new Set<string>();
    for (const e of this.edges) if (e.from !== ROOT_ID && e.to !== null && e.to !== e.from) hasParent.add(e.to);
    for (const pkg of Object.values(this.packages)) {
      if (!hasParent.has(pkg.id)) {
        this.addDirect({ name: pkg.name, requirement: '*', kind: pkg.dev ? 'dev' : 'prod', to: pkg.id, importer: '.' });
      }
    }
  }

  finish(meta: {
    file: string;
    kind: LockfileKind;
    lockfileVersion: string;
    rootName?: string;
    rootVersion?: string;
    rootsInferred?: boolean;
    edgesComplete?: boolean;
  }): ResolvedGraph {
    return {
      file: meta.file,
      kind: meta.kind,
      lockfileVersion: meta.lockfileVersion,
      root: {
        ...(meta.rootName === undefined ? {} : { name: meta.rootName }),
        ...(meta.rootVersion === undefined ? {} : { version: meta.rootVersion }),
        dependencies: this.direct,
      },
      packages: this.packages,
      edges: this.edges,
      rootsInferred: meta.rootsInferred ?? false,
      edgesComplete: meta.edgesComplete ?? true,
    };
  }
}

/** Options of {@link pathsTo}. */
export interface PathsOptions {
  /** At most this many paths are returned (default 100); `truncated` says when there were more. */
  maxPaths?: number;
  /** Search steps before giving up with `truncated` (default 1,000,000): bounds time on dense cyclic graphs. */
  maxSteps?: number;
}

/**
 * Every path from a direct dependency to the packages matching `target` (a package id, a name,
 * `{ name, version }`, or a predicate), following resolved edges; a path never visits a package
 * twice. Depth-first in the lockfile's edge order, searching only through packages from which a
 * target is reachable, so the work is bounded by the paths found. A direct dependency that is
 * itself a target is a path of length one.
 * @returns the target ids, up to `maxPaths` paths, and `truncated` when more exist (or the step
 *   budget ran out).
 */
export function pathsTo(
  graph: ResolvedGraph,
  target: string | { name: string; version?: string } | ((pkg: LockedPackage) => boolean),
  options: PathsOptions = {},
): DependencyPaths {
  const maxPaths = options.maxPaths ?? 100;
  const maxSteps = options.maxSteps ?? 1_000_000;
  const matches =
    typeof target === 'function'
      ? target
      : typeof target === 'string'
        ? (p: LockedPackage) => p.id === target || p.name === target
        : (p: LockedPackage) => p.name === target.name && (target.version === undefined || p.version === target.version);
  const targets = Object.values(graph.packages).filter(matches).map((p) => p.id);
  const isTarget = new Set(targets);

  const children = new Map<string, string[]>();
  const parents = new Map<string, string[]>();
  for (const e of graph.edges) {
    if (e.from === ROOT_ID || e.to === null) continue;
    const c = children.get(e.from) ?? [];
    if (!c.includes(e.to)) c.push(e.to);
    children.set(e.from, c);
    const p = parents.get(e.to) ?? [];
    if (!p.includes(e.from)) p.push(e.from);
    parents.set(e.to, p);
  }
  const reaches = new Set<string>(targets);
  const queue = [...targets];
  while (queue.length > 0) {
    for (const p of parents.get(queue.pop()!) ?? []) {
      if (!reaches.has(p)) {
        reaches.add(p);
        queue.push(p);
      }
    }
  }

  const starts: string[] = [];
  for (const d of graph.root.dependencies) if (d.to !== null && reaches.has(d.to) && !starts.includes(d.to)) starts.push(d.to);

  const paths: string[][] = [];
  let truncated = false;
  let steps = 0;
  const stack: string[] = [];
  const onPath = new Set<string>();
  const visit = (id: string): boolean => {
    if (++steps > maxSteps) {
      truncated = true;
      return false;
    }
    stack.push(id);
    onPath.add(id);
    if (isTarget.has(id)) {
      if (paths.length === maxPaths) {
        truncated = true;
        return false;
      }
      paths.push([...stack]);
    }
    for (const c of children.get(id) ?? []) {
      if (!reaches.has(c) || onPath.has(c)) continue;
      if (!visit(c)) return false;
    }
    stack.pop();
    onPath.delete(id);
    return true;
  };
  for (const s of starts) if (!visit(s)) break;
  return { targets, paths, truncated };
}
