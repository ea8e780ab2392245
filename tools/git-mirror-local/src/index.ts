/**
 * git-mirror-local: a local implementation of the internal git mirror protocol (pre-built
 * bundles + git smart HTTP over a directory of bare repositories) for development and tests.
 * This is the package's only public entry.
 */
export { parseCgiHead, startGitMirrorLocal } from './server.js';
export type { GitMirrorLocal, GitMirrorLocalOptions, MirrorRequest } from './server.js';
