import * as pep440 from '@renovatebot/pep440';
import { lineAt } from '../text-position.js';
import { tomlContentOffset as contentOffset, tomlStrings } from '../toml-source.js';
import type { ManifestContents, ManifestDependency, ManifestEdit, ManifestManager } from '../types.js';
import { applyFloorEdits } from './floor-edits.js';
import { normalisePythonName } from './names.js';
import { compatibleReleaseOperand, parseRequirement, raisePep440Floor, type FloorChange } from './specifier.js';

const isPyproject = (path: string): boolean => /(^|\/)pyproject\.toml$/.test(path);

/**
 * Manager of PEP 621 `pyproject.toml` (https://packaging.python.org/en/latest/specifications/pyproject-toml/):
 * PEP 508 strings in `[project] dependencies` and `[project.optional-dependencies] <extra>`.
 * Edits splice the new specifier inside the string by its source offsets; nothing is re-serialised.
 */
export const pep621Manager: ManifestManager = {
  name: 'pep621',
  matches: isPyproject,
  extract(file, text): ManifestContents {
    const dependencies: ManifestDependency[] = [];
    for (const { path, node } of tomlStrings(file, text)) {
      const isMain = path.length === 3 && path[0] === 'project' && path[1] === 'dependencies';
      const isOptional = path.length === 4 && path[0] === 'project' && path[1] === 'optional-dependencies';
      if (!isMain && !isOptional) continue;
      const parts = parseRequirement(node.value);
      if (!parts) continue;
      const base = contentOffset(text, node);
      const offset = (base ?? node.range[0]) + parts.specStart;
      dependencies.push({
        name: parts.name,
        normalisedName: normalisePythonName(parts.name),
        requirement: parts.specifier,
        style: 'pep440',
        location: { file, line: lineAt(text, offset), offset, length: parts.specEnd - parts.specStart, section: path.slice(0, isMain ? 2 : 3).join('.') },
        extras: parts.extras,
        ...(parts.marker ? { marker: parts.marker } : {}),
        hashes: false,
        ...(base === null ? { uneditable: 'the TOML string uses escapes or spans lines' } : parts.url !== undefined ? { uneditable: `direct reference ${parts.url}` } : {}),
      });
    }
    return { dependencies, includes: [], hashChecking: false };
  },
  raiseFloor(file, text, name, fixedVersion): ManifestEdit {
    const wanted = normalisePythonName(name);
    const targets = pep621Manager.extract(file, text).dependencies.filter((d) => d.normalisedName === wanted).map((dependency) => ({ dependency }));
    return applyFloorEdits(file, text, name, fixedVersion, targets);
  },
};

/** Whether `path` is a Poetry dependency table: `tool.poetry.dependencies`, `tool.poetry.dev-dependencies`, `tool.poetry.group.<g>.dependencies`. */
function poetrySection(path: Array<string | number>): number {
  if (path[0] !== 'tool' || path[1] !== 'poetry') return 0;
  if (path[2] === 'dependencies' || path[2] === 'dev-dependencies') return 3;
  if (path[2] === 'group' && path[4] === 'dependencies') return 5;
  return 0;
}

/**
 * Raise a Poetry constraint (https://python-poetry.org/docs/dependency-specification/) in its
 * own style: `^a` → `^fixed`, `~a` → `~fixed`, `~=a` → `~=fixed` (segments kept), `a` (exact)
 * → `fixed`, `*`/empty → `>=fixed`, comma-separated PEP 440 clauses as {@link raisePep440Floor}.
 * `||` unions and space-separated clauses are refused (`unsupported-requirement`).
 */
export function raisePoetryFloor(constraint: string, fixed: string): FloorChange {
  const c = constraint.trim();
  if (c === '' || c === '*') return { status: 'edited', specifier: `>=${fixed}` };
  const m = /^(\^|~(?!=))\s*(\S+)$/.exec(c);
  if (m) {
    if (pep440.valid(m[2]!) === null) return { status: 'refused', reason: 'unsupported-requirement', message: `cannot read the Poetry constraint ${JSON.stringify(constraint)}` };
    return pep440.gte(m[2]!, fixed) ? { status: 'unchanged' } : { status: 'edited', specifier: constraint.replace(m[2]!, fixed) };
  }
  if (pep440.valid(c) !== null && /^[0-9]/.test(c)) {
    return pep440.gte(c, fixed) ? { status: 'unchanged' } : { status: 'edited', specifier: constraint.replace(c, fixed) };
  }
  if (/\|\|/.test(c) || /[0-9*]\s+[<>=!~^]/.test(c)) {
    return { status: 'refused', reason: 'unsupported-requirement', message: `Poetry constraint ${JSON.stringify(constraint)} is a union or space-separated set; not raised automatically` };
  }
  const compat = /^~=\s*(\S+)$/.exec(c);
  if (compat && pep440.valid(compat[1]!) !== null) {
    if (pep440.gte(compat[1]!, fixed)) return { status: 'unchanged' };
    return { status: 'edited', specifier: constraint.replace(compat[1]!, compatibleReleaseOperand(fixed, compat[1]!)) };
  }
  return raisePep440Floor(constraint, fixed);
}

/**
 * Manager of Poetry's `pyproject.toml` tables (https://python-poetry.org/docs/pyproject/):
 * `[tool.poetry.dependencies]`, `[tool.poetry.dev-dependencies]` and
 * `[tool.poetry.group.<group>.dependencies]`, each entry a constraint string or a table with
 * `version` (inline or `[tool.poetry.dependencies.<name>]`, or an array of such tables). The
 * `python` entry is not a dependency. Edits splice by the parser's source offsets.
 */
export const poetryManager: ManifestManager = {
  name: 'poetry',
  matches: isPyproject,
  extract(file, text): ManifestContents {
    const dependencies: ManifestDependency[] = [];
    for (const { path, node } of tomlStrings(file, text)) {
      const depth = poetrySection(path);
      if (depth === 0) continue;
      const name = path[depth];
      const rest = path.slice(depth + 1);
      const isConstraint = rest.length === 0 || (rest.length === 1 && rest[0] === 'version') || (rest.length === 2 && typeof rest[0] === 'number' && rest[1] === 'version');
      if (typeof name !== 'string' || name.toLowerCase() === 'python' || !isConstraint) continue;
      const base = contentOffset(text, node);
      const offset = base ?? node.range[0];
      dependencies.push({
        name,
        normalisedName: normalisePythonName(name),
        requirement: node.value,
        style: 'poetry',
        location: { file, line: lineAt(text, offset), offset, length: node.value.length, section: path.slice(0, depth).join('.') },
        extras: [],
        hashes: false,
        ...(base === null ? { uneditable: 'the TOML string uses escapes or spans lines' } : {}),
      });
    }
    return { dependencies, includes: [], hashChecking: false };
  },
  raiseFloor(file, text, name, fixedVersion): ManifestEdit {
    const wanted = normalisePythonName(name);
    const targets = poetryManager
      .extract(file, text)
      .dependencies.filter((d) => d.normalisedName === wanted)
      .map((dependency) => ({ dependency, change: raisePoetryFloor }));
    return applyFloorEdits(file, text, name, fixedVersion, targets);
  },
};
