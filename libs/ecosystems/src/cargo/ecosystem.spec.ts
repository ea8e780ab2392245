import { readFileSync } from 'node:fs';
import semver from 'semver';
import { describe, expect, it } from 'vitest';
import { fixturePath } from '@remediation/testing';
import { cargoEcosystem } from './ecosystem.js';
import { fromIndexFile } from './sparse-index-source.js';

interface Osv {
  id: string;
  affected: Array<{ package: { name: string }; ranges: Array<{ type: string; events: Array<Record<string, string>> }>; database_specific?: { informational?: string | null } }>;
}
const advisory = (id: string): Osv => JSON.parse(readFileSync(new URL(`./__fixtures__/osv/${id}.json`, import.meta.url), 'utf8')) as Osv;

/** node-semver ranges of a RustSec record's SEMVER events (introduced/fixed pairs; `0.0.0-0` means no lower bound). */
function ranges(osv: Osv): string[] {
  const out: string[] = [];
  for (const a of osv.affected) {
    for (const r of a.ranges.filter((x) => x.type === 'SEMVER')) {
      let lower: string | undefined;
      for (const e of r.events) {
        if (e['introduced'] !== undefined) lower = e['introduced'] === '0.0.0-0' ? '' : `>=${e['introduced']}`;
        if (e['fixed'] !== undefined) {
          out.push(`${lower ?? ''} <${e['fixed']}`.trim());
          lower = undefined;
        }
      }
      if (lower !== undefined) out.push(lower === '' ? '*' : lower);
    }
  }
  return out;
}

