import { readFileSync } from 'node:fs';
import semver from 'semver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cargoToSemverRange } from '@remediation/ecosystems';
import { readLockfile } from '@remediation/lockfiles';
import { changedLines, fixturePath } from '@remediation/testing';
import { lockScanOfDirectory } from '../../scripts/fixtures/lock-scan.js';
import { expectRebasedOntoMovedBase, loadOsvCaseRecords, pullRequestOf, semverRangesAffect, showFile, startEcosystemEnvironment } from '../support/ecosystem-flows.js';
import { type TestEnvironment, git, makeRemote, runCli } from '../support/environment.js';

/**
 * End to end for Cargo.lock (issue 15): fd's real Cargo.toml and Cargo.lock
 * (test/fixtures/manifests/fd-v10.3.0) through the five services as separate processes (the real
 * PostgreSQL, a private nats-server, real git, the local GitHub-compatible server, tools/cargo-local
 * serving test/fixtures/registry/cargo as CARGO_INDEX_URL of the planner and the patcher) to an
 * opened pull request whose one commit moves Cargo.toml and Cargo.lock together. Advisories from
 * test/fixtures/osv-lockfile-cases. Expected versions and checksums come from the RustSec record
 * and the index file (real crates.io index lines), evaluated here with node-semver; the updated
 * lock is read back with libs/lockfiles.
 */
let env: TestEnvironment;

beforeAll(async () => {
  env = await startEcosystemEnvironment('lockfile-cargo', 'osv-lockfile-cases');
}, 180_000);

afterAll(async () => {
  await env?.close();
}, 60_000);

const records = loadOsvCaseRecords('osv-lockfile-cases');
const scan = JSON.parse(readFileSync(fixturePath('scans/fd-v10.3.0.cdx.json'), 'utf8')) as { components: Array<{ name: string; version: string; purl: string }> };

/** One record of a sparse index file (https://doc.rust-lang.org/cargo/reference/registry-index.html#json-schema). */
interface IndexRecord {
  name: string;
  vers: string;
  cksum: string;
  yanked: boolean;
  deps: Array<{ name: string; req: string; kind: string | null; optional: boolean }>;
}

/** The records of a crate in the index fixture (sparse index path of a name of 4 or more characters). */
function indexRecords(crate: string): IndexRecord[] {
  const n = crate.toLowerCase();
  return readFileSync(fixturePath('registry/cargo', `${n.slice(0, 2)}/${n.slice(2, 4)}/${n}`), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as IndexRecord);
}

const affects = (crate: string, version: string) => records.some((r) => semverRangesAffect(r, 'crates.io', (n) => n === crate, version));

/** Every scanned crate some record affects, with the minimal tier by the data: the lowest unyanked index version above it that no record affects. */
const expected = scan.components.flatMap((c) => {
  if (!affects(c.name, c.version)) return [];
  const to = indexRecords(c.name)
    .filter((r) => !r.yanked && semver.gt(r.vers, c.version) && !affects(c.name, r.vers))
    .map((r) => r.vers)
    .sort(semver.compare)[0];
  return [{ name: c.name, from: c.version, to: to ?? null }];
});

