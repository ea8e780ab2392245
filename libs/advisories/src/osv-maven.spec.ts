import { readFile } from 'node:fs/promises';
import { proveMavenRemediated } from '@remediation/ecosystems';
import { fixturePath } from '@remediation/testing';
import { describe, expect, it } from 'vitest';
import { affectedRanges, fixedVersions, isAffected, OsvRecord, toAdvisory, type Advisory } from './index.js';

/** A real GHSA Maven record of test/fixtures/osv/Maven (see test/fixtures/PROVENANCE.md). */
async function ghsa(id: string): Promise<Advisory> {
  const record = OsvRecord.parse(JSON.parse(await readFile(fixturePath('osv', 'Maven', `${id}.json`), 'utf8')));
  return toAdvisory(record, 'Maven')!;
}

const LOG4J = 'org.apache.logging.log4j:log4j-core';

describe('OSV evaluation of Maven advisories: ComparableVersion order, comparator-set ranges', () => {
  it('GHSA-jfh8-c2jp-5v3q (Log4Shell): three ECOSYSTEM ranges, evaluated by Maven order, rendered for proveMavenRemediated', async () => {
    const a = await ghsa('GHSA-jfh8-c2jp-5v3q');
    for (const v of ['2.14.1', '2.13.0', '2.0-beta9', '2.11.2', '2.3']) expect(isAffected(a, LOG4J, v, 'Maven'), v).toBe(true);
    // 2.12.2 and 2.3.1 are fixes; 2.15.0 fixes the 2.13 line; 2.4 < 2.12.2 < 2.13 in Maven (and semver) order.
    for (const v of ['2.15.0', '2.12.2', '2.3.1', '2.16.0']) expect(isAffected(a, LOG4J, v, 'Maven'), v).toBe(false);
    expect(affectedRanges(a, LOG4J, 'Maven')).toEqual(['<2.3.1', '>=2.4,<2.12.2', '>=2.13.0,<2.15.0']);
    expect(fixedVersions(a, LOG4J, 'Maven')).toEqual(['2.3.1', '2.12.2', '2.15.0']);
    const ranges = affectedRanges(a, LOG4J, 'Maven');
    expect(proveMavenRemediated('2.14.1', 'maven', ranges).remediated).toBe(false);
    expect(proveMavenRemediated('2.15.0', 'maven', ranges).remediated).toBe(true);
  });

  it('qualified versions order as Maven orders them (GHSA-wxqc-pxw9-g2p8: fixed 5.2.24.RELEASE)', async () => {
    const a = await ghsa('GHSA-wxqc-pxw9-g2p8');
    const spring = 'org.springframework:spring-core';
    expect(isAffected(a, spring, '3.2.6.RELEASE', 'Maven')).toBe(true);
    // RELEASE is the release itself: 5.2.24 = 5.2.24.RELEASE is fixed; 5.2.24-RC1 is below it.
    expect(isAffected(a, spring, '5.2.24', 'Maven')).toBe(false);
    expect(isAffected(a, spring, '5.2.24.RELEASE', 'Maven')).toBe(false);
    expect(isAffected(a, spring, '5.2.24-RC1', 'Maven')).toBe(true);
    expect(isAffected(a, spring, '5.3.26', 'Maven')).toBe(true);
    expect(isAffected(a, spring, '5.3.27', 'Maven')).toBe(false);
  });

  it('last_affected is inclusive and listed versions count, by Maven equality', () => {
    const record = OsvRecord.parse({
      id: 'TEST-MAVEN-1',
      modified: '2026-12-03T00:00:00Z',
      affected: [
        {
          package: { ecosystem: 'Maven', name: 'org.example:lib' },
          ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '1.0' }, { last_affected: '1.4.Final' }] }],
          versions: ['2.0.0'],
        },
      ],
    });
    const a = toAdvisory(record, 'Maven')!;
    expect(isAffected(a, 'org.example:lib', '1.4', 'Maven')).toBe(true);
    expect(isAffected(a, 'org.example:lib', '1.4.1', 'Maven')).toBe(false);
    expect(isAffected(a, 'org.example:lib', '1.0-rc1', 'Maven')).toBe(false);
    expect(isAffected(a, 'org.example:lib', '2', 'Maven')).toBe(true);
    expect(affectedRanges(a, 'org.example:lib', 'Maven')).toEqual(['>=1.0,<=1.4.Final', '==2.0.0']);
    expect(proveMavenRemediated('1.4.1', 'maven', affectedRanges(a, 'org.example:lib', 'Maven')).remediated).toBe(true);
    expect(proveMavenRemediated('2.0', 'maven', affectedRanges(a, 'org.example:lib', 'Maven')).remediated).toBe(false);
  });
});
