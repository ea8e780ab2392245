import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import semver from 'semver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturePath, npmCiDryRun } from '@remediation/testing';
import { loadOsvCaseRecords, pullRequestOf, semverRangesAffect, showFile, startEcosystemEnvironment } from '../support/ecosystem-flows.js';
import { type TestEnvironment, git, makeRemote, runCli } from '../support/environment.js';

/**
 * End to end for transitive fixes (issue 15 part 3, docs/decisions/0016): nodejs-goof's real
 * package.json and package-lock.json (test/fixtures/manifests/nodejs-goof) locks cookie twice,
 * both affected by GHSA-pxg6-pf52-xh8x (CVE-2024-47764, fixed 0.7.0): 0.1.2 at
 * `node_modules/cookie` (required exactly by express 4.12.4) and 0.4.1 at
 * `node_modules/express-session/node_modules/cookie` (required exactly by express-session 1.17.2).
 * Each case is a scan of goof's 35 direct dependencies (test/fixtures/scans/nodejs-goof.cdx.json)
 * plus one of those paths, planned by the services (five processes, the real PostgreSQL, a
 * private nats-server, real git, the local GitHub) with the advisory in
 * test/fixtures/osv-transitive-cases and the whole packuments of cookie, express-session and
 * cookie-signature in test/fixtures/registry/npm-transitive (NPM_REGISTRY_SNAPSHOT_DIR). The
 * transitive finding is selected by name (`--targets cookie`) in the minimal tier and reaches an
 * opened pull request:
 * - cookie 0.4.1 via express-session: the minimal option is the parent bump express-session
 *   1.17.2 → 1.18.1 (the lowest version requiring a cookie outside the advisory, by the
 *   packument); package.json's requirement and the lock move, the lock's new cookie and
 *   cookie-signature resolved from the packuments.
 * - cookie 0.1.2 via express: the snapshot holds no express packument, so no parent bump or
 *   lockfile update can be checked (the plan says why) and the minimal option is the override
 *   cookie → 0.7.0 (the lowest version outside the advisory); package.json gets `overrides` and every
 *   locked cookie moves to 0.7.0.
 * Expected versions come from the OSV record and the packuments (node-semver here);
 * `npm ci --dry-run --offline` (npmCiDryRun) is the judge of "in sync".
 */
let env: TestEnvironment;

beforeAll(async () => {
  env = await startEcosystemEnvironment('transitive-npm', 'osv-transitive-cases', 'registry/npm-transitive');
}, 420_000);

afterAll(async () => {
  await env?.close();
}, 60_000);

const [record] = loadOsvCaseRecords('osv-transitive-cases');
const affected = (version: string) => semverRangesAffect(record!, 'npm', (n) => n === 'cookie', version, ['ECOSYSTEM', 'SEMVER']);
interface VersionDocument {
  version: string;
  dist: { tarball: string; integrity: string };
  dependencies?: Record<string, string>;
  deprecated?: string;
}
const packument = (name: string) => JSON.parse(readFileSync(fixturePath('registry/npm-transitive', `${name}.json`), 'utf8')) as { versions: Record<string, VersionDocument> };
const stable = (name: string) =>
  Object.entries(packument(name).versions)
    .filter(([v, doc]) => semver.valid(v) && semver.prerelease(v) === null && !doc.deprecated)
    .map(([v]) => v)
    .sort(semver.compare);
/** The lowest cookie above `from` that the advisory does not affect. */
const fixedCookie = (from: string) => stable('cookie').find((v) => semver.gt(v, from) && !affected(v))!;
/** The lowest express-session above 1.17.2 whose requirement on cookie admits only unaffected versions. */
const parentTo = stable('express-session').find((v) => {
  const range = packument('express-session').versions[v]!.dependencies?.['cookie'];
  return semver.gt(v, '1.17.2') && range !== undefined && stable('cookie').filter((c) => semver.satisfies(c, range)).every((c) => !affected(c)) && stable('cookie').some((c) => semver.satisfies(c, range));
})!;

