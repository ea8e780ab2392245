import { normaliseSeverity } from './osv-directory.js';
import cvss from 'ae-cvss-calculator';
import type { OsvRecord } from './osv-schema.js';
import type { AdvisorySeverity } from './types.js';

const ORDER: readonly AdvisorySeverity[] = ['unknown', 'low', 'moderate', 'high', 'critical'];

/** The higher of two severities (`unknown` is lowest). */
export function higherSeverity(a: AdvisorySeverity, b: AdvisorySeverity): AdvisorySeverity {
  return ORDER.indexOf(a) >= ORDER.indexOf(b) ? a : b;
}

/**
 * Qualitative rating of a CVSS score (CVSS v3.1 spec §5 and v4.0 spec "Qualitative Severity Rating
 * Scale": 0.1–3.9 low, 4.0–6.9 medium, 7.0–8.9 high, 9.0–10.0 critical; 0 is none → `unknown`).
 * Medium is this project's `moderate`.
 */
export function severityOfScore(score: number): AdvisorySeverity {
  if (score >= 9) return 'critical';
  if (score >= 7) return 'high';
  if (score >= 4) return 'moderate';
  if (score > 0) return 'low';
  return 'unknown';
}

/**
 * Base score of one CVSS v3.0, v3.1 or v4.0 vector (`CVSS:3.1/AV:N/…`), computed by
 * ae-cvss-calculator (https://www.npmjs.com/package/ae-cvss-calculator); undefined for another
 * version or a vector the library cannot read.
 */
export function cvssBaseScore(vector: string): number | undefined {
  try {
    const v = vector.trim();
    const model = v.startsWith('CVSS:4.0/')
      ? new cvss.Cvss4P0(v)
      : v.startsWith('CVSS:3.1/')
        ? new cvss.Cvss3P1(v)
        : v.startsWith('CVSS:3.0/')
          ? new cvss.Cvss3P0(v)
          : undefined;
    const score = model?.calculateScores().base;
    return typeof score === 'number' && Number.isFinite(score) ? score : undefined;
  } catch {
    return undefined;
  }
}

/** Every `CVSS_V3`/`CVSS_V4` vector of a record: top-level `severity[]` and `affected[].severity[]`. */
export function cvssVectors(record: OsvRecord): string[] {
  const entries = [...(record.severity ?? []), ...(record.affected ?? []).flatMap((a) => a.severity ?? [])];
  return entries.filter((s) => s.type === 'CVSS_V3' || s.type === 'CVSS_V4').map((s) => s.score);
}

/**
 * Severity of an OSV record (https://ossf.github.io/osv-schema/#severity-field): the highest rating
 * of its CVSS v3/v4 vectors; without a readable vector, GHSA's `database_specific.severity`.
 */
export function recordSeverity(record: OsvRecord): AdvisorySeverity {
  const scores = cvssVectors(record)
    .map(cvssBaseScore)
    .filter((s): s is number => s !== undefined);
  if (scores.length > 0) return severityOfScore(Math.max(...scores));
  return normaliseSeverity(record.database_specific?.severity);
}
