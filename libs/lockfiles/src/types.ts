/**
 * The normalised resolved graph every lockfile reader produces. One shape for npm, yarn, pnpm,
 * Poetry, uv, Cargo and Go: packages as the lockfile pinned them, and edges from a dependent
 * (the root project, a workspace member or a package) to the package its requirement resolved to.
 */

/** Which lockfile format a text is. */
export type LockfileKind =
  | 'npm-package-lock'
  | 'npm-shrinkwrap'
  | 'yarn-v1'
  | 'yarn-berry'
  | 'pnpm'
  | 'poetry'
  | 'uv'
  | 'cargo'
  | 'go-sum';

/** Package URL type (https://github.com/package-url/purl-spec) of the packages a lockfile pins. */
export type LockfileEcosystem = 'npm' | 'pypi' | 'cargo' | 'golang';

/** How a dependent asked for a dependency. */
export type DependencyKind = 'prod' | 'dev' | 'optional' | 'peer';

/** Id of the root project in {@link ResolvedGraph.edges} (`from`). */
export const ROOT_ID = '';

/** One package version as the lockfile pins it. */
export interface LockedPackage {
  /**
   * Unique within the graph. npm: the `packages` key (`node_modules/a/node_modules/b`); yarn:
   * `name@version` (berry: the `resolution`); pnpm: the snapshot key with its peer suffix; Poetry
   * and uv: `name@version` (PEP 503 name); Cargo: `name@version` (`+source` when two sources pin
   * it); Go: `module@version`.
   */
  id: string;
  ecosystem: LockfileEcosystem;
  /** Name as the ecosystem spells it (Python names PEP 503-normalised, Go module paths). */
  name: string;
  version: string;
  /** Where the artifact comes from: tarball URL, registry source, `git+…`, a local path. */
  resolved?: string;
  /**
   * Integrity or checksum as the lockfile writes it: npm/pnpm SRI (`sha512-…`), yarn berry
   * `checksum`, Cargo `checksum` (sha256 hex), Poetry/uv `sha256:…` of the sdist (else the first
   * file), Go `h1:…` of the module zip.
   */
  integrity?: string;
  /** Dependencies this package declares: name → requirement text as locked (all kinds). */
  dependencies: Record<string, string>;
  /** Only a dev dependency of the root reaches it (npm `dev`, pnpm `dev: true`, Poetry `category = "dev"`). */
  dev?: boolean;
  /** Only optional dependencies reach it (npm/pnpm `optional`, Poetry `optional = true`). */
  optional?: boolean;
  /**
   * Where the lockfile holds this entry: npm `packages` keys (and, for v1, the nested
   * `dependencies` path written the same way), yarn descriptors, pnpm keys, a Go `require`.
   */
  locations: string[];
}

/** An edge: `from` required `name` with `requirement`; it resolved to package `to` (null: not in the lockfile). */
export interface DependencyEdge {
  /** {@link ROOT_ID} for the root project or a workspace member listed in {@link ResolvedGraph.root}; else a package id. */
  from: string;
  /** Package id the requirement resolved to, or null when the lockfile holds no match. */
  to: string | null;
  name: string;
  requirement: string;
  kind: DependencyKind;
  /** For root edges: the workspace member (importer) path that declares it; `.` is the root project. */
  importer?: string;
}

/** A direct dependency of the root project or of a workspace member. */
export interface DirectDependency {
  name: string;
  requirement: string;
  kind: DependencyKind;
  /** Package id it resolved to, or null when the lockfile holds no match. */
  to: string | null;
  /** Workspace member path that declares it (`.` for the root project). */
  importer: string;
}

/** The resolved graph of one lockfile. */
export interface ResolvedGraph {
  /** File name the graph was read from (as given to the reader). */
  file: string;
  kind: LockfileKind;
  /** The lockfile's own format version (`lockfileVersion`, `__metadata.version`, Cargo `version`, Poetry `lock-version`…), or `unversioned`. */
  lockfileVersion: string;
  root: {
    name?: string;
    version?: string;
    /** Direct dependencies. See {@link ResolvedGraph.rootsInferred}. */
    dependencies: DirectDependency[];
  };
  /** Packages by id. */
  packages: Record<string, LockedPackage>;
  edges: DependencyEdge[];
  /**
   * True when the lockfile does not say what the root requires (npm v1, yarn v1, Poetry without
   * its pyproject.toml): the direct dependencies are then the packages no other package depends
   * on (requirement `*`), a lower bound of the real set.
   */
  rootsInferred: boolean;
  /**
   * False when the format records no package-to-package edges (go.sum: the graph is the root's
   * `require`s plus the modules go.sum holds a zip hash for, without their parents).
   */
  edgesComplete: boolean;
}

/** One path: package ids from a direct dependency down to the target (both included). */
export type DependencyPath = string[];

/** What {@link pathsTo} returns. */
export interface DependencyPaths {
  /** Target package ids found. */
  targets: string[];
  paths: DependencyPath[];
  /** True when more paths exist than were returned (the cap was reached). */
  truncated: boolean;
}