const pkg = readFileSync(fixturePath('manifests/nodejs-goof/package.json'), 'utf8');
const lock = readFileSync(fixturePath('manifests/nodejs-goof/package-lock.json'), 'utf8');
const files = { 'package.json': pkg, 'package-lock.json': lock, 'README.md': '# Goof\n' };

/** goof's scan (its 35 direct dependencies) with one transitive path `parent` → cookie@`version` added. */
function scanWith(parent: string, version: string): string {
  const scan = JSON.parse(readFileSync(fixturePath('scans/nodejs-goof.cdx.json'), 'utf8')) as {
    components: Array<Record<string, unknown>>;
    dependencies: Array<{ ref: string; dependsOn: string[] }>;
  };
  const purl = `pkg:npm/cookie@${version}`;
  scan.components.push({ type: 'library', 'bom-ref': purl, name: 'cookie', version, purl });
  const parentRef = scan.dependencies.find((d) => d.ref.startsWith(`pkg:npm/${parent}@`))!;
  parentRef.dependsOn.push(purl);
  scan.dependencies.push({ ref: purl, dependsOn: [] });
  const file = join(mkdtempSync(join(tmpdir(), 'transitive-scan-')), `goof-${parent}-cookie.cdx.json`);
  writeFileSync(file, JSON.stringify(scan, null, 2));
  return file;
}

/** `remediate --targets cookie --tier minimal --approve` on `bare` with `scan`; its summary, once it reached pr_opened. */
function remediateCookie(bare: string, scan: string): any {
  const run = runCli(['--repo', bare, '--scan', scan, '--targets', 'cookie', '--tier', 'minimal', '--approve', '--api', env.stack.apiUrl, '--api-key', env.stack.apiKey]);
  expect(run.code, run.stderr + JSON.stringify(run.summary)).toBe(0);
  expect(run.summary.state).toBe('pr_opened');
  return run.summary;
}

/** The lock's cookie entries (`packages` key → version). */
const cookies = (text: string) =>
  Object.fromEntries(Object.entries(JSON.parse(text).packages as Record<string, { version: string }>).filter(([k]) => /(^|\/)node_modules\/cookie$/.test(k)).map(([k, v]) => [k, v.version]));

it('the test data holds what the test claims: goof locks cookie 0.1.2 (express) and 0.4.1 (express-session), both affected; the fixes by the data', async () => {
  expect(cookies(lock)).toEqual({ 'node_modules/cookie': '0.1.2', 'node_modules/express-session/node_modules/cookie': '0.4.1' });
  expect(affected('0.1.2') && affected('0.4.1')).toBe(true);
  expect(fixedCookie('0.1.2')).toBe('0.7.0');
  expect(parentTo).toBe('1.18.1');
  expect(packument('express-session').versions[parentTo]!.dependencies!['cookie']).toBe('0.7.2');
  const original = await npmCiDryRun(pkg, lock);
  expect(original.exitCode, original.output).toBe(0);
}, 120_000);

