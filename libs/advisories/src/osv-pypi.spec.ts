import { readFile } from 'node:fs/promises';
import { provePythonRemediated } from '@remediation/ecosystems';
import { fixturePath } from '@remediation/testing';
import { describe, expect, it } from 'vitest';
import {
  affectedRanges,
  fixedVersions,
  isAffected,
  isVersionInRange,
  loadOsvDirectory,
  OsvAdvisoryIndex,
  OsvRecord,
  samePackage,
  toAdvisory,
  type Advisory,
  type OsvRange,
} from './index.js';

/** A real PYSEC record (test/fixtures/osv/PyPI, or the cases' set test/fixtures/osv-pypi-cases; see test/fixtures/PROVENANCE.md). */
async function pysec(folder: 'osv/PyPI' | 'osv-pypi-cases', id: string): Promise<Advisory> {
  const record = OsvRecord.parse(JSON.parse(await readFile(fixturePath(folder, `${id}.json`), 'utf8')));
  return toAdvisory(record, 'PyPI')!;
}

describe('OSV evaluation of PyPI advisories: PEP 440 order, PEP 503 names, PEP 440 specifier sets', () => {
  it('several introduced/fixed pairs (PYSEC-2023-100, Django): each release line has its own fix', async () => {
    const a = await pysec('osv-pypi-cases', 'PYSEC-2023-100');
    // 4.2 is not a semver version: only PEP 440 ordering can place it in [4.2, 4.2.3).
    expect(isAffected(a, 'django', '4.2')).toBe(true);
    expect(isAffected(a, 'django', '4.2.2')).toBe(true);
    expect(isAffected(a, 'django', '4.2.3')).toBe(false);
    expect(isAffected(a, 'django', '3.2.18')).toBe(true);
    expect(isAffected(a, 'django', '3.2.20')).toBe(false);
    expect(isAffected(a, 'django', '4.1.10')).toBe(false);
    expect(isAffected(a, 'django', '3.1')).toBe(false);
    expect(affectedRanges(a, 'django')).toEqual(['>=3.2,<3.2.20', '>=4.0,<4.1.10', '>=4.2,<4.2.3']);
    // PEP 440 order (4.1.10 after 4.1.9; 4.2.3 after 4.1.10), not string order.
    expect(fixedVersions(a, 'django')).toEqual(['3.2.20', '4.1.10', '4.2.3']);
  });

  it('names compare by PEP 503 for PyPI (case, and runs of - _ . as one -), case-insensitively for npm', async () => {
    const a = await pysec('osv-pypi-cases', 'PYSEC-2023-100');
    expect(isAffected(a, 'Django', '4.2')).toBe(true);
    expect(samePackage('PyYAML', 'pyyaml', 'PyPI')).toBe(true);
    expect(samePackage('Flask_SQLAlchemy', 'flask-sqlalchemy', 'PyPI')).toBe(true);
    expect(samePackage('flask.sqlalchemy', 'flask-sqlalchemy', 'PyPI')).toBe(true);
    expect(samePackage('flask_sqlalchemy', 'flask-sqlalchemy', 'npm')).toBe(false);
  });

  it('a pre-release fix (PYSEC-2020-176, PyYAML fixed in 5.2b1): pre-releases order before their release', async () => {
    const a = await pysec('osv-pypi-cases', 'PYSEC-2020-176');
    expect(isAffected(a, 'PyYAML', '5.1')).toBe(true);
    expect(isAffected(a, 'pyyaml', '5.2a1')).toBe(true);
    expect(isAffected(a, 'pyyaml', '5.2b1')).toBe(false);
    expect(isAffected(a, 'pyyaml', '5.2')).toBe(false);
    expect(affectedRanges(a, 'pyyaml')).toEqual(['>=5.1,<5.2b1']);
    expect(fixedVersions(a, 'pyyaml')).toEqual(['5.2b1']);
  });

  it('introduced 0 never fixed (PYSEC-2021-342, lxdui): every version, rendered >=0', async () => {
    const a = await pysec('osv/PyPI', 'PYSEC-2021-342');
    expect(isAffected(a, 'lxdui', '1.0.1')).toBe(true);
    expect(isAffected(a, 'lxdui', '99!1.0')).toBe(true);
    expect(affectedRanges(a, 'lxdui')).toEqual(['>=0']);
    expect(fixedVersions(a, 'lxdui')).toEqual([]);
  });

  it('introduced 0 / fixed (PYSEC-2005-1, trac): `<0.10`, and 0.10 sorts after 0.9', async () => {
    const a = await pysec('osv/PyPI', 'PYSEC-2005-1');
    expect(isAffected(a, 'trac', '0.9')).toBe(true);
    expect(isAffected(a, 'trac', '0.10')).toBe(false);
    expect(isAffected(a, 'trac', '0.10.0')).toBe(false); // PEP 440: 0.10 == 0.10.0
    expect(affectedRanges(a, 'trac')).toEqual(['<0.10']);
  });

  it('GIT ranges are ignored, the ECOSYSTEM range decides (PYSEC-2021-87, wasmtime)', async () => {
    const a = await pysec('osv/PyPI', 'PYSEC-2021-87');
    expect(isAffected(a, 'wasmtime', '0.26.0')).toBe(true);
    expect(isAffected(a, 'wasmtime', '0.27.0')).toBe(false);
    expect(affectedRanges(a, 'wasmtime')).toEqual(['<0.27.0']);
    expect(fixedVersions(a, 'wasmtime')).toEqual(['0.27.0']);
  });

  it('last_affected renders <=, listed versions outside the ranges ==; limit bounds the range', () => {
    const record = OsvRecord.parse({
      id: 'TEST-PY-1',
      modified: '2024-01-01T00:00:00Z',
      affected: [
        {
          package: { ecosystem: 'PyPI', name: 'Some_Pkg' },
          ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '1.0' }, { last_affected: '1.5' }] }],
          versions: ['0.9.post1', '1.2'],
        },
      ],
    });
    const a = toAdvisory(record, 'PyPI')!;
    expect(isAffected(a, 'some-pkg', '1.5')).toBe(true);
    expect(isAffected(a, 'some-pkg', '1.5.post1')).toBe(false); // post-releases sort after the release
    expect(isAffected(a, 'some-pkg', '0.9.post1')).toBe(true); // listed
    expect(affectedRanges(a, 'some-pkg')).toEqual(['>=1.0,<=1.5', '==0.9.post1']);
    const limited: OsvRange = { type: 'ECOSYSTEM', events: [{ introduced: '0' }, { limit: '2.0' }] };
    expect(isVersionInRange('1.9', limited, 'PyPI')).toBe(true);
    expect(isVersionInRange('2.0', limited, 'PyPI')).toBe(false);
  });

  it('the rendered ranges are what the patcher proof reads (provePythonRemediated)', async () => {
    const a = await pysec('osv-pypi-cases', 'PYSEC-2023-100');
    const ranges = affectedRanges(a, 'django');
    expect(provePythonRemediated('==4.2.3', 'pep440', ranges).remediated).toBe(true);
    expect(provePythonRemediated('==4.2', 'pep440', ranges).remediated).toBe(false);
    expect(provePythonRemediated('>=3.2.20,<4', 'pep440', ranges).remediated).toBe(true);
  });

  it('a PyPI advisory never matches an npm package of the same name, and back', async () => {
    const py = await pysec('osv-pypi-cases', 'PYSEC-2023-74');
    const npm = toAdvisory(
      OsvRecord.parse({
        id: 'GHSA-test-npm-requests',
        modified: '2024-01-01T00:00:00Z',
        affected: [{ package: { ecosystem: 'npm', name: 'requests' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '9.0.0' }] }] }],
      }),
      'npm',
    )!;
    const index = new OsvAdvisoryIndex(['npm', 'PyPI'], [py, npm]);
    expect(index.forPackage('requests', 'PyPI').map((x) => x.id)).toEqual(['PYSEC-2023-74']);
    expect(index.forPackage('requests', 'npm').map((x) => x.id)).toEqual(['GHSA-test-npm-requests']);
    expect(index.forPackage('requests').map((x) => x.id)).toEqual(['GHSA-test-npm-requests']); // first ecosystem
    expect(index.matchAdvisories('requests', '2.28.2', 'PyPI').map((x) => x.id)).toEqual(['PYSEC-2023-74']);
    expect(index.matchAdvisories('requests', '2.31.0', 'PyPI')).toEqual([]);
    expect(index.matchAdvisories('requests', '2.28.2', 'npm').map((x) => x.id)).toEqual(['GHSA-test-npm-requests']);
    expect(isAffected(py, 'requests', '2.28.2', 'npm')).toBe(false);
    expect(index.forPackage('Requests', 'PyPI')).toHaveLength(1);
  });

  it('loads a PyPI folder (withdrawn skipped) and looks up by PEP 503 name', async () => {
    const index = await loadOsvDirectory(fixturePath('osv/PyPI'), { ecosystem: 'PyPI' });
    expect(index.withdrawn).toEqual(['PYSEC-2019-144']);
    expect(index.size).toBe(4);
    expect(index.matchAdvisories('PyBlueMonday', '0.0.7', 'PyPI').map((a) => a.id)).toEqual(['PYSEC-2021-849']);
    expect(index.matchAdvisories('pybluemonday', '0.0.8', 'PyPI')).toEqual([]);
  });
});
