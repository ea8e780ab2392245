import { readFileSync } from 'node:fs';
import semver from 'semver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturePath } from '@remediation/testing';
import { cargoScanOfDirectory } from '../../scripts/fixtures/cargo-scan.js';
import { type OsvCaseRecord, expectRebasedOntoMovedBase, loadOsvCaseRecords, pullRequestOf, semverRangesAffect, showFile, startEcosystemEnvironment } from '../support/ecosystem-flows.js';
import { type TestEnvironment, git, makeRemote, runCli } from '../support/environment.js';
import { waitFor } from '../support/flows.js';

/**
 * End to end for Cargo (issue 14): the five services as separate processes, the real PostgreSQL,
 * a private nats-server, real git, the local GitHub-compatible server and tools/cargo-local
 * serving test/fixtures/registry/cargo as the planner's CARGO_INDEX_URL; advisories from
 * test/fixtures/osv-cargo-cases (RustSec records). The repository is cargo 0.32.0's manifest
 * (test/fixtures/manifests/cargo-0.32.0), its scan made by scripts/fixtures/cargo-scan.ts.
 * Expected requirements come from the RustSec records and the index files, evaluated here with
 * node-semver (OSV's evaluation: introduced ≤ v < fixed), not from the services' output.
 */
let env: TestEnvironment;

beforeAll(async () => {
  env = await startEcosystemEnvironment('cargo', 'osv-cargo-cases');
}, 180_000);

afterAll(async () => {
  await env?.close();
}, 60_000);

const records = loadOsvCaseRecords('osv-cargo-cases');

/** crates.io names: case-insensitive, `-` and `_` alike. */
const fold = (name: string) => name.toLowerCase().replace(/-/g, '_');

/** Whether `version` lies in one of the record's SEMVER ranges for `crate` (OSV evaluation, introduced `0.0.0-0` = everything). */
function affects(record: OsvCaseRecord, crate: string, version: string): boolean {
  return semverRangesAffect(record, 'crates.io', (name) => fold(name) === fold(crate), version);
}

/** Published versions of a crate in the index fixture (sparse index path of a 3-letter or longer name). */
function indexVersions(crate: string): string[] {
  const n = crate.toLowerCase();
  const path = n.length === 3 ? `3/${n[0]}/${n}` : `${n.slice(0, 2)}/${n.slice(2, 4)}/${n}`;
  return readFileSync(fixturePath('registry/cargo', path), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { vers: string; yanked: boolean })
    .filter((r) => !r.yanked)
    .map((r) => r.vers)
    .sort(semver.compare);
}

interface Expected {
  crate: string;
  from: string;
  /** The minimal tier: the lowest published version above `from` in no range of any record of the crate; null when none. */
  to: string | null;
  advisories: string[];
}

const scan = JSON.parse(readFileSync(fixturePath('scans/cargo-0.32.0.cdx.json'), 'utf8')) as { components: Array<{ name: string; version: string; purl: string }> };

/** Every scanned crate some record affects, with its minimal-tier version by the data. */
const expected: Expected[] = scan.components.flatMap((c) => {
  const advisories = records.filter((r) => affects(r, c.name, c.version)).map((r) => r.id).sort();
  if (advisories.length === 0) return [];
  const all = records.filter((r) => r.affected.some((a) => fold(a.package.name) === fold(c.name)));
  const to = indexVersions(c.name).find((v) => semver.gt(v, c.version) && !all.some((r) => affects(r, c.name, v))) ?? null;
  return [{ crate: c.name, from: c.version, to, advisories }];
});
const bumps = expected.filter((e) => e.to !== null);

