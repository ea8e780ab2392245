import { readFile } from 'node:fs/promises';
import { proveCargoRemediated } from '@remediation/ecosystems';
import { fixturePath } from '@remediation/testing';
import { describe, expect, it } from 'vitest';
import { affectedRanges, fixedVersions, informationalKind, isAffected, OsvAdvisoryIndex, OsvRecord, samePackage, toAdvisory, type Advisory } from './index.js';

/** A real RustSec record of test/fixtures/osv-cargo-cases (see test/fixtures/PROVENANCE.md). */
async function rustsec(id: string): Promise<Advisory> {
  const record = OsvRecord.parse(JSON.parse(await readFile(fixturePath('osv-cargo-cases', `${id}.json`), 'utf8')));
  return toAdvisory(record, 'crates.io')!;
}

describe('OSV evaluation of crates.io advisories: Cargo semver, crates.io names, node-semver ranges', () => {
  it('RUSTSEC-2023-0044 (openssl): introduced 0.0.0-0 is no lower bound; the range is what proveCargoRemediated reads', async () => {
    const a = await rustsec('RUSTSEC-2023-0044');
    expect(isAffected(a, 'openssl', '0.10.11', 'crates.io')).toBe(true);
    expect(isAffected(a, 'openssl', '0.10.54', 'crates.io')).toBe(true);
    expect(isAffected(a, 'openssl', '0.10.55', 'crates.io')).toBe(false);
    expect(isAffected(a, 'openssl', '0.9.24', 'crates.io')).toBe(true);
    expect(affectedRanges(a, 'openssl', 'crates.io')).toEqual(['<0.10.55']);
    expect(fixedVersions(a, 'openssl', 'crates.io')).toEqual(['0.10.55']);
    expect(informationalKind(a, 'openssl', 'crates.io')).toBeUndefined();
    const ranges = affectedRanges(a, 'openssl', 'crates.io');
    expect(proveCargoRemediated("0.10.11", 'cargo', ranges).remediated).toBe(false);
    expect(proveCargoRemediated("0.10.55", 'cargo', ranges).remediated).toBe(true);
  });

  it('a range with a lower bound (RUSTSEC-2025-0022: >=0.10.39 <0.10.72) and semver order, not string order', async () => {
    const a = await rustsec('RUSTSEC-2025-0022');
    expect(affectedRanges(a, 'openssl', 'crates.io')).toEqual(['>=0.10.39 <0.10.72']);
    expect(isAffected(a, 'openssl', '0.10.11', 'crates.io')).toBe(false);
    expect(isAffected(a, 'openssl', '0.10.70', 'crates.io')).toBe(true);
    expect(isAffected(a, 'openssl', '0.10.100', 'crates.io')).toBe(false);
  });

  it('informational advisories (atty: unsound, unmaintained) count: every version affected, the kind reported', async () => {
    const unsound = await rustsec('RUSTSEC-2021-0145');
    const unmaintained = await rustsec('RUSTSEC-2024-0375');
    for (const [a, kind] of [[unsound, 'unsound'], [unmaintained, 'unmaintained']] as const) {
      expect(isAffected(a, 'atty', '0.2.0', 'crates.io')).toBe(true);
      expect(affectedRanges(a, 'atty', 'crates.io')).toEqual(['*']);
      expect(fixedVersions(a, 'atty', 'crates.io')).toEqual([]);
      expect(informationalKind(a, 'atty', 'crates.io')).toBe(kind);
      expect(a.affected[0]!.informational).toBe(kind);
    }
  });

  it('names compare as crates.io does: any case, - and _ alike (only for crates.io)', async () => {
    expect(samePackage('serde-json', 'serde_json', 'crates.io')).toBe(true);
    expect(samePackage('Inflector', 'inflector', 'crates.io')).toBe(true);
    expect(samePackage('serde-json', 'serde_json', 'npm')).toBe(false);
    const a = await rustsec('RUSTSEC-2023-0044');
    expect(isAffected(a, 'OpenSSL', '0.10.11', 'crates.io')).toBe(true);
    const index = new OsvAdvisoryIndex(['crates.io'], [await rustsec('RUSTSEC-2018-0002')]);
    expect(index.matchAdvisories('tar', '0.4.15', 'crates.io').map((x) => x.id)).toEqual(['RUSTSEC-2018-0002']);
    expect(index.matchAdvisories('tar', '0.4.16', 'crates.io')).toEqual([]);
  });
});
