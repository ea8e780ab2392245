import { z } from 'zod';

/** Upgrade tiers, in the order a user would consider them. Defined in docs/mission.md "Plan". */
export const Tier = z.enum(['minimal', 'moderate', 'comprehensive']);
export type Tier = z.infer<typeof Tier>;
export const TIERS: readonly Tier[] = Tier.options;

/**
 * Size of a version jump by semver (semver.org §4 and npm's caret rules): on `0.y.z` a change of
 * `y` is `major` (anything may break in initial development), a change of `z` is `minor`
 * when the major is 0 and the minor is also 0 (`0.0.z`), otherwise the ordinary rules apply.
 */
export const JumpSize = z.enum(['patch', 'minor', 'major']);
export type JumpSize = z.infer<typeof JumpSize>;

/** Severity normalised from GHSA `database_specific.severity` or the scan's ratings. */
export const Severity = z.enum(['critical', 'high', 'moderate', 'low', 'unknown']);
export type Severity = z.infer<typeof Severity>;

/** Risk that an upgrade breaks code: derived from the jump size (patch/minor: low, major: high). */
export const BreakingChangeRisk = z.enum(['low', 'medium', 'high']);
export type BreakingChangeRisk = z.infer<typeof BreakingChangeRisk>;

/** One advisory affecting a target, as the planner saw it. */
export const PlannedAdvisory = z.object({
  /** Advisory id, e.g. `GHSA-qwcr-r2fm-qrc7`. */
  id: z.string().min(1),
  /** Other ids of the same advisory, e.g. `CVE-2024-45590`. */
  aliases: z.array(z.string()),
  summary: z.string().optional(),
  severity: Severity,
  /** Link to the advisory (first ADVISORY/WEB reference), if any. */
  url: z.string().optional(),
  /**
   * Affected ranges in the ecosystem's range syntax: node-semver for npm and Cargo (e.g. `<1.20.3`,
   * `>=0.2.0 <1.9.0`), PEP 440 specifier sets for PyPI (e.g. `>=1.0,<2.0`), comparator sets in
   * Maven's version order for Maven (e.g. `>=2.13.0,<2.15.0`, `<2.12.2`).
   */
  affectedRanges: z.array(z.string()),
  /** Versions named as `fixed` by the advisory's ranges. */
  fixedVersions: z.array(z.string()),
  /**
   * Set for an informational advisory rather than a vulnerability: RustSec's
   * `affected[].database_specific.informational` (`unsound`, `unmaintained`, `notice`;
   * https://github.com/rustsec/advisory-db#advisory-format). It counts like any other advisory.
   * Absent for vulnerabilities.
   */
  kind: z.string().min(1).optional(),
});
export type PlannedAdvisory = z.infer<typeof PlannedAdvisory>;

/** One tier's choice for one target. */
export const TierOption = z.object({
  /** The version to upgrade to (exact, e.g. `1.20.3`). */
  version: z.string().min(1),
  jump: JumpSize,
  /** Ids of the target's advisories that this version fixes. */
  advisoriesFixed: z.array(z.string()),
  breakingChangeRisk: BreakingChangeRisk,
  /** Human notes, e.g. "crosses the 0.x major line". */
  notes: z.array(z.string()).default([]),
});
export type TierOption = z.infer<typeof TierOption>;

/**
 * Whether the planner could plan a target: `planned` (tiers chosen, or `noFixReason` says why
 * none fixes it); `needs_person`: the scan reports it vulnerable (or advisories exist for the
 * package) but its installed version cannot be read, so no tier can be chosen and a person has
 * to look (`reason` says why); `not_supported`: a vulnerable direct dependency of an ecosystem
 * the planner has no versioning or registry for yet (purl type not in `ECOSYSTEMS` of
 * `@remediation/ecosystems`), no tiers, `noFixReason` `not supported yet: <purl type>`.
 * Absent in plans stored before this field existed: `planned`.
 */
