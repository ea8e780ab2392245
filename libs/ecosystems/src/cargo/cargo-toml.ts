import { InvalidInputError } from '@remediation/errors';
import semver from 'semver';
import type { AST } from 'toml-eslint-parser';
import { lineAt } from '../text-position.js';
import { tomlContentOffset as contentOffset, tomlLeaves } from '../toml-source.js';
import { applyFloorEdits } from '../pypi/floor-edits.js';
import type { FloorChange } from '../pypi/specifier.js';
import type { ManifestContents, ManifestDependency, ManifestEdit, ManifestManager } from '../types.js';
import { cargoToSemverRange, parseCargoRequirement } from './versioning.js';

/** Dependency tables of a manifest (https://doc.rust-lang.org/cargo/reference/specifying-dependencies.html); the `_` spellings are Cargo's old aliases. */
const DEPENDENCY_TABLES = new Set(['dependencies', 'dev-dependencies', 'build-dependencies', 'dev_dependencies', 'build_dependencies']);

/** Length of the dependency-table prefix of `path` (`dependencies` 1, `target.<cfg>.dependencies` 3, `workspace.dependencies` 2), or 0. */
function tableDepth(path: Array<string | number>): number {
  if (typeof path[0] === 'string' && DEPENDENCY_TABLES.has(path[0])) return 1;
  if (path[0] === 'target' && typeof path[2] === 'string' && DEPENDENCY_TABLES.has(path[2])) return 3;
  if (path[0] === 'workspace' && path[1] === 'dependencies') return 2;
  return 0;
}

/** The facts of one dependency entry (`name = "req"`, `name = { … }`, `[table.name]`, dotted keys). */
interface Entry {
  table: Array<string | number>;
  key: string;
  requirement?: AST.TOMLStringValue;
  crate?: string;
  workspace?: AST.TOMLBooleanValue;
  pathOrGit?: { kind: 'path' | 'git'; node: AST.TOMLStringValue };
  features: string[];
}

function entries(file: string, text: string): Entry[] {
  const byKey = new Map<string, Entry>();
  for (const { path, node } of tomlLeaves(file, text)) {
    const depth = tableDepth(path);
    const key = path[depth];
    if (depth === 0 || typeof key !== 'string') continue;
    const table = path.slice(0, depth);
    const id = JSON.stringify([...table, key]);
    const entry = byKey.get(id) ?? { table, key, features: [] };
    byKey.set(id, entry);
    const rest = path.slice(depth + 1);
    if (node.kind === 'string') {
      if (rest.length === 0 || (rest.length === 1 && rest[0] === 'version')) entry.requirement = node;
      else if (rest.length === 1 && rest[0] === 'package') entry.crate = node.value;
      else if (rest.length === 1 && (rest[0] === 'path' || rest[0] === 'git')) entry.pathOrGit = { kind: rest[0], node };
      else if (rest.length === 2 && rest[0] === 'features') entry.features.push(node.value);
    } else if (rest.length === 1 && rest[0] === 'workspace' && node.value) {
      entry.workspace = node;
    }
  }
  return [...byKey.values()];
}

/**
 * Manager of Cargo manifests (`Cargo.toml`, https://doc.rust-lang.org/cargo/reference/manifest.html
 * and https://doc.rust-lang.org/cargo/reference/specifying-dependencies.html). Extracts every entry
 * of `[dependencies]`, `[dev-dependencies]`, `[build-dependencies]` (and the `_` aliases),
 * `[target.'<cfg or triple>'.<kind>]` and `[workspace.dependencies]`, in each form: a string
 * (`serde = "1.0"`), an inline table (`{ version = "1.0", features = [...] }`), a table
 * (`[dependencies.serde]`) or dotted keys (`serde.version = "1"`).
 *
 * - `name`: the crate name, i.e. `package` when the entry renames (`web = { package = "axum", … }`);
 *   `normalisedName` lowercase (crates.io names are unique case-insensitively).
 * - `section`: the table path (`dependencies`, `target.cfg(unix).dev-dependencies`,
 *   `workspace.dependencies`); `marker`: the target's `cfg(..)` or triple.
 * - `extras`: the `features` requested.
 * - `workspace = true` entries inherit from `[workspace.dependencies]`: when that table is in the
 *   same file the dependency is reported at the workspace entry (its requirement and location,
 *   section `workspace.dependencies`); otherwise it is `uneditable` (edit the workspace root).
 * - `path`/`git` entries without `version` are `uneditable`; with a `version` the version is edited.
 * - Requirements in TOML strings with escapes or spanning lines are `uneditable`.
 *
 * `style` is `cargo`. Edits splice by the parser's source offsets; nothing
 * is re-serialised. Floors are raised by {@link raiseCargoFloor}.
 */
