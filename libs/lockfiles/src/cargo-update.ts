import { cargoToSemverRange } from '@remediation/ecosystems';
import { InvalidInputError } from '@remediation/errors';
import semver from 'semver';
import { parseTOML, type AST } from 'toml-eslint-parser';
import { z } from 'zod';
import { LockfileInvalidError } from './errors.js';
import { readCargoLockfile } from './toml-locks.js';

/**
 * The fields of one record (one line) of a Cargo registry index file that a Cargo.lock entry is
 * made of (https://doc.rust-lang.org/cargo/reference/registry-index.html#json-schema): `name`,
 * `vers`, `cksum` (SHA-256 of the `.crate` file, hex: the value Cargo.lock stores as `checksum`)
 * and `deps` (`name`, `req`, `kind` — `normal`, `build` or `dev`, null meaning normal —
 * `optional`, and `package` when the dependency is renamed).
 */
export const CargoIndexRecord = z.looseObject({
  name: z.string(),
  vers: z.string(),
  cksum: z.string().regex(/^[0-9a-f]{64}$/),
  deps: z
    .array(
      z.looseObject({
        name: z.string(),
        req: z.string(),
        kind: z.enum(['normal', 'build', 'dev']).nullish(),
        optional: z.boolean().optional(),
        package: z.string().nullish(),
      }),
    )
    .default([]),
});
export type CargoIndexRecord = z.infer<typeof CargoIndexRecord>;

/** What to move in a Cargo.lock. */
export interface CargoLockUpdateRequest {
  /** Lockfile name, for messages. */
  file: string;
  /** Cargo.lock text. */
  text: string;
  /** Crate to move (a registry package, one with a `source`). */
  name: string;
  /** Version to move it to; must equal `record.vers`. */
  version: string;
  /** That version's record from the registry index (one parsed line of the crate's index file). */
  record: unknown;
  /** Move only the entry now at this version; required when several versions of the crate are locked. */
  from?: string;
}

/** A dependency of the new version that no locked package satisfies. */
export interface CargoMissingDependency {
  name: string;
  requirement: string;
  /** Locked versions of that crate (none satisfies the requirement). */
  locked: string[];
}

/** Outcome of {@link updateCargoLockfile}. */
export type CargoLockUpdateResult =
  | { status: 'updated'; text: string; from: string }
  | { status: 'unchanged' }
  /** The lockfile has no registry entry of the crate (at `from`, when given). */
  | { status: 'not-found' }
  /** Several versions are locked and `from` does not say which one moves; or the new version is already another entry. */
  | { status: 'ambiguous'; versions: string[] }
  /** Not written: the new version needs crates the lock does not hold at a compatible version. */
  | { status: 'unsatisfied'; missing: CargoMissingDependency[] };

interface Splice {
  start: number;
  end: number;
  text: string;
}

interface PackageTable {
  node: AST.TOMLTable;
  values: Map<string, AST.TOMLKeyValue>;
  name: string;
  version: string;
  source?: string;
}

function keyName(kv: AST.TOMLKeyValue): string {
  return kv.key.keys.map((k) => (k.type === 'TOMLBare' ? k.name : k.value)).join('.');
}

function stringOf(kv: AST.TOMLKeyValue | undefined): string | undefined {
  const v = kv?.value;
  return v?.type === 'TOMLValue' && v.kind === 'string' ? v.value : undefined;
}

/** The `[[package]]` tables with their key/value nodes (source ranges), in file order. */
function packageTables(file: string, text: string): PackageTable[] {
  let program: AST.TOMLProgram;
  try {
    program = parseTOML(text);
  } catch (err) {
    throw new LockfileInvalidError(file, 'cargo', `not valid TOML (${(err as Error).message})`, { cause: err });
  }
  const out: PackageTable[] = [];
  for (const item of program.body[0].body) {
    if (item.type !== 'TOMLTable' || item.kind !== 'array' || item.resolvedKey.length !== 2 || item.resolvedKey[0] !== 'package') continue;
    const values = new Map(item.body.map((kv) => [keyName(kv), kv]));
    const name = stringOf(values.get('name'));
    const version = stringOf(values.get('version'));
    if (name === undefined || version === undefined) throw new LockfileInvalidError(file, 'cargo', 'the entry has no string "name" and "version"', { where: item.loc.start.line });
    const source = stringOf(values.get('source'));
    out.push({ node: item, values, name, version, ...(source === undefined ? {} : { source }) });
  }
  return out;
}

