/**
 * `@remediation/lockfiles`: lockfiles read into one normalised resolved graph (npm package-lock
 * v1–v3 and npm-shrinkwrap, yarn v1 and Berry, pnpm 5/6/9, Poetry, uv, Cargo, go.mod + go.sum),
 * the paths from direct dependencies to a package, and in-place npm lockfile updates. This file
 * is the only public entry.
 */
export {
  ROOT_ID,
  type DependencyEdge,
  type DependencyKind,
  type DependencyPath,
  type DependencyPaths,
  type DirectDependency,
  type LockedPackage,
  type LockfileEcosystem,
  type LockfileKind,
  type ResolvedGraph,
} from './types.js';
export { LockfileInvalidError } from './errors.js';
export { pathsTo, type PathsOptions } from './graph.js';
export { detectLockfileKind, readLockfile, LOCKFILE_NAMES, type ReadLockfileOptions } from './read.js';
export { readNpmLockfile, resolveNpmLocation, npmNameFromLocation } from './npm.js';
export { readYarnV1Lockfile, readYarnBerryLockfile, yarnDescriptorName } from './yarn.js';
export { readPnpmLockfile, parsePnpmKey } from './pnpm.js';
export { readPoetryLockfile, readUvLockfile, readCargoLockfile } from './toml-locks.js';
export { readGoSum, parseGoSum, type GoSumEntry } from './go-sum.js';
export {
  updateNpmLockfile,
  packumentVersion,
  NpmVersionMetadata,
  type NpmLockUpdateRequest,
  type NpmLockUpdateResult,
  type MissingDependency,
  type RequirementConflict,
} from './npm-update.js';
export {
  updateCargoLockfile,
  CargoIndexRecord,
  type CargoLockUpdateRequest,
  type CargoLockUpdateResult,
  type CargoMissingDependency,
} from './cargo-update.js';
export {
  updateNpmLockfileResolving,
  pickNpmVersion,
  type NpmResolvingUpdateResult,
  type NpmResolvedEntry,
  type PackumentReader,
} from './npm-resolve.js';
