/**
 * The seam every ecosystem plugs into: one {@link Versioning}, one {@link RegistrySource} and one
 * or more {@link ManifestManager}s per ecosystem, keyed by purl type (`npm`, `pypi`, …;
 * https://github.com/package-url/purl-spec/blob/main/PURL-TYPES.rst). Shaped in the spirit of
 * Renovate's modules (renovatebot/renovate `lib/modules/versioning/types.ts` `VersioningApi`,
 * `lib/modules/datasource/types.ts` `ReleaseResult`, `lib/modules/manager/types.ts`
 * `PackageDependency`), cut down to what planning and patching need.
 */

/** Size of an upgrade between two versions, by the ecosystem's own notion of release segments. */
export type JumpSize = 'patch' | 'minor' | 'major';

/**
 * Version scheme of one ecosystem (Renovate: `VersioningApi`). Every method taking a version
 * throws `InvalidInputError` `VERSION_INVALID` (from `@remediation/errors`) when the string is not a
 * version of the scheme, except {@link Versioning.isValid} and {@link Versioning.parse}.
 */
export interface Versioning {
  /** Scheme name, e.g. `pep440`. */
  readonly scheme: string;
  /** Whether `version` is a version (not a range) of the scheme. */
  isValid(version: string): boolean;
  /** The release segment (`[major, minor, micro, …]`) and flags of `version`; `null` when invalid. */
  parse(version: string): ParsedVersion | null;
  /** Negative, zero or positive as `a` sorts before, equal to or after `b` (precedence of the scheme). */
  compare(a: string, b: string): number;
  /**
   * Whether `version` is allowed by `requirement`, a range in the scheme's own syntax (e.g.
   * `>=2.28,<3`). @throws InvalidInputError `REQUIREMENT_INVALID` when `requirement` is not a range.
   */
  satisfies(version: string, requirement: string): boolean;
  /** Whether `version` is a final release (no pre-release or dev-release part). */
  isStable(version: string): boolean;
  /** Whether `a` and `b` are on the same compatibility line (for moderate tiers: same major). */
  sameLine(a: string, b: string): boolean;
  /** How far `from` → `to` moves: the first release segment that differs (`to` must be newer). */
  jump(from: string, to: string): JumpSize;
  /**
   * The published versions an upgrade may choose, ascending: valid, stable and not yanked, except
   * that a version equal to one in `inUse` is always kept (a project already on a pre-release or a
   * yanked version may stay on it). Invalid version strings are dropped.
   */
  candidates(published: readonly PublishedVersion[], inUse?: readonly string[]): string[];
  /**
   * A coarse sort key of `version` that a database can compare: non-negative integers, compared
   * element by element, a key that is a prefix of another sorting first (PostgreSQL's order of
   * `bigint[]`, https://www.postgresql.org/docs/current/functions-array.html). It must keep the
   * scheme's order: `compare(a, b) <= 0` implies `orderKey(a) <= orderKey(b)`; versions that differ
   * only in what the key leaves out (pre-release, post-release, build or local parts) get equal
   * keys. `null` when `version` is not valid (or a segment is not a safe integer). The advisory
   * database prefilters advisories by installed version with it (docs/decisions/0012); a scheme
   * without one (an order the key cannot keep) is never prefiltered: every advisory of its
   * packages is read. `releaseOrderKey` (./order-key.ts) gives it for schemes ordered by epoch and release
   * segment first.
   */
  orderKey?(version: string): number[] | null;
}

/** A parsed version (shape of PEP 440 §"Public version identifiers"; other schemes map onto it). */
export interface ParsedVersion {
  epoch: number;
  /** Release segment, e.g. `[4, 2, 14]`. */
  release: number[];
  /** Pre-release (`a`, `b`, `rc`) with its number, or null. */
  pre: [string, number] | null;
  /** Post-release number, or null. */
  post: number | null;
  /** Dev-release number, or null. */
  dev: number | null;
  /** Local version label (after `+`), or null. */
  local: string | null;
}

