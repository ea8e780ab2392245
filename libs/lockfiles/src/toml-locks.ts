import { normalisePythonName, pep621Manager, poetryManager } from '@remediation/ecosystems';
import { getStaticTOMLValue, parseTOML } from 'toml-eslint-parser';
import { LockfileInvalidError, isRecord } from './errors.js';
import { GraphBuilder } from './graph.js';
import type { DependencyKind, LockedPackage, LockfileKind, ResolvedGraph } from './types.js';

/**
 * The TOML document as plain values, read with toml-eslint-parser (the project's TOML parser,
 * https://github.com/ota-meshi/toml-eslint-parser; the manifests' `toml-source.ts` reads the same
 * AST for source positions).
 * @throws LockfileInvalidError when the text is not TOML 1.0.
 */
function readToml(file: string, kind: LockfileKind, text: string): Record<string, unknown> {
  try {
    return getStaticTOMLValue(parseTOML(text)) as Record<string, unknown>;
  } catch (err) {
    throw new LockfileInvalidError(file, kind, `not valid TOML (${(err as Error).message})`, { cause: err });
  }
}

/** The `[[package]]` tables, each checked for a string `name` and `version`. */
function packageTables(file: string, kind: LockfileKind, doc: Record<string, unknown>, versionOptional = false): Array<Record<string, unknown>> {
  const list = doc['package'] ?? [];
  if (!Array.isArray(list)) throw new LockfileInvalidError(file, kind, '"package" is not an array of tables', { where: 'package' });
  return list.map((p, i) => {
    if (!isRecord(p) || typeof p['name'] !== 'string' || (!versionOptional && typeof p['version'] !== 'string')) {
      throw new LockfileInvalidError(file, kind, 'the entry has no string "name" and "version"', { where: `package[${i}]` });
    }
    return p;
  });
}

/** Dependencies of a Poetry package table (`[package.dependencies]`): name → constraint, and the optional ones. */
function poetryDependencies(value: unknown): { deps: Record<string, string>; optional: Set<string> } {
  const deps: Record<string, string> = {};
  const optional = new Set<string>();
  if (!isRecord(value)) return { deps, optional };
  for (const [name, spec] of Object.entries(value)) {
    const specs = Array.isArray(spec) ? spec : [spec];
    const parts: string[] = [];
    let allOptional = specs.length > 0;
    for (const s of specs) {
      if (typeof s === 'string') {
        parts.push(s);
        allOptional = false;
      } else if (isRecord(s)) {
        parts.push(typeof s['version'] === 'string' ? s['version'] : '*');
        if (s['optional'] !== true) allOptional = false;
      }
    }
    deps[normalisePythonName(name)] = [...new Set(parts)].join(' || ');
    if (allOptional) optional.add(normalisePythonName(name));
  }
  return { deps, optional };
}

function fileHash(files: unknown): string | undefined {
  if (!Array.isArray(files)) return undefined;
  const records = files.filter(isRecord);
  const sdist = records.find((f) => typeof f['file'] === 'string' && /\.(tar\.gz|zip)$/.test(f['file']));
  const chosen = sdist ?? records[0];
  return chosen && typeof chosen['hash'] === 'string' ? chosen['hash'] : undefined;
}

/**
 * Reads poetry.lock (https://python-poetry.org/docs/basic-usage/#installing-with-poetrylock):
 * `[[package]]` tables (name, version, `optional`, `category` up to Poetry 1.4, `files` hashes
 * or the older `[metadata.files]`, `source`) and their `[package.dependencies]` (a constraint, a
 * table with `version`/`markers`/`optional`, or a list of those: joined with ` || `). Names are
 * PEP 503-normalised. A dependency name the lock pins more than once (per-marker versions) gets
 * an edge to each. poetry.lock does not record the root's requirements: pass pyproject.toml's
 * text as `manifest` (Poetry and PEP 621 sections, read by @remediation/ecosystems' managers),
 * else the direct dependencies are inferred.
 * @throws LockfileInvalidError when the text is not TOML or a package has no name or version.
 */
