import { InvalidInputError } from '@remediation/errors';
import semver from 'semver';
import { npmVersioning } from '../npm/versioning.js';
import type { PublishedVersion, Versioning } from '../types.js';
import { releaseOrderKey } from '../order-key.js';

/** One comparator of a Cargo requirement: operator (`''` for a bare version) and operand as written. */
export interface CargoComparator {
  /** `^`, `~`, `=`, `>`, `>=`, `<`, `<=`, or `''` (bare: caret). */
  op: string;
  /** The version operand, possibly partial (`1`, `1.2`) or with a wildcard (`1.*`, `*`). */
  version: string;
}

const COMPARATOR = /^(\^|~|=|>=|<=|>|<)?\s*(\*|[xX]|\d+(?:\.(?:\d+|\*|[xX]))?(?:\.(?:\d+|\*|[xX]))?(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?)$/;

/**
 * Split a Cargo version requirement into comparators, or null when it is not one. Syntax of
 * https://doc.rust-lang.org/cargo/reference/specifying-dependencies.html ("Version requirement
 * syntax"): comparators separated by commas; each is `^`, `~`, `=`, `>`, `>=`, `<`, `<=` or no
 * operator before a version of 1–3 numeric segments (pre-release/build allowed on full versions),
 * or a wildcard (`*`, `1.*`, `1.2.*`). Whitespace around operators and commas is allowed.
 */
export function parseCargoRequirement(requirement: string): CargoComparator[] | null {
  const parts = requirement.split(',').map((p) => p.trim());
  if (parts.length === 0 || parts.some((p) => p === '')) return null;
  const out: CargoComparator[] = [];
  for (const part of parts) {
    const m = COMPARATOR.exec(part);
    if (!m) return null;
    out.push({ op: m[1] ?? '', version: m[2]! });
  }
  return out;
}

/**
 * The node-semver range (https://github.com/npm/node-semver#ranges) a Cargo requirement means,
 * or null when it is not a Cargo requirement. Cargo's rules and node-semver's agree comparator by
 * comparator (`^1.2` → `>=1.2.0 <2.0.0`, `^0.2.3` → `<0.3.0`, `^0.0.3` → `<0.0.4`, `^0.0` →
 * `<0.1.0`, `~1` → `<2.0.0`, `~1.2` → `<1.3.0`, `>1` → `>=2.0.0`, `=1.2` → `1.2.x`, `1.*`), and
 * in how pre-releases match (only from a comparator with a pre-release of the same
 * major.minor.patch), so the translation is: a bare version becomes `^version` (Cargo's default),
 * commas become spaces (intersection), whitespace after an operator is dropped.
 */
export function cargoToSemverRange(requirement: string): string | null {
  const comparators = parseCargoRequirement(requirement);
  if (!comparators) return null;
  const range = comparators.map(({ op, version }) => (op === '' && /^\d/.test(version) && !/[*xX]/.test(version) ? `^${version}` : `${op}${version}`)).join(' ');
  return semver.validRange(range) === null ? null : range;
}

function rangeOf(requirement: string): string {
  const range = cargoToSemverRange(requirement);
  if (range === null) throw new InvalidInputError('REQUIREMENT_INVALID', `not a Cargo version requirement: ${JSON.stringify(requirement)}`, { details: { requirement } });
  return range;
}

function checked(version: string): string {
  if (semver.valid(version) === null) throw new InvalidInputError('VERSION_INVALID', `not a semver version: ${JSON.stringify(version)}`, { details: { version } });
  return version;
}

/**
 * Cargo versioning (crates.io): SemVer 2.0.0 versions (https://semver.org; Cargo requires full
 * `major.minor.patch` versions), precedence per semver.org §11, and Cargo's requirement syntax
 * (https://doc.rust-lang.org/cargo/reference/specifying-dependencies.html) read by
 * {@link cargoToSemverRange}. `satisfies` follows Cargo's pre-release rule (a pre-release matches
 * only a comparator naming a pre-release of the same version). The compatibility line is the
 * caret line Cargo's default requirement stays on (`sameLine`: 1.x for 1.15.0, 0.3.x for 0.3.1,
 * exactly 0.0.3 for 0.0.3) and `jump` follows the same caret rules (the first non-zero segment
 * changing is `major`), as in {@link npmVersioning}. Candidates: valid, not a pre-release, not
 * yanked (the sparse index `yanked` flag), unless in use.
 */
export const cargoVersioning: Versioning = {
  scheme: 'cargo-semver',
  isValid: (version) => semver.valid(version) !== null,
  parse: (version) => npmVersioning.parse(version),
  compare: (a, b) => semver.compare(checked(a), checked(b)),
  satisfies(version, requirement) {
    checked(version);
    return semver.satisfies(version, rangeOf(requirement));
  },
  isStable: (version) => semver.prerelease(checked(version)) === null,
  sameLine: (a, b) => npmVersioning.sameLine(checked(a), checked(b)),
  jump: (from, to) => npmVersioning.jump(checked(from), checked(to)),
  candidates(published: readonly PublishedVersion[], inUse: readonly string[] = []): string[] {
    const used = new Set(inUse.map((v) => semver.valid(v)).filter((v): v is string => v !== null));
    return published
      .filter((p) => semver.valid(p.version) !== null)
      .filter((p) => used.has(semver.valid(p.version)!) || (!p.yanked && semver.prerelease(p.version) === null))
      .map((p) => p.version)
      .sort(semver.compare);
  },
  orderKey: (version) => releaseOrderKey(cargoVersioning.parse(version)),
};