/** The manifest with each bumped crate's version string replaced (`name = "x"` or `name = { version = 'x'`), quotes kept. */
function expectedManifest(text: string): string {
  return text
    .split('\n')
    .map((line) => {
      const m = /^([A-Za-z0-9_-]+)(\s*=\s*(?:\{\s*version\s*=\s*)?)(["'])([^"']+)\3(.*)$/.exec(line);
      const b = m && bumps.find((x) => x.crate === m[1] && x.from === m[4]);
      return b ? `${m[1]}${m[2]}${m[3]}${b.to}${m[3]}${m[5]}` : line;
    })
    .join('\n');
}

describe('cargo 0.32.0 (Cargo.toml): scan → plan → patch → pull request → rebase', () => {
  const manifest = readFileSync(fixturePath('manifests/cargo-0.32.0/Cargo.toml'), 'utf8');
  const files = {
    'Cargo.toml': manifest,
    'README.md': '# Cargo\n',
    'src/cargo/lib.rs': 'extern crate openssl;\nuse tar::Archive;\n\npub fn version() -> &\'static str {\n    "0.32.0"\n}\n',
  };
  let bare: string;
  let summary: any;

  beforeAll(async () => {
    bare = await makeRemote(env.reposRoot, 'rust-lang', 'cargo', files);
  });

  it('the test data holds what the test claims: the scan is the generator\'s output; openssl and tar need bumps, atty has no fix', async () => {
    expect(await cargoScanOfDirectory(fixturePath('manifests/cargo-0.32.0'), { name: 'cargo', version: '0.32.0' })).toBe(readFileSync(fixturePath('scans/cargo-0.32.0.cdx.json'), 'utf8'));
    expect(scan.components.find((c) => c.name === 'openssl')).toMatchObject({ version: '0.10.11', purl: 'pkg:cargo/openssl@0.10.11' });
    expect(expected.map((e) => `${e.crate} ${e.from}→${e.to ?? 'none'}`).sort()).toEqual(['atty 0.2.0→none', 'openssl 0.10.11→0.10.72', 'tar 0.4.15→0.4.45']);
    expect(expected.find((e) => e.crate === 'openssl')!.advisories).toContain('RUSTSEC-2023-0044');
  });

  it('the stack serves the sparse index with cargo-local and gives its URL to the planner as CARGO_INDEX_URL', async () => {
    expect(env.stack.cargoIndexUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await fetch(`${env.stack.cargoIndexUrl}/op/en/openssl`);
    expect(res.status).toBe(200);
    expect((await res.text()).split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { vers: string }).vers)).toEqual(expect.arrayContaining(['0.10.11', '0.10.72']));
    const planner = env.stack.processes.get('planner')!;
    const environ = readFileSync(`/proc/${planner.child.pid}/environ`, 'utf8').split('\0');
    expect(environ).toContain(`CARGO_INDEX_URL=${env.stack.cargoIndexUrl}`);
    expect(environ).toContain(`OSV_DIR=${fixturePath('osv-cargo-cases')}`);
  });

  it('the CLI reaches pr_opened; openssl and tar get the minimal-tier versions the data gives', () => {
    const run = runCli(['--repo', bare, '--scan', fixturePath('scans/cargo-0.32.0.cdx.json'), '--tier', 'minimal', '--approve', '--api', env.stack.apiUrl, '--api-key', env.stack.apiKey]);
    summary = run.summary;
    expect(run.code, run.stderr + JSON.stringify(run.summary)).toBe(0);
    expect(summary.state).toBe('pr_opened');
    const shipped = summary.targets.filter((t: any) => t.status === 'success').map((t: any) => `${t.name} ${t.from}→${t.to}`).sort();
    expect(shipped).toEqual(bumps.map((b) => `${b.crate} ${b.from}→${b.to}`).sort());
    expect(summary.pullRequest.url).toMatch(/\/rust-lang\/cargo\/pull\/\d+$/);
  }, 180_000);

  it('the plan names each target as a cargo crate with the advisories the records give; informational ones carry their kind', async () => {
    const rem = await waitFor(env, `/v1/remediations/${summary.remediationId}`, (b) => b.state === 'plan_generated');
    const targets = rem.plan.targets as Array<{
      ecosystem: string;
      name: string;
      currentVersion: string;
      advisories: Array<{ id: string; aliases: string[]; kind?: string; affectedRanges: string[] }>;
      tiers: { minimal: { version: string } | null };
    }>;
    expect(targets.map((t) => `${t.ecosystem}:${t.name}@${t.currentVersion}`).sort()).toEqual(expected.map((e) => `cargo:${e.crate}@${e.from}`).sort());
    // The advisory database merges aliases (RUSTSEC, GHSA, CVE) into one advisory whose id may be
    // the GHSA one: the planned advisories are the records, each by its id or an alias.
    const recordOf = (a: { id: string; aliases: string[] }) => records.find((r) => [a.id, ...a.aliases].includes(r.id));
    for (const e of expected) {
      const t = targets.find((x) => x.name === e.crate)!;
      expect(t.advisories.map((a) => recordOf(a)?.id).sort(), e.crate).toEqual(e.advisories);
      expect(t.tiers.minimal?.version ?? null, e.crate).toBe(e.to);
      for (const a of t.advisories) {
        const informational = recordOf(a)!.affected.find((x) => fold(x.package.name) === fold(e.crate))!.database_specific?.informational;
        // RustSec writes `informational: null` for vulnerabilities: no kind then.
        expect(a.kind, a.id).toBe(informational ?? undefined);
      }
    }
    const openssl = targets.find((t) => t.name === 'openssl')!;
    // Rendered in node-semver syntax (RustSec's `introduced: 0.0.0-0` is no lower bound).
    expect(openssl.advisories.find((a) => recordOf(a)!.id === 'RUSTSEC-2023-0044')!.affectedRanges).toEqual(['<0.10.55']);
    expect(targets.find((t) => t.name === 'atty')!.advisories.map((a) => a.kind).sort()).toEqual(['unmaintained', 'unsound']);
  });

  it('the pushed branch changes only Cargo.toml, by exactly the minimal-tier requirements', () => {
    const branch = summary.pullRequest.branch;
    expect(git(['rev-parse', `refs/heads/${branch}`], bare)).toBe(summary.commit);
    expect(git(['diff', '--name-only', 'master', branch], bare)).toBe('Cargo.toml');
    const after = showFile(bare, branch, 'Cargo.toml');
    expect(after).toBe(expectedManifest(manifest));
    expect(after).toContain("openssl = { version = '0.10.72', optional = true }");
    expect(after).toContain('tar = { version = "0.4.45", default-features = false }');
    expect(git(['rev-parse', `${summary.commit}^`], bare)).toBe(summary.baseCommit);
  });

  it('the pull request names every advisory of the shipped crates and the Cargo guidance', async () => {
    const pr = await pullRequestOf(env, 'rust-lang', 'cargo', summary.pullRequest.number);
    expect(pr).toMatchObject({ state: 'open', base: { ref: 'master' }, head: { ref: summary.pullRequest.branch, sha: summary.commit } });
    // Each record by its id or one of its aliases (the merged advisory's id may be an alias).
    for (const b of bumps) {
      for (const id of b.advisories) {
        const r = records.find((x) => x.id === id)!;
        expect([r.id, ...(r.aliases ?? [])].some((n) => pr.body!.includes(n)), id).toBe(true);
      }
    }
    expect(pr.body).toContain('cargo: run `cargo update -p openssl -p tar`');
    expect(pr.body).toContain('`cargo test`');
    expect(pr.body).toContain('(unsound)');
  });

  it('the base branch moves: the pull request is rebased onto the new head, the Cargo.toml edit still there', async () => {
    await expectRebasedOntoMovedBase(env, { bare, owner: 'rust-lang', repo: 'cargo', summary, moved: { 'README.md': '# Cargo\n\nThe Rust package manager.\n', 'src/cargo/util.rs': 'pub fn noop() {}\n' }, manifest: 'Cargo.toml', expected: expectedManifest(manifest) });
  }, 180_000);
});
