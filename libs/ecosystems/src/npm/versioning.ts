import { InvalidInputError } from '@remediation/errors';
import { LRUCache } from 'lru-cache';
import semver from 'semver';
import type { JumpSize, ParsedVersion, PublishedVersion, Versioning } from '../types.js';
import { releaseOrderKey } from '../order-key.js';

/** Parsed versions per mode by their text (`false`: the mode does not read it); see {@link memoSemver}. */
const PARSED = {
  strict: { cache: new LRUCache<string, semver.SemVer | false>({ max: 50_000 }), options: {} },
  loose: { cache: new LRUCache<string, semver.SemVer | false>({ max: 50_000 }), options: { loose: true } },
  range: { cache: new LRUCache<string, semver.SemVer | false>({ max: 50_000 }), options: { loose: true, includePrerelease: true } },
} as const;
/**
 * Ranges as node-semver reads them for {@link npmVersioning}'s `satisfies` (loose, pre-releases
 * included), by their text (`false`: not a range). A `Range` is immutable once built, so one object
 * serves every test of its text: `semver.satisfies` would build it again on each call.
 */
const RANGES = new LRUCache<string, semver.Range | false>({ max: 10_000 });

function rangeOf(requirement: string): semver.Range | null {
  let hit = RANGES.get(requirement);
  if (hit === undefined) {
    try {
      hit = new semver.Range(requirement, { loose: true, includePrerelease: true });
    } catch {
      hit = false;
    }
    RANGES.set(requirement, hit);
  }
  return hit === false ? null : hit;
}

/**
 * Whether a parsed version is in a parsed range: what node-semver's `Range.test` answers for a
 * range built with `includePrerelease` (some comparator set all of whose comparators hold; no
 * pre-release exclusion), evaluated over the library's own parse (`Range.set`, each
 * `Comparator`'s `operator` and `semver`) with `SemVer.compare` (semver.org §11 precedence, build
 * metadata ignored). `Range.test` reaches each comparator through `cmp` → `gt`/`lt`/`eq`… →
 * `compare(a, b, options)`, which constructs `new SemVer(a)` and `new SemVer(b)`: the
 * comparator's version was parsed without `includePrerelease`, so it is parsed again from its
 * text on every test, and the constructor that returns its argument still allocates (node-semver
 * 7.x). A plan of 100,000 components tests hundreds of thousands of versions; this is ≈ 12–15
 * times faster and allocates nothing (docs/decisions/0032-npm-range-tests.md). A comparator holds when it is
 * `Comparator.ANY` (`*`, `x`, empty), or when the comparison meets its operator (`''` equal; `<`,
 * `<=`, `>`, `>=`: the only operators node-semver's range parse leaves, `=` being read as `''`).
 */
function inRange(range: semver.Range, version: semver.SemVer): boolean {
  for (const set of range.set) {
    let all = true;
    for (const comparator of set) {
      if (!comparatorHolds(comparator, version)) {
        all = false;
        break;
      }
    }
    if (all) return true;
  }
  return false;
}

/** node-semver's `Comparator.ANY`, the `semver` of a comparator that admits every version (not in @types/semver). */
const ANY = (semver.Comparator as unknown as { ANY: symbol }).ANY;

/** Whether one comparator of a parsed range admits `version` (see {@link inRange} for the rule). */
function comparatorHolds(comparator: semver.Comparator, version: semver.SemVer): boolean {
  if ((comparator.semver as unknown) === ANY) return true;
  const order = version.compare(comparator.semver);
  switch (comparator.operator) {
    case '':
      return order === 0;
    case '<':
      return order < 0;
    case '<=':
      return order <= 0;
    case '>':
      return order > 0;
    case '>=':
      return order >= 0;
    default:
      // Defensive: node-semver's range parse leaves no other operator today.
      return comparator.test(version);
  }
}

/**
 * `semver.parse(version, options)`, memoised: a plan compares the same few thousand version
 * strings (installed versions, candidates, range events) hundreds of thousands of times, and each
 * node-semver parse allocates. Modes: strict (default); `loose`; `range`, the options
 * `semver.satisfies` re-parses a version with here (loose, pre-releases included): the object
 * `satisfies` compares (`inRange`). The objects are shared: callers must not mutate them (no
 * `inc()`). Null when the mode does not read `version`.
 */