describe('cookie 0.4.1 via express-session: the parent bump reaches an opened pull request', () => {
  let bare: string;
  let summary: any;
  beforeAll(async () => {
    bare = await makeRemote(env.reposRoot, 'snyk-labs', 'goof-parent-bump', files);
  });

  it('the CLI reaches pr_opened; the target is the minimal option, a parent bump of express-session', () => {
    summary = remediateCookie(bare, scanWith('express-session', '0.4.1'));
    expect(summary.plan.transitive).toEqual(['cookie@0.4.1']);
    expect(summary.targets).toHaveLength(1);
    const [t] = summary.targets;
    expect(t).toMatchObject({ name: 'cookie', from: '1.17.2', to: parentTo, status: 'success', fix: `parent bump express-session 1.17.2 → ${parentTo}` });
    expect(t.reason).toContain(`parent bump express-session 1.17.2 → ${parentTo} (fixes transitive cookie via express-session → cookie)`);
    expect(t.reason).toContain('package-lock.json updated');
  }, 420_000);

  it('the plan lists the options the README shows for cookie 0.4.1: the parent bump (minimal), then the override; no lockfile update alone', async () => {
    const res = await fetch(`${env.stack.apiUrl}/v1/remediations/${summary.remediationId}`, { headers: { 'x-api-key': env.stack.apiKey } });
    expect(res.status).toBe(200);
    const [finding] = ((await res.json()) as any).plan.transitive;
    expect(finding).toMatchObject({ name: 'cookie', version: '0.4.1', via: ['express-session'], advisories: ['GHSA-pxg6-pf52-xh8x'], affectedRanges: ['<0.7.0'] });
    expect(finding.options.map((o: any) => `${o.kind} ${o.name} ${o.from} → ${o.to} (${o.jump})`)).toEqual([`parent_bump express-session 1.17.2 → ${parentTo} (minor)`, `override cookie 0.4.1 → ${fixedCookie('0.4.1')} (major)`]);
    expect(finding.options[0].notes).toEqual([`express-session@${parentTo} requires cookie 0.7.2, which admits only fixed versions`]);
    expect(finding.minimal).toEqual(finding.options[0]);
    expect(finding.reasons).toEqual(['no lockfile update alone: express-session@1.17.2 requires cookie 0.4.1, which admit(s) no fixed version']);
  });

  it('package.json changes only express-session\'s requirement; the lock moves express-session and its cookie to the packuments\' documents; npm ci accepts the pair', async () => {
    const branch = summary.pullRequest.branch;
    expect(git(['diff', '--name-only', 'master', branch], bare).split('\n').sort()).toEqual(['package-lock.json', 'package.json']);
    const pkgAfter = showFile(bare, branch, 'package.json');
    expect(pkgAfter).toBe(pkg.replace('"express-session": "^1.17.2",', `"express-session": "^${parentTo}",`));
    const lockAfter = showFile(bare, branch, 'package-lock.json');
    const after = JSON.parse(lockAfter);
    const doc = packument('express-session').versions[parentTo]!;
    expect(after.packages['']['dependencies']['express-session']).toBe(`^${parentTo}`);
    expect(after.packages['node_modules/express-session']).toMatchObject({ version: parentTo, resolved: doc.dist.tarball, integrity: doc.dist.integrity });
    const cookieDoc = packument('cookie').versions['0.7.2']!;
    expect(after.packages['node_modules/express-session/node_modules/cookie']).toMatchObject({ version: '0.7.2', resolved: cookieDoc.dist.tarball, integrity: cookieDoc.dist.integrity });
    // express's own cookie is another finding: the parent bump leaves it.
    expect(cookies(lockAfter)['node_modules/cookie']).toBe('0.1.2');
    const ok = await npmCiDryRun(pkgAfter, lockAfter);
    expect(ok.exitCode, ok.output).toBe(0);
    const stale = await npmCiDryRun(pkgAfter, lock);
    expect(stale.exitCode).not.toBe(0);
  }, 120_000);

  it('the pull request says which option was applied, from → to, and what is locked now', async () => {
    const pr = await pullRequestOf(env, 'snyk-labs', 'goof-parent-bump', summary.pullRequest.number);
    expect(pr).toMatchObject({ state: 'open', head: { ref: summary.pullRequest.branch, sha: summary.commit } });
    expect(pr.title).toBe(`fix(deps): parent bump express-session 1.17.2 → ${parentTo} (transitive cookie)`);
    const section = pr.body!.split('### Transitive fixes')[1]?.split('\n###')[0] ?? '';
    expect(section).toContain(`- \`cookie\` 0.4.1 via express-session: **parent bump express-session 1.17.2 → ${parentTo}** (\`package.json\` \`express-session\` \`^1.17.2\` → \`^${parentTo}\`; now locked: package-lock.json 0.7.2)`);
    expect(pr.body).toContain('GHSA-pxg6-pf52-xh8x');
    expect(pr.body).not.toContain('lockfile needs');
  });
});