export const PlanTargetStatus = z.enum(['planned', 'needs_person', 'not_supported']);
export type PlanTargetStatus = z.infer<typeof PlanTargetStatus>;

/**
 * A target: a direct dependency with at least one known advisory matching its current version
 * (or, with `status: 'needs_person'`, possibly matching: its version cannot be read).
 * `tiers.<tier>` is null when that tier has no fixed version (see `noFixReason`).
 */
export const PlannedTarget = z.object({
  /** Package URL of the installed component, e.g. `pkg:npm/body-parser@1.20.2`. */
  purl: z.string().min(1),
  /**
   * purl type of the package (https://github.com/package-url/purl-spec/blob/main/PURL-TYPES.rst):
   * `npm` and `pypi` are planned; any other type only appears on `not_supported` targets.
   */
  ecosystem: z.string().regex(/^[a-z][a-z0-9.+-]*$/),
  /**
   * Package name as the ecosystem spells it: npm the purl's name, e.g. `@scope/name`; PyPI the
   * PEP 503 normalised name (https://peps.python.org/pep-0503/#normalized-names), e.g. `pyyaml`
   * for `PyYAML`, as advisories and the index name it.
   */
  name: z.string().min(1),
  /**
   * Installed version from the scan. For a `needs_person` target, as written (possibly not a
   * version, e.g. `latest`), or empty when the scan gives none.
   */
  currentVersion: z.string(),
  /** Repository-relative path of the manifest that declares it. */
  manifestPath: z.string().min(1),
  advisories: z.array(PlannedAdvisory).min(1),
  tiers: z.object({ minimal: TierOption.nullable(), moderate: TierOption.nullable(), comprehensive: TierOption.nullable() }),
  /** Set when no version fixes every advisory of the package (and on every `needs_person` and `not_supported` target). */
  noFixReason: z.string().optional(),
  /** `planned` when absent (plans stored before the field existed). */
  status: PlanTargetStatus.optional(),
  /**
   * Why the target cannot be planned: with `status: 'needs_person'` why a person is needed, e.g.
   * `version "latest" is not a semver version`; with `status: 'not_supported'`, `not supported yet: <purl type>`.
   */
  reason: z.string().optional(),
});
export type PlannedTarget = z.infer<typeof PlannedTarget>;

/** One upgrade within a tier summary. */
export const TierUpgrade = z.object({
  name: z.string(),
  purl: z.string(),
  from: z.string(),
  to: z.string(),
  jump: JumpSize,
  advisoriesFixed: z.array(z.string()),
  breakingChangeRisk: BreakingChangeRisk,
});
export type TierUpgrade = z.infer<typeof TierUpgrade>;

/** What choosing a tier would do across all targets. */
export const TierPlan = z.object({
  upgrades: z.array(TierUpgrade),
  /** Advisory ids fixed by this tier. */
  advisoriesFixed: z.array(z.string()),
  /** Advisory ids (on targets) this tier leaves unfixed. */
  advisoriesRemaining: z.array(z.string()),
  /** Largest jump among the upgrades, or null when there are none. */
  largestJump: JumpSize.nullable(),
});
export type TierPlan = z.infer<typeof TierPlan>;

/**
 * How a fix of a transitive package changes the project (issue 15, docs/decisions/0015 and 0017):
 * `lockfile_update`: only the lockfile entry of the vulnerable package moves to `to` (every
 * parent's requirement already admits it; no manifest change: npm/yarn/pnpm lockfile entry,
 * `poetry update <pkg>`, `uv lock --upgrade-package <pkg>`, `cargo update -p <pkg> --precise <to>`);
 * `parent_bump`: the direct dependency `name` is bumped to `to`, whose own requirement on the next
 * package of `path` admits only unaffected versions or a fixed one the lockfile update then picks;
 * `override`: the ecosystem's own way to force or pin the vulnerable package to `to`, named by the
 * option's `mechanism`.
 */
export const TransitiveFixKind = z.enum(['lockfile_update', 'parent_bump', 'override']);
export type TransitiveFixKind = z.infer<typeof TransitiveFixKind>;