/** One published version as a registry reports it (Renovate: `Release`). */
export interface PublishedVersion {
  /** The version as published, e.g. `4.2.14`. */
  version: string;
  /** Yanked (PEP 592) or otherwise withdrawn by its publisher. */
  yanked: boolean;
  /** The publisher's reason for the yank, when given. */
  yankedReason?: string;
  /** Marked deprecated (npm `deprecated`); PyPI has no such flag (always false there). */
  deprecated: boolean;
  /** Earliest upload time, ISO 8601, when the registry says. */
  releasedAt?: string;
  /** `Requires-Python` (PEP 345/PEP 503 `data-requires-python`), e.g. `>=3.8`, when published. */
  requiresPython?: string;
  /**
   * The version's own dependencies, name → requirement as published (npm `dependencies`), when
   * the registry source reads them; absent when unknown (not the same as `{}`, none).
   */
  dependencies?: Readonly<Record<string, string>>;
}

/** Everything a registry knows about one package's versions (Renovate: `ReleaseResult`). */
export interface PackageReleases {
  /** Package name as the ecosystem normalises it (PyPI: PEP 503). */
  name: string;
  /** Published versions, ascending by the ecosystem's precedence; unparsable versions dropped. */
  versions: PublishedVersion[];
  /** Where these came from (base URL or snapshot folder), for the plan's `sources`. */
  source: string;
  /**
   * The version the registry calls latest, when it has such a notion (npm `dist-tags.latest`,
   * https://docs.npmjs.com/cli/commands/npm-dist-tag); absent for PyPI. The planner notes it on
   * the comprehensive tier when it differs.
   */
  latest?: string;
}

/** Credentials of a private index. Never logged. */
export type RegistryCredentials =
  | { kind: 'basic'; username: string; password: string }
  | { kind: 'bearer'; token: string };

/** Connection settings shared by registry sources. */
export interface RegistrySourceOptions {
  /** Base URL, e.g. `https://pypi.org` (a trailing slash is ignored). */
  url: string;
  credentials?: RegistryCredentials;
  /** Time limit of one request in ms. Default 60,000. */
  timeoutMs?: number;
  /** Retries after the first attempt on network errors, timeouts, 408, 429 and 5xx. Default 4. */
  retries?: number;
  /** Delay before the first retry in ms, doubled each time. Default 1,000. */
  minRetryDelayMs?: number;
  /** Longest delay between retries in ms. Default 30,000. */
  maxRetryDelayMs?: number;
  /** `fetch` implementation; defaults to the global one. */
  fetch?: typeof globalThis.fetch;
}

/** Where published versions come from (Renovate: `DatasourceApi.getReleases`). */
export interface RegistrySource {
  /** Base URL or folder, for the plan's `sources`. */
  readonly label: string;
  /**
   * @throws InvalidInputError `PACKAGE_NOT_FOUND` when the package does not exist (404);
   *   `PACKAGE_NAME_INVALID` when `name` is not a name of the ecosystem;
   *   `REGISTRY_DOCUMENT_INVALID` when the answer is not the documented shape.
   * @throws TransientError `REGISTRY_UNAVAILABLE` when retries are exhausted or on another 4xx.
   */
  releases(name: string): Promise<PackageReleases>;
}

/** Where a requirement sits in a manifest. Offsets are UTF-16 code-unit indexes into the file text. */
export interface RequirementLocation {
  /** Manifest path as given to the manager (repository-relative). */
  file: string;
  /** 1-based line of the requirement's first character. */
  line: number;
  /** Start offset of the requirement text (the part an edit replaces). */
  offset: number;
  /** Length of the requirement text. */
  length: number;
  /**
   * Where in the manifest: `requirements` for a requirements file; for TOML the table path and
   * key, e.g. `project.dependencies`, `project.optional-dependencies.dev`,
   * `tool.poetry.dependencies`, `tool.poetry.group.test.dependencies`.
   */
  section: string;
}

