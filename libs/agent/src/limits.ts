/**
 * Bounds on what the model may pass to a tool (zod limits on the tools' input schemas; an input
 * over a bound is answered as an `is_error` tool result naming the field and the limit, see
 * tool.ts `executeTool`). Contents are bounded by the workspace's `maxFileBytes` (1 MiB default,
 * workspace.ts). See docs/security.md ("Agent jail and edit policy").
 */

/** Longest path a tool takes, in characters (Linux PATH_MAX is 4096 bytes; repository paths are far shorter). */
export const MAX_PATH_CHARS = 1024;

/** Longest `grep` regular expression or glob pattern, in characters. */
export const MAX_PATTERN_CHARS = 1000;

/** Longest package name: npm's limit of 214 characters (npm docs, package.json "name"). */
export const MAX_PACKAGE_NAME_CHARS = 214;

/** Longest version string: node-semver's MAX_LENGTH of 256. */
export const MAX_VERSION_CHARS = 256;
