import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { Octokit } from '@octokit/rest';
import semver from 'semver';
import { expect } from 'vitest';
import { fixturePath } from '@remediation/testing';
import { type TestEnvironment, commitToRemote, git, startTestEnvironment } from './environment.js';
import { waitFor } from './flows.js';

/**
 * Shared by the ecosystem end-to-end tests (test/e2e/cargo.test.ts, go.test.ts, maven.test.ts, lockfile-npm.test.ts, lockfile-cargo.test.ts): the environment,
 * the OSV records of the case and an evaluation of them independent of the services', a file of
 * the bare repository, the pull request as the local GitHub serves it, and the rebase check.
 */

/** The fields of an OSV record the tests read. */
export interface OsvCaseRecord {
  id: string;
  aliases?: string[];
  affected: Array<{ package: { ecosystem: string; name: string }; ranges?: Array<{ type: string; events: Array<Record<string, string>> }>; database_specific?: { informational?: string | null } }>;
}

/**
 * The test environment of an ecosystem case: advisories from `osvDir` (a folder of test/fixtures),
 * npm packuments from `npmSnapshotDir` (a folder of test/fixtures; default the environment's
 * `registry/npm`); pr-service polls (no webhook reaches it here) and rebases.
 */
export function startEcosystemEnvironment(label: string, osvDir: string, npmSnapshotDir?: string): Promise<TestEnvironment> {
  return startTestEnvironment(label, {}, {
    osvDir: fixturePath(osvDir),
    ...(npmSnapshotDir ? { registry: { snapshotDir: fixturePath(npmSnapshotDir) } } : {}),
    serviceEnv: { 'pr-service': { PR_POLL_INTERVAL_MS: '1000' } },
  });
}

/** The OSV records of a folder of test/fixtures, as JSON. */
export function loadOsvCaseRecords(osvDir: string): OsvCaseRecord[] {
  return readdirSync(fixturePath(osvDir))
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(fixturePath(osvDir, f), 'utf8')) as OsvCaseRecord);
}

/**
 * Whether semver `version` lies in one of the record's SEMVER ranges for a package of `ecosystem`
 * that `isPackage` accepts, by OSV's evaluation (https://ossf.github.io/osv-schema/#evaluation:
 * introduced ≤ v < fixed) with node-semver; `introduced` values node-semver cannot read as a
 * version (`0`) mean every version. `rangeTypes`: the range types read (default `SEMVER`; npm
 * advisories write semver versions in `ECOSYSTEM` ranges).
 */
export function semverRangesAffect(record: OsvCaseRecord, ecosystem: string, isPackage: (name: string) => boolean, version: string, rangeTypes: readonly string[] = ['SEMVER']): boolean {
  return record.affected.some(
    (a) =>
      a.package.ecosystem === ecosystem &&
      isPackage(a.package.name) &&
      (a.ranges ?? []).some((r) => {
        if (!rangeTypes.includes(r.type)) return false;
        let hit = false;
        for (const e of r.events) {
          const introduced = e['introduced'];
          if (introduced !== undefined && (semver.valid(introduced) === null || semver.gte(version, introduced))) hit = true;
          if (e['fixed'] !== undefined && semver.gte(version, e['fixed'])) hit = false;
        }
        return hit;
      }),
  );
}

/** A file at a revision of the bare repository `bare`, byte for byte. */
export function showFile(bare: string, rev: string, path: string): string {
  return execFileSync('git', ['show', `${rev}:${path}`], { cwd: bare, encoding: 'utf8' });
}

/** Pull request `number` of `owner/repo` on the environment's local GitHub. */
export async function pullRequestOf(env: TestEnvironment, owner: string, repo: string, number: number) {
  const octokit = new Octokit({ auth: 'test', baseUrl: env.stack.githubUrl });
  return (await octokit.rest.pulls.get({ owner, repo, pull_number: number })).data;
}

/**
 * Moves `master` of `bare` by one commit writing `moved` (files the remediation does not touch),
 * waits until pr-service has rebased the execution of `summary` (the CLI's JSON summary) onto it,
 * and checks the rebased branch: a new patch version on the new head, its parent the new head, the
 * diff against master touching only `manifest`, whose text is `expected` (or only the files of
 * `manifests`, path → expected text, for a change spanning several manifests), the moved files
 * there, and the pull request's head the new commit.
 */
export async function expectRebasedOntoMovedBase(
  env: TestEnvironment,
  input: { bare: string; owner: string; repo: string; summary: any; moved: Record<string, string> } & ({ manifest: string; expected: string } | { manifests: Record<string, string> }),
): Promise<void> {
  const manifests = 'manifests' in input ? input.manifests : { [input.manifest]: input.expected };
  const { bare, summary } = input;
  const moved = await commitToRemote(bare, input.moved, 'docs: move the base branch');
  const branch = summary.pullRequest.branch;
  const done = await waitFor(env, `/v1/executions/${summary.executionId}`, (b) => b.state === 'pr_opened' && b.patchVersions.at(-1)?.baseCommit === moved, 120_000);
  const head = done.patchVersions.at(-1);
  expect(done.patchVersions.length).toBeGreaterThan(1);
  expect(git(['rev-parse', `refs/heads/${branch}`], bare)).toBe(head.sha);
  expect(git(['rev-parse', `${branch}^`], bare)).toBe(moved);
  expect(git(['diff', '--name-only', `master...${branch}`], bare).split('\n').sort()).toEqual(Object.keys(manifests).sort());
  for (const [path, text] of Object.entries(manifests)) expect(showFile(bare, branch, path)).toBe(text);
  for (const [path, text] of Object.entries(input.moved)) expect(showFile(bare, branch, path)).toBe(text);
  expect(await pullRequestOf(env, input.owner, input.repo, summary.pullRequest.number)).toMatchObject({ state: 'open', head: { sha: head.sha } });
}
