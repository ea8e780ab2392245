import { InvalidInputError } from '@remediation/errors';
import { Packument } from '@remediation/registry';
import { applyEdits, modify, type FormattingOptions, type JSONPath } from 'jsonc-parser';
import semver from 'semver';
import { z } from 'zod';
import { isRecord, stringMap } from './errors.js';
import { npmNameFromLocation, parseNpmLockDocument, readNpmLockfile, resolveNpmLocation } from './npm.js';
import { ROOT_ID, type DependencyKind, type ResolvedGraph } from './types.js';

/**
 * The fields of one version's document in an npm packument
 * (https://github.com/npm/registry/blob/main/docs/responses/package-metadata.md) that a lockfile
 * entry is made of: `version`, `dist.tarball` (→ `resolved`), `dist.integrity` (→ `integrity`;
 * older versions only have `dist.shasum`, written `sha1-<base64>` as npm does), and the
 * dependency maps.
 */
export const NpmVersionMetadata = z.looseObject({
  name: z.string().optional(),
  version: z.string(),
  dist: z.looseObject({ tarball: z.string(), integrity: z.string().optional(), shasum: z.string().optional() }),
  dependencies: z.record(z.string(), z.string()).optional(),
  optionalDependencies: z.record(z.string(), z.string()).optional(),
  peerDependencies: z.record(z.string(), z.string()).optional(),
  peerDependenciesMeta: z.record(z.string(), z.looseObject({ optional: z.boolean().optional() })).optional(),
});
export type NpmVersionMetadata = z.infer<typeof NpmVersionMetadata>;

/**
 * The document of one version in a whole packument (`GET <registry>/<name>`), checked with
 * @remediation/registry's `Packument` schema: what {@link updateNpmLockfile} takes as `metadata`.
 * @param where what to name in errors (URL or file).
 * @throws InvalidInputError `REGISTRY_DOCUMENT_INVALID` when the document is not a packument, or
 *   `VERSION_NOT_FOUND` when it has no such version.
 */
export function packumentVersion(packument: unknown, name: string, version: string, where: string): unknown {
  const parsed = Packument.safeParse(packument);
  if (!parsed.success) {
    throw new InvalidInputError('REGISTRY_DOCUMENT_INVALID', `package document for ${name} from ${where} is invalid: it has no "versions" object`, {
      cause: parsed.error,
      details: { name, where },
    });
  }
  const doc = parsed.data.versions[version];
  if (doc === undefined) throw new InvalidInputError('VERSION_NOT_FOUND', `${name}@${version} is not in the package document from ${where}`, { details: { name, version, where } });
  return doc;
}

/** What to move in the lockfile. */
export interface NpmLockUpdateRequest {
  /** Lockfile name, for messages. */
  file: string;
  /** package-lock.json or npm-shrinkwrap.json text (lockfileVersion 1, 2 or 3). */
  text: string;
  /** Package to move. */
  name: string;
  /** Version to move it to; must equal `metadata.version`. */
  version: string;
  /** That version's document from the registry's packument (`versions[version]`). */
  metadata: unknown;
  /** Move only the entries now at this version (default: every entry of the package). */
  from?: string;
  /**
   * For a direct bump: the new requirement text the root's package.json gets (e.g. `^1.2.6`);
   * written into `packages[""]` wherever the root declares the package, and checked instead of
   * the old one.
   */
  requirement?: string;
  /**
   * The package.json `overrides` entry pins `name` to `version`
   * (https://docs.npmjs.com/cli/v10/configuring-npm/package-json#overrides): dependents'
   * requirements on it are replaced by the override, so they are not checked (no `conflicts`).
   */
  override?: boolean;
}

/** A dependency of the new version that the locked graph does not satisfy at an entry's location. */
export interface MissingDependency {
  /** Location of the moved entry (`node_modules/…`). */
  location: string;
  name: string;
  requirement: string;
  kind: DependencyKind;
  /** Version the name resolves to from that location (Node module resolution), or null when nothing does. */
  found: string | null;
}