describe('cookie 0.1.2 via express: the override reaches an opened pull request', () => {
  let bare: string;
  let summary: any;
  beforeAll(async () => {
    bare = await makeRemote(env.reposRoot, 'snyk-labs', 'goof-override', files);
  });

  it('the CLI reaches pr_opened; the target is the minimal option, the override cookie → 0.7.0', () => {
    summary = remediateCookie(bare, scanWith('express', '0.1.2'));
    const [t] = summary.targets;
    const to = fixedCookie('0.1.2');
    expect(t).toMatchObject({ name: 'cookie', from: '0.1.2', to, status: 'success', fix: `override cookie → ${to}` });
    expect(t.reason).toContain('package-lock.json updated: override cookie → 0.7.0 (node_modules/cookie, node_modules/express-session/node_modules/cookie)');
  }, 420_000);

  it('package.json gains only the overrides entry (every other byte kept); every locked cookie is 0.7.0 from the packument; npm ci accepts the pair and neither half alone', async () => {
    const branch = summary.pullRequest.branch;
    expect(git(['diff', '--name-only', 'master', branch], bare).split('\n').sort()).toEqual(['package-lock.json', 'package.json']);
    const pkgAfter = showFile(bare, branch, 'package.json');
    expect(JSON.parse(pkgAfter)).toEqual({ ...JSON.parse(pkg), overrides: { cookie: '0.7.0' } });
    const cut = pkg.lastIndexOf('\n}');
    expect(pkgAfter.startsWith(pkg.slice(0, cut))).toBe(true);
    expect(pkgAfter.slice(cut)).toBe(',\n  "overrides": {\n    "cookie": "0.7.0"\n  }\n}\n');
    const lockAfter = showFile(bare, branch, 'package-lock.json');
    expect(cookies(lockAfter)).toEqual({ 'node_modules/cookie': '0.7.0', 'node_modules/express-session/node_modules/cookie': '0.7.0' });
    const doc = packument('cookie').versions['0.7.0']!;
    const after = JSON.parse(lockAfter);
    const before = JSON.parse(lock);
    for (const key of ['node_modules/cookie', 'node_modules/express-session/node_modules/cookie']) {
      expect(after.packages[key]).toMatchObject({ version: '0.7.0', resolved: doc.dist.tarball, integrity: doc.dist.integrity });
      after.packages[key] = before.packages[key];
    }
    after.dependencies['cookie'] = before.dependencies['cookie'];
    after.dependencies['express-session'].dependencies['cookie'] = before.dependencies['express-session'].dependencies['cookie'];
    expect(after).toEqual(before); // nothing else in the lock moved
    const ok = await npmCiDryRun(pkgAfter, lockAfter);
    expect(ok.exitCode, ok.output).toBe(0);
    expect((await npmCiDryRun(pkgAfter, lock)).exitCode).not.toBe(0);
    expect((await npmCiDryRun(pkg, lockAfter)).exitCode).not.toBe(0);
  }, 420_000);

  it('the pull request names the override with from → to', async () => {
    const pr = await pullRequestOf(env, 'snyk-labs', 'goof-override', summary.pullRequest.number);
    expect(pr.title).toBe('fix(deps): override cookie → 0.7.0 (transitive cookie)');
    const section = pr.body!.split('### Transitive fixes')[1]?.split('\n###')[0] ?? '';
    expect(section).toContain('- `cookie` 0.1.2 via express: **override cookie → 0.7.0** (`package.json` `"overrides": { "cookie": "0.7.0" }`; now locked: package-lock.json 0.7.0)');
    expect(pr.body).toContain('updated with the override cookie → 0.7.0 (transitive `cookie`)');
  });
});