describe('cargoEcosystem', () => {
  it('plugs into the seam as purl type cargo, OSV ecosystem crates.io', () => {
    expect(cargoEcosystem).toMatchObject({ purlType: 'cargo', osvEcosystem: 'crates.io', defaultManifestPath: 'Cargo.toml', lockfileCommands: ['cargo update -p <crate>'], testCommands: ['cargo test'], sourceExtensions: ['.rs'] });
    expect(cargoEcosystem.managers.map((m) => m.name)).toEqual(['cargo']);
    expect(cargoEcosystem.normaliseName('Inflector')).toBe('inflector');
  });

  it('proves remediation against real RustSec ranges, reading bare requirements as caret', () => {
    const tokio = ranges(advisory('RUSTSEC-2021-0124'));
    expect(tokio).toEqual(['>=0.1.14 <1.8.4', '>=1.9.0 <1.13.1']);
    expect(cargoEcosystem.proveRemediated('1.8', 'npm', tokio)).toMatchObject({ remediated: false, lowestAdmissible: '1.8.0' });
    expect(cargoEcosystem.proveRemediated('1.8', 'npm', tokio).reason).toContain('Cargo requirement "1.8" means "^1.8"');
    expect(cargoEcosystem.proveRemediated('1.8.4', 'npm', tokio)).toMatchObject({ remediated: true, lowestAdmissible: '1.8.4' });
    expect(cargoEcosystem.proveRemediated('~1.13', 'npm', tokio)).toMatchObject({ remediated: false, lowestAdmissible: '1.13.0' });
    expect(cargoEcosystem.proveRemediated('>=1.13.1, <2', 'npm', tokio)).toMatchObject({ remediated: true });
    const regex = ranges(advisory('RUSTSEC-2022-0013'));
    expect(regex).toEqual(['<1.5.5']);
    expect(cargoEcosystem.proveRemediated('1.11.2', 'npm', regex).remediated).toBe(true);
    expect(cargoEcosystem.proveRemediated('1.5', 'npm', regex).remediated).toBe(false);
    expect(cargoEcosystem.proveRemediated('latest', 'npm', regex)).toMatchObject({ remediated: false, lowestAdmissible: null });
  });

  it('counts informational advisories (unsound, unmaintained) like any other: no fix, nothing proven', () => {
    for (const [id, kind] of [['RUSTSEC-2021-0145', 'unsound'], ['RUSTSEC-2024-0375', 'unmaintained']] as const) {
      const osv = advisory(id);
      expect(osv.affected[0]!.database_specific?.informational).toBe(kind);
      expect(ranges(osv)).toEqual(['*']);
      expect(cargoEcosystem.proveRemediated('0.2', 'npm', ranges(osv)).remediated).toBe(false);
    }
  });

  it('finds the newest unaffected version in the caret line (moderate tier): 0.6.x stays 0.6.x', () => {
    const { versions } = fromIndexFile('smallvec', readFileSync(fixturePath('registry/cargo/sm/al/smallvec'), 'utf8'), 'fixture');
    const affected = ['RUSTSEC-2018-0003', 'RUSTSEC-2018-0018', 'RUSTSEC-2019-0009', 'RUSTSEC-2019-0012', 'RUSTSEC-2021-0003'].flatMap((id) => ranges(advisory(id)));
    const v = cargoEcosystem.versioning;
    const moderate = (current: string): string | undefined =>
      v
        .candidates(versions)
        .filter((c) => v.sameLine(current, c) && v.compare(c, current) >= 0 && !affected.some((r) => semver.satisfies(c, r)))
        .at(-1);
    expect(moderate('0.6.5')).toBe('0.6.14');
    expect(moderate('1.0.0')).toBe('1.6.1');
    // RUSTSEC-2018-0018 affects everything below 0.6.13: the 0.3 line has no unaffected version.
    expect(moderate('0.3.2')).toBeUndefined();
  });

  it('remediates cargo 0.32.0\'s openssl 0.10.11 (RUSTSEC-2023-0044) end to end: tier, edit, proof', () => {
    const file = 'Cargo.toml';
    const text = readFileSync(new URL('./__fixtures__/cargo-0.32.0/Cargo.toml', import.meta.url), 'utf8');
    const manager = cargoEcosystem.managers.find((m) => m.matches(file))!;
    const declared = manager.extract(file, text).dependencies.find((d) => d.normalisedName === cargoEcosystem.normaliseName('openssl'))!;
    expect(declared.requirement).toBe('0.10.11');
    const affected = ranges(advisory('RUSTSEC-2023-0044'));
    expect(affected).toEqual(['<0.10.55']);
    expect(cargoEcosystem.proveRemediated(declared.requirement, declared.style, affected).remediated).toBe(false);
    const { versions } = fromIndexFile('openssl', readFileSync(fixturePath('registry/cargo/op/en/openssl'), 'utf8'), 'fixture');
    const v = cargoEcosystem.versioning;
    const fix = v.candidates(versions).find((c) => v.sameLine('0.10.11', c) && v.compare(c, '0.10.11') > 0 && !affected.some((r) => semver.satisfies(c, r)))!;
    expect(fix).toBe('0.10.55');
    const edit = manager.raiseFloor(file, text, 'openssl', fix);
    expect(edit).toMatchObject({ status: 'edited', before: '0.10.11', after: '0.10.55' });
    const after = manager.extract(file, edit.status === 'edited' ? edit.text : '').dependencies.find((d) => d.name === 'openssl')!;
    expect(cargoEcosystem.proveRemediated(after.requirement, after.style, affected)).toMatchObject({ remediated: true, lowestAdmissible: '0.10.55' });
  });

  it('finds Rust code using a crate: use, extern crate, paths; `-` read as `_`', () => {
    const uses = (name: string, code: string): boolean => cargoEcosystem.usagePatterns(name).some((p) => p.test(code));
    expect(uses('serde', 'use serde::{Deserialize, Serialize};')).toBe(true);
    expect(uses('serde', '#[derive(serde::Serialize)]\nstruct A;')).toBe(true);
    expect(uses('tokio', 'pub(crate) use ::tokio as rt;')).toBe(true);
    expect(uses('crossbeam-channel', 'use crossbeam_channel::unbounded;')).toBe(true);
    expect(uses('lazy_static', '#[macro_use]\nextern crate lazy_static;')).toBe(true);
    expect(uses('regex', 'let r = regex::Regex::new("a")?;')).toBe(true);
    expect(uses('regex', 'use crate::regex::Pattern;\nuse my_regex::X;\nlet regexes = 1;')).toBe(false);
    expect(uses('crossbeam-channel', 'use crossbeam::channel;')).toBe(false);
  });
});
