import { readFileSync } from 'node:fs';
import semver from 'semver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturePath, npmCiDryRun } from '@remediation/testing';
import { lockScanOfDirectory } from '../../scripts/fixtures/lock-scan.js';
import { expectRebasedOntoMovedBase, loadOsvCaseRecords, pullRequestOf, semverRangesAffect, showFile, startEcosystemEnvironment } from '../support/ecosystem-flows.js';
import { type TestEnvironment, git, makeRemote, runCli } from '../support/environment.js';

/**
 * End to end for npm lockfiles (issue 15): nodejs-goof's real package.json and package-lock.json
 * (test/fixtures/manifests/nodejs-goof) through the five services as separate processes (the real
 * PostgreSQL, a private nats-server, real git, the local GitHub-compatible server) to an opened
 * pull request whose one commit moves package.json and package-lock.json together. Advisories from
 * test/fixtures/osv-lockfile-cases; the planner and the patcher read npm packuments from
 * test/fixtures/registry/npm-lockfiles (NPM_REGISTRY_SNAPSHOT_DIR: whole version documents with
 * `dist.tarball` and `dist.integrity`). Expected versions, URLs and hashes come from the OSV record
 * and the packument, evaluated here with node-semver; `npm ci --dry-run --offline` (npmCiDryRun)
 * is the judge of "in sync".
 */
let env: TestEnvironment;

beforeAll(async () => {
  env = await startEcosystemEnvironment('lockfile-npm', 'osv-lockfile-cases', 'registry/npm-lockfiles');
}, 180_000);

afterAll(async () => {
  await env?.close();
}, 60_000);

const records = loadOsvCaseRecords('osv-lockfile-cases');
const scan = JSON.parse(readFileSync(fixturePath('scans/nodejs-goof.cdx.json'), 'utf8')) as { components: Array<{ name: string; version: string; purl: string }> };

/** A version document of the packument snapshot: what the lock's entry must say after the update. */
interface VersionDocument {
  version: string;
  dist: { tarball: string; integrity: string };
  dependencies?: Record<string, string>;
}
const packument = (name: string) => JSON.parse(readFileSync(fixturePath('registry/npm-lockfiles', `${name}.json`), 'utf8')) as { versions: Record<string, VersionDocument> };

/** Whether an npm record's ranges (ECOSYSTEM, semver versions) hold `version` of `name`. */
const affects = (name: string, version: string) => records.some((r) => semverRangesAffect(r, 'npm', (n) => n === name, version, ['ECOSYSTEM', 'SEMVER']));

/** Every scanned package some record affects, with the minimal tier by the data: the lowest published version above it that no record affects. */
const expected = scan.components.flatMap((c) => {
  if (!c.purl.startsWith('pkg:npm/') || !affects(c.name, c.version)) return [];
  const to = Object.keys(packument(c.name).versions)
    .filter((v) => semver.valid(v) && semver.gt(v, c.version) && !affects(c.name, v))
    .sort(semver.compare)[0];
  return [{ name: c.name, from: c.version, to: to ?? null }];
});

