import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { Octokit } from '@octokit/rest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normalisePythonName, pep440Versioning } from '@remediation/ecosystems';
import { fixturePath } from '@remediation/testing';
import { type TestEnvironment, commitToRemote, git, makeRemote, runCli, startTestEnvironment } from '../support/environment.js';
import { waitFor } from '../support/flows.js';

/**
 * End to end for Python (issue 13): the five services as separate processes, the real
 * PostgreSQL, a private nats-server, real git, the local GitHub-compatible server and
 * tools/pypi-local serving test/fixtures/registry/pypi as the planner's PYPI_URL; advisories
 * from test/fixtures/osv-pypi-cases (PYSEC records). Driven by the `remediate` CLI like the npm e2e.
 * Expected pins come from each case's case.json (vulnerable pairs and their fixed versions), not
 * from the services' output.
 */
let env: TestEnvironment;

beforeAll(async () => {
  env = await startTestEnvironment('python', {}, {
    osvDir: fixturePath('osv-pypi-cases'),
    // No webhook reaches pr-service here: it polls the open pull requests (and rebases them).
    serviceEnv: { 'pr-service': { PR_POLL_INTERVAL_MS: '1000' } },
  });
}, 180_000);

afterAll(async () => {
  await env?.close();
}, 60_000);

/** A case.json of test/fixtures/manifests (format of the fixture collection; see PROVENANCE.md). */
interface Case {
  files: string[];
  vulnerable: Array<{ package: string; version: string; version_source: string; advisory: string; aliases?: string[]; fixed: string }>;
}

/** One expected minimal-tier bump: in `file`, the pin of `name` (PEP 503) moves from `from` to `to`. */
interface Bump {
  file: string;
  name: string;
  from: string;
  to: string;
  advisories: string[];
}

/**
 * The minimal tier by the case's data: per manifest and (package, pinned version), the highest
 * of the fixed versions of the advisories affecting it (PEP 440 order): the lowest version that
 * leaves every one of them. `version_source` is `<case>/<path> <requirement>`.
 */
function expectedBumps(c: Case, caseName: string): Bump[] {
  const byKey = new Map<string, Bump>();
  for (const v of c.vulnerable) {
    const source = v.version_source.split(' ')[0]!;
    if (!source.startsWith(`${caseName}/`)) throw new Error(`case ${caseName}: version_source ${v.version_source} names another case`);
    const file = source.slice(caseName.length + 1);
    const name = normalisePythonName(v.package);
    const key = `${file}|${name}|${v.version}`;
    const b = byKey.get(key) ?? { file, name, from: v.version, to: v.fixed, advisories: [] };
    if (pep440Versioning.compare(v.fixed, b.to) > 0) b.to = v.fixed;
    b.advisories.push(v.advisory);
    byKey.set(key, b);
  }
  return [...byKey.values()];
}

/** The files of a fixture repository state (path → content), without its case.json. */
function repositoryFiles(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  const walk = (at: string): void => {
    for (const e of readdirSync(at, { withFileTypes: true })) {
      const path = join(at, e.name);
      if (e.isDirectory()) walk(path);
      else if (e.name !== 'case.json') files[relative(dir, path).split(sep).join('/')] = readFileSync(path, 'utf8');
    }
  };
  walk(dir);
  return files;
}

