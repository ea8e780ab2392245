import { InvalidInputError } from '@remediation/errors';
import semver from 'semver';
import type { JumpSize, ParsedVersion, PublishedVersion, Versioning } from '../types.js';
import { releaseOrderKey } from '../order-key.js';

/** `vMAJOR.MINOR.PATCH[-pre][+incompatible]`, the `v` optional (OSV's Go records drop it). */
const GO_VERSION = /^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(\+incompatible)?$/;

/**
 * The pre-release part of a pseudo-version (https://go.dev/ref/mod#pseudo-versions): a 14-digit
 * UTC time and a 12-character revision prefix, alone (`vX.0.0-yyyymmddhhmmss-abcdefabcdef`) or
 * after `0.` (`vX.Y.(Z+1)-0.yyyymmddhhmmss-…`, `vX.Y.Z-pre.0.yyyymmddhhmmss-…`).
 */
const PSEUDO_PRERELEASE = /^(?:[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*\.)?(?:0\.)?\d{14}-[0-9a-f]{12}$/;

interface GoVersion {
  /** The semver form: no `v`, no build metadata. */
  semver: string;
  major: number;
  minor: number;
  patch: number;
  prerelease: string | null;
  incompatible: boolean;
}

/** A Go module version read, or null when it is not one (see {@link goVersioning} for the rules). */
export function parseGoVersion(version: string): GoVersion | null {
  const m = GO_VERSION.exec(version.trim());
  if (!m) return null;
  const plain = `${m[1]}.${m[2]}.${m[3]}${m[4] !== undefined ? `-${m[4]}` : ''}`;
  if (semver.valid(plain) === null) return null;
  const major = Number(m[1]);
  const incompatible = m[5] !== undefined;
  // "+incompatible" marks a major version 2 or higher of a module without a go.mod file (https://go.dev/ref/mod#incompatible-versions).
  if (incompatible && major < 2) return null;
  return { semver: plain, major, minor: Number(m[2]), patch: Number(m[3]), prerelease: m[4] ?? null, incompatible };
}

function checked(version: string): GoVersion {
  const v = parseGoVersion(version);
  if (!v) throw new InvalidInputError('VERSION_INVALID', `not a Go module version: ${JSON.stringify(version)}`, { details: { version } });
  return v;
}

/** Whether `version` is a pseudo-version (https://go.dev/ref/mod#pseudo-versions): a pre-release naming a commit time and revision. */
export function isPseudoVersion(version: string): boolean {
  const v = parseGoVersion(version);
  return v !== null && v.prerelease !== null && PSEUDO_PRERELEASE.test(v.prerelease);
}

/** `version` in canonical go.mod form: `v` prefix, `+incompatible` kept. @throws InvalidInputError `VERSION_INVALID`. */
export function canonicalGoVersion(version: string): string {
  const v = checked(version);
  return `v${v.semver}${v.incompatible ? '+incompatible' : ''}`;
}

/**
 * The node-semver range (https://github.com/npm/node-semver#ranges, read with
 * `includePrerelease`) an affected range of a Go module means, or null when it is not a range.
 * Two spellings are read: node-semver syntax on versions with the `v` stripped (how OSV `SEMVER`
 * events of the Go vulnerability database are rendered: `<0.0.0-20220906165146-f3363e06e74c`,
 * `>=1.57.0 <1.57.1`, `*`) and comparator lists joined by commas (`>=1.57.0,<1.57.1`, `==1.2.3`,
 * `>=0`), the syntax OSV evaluation renders for a registered ecosystem whose scheme is not npm's.
 * A leading `v` on an operand is dropped. `>=0` and `>=0.0.0` mean every version, pseudo-versions
 * `v0.0.0-…` included (they sort below `0.0.0`).
 */
export function goRangeToSemver(range: string): string | null {
  const sets = range.split('||').map((set) =>
    set
      .replace(/,/g, ' ')
      .replace(/==\s*/g, '=')
      .replace(/(^|[\s<>=~^])v(?=\d)/g, '$1')
      .trim()
      .split(/\s+/)
      .map((c) => (/^>=\s*0(?:\.0(?:\.0)?)?$/.test(c) ? '>=0.0.0-0' : c))
      .join(' '),
  );
  if (sets.some((s) => s === '')) return null;
  const out = sets.join(' || ');
  return semver.validRange(out, { includePrerelease: true }) === null ? null : out;
}

/**
 * Go module versioning (https://go.dev/ref/mod#versions): semantic versions with a `v` prefix
 * (accepted without it too: OSV's Go records and purls written by some scanners drop it). Rules:
 * - Ordering is semver precedence (semver.org §11). Pseudo-versions
 *   (https://go.dev/ref/mod#pseudo-versions) are pre-releases, so they order as pre-releases do:
 *   `v0.0.0-20190522155817-f3200d17e092` < `v0.0.0-20220906165146-f3363e06e74c` < `v0.1.0`, and
 *   `v1.2.4-0.2019…` sits between `v1.2.3` and `v1.2.4`.
 * - `+incompatible` (https://go.dev/ref/mod#incompatible-versions) is build metadata: ignored in
 *   ordering, allowed only on major 2 or higher; no other build metadata is a module version.
 * - `satisfies(version, requirement)`: a Go requirement is a single version, the minimum MVS
 *   selects from (https://go.dev/ref/mod#minimal-version-selection), so `v1.4.0` admits every
 *   version `>= v1.4.0`. An affected range (see {@link goRangeToSemver}) is matched with
 *   pre-releases included. @throws InvalidInputError `REQUIREMENT_INVALID` otherwise.
 * - `isStable`: no pre-release part (pseudo-versions and `-rc.1` are not stable).
 * - `sameLine`: same major version, the module path's line (`/v2` is another module).
 * - `jump`: a change of major is `major`; on v0 a change of minor is `major` too (v0 makes no
 *   compatibility promise, https://go.dev/doc/modules/version-numbers); then minor, else patch.
 * - `candidates`: valid, stable (never a pre-release or pseudo-version) and not retracted
 *   (`yanked`), unless in use; ascending.
 */
export const goVersioning: Versioning = {
  scheme: 'go-module',
  isValid: (version) => parseGoVersion(version) !== null,
  parse(version): ParsedVersion | null {
    const v = parseGoVersion(version);
    if (!v) return null;
    return { epoch: 0, release: [v.major, v.minor, v.patch], pre: v.prerelease === null ? null : [v.prerelease, 0], post: null, dev: null, local: v.incompatible ? 'incompatible' : null };
  },
  compare: (a, b) => semver.compare(checked(a).semver, checked(b).semver),
  satisfies(version, requirement) {
    const v = checked(version);
    const floor = parseGoVersion(requirement);
    if (floor) return semver.compare(v.semver, floor.semver) >= 0;
    const range = goRangeToSemver(requirement);
    if (range === null) throw new InvalidInputError('REQUIREMENT_INVALID', `not a Go module version or affected range: ${JSON.stringify(requirement)}`, { details: { requirement } });
    return semver.satisfies(v.semver, range, { includePrerelease: true });
  },
  isStable: (version) => checked(version).prerelease === null,
  sameLine: (a, b) => checked(a).major === checked(b).major,
  jump(from, to): JumpSize {
    const a = checked(from);
    const b = checked(to);
    if (a.major !== b.major) return 'major';
    if (a.minor !== b.minor) return a.major === 0 ? 'major' : 'minor';
    return 'patch';
  },
  candidates(published: readonly PublishedVersion[], inUse: readonly string[] = []): string[] {
    const used = new Set(inUse.map((v) => parseGoVersion(v)?.semver).filter((v): v is string => v !== undefined));
    return published
      .filter((p) => parseGoVersion(p.version) !== null)
      .filter((p) => {
        const v = parseGoVersion(p.version)!;
        return used.has(v.semver) || (!p.yanked && v.prerelease === null);
      })
      .map((p) => p.version)
      .sort(goVersioning.compare);
  },
  orderKey: (version) => releaseOrderKey(goVersioning.parse(version)),
};