/** One direct dependency found in a manifest (Renovate: `PackageDependency`). */
export interface ManifestDependency {
  /** Name as written, e.g. `PyYAML`. */
  name: string;
  /** Name normalised by the ecosystem (PyPI: PEP 503), e.g. `pyyaml`. */
  normalisedName: string;
  /** The requirement as written, e.g. `==5.1`, `>=2.28,<3`, `^2.28`, `*`, `""` for none. */
  requirement: string;
  /**
   * The requirement's syntax: PEP 440 specifiers, Poetry's constraint syntax, npm ranges, Cargo
   * requirements (a bare `1.2` means `^1.2`; https://doc.rust-lang.org/cargo/reference/specifying-dependencies.html),
   * Go module versions (a `require` names the minimum version MVS may select; https://go.dev/ref/mod#minimal-version-selection),
   * Maven versions (a plain version is a soft requirement, `[1.0,2.0)` a range; https://maven.apache.org/pom.html#dependency-version-requirement-specification).
   */
  style: 'pep440' | 'poetry' | 'npm' | 'cargo' | 'go' | 'maven';
  location: RequirementLocation;
  /** Extras requested, e.g. `['socks']`. */
  extras: string[];
  /** Environment marker (PEP 508), without the `;`, when present. */
  marker?: string;
  /** The requirement carries `--hash` options (pip hash-checking mode). */
  hashes: boolean;
  /** Set when the requirement cannot be edited at all (a URL or VCS reference, an escaped string). */
  uneditable?: string;
}

/** A file a manifest pulls in (`-r`/`-c` of requirements files), for the caller to follow inside the repository. */
export interface ManifestInclude {
  kind: 'requirements' | 'constraints';
  /** Path as written, relative to the including file's folder. */
  path: string;
  /** Repository-relative path (joined and normalised), or null when it leaves the repository or is a URL. */
  resolved: string | null;
  line: number;
}

/** What a manager found in one manifest. */
export interface ManifestContents {
  dependencies: ManifestDependency[];
  includes: ManifestInclude[];
  /** Whole-file pip hash-checking mode (`--require-hashes` or any `--hash`): no pin can be raised without new hashes. */
  hashChecking: boolean;
}

/**
 * Why a manager did not edit. Go only: `new-module-path` — the fix lies in another major version,
 * which Go makes a new module path (`<module>/v2`, https://go.dev/ref/mod#major-version-suffixes):
 * a major upgrade needing code changes (import paths), never a plain bump; `excluded` — the fixed
 * version is named by an `exclude` directive of the go.mod (https://go.dev/ref/mod#go-mod-file-exclude).
 */
export type RefusalReason =
  | 'not-found'
  | 'hashes'
  | 'cap-excludes-fix'
  | 'unsupported-requirement'
  | 'new-module-path'
  | 'excluded';

/** Result of {@link ManifestManager.raiseFloor}. */
export type ManifestEdit =
  | {
      status: 'edited';
      /** The whole new file text: the input with only the requirement replaced. */
      text: string;
      /**
       * The manifest `text` belongs to when it is not the one edited by name (a Maven property of a
       * parent pom, from `context`); repository-relative.
       */
      file?: string;
      /** What else the edit changes, fit for a history row (another artifact sharing the property). */
      notes?: string[];
      before: string;
      after: string;
      location: RequirementLocation;
    }
  | { status: 'unchanged'; requirement: string; location: RequirementLocation }
  | {
      status: 'refused';
      reason: RefusalReason;
      message: string;
      /** The command that must update the lockfile or hashes instead (e.g. `pip-compile --generate-hashes`). */
      lockfileCommand?: string;
    };

/** Finds and edits direct dependencies in one manifest format (Renovate: `ManagerApi`). */
export interface ManifestManager {
  /** Manager name, e.g. `pip-requirements`, `pep621`, `poetry`. */
  readonly name: string;
  /** Whether `path` (repository-relative) is a file of this manager. */
  matches(path: string): boolean;
  /** @throws InvalidInputError `MANIFEST_INVALID` when the text cannot be read as this format. */
  extract(file: string, text: string, context?: ReadonlyMap<string, string>): ManifestContents;
  /**
   * Raise the floor of `name`'s requirement so that `fixedVersion` is the lowest version it
   * allows, in the requirement's own style (`==a` → `==fixed`, `>=a` → `>=fixed`, `^a` →
   * `^fixed`, …), keeping every other byte. `unchanged` when the requirement already excludes
   * everything below `fixedVersion`; `refused` with a reason instead of editing into a broken
   * state (hashes, an upper bound below the fix, a URL requirement, the name not present).
   */
  raiseFloor(file: string, text: string, name: string, fixedVersion: string, context?: ReadonlyMap<string, string>): ManifestEdit;
  /**
   * Optional, for formats whose dependencies may take their version from another manifest of the
   * repository (Maven: a parent pom's `${property}` or `<dependencyManagement>`): the
   * repository-relative manifests `file` reads directly (its parent pom). The caller reads them,
   * asks again for each, and passes every text found as `context` to {@link extract} and
   * {@link raiseFloor}; a declaration whose requirement is written in one of them then has that
   * manifest as `location.file`, and an edit of it names it in `file`.
   */
  inherits?(file: string, text: string): string[];
}

