import type { BreakingChangeRisk, JumpSize } from '@remediation/contracts';
import type { PackageVersions } from '@remediation/registry';
import semver from 'semver';

/** Note added to `moderate` when the current major line has no fixed version (docs/mission.md "Plan"). */
export const NO_FIX_IN_LINE_NOTE = 'no fixed version within the current major line';

const JUMP_ORDER: Record<JumpSize, number> = { patch: 0, minor: 1, major: 2 };

/**
 * Size of the jump from `from` to `to` (both valid semver), following the `JumpSize` docstring in
 * `@remediation/contracts` (semver.org §4 and npm caret rules): a change of major is `major`; on
 * `0.y.z` a change of `y` is `major`; on `0.0.z` a change of `z` is `minor`; otherwise a change
 * of minor is `minor` and anything else (patch, prerelease, build) is `patch`.
 * @throws TypeError when either version is not valid semver.
 */
export function jumpSize(from: string, to: string): JumpSize {
  const a = semver.parse(from);
  const b = semver.parse(to);
  if (!a || !b) throw new TypeError(`jumpSize needs semver versions, got ${from} → ${to}`);
  if (a.major !== b.major) return 'major';
  if (a.major === 0) {
    if (a.minor !== b.minor) return 'major';
    if (a.minor === 0 && a.patch !== b.patch) return 'minor';
    return 'patch';
  }
  return a.minor !== b.minor ? 'minor' : 'patch';
}

/** The larger of two jumps (null counts as nothing). */
export function largerJump(a: JumpSize | null, b: JumpSize): JumpSize {
  return a === null || JUMP_ORDER[b] > JUMP_ORDER[a] ? b : a;
}

/**
 * Breaking-change risk of an upgrade: `major` → `high` (semver.org §8: incompatible API changes
 * allowed); `minor`/`patch` → `low` (§6–7: backward compatible), except a `minor` jump on a
 * `0.0.z` version, which npm's caret rules treat as breaking (`^0.0.3` excludes `0.0.4`):
 * `medium`.
 */
export function breakingChangeRisk(jump: JumpSize, from: string): BreakingChangeRisk {
  if (jump === 'major') return 'high';
  const a = semver.parse(from);
  if (jump === 'minor' && a !== null && a.major === 0 && a.minor === 0) return 'medium';
  return 'low';
}

/**
 * Human notes for jumps whose size is not obvious from the numbers: a `0.y` → `0.y'` change is
 * major under caret rules, noted as "crosses the 0.x major line (0.6.x → 0.7.x)".
 */
export function jumpNotes(from: string, to: string): string[] {
  const a = semver.parse(from);
  const b = semver.parse(to);
  if (!a || !b) return [];
  if (a.major === 0 && b.major === 0 && a.minor !== b.minor) {
    return [`crosses the 0.x major line (0.${a.minor}.x → 0.${b.minor}.x)`];
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
  /** Stable, non-deprecated versions greater than the current one, ascending. */
  candidates: string[];
  /** The subset of `candidates` that is fixed. */
  fixed: string[];
}

/**
 * Chooses the tier versions for one target (docs/mission.md "Plan"), over the candidates: stable
 * (no prerelease), non-deprecated versions greater than `current`, in semver order (never by
 * publish time).
 * - `minimal`: the lowest fixed candidate;
 * - `moderate`: the newest fixed candidate in the caret line `^current` (0.6.x for 0.6.0, 1.x for
 *   1.15.0); without one, `minimal` again (`moderateFellBack`);
 * - `comprehensive`: the newest candidate, if it is fixed; else null.
 * @param current the installed version (valid semver).
 * @param isFixed whether a version is free of every known advisory of the package.
 */
export function chooseTiers(current: string, versions: PackageVersions, isFixed: (version: string) => boolean): TierChoice {
  const candidates = versions.versions.filter(
    (v) => semver.prerelease(v) === null && !versions.deprecated.has(v) && semver.gt(v, current),
  );
  const fixed = candidates.filter(isFixed);
  const minimal = fixed[0] ?? null;
  const inLine = fixed.filter((v) => semver.satisfies(v, `^${current}`, { includePrerelease: true }));
  const lineNewest = inLine.at(-1) ?? null;
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
