import { readFileSync } from 'node:fs';
import semver from 'semver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturePath } from '@remediation/testing';
import { goScanOfDirectory } from '../../scripts/fixtures/go-scan.js';
import { type OsvCaseRecord, expectRebasedOntoMovedBase, loadOsvCaseRecords, pullRequestOf, semverRangesAffect, showFile, startEcosystemEnvironment } from '../support/ecosystem-flows.js';
import { type TestEnvironment, git, makeRemote, runCli } from '../support/environment.js';
import { waitFor } from '../support/flows.js';

/**
 * End to end for Go modules (issue 14): the five services as separate processes, the real
 * PostgreSQL (the advisory database imports the Go records from OSV_DIR), a private nats-server,
 * real git, the local GitHub-compatible server and tools/go-proxy-local serving
 * test/fixtures/registry/go as the planner's GOPROXY; advisories from test/fixtures/osv-go-cases
 * (Go vulnerability database records). The repository is spf13/viper v1.6.2's go.mod and go.sum
 * (test/fixtures/manifests/viper-v1.6.2), its scan made by scripts/fixtures/go-scan.ts (every
 * require line, direct or `// indirect`). Expected versions come from the records and the proxy
 * lists, evaluated here with node-semver on versions without the `v` (OSV's evaluation:
 * introduced ≤ v < fixed), and from case.json, not from the services' output.
 */
let env: TestEnvironment;

beforeAll(async () => {
  env = await startEcosystemEnvironment('go', 'osv-go-cases');
}, 180_000);

afterAll(async () => {
  await env?.close();
}, 60_000);

const records = loadOsvCaseRecords('osv-go-cases');

/** A Go module version as node-semver reads it: no `v`, no `+incompatible`. */
const plain = (v: string): string => semver.valid(v.replace(/^v/, '').replace(/\+incompatible$/, ''))!;

/** Whether `version` (with or without `v`) lies in one of the record's SEMVER ranges for `module` (exact module path). */
function affects(record: OsvCaseRecord, module: string, version: string): boolean {
  return semverRangesAffect(record, 'Go', (name) => name === module, plain(version));
}

