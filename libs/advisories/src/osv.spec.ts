import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidInputError } from '@remediation/errors';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  affectedRanges,
  fixedVersions,
  isAffected,
  loadOsvDirectory,
  OsvRecord,
  toAdvisory,
  type Advisory,
  type OsvRange,
} from './index.js';

/** The npm advisories of __fixtures__/osv/npm (sources: __fixtures__/PROVENANCE.md). */
const OSV_NPM = fileURLToPath(new URL('./__fixtures__/osv/npm', import.meta.url));

/** Builds an npm advisory for package `pkg` from ranges and/or versions. */
function advisory(ranges: OsvRange[], versions: string[] = [], pkg = 'pkg'): Advisory {
  const record = OsvRecord.parse({
    id: 'TEST-1',
    modified: '2024-01-01T00:00:00Z',
    affected: [{ package: { ecosystem: 'npm', name: pkg }, ranges, versions }],
  });
  return toAdvisory(record, 'npm')!;
}

const ecosystem = (...events: Record<string, string>[]): OsvRange => ({ type: 'ECOSYSTEM', events }) as OsvRange;

describe('OSV range evaluation (https://ossf.github.io/osv-schema/#evaluation)', () => {
  it('introduced 0 / fixed: everything below the fix', () => {
    const a = advisory([ecosystem({ introduced: '0' }, { fixed: '1.20.3' })]);
    expect(isAffected(a, 'pkg', '0.0.1')).toBe(true);
    expect(isAffected(a, 'pkg', '1.20.2')).toBe(true);
    expect(isAffected(a, 'pkg', '1.20.3-rc.1')).toBe(true); // prereleases sort before the release
    expect(isAffected(a, 'pkg', '1.20.3')).toBe(false);
    expect(isAffected(a, 'pkg', '2.0.0')).toBe(false);
    expect(affectedRanges(a, 'pkg')).toEqual(['<1.20.3']);
    expect(fixedVersions(a, 'pkg')).toEqual(['1.20.3']);
  });

  it('introduced 0 without fix: every version (the node-serialize case)', () => {
    const a = advisory([ecosystem({ introduced: '0' })]);
    expect(isAffected(a, 'pkg', '0.0.4')).toBe(true);
    expect(isAffected(a, 'pkg', '99.0.0')).toBe(true);
    expect(affectedRanges(a, 'pkg')).toEqual(['*']);
    expect(fixedVersions(a, 'pkg')).toEqual([]);
  });

  it('last_affected includes the named version, unlike fixed', () => {
    const a = advisory([ecosystem({ introduced: '0' }, { last_affected: '4.5.1' })]);
    expect(isAffected(a, 'pkg', '4.5.1')).toBe(true);
    expect(isAffected(a, 'pkg', '4.5.2')).toBe(false);
    expect(affectedRanges(a, 'pkg')).toEqual(['<=4.5.1']);
  });

  it('several introduced/fixed pairs in one range, events in any order', () => {
    const a = advisory([ecosystem({ fixed: '3.2.5' }, { introduced: '1.0.0' }, { introduced: '3.0.0' }, { fixed: '1.0.2' })]);
    expect(['0.9.0', '1.0.0', '1.0.1', '1.0.2', '2.0.0', '3.0.0', '3.2.4', '3.2.5'].map((v) => isAffected(a, 'pkg', v))).toEqual([
      false,
      true,
      true,
      false,
      false,
      true,
      true,
      false,
    ]);
    expect(affectedRanges(a, 'pkg')).toEqual(['>=1.0.0 <1.0.2', '>=3.0.0 <3.2.5']);
  });

  it('limit bounds the range; SEMVER ranges evaluate like ECOSYSTEM; GIT ranges are ignored', () => {
    const limited = advisory([ecosystem({ introduced: '1.0.0' }, { limit: '2.0.0' })]);
    expect(isAffected(limited, 'pkg', '1.5.0')).toBe(true);
    expect(isAffected(limited, 'pkg', '2.0.0')).toBe(false);
    expect(affectedRanges(limited, 'pkg')).toEqual(['>=1.0.0 <2.0.0']);
    const semverType = advisory([{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '2.0.0' }] } as OsvRange]);
    expect(isAffected(semverType, 'pkg', '1.0.0')).toBe(true);
    const git = advisory([{ type: 'GIT', repo: 'https://example.invalid/r', events: [{ introduced: 'abc' }] } as OsvRange]);
    expect(isAffected(git, 'pkg', '1.0.0')).toBe(false);
  });

  it('explicit versions list', () => {
    const a = advisory([], ['1.0.0', '1.0.3', 'dev']);
    expect(isAffected(a, 'pkg', '1.0.0')).toBe(true);
    expect(isAffected(a, 'pkg', '1.0.1')).toBe(false);
    expect(isAffected(a, 'pkg', '1.0.3')).toBe(true);
    expect(isAffected(a, 'pkg', 'dev')).toBe(true); // non-semver versions still match exactly
    expect(affectedRanges(a, 'pkg')).toEqual(['1.0.0', '1.0.3', 'dev']);
    // Listed versions already inside a range are not repeated.
    const both = advisory([ecosystem({ introduced: '0' }, { fixed: '1.0.2' })], ['1.0.0', '1.5.0']);
    expect(isAffected(both, 'pkg', '1.5.0')).toBe(true);
    expect(affectedRanges(both, 'pkg')).toEqual(['<1.0.2', '1.5.0']);
  });

  it('other packages and non-semver versions are not affected by ranges', () => {
    const a = advisory([ecosystem({ introduced: '0' }, { fixed: '2.0.0' })]);
    expect(isAffected(a, 'other', '1.0.0')).toBe(false);
    expect(isAffected(a, 'pkg', 'not-a-version')).toBe(false);
    expect(isAffected(a, 'PKG', '1.0.0')).toBe(true); // names compare case-insensitively
  });
});

