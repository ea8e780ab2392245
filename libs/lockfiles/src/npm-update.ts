import { InvalidInputError } from '@remediation/errors';
import { Packument } from '@remediation/registry';
import { applyEdits, modify, type FormattingOptions, type JSONPath } from 'jsonc-parser';
import semver from 'semver';
import { z } from 'zod';
import { isRecord, stringMap } from './errors.js';
import { npmNameFromLocation, parseNpmLockDocument, readNpmLockfile, resolveNpmLocation } from './npm.js';
import { ROOT_ID, type DependencyKind } from './types.js';

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
function admits(version: string, requirement: string): boolean {
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
  const { file, text, name, version } = request;
  const parsedMeta = NpmVersionMetadata.safeParse(request.metadata);
  if (!parsedMeta.success) {
    const issue = parsedMeta.error.issues[0];
    throw new InvalidInputError(
      'REGISTRY_DOCUMENT_INVALID',
      `registry metadata for ${name}@${version} is invalid: ${issue ? issue.path.map(String).join('.') || '(root)' : '(root)'}: ${issue?.message ?? 'invalid'}`,
      { cause: parsedMeta.error, details: { name, version } },
    );
  }
  const meta = parsedMeta.data;
  if (meta.version !== version) {
    throw new InvalidInputError('REGISTRY_DOCUMENT_INVALID', `registry metadata is for ${name}@${meta.version}, not ${version}`, { details: { name, version } });
  }
  const doc = parseNpmLockDocument(file, text);
  const graph = readNpmLockfile(file, text);
  const hasPackages = graph.lockfileVersion !== '1';

  const matching = Object.values(graph.packages).filter((p) => p.name === name && npmNameFromLocation(p.id) === name && (request.from === undefined || p.version === request.from));
  if (matching.length === 0) return { status: 'not-found' };
  const targets = matching.filter((p) => p.version !== version);
  if (targets.length === 0) return { status: 'unchanged', locations: matching.map((p) => p.id) };
  const moved = new Set(targets.map((p) => p.id));

  const optionalPeers = new Set(Object.entries(meta.peerDependenciesMeta ?? {}).filter(([, m]) => m.optional === true).map(([n]) => n));
  const wanted: Array<[string, string, DependencyKind]> = [
    ...Object.entries(meta.dependencies ?? {}).map(([n, r]): [string, string, DependencyKind] => [n, r, 'prod']),
    ...Object.entries(meta.optionalDependencies ?? {}).map(([n, r]): [string, string, DependencyKind] => [n, r, 'optional']),
    ...Object.entries(meta.peerDependencies ?? {}).map(([n, r]): [string, string, DependencyKind] => [n, r, 'peer']),
  ];
  // Every location of a package, link keys included (a workspace reached through node_modules/<name>).
  const at = new Map<string, string>();
  for (const p of Object.values(graph.packages)) for (const l of p.locations) at.set(l, p.id);
  const exists = (l: string) => at.has(l);
  const missing: MissingDependency[] = [];
  for (const target of targets) {
    for (const [dep, requirement, kind] of wanted) {
      const location = resolveNpmLocation(target.id, dep, exists);
      const found = location === null ? null : graph.packages[at.get(location)!]!.version;
      if (location === null && kind === 'peer' && optionalPeers.has(dep)) continue;
      if (found === null || !admits(found, requirement)) missing.push({ location: target.id, name: dep, requirement, kind, found });
    }
  }
  const conflicts: RequirementConflict[] = [];
  for (const e of graph.edges) {
    if (e.to === null || !moved.has(e.to)) continue;
    if (e.from === ROOT_ID && graph.rootsInferred) continue;
    const requirement = e.from === ROOT_ID && request.requirement !== undefined && e.importer === '.' ? request.requirement : e.requirement;
    if (!admits(version, requirement)) {
      conflicts.push({ from: e.from, ...(e.importer === undefined ? {} : { importer: e.importer }), location: e.to, requirement });
    }
  }
  if (missing.length > 0 || conflicts.length > 0) return { status: 'unsatisfied', missing, conflicts };

  const formattingOptions = formattingOf(text);
  let out = text;
  const edited: JSONPath[] = [];
  const set = (path: JSONPath, value: unknown) => {
    const current = valueAt(doc, path);
    if (JSON.stringify(current) === JSON.stringify(value)) return;
    out = applyEdits(out, modify(out, path, value, { formattingOptions }));
    edited.push(path);
  };
  /** A dependency map, edited key by key so unchanged entries keep their bytes and order. */
  const setMap = (path: JSONPath, next: Record<string, string>) => {
    const current = valueAt(doc, path);
    if (Object.keys(next).length === 0) {
      if (current !== undefined) set(path, undefined);
      return;
    }
    if (!isRecord(current)) {
      set(path, next);
      return;
    }
    const old = stringMap(current);
    for (const k of Object.keys(old)) if (!(k in next)) set([...path, k], undefined);
    for (const [k, v] of Object.entries(next)) if (old[k] !== v) set([...path, k], v);
  };
  const integrity = integrityOf(meta);
  const fields = (base: JSONPath) => {
    set([...base, 'version'], version);
    set([...base, 'resolved'], meta.dist.tarball);
    set([...base, 'integrity'], integrity);
  };
  for (const target of targets) {
    if (hasPackages && isRecord(valueAt(doc, ['packages', target.id]))) {
      const base: JSONPath = ['packages', target.id];
      fields(base);
      setMap([...base, 'dependencies'], meta.dependencies ?? {});
      setMap([...base, 'optionalDependencies'], meta.optionalDependencies ?? {});
      setMap([...base, 'peerDependencies'], meta.peerDependencies ?? {});
      set([...base, 'peerDependenciesMeta'], meta.peerDependenciesMeta && Object.keys(meta.peerDependenciesMeta).length > 0 ? meta.peerDependenciesMeta : undefined);
    }
    const legacy = legacyPath(target.id);
    if (isRecord(valueAt(doc, legacy))) {
      fields(legacy);
      setMap([...legacy, 'requires'], { ...(meta.dependencies ?? {}), ...(meta.optionalDependencies ?? {}) });
    }
  }
  if (request.requirement !== undefined && hasPackages) {
    for (const field of ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies']) {
      if (typeof valueAt(doc, ['packages', '', field, name]) === 'string') set(['packages', '', field, name], request.requirement);
    }
  }
  return { status: 'updated', text: out, locations: targets.map((p) => p.id), edited };
}
