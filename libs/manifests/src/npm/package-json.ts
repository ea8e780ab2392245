import { type Node, type ParseError, parseTree, printParseErrorCode } from 'jsonc-parser';
import { ManifestEditError, ManifestParseError } from '../errors.js';

/**
 * Sections this library reads and edits, in the order edits are reported. Meaning of each
 * section: npm package.json docs, https://docs.npmjs.com/cli/v10/configuring-npm/package-json
 * (#dependencies, #devdependencies, #optionaldependencies). `peerDependencies` is read only
 * for notes and is never edited.
 */
export const DEPENDENCY_SECTIONS = ['dependencies', 'devDependencies', 'optionalDependencies'] as const;

/** One of {@link DEPENDENCY_SECTIONS}. */
export type DependencySection = (typeof DEPENDENCY_SECTIONS)[number];

/** A parsed package.json: the jsonc-parser tree plus what is needed to map offsets back. */
export interface ParsedManifest {
  /** The original text, BOM included. */
  readonly text: string;
  /** Root object node; offsets are relative to `text` without its BOM. */
  readonly root: Node;
  /** 1 when the text starts with a UTF-8 BOM (U+FEFF), else 0: add it to node offsets. */
  readonly shift: number;
}

/** A dependency entry found in one section. */
export interface Declaration {
  readonly section: string;
  /** The declared specifier, exactly as written (not trimmed). */
  readonly value: string;
  /** The string literal node of the value (offset/length include the quotes). */
  readonly node: Node;
  /** How many times the name is a key in that section (>1 only in malformed files). */
  readonly occurrences: number;
}

/** 1-based line and column (UTF-16 code units) of a 0-based offset; CRLF counts as one break. */
export function positionAt(text: string, offset: number): { line: number; column: number; offset: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1, offset };
}

/**
 * Parses package.json text as strict JSON, keeping offsets.
 * @throws ManifestParseError (MANIFEST_INVALID) with the line/column of the first syntax error,
 *   or when the root is not an object.
 */
export function parseManifest(text: string): ParsedManifest {
  const shift = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const body = shift === 1 ? text.slice(1) : text;
  const errors: ParseError[] = [];
  const root = parseTree(body, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
  const first = errors[0];
  if (first !== undefined) {
    const problem = printParseErrorCode(first.error);
    throw new ManifestParseError(`package.json is not valid JSON (${problem})`, positionAt(text, first.offset + shift), problem);
  }
  if (root === undefined || root.type !== 'object') {
    throw new ManifestParseError('package.json root is not a JSON object', positionAt(text, (root?.offset ?? 0) + shift), 'RootNotObject');
  }
  return { text, root, shift };
}

/** Last property node named `key` in an object node (JSON.parse keeps the last duplicate). */
function lastProperty(object: Node, key: string): { property: Node | undefined; count: number } {
  let property: Node | undefined;
  let count = 0;
  for (const child of object.children ?? []) {
    if (child.type === 'property' && child.children?.[0]?.value === key) {
      property = child;
      count++;
    }
  }
  return { property, count };
}

/**
 * The dependency `name` in `section`, or null when the section or the name is absent.
 * Duplicate keys resolve like JSON.parse (and so npm): the last one wins.
 * @throws ManifestParseError when the section is present but not an object.
 * @throws ManifestEditError (UNSUPPORTED_SPECIFIER) when the declared value is not a string.
 */
export function findDeclaration(manifest: ParsedManifest, section: string, name: string): Declaration | null {
  const sectionValue = lastProperty(manifest.root, section).property?.children?.[1];
  if (sectionValue === undefined) return null;
  if (sectionValue.type !== 'object') {
    throw new ManifestParseError(
      `package.json "${section}" is not an object`,
      positionAt(manifest.text, sectionValue.offset + manifest.shift),
      'SectionNotObject',
    );
  }
  const { property, count } = lastProperty(sectionValue, name);
  const node = property?.children?.[1];
  if (node === undefined) return null;
  if (node.type !== 'string') {
    throw new ManifestEditError(
      'UNSUPPORTED_SPECIFIER',
      `${name} in ${section} is declared with a ${node.type}, not a version string`,
      { dependency: name, section, specifier: null },
    );
  }
  return { section, value: node.value as string, node, occurrences: count };
}