/** A requirements-file line `name==version…` with its pin replaced, or the line unchanged. */
function bumpRequirementLine(line: string, bumps: readonly Bump[]): string {
  const m = /^([A-Za-z0-9._-]+)==([^\s#;]+)(.*)$/.exec(line);
  const b = m && bumps.find((x) => x.name === normalisePythonName(m[1]!) && x.from === m[2]);
  return b ? `${m[1]}==${b.to}${m[3]}` : line;
}

/** A Poetry dependency line `name = "<op>version"` with the version replaced, operator kept, or the line unchanged. */
function bumpPoetryLine(line: string, bumps: readonly Bump[]): string {
  const m = /^([A-Za-z0-9._-]+)(\s*=\s*")(\^|~|)([^"]+)(".*)$/.exec(line);
  const b = m && bumps.find((x) => x.name === normalisePythonName(m[1]!) && x.from === m[4]);
  return b ? `${m[1]}${m[2]}${m[3]}${b.to}${m[5]}` : line;
}

/** The manifest text with the bumps applied line by line (every other byte kept). */
function expectedManifest(file: string, text: string, bumps: readonly Bump[], bumpLine: (line: string, b: readonly Bump[]) => string): string {
  const mine = bumps.filter((b) => b.file === file);
  return text
    .split('\n')
    .map((l) => bumpLine(l, mine))
    .join('\n');
}

/** A file at a revision of the bare repository, byte for byte (no trimming). */
const show = (bare: string, rev: string, path: string): string => execFileSync('git', ['show', `${rev}:${path}`], { cwd: bare, encoding: 'utf8' });

const unique = <T>(xs: T[]): T[] => [...new Set(xs)];

/** Runs the CLI through to an opened PR on the minimal tier. */
function remediate(bare: string, scan: string) {
  return runCli(['--repo', bare, '--scan', scan, '--tier', 'minimal', '--approve', '--api', env.stack.apiUrl, '--api-key', env.stack.apiKey]);
}

describe('pygoat at its recorded commit (requirements files): scan → plan → patch → pull request → rebase', () => {
  const files = repositoryFiles(fixturePath('manifests/pygoat'));
  const pygoat = JSON.parse(readFileSync(fixturePath('manifests/pygoat/case.json'), 'utf8')) as Case;
  const bumps = expectedBumps(pygoat, 'pygoat');
  let bare: string;
  let summary: any;

  beforeAll(async () => {
    bare = await makeRemote(env.reposRoot, 'adeyosemanputra', 'pygoat', { ...files, 'README.md': '# PyGoat\n' });
  });

  it('the stack serves the PyPI version lists with pypi-local and gives its URL to the planner as PYPI_URL', async () => {
    expect(env.stack.pypiUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const django = (await (await fetch(`${env.stack.pypiUrl}/pypi/Django/json`)).json()) as { releases: Record<string, unknown> };
    expect(Object.keys(django.releases)).toEqual(expect.arrayContaining(bumps.filter((b) => b.name === 'django').flatMap((b) => [b.from, b.to])));
    const planner = env.stack.processes.get('planner')!;
    const environ = readFileSync(`/proc/${planner.child.pid}/environ`, 'utf8').split('\0');
    expect(environ).toContain(`PYPI_URL=${env.stack.pypiUrl}`);
    expect(environ).toContain(`OSV_DIR=${fixturePath('osv-pypi-cases')}`);
  });

  it('the case asks for bumps in three of its four requirements files (the test data holds what the test claims)', () => {
    expect(Object.keys(files).sort()).toEqual([...pygoat.files].sort());
    expect(unique(bumps.map((b) => b.file)).sort()).toEqual([
      'dockerized_labs/broken_auth_lab/requirements.txt',
      'dockerized_labs/sensitive_data_exposure/requirements.txt',
      'requirements.txt',
    ]);
  });

  it('the CLI reaches pr_opened; every vulnerable pin gets the minimal-tier version case.json gives', () => {
    const run = remediate(bare, fixturePath('scans/pygoat.cdx.json'));
    summary = run.summary;
    expect(run.code, run.stderr + JSON.stringify(run.summary)).toBe(0);
    expect(summary.state).toBe('pr_opened');
    // A package pinned at several versions (django 4.2 and 3.2.18 in two files) is one execution
    // target listing each installed version with its own fixed version.
    const targets = summary.targets
      .flatMap((t: any) => (t.versions ?? [{ from: t.from, to: t.to }]).map((v: any) => `${normalisePythonName(t.name)} ${v.from}→${v.to}:${t.status}`))
      .sort();
    expect(targets).toEqual(unique(bumps.map((b) => `${b.name} ${b.from}→${b.to}:success`)).sort());
    expect(summary.pullRequest.url).toMatch(/\/adeyosemanputra\/pygoat\/pull\/\d+$/);
  }, 180_000);

  it('the plan names each target by its purl type and PEP 503 name, with the advisories the case lists', async () => {
    const rem = await waitFor(env, `/v1/remediations/${summary.remediationId}`, (b) => b.state === 'plan_generated');
    const targets = rem.plan.targets;
    expect(targets.length).toBeGreaterThan(0);
    for (const t of targets) expect(t).toMatchObject({ ecosystem: 'pypi', name: normalisePythonName(t.name) });
    // The advisory database merges aliases (PYSEC, GHSA, CVE) into one advisory whose id may be
    // the GHSA one: each case advisory must be a planned id or alias, and each planned advisory
    // one of the case's (by id or alias).
    const planned: Array<{ id: string; aliases: string[] }> = targets.flatMap((t: any) => t.advisories);
    const namesOf = (a: { id: string; aliases: string[] }) => new Set([a.id, ...a.aliases]);
    for (const v of pygoat.vulnerable) {
      expect(planned.some((a) => namesOf(a).has(v.advisory)), v.advisory).toBe(true);
    }
    const caseNames = new Set(pygoat.vulnerable.flatMap((v) => [v.advisory, ...(v.aliases ?? [])]));
    for (const a of planned) expect([...namesOf(a)].some((n) => caseNames.has(n)), a.id).toBe(true);
  });

  it('the pushed branch changes only the requirements files, by exactly those pins', () => {
    const branch = summary.pullRequest.branch;
    expect(git(['rev-parse', `refs/heads/${branch}`], bare)).toBe(summary.commit);
    const changed = git(['diff', '--name-only', 'master', branch], bare).split('\n').filter(Boolean).sort();
    expect(changed).toEqual(unique(bumps.map((b) => b.file)).sort());
    for (const [path, text] of Object.entries(files)) {
      expect(show(bare, branch, path), path).toBe(expectedManifest(path, text, bumps, bumpRequirementLine));
    }
    expect(git(['rev-parse', `${summary.commit}^`], bare)).toBe(summary.baseCommit);
  });

  it('the pull request on the GitHub-compatible server names every advisory the case lists', async () => {
    const octokit = new Octokit({ auth: 'test', baseUrl: env.stack.githubUrl });
    const pr = (await octokit.rest.pulls.get({ owner: 'adeyosemanputra', repo: 'pygoat', pull_number: summary.pullRequest.number })).data;
    expect(pr).toMatchObject({ state: 'open', base: { ref: 'master' }, head: { ref: summary.pullRequest.branch, sha: summary.commit } });
    for (const v of pygoat.vulnerable) {
      expect([v.advisory, ...(v.aliases ?? [])].some((id) => pr.body!.includes(id)), v.advisory).toBe(true);
    }
  });

  it('the base branch moves: the pull request is rebased onto the new head, the manifest edits still there', async () => {
    const before = show(bare, 'master', 'README.md');
    const moved = await commitToRemote(bare, { 'README.md': `${before}\nA deliberately insecure Django app for learning.\n`, 'docs/labs.md': 'labs\n' }, 'docs: describe the labs');
    const branch = summary.pullRequest.branch;
    const done = await waitFor(env, `/v1/executions/${summary.executionId}`, (b) => b.state === 'pr_opened' && b.patchVersions.at(-1)?.baseCommit === moved, 120_000);
    const head = done.patchVersions.at(-1);
    expect(done.patchVersions.length).toBeGreaterThan(1);
    expect(git(['rev-parse', `refs/heads/${branch}`], bare)).toBe(head.sha);
    expect(git(['merge-base', 'master', branch], bare)).toBe(moved);
    expect(git(['rev-parse', `${branch}^`], bare)).toBe(moved);
    expect(git(['diff', '--name-only', `master...${branch}`], bare).split('\n').filter(Boolean).sort()).toEqual(unique(bumps.map((b) => b.file)).sort());
    for (const [path, text] of Object.entries(files)) {
      expect(show(bare, branch, path), path).toBe(expectedManifest(path, text, bumps, bumpRequirementLine));
    }
    const octokit = new Octokit({ auth: 'test', baseUrl: env.stack.githubUrl });
    const pr = (await octokit.rest.pulls.get({ owner: 'adeyosemanputra', repo: 'pygoat', pull_number: summary.pullRequest.number })).data;
    expect(pr).toMatchObject({ state: 'open', head: { sha: head.sha } });
  }, 180_000);
});

describe('a Poetry project (pyproject.toml): scan → plan → patch → pull request', () => {
  const files = repositoryFiles(fixturePath('manifests/poetry-inventory'));
  const inventory = JSON.parse(readFileSync(fixturePath('manifests/poetry-inventory/case.json'), 'utf8')) as Case;
  const bumps = expectedBumps(inventory, 'poetry-inventory');
  let bare: string;

  it('raises each vulnerable constraint in its own style (^, ~, exact); only pyproject.toml changes', async () => {
    expect(unique(bumps.map((b) => b.file))).toEqual(['pyproject.toml']);
    bare = await makeRemote(env.reposRoot, 'inventory', 'inventory-api', {
      ...files,
      'README.md': '# inventory-api\n',
      'inventory_api/__init__.py': 'import flask\nimport yaml\n\napp = flask.Flask(__name__)\n',
    });
    const run = remediate(bare, fixturePath('scans/poetry-inventory.cdx.json'));
    expect(run.code, run.stderr + JSON.stringify(run.summary)).toBe(0);
    expect(run.summary.state).toBe('pr_opened');
    const targets = run.summary.targets.map((t: any) => `${normalisePythonName(t.name)} ${t.from}→${t.to}:${t.status}`).sort();
    expect(targets).toEqual(bumps.map((b) => `${b.name} ${b.from}→${b.to}:success`).sort());
    const branch = run.summary.pullRequest.branch;
    expect(git(['diff', '--name-only', 'master', branch], bare)).toBe('pyproject.toml');
    const after = show(bare, branch, 'pyproject.toml');
    expect(after).toBe(expectedManifest('pyproject.toml', files['pyproject.toml']!, bumps, bumpPoetryLine));
    // Every bump is a real edit of the file (the expectation is not the input again).
    expect(after).not.toBe(files['pyproject.toml']);
    const octokit = new Octokit({ auth: 'test', baseUrl: env.stack.githubUrl });
    const pr = (await octokit.rest.pulls.get({ owner: 'inventory', repo: 'inventory-api', pull_number: run.summary.pullRequest.number })).data;
    expect(pr.state).toBe('open');
    for (const id of unique(inventory.vulnerable.map((v) => v.advisory))) expect(pr.body).toContain(id);
  }, 180_000);
});