/** A dependent whose requirement does not admit the new version. */
export interface RequirementConflict {
  /** Location of the dependent (`""` for the root project or a workspace, see `importer`). */
  from: string;
  importer?: string;
  /** Location of the entry it resolves to. */
  location: string;
  requirement: string;
}

/** Outcome of {@link updateNpmLockfile}. */
export type NpmLockUpdateResult =
  | {
      status: 'updated';
      text: string;
      /** `packages` keys (or, for v1, the nested entries' locations) moved. */
      locations: string[];
      /** JSON paths of the values written, in order. */
      edited: JSONPath[];
    }
  /** Every matching entry is already at the version. */
  | { status: 'unchanged'; locations: string[] }
  /** The lockfile has no entry of the package (at `from`, when given). */
  | { status: 'not-found' }
  /**
   * Not written: the new version needs dependencies the lock does not have (resolving them is a
   * later step), or a dependent's requirement excludes it. Either list may be empty.
   */
  | { status: 'unsatisfied'; missing: MissingDependency[]; conflicts: RequirementConflict[] };

/** Indentation and newline of a JSON text, so edits write what the file already uses. */
function formattingOf(text: string): FormattingOptions {
  const indent = /\n([ \t]+)\S/.exec(text)?.[1] ?? '  ';
  return { insertSpaces: !indent.startsWith('\t'), tabSize: indent.startsWith('\t') ? 1 : indent.length, eol: text.includes('\r\n') ? '\r\n' : '\n' };
}

/** `sha1-<base64>` from a hex shasum (ssri's `fromHex`, as npm writes lockfile integrity for old packages). */
function integrityOf(meta: NpmVersionMetadata): string | undefined {
  if (meta.dist.integrity) return meta.dist.integrity;
  if (meta.dist.shasum && /^[0-9a-f]{40}$/i.test(meta.dist.shasum)) return `sha1-${Buffer.from(meta.dist.shasum, 'hex').toString('base64')}`;
  return undefined;
}

/** Whether `version` satisfies an npm requirement (`*`/empty: anything; `latest` and other tags: taken as satisfied, npm re-resolves tags). */
export function admits(version: string, requirement: string): boolean {
  const range = semver.validRange(requirement, { loose: true });
  if (range === null) return /^[a-z][a-z0-9._-]*$/i.test(requirement) && !requirement.includes(':');
  return semver.satisfies(version, range, { loose: true });
}

/** Path of a `packages` location in v1's nested `dependencies` tree. */
function legacyPath(location: string): JSONPath {
  const names = location.slice('node_modules/'.length).split('/node_modules/');
  return names.flatMap((n) => ['dependencies', n]);
}

function valueAt(doc: unknown, path: JSONPath): unknown {
  let v: unknown = doc;
  for (const k of path) v = isRecord(v) ? v[k as string] : undefined;
  return v;
}

/**
 * Moves a package to another version inside package-lock.json / npm-shrinkwrap.json without a
 * package manager, the way `osv-scanner fix --strategy=in-place` does: every entry of `name`
 * (or those at `from`) gets the new `version`, `resolved` = `dist.tarball`, `integrity` =
 * `dist.integrity`, and the new version's `dependencies` / `optionalDependencies` /
 * `peerDependencies` (`peerDependenciesMeta` too) — in `packages["node_modules/…/name"]` (v2, v3)
 * and in the nested `dependencies` mirror (v1, and v2's copy of it, where `requires` holds the
 * dependencies and optional dependencies). With `requirement`, the root's requirement in
 * `packages[""]` is rewritten too. Format: https://docs.npmjs.com/cli/v10/configuring-npm/package-lock-json.
 *
 * Nothing is written when the result would be inconsistent: each dependency of the new version
 * must resolve from the entry's location (Node module resolution, {@link resolveNpmLocation}) to
 * a locked version its range admits (node-semver), else it is reported in `missing`; and every
 * dependent that resolves to a moved entry must admit the new version, else it is reported in
 * `conflicts`. Optional peers (`peerDependenciesMeta`) may be absent.
 *
 * Edits splice values at their source positions (jsonc-parser `modify`): every other byte,
 * the file's indentation and its newline style stay as they were. Descriptive fields npm also
 * stores (`engines`, `bin`, `license`, `funding`, `hasInstallScript`) are left unchanged.
 * @throws LockfileInvalidError when the text is not a package-lock; InvalidInputError
 *   `REGISTRY_DOCUMENT_INVALID` when `metadata` lacks `version` or `dist.tarball`, or its version
 *   is not `version`.
 */