describe('fd 10.3.0 (Cargo.toml + Cargo.lock v3): scan → plan → patch → pull request, the lockfile in step', () => {
  const manifest = readFileSync(fixturePath('manifests/fd-v10.3.0/Cargo.toml'), 'utf8');
  const lock = readFileSync(fixturePath('manifests/fd-v10.3.0/Cargo.lock'), 'utf8');
  const files = { 'Cargo.toml': manifest, 'Cargo.lock': lock, 'README.md': '# fd\n', 'src/main.rs': 'fn main() -> anyhow::Result<()> {\n    Ok(())\n}\n' };
  let bare: string;
  let summary: any;

  beforeAll(async () => {
    bare = await makeRemote(env.reposRoot, 'sharkdp', 'fd', files);
  });

  it('the test data holds what the test claims: the scan is the generator\'s output of the real lockfile; anyhow 1.0.98 is the one target; the lock holds the index\'s checksum of it', async () => {
    expect(await lockScanOfDirectory(fixturePath('manifests/fd-v10.3.0'), { name: 'fd-find', version: '10.3.0' })).toBe(readFileSync(fixturePath('scans/fd-v10.3.0.cdx.json'), 'utf8'));
    expect(expected).toEqual([{ name: 'anyhow', from: '1.0.98', to: '1.0.103' }]);
    const graph = readLockfile('Cargo.lock', lock);
    expect(graph.packages['anyhow@1.0.98']?.integrity).toBe(indexRecords('anyhow').find((r) => r.vers === '1.0.98')!.cksum);
    // The fixed version's own normal dependencies (none but the optional backtrace) are satisfied by the locked graph.
    expect(indexRecords('anyhow').find((r) => r.vers === '1.0.103')!.deps.filter((d) => (d.kind ?? 'normal') === 'normal' && !d.optional)).toEqual([]);
  });

  it('the CLI reaches pr_opened; anyhow ships at the minimal-tier version the data gives, its reason naming the lockfile update', () => {
    const run = runCli(['--repo', bare, '--scan', fixturePath('scans/fd-v10.3.0.cdx.json'), '--tier', 'minimal', '--approve', '--api', env.stack.apiUrl, '--api-key', env.stack.apiKey]);
    summary = run.summary;
    expect(run.code, run.stderr + JSON.stringify(run.summary)).toBe(0);
    expect(summary.state).toBe('pr_opened');
    const shipped = summary.targets.filter((t: any) => t.status === 'success');
    expect(shipped.map((t: any) => `${t.name} ${t.from}→${t.to}`)).toEqual(expected.map((e) => `${e.name} ${e.from}→${e.to}`));
    expect(shipped[0].reason).toContain(`Cargo.lock updated: anyhow ${expected[0]!.from} → ${expected[0]!.to}`);
    expect(summary.pullRequest.url).toMatch(/\/sharkdp\/fd\/pull\/\d+$/);
  }, 180_000);

  it('the one commit changes only Cargo.toml and Cargo.lock: the requirement, and the lock entry\'s version and checksum to the index record\'s', () => {
    const branch = summary.pullRequest.branch;
    const to = expected[0]!.to!;
    expect(git(['rev-parse', `refs/heads/${branch}`], bare)).toBe(summary.commit);
    expect(git(['rev-parse', `${summary.commit}^`], bare)).toBe(summary.baseCommit);
    expect(git(['diff', '--name-only', 'master', branch], bare).split('\n').sort()).toEqual(['Cargo.lock', 'Cargo.toml']);
    expect(changedLines(manifest, showFile(bare, branch, 'Cargo.toml'))).toEqual([[expect.any(Number), 'anyhow = "1.0"', `anyhow = "${to}"`]]);
    const record = indexRecords('anyhow').find((r) => r.vers === to)!;
    const before = readLockfile('Cargo.lock', lock).packages['anyhow@1.0.98']!;
    // Byte-exact elsewhere: the two lines of anyhow's entry and nothing else.
    expect(changedLines(lock, showFile(bare, branch, 'Cargo.lock')).map(([, b, a]) => [b, a])).toEqual([
      ['version = "1.0.98"', `version = "${to}"`],
      [`checksum = "${before.integrity}"`, `checksum = "${record.cksum}"`],
    ]);
  });

  it('the updated Cargo.lock parses with libs/lockfiles; fd-find\'s anyhow resolves to the new version, which satisfies the new Cargo.toml requirement', () => {
    const branch = summary.pullRequest.branch;
    const graph = readLockfile('Cargo.lock', showFile(bare, branch, 'Cargo.lock'));
    const edge = graph.root.dependencies.find((d) => d.name === 'anyhow')!;
    const locked = graph.packages[edge.to!]!;
    expect(locked).toMatchObject({ name: 'anyhow', version: expected[0]!.to, integrity: indexRecords('anyhow').find((r) => r.vers === expected[0]!.to)!.cksum });
    expect(Object.values(graph.packages).filter((p) => p.name === 'anyhow')).toHaveLength(1);
    const requirement = /^anyhow = "([^"]+)"$/m.exec(showFile(bare, branch, 'Cargo.toml'))![1]!;
    expect(semver.satisfies(locked.version, cargoToSemverRange(requirement)!)).toBe(true);
    expect(affects('anyhow', locked.version)).toBe(false);
    // Every other package of the lock is the base's, with the same edges.
    const base = readLockfile('Cargo.lock', lock);
    expect(Object.keys(graph.packages).filter((id) => !id.startsWith('anyhow@')).sort()).toEqual(Object.keys(base.packages).filter((id) => !id.startsWith('anyhow@')).sort());
    expect(graph.edges.length).toBe(base.edges.length);
  });

  it('the pull request names the advisory and lists Cargo.lock under "Lockfiles"', async () => {
    const pr = await pullRequestOf(env, 'sharkdp', 'fd', summary.pullRequest.number);
    expect(pr).toMatchObject({ state: 'open', base: { ref: 'master' }, head: { ref: summary.pullRequest.branch, sha: summary.commit } });
    expect(pr.body).toContain('RUSTSEC-2026-0190');
    const section = pr.body!.split('### Lockfiles')[1]?.split('\n###')[0] ?? '';
    expect(section).toContain(`- \`Cargo.lock\` updated with \`anyhow\` ${expected[0]!.to}, computed from registry metadata (no package manager ran)`);
    expect(pr.body).not.toContain('lockfile needs');
  });

  it('the base branch moves: the pull request is rebased onto the new head with the manifest and the lockfile as before', async () => {
    const branch = summary.pullRequest.branch;
    const manifests = Object.fromEntries(['Cargo.toml', 'Cargo.lock'].map((path) => [path, showFile(bare, branch, path)]));
    await expectRebasedOntoMovedBase(env, { bare, owner: 'sharkdp', repo: 'fd', summary, moved: { 'README.md': '# fd\n\nA simple, fast and user-friendly alternative to find.\n', 'src/walk.rs': 'pub fn walk() {}\n' }, manifests });
  }, 180_000);
});