export function readPoetryLockfile(file: string, text: string, options: { manifest?: string } = {}): ResolvedGraph {
  const doc = readToml(file, 'poetry', text);
  const metadata = isRecord(doc['metadata']) ? doc['metadata'] : {};
  const legacyFiles = isRecord(metadata['files']) ? metadata['files'] : {};
  const b = new GraphBuilder();
  const byName = new Map<string, string[]>();
  const tables = packageTables(file, 'poetry', doc);
  const depsOf = new Map<string, ReturnType<typeof poetryDependencies>>();
  for (const p of tables) {
    const name = normalisePythonName(p['name'] as string);
    const version = p['version'] as string;
    const id = `${name}@${version}`;
    const source = isRecord(p['source']) && typeof p['source']['url'] === 'string' ? p['source']['url'] : undefined;
    const integrity = fileHash(p['files'] ?? legacyFiles[p['name'] as string]);
    const d = poetryDependencies(p['dependencies']);
    depsOf.set(id, d);
    b.addPackage({
      id,
      ecosystem: 'pypi',
      name,
      version,
      ...(source ? { resolved: source } : {}),
      ...(integrity ? { integrity } : {}),
      dependencies: d.deps,
      ...(p['category'] === 'dev' ? { dev: true } : {}),
      ...(p['optional'] === true ? { optional: true } : {}),
      locations: [id],
    });
    byName.set(name, [...(byName.get(name) ?? []), id]);
  }
  for (const [id, d] of depsOf) {
    for (const [name, requirement] of Object.entries(d.deps)) {
      const kind: DependencyKind = d.optional.has(name) ? 'optional' : 'prod';
      const targets = byName.get(name) ?? [];
      if (targets.length === 0) b.addEdge(id, name, requirement, kind, null);
      for (const to of targets) b.addEdge(id, name, requirement, kind, to);
    }
  }
  if (options.manifest !== undefined) {
    const manifestFile = file.replace(/poetry\.lock$/, 'pyproject.toml');
    const deps = [...poetryManager.extract(manifestFile, options.manifest).dependencies, ...pep621Manager.extract(manifestFile, options.manifest).dependencies];
    for (const dep of deps) {
      if (dep.normalisedName === 'python') continue;
      const section = dep.location.section ?? '';
      const kind: DependencyKind = /dev|group\.(?!main\b)|optional/.test(section) ? 'dev' : 'prod';
      const targets = byName.get(dep.normalisedName) ?? [];
      if (targets.length === 0) b.addDirect({ name: dep.normalisedName, requirement: dep.requirement, kind, to: null, importer: '.' });
      for (const to of targets) b.addDirect({ name: dep.normalisedName, requirement: dep.requirement, kind, to, importer: '.' });
    }
  } else {
    b.inferDirect();
  }
  return b.finish({
    file,
    kind: 'poetry',
    lockfileVersion: typeof metadata['lock-version'] === 'string' ? metadata['lock-version'] : 'unversioned',
    rootsInferred: options.manifest === undefined,
  });
}

/** A uv dependency reference: `{ name, version?, source?, marker?, extra? }`. */
interface UvRef {
  name: string;
  version?: string;
  marker?: string;
}

function uvRefs(value: unknown): UvRef[] {
  if (!Array.isArray(value)) return [];
  return value.filter(isRecord).flatMap((r) =>
    typeof r['name'] === 'string'
      ? [{ name: normalisePythonName(r['name']), ...(typeof r['version'] === 'string' ? { version: r['version'] } : {}), ...(typeof r['marker'] === 'string' ? { marker: r['marker'] } : {}) }]
      : [],
  );
}

/**
 * Reads uv.lock (https://docs.astral.sh/uv/concepts/projects/layout/#the-lockfile): `version`,
 * `revision`, `[[package]]` with `source` (`registry`, `virtual`, `editable`, `git`, …),
 * `dependencies` / `optional-dependencies` / `dev-dependencies` (`{ name, version?, marker? }`;
 * `version` is present when the lock pins the name more than once), `sdist`/`wheels` hashes and
 * `[package.metadata] requires-dist` (the members' own specifiers). Workspace members (source
 * `virtual` or `editable`) are the importers: their dependencies are the direct ones, with the
 * `requires-dist` specifier as requirement; the member at `.` is the root project. Edges between
 * packages carry the pinned version (`==v`) or `*` (uv records no specifier there).
 * @throws LockfileInvalidError when the text is not TOML, `version` is missing, or a package has
 *   no name.
 */