export function updateNpmLockfile(request: NpmLockUpdateRequest): NpmLockUpdateResult {
  const plan = planNpmMove(request);
  if ('status' in plan) return plan;
  const { missing, conflicts } = plan;
  if (missing.length > 0 || conflicts.length > 0) return { status: 'unsatisfied', missing, conflicts };
  const w = new LockWriter(request.text, plan.doc);
  for (const target of plan.targets) w.moveEntry(target, plan.meta, plan.hasPackages);
  if (request.requirement !== undefined && plan.hasPackages) w.setRootRequirement(request.name, request.requirement);
  return { status: 'updated', text: w.text, locations: plan.targets, edited: w.edited };
}

/** What moving a package would take, before anything is written (see {@link updateNpmLockfile}). */
export interface NpmMovePlan {
  meta: NpmVersionMetadata;
  doc: Record<string, unknown>;
  graph: ResolvedGraph;
  /** False for lockfileVersion 1 (no `packages`). */
  hasPackages: boolean;
  /** Locations of the entries to move. */
  targets: string[];
  missing: MissingDependency[];
  conflicts: RequirementConflict[];
}

/**
 * The checks of {@link updateNpmLockfile}: metadata, the entries to move, the new version's
 * dependencies that the lock does not satisfy and the dependents that exclude it.
 * @returns an early result (`not-found`, `unchanged`) or the plan.
 */
export function planNpmMove(request: NpmLockUpdateRequest): NpmMovePlan | { status: 'not-found' } | { status: 'unchanged'; locations: string[] } {
  const { file, text, name, version } = request;
  const meta = parseVersionMetadata(request.metadata, name, version);
  const doc = parseNpmLockDocument(file, text);
  const graph = readNpmLockfile(file, text);
  const hasPackages = graph.lockfileVersion !== '1';

  const matching = Object.values(graph.packages).filter((p) => p.name === name && npmNameFromLocation(p.id) === name && (request.from === undefined || p.version === request.from));
  if (matching.length === 0) return { status: 'not-found' };
  const targets = matching.filter((p) => p.version !== version);
  if (targets.length === 0) return { status: 'unchanged', locations: matching.map((p) => p.id) };
  const moved = new Set(targets.map((p) => p.id));

  // Every location of a package, link keys included (a workspace reached through node_modules/<name>).
  const at = new Map<string, string>();
  for (const p of Object.values(graph.packages)) for (const l of p.locations) at.set(l, p.id);
  const exists = (l: string) => at.has(l);
  const missing: MissingDependency[] = [];
  for (const target of targets) {
    for (const { name: dep, requirement, kind, optionalPeer } of wantedOf(meta)) {
      const location = resolveNpmLocation(target.id, dep, exists);
      const found = location === null ? null : graph.packages[at.get(location)!]!.version;
      if (location === null && optionalPeer) continue;
      if (found === null || !admits(found, requirement)) missing.push({ location: target.id, name: dep, requirement, kind, found });
    }
  }
  const conflicts: RequirementConflict[] = [];
  for (const e of graph.edges) {
    if (e.to === null || !moved.has(e.to) || request.override === true) continue;
    if (e.from === ROOT_ID && graph.rootsInferred) continue;
    const requirement = e.from === ROOT_ID && request.requirement !== undefined && e.importer === '.' ? request.requirement : e.requirement;
    if (!admits(version, requirement)) {
      conflicts.push({ from: e.from, ...(e.importer === undefined ? {} : { importer: e.importer }), location: e.to, requirement });
    }
  }
  return { meta, doc, graph, hasPackages, targets: targets.map((p) => p.id), missing, conflicts };
}