/** A string value's content range, or null when its source is not exactly the value (escapes, multi-line). */
function contentRange(text: string, kv: AST.TOMLKeyValue | undefined): [number, number] | null {
  const v = kv?.value;
  if (v?.type !== 'TOMLValue' || v.kind !== 'string' || v.multiline) return null;
  return text.slice(v.range[0] + 1, v.range[1] - 1) === v.value ? [v.range[0] + 1, v.range[1] - 1] : null;
}

/** `name`, `name version` or `name version (source)` (Cargo's `EncodableDependency`, https://github.com/rust-lang/cargo/blob/master/src/cargo/core/resolver/encode.rs). */
function parseRef(ref: string): { name: string; version?: string; source?: string } {
  const m = /^(\S+)(?: (\S+))?(?: \((.+)\))?$/.exec(ref);
  return m ? { name: m[1]!, ...(m[2] ? { version: m[2] } : {}), ...(m[3] ? { source: m[3] } : {}) } : { name: ref };
}

/**
 * Moves a crate to another version inside Cargo.lock without running Cargo: the entry's `version`
 * and `checksum` (the index record's `cksum`, which is what Cargo.lock stores,
 * https://doc.rust-lang.org/cargo/reference/registry-index.html#json-schema), its `dependencies`
 * list, and the references of other packages that name it with its version (`name 1.2.3`, written
 * when several versions of a crate are locked; https://doc.rust-lang.org/cargo/guide/cargo-toml-vs-cargo-lock.html).
 *
 * The new `dependencies` list holds the record's `normal` and `build` dependencies (dev
 * dependencies of a registry crate are never locked) by package name (`package` for a renamed
 * one), each resolved to the highest locked version its requirement admits (Cargo's requirement
 * syntax, read by `cargoToSemverRange` of @remediation/ecosystems) and written `name` or, when
 * several versions of it are locked, `name version`; sorted as Cargo writes them. Optional
 * dependencies stay only when the old entry listed them (the features that enable them are taken
 * to be unchanged); target-specific ones are kept, as Cargo locks every target. Nothing is written
 * when a non-optional (or kept optional) dependency has no compatible locked version: those are
 * returned in `missing`.
 *
 * Edits splice values at their source positions (toml-eslint-parser ranges): every other byte
 * stays as it was. The entry keeps its place in the file (Cargo sorts by name, then version;
 * moving past another locked version of the same crate leaves the order for Cargo to restore on
 * its next write, which it reads without complaint).
 * @throws LockfileInvalidError when the text is not a Cargo.lock; InvalidInputError
 *   `REGISTRY_DOCUMENT_INVALID` when `record` is not an index record of `name`@`version`.
 */