describe('loadOsvDirectory (__fixtures__/osv/npm)', () => {
  it('loads the npm advisories, skipping the withdrawn ones', async () => {
    const source = await loadOsvDirectory(OSV_NPM, { ecosystem: 'npm' });
    expect(source.withdrawn).toEqual(['GHSA-6r5x-hmgg-7h53', 'GHSA-8wp3-cp9v-44fm', 'GHSA-fmr4-7g9q-7hc7']);
    expect(source.size).toBe(75); // 78 files - 3 withdrawn
    expect(source.findById('GHSA-fmr4-7g9q-7hc7')).toBeUndefined();
  });

  it('matches path-to-regexp 0.1.7 against GHSA-9wv6-86v2-598j and its five ranges', async () => {
    const source = await loadOsvDirectory(OSV_NPM, { ecosystem: 'npm' });
    const [a, ...rest] = source.matchAdvisories('path-to-regexp', '0.1.7');
    expect(rest).toEqual([]);
    expect(a!.id).toBe('GHSA-9wv6-86v2-598j');
    expect(a!.severity).toBe('high');
    expect(affectedRanges(a!, 'path-to-regexp')).toEqual([
      '<0.1.10',
      '>=0.2.0 <1.9.0',
      '>=2.0.0 <3.3.0',
      '>=4.0.0 <6.3.0',
      '>=7.0.0 <8.0.0',
    ]);
    expect(fixedVersions(a!, 'path-to-regexp')).toEqual(['0.1.10', '1.9.0', '3.3.0', '6.3.0', '8.0.0']);
    const affected = ['0.1.10', '0.2.0', '1.8.0', '1.9.0', '2.2.1', '3.3.0', '6.2.2', '6.3.0', '7.2.0', '8.0.0'].filter((v) =>
      source.isAffected(a!, 'path-to-regexp', v),
    );
    expect(affected).toEqual(['0.2.0', '1.8.0', '2.2.1', '6.2.2', '7.2.0']);
  });

  it('indexes by lowercase package name (GHSA-8hc4-vh64-cxmj names "Axios")', async () => {
    const source = await loadOsvDirectory(OSV_NPM, { ecosystem: 'npm' });
    expect(source.matchAdvisories('axios', '1.7.3').map((a) => a.id)).toContain('GHSA-8hc4-vh64-cxmj');
    expect(source.matchAdvisories('axios', '1.7.4').map((a) => a.id)).not.toContain('GHSA-8hc4-vh64-cxmj');
    expect(source.forPackage('AXIOS').map((a) => a.id)).toContain('GHSA-8hc4-vh64-cxmj');
  });

  it('finds by id or alias, normalises severity, prefers the advisory page as url', async () => {
    const source = await loadOsvDirectory(OSV_NPM, { ecosystem: 'npm' });
    expect(source.findById('cve-2019-11358')?.id).toBe('GHSA-6c3j-c64m-qhgq');
    expect(source.findById('GHSA-6C3J-C64M-QHGQ')?.severity).toBe('moderate');
    expect(source.findById('GHSA-q4v7-4rhw-9hqm')?.severity).toBe('critical');
    expect(source.findById('GHSA-pxg6-pf52-xh8x')?.severity).toBe('low');
    // ADVISORY references: NVD first, then the GHSA page naming its own id, which wins.
    expect(source.findById('GHSA-3w5v-p54c-f74x')?.url).toBe('https://github.com/advisories/GHSA-3w5v-p54c-f74x');
    expect(source.findById('GHSA-6c3j-c64m-qhgq')?.url).toBe('https://nvd.nist.gov/vuln/detail/CVE-2019-11358');
    expect(source.findById('CVE-0000-0000')).toBeUndefined();
  });

  it('keeps only the requested ecosystem of multi-ecosystem advisories', async () => {
    const source = await loadOsvDirectory(OSV_NPM, { ecosystem: 'npm' });
    const a = source.findById('GHSA-gxr4-xjj5-5px2')!;
    expect(new Set(a.affected.map((x) => x.ecosystem))).toEqual(new Set(['npm']));
  });
});

describe('loadOsvDirectory errors', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'osv-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('names the file and field of an invalid record', async () => {
    await writeFile(join(dir, 'BAD-1.json'), JSON.stringify({ id: 'BAD-1', modified: 'x', affected: [{ package: {} }] }));
    const err = await loadOsvDirectory(dir, { ecosystem: 'npm' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidInputError);
    expect((err as InvalidInputError).code).toBe('ADVISORY_INVALID');
    expect((err as InvalidInputError).message).toMatch(/BAD-1\.json is not an OSV record: affected\.0\.package\.ecosystem/);
  });

  it('fails clearly on a missing directory', async () => {
    const err = await loadOsvDirectory(join(dir, 'missing'), { ecosystem: 'npm' }).catch((e: unknown) => e);
    expect((err as InvalidInputError).code).toBe('ADVISORY_SOURCE_UNREADABLE');
  });
});
