import { proveRemediated } from '@remediation/manifests';
import type { ManifestDependency, RemediationProof } from '../types.js';
import { cargoToSemverRange } from './versioning.js';

/**
 * Proof of remediation for a Cargo requirement: it is read as the node-semver range it means
 * ({@link cargoToSemverRange}: a bare `0.3` is `^0.3`), then judged by `proveRemediated` of
 * @remediation/manifests, the npm rule: its lowest admissible version (node-semver `minVersion`)
 * lies in none of `affectedRanges` (node-semver ranges, as OSV `SEMVER` events of crates.io
 * advisories are rendered, e.g. `<0.3.5`, `>=0.4.0 <0.4.2`), pre-releases included. `style` is
 * ignored: Cargo has one requirement syntax. Never throws: a requirement that is not a Cargo
 * requirement, or an affected range that is not a node-semver range, gives `remediated: false`.
 */
export function proveCargoRemediated(requirement: string, _style: ManifestDependency['style'], affectedRanges: readonly string[]): RemediationProof {
  const range = cargoToSemverRange(requirement);
  if (range === null) {
    return { remediated: false, lowestAdmissible: null, reason: `"${requirement}" is not a Cargo version requirement, so its lowest admissible version cannot be known` };
  }
  const proof = proveRemediated(range, [...affectedRanges]);
  return { ...proof, reason: range === requirement ? proof.reason : `Cargo requirement "${requirement}" means "${range}": ${proof.reason}` };
}
