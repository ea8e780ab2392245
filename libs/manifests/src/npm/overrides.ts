import { type FormattingOptions, type JSONPath, type Node, applyEdits, findNodeAtLocation, modify } from 'jsonc-parser';
import semver from 'semver';
import { ManifestEditError } from '../errors.js';
import { DEPENDENCY_SECTIONS, findDeclaration, parseManifest } from './package-json.js';
import { assertTargetVersion } from './range-floor.js';

/** Outcome of {@link setNpmOverride}. */
export interface OverrideResult {
  /** The new package.json text; identical to the input when `changed` is false. */
  readonly text: string;
  readonly changed: boolean;
  /** The override's value before (`null`: there was none) and after, e.g. `null` → `0.7.0`. */
  readonly from: string | null;
  readonly to: string;
}

/** jsonc-parser's formatting options for a text: its indentation step and newline. */
function formattingOf(text: string): FormattingOptions {
  const step = indentStep(text);
  return { insertSpaces: !step.includes('\t'), tabSize: step.includes('\t') ? 1 : step.length, eol: text.includes('\r\n') ? '\r\n' : '\n' };
}

/** The last property node of an object node, or undefined when it is empty. */
const lastChild = (object: Node): Node | undefined => object.children?.at(-1);

/** The indentation of the line holding `offset`, and the text's newline. */
function layoutAt(text: string, offset: number): { indent: string; eol: string } {
  const lineStart = text.lastIndexOf('\n', offset) + 1;
  return { indent: /^[ \t]*/.exec(text.slice(lineStart))![0], eol: text.includes('\r\n') ? '\r\n' : '\n' };
}

/** One indentation step of the text (its first indented line's), for a new nested object. */
const indentStep = (text: string): string => /\n([ \t]+)\S/.exec(text)?.[1] ?? '  ';

/**
 * Inserts `"key": <value>` as the last property of `object` (a jsonc-parser node of `text`): after
 * its last property, on a new line with that property's indentation; in an empty object, on a new
 * line one step in. `value` is written as given (already JSON).
 */
function appendProperty(text: string, object: Node, key: string, value: string): string {
  const last = lastChild(object);
  if (last !== undefined) {
    const { indent, eol } = layoutAt(text, last.offset);
    const at = last.offset + last.length;
    return `${text.slice(0, at)},${eol}${indent}${JSON.stringify(key)}: ${value}${text.slice(at)}`;
  }
  const { indent, eol } = layoutAt(text, object.offset);
  const at = object.offset + 1;
  return `${text.slice(0, at)}${eol}${indent}${indentStep(text)}${JSON.stringify(key)}: ${value}${eol}${indent}${text.slice(at + object.length - 2)}`;
}

/**
 * Pins a package everywhere in the dependency tree with npm's `overrides` field of package.json
 * (https://docs.npmjs.com/cli/v10/configuring-npm/package-json#overrides): `"overrides": {
 * "<name>": "<version>" }` is added (the field at the end of the object when absent, the key at the
 * end of the field), or the existing entry's value (its `"."` when the entry holds nested
 * overrides) is set to `version`. Edited through jsonc-parser at the source positions: every other
 * byte, the indentation and the newline style stay; a BOM is kept.
 * @throws ManifestParseError (MANIFEST_INVALID) when the text is not a JSON object.
 * @throws ManifestEditError `INVALID_TARGET_VERSION` when `version` is not a full semver version;
 *   `OVERRIDE_CONFLICT` when `name` is also a direct dependency whose range does not admit
 *   `version` (npm refuses such an override, EOVERRIDE) or `overrides` is not an object.
 */
export function setNpmOverride(text: string, name: string, version: string): OverrideResult {
  assertTargetVersion(version, name);
  const manifest = parseManifest(text);
  for (const section of DEPENDENCY_SECTIONS) {
    const declared = findDeclaration(manifest, section, name);
    if (declared !== null && !semver.satisfies(version, declared.value, { loose: true })) {
      throw new ManifestEditError('OVERRIDE_CONFLICT', `${name} is also declared in ${section} as ${JSON.stringify(declared.value)}, which does not admit the override ${version} (npm refuses it: EOVERRIDE)`, {
        dependency: name,
        section,
        specifier: declared.value,
      });
    }
  }
  const body = text.slice(manifest.shift);
  const root = manifest.root;
  const field = findNodeAtLocation(root, ['overrides']);
  if (field === undefined) {
    // A new field after the root's last property: `"overrides": { "<name>": "<version>" }`.
    const last = lastChild(root);
    const { indent, eol } = last ? layoutAt(body, last.offset) : { indent: indentStep(body), eol: body.includes('\r\n') ? '\r\n' : '\n' };
    const value = `{${eol}${indent}${indentStep(body)}${JSON.stringify(name)}: ${JSON.stringify(version)}${eol}${indent}}`;
    return { text: text.slice(0, manifest.shift) + appendProperty(body, root, 'overrides', value), changed: true, from: null, to: version };
  }
  if (field.type !== 'object') throw new ManifestEditError('OVERRIDE_CONFLICT', 'package.json "overrides" is not an object', { dependency: name });
  const entry = findNodeAtLocation(field, [name]);
  const literal = entry?.type === 'object' ? findNodeAtLocation(entry, ['.']) : entry;
  if (literal === undefined) {
    if (entry !== undefined) return { text: text.slice(0, manifest.shift) + appendProperty(body, entry, '.', JSON.stringify(version)), changed: true, from: null, to: version };
    return { text: text.slice(0, manifest.shift) + appendProperty(body, field, name, JSON.stringify(version)), changed: true, from: null, to: version };
  }
  const before = literal.value as unknown;
  if (before === version) return { text, changed: false, from: version, to: version };
  const next = body.slice(0, literal.offset) + JSON.stringify(version) + body.slice(literal.offset + literal.length);
  return { text: text.slice(0, manifest.shift) + next, changed: true, from: typeof before === 'string' ? before : null, to: version };
}

/**
 * Puts `name`'s `overrides` entry back as it is in `originalText` (removed when it had none; the
 * whole field removed when it held nothing else), editing only that entry; used when a transitive
 * target whose override was written does not ship.
 * @returns the new text and whether it changed.
 * @throws ManifestParseError (MANIFEST_INVALID) when either text is not a JSON object.
 */
export function restoreNpmOverride(text: string, originalText: string, name: string): { text: string; restored: boolean } {
  const manifest = parseManifest(text);
  const original = parseManifest(originalText);
  const body = text.slice(manifest.shift);
  const now = (JSON.parse(body) as Record<string, unknown>)['overrides'] as Record<string, unknown> | undefined;
  const before = (JSON.parse(originalText.slice(original.shift)) as Record<string, unknown>)['overrides'] as Record<string, unknown> | undefined;
  if (JSON.stringify(now?.[name]) === JSON.stringify(before?.[name])) return { text, restored: false };
  const onlyEntry = before === undefined && now !== undefined && Object.keys(now).length === 1;
  const path: JSONPath = onlyEntry ? ['overrides'] : ['overrides', name];
  const next = applyEdits(body, modify(body, path, onlyEntry ? undefined : before?.[name], { formattingOptions: formattingOf(body) }));
  return { text: text.slice(0, manifest.shift) + next, restored: true };
}
