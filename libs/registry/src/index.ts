/**
 * `@remediation/registry`: published versions of npm packages, from a registry or from a
 * directory snapshot. This file is the only public entry.
 */
export type { PackageVersions, PackumentSource, VersionSource } from './types.js';
export { NpmRegistrySource, packagePath, type NpmRegistrySourceOptions } from './npm-registry-source.js';
export { SnapshotDirectorySource, snapshotFileNames } from './snapshot-directory-source.js';
export { Packument, toPackageVersions, assertPackageName, LookupCache, type LookupCacheOptions } from './packument.js';
export { fetchRegistryJson, type RegistryHttpOptions } from './fetch-json.js';
