import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fixturePath } from '@remediation/testing';
import { describe, expect, it } from 'vitest';
import { affectedKeyRanges, isAffected, OsvRecord, toAdvisory, versionOrderKey, type Advisory, type OsvRange, type VersionKeyRange } from './index.js';

/** PostgreSQL's order of `bigint[]`: element by element, a prefix first. */
function compareKeys(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** Whether `key` lies in one of the closed intervals (what `affected_keys @> key` asks PostgreSQL). */
function within(key: readonly number[], ranges: readonly VersionKeyRange[]): boolean {
  return ranges.some((r) => (r.lower === null || compareKeys(r.lower, key) <= 0) && (r.upper === null || compareKeys(key, r.upper) <= 0));
}

function advisory(ecosystem: string, ranges: OsvRange[], versions: string[] = []): Advisory {
  return toAdvisory(OsvRecord.parse({ id: 'TEST-1', modified: '2024-01-01T00:00:00Z', affected: [{ package: { ecosystem, name: 'pkg' }, ranges, versions }] }), ecosystem)!;
}

async function folder(path: string, ecosystem: string): Promise<Advisory[]> {
  const out: Advisory[] = [];
  for (const file of (await readdir(path)).filter((f) => f.endsWith('.json'))) {
    const advisory = toAdvisory(OsvRecord.parse(JSON.parse(await readFile(join(path, file), 'utf8'))), ecosystem);
    if (advisory && advisory.affected.length > 0) out.push(advisory);
  }
  return out;
}

/** Every version an advisory's events or lists name, and neighbours of each in the scheme's syntax (pre- and post-releases, the next patch). */
function probeVersions(advisories: readonly Advisory[], ecosystem: string): string[] {
  const named = new Set<string>();
  for (const a of advisories) {
    for (const entry of a.affected) {
      entry.versions.forEach((v) => named.add(v));
      for (const range of entry.ranges) for (const event of range.events) named.add(Object.values(event)[0] as string);
    }
  }
  const probes = new Set<string>(['0.0.1', '1.0.0', '99.0.0']);
  for (const v of named) {
    probes.add(v);
    const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(v);
    if (!m) continue;
    const [major, minor, patch] = [m[1], m[2], Number(m[3] ?? 0)];
    if (ecosystem === 'PyPI') [`${v}.post1`, `${v}rc1`, `${v}.dev0`, `${major}.${minor}.${patch + 1}`].forEach((p) => probes.add(p));
    else [`${major}.${minor}.${patch}-0`, `${major}.${minor}.${patch}-rc.1`, `${major}.${minor}.${patch + 1}`, `${major}.${Number(minor) + 1}.0-alpha`].forEach((p) => probes.add(p));
  }
  return [...probes].filter((v) => versionOrderKey(ecosystem, v) !== null);
}

describe('affectedKeyRanges: order-key intervals holding every affected version (the look-up prefilter)', () => {
  it('an introduced/fixed pair, last_affected, several intervals in one range, listed versions', () => {
    expect(affectedKeyRanges(advisory('npm', [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '0.9.1' }] }]), 'pkg', 'npm')).toEqual([
      { lower: null, upper: [0, 0, 9, 1] },
    ]);
    const two = affectedKeyRanges(
      advisory('npm', [{ type: 'SEMVER', events: [{ introduced: '1.0.0' }, { fixed: '1.2.3' }, { introduced: '2.0.0' }, { last_affected: '2.4.0' }] }], ['3.1.0']),
      'pkg',
      'npm',
    );
    expect(two).toEqual([{ lower: [0, 3, 1], upper: [0, 3, 1] }, { lower: [0, 1], upper: [0, 1, 2, 3] }, { lower: [0, 2], upper: [0, 2, 4] }]);
    // Between the two intervals (1.5.0) and above the last (2.4.1): outside, as the evaluation says.
    const a = advisory('npm', [{ type: 'SEMVER', events: [{ introduced: '1.0.0' }, { fixed: '1.2.3' }, { introduced: '2.0.0' }, { last_affected: '2.4.0' }] }]);
    for (const v of ['1.5.0', '2.4.1', '0.9.0']) {
      expect(isAffected(a, 'pkg', v)).toBe(false);
      expect(within(versionOrderKey('npm', v)!, affectedKeyRanges(a, 'pkg', 'npm')!)).toBe(false);
    }
    // Never fixed: open above.
    expect(affectedKeyRanges(advisory('PyPI', [{ type: 'ECOSYSTEM', events: [{ introduced: '1.0' }] }]), 'pkg', 'PyPI')).toEqual([{ lower: [0, 1], upper: null }]);
  });

  it('versions of equal keys are not told apart: an interval stays open over a key holding an introduced and a fix', () => {
    // 2.0.0-rc.1 and 2.0.0 have the same key; 2.0.0 is not affected but 2.0.0-rc.1 is, and so is 3.0.0 (introduced again).
    const a = advisory('npm', [{ type: 'SEMVER', events: [{ introduced: '2.0.0-rc.1' }, { fixed: '2.0.0' }, { introduced: '3.0.0' }] }]);
    expect(isAffected(a, 'pkg', '2.0.0-rc.1')).toBe(true);
    expect(affectedKeyRanges(a, 'pkg', 'npm')).toEqual([{ lower: [0, 2], upper: null }]);
    // PEP 440: 1.0.post1 sorts after 1.0 with the same key.
    const p = advisory('PyPI', [{ type: 'ECOSYSTEM', events: [{ introduced: '1.0' }, { fixed: '1.0.post1' }] }]);
    expect(within(versionOrderKey('PyPI', '1.0')!, affectedKeyRanges(p, 'pkg', 'PyPI')!)).toBe(true);
  });

  it('conservative where the evaluation cannot be followed: GIT ranges add nothing, limits are ignored, an unreadable version unbounds its range', () => {
    const git = advisory('PyPI', [{ type: 'GIT', repo: 'https://example.invalid/r', events: [{ introduced: 'abc' }, { fixed: 'def' }] }]);
    expect(affectedKeyRanges(git, 'pkg', 'PyPI')).toEqual([]);
    const limited = advisory('npm', [{ type: 'SEMVER', events: [{ introduced: '1.0.0' }, { limit: '1.5.0' }] }]);
    expect(affectedKeyRanges(limited, 'pkg', 'npm')).toEqual([{ lower: [0, 1], upper: null }]);
    const loose = advisory('npm', [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '=1.2.3' }] }]);
    expect(isAffected(loose, 'pkg', '1.5.0')).toBe(false);
    expect(affectedKeyRanges(loose, 'pkg', 'npm')).toEqual([{ lower: null, upper: null }]);
    // An ecosystem without an order key (no Versioning here): not known.
    expect(affectedKeyRanges(advisory('Hackage', [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '1.0' }] }]), 'pkg', 'Hackage')).toBeNull();
    expect(versionOrderKey('Hackage', '1.0')).toBeNull();
    expect(versionOrderKey('npm', 'not-a-version')).toBeNull();
  });

  // Soundness on real advisories: every version the OSV evaluation finds affected has its key in an interval.
  const sets: Array<[string, string]> = [
    ['npm', fileURLToPath(new URL('./__fixtures__/osv/npm', import.meta.url))],
    ['PyPI', fixturePath('osv', 'PyPI')],
    ['crates.io', fixturePath('osv', 'crates.io')],
  ];
  for (const [ecosystem, path] of sets) {
    it(`every affected version of the ${ecosystem} advisories in ${path.split('/').slice(-2).join('/')} lies in their intervals; most unaffected ones do not`, async () => {
      const advisories = await folder(path, ecosystem);
      const probes = probeVersions(advisories, ecosystem);
      expect(advisories.length).toBeGreaterThan(3);
      let affected = 0;
      let excluded = 0;
      for (const a of advisories) {
        for (const name of new Set(a.affected.map((e) => e.name))) {
          const ranges = affectedKeyRanges(a, name, ecosystem);
          expect(ranges).not.toBeNull();
          for (const v of probes) {
            const key = versionOrderKey(ecosystem, v)!;
            if (isAffected(a, name, v, ecosystem)) {
              affected++;
              if (!within(key, ranges!)) throw new Error(`${a.id} ${name}@${v} is affected but key ${key.join('.')} is outside ${JSON.stringify(ranges)}`);
            } else if (!within(key, ranges!)) excluded++;
          }
        }
      }
      expect(affected).toBeGreaterThan(0);
      // The prefilter is worth having: most unaffected (advisory, version) pairs are outside.
      expect(excluded).toBeGreaterThan(0.5 * (advisories.length * probes.length - affected));
    });
  }
});
