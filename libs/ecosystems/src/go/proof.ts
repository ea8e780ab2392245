import semver from 'semver';
import type { ManifestDependency, RemediationProof } from '../types.js';
import { canonicalGoVersion, goRangeToSemver, parseGoVersion } from './versioning.js';

/**
 * Proof of remediation for a Go requirement (a go.mod `require` version): under minimal version
 * selection (https://go.dev/ref/mod#minimal-version-selection) the requirement is the lowest
 * version the build may use, so it is the lowest admissible version, and it must lie in none of
 * `affectedRanges`. Affected ranges are read by {@link goRangeToSemver}: node-semver syntax on
 * versions without `v` (`<1.3.2`, `>=1.57.0 <1.57.1`, `<0.0.0-20220906165146-f3363e06e74c`,
 * `*`), or comma-joined comparator lists (`>=1.57.0,<1.57.1`, `==1.2.3`, `>=0`); pre-releases and
 * pseudo-versions are matched (they are real module versions). `+incompatible` is ignored.
 * `style` is ignored (a Go requirement is always one version). Never throws: a requirement that
 * is not a module version, or an affected range that is not a range, gives `remediated: false`.
 */
export function proveGoRemediated(requirement: string, _style: ManifestDependency['style'], affectedRanges: readonly string[]): RemediationProof {
  const v = parseGoVersion(requirement);
  if (!v) return { remediated: false, lowestAdmissible: null, reason: `"${requirement}" is not a Go module version, so its lowest admissible version cannot be known` };
  const lowestAdmissible = canonicalGoVersion(requirement);
  for (const affected of affectedRanges) {
    const range = goRangeToSemver(affected);
    if (range === null) return { remediated: false, lowestAdmissible, reason: `affected range "${affected}" is not a Go affected range, so remediation cannot be proven` };
    if (semver.satisfies(v.semver, range, { includePrerelease: true })) {
      return { remediated: false, lowestAdmissible, reason: `go.mod requires ${lowestAdmissible} (the minimum MVS selects), which is inside the affected range "${affected}"` };
    }
  }
  return {
    remediated: true,
    lowestAdmissible,
    reason:
      affectedRanges.length === 0
        ? `no affected ranges were given; go.mod requires ${lowestAdmissible} (the minimum MVS selects)`
        : `go.mod requires ${lowestAdmissible} (the minimum MVS selects), outside every affected range (${affectedRanges.map((r) => `"${r}"`).join(', ')})`,
  };
}