export function memoSemver(version: string, mode: 'strict' | 'loose' | 'range' = 'strict'): semver.SemVer | null {
  const { cache, options } = PARSED[mode];
  let hit = cache.get(version);
  if (hit === undefined) {
    hit = semver.parse(version, options) ?? false;
    cache.set(version, hit);
  }
  return hit === false ? null : hit;
}

function parsed(version: string): semver.SemVer {
  const p = memoSemver(version);
  if (!p) throw new InvalidInputError('VERSION_INVALID', `not a semver version: ${JSON.stringify(version)}`, { details: { version } });
  return p;
}

/**
 * npm versioning: SemVer 2.0.0 (https://semver.org) with node-semver's range syntax
 * (https://github.com/npm/node-semver#ranges). Precedence per semver.org §11; a version is stable
 * when it has no pre-release part (§9). The compatibility line is npm's caret line (`^current`:
 * 1.x for 1.15.0, 0.6.x for 0.6.0, exactly 0.0.3 for 0.0.3), the line `npm install` keeps a
 * caret range on. Jumps follow the caret rules too: a change of major is `major`; on `0.y.z` a
 * change of `y` is `major`; on `0.0.z` a change of `z` is `minor`; otherwise a change of minor is
 * `minor` and anything else `patch`. Deprecated versions (npm `deprecated`) are not candidates.
 */
export const npmVersioning: Versioning = {
  scheme: 'semver',
  isValid: (version) => memoSemver(version) !== null,
  parse(version): ParsedVersion | null {
    const p = memoSemver(version);
    if (!p) return null;
    const pre = p.prerelease.length > 0 ? ([String(p.prerelease[0]), Number(p.prerelease[1] ?? 0) || 0] as [string, number]) : null;
    return { epoch: 0, release: [p.major, p.minor, p.patch], pre, post: null, dev: null, local: p.build.length > 0 ? p.build.join('.') : null };
  },
  compare(a, b) {
    return parsed(a).compare(parsed(b));
  },
  satisfies(version, requirement) {
    parsed(version);
    const range = rangeOf(requirement);
    if (range === null) {
      throw new InvalidInputError('REQUIREMENT_INVALID', `not an npm range: ${JSON.stringify(requirement)}`, { details: { requirement } });
    }
    // What `semver.satisfies(version, requirement, { loose: true, includePrerelease: true })` answers.
    const inRangeMode = memoSemver(version, 'range');
    // Defensive: a version `parsed` accepts (strict) always parses loosely too.
    return inRangeMode === null ? range.test(version) : inRange(range, inRangeMode);
  },
  isStable(version) {
    return parsed(version).prerelease.length === 0;
  },
  sameLine(a, b) {
    // `b` satisfies `^a` or `a` satisfies `^b` (pre-releases included). `^lo` is `>=lo <next-0`
    // (node-semver's caret desugaring: next major; on 0.y next minor; on 0.0.z next patch), and
    // nothing on the next line sorts below its `-0`, so the higher one is in `^lower` exactly when it
    // shares the lower one's leading version part(s).
    const pa = parsed(a);
    const pb = parsed(b);
    const [lo, hi] = pa.compare(pb) <= 0 ? [pa, pb] : [pb, pa];
    if (lo.major > 0) return hi.major === lo.major;
    if (lo.minor > 0) return hi.major === 0 && hi.minor === lo.minor;
    return hi.major === 0 && hi.minor === 0 && hi.patch === lo.patch;
  },
  jump(from, to): JumpSize {
    const a = parsed(from);
    const b = parsed(to);
    if (a.major !== b.major) return 'major';
    if (a.major === 0) {
      if (a.minor !== b.minor) return 'major';
      if (a.minor === 0 && a.patch !== b.patch) return 'minor';
      return 'patch';
    }
    return a.minor !== b.minor ? 'minor' : 'patch';
  },
  candidates(published: readonly PublishedVersion[], inUse: readonly string[] = []): string[] {
    const used = new Set(inUse.map((v) => memoSemver(v)?.version).filter((v): v is string => v !== undefined));
    const kept: semver.SemVer[] = [];
    for (const p of published) {
      const v = memoSemver(p.version);
      if (v !== null && (used.has(v.version) || (!p.yanked && !p.deprecated && v.prerelease.length === 0))) kept.push(v);
    }
    return kept.sort((a, b) => a.compare(b)).map((v) => v.raw);
  },
  orderKey: (version) => releaseOrderKey(npmVersioning.parse(version)),
};
