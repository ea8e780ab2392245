import { describe, expect, it } from 'vitest';
import { canonicalId, cvssBaseScore, mergeRecords, normalisePackageName, osvPackageOfPurl, recordSeverity, type OsvRecord } from './index.js';

/** Pieces of the advisory database that need no PostgreSQL: severity, names, alias merge. */
describe('recordSeverity', () => {
  it('rates the highest CVSS v3/v4 base score (ae-cvss-calculator), ignoring the GHSA label when a vector is readable', () => {
    expect(cvssBaseScore('CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H')).toBe(9.8);
    expect(cvssBaseScore('CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N')).toBe(9.3);
    expect(cvssBaseScore('CVSS:2.0/AV:N')).toBeUndefined();
    expect(cvssBaseScore('CVSS:3.1/garbage')).toBeUndefined();
    const record: OsvRecord = {
      id: 'X-1',
      modified: '2024-01-01T00:00:00Z',
      severity: [
        { type: 'CVSS_V3', score: 'CVSS:3.0/AV:N/AC:H/PR:N/UI:N/S:U/C:L/I:N/A:N' },
        { type: 'CVSS_V4', score: 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N' },
      ],
      database_specific: { severity: 'LOW' },
    };
    expect(recordSeverity(record)).toBe('critical');
    expect(recordSeverity({ ...record, severity: [record.severity![0]!] })).toBe('low');
    expect(recordSeverity({ ...record, severity: [] , database_specific: { severity: 'MODERATE' } })).toBe('moderate');
  });
});

describe('names and ids', () => {
  it('normalises PyPI names by PEP 503 and lower-cases case-insensitive ecosystems only', () => {
    expect(normalisePackageName('PyPI', 'Django_REST.framework')).toBe('django-rest-framework');
    expect(normalisePackageName('npm', 'Axios')).toBe('axios');
    expect(normalisePackageName('Go', 'github.com/BurntSushi/toml')).toBe('github.com/BurntSushi/toml');
    expect(osvPackageOfPurl({ type: 'maven', namespace: 'org.apache.logging.log4j', name: 'log4j-core' })).toEqual({ ecosystem: 'Maven', name: 'org.apache.logging.log4j:log4j-core' });
    expect(osvPackageOfPurl({ type: 'cargo', name: 'serde' })).toEqual({ ecosystem: 'crates.io', name: 'serde' });
    expect(osvPackageOfPurl({ type: 'deb', name: 'x' })).toBeUndefined();
  });

  it('picks GHSA, then PYSEC, GO, RUSTSEC, CVE as canonical id', () => {
    expect(canonicalId(['CVE-2021-1', 'RUSTSEC-2021-1', 'GHSA-aaaa-bbbb-cccc'])).toBe('GHSA-aaaa-bbbb-cccc');
    expect(canonicalId(['CVE-2021-1', 'GO-2021-1'])).toBe('GO-2021-1');
  });
});

describe('mergeRecords', () => {
  it('unions ids, affected packages and references; keeps the latest modified and the earliest published', () => {
    const a: OsvRecord = {
      id: 'PYSEC-1',
      aliases: ['CVE-1'],
      modified: '2024-01-01T00:00:00Z',
      published: '2023-01-01T00:00:00Z',
      affected: [{ package: { ecosystem: 'PyPI', name: 'Foo_Bar' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '2.0' }] }] }],
    };
    const b: OsvRecord = {
      id: 'RUSTSEC-1',
      aliases: ['CVE-1', 'GHSA-xxxx-yyyy-zzzz'],
      modified: '2024-06-01T00:00:00Z',
      published: '2023-06-01T00:00:00Z',
      summary: 'from rustsec',
      affected: [{ package: { ecosystem: 'crates.io', name: 'Foo' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '1.0.0' }] }] }],
    };
    const merged = mergeRecords([a, b]);
    expect(merged.id).toBe('GHSA-xxxx-yyyy-zzzz');
    expect(merged.aliases).toEqual(['CVE-1', 'PYSEC-1', 'RUSTSEC-1']);
    expect(merged.modified).toBe('2024-06-01T00:00:00Z');
    expect(merged.published).toBe('2023-01-01T00:00:00Z');
    expect(merged.summary).toBe('from rustsec');
    expect(merged.packages).toEqual([
      { ecosystem: 'PyPI', name: 'foo-bar' },
      { ecosystem: 'crates.io', name: 'foo' },
    ]);
    expect(merged.osv.affected).toHaveLength(2);
  });
});
