import { readFileSync } from 'node:fs';
import { changedLines } from '@remediation/testing';
import { describe, expect, it } from 'vitest';
import { readLockfile, updateCargoLockfile } from './index.js';

const fixture = (path: string) => readFileSync(new URL(`./__fixtures__/${path}`, import.meta.url), 'utf8');
const LOCK = fixture('cargo/Cargo.lock');
/** One record of a crate's index file (the real crates.io index lines kept in the fixture). */
const indexRecord = (file: string, version: string): unknown =>
  fixture(`registry/${file}`)
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { vers: string })
    .find((r) => r.vers === version);


describe('updateCargoLockfile on fd’s Cargo.lock', () => {
  it('the index record’s cksum is the checksum Cargo.lock stores (regex 1.11.2 as locked)', () => {
    const locked = readLockfile('Cargo.lock', LOCK).packages['regex@1.11.2'];
    expect(locked?.integrity).toBe((indexRecord('cargo-regex.index', '1.11.2') as { cksum: string }).cksum);
  });

  it('moves regex 1.11.2 to 1.11.1: version and checksum change, the dependency list (optional aho-corasick and memchr kept) does not', () => {
    const result = updateCargoLockfile({ file: 'Cargo.lock', text: LOCK, name: 'regex', version: '1.11.1', record: indexRecord('cargo-regex.index', '1.11.1') });
    expect(result.status).toBe('updated');
    if (result.status !== 'updated') return;
    expect(result.from).toBe('1.11.2');
    const at = LOCK.split('\n').indexOf('name = "regex"') + 1;
    expect(changedLines(LOCK, result.text)).toEqual([
      [at + 1, 'version = "1.11.2"', 'version = "1.11.1"'],
      [at + 3, 'checksum = "23d7fd106d8c02486a8d64e778353d1cffe08ce79ac2e82f540c86d0facf6912"', 'checksum = "b544ef1b4eac5dc2db33ea63606ae9ffcfac26c1416a2806ae0bf5f56b201191"'],
    ]);
    const after = readLockfile('Cargo.lock', result.text);
    expect(after.packages['regex@1.11.1']?.dependencies).toEqual({ 'aho-corasick': '*', memchr: '*', 'regex-automata': '*', 'regex-syntax': '*' });
    expect(after.root.dependencies.find((d) => d.name === 'regex')?.to).toBe('regex@1.11.1');
    expect(updateCargoLockfile({ file: 'Cargo.lock', text: result.text, name: 'regex', version: '1.11.1', record: indexRecord('cargo-regex.index', '1.11.1') })).toEqual({ status: 'unchanged' });
  });

  it('refuses regex 1.5.5, whose aho-corasick ^0.7.18 and regex-syntax ^0.6.25 are not locked at compatible versions', () => {
    expect(updateCargoLockfile({ file: 'Cargo.lock', text: LOCK, name: 'regex', version: '1.5.5', record: indexRecord('cargo-regex.index', '1.5.5') })).toEqual({
      status: 'unsatisfied',
      missing: [
        { name: 'aho-corasick', requirement: '^0.7.18', locked: ['1.1.3'] },
        { name: 'regex-syntax', requirement: '^0.6.25', locked: ['0.8.6'] },
      ],
    });
  });

  it('with two bitflags locked, moving 1.3.2 rewrites the `bitflags 1.3.2` reference of faccess; without `from` it is ambiguous', () => {
    const record = indexRecord('cargo-bitflags.index', '1.3.1');
    expect(updateCargoLockfile({ file: 'Cargo.lock', text: LOCK, name: 'bitflags', version: '1.3.1', record })).toEqual({ status: 'ambiguous', versions: ['1.3.2', '2.9.1'] });
    const result = updateCargoLockfile({ file: 'Cargo.lock', text: LOCK, name: 'bitflags', version: '1.3.1', from: '1.3.2', record });
    expect(result.status).toBe('updated');
    if (result.status !== 'updated') return;
    expect(changedLines(LOCK, result.text).map(([, before, after]) => [before, after])).toEqual([
      ['version = "1.3.2"', 'version = "1.3.1"'],
      ['checksum = "bef38d45163c2f1dde094a7dfd33ccf595c92905c8f8f4fdc18d06fb1037718a"', 'checksum = "2da1976d75adbe5fbc88130ecd119529cf1cc6a93ae1546d8696ee66f0d21af1"'],
      [' "bitflags 1.3.2",', ' "bitflags 1.3.1",'],
    ]);
    const after = readLockfile('Cargo.lock', result.text);
    expect(after.edges.filter((e) => e.to === 'bitflags@1.3.1').map((e) => e.from)).toEqual(['faccess@0.2.4']);
    expect(after.edges.filter((e) => e.to === 'bitflags@2.9.1').map((e) => e.from)).toEqual(['nix@0.30.1']);
  });

  it('writes a dependency list the new version gains, and drops one it loses (CRLF kept)', () => {
    // cfg-if has no dependencies; give it regex 1.11.1's record under its own name to see a list appear, then vanish.
    const asCfgIf = (vers: string, deps: unknown[]) => ({ name: 'cfg-if', vers, deps, cksum: 'a'.repeat(64) });
    const crlf = LOCK.replace(/\n/g, '\r\n');
    const grown = updateCargoLockfile({ file: 'Cargo.lock', text: crlf, name: 'cfg-if', version: '1.0.2', record: asCfgIf('1.0.2', [{ name: 'memchr', req: '2.7', kind: 'normal' }, { name: 'libc', req: '^0.2', kind: null }, { name: 'regex', req: '1', kind: 'dev' }]) });
    if (grown.status !== 'updated') throw new Error(grown.status);
    expect(grown.text).toContain('name = "cfg-if"\r\nversion = "1.0.2"\r\nsource = "registry+https://github.com/rust-lang/crates.io-index"\r\nchecksum = "' + 'a'.repeat(64) + '"\r\ndependencies = [\r\n "libc",\r\n "memchr",\r\n]\r\n\r\n[[package]]\r\nname = "cfg_aliases"');
    const shrunk = updateCargoLockfile({ file: 'Cargo.lock', text: grown.text, name: 'cfg-if', version: '1.0.1', record: asCfgIf('1.0.1', []) });
    if (shrunk.status !== 'updated') throw new Error(shrunk.status);
    expect(shrunk.text).toBe(crlf.replace('9555578bc9e57714c812a1f84e4fc5b4d21fcb063490c624de019f7464c91268', 'a'.repeat(64)));
  });

  it('rejects an index record of another version or without cksum, and reports a crate that is not locked', () => {
    expect(() => updateCargoLockfile({ file: 'Cargo.lock', text: LOCK, name: 'regex', version: '1.11.0', record: indexRecord('cargo-regex.index', '1.11.1') })).toThrow(/index record is for regex@1\.11\.1, not regex@1\.11\.0/);
    expect(() => updateCargoLockfile({ file: 'Cargo.lock', text: LOCK, name: 'regex', version: '1.11.1', record: { name: 'regex', vers: '1.11.1', deps: [] } })).toThrow(/index record for regex@1\.11\.1 is invalid: cksum/);
    expect(updateCargoLockfile({ file: 'Cargo.lock', text: LOCK, name: 'serde', version: '1.0.0', record: { name: 'serde', vers: '1.0.0', deps: [], cksum: 'b'.repeat(64) } })).toEqual({ status: 'not-found' });
    expect(() => updateCargoLockfile({ file: 'Cargo.lock', text: 'version = [', name: 'regex', version: '1.11.1', record: indexRecord('cargo-regex.index', '1.11.1') })).toThrow(/Cargo\.lock is not a valid cargo/);
  });
});