/**
 * Where an `override` is written, in the ecosystem's own term (docs/decisions/0017):
 * `overrides`: package.json `overrides` (npm, https://docs.npmjs.com/cli/v10/configuring-npm/package-json#overrides);
 * `resolutions`: package.json `resolutions` (yarn, https://yarnpkg.com/configuration/manifest#resolutions);
 * `pnpm.overrides`: package.json `pnpm.overrides` (https://pnpm.io/package_json#pnpmoverrides);
 * `dependencyManagement`: a pom.xml `<dependencyManagement>` entry (Maven, https://maven.apache.org/guides/introduction/introduction-to-dependency-mechanism.html#dependency-management);
 * `constraints`: a line `<pkg>==<to>` of a pip constraints file (`pip install -c`, https://pip.pypa.io/en/stable/user_guide/#constraints-files),
 *   which pins but cannot go outside a parent's requirement;
 * `tool.poetry.dependencies`: the package declared in pyproject.toml with `>=<to>` (Poetry has no override), which
 *   likewise only works inside every parent's requirement;
 * `override-dependencies`: pyproject.toml `[tool.uv] override-dependencies` (https://docs.astral.sh/uv/reference/settings/#override-dependencies);
 * `require`: a go.mod `require` of the fixed version, which minimal version selection then picks (https://go.dev/ref/mod#minimal-version-selection).
 * Cargo has none (its `[patch]` replaces a crate's source, not its version): no `override` option there.
 */
export const TransitiveFixMechanism = z.enum([
  'overrides',
  'resolutions',
  'pnpm.overrides',
  'dependencyManagement',
  'constraints',
  'tool.poetry.dependencies',
  'override-dependencies',
  'require',
]);
export type TransitiveFixMechanism = z.infer<typeof TransitiveFixMechanism>;

/** One way to fix a vulnerable transitive package, checked against registry metadata. */
export const TransitiveFixOption = z.object({
  kind: TransitiveFixKind,
  /** The package whose version changes: the direct dependency for `parent_bump`, else the vulnerable package. */
  name: z.string().min(1),
  /** Its version now (installed). */
  from: z.string().min(1),
  /** The version it changes to (exact). */
  to: z.string().min(1),
  /** Size of `from` → `to` (same rules as a target's `jump`). */
  jump: JumpSize,
  breakingChangeRisk: BreakingChangeRisk,
  /**
   * Package names from the direct dependency to the vulnerable package (both included), for
   * `parent_bump`; empty for the other kinds (they apply to every path).
   */
  path: z.array(z.string()),
  /** Human notes, e.g. the requirement that admits the fixed version. */
  notes: z.array(z.string()).default([]),
  /** For `override`: where it is written (see `TransitiveFixMechanism`). Absent on the other kinds and in plans made before decision 0017. */
  mechanism: TransitiveFixMechanism.optional(),
});
export type TransitiveFixOption = z.infer<typeof TransitiveFixOption>;

/**
 * How a fix option reads in target outcomes, proofs and pull requests: `override cookie → 0.7.0`,
 * `parent bump express-session 1.17.2 → 1.18.1`, `lockfile update minimatch 3.0.4 → 3.0.5`.
 */
export function describeTransitiveFix(fix: Pick<TransitiveFixOption, 'kind' | 'name' | 'from' | 'to'>): string {
  if (fix.kind === 'override') return `override ${fix.name} → ${fix.to}`;
  if (fix.kind === 'parent_bump') return `parent bump ${fix.name} ${fix.from} → ${fix.to}`;
  return `lockfile update ${fix.name} ${fix.from} → ${fix.to}`;
}