/** A version document checked with {@link NpmVersionMetadata}, of `name`@`version`. */
export function parseVersionMetadata(metadata: unknown, name: string, version: string): NpmVersionMetadata {
  const parsedMeta = NpmVersionMetadata.safeParse(metadata);
  if (!parsedMeta.success) {
    const issue = parsedMeta.error.issues[0];
    throw new InvalidInputError(
      'REGISTRY_DOCUMENT_INVALID',
      `registry metadata for ${name}@${version} is invalid: ${issue ? issue.path.map(String).join('.') || '(root)' : '(root)'}: ${issue?.message ?? 'invalid'}`,
      { cause: parsedMeta.error, details: { name, version } },
    );
  }
  if (parsedMeta.data.version !== version) {
    throw new InvalidInputError('REGISTRY_DOCUMENT_INVALID', `registry metadata is for ${name}@${parsedMeta.data.version}, not ${version}`, { details: { name, version } });
  }
  return parsedMeta.data;
}

/** The dependencies a version document declares (prod, optional, peer), optional peers marked. */
export function wantedOf(meta: NpmVersionMetadata): Array<{ name: string; requirement: string; kind: DependencyKind; optionalPeer: boolean }> {
  const optionalPeers = new Set(Object.entries(meta.peerDependenciesMeta ?? {}).filter(([, m]) => m.optional === true).map(([n]) => n));
  return [
    ...Object.entries(meta.dependencies ?? {}).map(([n, r]) => ({ name: n, requirement: r, kind: 'prod' as const, optionalPeer: false })),
    ...Object.entries(meta.optionalDependencies ?? {}).map(([n, r]) => ({ name: n, requirement: r, kind: 'optional' as const, optionalPeer: false })),
    ...Object.entries(meta.peerDependencies ?? {}).map(([n, r]) => ({ name: n, requirement: r, kind: 'peer' as const, optionalPeer: optionalPeers.has(n) })),
  ];
}

/** npm's order of `packages` keys and of nested `dependencies` names (localeCompare, as npm's `Shrinkwrap` sorts them). */
function insertionIndexOf(name: string): (properties: string[]) => number {
  return (properties) => {
    const i = properties.findIndex((p) => p.localeCompare(name, 'en') > 0);
    return i < 0 ? properties.length : i;
  };
}

/**
 * Edits of one lockfile text, each spliced at its source position (jsonc-parser `modify`), with
 * values compared against the parsed original so unchanged values keep their bytes.
 */
export class LockWriter {
  text: string;
  readonly edited: JSONPath[] = [];
  private readonly formattingOptions: FormattingOptions;

  constructor(
    original: string,
    private readonly doc: unknown,
  ) {
    this.text = original;
    this.formattingOptions = formattingOf(original);
  }

  set(path: JSONPath, value: unknown, insertAs?: string): void {
    const current = valueAt(this.doc, path);
    if (JSON.stringify(current) === JSON.stringify(value)) return;
    this.text = applyEdits(this.text, modify(this.text, path, value, { formattingOptions: this.formattingOptions, ...(insertAs === undefined ? {} : { getInsertionIndex: insertionIndexOf(insertAs) }) }));
    this.edited.push(path);
  }

