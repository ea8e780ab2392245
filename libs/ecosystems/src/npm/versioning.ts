import { InvalidInputError } from '@remediation/errors';
import semver from 'semver';
import type { JumpSize, ParsedVersion, PublishedVersion, Versioning } from '../types.js';
import { releaseOrderKey } from '../order-key.js';

function parsed(version: string): semver.SemVer {
  const p = semver.parse(version);
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
  isValid: (version) => semver.valid(version) !== null,
  parse(version): ParsedVersion | null {
    const p = semver.parse(version);
    if (!p) return null;
    const pre = p.prerelease.length > 0 ? ([String(p.prerelease[0]), Number(p.prerelease[1] ?? 0) || 0] as [string, number]) : null;
    return { epoch: 0, release: [p.major, p.minor, p.patch], pre, post: null, dev: null, local: p.build.length > 0 ? p.build.join('.') : null };
  },
  compare(a, b) {
    return semver.compare(parsed(a), parsed(b));
  },
  satisfies(version, requirement) {
    parsed(version);
    if (semver.validRange(requirement, { loose: true }) === null) {
      throw new InvalidInputError('REQUIREMENT_INVALID', `not an npm range: ${JSON.stringify(requirement)}`, { details: { requirement } });
    }
    return semver.satisfies(version, requirement, { loose: true, includePrerelease: true });
  },
  isStable(version) {
    return parsed(version).prerelease.length === 0;
  },
  sameLine(a, b) {
    const from = parsed(a);
    return semver.satisfies(parsed(b), `^${from.version}`, { includePrerelease: true }) || semver.satisfies(from, `^${parsed(b).version}`, { includePrerelease: true });
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
    const used = new Set(inUse.map((v) => semver.valid(v)).filter((v): v is string => v !== null));
    return published
      .filter((p) => semver.valid(p.version) !== null)
      .filter((p) => used.has(semver.valid(p.version)!) || (!p.yanked && !p.deprecated && semver.prerelease(p.version) === null))
      .map((p) => p.version)
      .sort(semver.compare);
  },
  orderKey: (version) => releaseOrderKey(npmVersioning.parse(version)),
};
