import { InvalidInputError } from '@remediation/errors';
import { parseTOML, type AST } from 'toml-eslint-parser';

/** A string or boolean value of a TOML document with its full key path (array indexes as numbers). */
export interface TomlLeaf {
  path: Array<string | number>;
  node: AST.TOMLStringValue | AST.TOMLBooleanValue;
}

function keyNames(key: AST.TOMLKey): string[] {
  return key.keys.map((k) => (k.type === 'TOMLBare' ? k.name : k.value));
}

function collect(node: AST.TOMLContentNode, path: Array<string | number>, out: TomlLeaf[]): void {
  if (node.type === 'TOMLValue') {
    if (node.kind === 'string' || node.kind === 'boolean') out.push({ path, node });
  } else if (node.type === 'TOMLArray') {
    node.elements.forEach((e, i) => collect(e, [...path, i], out));
  } else {
    for (const kv of node.body) collect(kv.value, [...path, ...keyNames(kv.key)], out);
  }
}

/**
 * Every string and boolean value of a TOML document with its full key path, from
 * toml-eslint-parser's AST (https://github.com/ota-meshi/toml-eslint-parser), whose `range`s are
 * the source offsets edits splice at (pyproject.toml and Cargo.toml managers).
 * @throws InvalidInputError `MANIFEST_INVALID` (details.file) when the text is not TOML 1.0.
 */
export function tomlLeaves(file: string, text: string): TomlLeaf[] {
  let program: AST.TOMLProgram;
  try {
    program = parseTOML(text);
  } catch (err) {
    throw new InvalidInputError('MANIFEST_INVALID', `${file} is not valid TOML: ${(err as Error).message}`, { cause: err, details: { file } });
  }
  const out: TomlLeaf[] = [];
  for (const item of program.body[0].body) {
    if (item.type === 'TOMLKeyValue') collect(item.value, keyNames(item.key), out);
    else for (const kv of item.body) collect(kv.value, [...item.resolvedKey, ...keyNames(kv.key)], out);
  }
  return out;
}

/** The string values of {@link tomlLeaves}. */
export function tomlStrings(file: string, text: string): Array<{ path: Array<string | number>; node: AST.TOMLStringValue }> {
  return tomlLeaves(file, text).filter((l): l is { path: Array<string | number>; node: AST.TOMLStringValue } => l.node.kind === 'string');
}

/**
 * Offset in the file of a string's content, when the source between the quotes is exactly the
 * value (no escapes, single line); otherwise null (such a string is reported uneditable).
 */
export function tomlContentOffset(text: string, node: AST.TOMLStringValue): number | null {
  if (node.multiline) return null;
  const inner = text.slice(node.range[0] + 1, node.range[1] - 1);
  return inner === node.value ? node.range[0] + 1 : null;
}
