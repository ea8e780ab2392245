import * as pep440 from '@renovatebot/pep440';
import { InvalidInputError } from '@remediation/errors';
import type { JumpSize, ParsedVersion, PublishedVersion, Versioning } from '../types.js';
import { releaseOrderKey } from '../order-key.js';

function parsed(version: string): NonNullable<ReturnType<typeof pep440.parse>> {
  const p = pep440.parse(version);
  if (!p) throw new InvalidInputError('VERSION_INVALID', `not a PEP 440 version: ${JSON.stringify(version)}`, { details: { version } });
  return p;
}

/**
 * PEP 440 versioning (https://peps.python.org/pep-0440/) on @renovatebot/pep440 (a port of
 * pypa/packaging). Ordering per §"Summary of permitted suffixes and relative ordering"; a
 * version is stable when it has no pre-release (§Pre-releases) and no dev-release
 * (§Developmental releases) part — post-releases (§Post-releases) are stable. The compatibility
 * line is the first release segment (the "major", §"Semantic versioning"); jumps compare release
 * segments 1, 2 and 3 (missing segments count as 0, §"Release segment": `1.0` == `1.0.0`).
 */
export const pep440Versioning: Versioning = {
  scheme: 'pep440',
  isValid: (version) => pep440.valid(version) !== null,
  parse(version): ParsedVersion | null {
    const p = pep440.parse(version);
    if (!p) return null;
    return {
      epoch: p.epoch,
      release: [...p.release],
      pre: p.pre ? [String(p.pre[0]), Number(p.pre[1])] : null,
      post: p.post ? Number(p.post[1]) : null,
      dev: p.dev ? Number(p.dev[1]) : null,
      // the typings say string; at run time it is the array of local segments
      local: p.local ? (Array.isArray(p.local) ? (p.local as unknown[]).join('.') : String(p.local)) : null,
    };
  },
  compare(a, b) {
    parsed(a);
    parsed(b);
    return pep440.compare(a, b);
  },
  satisfies(version, requirement) {
    parsed(version);
    if (requirement.trim() !== '' && pep440.validRange(requirement) === false) {
      throw new InvalidInputError('REQUIREMENT_INVALID', `not a PEP 440 specifier set: ${JSON.stringify(requirement)}`, {
        details: { requirement },
      });
    }
    return pep440.satisfies(version, requirement, { prereleases: true });
  },
  isStable(version) {
    const p = parsed(version);
    return !p.pre && !p.dev;
  },
  sameLine(a, b) {
    const pa = parsed(a);
    const pb = parsed(b);
    return pa.epoch === pb.epoch && (pa.release[0] ?? 0) === (pb.release[0] ?? 0);
  },
  jump(from, to): JumpSize {
    const pf = parsed(from);
    const pt = parsed(to);
    if (pf.epoch !== pt.epoch) return 'major';
    const seg = (p: typeof pf, i: number): number => p.release[i] ?? 0;
    if (seg(pf, 0) !== seg(pt, 0)) return 'major';
    if (seg(pf, 1) !== seg(pt, 1)) return 'minor';
    return 'patch';
  },
  candidates(published: readonly PublishedVersion[], inUse: readonly string[] = []): string[] {
    const used = inUse.filter((v) => pep440.valid(v) !== null);
    const isUsed = (v: string): boolean => used.some((u) => pep440.eq(u, v));
    return published
      .filter((p) => pep440.valid(p.version) !== null)
      .filter((p) => isUsed(p.version) || (!p.yanked && pep440Versioning.isStable(p.version)))
      .map((p) => p.version)
      .sort(pep440.compare);
  },
  orderKey: (version) => releaseOrderKey(pep440Versioning.parse(version)),
};
