import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareMavenVersions } from '@remediation/ecosystems';
import { fixturePath } from '@remediation/testing';
import { mavenScanOfDirectory } from '../../scripts/fixtures/maven-scan.js';
import { type OsvCaseRecord, expectRebasedOntoMovedBase, loadOsvCaseRecords, pullRequestOf, showFile, startEcosystemEnvironment } from '../support/ecosystem-flows.js';
import { type TestEnvironment, git, makeRemote, runCli } from '../support/environment.js';
import { waitFor } from '../support/flows.js';

/**
 * End to end for Maven (issue 14): the five services as separate processes, the real PostgreSQL,
 * a private nats-server, real git, the local GitHub-compatible server and tools/maven-local
 * serving test/fixtures/registry/maven as the planner's MAVEN_REPOSITORY_URL; advisories from
 * test/fixtures/osv/Maven (GHSA records). The repository is java-goof's log4shell-goof
 * multi-module build (a parent pom and two modules, byte for byte from
 * test/fixtures/manifests/java-goof/log4shell-goof), its scan made by scripts/fixtures/maven-scan.ts:
 * log4j-core is installed at two versions, 2.14.1 (log4shell-client) and 2.15.0 (log4shell-server).
 * Expected versions come from the GHSA records' ECOSYSTEM events and the repository's
 * maven-metadata.xml, walked here (OSV's evaluation: introduced ≤ v < fixed), not from the
 * services' output.
 */
let env: TestEnvironment;

beforeAll(async () => {
  env = await startEcosystemEnvironment('maven', 'osv/Maven');
}, 180_000);

afterAll(async () => {
  await env?.close();
}, 60_000);

const records = loadOsvCaseRecords('osv/Maven');

/** Whether `version` lies in one of the record's ECOSYSTEM ranges for `name`, in Maven's order (introduced `0` = everything). */
function affects(record: OsvCaseRecord, name: string, version: string): boolean {
  return record.affected.some(
    (a) =>
      a.package.ecosystem === 'Maven' &&
      a.package.name === name &&
      (a.ranges ?? []).some((r) => {
        if (r.type !== 'ECOSYSTEM') return false;
        let hit = false;
        for (const e of r.events) {
          if (e['introduced'] !== undefined && (e['introduced'] === '0' || compareMavenVersions(version, e['introduced']) >= 0)) hit = true;
          if (e['fixed'] !== undefined && compareMavenVersions(version, e['fixed']) >= 0) hit = false;
        }
        return hit;
      }),
  );
}

/** Versions of `group:artifact` in the repository fixture, ascending, pre-releases (alpha, beta, rc, …) left out. */
function repositoryVersions(name: string): string[] {
  const [group, artifact] = name.split(':') as [string, string];
  const xml = readFileSync(fixturePath('registry/maven', ...group.split('.'), artifact, 'maven-metadata.xml'), 'utf8');
  return [...xml.matchAll(/<version>([^<]+)<\/version>/g)].map((m) => m[1]!).filter((v) => !/alpha|beta|rc|snapshot|-m\d/i.test(v)).sort(compareMavenVersions);
}

const LOG4J = 'org.apache.logging.log4j:log4j-core';
const ROOT = fixturePath('manifests/java-goof/log4shell-goof');
const POMS = ['pom.xml', 'log4shell-client/pom.xml', 'log4shell-server/pom.xml'];
const scan = JSON.parse(readFileSync(fixturePath('scans/log4shell-goof.cdx.json'), 'utf8')) as { components: Array<{ name: string; version: string; purl: string; evidence: { occurrences: Array<{ location: string }> } }> };

interface Expected {
  name: string;
  from: string;
  pom: string;
  /** The minimal tier: the lowest published stable version above `from` in no range of any record of the artifact. */
  to: string | null;
  advisories: string[];
}

/** Every scanned artifact some record affects, with its minimal-tier version by the data. */
const expected: Expected[] = expectedOf(scan.components);

