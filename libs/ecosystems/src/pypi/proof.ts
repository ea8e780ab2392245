import * as pep440 from '@renovatebot/pep440';
import type { ManifestDependency, RemediationProof } from '../types.js';

/**
 * The PEP 440 specifier set (PEP 440 §"Version specifiers") a Poetry constraint means
 * (https://python-poetry.org/docs/dependency-specification/#version-constraints): `^1.2.3` →
 * `>=1.2.3,<2.0.0` (`^0.2.3` → `<0.3.0`, `^0.0.3` → `<0.0.4`), `~1.2.3` → `>=1.2.3,<1.3.0`
 * (`~1` → `<2`), a bare version → `==v`, `*`/empty → `` (every version), comma-separated PEP 440
 * clauses unchanged. Returns null for what it cannot read (unions `||`, space-separated sets).
 */
export function poetryToPep440(constraint: string): string | null {
  const c = constraint.trim();
  if (c === '' || c === '*') return '';
  if (/\|\|/.test(c) || /[0-9*]\s+[<>=!~^]/.test(c)) return null;
  const caret = /^\^\s*(\S+)$/.exec(c);
  if (caret) {
    const v = pep440.parse(caret[1]!);
    if (!v) return null;
    const r = [...v.release];
    const first = r.findIndex((n) => n !== 0);
    const at = first === -1 ? Math.max(0, r.length - 1) : first;
    const upper = r.slice(0, at + 1).map((n, i) => (i === at ? n + 1 : n));
    return `>=${caret[1]},<${upper.join('.')}`;
  }
  const tilde = /^~(?!=)\s*(\S+)$/.exec(c);
  if (tilde) {
    const v = pep440.parse(tilde[1]!);
    if (!v) return null;
    const r = [...v.release];
    const upper = r.length >= 2 ? [r[0]!, r[1]! + 1] : [r[0]! + 1];
    return `>=${tilde[1]},<${upper.join('.')}`;
  }
  if (/^[0-9]/.test(c)) return pep440.valid(c) !== null ? `==${c}` : null;
  return pep440.validRange(c) === false ? null : c;
}

/**
 * The lowest version a PEP 440 specifier set admits, by its floor clauses: the highest operand
 * of `==` (without `.*`), `===`, `>=` and `~=` that the whole set still allows. Null when the set
 * has no such floor (`>`, `<`, `!=` only, or empty: every version down to the oldest release) or
 * when the floor is excluded by another clause.
 */
export function lowestAdmissibleVersion(specifier: string): string | null {
  const floors: string[] = [];
  for (const clause of specifier.split(',')) {
    const m = /^\s*(===|==|>=|~=)\s*([^\s*]+)\s*$/.exec(clause);
    if (m && pep440.valid(m[2]!) !== null) floors.push(m[2]!);
  }
  if (floors.length === 0) return null;
  const floor = floors.sort(pep440.compare).at(-1)!;
  return pep440.satisfies(floor, specifier, { prereleases: true }) ? floor : null;
}

/**
 * Proof of remediation for a Python requirement (`pep440` specifier set of a requirements file or
 * PEP 621 dependency, or `poetry` constraint): its lowest admissible version
 * ({@link lowestAdmissibleVersion}) lies in none of `affectedRanges` (PEP 440 specifier sets such
 * as `>=4.2,<4.2.14` or `==1.5`, pre-releases included). Never throws: a requirement without a
 * floor, one that admits nothing, or an affected range that is not a specifier set gives
 * `remediated: false` with the reason. An empty `affectedRanges` proves nothing to avoid:
 * `remediated: true` when the floor can be read.
 */
export function provePythonRemediated(
  requirement: string,
  style: ManifestDependency['style'],
  affectedRanges: readonly string[],
): RemediationProof {
  const specifier = style === 'poetry' ? poetryToPep440(requirement) : requirement.trim();
  if (specifier === null || (specifier !== '' && pep440.validRange(specifier) === false)) {
    return { remediated: false, lowestAdmissible: null, reason: `"${requirement}" is not a requirement whose lowest admissible version can be read` };
  }
  const lowestAdmissible = lowestAdmissibleVersion(specifier);
  if (lowestAdmissible === null) {
    return {
      remediated: false,
      lowestAdmissible: null,
      reason: `"${requirement}" sets no lowest version (or excludes its own floor), so an affected release may still be installed`,
    };
  }
  for (const affected of affectedRanges) {
    if (affected.trim() !== '' && pep440.validRange(affected) === false) {
      return { remediated: false, lowestAdmissible, reason: `affected range "${affected}" is not a PEP 440 specifier set, so remediation cannot be proven` };
    }
    if (pep440.satisfies(lowestAdmissible, affected, { prereleases: true })) {
      return { remediated: false, lowestAdmissible, reason: `"${requirement}" still admits ${lowestAdmissible}, which is inside the affected range "${affected}"` };
    }
  }
  return {
    remediated: true,
    lowestAdmissible,
    reason:
      affectedRanges.length === 0
        ? `no affected ranges were given; lowest admissible version of "${requirement}" is ${lowestAdmissible}`
        : `lowest admissible version ${lowestAdmissible} of "${requirement}" is outside every affected range (${affectedRanges.map((r) => `"${r}"`).join(', ')})`,
  };
}
