import type { ManifestDependency, RemediationProof } from '../types.js';
import { inMavenInterval, isMavenVersion, parseMavenRequirement } from './versioning.js';

/**
 * The lowest version a Maven version requirement admits: a plain version is Maven's soft
 * requirement, resolved to that version when nothing else in the build asks for another
 * (https://maven.apache.org/pom.html#dependency-version-requirement-specification); a range's
 * lowest inclusive lower bound (`[2.17.1,3)` → `2.17.1`). Null for a range open below (`(,3.0)`),
 * or with an exclusive lower bound (the next published version is unknown here), or when it is
 * not a requirement.
 */
export function lowestMavenAdmissible(requirement: string): string | null {
  if (isMavenVersion(requirement.trim())) return requirement.trim();
  if (!/^\s*[[(]/.test(requirement)) return null;
  const intervals = parseMavenRequirement(requirement);
  if (!intervals || intervals.some((i) => !i.lower || !i.lower.inclusive)) return null;
  return intervals.map((i) => i.lower!.version).reduce((a, b) => (inMavenInterval(a, { upper: { version: b, inclusive: true } }) ? a : b));
}

/**
 * Proof of remediation for a Maven requirement: its lowest admissible version
 * ({@link lowestMavenAdmissible}) lies in none of `affectedRanges` (the comparator sets the OSV
 * evaluation renders for Maven: `>=2.13.0,<2.15.0`, `<2.12.2`, `<=1.5`, `==2.6.5`, `>=0`; Maven
 * ranges `[1.0,2.0)` are read too), compared by ComparableVersion, pre-releases included. `style`
 * is ignored (`maven`). Never throws: an unreadable requirement or range gives `remediated: false`.
 */
export function proveMavenRemediated(requirement: string, _style: ManifestDependency['style'], affectedRanges: readonly string[]): RemediationProof {
  const lowestAdmissible = lowestMavenAdmissible(requirement);
  if (lowestAdmissible === null) return { remediated: false, lowestAdmissible: null, reason: `"${requirement}" is not a Maven version or a range with an inclusive lower bound, so its lowest admissible version cannot be known` };
  for (const affected of affectedRanges) {
    const intervals = parseMavenRequirement(affected);
    if (intervals === null) return { remediated: false, lowestAdmissible, reason: `affected range "${affected}" is not a Maven range, so remediation cannot be proven` };
    if (intervals.some((i) => inMavenInterval(lowestAdmissible, i))) {
      return { remediated: false, lowestAdmissible, reason: `the pom resolves ${lowestAdmissible}, which is inside the affected range "${affected}"` };
    }
  }
  return {
    remediated: true,
    lowestAdmissible,
    reason: affectedRanges.length === 0 ? `no affected ranges were given; the pom resolves ${lowestAdmissible}` : `the pom resolves ${lowestAdmissible}, outside every affected range (${affectedRanges.map((r) => `"${r}"`).join(', ')})`,
  };
}