export const cargoTomlManager: ManifestManager = {
  name: 'cargo',
  matches: (path) => /(^|\/)Cargo\.toml$/.test(path),
  extract(file, text): ManifestContents {
    const all = entries(file, text);
    const workspaceEntries = new Map(all.filter((e) => e.table[0] === 'workspace').map((e) => [e.key, e]));
    const dependencies: ManifestDependency[] = [];
    for (const entry of all) {
      const inherited = entry.workspace ? workspaceEntries.get(entry.key) : undefined;
      const source = inherited ?? entry;
      const crate = source.crate ?? entry.crate ?? entry.key;
      const marker = entry.table[0] === 'target' ? String(entry.table[1]) : undefined;
      const common = { name: crate, normalisedName: crate.toLowerCase(), style: 'cargo' as const, extras: entry.features, ...(marker ? { marker } : {}), hashes: false };
      const req = source.requirement;
      if (entry.workspace && !inherited) {
        const offset = entry.workspace.range[0];
        dependencies.push({
          ...common,
          requirement: '',
          location: { file, line: lineAt(text, offset), offset, length: 0, section: entry.table.join('.') },
          uneditable: `inherits ${entry.key} from [workspace.dependencies] of the workspace root manifest (workspace = true); edit it there`,
        });
        continue;
      }
      if (!req) {
        const at = source.pathOrGit?.node ?? entry.workspace;
        const offset = at ? at.range[0] : 0;
        dependencies.push({
          ...common,
          requirement: '',
          location: { file, line: lineAt(text, offset), offset, length: 0, section: source.table.join('.') },
          uneditable: source.pathOrGit ? `${source.pathOrGit.kind} dependency ${JSON.stringify(source.pathOrGit.node.value)} without a version` : 'the entry has no version requirement',
        });
        continue;
      }
      const base = contentOffset(text, req);
      const offset = base ?? req.range[0];
      dependencies.push({
        ...common,
        requirement: req.value,
        location: { file, line: lineAt(text, offset), offset, length: base === null ? req.range[1] - req.range[0] : req.value.length, section: source.table.join('.') },
        ...(base === null ? { uneditable: 'the TOML string uses escapes or spans lines' } : {}),
      });
    }
    return { dependencies, includes: [], hashChecking: false };
  },
  raiseFloor(file, text, name, fixedVersion): ManifestEdit {
    const wanted = name.toLowerCase();
    const seen = new Set<number>();
    const targets = cargoTomlManager
      .extract(file, text)
      .dependencies.filter((d) => d.normalisedName === wanted)
      .filter((d) => (d.uneditable ? true : !seen.has(d.location.offset) && seen.add(d.location.offset)))
      .map((dependency) => ({ dependency, change: raiseCargoFloor }));
    return applyFloorEdits(file, text, name, fixedVersion, targets);
  },
};

/**
 * The shortest spelling of `fixed` with at least `segments` segments that means the same
 * requirement under `op` (`^1.2.0` and `^1.2` are one range; `^0.0.0` and `^0.0` are not):
 * compared by node-semver's normalised ranges.
 */
function spell(op: string, fixed: string, segments: number): string {
  const v = semver.parse(fixed)!;
  if (v.prerelease.length > 0 || v.build.length > 0) return fixed;
  const parts = [v.major, v.minor, v.patch];
  const full = new semver.Range(`${op}${fixed}`).range;
  for (let k = Math.max(1, segments); k < 3; k++) {
    const candidate = parts.slice(0, k).join('.');
    if (new semver.Range(`${op}${candidate}`).range === full) return candidate;
  }
  return fixed;
}

const FLOOR_CLAUSE = /^(\s*)(>=|>)(\s*)(\S+)(\s*)$/;

