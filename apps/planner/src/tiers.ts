import type { BreakingChangeRisk, JumpSize } from '@remediation/contracts';
import { npmReleasesOf, npmVersioning, type PackageReleases, type PublishedVersion, type Versioning } from '@remediation/ecosystems';
import type { PackageVersions } from '@remediation/registry';

/** Note added to `moderate` when the current major line has no fixed version (docs/mission.md "Plan"). */
export const NO_FIX_IN_LINE_NOTE = 'no fixed version within the current major line';

const JUMP_ORDER: Record<JumpSize, number> = { patch: 0, minor: 1, major: 2 };

/**
 * Size of the jump from `from` to `to` by the ecosystem's versioning (`Versioning.jump`); npm by
 * default, whose rules follow the `JumpSize` docstring in `@remediation/contracts` (semver.org §4
 * and npm caret rules: on `0.y.z` a change of `y` is `major`, on `0.0.z` a change of `z` is `minor`).
 * @throws InvalidInputError `VERSION_INVALID` when either version is not a version of the scheme.
 */
export function jumpSize(from: string, to: string, versioning: Versioning = npmVersioning): JumpSize {
  return versioning.jump(from, to);
}

/** The larger of two jumps (null counts as nothing). */
export function largerJump(a: JumpSize | null, b: JumpSize): JumpSize {
  return a === null || JUMP_ORDER[b] > JUMP_ORDER[a] ? b : a;
}

/**
 * Breaking-change risk of an upgrade: `major` → `high` (semver.org §8, PEP 440 §"Semantic
 * versioning": incompatible API changes allowed); `minor`/`patch` → `low` (backward compatible),
 * except, for npm's semver, a `minor` jump on a `0.0.z` version, which npm's caret rules treat as
 * breaking (`^0.0.3` excludes `0.0.4`): `medium`.
 */
export function breakingChangeRisk(jump: JumpSize, from: string, versioning: Versioning = npmVersioning): BreakingChangeRisk {
  if (jump === 'major') return 'high';
  const release = versioning.scheme === 'semver' ? versioning.parse(from)?.release : undefined;
  if (jump === 'minor' && release !== undefined && release[0] === 0 && release[1] === 0) return 'medium';
  return 'low';
}

/**
 * Human notes for jumps whose size is not obvious from the numbers: a `0.y` → `0.y'` change the
 * versioning calls major (npm's caret rules), noted as "crosses the 0.x major line (0.6.x → 0.7.x)".
 */
export function jumpNotes(from: string, to: string, versioning: Versioning = npmVersioning): string[] {
  const a = versioning.parse(from);
  const b = versioning.parse(to);
  if (!a || !b) return [];
  const [aMajor = 0, aMinor = 0] = a.release;
  const [bMajor = 0, bMinor = 0] = b.release;
  if (aMajor === 0 && bMajor === 0 && aMinor !== bMinor && versioning.jump(from, to) === 'major') {
    return [`crosses the 0.x major line (0.${aMinor}.x → 0.${bMinor}.x)`];
  }
  return [];
}

/** The versions chosen for one target; null when a tier has no version. */
export interface TierChoice {
  minimal: string | null;
  moderate: string | null;
  /** True when `moderate` fell back to `minimal` because the current line has no fixed version. */
  moderateFellBack: boolean;
  comprehensive: string | null;
  /** Candidate versions (see {@link chooseTiers}) greater than the current one, ascending. */
  candidates: string[];
  /** The subset of `candidates` that is fixed. */
  fixed: string[];
}

/**
 * Chooses the tier versions for one target (docs/mission.md "Plan"), over the candidates: the
 * versions `versioning.candidates` allows (stable, not yanked, not deprecated, unless installed
 * now) greater than `current`, in the scheme's order (never by publish time).
 * - `minimal`: the lowest fixed candidate;
 * - `moderate`: the newest fixed candidate on `current`'s line (`versioning.sameLine`: npm's caret
 *   line, 0.6.x for 0.6.0, 1.x for 1.15.0; PEP 440's same major); without one, `minimal` again
 *   (`moderateFellBack`);
 * - `comprehensive`: the newest candidate, if it is fixed; else null.
 * @param current the installed version (valid in the scheme).
 * @param releases the registry's versions: `PackageReleases` of a `RegistrySource`, or an npm
 *   `PackageVersions` (read as `NpmReleaseSource` reads it).
 * @param isFixed whether a version is free of every known advisory of the package.
 * @param versioning the ecosystem's version scheme; npm by default.
 */
export function chooseTiers(
  current: string,
  releases: PackageReleases | PackageVersions,
  isFixed: (version: string) => boolean,
  versioning: Versioning = npmVersioning,
): TierChoice {
  const published: readonly PublishedVersion[] = 'distTags' in releases ? npmReleasesOf(releases, '').versions : releases.versions;
  const candidates = versioning.candidates(published, [current]).filter((v) => versioning.compare(v, current) > 0);
  const fixed = candidates.filter(isFixed);
  const minimal = fixed[0] ?? null;
  const lineNewest = fixed.filter((v) => versioning.sameLine(current, v)).at(-1) ?? null;
  const newest = candidates.at(-1) ?? null;
  return {
    minimal,
    moderate: lineNewest ?? minimal,
    moderateFellBack: lineNewest === null && minimal !== null,
    comprehensive: newest !== null && fixed.includes(newest) ? newest : null,
    candidates,
    fixed,
  };
}