describe('nodejs-goof (package.json + package-lock.json v2): scan → plan → patch → pull request, the lockfile in step', () => {
  const pkg = readFileSync(fixturePath('manifests/nodejs-goof/package.json'), 'utf8');
  const lock = readFileSync(fixturePath('manifests/nodejs-goof/package-lock.json'), 'utf8');
  const files = { 'package.json': pkg, 'package-lock.json': lock, 'README.md': '# Goof\n', 'app.js': "const AdmZip = require('adm-zip');\nmodule.exports = (file) => new AdmZip(file).getEntries();\n" };
  let bare: string;
  let summary: any;

  beforeAll(async () => {
    bare = await makeRemote(env.reposRoot, 'snyk-labs', 'nodejs-goof', files);
  });

  it('the test data holds what the test claims: the scan is the generator\'s output of the real lockfile; adm-zip 0.4.7 is the one target; the unpatched lock is in sync', async () => {
    expect(await lockScanOfDirectory(fixturePath('manifests/nodejs-goof'), { name: 'goof', version: '1.0.1' })).toBe(readFileSync(fixturePath('scans/nodejs-goof.cdx.json'), 'utf8'));
    expect(scan.components).toHaveLength(35);
    expect(expected).toEqual([{ name: 'adm-zip', from: '0.4.7', to: '0.4.11' }]);
    // The check below would be meaningless if npm refused the original pair already.
    const original = await npmCiDryRun(pkg, lock);
    expect(original.exitCode, original.output).toBe(0);
  }, 120_000);

  it('the CLI reaches pr_opened; adm-zip ships at the minimal-tier version the data gives, its reason naming the lockfile update', () => {
    const run = runCli(['--repo', bare, '--scan', fixturePath('scans/nodejs-goof.cdx.json'), '--tier', 'minimal', '--approve', '--api', env.stack.apiUrl, '--api-key', env.stack.apiKey]);
    summary = run.summary;
    expect(run.code, run.stderr + JSON.stringify(run.summary)).toBe(0);
    expect(summary.state).toBe('pr_opened');
    const shipped = summary.targets.filter((t: any) => t.status === 'success');
    expect(shipped.map((t: any) => `${t.name} ${t.from}→${t.to}`)).toEqual(expected.map((e) => `${e.name} ${e.from}→${e.to}`));
    expect(shipped[0].reason).toContain(`package-lock.json updated: adm-zip ${expected[0]!.from} → ${expected[0]!.to}`);
    expect(summary.pullRequest.url).toMatch(/\/snyk-labs\/nodejs-goof\/pull\/\d+$/);
  }, 180_000);

  it('the one commit changes only package.json and package-lock.json; package.json by exactly the bump', () => {
    const branch = summary.pullRequest.branch;
    expect(git(['rev-parse', `refs/heads/${branch}`], bare)).toBe(summary.commit);
    expect(git(['rev-parse', `${summary.commit}^`], bare)).toBe(summary.baseCommit);
    expect(git(['diff', '--name-only', 'master', branch], bare).split('\n').sort()).toEqual(['package-lock.json', 'package.json']);
    expect(showFile(bare, branch, 'package.json')).toBe(pkg.replace('"adm-zip": "0.4.7",', `"adm-zip": "${expected[0]!.to}",`));
  });

  it('the lock\'s adm-zip entries carry the new version, resolved URL and integrity of the registry metadata; nothing else in the lock moves', () => {
    const after = JSON.parse(showFile(bare, summary.pullRequest.branch, 'package-lock.json'));
    const before = JSON.parse(lock);
    const to = expected[0]!.to!;
    const doc = packument('adm-zip').versions[to]!;
    const entry = { version: to, resolved: doc.dist.tarball, integrity: doc.dist.integrity };
    expect(after.packages['']['dependencies']['adm-zip']).toBe(to);
    expect(after.packages['node_modules/adm-zip']).toMatchObject(entry);
    // lockfileVersion 2 keeps the v1 `dependencies` tree too: it moves with `packages`.
    expect(after.lockfileVersion).toBe(2);
    expect(after.dependencies['adm-zip']).toMatchObject(entry);
    expect(entry.integrity).not.toBe(before.packages['node_modules/adm-zip'].integrity);
    // The rest of the lock is the base's: put the adm-zip parts back and the documents are equal.
    after.packages[''].dependencies['adm-zip'] = before.packages[''].dependencies['adm-zip'];
    after.packages['node_modules/adm-zip'] = before.packages['node_modules/adm-zip'];
    after.dependencies['adm-zip'] = before.dependencies['adm-zip'];
    expect(after).toEqual(before);
  });

  it('npm ci --dry-run --offline accepts the PR head\'s package.json and package-lock.json (in sync), and refuses the bumped package.json with the old lock', async () => {
    const branch = summary.pullRequest.branch;
    const pkgAfter = showFile(bare, branch, 'package.json');
    const ok = await npmCiDryRun(pkgAfter, showFile(bare, branch, 'package-lock.json'));
    expect(ok.exitCode, ok.output).toBe(0);
    const stale = await npmCiDryRun(pkgAfter, lock);
    // Offline, npm needs the registry only for what the lock does not satisfy: here adm-zip.
    expect(stale.exitCode).not.toBe(0);
    expect(stale.output).toMatch(/ENOTCACHED[\s\S]*\/adm-zip\b|adm-zip[\s\S]*in sync/);
  }, 120_000);

  it('the pull request names the advisory and lists package-lock.json under "Lockfiles"', async () => {
    const pr = await pullRequestOf(env, 'snyk-labs', 'nodejs-goof', summary.pullRequest.number);
    expect(pr).toMatchObject({ state: 'open', base: { ref: 'master' }, head: { ref: summary.pullRequest.branch, sha: summary.commit } });
    expect(pr.body).toMatch(/GHSA-3v6h-hqm4-2rg6|CVE-2018-1002204/);
    const section = pr.body!.split('### Lockfiles')[1]?.split('\n###')[0] ?? '';
    expect(section).toContain(`- \`package-lock.json\` updated with \`adm-zip\` ${expected[0]!.to}, computed from registry metadata (no package manager ran)`);
    expect(pr.body).not.toContain('lockfile needs');
  });

  it('the base branch moves: the pull request is rebased onto the new head with the manifest and the lockfile as before', async () => {
    const branch = summary.pullRequest.branch;
    const manifests = Object.fromEntries(['package.json', 'package-lock.json'].map((path) => [path, showFile(bare, branch, path)]));
    await expectRebasedOntoMovedBase(env, { bare, owner: 'snyk-labs', repo: 'nodejs-goof', summary, moved: { 'README.md': '# Goof\n\nA vulnerable demo application.\n', 'routes/index.js': 'module.exports = {};\n' }, manifests });
  }, 180_000);
});
