/** The published versions of one package, as the planner needs them. */
export interface PackageVersions {
  /** Package name, e.g. `@scope/name`. */
  name: string;
  /** Every published version that is valid strict semver (others dropped), ascending by semver precedence. */
  versions: string[];
  /** `dist-tags`, e.g. `{ latest: '2.4.0' }`. */
  distTags: Record<string, string>;
  /** Versions whose manifest carries a non-empty `deprecated` message (subset of `versions`). */
  deprecated: ReadonlySet<string>;
  /**
   * Each version's `dependencies` (name → range, as published), for the versions whose document
   * carries a `dependencies` object (full and abbreviated packuments both do,
   * https://github.com/npm/registry/blob/main/docs/responses/package-metadata.md). A version
   * missing here has unknown dependencies (e.g. a snapshot trimmed to version numbers), not none.
   * Absent when the source does not read them.
   */
  dependencies?: ReadonlyMap<string, Readonly<Record<string, string>>>;
}

/**
 * Where versions of npm packages come from. Never orders by publish time: the registry's `time`
 * field is not trustworthy (mirrors rewrite it), only semver precedence is used.
 */
export interface VersionSource {
  /**
   * @param name npm package name, scoped names as `@scope/name`.
   * @throws InvalidInputError `PACKAGE_NOT_FOUND` when the package does not exist;
   *   `PACKAGE_NAME_INVALID` when `name` is not an npm package name.
   * @throws TransientError `REGISTRY_UNAVAILABLE` when the source failed in a way a retry may fix.
   */
  listVersions(name: string): Promise<PackageVersions>;
}

/** Where whole npm package documents (packuments) come from: lockfile updates need each version's `dist` and dependencies. */
export interface PackumentSource {
  /**
   * @param name npm package name.
   * @returns the registry's document of the package (`GET <registry>/<name>`), with `versions`.
   * @throws as {@link VersionSource.listVersions}.
   */
  packument(name: string): Promise<unknown>;
}