/** A vulnerable component that is not a direct dependency: reported, not a target. */
export const TransitiveFinding = z.object({
  purl: z.string(),
  name: z.string(),
  version: z.string(),
  advisories: z.array(z.string()),
  /** Names of the direct dependencies through which it is installed. */
  via: z.array(z.string()),
  /**
   * The fix options found, smallest change first (docs/decisions/0015: `lockfile_update`, then
   * `parent_bump` by jump, then `override`). Absent in plans made before issue 15; empty with
   * `reasons` set when none was found.
   */
  options: z.array(TransitiveFixOption).optional(),
  /** The minimal tier's choice: the smallest change of `options` (docs/decisions/0015); null when there is none. Absent in older plans. */
  minimal: TransitiveFixOption.nullable().optional(),
  /**
   * The moderate tier's choice (docs/decisions/0017): the minimal choice's change (same kind and
   * package) moved to the newest version on `from`'s line (`Versioning.sameLine`, as a target's
   * `moderate`) that still fixes; the minimal one again, with a note, when the line has none. Null
   * when there is no minimal choice. Absent in older plans.
   */
  moderate: TransitiveFixOption.nullable().optional(),
  /**
   * The comprehensive tier's choice: the minimal choice's change moved to the newest stable
   * version of the package it changes, when that version still fixes (as a target's
   * `comprehensive`); else null. Absent in older plans.
   */
  comprehensive: TransitiveFixOption.nullable().optional(),
  /**
   * Why an option kind could not be computed, or why there is none, one line per reason (e.g.
   * `Cargo has no override: …`, `go.sum records no package-to-package edges: …`, `no parent bump
   * through a → b → c: …`). Absent when every kind was computed.
   */
  reasons: z.array(z.string()).optional(),
  /**
   * Affected ranges of its advisories in the ecosystem's range syntax (as `PlannedAdvisory.affectedRanges`):
   * what the patcher's proof checks every locked version of the package against once a fix option
   * is applied. Absent in plans made before it existed.
   */
  affectedRanges: z.array(z.string()).optional(),
});
export type TransitiveFinding = z.infer<typeof TransitiveFinding>;

/** The advisory database's snapshot a plan was made from. */
export const AdvisoryDatabaseInfo = z.object({
  /** Latest OSV `modified` time of any advisory in the database (ISO 8601); null when it was empty. */
  snapshotAt: z.string().nullable(),
  /** Each source with its last completed sync (ISO 8601) and its number of records. */
  sources: z.array(z.object({ source: z.string(), syncedAt: z.string().nullable(), records: z.number().int().nonnegative() })),
});
export type AdvisoryDatabaseInfo = z.infer<typeof AdvisoryDatabaseInfo>;

/**
 * The planner's structured output, stored when planning completes (docs/mission.md "Plan").
 * `upgrade_tiers` keeps the name the existing consumers know.
 */
export const PlannerOutput = z.object({
  schemaVersion: z.literal(1),
  targets: z.array(PlannedTarget),
  upgrade_tiers: z.object({ minimal: TierPlan, moderate: TierPlan, comprehensive: TierPlan }),
  /** Names of targets for which no fixed version exists. */
  noFixTargets: z.array(z.string()),
  transitive: z.array(TransitiveFinding),
  /** Where the facts came from. */
  sources: z.object({
    /** `scan` when the scan carried vulnerabilities, otherwise `osv`. */
    advisories: z.enum(['scan', 'osv']),
    /**
     * Registry URL or snapshot directory the version lists came from: the source of the one
     * ecosystem whose targets were looked up (npm's when none was, as before); when targets of
     * several ecosystems were looked up, each source as `<purl type>=<url or folder>` joined by
     * `, ` (e.g. `npm=https://registry.npmjs.org, pypi=https://pypi.org`).
     */
    registry: z.string(),
  }),
  /**
   * Non-fatal remarks: skipped components, unknown ecosystems, and each component that cannot
   * be planned (unreadable version or purl) by bom-ref and name with the reason.
   */
  warnings: z.array(z.string()),
  /**
   * What the advisory database knew when the plan was made (issue 12); absent in plans made
   * before it existed. `GET /v1/remediations/:id` compares it with the database now (`stale`).
   */
  advisoryDatabase: AdvisoryDatabaseInfo.optional(),
});
export type PlannerOutput = z.infer<typeof PlannerOutput>;
