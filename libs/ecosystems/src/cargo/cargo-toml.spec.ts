import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { thrownInvalidInput } from '@remediation/testing';
import { cargoTomlManager, raiseCargoFloor } from './cargo-toml.js';

const fixture = (path: string): string => readFileSync(new URL(`./__fixtures__/${path}`, import.meta.url), 'utf8');

/** `text` with the one occurrence of `from` replaced by `to` (fails when not exactly one). */
function replaceOnce(text: string, from: string, to: string): string {
  expect(text.split(from).length - 1, `occurrences of ${from}`).toBe(1);
  return text.replace(from, to);
}

describe('cargoTomlManager.extract on real manifests', () => {
  it('reads every table form of fd (build-dependencies, [dependencies.clap], target cfg tables)', () => {
    const text = fixture('fd/Cargo.toml');
    const deps = cargoTomlManager.extract('Cargo.toml', text).dependencies;
    expect(deps).toHaveLength(26);
    const by = (name: string) => deps.filter((d) => d.name === name);
    expect(by('version_check')[0]).toMatchObject({ requirement: '0.9', location: { section: 'build-dependencies', line: 35 } });
    expect(by('clap')[0]).toMatchObject({ requirement: '4.5.46', extras: ['suggestions', 'color', 'wrap_help', 'cargo', 'derive'], location: { section: 'dependencies' } });
    expect(by('home')[0]!.requirement).toBe('=0.5.9');
    const jemalloc = by('tikv-jemallocator')[0]!;
    expect(jemalloc.marker).toMatch(/^cfg\(all\(not\(windows\)/);
    expect(jemalloc.location.section).toBe(`target.${jemalloc.marker}.dependencies`);
    for (const d of deps) expect(text.slice(d.location.offset, d.location.offset + d.location.length)).toBe(d.requirement);
  });

  it('points workspace = true members at [workspace.dependencies] in the same file (rustlings)', () => {
    const text = fixture('rustlings/Cargo.toml');
    const deps = cargoTomlManager.extract('Cargo.toml', text).dependencies;
    const serde = deps.filter((d) => d.name === 'serde');
    expect(serde).toHaveLength(2);
    for (const d of serde) expect(d).toMatchObject({ requirement: '1.0.199', location: { section: 'workspace.dependencies', line: 23 } });
    expect(serde[0]!.location.offset).toBe(serde[1]!.location.offset);
    expect(deps.find((d) => d.name === 'rustlings-macros')).toMatchObject({ requirement: '=6.0.0-beta.4', location: { section: 'dependencies' } });
    expect(deps.every((d) => d.uneditable === undefined)).toBe(true);
  });

  it('marks members inheriting from another file uneditable (rustlings-macros)', () => {
    const deps = cargoTomlManager.extract('rustlings-macros/Cargo.toml', fixture('rustlings/rustlings-macros/Cargo.toml')).dependencies;
    expect(deps.map((d) => [d.name, d.requirement, d.uneditable !== undefined])).toEqual([
      ['quote', '1.0.36', false],
      ['serde', '', true],
      ['toml_edit', '', true],
    ]);
    expect(deps[1]!.uneditable).toContain('[workspace.dependencies]');
  });

  it('reads literal strings and path dependencies carrying a version (cargo 0.32.0, ripgrep)', () => {
    const cargo = cargoTomlManager.extract('Cargo.toml', fixture('cargo-0.32.0/Cargo.toml')).dependencies;
    expect(cargo.find((d) => d.name === 'openssl')).toMatchObject({ requirement: '0.10.11' });
    expect(cargo.find((d) => d.name === 'crates-io')).toMatchObject({ requirement: '0.20' });
    expect(cargo.find((d) => d.name === 'winapi')).toMatchObject({ requirement: '0.3', marker: 'cfg(windows)' });
    const rg = cargoTomlManager.extract('Cargo.toml', fixture('ripgrep/Cargo.toml')).dependencies;
    expect(rg.find((d) => d.name === 'grep')).toMatchObject({ requirement: '0.3.1' });
    expect(rg.find((d) => d.name === 'jemallocator')).toMatchObject({ requirement: '0.5.0', location: { section: 'target.cfg(all(target_env = "musl", target_pointer_width = "64")).dependencies' } });
  });

  it('names renamed dependencies by their crate (package = …), path/git-only entries uneditable, bad TOML refused', () => {
    const text = '[dependencies]\nweb = { package = "axum", version = "0.8" }\nlocal = { path = "../local" }\nedge = { git = "https://example.org/edge" }\n';
    const deps = cargoTomlManager.extract('Cargo.toml', text).dependencies;
    expect(deps[0]).toMatchObject({ name: 'axum', normalisedName: 'axum', requirement: '0.8' });
    expect(deps[1]!.uneditable).toBe('path dependency "../local" without a version');
    expect(deps[2]!.uneditable).toBe('git dependency "https://example.org/edge" without a version');
    expect(cargoTomlManager.raiseFloor('Cargo.toml', text, 'axum', '0.8.3')).toMatchObject({ status: 'edited', text: text.replace('"0.8"', '"0.8.3"') });
    expect(thrownInvalidInput(() => cargoTomlManager.extract('Cargo.toml', '[dependencies\nserde = "1"'))).toMatchObject({ code: 'MANIFEST_INVALID' });
    expect(cargoTomlManager.matches('crates/core/Cargo.toml')).toBe(true);
    expect(cargoTomlManager.matches('Cargo.lock')).toBe(false);
  });
});

describe('cargoTomlManager.raiseFloor is byte-exact', () => {
  it('raises a workspace dependency once, at [workspace.dependencies] (rustlings, RUSTSEC-style fix of serde)', () => {
    const text = fixture('rustlings/Cargo.toml');
    const edit = cargoTomlManager.raiseFloor('Cargo.toml', text, 'serde', '1.0.210');
    expect(edit).toMatchObject({ status: 'edited', before: '1.0.199', after: '1.0.210' });
    expect(edit.status === 'edited' && edit.text).toBe(replaceOnce(text, 'serde = { version = "1.0.199"', 'serde = { version = "1.0.210"'));
    expect(cargoTomlManager.raiseFloor('rustlings-macros/Cargo.toml', fixture('rustlings/rustlings-macros/Cargo.toml'), 'serde', '1.0.210')).toMatchObject({
      status: 'refused',
      reason: 'unsupported-requirement',
    });
  });

  it('raises every occurrence across target tables and keeps each style (tokio)', () => {
    const text = fixture('tokio/Cargo.toml');
    const libc = cargoTomlManager.raiseFloor('tokio/Cargo.toml', text, 'libc', '0.2.170');
    expect(libc.status === 'edited' && libc.text).toBe(text.replaceAll('libc = { version = "0.2.168"', 'libc = { version = "0.2.170"'));
    const macros = cargoTomlManager.raiseFloor('tokio/Cargo.toml', text, 'tokio-macros', '2.7.4');
    expect(macros.status === 'edited' && macros.text).toBe(replaceOnce(text, '"~2.7.0"', '"~2.7.4"'));
    const mock = cargoTomlManager.raiseFloor('tokio/Cargo.toml', text, 'tracing-mock', '0.1.0');
    expect(mock.status === 'edited' && mock.text).toBe(replaceOnce(text, '"= 0.1.0-beta.1"', '"= 0.1.0"'));
    expect(cargoTomlManager.raiseFloor('tokio/Cargo.toml', text, 'bytes', '1.1.0')).toMatchObject({ status: 'unchanged', requirement: '1.2.1' });
    expect(cargoTomlManager.raiseFloor('tokio/Cargo.toml', text, 'serde', '1.0.0')).toMatchObject({ status: 'refused', reason: 'not-found' });
  });

  it('edits =pins, [dependencies.x] tables, target tables and literal strings (fd, ripgrep, cargo 0.32.0)', () => {
    const fd = fixture('fd/Cargo.toml');
    const home = cargoTomlManager.raiseFloor('Cargo.toml', fd, 'home', '0.5.11');
    expect(home.status === 'edited' && home.text).toBe(replaceOnce(fd, 'home = "=0.5.9"', 'home = "=0.5.11"'));
    const clap = cargoTomlManager.raiseFloor('Cargo.toml', fd, 'clap', '4.5.50');
    expect(clap.status === 'edited' && clap.text).toBe(replaceOnce(fd, 'version = "4.5.46"', 'version = "4.5.50"'));
    const libc = cargoTomlManager.raiseFloor('Cargo.toml', fd, 'libc', '0.2.155');
    expect(libc.status === 'edited' && libc.text).toBe(replaceOnce(fd, 'libc = "0.2"', 'libc = "0.2.155"'));
    const rg = fixture('ripgrep/Cargo.toml');
    const jemalloc = cargoTomlManager.raiseFloor('Cargo.toml', rg, 'jemallocator', '0.5.4');
    expect(jemalloc.status === 'edited' && jemalloc.text).toBe(replaceOnce(rg, 'version = "0.5.0"', 'version = "0.5.4"'));
    const cargo = fixture('cargo-0.32.0/Cargo.toml');
    const openssl = cargoTomlManager.raiseFloor('Cargo.toml', cargo, 'openssl', '0.10.55');
    expect(openssl.status === 'edited' && openssl.text).toBe(replaceOnce(cargo, "version = '0.10.11'", "version = '0.10.55'"));
    const bytesize = cargoTomlManager.raiseFloor('Cargo.toml', cargo, 'bytesize', '1.2.0');
    expect(bytesize.status === 'edited' && bytesize.text).toBe(replaceOnce(cargo, 'bytesize = "1.0"', 'bytesize = "1.2"'));
  });
});

describe('raiseCargoFloor', () => {
  it.each([
    ['0.3', '0.3.5', '0.3.5'],
    ['1.0', '1.2.0', '1.2'],
    ['1', '2.0.0', '2'],
    ['0.0', '0.0.3', '0.0.3'],
    ['^1.2.3', '1.4.1', '^1.4.1'],
    ['^0.2', '0.3.0', '^0.3'],
    ['~1.2', '1.2.7', '~1.2.7'],
    ['~1', '1.4.0', '~1.4'],
    ['=1.2.3', '1.2.5', '=1.2.5'],
    ['=1.2', '1.2.5', '=1.2.5'],
    ['*', '2.1.0', '>=2.1.0'],
    ['>= 1.2, < 1.5', '1.4.2', '>= 1.4.2, < 1.5'],
    ['>1.0.0', '1.0.3', '>=1.0.3'],
    ['<2', '1.4.0', '>=1.4.0, <2'],
  ])('%s with fix %s → %s', (requirement, fixed, expected) => {
    expect(raiseCargoFloor(requirement, fixed)).toEqual({ status: 'edited', specifier: expected });
  });

  it('leaves, refuses and rejects what it must', () => {
    expect(raiseCargoFloor('1.4', '1.3.9')).toEqual({ status: 'unchanged' });
    expect(raiseCargoFloor('>=1.2, <1.5', '1.6.0')).toMatchObject({ status: 'refused', reason: 'cap-excludes-fix' });
    expect(raiseCargoFloor('1.*', '1.6.0')).toMatchObject({ status: 'refused', reason: 'unsupported-requirement' });
    expect(raiseCargoFloor('^1, <1.5', '1.4.0')).toMatchObject({ status: 'refused', reason: 'unsupported-requirement' });
    expect(raiseCargoFloor('latest', '1.0.0')).toMatchObject({ status: 'refused', reason: 'unsupported-requirement' });
    expect(thrownInvalidInput(() => raiseCargoFloor('1.0', '1.2'))).toMatchObject({ code: 'VERSION_INVALID' });
  });
});