export function readUvLockfile(file: string, text: string): ResolvedGraph {
  const doc = readToml(file, 'uv', text);
  if (typeof doc['version'] !== 'number') throw new LockfileInvalidError(file, 'uv', 'it has no integer "version"', { where: 'version' });
  const b = new GraphBuilder();
  const tables = packageTables(file, 'uv', doc, true);
  const byName = new Map<string, LockedPackage[]>();
  const members: Array<{ table: Record<string, unknown>; path: string; id: string }> = [];
  let root: { name: string; version?: string } | null = null;
  for (const p of tables) {
    const name = normalisePythonName(p['name'] as string);
    const version = typeof p['version'] === 'string' ? p['version'] : '';
    const source = isRecord(p['source']) ? p['source'] : {};
    const memberPath = typeof source['virtual'] === 'string' ? source['virtual'] : typeof source['editable'] === 'string' ? source['editable'] : null;
    const id = `${name}@${version}`;
    if (memberPath !== null) members.push({ table: p, path: memberPath, id });
    if (memberPath === '.') {
      root = { name, ...(version ? { version } : {}) };
      continue;
    }
    const sdist = isRecord(p['sdist']) ? p['sdist'] : {};
    const wheels = Array.isArray(p['wheels']) ? p['wheels'].filter(isRecord) : [];
    const resolved = typeof sdist['url'] === 'string' ? sdist['url'] : typeof wheels[0]?.['url'] === 'string' ? wheels[0]['url'] : typeof source['registry'] === 'string' ? source['registry'] : undefined;
    const integrity = typeof sdist['hash'] === 'string' ? sdist['hash'] : typeof wheels[0]?.['hash'] === 'string' ? wheels[0]['hash'] : undefined;
    const dependencies: Record<string, string> = {};
    for (const r of uvRefs(p['dependencies'])) dependencies[r.name] = r.version ? `==${r.version}` : '*';
    const pkg = b.addPackage({
      id,
      ecosystem: 'pypi',
      name,
      version,
      ...(resolved ? { resolved } : {}),
      ...(integrity ? { integrity } : {}),
      dependencies,
      locations: [id],
    });
    byName.set(name, [...(byName.get(name) ?? []), pkg]);
  }
  const resolve = (r: UvRef): string | null => {
    const candidates = byName.get(r.name) ?? [];
    return (r.version ? candidates.find((c) => c.version === r.version) : candidates[0])?.id ?? null;
  };
  /** Each dependency with its kind and, for `optional-dependencies` / `dev-dependencies`, the extra or group naming it. */
  const groups = (p: Record<string, unknown>): Array<[UvRef, DependencyKind, string | null]> => {
    const out: Array<[UvRef, DependencyKind, string | null]> = uvRefs(p['dependencies']).map((r) => [r, 'prod', null]);
    for (const [field, kind] of [['optional-dependencies', 'optional'], ['dev-dependencies', 'dev']] as Array<[string, DependencyKind]>) {
      const g = p[field];
      if (isRecord(g)) for (const [group, list] of Object.entries(g)) for (const r of uvRefs(list)) out.push([r, kind, group]);
    }
    return out;
  };
  for (const p of tables) {
    const source = isRecord(p['source']) ? p['source'] : {};
    if (typeof source['virtual'] === 'string' || typeof source['editable'] === 'string') continue;
    const id = `${normalisePythonName(p['name'] as string)}@${typeof p['version'] === 'string' ? p['version'] : ''}`;
    for (const [r, kind] of groups(p)) b.addEdge(id, r.name, r.version ? `==${r.version}` : '*', kind, resolve(r));
  }
  for (const m of members) {
    const metadata = isRecord(m.table['metadata']) ? m.table['metadata'] : {};
    const requires = uvRefsWithSpecifier(metadata['requires-dist'], null);
    const dev = metadata['requires-dev'];
    if (isRecord(dev)) for (const [group, list] of Object.entries(dev)) requires.push(...uvRefsWithSpecifier(list, group));
    for (const [r, kind, group] of groups(m.table)) {
      const to = resolve(r);
      // The member's own specifier: for an extra, the requires-dist entry whose marker names it.
      const spec =
        requires.find((q) => q.name === r.name && group !== null && (q.group === group || q.marker.includes(`extra == '${group}'`))) ??
        requires.find((q) => q.name === r.name && !q.marker.includes('extra ==')) ??
        requires.find((q) => q.name === r.name);
      const requirement = spec?.specifier ?? '*';
      b.addDirect({ name: r.name, requirement, kind, to, importer: m.path });
      if (m.path !== '.') b.addEdge(m.id, r.name, requirement, kind, to);
    }
  }
  if (members.length === 0) b.inferDirect();
  return b.finish({
    file,
    kind: 'uv',
    lockfileVersion: typeof doc['revision'] === 'number' ? `${doc['version']}.${doc['revision']}` : String(doc['version']),
    ...(root ? { rootName: root.name, ...(root.version ? { rootVersion: root.version } : {}) } : {}),
    rootsInferred: members.length === 0,
  });
}

