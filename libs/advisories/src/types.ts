import type { OsvRange } from './osv-schema.js';

/**
 * Severity normalised from GHSA `database_specific.severity` (LOW/MODERATE/HIGH/CRITICAL,
 * https://docs.github.com/en/code-security/security-advisories/working-with-global-security-advisories-from-the-github-advisory-database/about-the-github-advisory-database#about-cvss-levels);
 * same values as `Severity` in `@remediation/contracts`.
 */
export type AdvisorySeverity = 'critical' | 'high' | 'moderate' | 'low' | 'unknown';

/** One `affected[]` entry of a loaded ecosystem. */
export interface AffectedPackage {
  /** OSV ecosystem, e.g. `npm`, `PyPI`. */
  ecosystem: string;
  /** Package name as the advisory writes it (may differ in case, e.g. `Axios`). */
  name: string;
  ranges: OsvRange[];
  /** Explicitly listed affected versions. */
  versions: string[];
  /**
   * RustSec informational advisories: `database_specific.informational` of the entry (`unsound`,
   * `unmaintained`, `notice`; https://github.com/rustsec/advisory-db#advisory-format). Absent for
   * vulnerabilities.
   */
  informational?: string;
}

/** An OSV advisory, reduced to what matching and planning need. */
export interface Advisory {
  /** OSV id, e.g. `GHSA-qwcr-r2fm-qrc7`. */
  id: string;
  /** Other ids (CVE, …) from `aliases`. */
  aliases: string[];
  summary: string | undefined;
  details: string | undefined;
  severity: AdvisorySeverity;
  /** First ADVISORY reference (the advisory's own page preferred), else first WEB reference. */
  url: string | undefined;
  published: string | undefined;
  modified: string;
  /** Only the `affected[]` entries of the loaded ecosystem(s). */
  affected: AffectedPackage[];
}

/**
 * Where the planner gets advisories, for one or more OSV ecosystems. Package names are compared
 * by each ecosystem's rules (PyPI by PEP 503; npm case-insensitively: GHSA data has e.g. `Axios`
 * for `axios`). Look-ups by package take the OSV ecosystem (`npm`, `PyPI`) so that a PyPI
 * `requests` never matches an npm `requests`; without it, {@link AdvisorySource.ecosystem}.
 */
export interface AdvisorySource {
  /** The default OSV ecosystem of package look-ups (the first of {@link AdvisorySource.ecosystems}), e.g. `npm`. */
  readonly ecosystem: string;
  /** Every OSV ecosystem whose advisories are here, e.g. `['npm', 'PyPI']`. */
  readonly ecosystems: readonly string[];
  /** Number of advisories loaded (withdrawn ones excluded). */
  readonly size: number;
  /** Every advisory naming the package in `ecosystem`, whatever the version; sorted by id. */
  forPackage(name: string, ecosystem?: string): Advisory[];
  /** Advisories whose ranges or versions include `version` of `name` in `ecosystem` (OSV evaluation); sorted by id. */
  matchAdvisories(name: string, version: string, ecosystem?: string): Advisory[];
  /** The advisory with this id, or whose aliases contain it (case-insensitive). */
  findById(idOrAlias: string): Advisory | undefined;
  /** Whether `advisory` affects `version` of `name` in `ecosystem` (OSV evaluation). */
  isAffected(advisory: Advisory, name: string, version: string, ecosystem?: string): boolean;
}