export function updateCargoLockfile(request: CargoLockUpdateRequest): CargoLockUpdateResult {
  const { file, text, name, version } = request;
  const parsed = CargoIndexRecord.safeParse(request.record);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InvalidInputError('REGISTRY_DOCUMENT_INVALID', `index record for ${name}@${version} is invalid: ${issue ? issue.path.map(String).join('.') || '(root)' : '(root)'}: ${issue?.message ?? 'invalid'}`, {
      cause: parsed.error,
      details: { name, version },
    });
  }
  const record = parsed.data;
  if (record.name !== name || record.vers !== version) {
    throw new InvalidInputError('REGISTRY_DOCUMENT_INVALID', `index record is for ${record.name}@${record.vers}, not ${name}@${version}`, { details: { name, version } });
  }
  readCargoLockfile(file, text); // the same checks as reading
  const tables = packageTables(file, text);
  const entries = tables.filter((t) => t.name === name && t.source !== undefined);
  const candidates = entries.filter((t) => request.from === undefined || t.version === request.from);
  if (candidates.length === 0) return { status: 'not-found' };
  if (candidates.length > 1) return { status: 'ambiguous', versions: candidates.map((t) => t.version) };
  const target = candidates[0]!;
  if (target.version === version) return { status: 'unchanged' };
  if (entries.some((t) => t.version === version)) return { status: 'ambiguous', versions: entries.map((t) => t.version) };

  // Versions by crate after the move.
  const lockedVersions = new Map<string, string[]>();
  for (const t of tables) {
    const v = t === target ? version : t.version;
    lockedVersions.set(t.name, [...(lockedVersions.get(t.name) ?? []), v]);
  }
  const oldDeps = new Set(arrayStrings(target.values.get('dependencies')).map((d) => parseRef(d).name));
  const wanted = new Map<string, string[]>();
  for (const d of record.deps) {
    if (d.kind === 'dev') continue;
    const pkg = d.package ?? d.name;
    if (d.optional === true && !oldDeps.has(pkg)) continue;
    wanted.set(pkg, [...(wanted.get(pkg) ?? []), d.req]);
  }
  const missing: CargoMissingDependency[] = [];
  const refs: string[] = [];
  for (const [dep, reqs] of wanted) {
    const locked = lockedVersions.get(dep) ?? [];
    for (const req of reqs) {
      const range = cargoToSemverRange(req);
      const best = range === null ? null : semver.maxSatisfying(locked, range);
      if (best === null) {
        missing.push({ name: dep, requirement: req, locked });
        continue;
      }
      const ref = locked.length > 1 ? `${dep} ${best}` : dep;
      if (!refs.includes(ref)) refs.push(ref);
    }
  }
  if (missing.length > 0) return { status: 'unsatisfied', missing };
  refs.sort((a, b) => compareRefs(a, b));

  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  const splices: Splice[] = [];
  const setString = (kv: AST.TOMLKeyValue | undefined, value: string, what: string) => {
    const range = contentRange(text, kv);
    if (range === null) throw new LockfileInvalidError(file, 'cargo', `the ${what} of ${name} ${target.version} is not a plain string`, { where: target.node.loc.start.line });
    if (text.slice(range[0], range[1]) !== value) splices.push({ start: range[0], end: range[1], text: value });
  };
  setString(target.values.get('version'), version, 'version');
  if (target.values.has('checksum')) setString(target.values.get('checksum'), record.cksum, 'checksum');
  const depsKv = target.values.get('dependencies');
  const current = arrayStrings(depsKv);
  if (JSON.stringify(current) !== JSON.stringify(refs)) {
    const list = `[${eol}${refs.map((r) => ` "${r}",${eol}`).join('')}]`;
    if (depsKv !== undefined && refs.length > 0) splices.push({ start: depsKv.value.range[0], end: depsKv.value.range[1], text: list });
    else if (depsKv !== undefined) {
      // Remove the whole `dependencies = [...]` line(s), with the line break before them.
      const lineStart = text.lastIndexOf('\n', depsKv.range[0] - 1);
      splices.push({ start: lineStart > 0 && text[lineStart - 1] === '\r' ? lineStart - 1 : lineStart, end: depsKv.range[1], text: '' });
    } else {
      const last = target.node.body[target.node.body.length - 1]!;
      splices.push({ start: last.range[1], end: last.range[1], text: `${eol}dependencies = ${list}` });
    }
  }
  // References that name the old version (`name 1.2.3`, `name 1.2.3 (source)`) move with it.
  for (const t of tables) {
    const kv = t.values.get('dependencies');
    if (kv?.value.type !== 'TOMLArray') continue;
    for (const el of kv.value.elements) {
      if (el.type !== 'TOMLValue' || el.kind !== 'string') continue;
      const r = parseRef(el.value);
      if (r.name !== name || r.version !== target.version) continue;
      if (r.source !== undefined && r.source !== target.source) continue;
      const next = `${name} ${version}${r.source === undefined ? '' : ` (${r.source})`}`;
      splices.push({ start: el.range[0] + 1, end: el.range[1] - 1, text: next });
    }
  }
  // Cargo.lock format 1 keeps checksums in [metadata]: "checksum name version (source)" = "…".
  const legacyKey = `"checksum ${name} ${target.version} (${target.source})"`;
  const legacyAt = text.indexOf(legacyKey);
  if (legacyAt >= 0) {
    const lineEnd = text.indexOf('\n', legacyAt);
    const line = text.slice(legacyAt, lineEnd < 0 ? text.length : lineEnd);
    const m = /^("checksum [^"]+") = "([0-9a-f]*)"/.exec(line);
    if (m) splices.push({ start: legacyAt, end: legacyAt + m[0].length, text: `"checksum ${name} ${version} (${target.source})" = "${record.cksum}"` });
  }
  let out = text;
  for (const s of splices.sort((a, b) => b.start - a.start)) out = out.slice(0, s.start) + s.text + out.slice(s.end);
  return { status: 'updated', text: out, from: target.version };
}

function arrayStrings(kv: AST.TOMLKeyValue | undefined): string[] {
  if (kv?.value.type !== 'TOMLArray') return [];
  return kv.value.elements.flatMap((e) => (e.type === 'TOMLValue' && e.kind === 'string' ? [e.value] : []));
}

/** Cargo's order of dependency references: by name, then version (semver). */
function compareRefs(a: string, b: string): number {
  const ra = parseRef(a);
  const rb = parseRef(b);
  if (ra.name !== rb.name) return ra.name < rb.name ? -1 : 1;
  return semver.compare(ra.version ?? '0.0.0', rb.version ?? '0.0.0');
}