/** `requires-dist` / `requires-dev` entries: name, specifier (`*` when none), marker, dev group. */
function uvRefsWithSpecifier(value: unknown, group: string | null): Array<{ name: string; specifier: string; marker: string; group: string | null }> {
  if (!Array.isArray(value)) return [];
  return value.filter(isRecord).flatMap((r) =>
    typeof r['name'] === 'string'
      ? [
          {
            name: normalisePythonName(r['name']),
            specifier: typeof r['specifier'] === 'string' ? r['specifier'] : '*',
            marker: typeof r['marker'] === 'string' ? r['marker'] : '',
            group,
          },
        ]
      : [],
  );
}

/** A Cargo.lock dependency reference: `name`, `name version` or `name version (source)`. */
function parseCargoRef(ref: string): { name: string; version?: string; source?: string } {
  const m = /^(\S+)(?: (\S+))?(?: \((.+)\))?$/.exec(ref.trim());
  if (!m) return { name: ref.trim() };
  return { name: m[1]!, ...(m[2] ? { version: m[2] } : {}), ...(m[3] ? { source: m[3] } : {}) };
}

/**
 * Reads Cargo.lock (https://doc.rust-lang.org/cargo/guide/cargo-toml-vs-cargo-lock.html; format
 * versions: cargo's `ResolveVersion`, https://github.com/rust-lang/cargo/blob/master/src/cargo/core/resolver/resolve.rs):
 * `version` (3, 4; absent before 3), `[[package]]` (name, version, `source`, `checksum`, and
 * `dependencies` written `name`, `name version` or `name version (source)` when ambiguous), and
 * v1's `[metadata]` checksums. Packages without `source` are workspace members: each is an
 * importer (path = its name) whose dependencies are direct, and a package others can depend on.
 * Edge requirements are the locked version (Cargo.lock keeps no requirement ranges) or `*`.
 * @throws LockfileInvalidError when the text is not TOML or a package has no name or version.
 */
export function readCargoLockfile(file: string, text: string): ResolvedGraph {
  const doc = readToml(file, 'cargo', text);
  const tables = packageTables(file, 'cargo', doc);
  const metadata = isRecord(doc['metadata']) ? doc['metadata'] : {};
  const b = new GraphBuilder();
  const seen = new Map<string, number>();
  for (const p of tables) seen.set(`${p['name']}@${p['version']}`, (seen.get(`${p['name']}@${p['version']}`) ?? 0) + 1);
  const all: Array<{ pkg: LockedPackage; source?: string; table: Record<string, unknown> }> = [];
  for (const p of tables) {
    const name = p['name'] as string;
    const version = p['version'] as string;
    const source = typeof p['source'] === 'string' ? p['source'] : undefined;
    const id = (seen.get(`${name}@${version}`) ?? 0) > 1 && source ? `${name}@${version}+${source}` : `${name}@${version}`;
    const legacy = metadata[`checksum ${name} ${version} (${source})`];
    const checksum = typeof p['checksum'] === 'string' ? p['checksum'] : typeof legacy === 'string' ? legacy : undefined;
    const deps = Array.isArray(p['dependencies']) ? p['dependencies'].filter((d): d is string => typeof d === 'string') : [];
    const dependencies: Record<string, string> = {};
    for (const d of deps) {
      const r = parseCargoRef(d);
      dependencies[r.name] = r.version ?? '*';
    }
    const pkg = b.addPackage({
      id,
      ecosystem: 'cargo',
      name,
      version,
      ...(source ? { resolved: source } : {}),
      ...(checksum ? { integrity: checksum } : {}),
      dependencies,
      locations: [id],
    });
    all.push({ pkg, ...(source ? { source } : {}), table: p });
  }
  const resolve = (ref: string): string | null => {
    const r = parseCargoRef(ref);
    const match = all.find(
      (c) => c.pkg.name === r.name && (r.version === undefined || c.pkg.version === r.version) && (r.source === undefined || c.source === r.source),
    );
    return match?.pkg.id ?? null;
  };
  for (const { pkg, source, table } of all) {
    const deps = Array.isArray(table['dependencies']) ? table['dependencies'].filter((d): d is string => typeof d === 'string') : [];
    for (const d of deps) {
      const r = parseCargoRef(d);
      const to = resolve(d);
      if (source === undefined) b.addDirect({ name: r.name, requirement: r.version ?? '*', kind: 'prod', to, importer: pkg.name });
      b.addEdge(pkg.id, r.name, r.version ?? '*', 'prod', to);
    }
  }
  const version = doc['version'];
  return b.finish({
    file,
    kind: 'cargo',
    lockfileVersion: typeof version === 'number' ? String(version) : Object.keys(metadata).length > 0 ? '1' : '2',
  });
}
