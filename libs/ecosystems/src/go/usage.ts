import { escapeRegExp } from '../npm/usage.js';

/**
 * Source lines of Go code that import module `modulePath` or one of its packages
 * (https://go.dev/ref/spec#Import_declarations): `import "path"`, `import alias "path"`,
 * `import . "path"`, `import _ "path"`, and the lines of a grouped `import ( … )` block
 * (`"path"`, `alias "path"`, with trailing comments), for the module's root package and every
 * subpackage (`path/sub/pkg`), in interpreted (`"…"`) or raw (`` `…` ``) strings. A longer module
 * path sharing the prefix (`github.com/x/yaml` vs `github.com/x/yaml-extra`) does not match; a
 * nested module with its own go.mod (`path/v2`, `path/submodule`) does, which the agent reads
 * as a hint, not a proof.
 */
export function goUsagePatterns(modulePath: string): RegExp[] {
  const path = `${escapeRegExp(modulePath)}(?:/[^"\`\\s]*)?`;
  const spec = `(?:"${path}"|\`${path}\`)`;
  return [
    // import "path" / import alias "path" / import . "path" / import _ "path"
    new RegExp(`^[ \\t]*import[ \\t]+(?:[A-Za-z_][A-Za-z0-9_]*[ \\t]+|[._][ \\t]+)?${spec}`, 'm'),
    // a line of a grouped import block: [alias] "path" [// comment]
    new RegExp(`^[ \\t]*(?:[A-Za-z_][A-Za-z0-9_]*[ \\t]+|[._][ \\t]+)?${spec}[ \\t]*(?://.*)?$`, 'm'),
    // import ( "path" ) on one line
    new RegExp(`^[ \\t]*import[ \\t]*\\([^)]*${spec}`, 'm'),
  ];
}
