import { describe, expect, it } from 'vitest';
import { manifestsOf } from './commit.js';

describe('manifestsOf: the files a shipped target’s deterministic edit may touch', () => {
  it('npm: the manifest, plus the lockfiles its proof says were updated with the bump', () => {
    expect(manifestsOf({ ecosystem: 'npm', manifestPath: 'package.json', proof: null })).toEqual(['package.json']);
    expect(manifestsOf({ ecosystem: 'npm', manifestPath: 'package.json', proof: { manifests: ['other/package.json'], lockfiles: ['package-lock.json'] } })).toEqual(['package.json', 'package-lock.json']);
  });

  it('other ecosystems: the manifests the proof checked and the updated lockfiles', () => {
    expect(manifestsOf({ ecosystem: 'cargo', manifestPath: 'crates/a/Cargo.toml', proof: { manifests: ['crates/a/Cargo.toml'], lockfiles: ['Cargo.lock'] } })).toEqual([
      'crates/a/Cargo.toml',
      'crates/a/Cargo.toml',
      'Cargo.lock',
    ]);
    expect(manifestsOf({ ecosystem: 'pypi', manifestPath: 'requirements.txt', proof: { manifests: ['requirements.txt', 'constraints.txt'] } })).toEqual(['requirements.txt', 'requirements.txt', 'constraints.txt']);
  });
});