/** Tagged versions of a module on the proxy fixture (`<module with uppercase as !lowercase>/@v/list`). */
function proxyVersions(module: string): string[] {
  return readFileSync(fixturePath('registry/go', module.replace(/[A-Z]/g, (c) => `!${c.toLowerCase()}`), '@v/list'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .sort((a, b) => semver.compare(plain(a), plain(b)));
}

interface Expected {
  module: string;
  from: string;
  /** The minimal tier: the lowest stable proxy version above `from` in no range of any record of the module; null when none. */
  to: string | null;
  advisories: string[];
}

const scan = JSON.parse(readFileSync(fixturePath('scans/viper-v1.6.2.cdx.json'), 'utf8')) as { components: Array<{ name: string; version: string; purl: string }> };
const caseFile = JSON.parse(readFileSync(fixturePath('manifests/viper-v1.6.2/case.json'), 'utf8')) as { vulnerable: Array<{ package: string; version: string; advisory: string; fixed: string | null }> };

/** Every required module some record affects, with its minimal-tier version by the data. */
const expected: Expected[] = scan.components.flatMap((c) => {
  const advisories = records.filter((r) => affects(r, c.name, c.version)).map((r) => r.id).sort();
  if (advisories.length === 0) return [];
  const all = records.filter((r) => r.affected.some((a) => a.package.name === c.name));
  const to =
    proxyVersions(c.name).find((v) => semver.prerelease(plain(v)) === null && semver.gt(plain(v), plain(c.version)) && !all.some((r) => affects(r, c.name, v))) ?? null;
  return [{ module: c.name, from: c.version, to, advisories }];
});
const bumps = expected.filter((e) => e.to !== null);

/** go.mod with each bumped module's require line (`\t<module> <version>`) rewritten, everything else as it was. */
function expectedGoMod(text: string): string {
  return text
    .split('\n')
    .map((line) => {
      const m = /^(\t|require )(\S+) (\S+)(.*)$/.exec(line);
      const b = m && bumps.find((x) => x.module === m[2] && x.from === m[3]);
      return b ? `${m[1]}${m[2]} ${b.to}${m[4]}` : line;
    })
    .join('\n');
}

describe('spf13/viper v1.6.2 (go.mod): scan → plan → patch → pull request → rebase', () => {
  const goMod = readFileSync(fixturePath('manifests/viper-v1.6.2/go.mod'), 'utf8');
  const goSum = readFileSync(fixturePath('manifests/viper-v1.6.2/go.sum'), 'utf8');
  const files = {
    'go.mod': goMod,
    'go.sum': goSum,
    'README.md': '# Viper\n',
    'viper.go': 'package viper\n\nimport (\n\t"bytes"\n\n\tyaml "gopkg.in/yaml.v2"\n)\n\nvar _ = bytes.NewBuffer\nvar _ = yaml.Marshal\n',
  };
  let bare: string;
  let summary: any;

  beforeAll(async () => {
    bare = await makeRemote(env.reposRoot, 'spf13', 'viper', files);
  });

  it("the test data holds what the test claims: the scan is the generator's output; the targets and fixes are case.json's", async () => {
    expect(await goScanOfDirectory(fixturePath('manifests/viper-v1.6.2'), { name: 'viper', version: 'v1.6.2' })).toBe(readFileSync(fixturePath('scans/viper-v1.6.2.cdx.json'), 'utf8'));
    expect(scan.components).toHaveLength(42);
    expect(scan.components.find((c) => c.name === 'github.com/dgrijalva/jwt-go')).toMatchObject({ version: 'v3.2.0+incompatible', purl: 'pkg:golang/github.com/dgrijalva/jwt-go@v3.2.0+incompatible' });
    // case.json's module/advisory pairs are exactly what the records say of the required versions.
    expect(expected.flatMap((e) => e.advisories.map((id) => `${e.module}@${plain(e.from)} ${id}`)).sort()).toEqual(caseFile.vulnerable.map((v) => `${v.package}@${plain(v.version)} ${v.advisory}`).sort());
    // The minimal tier of each module is the newest of case.json's per-advisory fixes (tagged on the proxy).
    for (const e of bumps) {
      const fixes = caseFile.vulnerable.filter((v) => v.package === e.module).map((v) => v.fixed!);
      expect(e.to, e.module).toBe(`v${fixes.sort((a, b) => semver.compare(a, b)).at(-1)}`);
    }
    expect(expected.map((e) => `${e.module} ${e.from}→${e.to ?? 'none'}`).sort()).toEqual([
      'github.com/dgrijalva/jwt-go v3.2.0+incompatible→none',
      'github.com/gogo/protobuf v1.2.1→v1.3.2',
      'github.com/gorilla/websocket v1.4.0→v1.4.1',
      'github.com/prometheus/client_golang v0.9.3→v1.11.1',
      'golang.org/x/net v0.0.0-20190522155817-f3200d17e092→v0.56.0',
      'google.golang.org/grpc v1.21.0→v1.82.1',
      'gopkg.in/yaml.v2 v2.2.4→v2.2.8',
    ]);
  });

  it('the stack serves the module proxy with go-proxy-local and gives its URL to the planner as GOPROXY', async () => {
    expect(env.stack.goproxyUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await fetch(`${env.stack.goproxyUrl}/google.golang.org/grpc/@v/list`);
    expect(res.status).toBe(200);
    expect((await res.text()).split('\n')).toEqual(expect.arrayContaining(['v1.21.0', 'v1.82.1']));
    const planner = env.stack.processes.get('planner')!;
    const environ = readFileSync(`/proc/${planner.child.pid}/environ`, 'utf8').split('\0');
    expect(environ).toContain(`GOPROXY=${env.stack.goproxyUrl}`);
    expect(environ).toContain(`OSV_DIR=${fixturePath('osv-go-cases')}`);
  });

  it('the CLI reaches pr_opened; every fixable module gets the minimal-tier version the data gives', () => {
    const run = runCli(['--repo', bare, '--scan', fixturePath('scans/viper-v1.6.2.cdx.json'), '--tier', 'minimal', '--approve', '--api', env.stack.apiUrl, '--api-key', env.stack.apiKey]);
    summary = run.summary;
    expect(run.code, run.stderr + JSON.stringify(run.summary)).toBe(0);
    expect(summary.state).toBe('pr_opened');
    const shipped = summary.targets.filter((t: any) => t.status === 'success').map((t: any) => `${t.name} ${t.from}→${t.to}`).sort();
    expect(shipped).toEqual(bumps.map((b) => `${b.module} ${b.from}→${b.to}`).sort());
    expect(summary.pullRequest.url).toMatch(/\/spf13\/viper\/pull\/\d+$/);
  }, 240_000);

  it("the plan names each target by its module path with the records' advisories and fixed versions; jwt-go's fix is a new module path", async () => {
    const rem = await waitFor(env, `/v1/remediations/${summary.remediationId}`, (b) => b.state === 'plan_generated');
    const targets = rem.plan.targets as Array<{
      ecosystem: string;
      name: string;
      currentVersion: string;
      manifestPath: string;
      noFixReason?: string;
      advisories: Array<{ id: string; aliases: string[]; fixedVersions: string[] }>;
      tiers: { minimal: { version: string } | null };
    }>;
    expect(targets.map((t) => `${t.ecosystem}:${t.name}@${t.currentVersion}`).sort()).toEqual(expected.map((e) => `golang:${e.module}@${e.from}`).sort());
    // The advisory database merges aliases (GO, GHSA, CVE) into one advisory whose id may be the
    // GHSA one: the planned advisories are the records, each by its id or an alias.
    const recordOf = (a: { id: string; aliases: string[] }) => records.find((r) => [a.id, ...a.aliases].includes(r.id));
    for (const e of expected) {
      const t = targets.find((x) => x.name === e.module)!;
      expect(t.manifestPath).toBe('go.mod');
      expect(t.advisories.map((a) => recordOf(a)?.id).sort(), e.module).toEqual(e.advisories);
      expect(t.tiers.minimal?.version ?? null, e.module).toBe(e.to);
      for (const pair of caseFile.vulnerable.filter((v) => v.package === e.module)) {
        const a = t.advisories.find((x) => recordOf(x)?.id === pair.advisory)!;
        if (pair.fixed === null) expect(a.fixedVersions, pair.advisory).toEqual([]);
        else expect(a.fixedVersions, pair.advisory).toContain(pair.fixed);
      }
    }
    const jwt = targets.find((t) => t.name === 'github.com/dgrijalva/jwt-go')!;
    expect(jwt.noFixReason).toMatch(/^new-module-path: .*fixed only in github\.com\/dgrijalva\/jwt-go\/v4 4\.0\.0-preview1, a new module path: a major upgrade that needs code changes/);
  });

  it('the pushed branch changes only go.mod, by exactly the minimal-tier versions (go.sum untouched)', () => {
    const branch = summary.pullRequest.branch;
    expect(git(['rev-parse', `refs/heads/${branch}`], bare)).toBe(summary.commit);
    expect(git(['diff', '--name-only', 'master', branch], bare)).toBe('go.mod');
    const after = showFile(bare, branch, 'go.mod');
    expect(after).toBe(expectedGoMod(goMod));
    expect(after).toContain('\tgolang.org/x/net v0.56.0 // indirect\n');
    expect(after).toContain('\tgopkg.in/yaml.v2 v2.2.8\n');
    expect(after).toContain('\tgithub.com/dgrijalva/jwt-go v3.2.0+incompatible // indirect\n');
    expect(showFile(bare, branch, 'go.sum')).toBe(goSum);
    expect(git(['rev-parse', `${summary.commit}^`], bare)).toBe(summary.baseCommit);
  });

  it('the pull request names every advisory of the shipped modules and the Go guidance', async () => {
    const pr = await pullRequestOf(env, 'spf13', 'viper', summary.pullRequest.number);
    expect(pr).toMatchObject({ state: 'open', base: { ref: 'master' }, head: { ref: summary.pullRequest.branch, sha: summary.commit } });
    for (const b of bumps) {
      for (const id of b.advisories) {
        const r = records.find((x) => x.id === id)!;
        expect([r.id, ...(r.aliases ?? [])].some((n) => pr.body!.includes(n)), id).toBe(true);
      }
    }
    expect(pr.body).toContain('golang: run `go mod tidy`');
    expect(pr.body).toContain('`go mod tidy && go test ./...`');
  });

  it('the base branch moves: the pull request is rebased onto the new head, the go.mod edit still there', async () => {
    await expectRebasedOntoMovedBase(env, { bare, owner: 'spf13', repo: 'viper', summary, moved: { 'README.md': '# Viper\n\nGo configuration with fangs.\n', 'util.go': 'package viper\n\nfunc noop() {}\n' }, manifest: 'go.mod', expected: expectedGoMod(goMod) });
  }, 180_000);
});