/** Outcome of {@link Ecosystem.proveRemediated}. */
export interface RemediationProof {
  /** True when the lowest version the requirement admits is outside every affected range. */
  readonly remediated: boolean;
  /** The lowest version the requirement admits, or null when it has none / cannot be known. */
  readonly lowestAdmissible: string | null;
  /** One sentence explaining the verdict, fit for a PR body or history row. */
  readonly reason: string;
}

/** One ecosystem's plug-ins, registered under its purl type (see `./registry.ts`). */
export interface Ecosystem {
  /** purl type, e.g. `pypi` (https://github.com/package-url/purl-spec/blob/main/PURL-TYPES.rst). */
  readonly purlType: string;
  /**
   * OSV `affected[].package.ecosystem` value, e.g. `npm`, `PyPI`
   * (https://ossf.github.io/osv-schema/#affectedpackage-field, ecosystems list).
   */
  readonly osvEcosystem: string;
  readonly versioning: Versioning;
  /** Normalise a package name (PyPI: PEP 503; npm: unchanged). */
  normaliseName(name: string): string;
  /** Manifest managers, tried in order by `matches(path)`. */
  readonly managers: readonly ManifestManager[];
  /**
   * Repository-relative manifest the planner names for a direct dependency when the scan does not
   * say which file declares it (`package.json`, `requirements.txt`); the patcher then looks the
   * requirement up in every manifest its managers match.
   */
  readonly defaultManifestPath: string;
  /**
   * Proof of remediation for an edited requirement: the lowest version `requirement` (in `style`)
   * admits lies in none of `affectedRanges` (the plan's `affectedRanges`, in this ecosystem's range
   * syntax: node-semver ranges for npm, PEP 440 specifier sets for PyPI). Never throws: a
   * requirement or range that cannot be read gives `remediated: false` with the reason.
   */
  proveRemediated(requirement: string, style: ManifestDependency['style'], affectedRanges: readonly string[]): RemediationProof;
  /**
   * Patterns (JavaScript regular expressions, multiline) matching source lines that use package
   * `name`, for the agent's usage search: `require('x')`/`import … from 'x'` for npm,
   * `import x`/`from x import y` for Python (import names derived from the distribution name).
   */
  usagePatterns(name: string): RegExp[];
  /**
   * Commands that regenerate this ecosystem's lockfiles, named in the PR's test guidance (e.g.
   * `npm install`, `poetry lock`). `<crate>` in a command stands for the upgraded packages' names
   * (Cargo: `cargo update -p <crate>`); the PR body repeats the option once per package.
   */
  readonly lockfileCommands: readonly string[];
  /**
   * Whether package `other` is another major version of package `name` published under its own
   * name (Go: `github.com/x/y` and `github.com/x/y/v2`, `gopkg.in/yaml.v2` and `gopkg.in/yaml.v3`,
   * https://go.dev/ref/mod#major-version-suffixes); a fix there is a major upgrade that needs
   * code changes, never a bump of `name`. Absent for ecosystems where a major version keeps the name.
   */
  isOtherMajorPackage?(name: string, other: string): boolean;
  /** Commands that run the project's tests, named in the PR's test guidance when set (Cargo: `cargo test`). */
  readonly testCommands?: readonly string[];
  /**
   * File extensions (with the leading dot) of the source files the agent's usage search reads,
   * e.g. `.py`, `.pyi` for Python, `.rs` for Rust, `.js` … `.cts` for npm.
   */
  readonly sourceExtensions: readonly string[];
}
