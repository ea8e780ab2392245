import type { PackageVersions, VersionSource } from '@remediation/registry';
import type { PackageReleases, RegistrySource } from '../types.js';

/**
 * An npm `PackageVersions` (from `@remediation/registry`) as {@link PackageReleases}: every valid
 * semver version ascending, `deprecated` from the per-version `deprecated` message, never yanked
 * (npm unpublishes instead), `latest` from `dist-tags.latest`, `dependencies` when the document has them.
 */
export function npmReleasesOf(listed: PackageVersions, source: string): PackageReleases {
  const latest = listed.distTags['latest'];
  return {
    name: listed.name,
    versions: listed.versions.map((version) => {
      const dependencies = listed.dependencies?.get(version);
      return { version, yanked: false, deprecated: listed.deprecated.has(version), ...(dependencies !== undefined ? { dependencies } : {}) };
    }),
    source,
    ...(latest !== undefined ? { latest } : {}),
  };
}

/**
 * {@link RegistrySource} over an npm `VersionSource` of `@remediation/registry` (the registry,
 * `NpmRegistrySource`, or a folder of packuments, `SnapshotDirectorySource`), read by {@link npmReleasesOf}. Errors are the version
 * source's (`PACKAGE_NOT_FOUND`, `PACKAGE_NAME_INVALID`, `REGISTRY_DOCUMENT_INVALID`,
 * TransientError `REGISTRY_UNAVAILABLE`).
 */
export class NpmReleaseSource implements RegistrySource {
  /**
   * @param versions where packuments come from.
   * @param label the registry URL or snapshot folder, recorded as the plan's `sources.registry`.
   */
  constructor(
    private readonly versions: VersionSource,
    readonly label: string,
  ) {}

  /** @param name npm package name, scoped names as `@scope/name`. */
  async releases(name: string): Promise<PackageReleases> {
    return npmReleasesOf(await this.versions.listVersions(name), this.label);
  }
}