  /** A dependency map, edited key by key so unchanged entries keep their bytes and order. */
  setMap(path: JSONPath, next: Record<string, string>): void {
    const current = valueAt(this.doc, path);
    if (Object.keys(next).length === 0) {
      if (current !== undefined) this.set(path, undefined);
      return;
    }
    if (!isRecord(current)) {
      this.set(path, next);
      return;
    }
    const old = stringMap(current);
    for (const k of Object.keys(old)) if (!(k in next)) this.set([...path, k], undefined);
    for (const [k, v] of Object.entries(next)) if (old[k] !== v) this.set([...path, k], v);
  }

  /** Moves the existing entry at `location` (`packages` and the legacy nested mirror) to `meta`'s version. */
  moveEntry(location: string, meta: NpmVersionMetadata, hasPackages: boolean): void {
    const integrity = integrityOf(meta);
    const fields = (base: JSONPath) => {
      this.set([...base, 'version'], meta.version);
      this.set([...base, 'resolved'], meta.dist.tarball);
      this.set([...base, 'integrity'], integrity);
    };
    if (hasPackages && isRecord(valueAt(this.doc, ['packages', location]))) {
      const base: JSONPath = ['packages', location];
      fields(base);
      this.setMap([...base, 'dependencies'], meta.dependencies ?? {});
      this.setMap([...base, 'optionalDependencies'], meta.optionalDependencies ?? {});
      this.setMap([...base, 'peerDependencies'], meta.peerDependencies ?? {});
      this.set([...base, 'peerDependenciesMeta'], meta.peerDependenciesMeta && Object.keys(meta.peerDependenciesMeta).length > 0 ? meta.peerDependenciesMeta : undefined);
    }
    const legacy = legacyPath(location);
    if (isRecord(valueAt(this.doc, legacy))) {
      fields(legacy);
      this.setMap([...legacy, 'requires'], { ...(meta.dependencies ?? {}), ...(meta.optionalDependencies ?? {}) });
    }
  }

  /**
   * Adds an entry at a free `location`: `packages[location]` (v2, v3) with `version`, `resolved`,
   * `integrity`, `dev`/`optional` flags and the dependency maps, and the legacy nested mirror
   * (v1, v2) with `requires`; keys inserted in npm's sorted order.
   */
  addEntry(location: string, meta: NpmVersionMetadata, flags: { dev?: boolean; optional?: boolean }, layout: { packages: boolean; legacy: boolean }): void {
    const nonEmpty = (m: Record<string, unknown> | undefined) => (m && Object.keys(m).length > 0 ? m : undefined);
    /** The common fields, then the format's dependency fields; undefined values dropped. */
    const entryOf = (deps: Record<string, unknown>) =>
      JSON.parse(
        JSON.stringify({
          version: meta.version,
          resolved: meta.dist.tarball,
          integrity: integrityOf(meta),
          dev: flags.dev === true ? true : undefined,
          optional: flags.optional === true ? true : undefined,
          ...deps,
        }),
      ) as Record<string, unknown>;
    if (layout.packages) {
      const entry = entryOf({
        dependencies: nonEmpty(meta.dependencies),
        optionalDependencies: nonEmpty(meta.optionalDependencies),
        peerDependencies: nonEmpty(meta.peerDependencies),
        peerDependenciesMeta: nonEmpty(meta.peerDependenciesMeta),
      });
      this.set(['packages', location], entry, location);
    }
    if (layout.legacy) {
      const path = legacyPath(location);
      this.set(path, entryOf({ requires: nonEmpty({ ...(meta.dependencies ?? {}), ...(meta.optionalDependencies ?? {}) }) }), path[path.length - 1] as string);
    }
  }

  /** Rewrites the root's requirement on `name` in `packages[""]`, in each dependency field declaring it. */
  setRootRequirement(name: string, requirement: string): void {
    for (const field of ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies']) {
      if (typeof valueAt(this.doc, ['packages', '', field, name]) === 'string') this.set(['packages', '', field, name], requirement);
    }
  }
}
