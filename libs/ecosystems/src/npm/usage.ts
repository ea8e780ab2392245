/** Escapes `text` for use inside a regular expression. */
export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/**
 * Source lines that load npm package `name` (or a subpath `name/…`): CommonJS `require('name')`
 * (https://nodejs.org/api/modules.html#requireid), ES module `import … from 'name'`,
 * side-effect `import 'name'`, dynamic `import('name')` and `export … from 'name'`
 * (https://tc39.es/ecma262/#sec-imports).
 */
export function npmUsagePatterns(name: string): RegExp[] {
  const spec = `${escapeRegExp(name)}(?:/[^'"\`]*)?`;
  return [
    new RegExp(`\\brequire\\s*\\(\\s*['"\`]${spec}['"\`]\\s*\\)`, 'm'),
    new RegExp(`\\b(?:import|export)\\b[^;'"\`]*?\\bfrom\\s*['"]${spec}['"]`, 'm'),
    new RegExp(`\\bimport\\s*\\(?\\s*['"\`]${spec}['"\`]`, 'm'),
  ];
}