/**
 * Raise a Cargo requirement (https://doc.rust-lang.org/cargo/reference/specifying-dependencies.html)
 * so that `fixed` is the lowest version it admits, in the requirement's own style:
 * - bare `a` (Cargo's caret) → `fixed`, `^a` → `^fixed`, `~a` → `~fixed`: written with as many
 *   segments as `a` had when that means the same range (`1.0` with fix 1.2.0 → `1.2`; `0.3` with
 *   fix 0.3.5 → `0.3.5`; `~1` with fix 1.4.0 → `~1.4`, which narrows `<2.0.0` to `<1.5.0`, the
 *   tilde line of the fix);
 * - `=a` → `=fixed` (full version: `=1.2` would mean 1.2.x);
 * - `*` → `>=fixed`;
 * - comparison lists: each `>=`/`>` floor becomes `>=fixed`, or `>=fixed, ` is prepended when there
 *   is none; `refused` `cap-excludes-fix` when a `<`/`<=` cap excludes `fixed`;
 * - wildcards (`1.*`) and lists mixing `^`/`~`/`=` with other comparators are refused
 *   (`unsupported-requirement`).
 * `unchanged` when the lowest version the requirement admits is already `fixed` or newer. Every
 * result is checked: its lowest admissible version must be `fixed`.
 * @throws InvalidInputError `VERSION_INVALID` when `fixed` is not a semver version.
 */
export function raiseCargoFloor(requirement: string, fixed: string): FloorChange {
  if (semver.valid(fixed) === null) throw new InvalidInputError('VERSION_INVALID', `not a semver version: ${JSON.stringify(fixed)}`, { details: { version: fixed } });
  const comparators = parseCargoRequirement(requirement);
  const range = cargoToSemverRange(requirement);
  if (!comparators || range === null) {
    return { status: 'refused', reason: 'unsupported-requirement', message: `${JSON.stringify(requirement)} is not a Cargo version requirement` };
  }
  const lowest = semver.minVersion(range);
  if (lowest && semver.gte(lowest, fixed)) return { status: 'unchanged' };
  let next: string;
  if (comparators.length === 1 && comparators[0]!.version === '*') {
    next = `>=${fixed}`;
  } else if (comparators.some((c) => /[*xX]/.test(c.version))) {
    return { status: 'refused', reason: 'unsupported-requirement', message: `wildcard requirement ${JSON.stringify(requirement)} is not raised automatically` };
  } else if (comparators.length === 1 && ['', '^', '~', '='].includes(comparators[0]!.op)) {
    const { op, version } = comparators[0]!;
    const written = op === '=' ? fixed : spell(op === '~' ? '~' : '^', fixed, version.split('-')[0]!.split('.').length);
    next = requirement.replace(version, written);
  } else {
    if (comparators.some((c) => ['', '^', '~', '='].includes(c.op))) {
      return { status: 'refused', reason: 'unsupported-requirement', message: `${JSON.stringify(requirement)} mixes ^, ~ or = with other comparators; not raised automatically` };
    }
    for (const c of comparators.filter((c) => c.op === '<' || c.op === '<=')) {
      if (!semver.satisfies(fixed, `${c.op}${c.version}`)) {
        return { status: 'refused', reason: 'cap-excludes-fix', message: `the upper bound ${c.op}${c.version} of ${JSON.stringify(requirement)} excludes the fixed version ${fixed}` };
      }
    }
    const clauses = requirement.split(',');
    const hasFloor = clauses.some((c) => FLOOR_CLAUSE.test(c));
    next = hasFloor ? clauses.map((c) => c.replace(FLOOR_CLAUSE, (_m, pre: string, _op, gap: string, _v, post: string) => `${pre}>=${gap}${fixed}${post}`)).join(',') : `>=${fixed}, ${requirement}`;
  }
  const checked = cargoToSemverRange(next);
  if (checked === null || semver.minVersion(checked)?.version !== fixed || !semver.satisfies(fixed, checked)) {
    return { status: 'refused', reason: 'unsupported-requirement', message: `raising ${JSON.stringify(requirement)} to ${fixed} gave ${JSON.stringify(next)}, which does not admit exactly ${fixed} as its lowest version` };
  }
  return { status: 'edited', specifier: next };
}
