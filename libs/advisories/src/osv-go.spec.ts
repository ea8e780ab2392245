import { readFile } from 'node:fs/promises';
import { proveGoRemediated } from '@remediation/ecosystems';
import { fixturePath } from '@remediation/testing';
import { describe, expect, it } from 'vitest';
import { affectedRanges, fixedVersions, isAffected, OsvAdvisoryIndex, OsvRecord, samePackage, toAdvisory, type Advisory } from './index.js';

/** A real Go vulnerability database record of test/fixtures/osv-go-cases (see test/fixtures/PROVENANCE.md). */
async function govuln(id: string): Promise<Advisory> {
  const record = OsvRecord.parse(JSON.parse(await readFile(fixturePath('osv-go-cases', `${id}.json`), 'utf8')));
  return toAdvisory(record, 'Go')!;
}

describe('OSV evaluation of Go advisories: module versions with or without v, exact module paths, node-semver ranges', () => {
  it('GO-2023-2153 (grpc): several intervals; go.mod versions (v1.21.0) compare with the record\'s (1.56.3)', async () => {
    const a = await govuln('GO-2023-2153');
    expect(isAffected(a, 'google.golang.org/grpc', 'v1.21.0', 'Go')).toBe(true);
    expect(isAffected(a, 'google.golang.org/grpc', '1.21.0', 'Go')).toBe(true);
    expect(isAffected(a, 'google.golang.org/grpc', 'v1.56.3', 'Go')).toBe(false);
    expect(isAffected(a, 'google.golang.org/grpc', 'v1.57.0', 'Go')).toBe(true);
    expect(isAffected(a, 'google.golang.org/grpc', 'v1.57.1', 'Go')).toBe(false);
    // Not string order: 1.100.0 > 1.58.3.
    expect(isAffected(a, 'google.golang.org/grpc', 'v1.100.0', 'Go')).toBe(false);
    const ranges = affectedRanges(a, 'google.golang.org/grpc', 'Go');
    expect(ranges).toEqual(['<1.56.3', '>=1.57.0 <1.57.1', '>=1.58.0 <1.58.3']);
    expect(fixedVersions(a, 'google.golang.org/grpc', 'Go')).toEqual(['1.56.3', '1.57.1', '1.58.3']);
    expect(proveGoRemediated('v1.57.0', 'go', ranges).remediated).toBe(false);
    expect(proveGoRemediated('v1.57.1', 'go', ranges).remediated).toBe(true);
  });

  it('GO-2022-0969 (x/net): a pseudo-version fix orders by its base version and commit time; the stdlib entry is another package', async () => {
    const a = await govuln('GO-2022-0969');
    expect(isAffected(a, 'golang.org/x/net', 'v0.0.0-20190522155817-f3200d17e092', 'Go')).toBe(true);
    expect(isAffected(a, 'golang.org/x/net', 'v0.0.0-20220906165146-f3363e06e74c', 'Go')).toBe(false);
    expect(isAffected(a, 'golang.org/x/net', 'v0.1.0', 'Go')).toBe(false);
    expect(affectedRanges(a, 'golang.org/x/net', 'Go')).toEqual(['<0.0.0-20220906165146-f3363e06e74c']);
    expect(fixedVersions(a, 'golang.org/x/net', 'Go')).toEqual(['0.0.0-20220906165146-f3363e06e74c']);
    expect(fixedVersions(a, 'stdlib', 'Go')).toEqual(['1.18.6', '1.19.1']);
  });

  it('GO-2020-0017 (jwt-go): never fixed for the v3 module; the /v4 module path is another package with its own fix', async () => {
    const a = await govuln('GO-2020-0017');
    expect(isAffected(a, 'github.com/dgrijalva/jwt-go', 'v3.2.0+incompatible', 'Go')).toBe(true);
    expect(affectedRanges(a, 'github.com/dgrijalva/jwt-go', 'Go')).toEqual(['>=0.0.0-20150717181359-44718f8a89b0']);
    expect(fixedVersions(a, 'github.com/dgrijalva/jwt-go', 'Go')).toEqual([]);
    expect(fixedVersions(a, 'github.com/dgrijalva/jwt-go/v4', 'Go')).toEqual(['4.0.0-preview1']);
  });

  it('module paths are case-sensitive: compared exactly, also through the index', async () => {
    expect(samePackage('github.com/BurntSushi/toml', 'github.com/BurntSushi/toml', 'Go')).toBe(true);
    expect(samePackage('github.com/BurntSushi/toml', 'github.com/burntsushi/toml', 'Go')).toBe(false);
    const index = new OsvAdvisoryIndex(['Go'], [await govuln('GO-2020-0019')]);
    expect(index.matchAdvisories('github.com/gorilla/websocket', 'v1.4.0', 'Go').map((x) => x.id)).toEqual(['GO-2020-0019']);
    expect(index.matchAdvisories('github.com/Gorilla/websocket', 'v1.4.0', 'Go')).toEqual([]);
  });
});