/** A pom with the `<version>` of `artifact`'s `<dependency>` replaced, every other byte kept. */
function withVersion(pom: string, artifact: string, from: string, to: string): string {
  const before = new RegExp(`(<artifactId>${artifact}</artifactId>\\s*<version>)${from.replace(/\./g, '\\.')}(</version>)`, 'g');
  expect(pom.match(before)).toHaveLength(1);
  return pom.replace(before, `$1${to}$2`);
}

/** Expected (artifact, installed version, pom, minimal-tier version, advisories) of a scan, by the data. */
function expectedOf(components: Array<{ name: string; version: string; evidence: { occurrences: Array<{ location: string }> } }>): Expected[] {
  return components.flatMap((c) => {
    const advisories = records.filter((r) => affects(r, c.name, c.version)).map((r) => r.id).sort();
    if (advisories.length === 0) return [];
    const all = records.filter((r) => r.affected.some((a) => a.package.name === c.name));
    const to = repositoryVersions(c.name).find((v) => compareMavenVersions(v, c.version) > 0 && !all.some((r) => affects(r, c.name, v))) ?? null;
    return [{ name: c.name, from: c.version, pom: c.evidence.occurrences[0]!.location, to, advisories }];
  });
}


describe('java-goof log4shell-goof (multi-module pom.xml): scan → plan → patch → pull request → rebase', () => {
  const poms = Object.fromEntries(POMS.map((p) => [p, readFileSync(`${ROOT}/${p}`, 'utf8')]));
  const files = {
    ...poms,
    'README.md': '# Log4Shell Goof\n',
    'log4shell-server/src/main/java/Server.java': 'import org.apache.logging.log4j.LogManager;\nimport org.apache.logging.log4j.Logger;\n\npublic class Server {\n  private static final Logger log = LogManager.getLogger(Server.class);\n}\n',
  };
  let bare: string;
  let summary: any;

  beforeAll(async () => {
    bare = await makeRemote(env.reposRoot, 'snyk-labs', 'log4shell-goof', files);
  });

  it("the test data holds what the test claims: the scan is the generator's output; log4j-core at two versions needs 2.17.1", async () => {
    expect(await mavenScanOfDirectory(ROOT, { name: 'log4shell-poc', version: '0.0.1-SNAPSHOT' })).toBe(readFileSync(fixturePath('scans/log4shell-goof.cdx.json'), 'utf8'));
    expect(expected.map((e) => `${e.name}@${e.from} ${e.pom} → ${e.to ?? 'none'}`).sort()).toEqual([
      `${LOG4J}@2.14.1 log4shell-client/pom.xml → 2.17.1`,
      `${LOG4J}@2.15.0 log4shell-server/pom.xml → 2.17.1`,
    ]);
    expect(expected.find((e) => e.from === '2.14.1')!.advisories).toContain('GHSA-jfh8-c2jp-5v3q');
  });

  it('the stack serves the repository layout with maven-local and gives its URL to the planner as MAVEN_REPOSITORY_URL', async () => {
    expect(env.stack.mavenRepositoryUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await fetch(`${env.stack.mavenRepositoryUrl}/org/apache/logging/log4j/log4j-core/maven-metadata.xml`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('<version>2.17.1</version>');
    const planner = env.stack.processes.get('planner')!;
    const environ = readFileSync(`/proc/${planner.child.pid}/environ`, 'utf8').split('\0');
    expect(environ).toContain(`MAVEN_REPOSITORY_URL=${env.stack.mavenRepositoryUrl}`);
    expect(environ).toContain(`OSV_DIR=${fixturePath('osv/Maven')}`);
  });

  it('the CLI reaches pr_opened; log4j-core gets the minimal-tier version the data gives at both installed versions', () => {
    const run = runCli(['--repo', bare, '--scan', fixturePath('scans/log4shell-goof.cdx.json'), '--tier', 'minimal', '--approve', '--api', env.stack.apiUrl, '--api-key', env.stack.apiKey]);
    summary = run.summary;
    expect(run.code, run.stderr + JSON.stringify(run.summary)).toBe(0);
    expect(summary.state).toBe('pr_opened');
    const shipped = summary.targets.filter((t: any) => t.status === 'success');
    expect(shipped.map((t: any) => t.name)).toEqual([LOG4J]);
    expect(shipped[0].versions.map((v: any) => `${v.from}→${v.to}`).sort()).toEqual(expected.map((e) => `${e.from}→${e.to}`).sort());
    expect(summary.pullRequest.url).toMatch(/\/snyk-labs\/log4shell-goof\/pull\/\d+$/);
  }, 180_000);

  it('the plan names each installed version as a maven target with the advisories the records give, in comparator-set ranges', async () => {
    const rem = await waitFor(env, `/v1/remediations/${summary.remediationId}`, (b) => b.state === 'plan_generated');
    const targets = rem.plan.targets as Array<{ ecosystem: string; name: string; currentVersion: string; advisories: Array<{ id: string; aliases: string[]; affectedRanges: string[] }>; tiers: { minimal: { version: string } | null } }>;
    expect(targets.map((t) => `${t.ecosystem}:${t.name}@${t.currentVersion}`).sort()).toEqual(expected.map((e) => `maven:${e.name}@${e.from}`).sort());
    const recordOf = (a: { id: string; aliases: string[] }) => records.find((r) => [a.id, ...a.aliases].includes(r.id));
    for (const e of expected) {
      const t = targets.find((x) => x.currentVersion === e.from)!;
      expect(t.advisories.map((a) => recordOf(a)?.id).sort(), e.from).toEqual(e.advisories);
      expect(t.tiers.minimal?.version ?? null, e.from).toBe(e.to);
    }
    const jfh8 = targets.find((t) => t.currentVersion === '2.14.1')!.advisories.find((a) => recordOf(a)!.id === 'GHSA-jfh8-c2jp-5v3q')!;
    expect(jfh8.affectedRanges).toEqual(['<2.3.1', '>=2.4,<2.12.2', '>=2.13.0,<2.15.0']);
  });

  it('the pushed branch changes only the two module poms, by exactly the log4j-core <version> texts', () => {
    const branch = summary.pullRequest.branch;
    expect(git(['rev-parse', `refs/heads/${branch}`], bare)).toBe(summary.commit);
    expect(git(['diff', '--name-only', 'master', branch], bare).split('\n').sort()).toEqual(['log4shell-client/pom.xml', 'log4shell-server/pom.xml']);
    for (const e of expected) expect(showFile(bare, branch, e.pom)).toBe(withVersion(poms[e.pom]!, 'log4j-core', e.from, e.to!));
    // log4j-api 2.14.1 (no advisory in the records) and the parent pom are untouched.
    expect(showFile(bare, branch, 'log4shell-client/pom.xml')).toContain('<artifactId>log4j-api</artifactId>\n      <version>2.14.1</version>');
    expect(showFile(bare, branch, 'pom.xml')).toBe(poms['pom.xml']);
    expect(git(['rev-parse', `${summary.commit}^`], bare)).toBe(summary.baseCommit);
  });

  it('the pull request names every advisory and the Maven guidance', async () => {
    const pr = await pullRequestOf(env, 'snyk-labs', 'log4shell-goof', summary.pullRequest.number);
    expect(pr).toMatchObject({ state: 'open', base: { ref: 'master' }, head: { ref: summary.pullRequest.branch, sha: summary.commit } });
    for (const id of new Set(expected.flatMap((e) => e.advisories))) {
      const r = records.find((x) => x.id === id)!;
      expect([r.id, ...(r.aliases ?? [])].some((n) => pr.body!.includes(n)), id).toBe(true);
    }
    expect(pr.body).toContain('maven has no lockfile');
    expect(pr.body).toContain('`mvn -q verify`');
  });

  it('the base branch moves: the pull request is rebased onto the new head, the pom edits still there', async () => {
    await expectRebasedOntoMovedBase(env, {
      bare,
      owner: 'snyk-labs',
      repo: 'log4shell-goof',
      summary,
      moved: { 'README.md': '# Log4Shell Goof\n\nA vulnerable demo.\n', 'log4shell-client/src/main/java/Main.java': 'public class Main {}\n' },
      manifests: Object.fromEntries(expected.map((e) => [e.pom, withVersion(poms[e.pom]!, 'log4j-core', e.from, e.to!)])),
    });
  }, 180_000);
});

describe('java-goof, the whole repository (eight poms, two multi-module builds): a module inheriting its version from a parent pom', () => {
  const GOOF = fixturePath('manifests/java-goof');
  const goofScan = JSON.parse(readFileSync(fixturePath('scans/java-goof.cdx.json'), 'utf8')) as typeof scan;
  const wanted = expectedOf(goofScan.components);
  const poms = Object.fromEntries(
    ['pom.xml', 'log4shell-goof/pom.xml', 'log4shell-goof/log4shell-client/pom.xml', 'log4shell-goof/log4shell-server/pom.xml', 'todolist-goof/pom.xml', 'todolist-goof/todolist-core/pom.xml', 'todolist-goof/todolist-web-common/pom.xml', 'todolist-goof/todolist-web-struts/pom.xml'].map((p) => [p, readFileSync(`${GOOF}/${p}`, 'utf8')]),
  );
  let bare: string;

  beforeAll(async () => {
    bare = await makeRemote(env.reposRoot, 'snyk-labs', 'java-goof', { ...poms, 'README.md': '# Java Goof\n' });
  });

  it('ships log4j-core (three modules), jackson-databind and struts2-core, the last through todolist-goof\'s ${struts2.version}', async () => {
    expect(await mavenScanOfDirectory(GOOF, { name: 'java-goof', version: 'f5719ae0' })).toBe(readFileSync(fixturePath('scans/java-goof.cdx.json'), 'utf8'));
    expect(wanted.map((e) => `${e.name}@${e.from} → ${e.to}`).sort()).toEqual([
      'com.fasterxml.jackson.core:jackson-databind@2.6.5 → 2.9.9.1',
      `${LOG4J}@2.14.1 → 2.17.1`,
      `${LOG4J}@2.15.0 → 2.17.1`,
      `${LOG4J}@2.7 → 2.12.4`,
      'org.apache.struts:struts2-core@2.3.20 → 2.3.32',
    ]);
    const run = runCli(['--repo', bare, '--scan', fixturePath('scans/java-goof.cdx.json'), '--tier', 'minimal', '--approve', '--api', env.stack.apiUrl, '--api-key', env.stack.apiKey]);
    expect(run.code, run.stderr + JSON.stringify(run.summary)).toBe(0);
    const done = run.summary;
    expect(done.state).toBe('pr_opened');
    expect(done.targets.filter((t: any) => t.status === 'success').map((t: any) => t.name).sort()).toEqual(['com.fasterxml.jackson.core:jackson-databind', LOG4J, 'org.apache.struts:struts2-core']);
    const branch = done.pullRequest.branch;
    // Only the poms the targets need: three modules for log4j-core, one for jackson-databind, the parent holding ${struts2.version}.
    expect(git(['diff', '--name-only', 'master', branch], bare).split('\n').sort()).toEqual([
      'log4shell-goof/log4shell-client/pom.xml',
      'log4shell-goof/log4shell-server/pom.xml',
      'todolist-goof/pom.xml',
      'todolist-goof/todolist-web-common/pom.xml',
      'todolist-goof/todolist-web-struts/pom.xml',
    ]);
    for (const e of wanted.filter((x) => x.name !== 'org.apache.struts:struts2-core')) {
      expect(showFile(bare, branch, e.pom), `${e.name}@${e.from}`).toBe(withVersion(poms[e.pom]!, e.name.split(':')[1]!, e.from, e.to!));
    }
    expect(showFile(bare, branch, 'todolist-goof/pom.xml')).toBe(poms['todolist-goof/pom.xml']!.replace('<struts2.version>2.3.20</struts2.version>', '<struts2.version>2.3.32</struts2.version>'));
    const pr = await pullRequestOf(env, 'snyk-labs', 'java-goof', done.pullRequest.number);
    // The same-group plugin sharing the property is raised with it, and the target says so.
    expect(done.targets.find((t: any) => t.name === 'org.apache.struts:struts2-core').reason).toContain('org.apache.struts:struts2-spring-plugin');
    expect(pr.body).toContain('GHSA-j77q-2qqg-6989');
    expect(pr.body).toContain('`mvn -q verify`');
  }, 240_000);
});
