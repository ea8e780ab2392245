import type { OsvRange } from './osv-schema.js';

/**
 * Severity normalised from GHSA `database_specific.severity` (LOW/MODERATE/HIGH/CRITICAL,
 * https://docs.github.com/en/code-security/security-advisories/working-with-global-security-advisories-from-the-github-advisory-database/about-the-github-advisory-database#about-cvss-levels);
 * same values as `Severity` in `@remediation/contracts`.
 */
export type AdvisorySeverity = 'critical' | 'high' | 'moderate' | 'low' | 'unknown';

/** One `affected[]` entry of the loaded ecosystem. */
export interface AffectedPackage {
  /** OSV ecosystem, e.g. `npm`. */
  ecosystem: string;
  /** Package name as the advisory writes it (may differ in case, e.g. `Axios`). */
  name: string;
  ranges: OsvRange[];
  /** Explicitly listed affected versions. */
  versions: string[];
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
  /** Only the `affected[]` entries of the loaded ecosystem. */
  affected: AffectedPackage[];
}

/**
 * Where the planner gets advisories for one ecosystem. Package names are compared
 * case-insensitively (GHSA data has e.g. `Axios` for `axios`).
 */
export interface AdvisorySource {
  /** OSV ecosystem of every advisory here, e.g. `npm`. */
  readonly ecosystem: string;
  /** Number of advisories loaded (withdrawn ones excluded). */
  readonly size: number;
  /** Every advisory naming the package, whatever the version; sorted by id. */
  forPackage(name: string): Advisory[];
  /** Advisories whose ranges or versions include `version` of `name` (OSV evaluation); sorted by id. */
  matchAdvisories(name: string, version: string): Advisory[];
  /** The advisory with this id, or whose aliases contain it (case-insensitive). */
  findById(idOrAlias: string): Advisory | undefined;
  /** Whether `advisory` affects `version` of `name` (OSV evaluation). */
  isAffected(advisory: Advisory, name: string, version: string): boolean;
}
