import { InvalidInputError } from '@remediation/errors';
import * as pep440 from '@renovatebot/pep440';
import { parseTOML, type AST } from 'toml-eslint-parser';
import type { ManifestContents, ManifestDependency, ManifestEdit, ManifestManager } from '../types.js';
import { applyFloorEdits } from './floor-edits.js';
import { normalisePythonName } from './names.js';
import { compatibleReleaseOperand, parseRequirement, raisePep440Floor, type FloorChange } from './specifier.js';

/** A string value of the TOML document with its key path (array indexes as numbers). */
interface StringAt {
  path: Array<string | number>;
  node: AST.TOMLStringValue;
}

function keyNames(key: AST.TOMLKey): string[] {
  return key.keys.map((k) => (k.type === 'TOMLBare' ? k.name : k.value));
}

function collect(node: AST.TOMLContentNode, path: Array<string | number>, out: StringAt[]): void {
  if (node.type === 'TOMLValue') {
    if (node.kind === 'string') out.push({ path, node });
  } else if (node.type === 'TOMLArray') {
    node.elements.forEach((e, i) => collect(e, [...path, i], out));
  } else {
    for (const kv of node.body) collect(kv.value, [...path, ...keyNames(kv.key)], out);
  }
}

/**
 * Every string value of a TOML document with its full key path, from toml-eslint-parser's AST
 * (https://github.com/ota-meshi/toml-eslint-parser), whose `range`s are the source offsets
 * edits splice at. @throws InvalidInputError `MANIFEST_INVALID` when the text is not TOML 1.0.
 */
function tomlStrings(file: string, text: string): StringAt[] {
  let program: AST.TOMLProgram;
  try {
    program = parseTOML(text);
  } catch (err) {
    throw new InvalidInputError('MANIFEST_INVALID', `${file} is not valid TOML: ${(err as Error).message}`, { cause: err, details: { file } });
  }
  const out: StringAt[] = [];
  for (const item of program.body[0].body) {
    if (item.type === 'TOMLKeyValue') collect(item.value, keyNames(item.key), out);
    else for (const kv of item.body) collect(kv.value, [...item.resolvedKey, ...keyNames(kv.key)], out);
  }
  return out;
}

/**
 * Offset in the file of the string's content, when the source between the quotes is exactly
 * the value (no escapes, single line); otherwise null (such a string is reported uneditable).
 */
function contentOffset(text: string, node: AST.TOMLStringValue): number | null {
  if (node.multiline) return null;
  const inner = text.slice(node.range[0] + 1, node.range[1] - 1);
  return inner === node.value ? node.range[0] + 1 : null;
}

function lineAt(text: string, offset: number): number {
  let n = 1;
  for (let i = 0; i < offset; i++) if (text[i] === '\n') n++;
  return n;
}

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
