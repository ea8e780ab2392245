/**
 * `./run example python`: the README's main job on a Python codebase, end to end.
 *
 * 1. Builds pygoat's repository state at its recorded commit from the bundled manifests
 *    (test/fixtures/manifests/pygoat: requirements.txt and dockerized_labs/*\/requirements.txt,
 *    adeyosemanputra/pygoat @ 19d17cc8) into a local bare remote served by the local
 *    GitHub-compatible server (`.work/example-python/github/adeyosemanputra/pygoat.git`).
 * 2. Picks the PyPI index: the live https://pypi.org when a quick probe answers (3 s), else the
 *    bundled snapshot test/fixtures/registry/pypi served by tools/pypi-local; says which.
 *    PYPI_URL set: that index, as it is.
 * 3. Starts the five services as separate processes against PostgreSQL and NATS, with the PYSEC
 *    advisories bundled in test/fixtures/osv-pypi-cases, and runs `remediate --approve` with the scan
 *    test/fixtures/scans/pygoat.cdx.json (made by scripts/fixtures/python-scan.ts from those
 *    manifests).
 * 4. A reviewer comments on the pull request; pr-service reads it (polling: no webhook reaches it
 *    here) and triages it.
 * 5. The base branch moves (a maintainer pushes to master): the service rebases the PR
 *    server-side; its diff holds only requirements files.
 * 6. Prints a JSON summary (which PyPI, the PR, the triage, the rebase) and the PR's diff, stops
 *    the services, exits 0 when every step held.
 *
 * The model: with ANTHROPIC_API_KEY set, the real Messages API answers the triage (and the
 * patcher's code-fix agent looks at major jumps); otherwise a scripted model
 * (tools/messages-api-local) answers the one triage and the patcher runs without the agent
 * (deterministic manifest edits; major jumps are marked as needing the agent).
 * Env: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/remediation_example_python,
 * emptied at each run; a DATABASE_URL you set is used as it is), NATS_URL (default
 * nats://127.0.0.1:4222), PYPI_URL, EXAMPLE_TIER (default minimal), KEEP_RUNNING=1.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { createGithubClient } from '@remediation/github';
import { type MessagesApiLocal, startMessagesApiLocal } from '@remediation/messages-api-local';
import { startStack, unmountUnder } from '@remediation/stack';
import { exampleApi, exampleApiKey, exampleDatabase, maintainerGit, moveBase, remediationBranch, runExampleJob } from './example-support.js';

const repoRoot = resolve(import.meta.dirname, '..');
const work = join(repoRoot, '.work/example-python');
const fixtures = join(repoRoot, 'test/fixtures');
const LIVE_PYPI = 'https://pypi.org';
const log = (m: string) => process.stderr.write(`[example python] ${m}\n`);
const git = maintainerGit('2026-03-28T00:00:00Z');

/** pygoat's manifests (without the case notes) committed into a new bare remote. */
async function prepareRepository(): Promise<string> {
  const from = join(fixtures, 'manifests/pygoat');
  const src = join(work, 'src');
  const bare = join(work, 'github/adeyosemanputra/pygoat.git');
  await rm(src, { recursive: true, force: true });
  await rm(join(work, 'github'), { recursive: true, force: true });
  const files = readdirSync(from, { recursive: true, withFileTypes: true }).filter((e) => e.isFile() && e.name !== 'case.json');
  for (const e of files) {
    const path = relative(from, join(e.parentPath, e.name)).split(sep).join('/');
    await mkdir(dirname(join(src, path)), { recursive: true });
    await writeFile(join(src, path), readFileSync(join(e.parentPath, e.name)));
  }
  await writeFile(join(src, 'README.md'), '# PyGoat\n\nOWASP PyGoat: an intentionally vulnerable Django application.\n');
  git(['init', '-q', '-b', 'master'], src);
  git(['add', '-A'], src);
  git(['commit', '-q', '-m', "pygoat's requirements at 19d17cc8 (adeyosemanputra/pygoat)"], src);
  await mkdir(dirname(bare), { recursive: true });
  git(['clone', '-q', '--bare', src, bare]);
  log(`repository ready: ${bare} (master at ${git(['rev-parse', 'master'], bare).slice(0, 12)}; ${files.length} requirements files)`);
  return bare;
}

/**
 * Which PyPI to use: PYPI_URL when set; https://pypi.org when its JSON API answers within 3 s;
 * else the bundled snapshot (tools/pypi-local over test/fixtures/registry/pypi).
 */
async function choosePypi(): Promise<{ kind: 'configured' | 'live' | 'snapshot'; option: { url: string } | { dir: string }; note: string }> {
  const configured = process.env['PYPI_URL'];
  if (configured) return { kind: 'configured', option: { url: configured }, note: `PYPI_URL ${configured}` };
  try {
    const res = await fetch(`${LIVE_PYPI}/pypi/django/json`, { method: 'HEAD', signal: AbortSignal.timeout(3_000) });
    if (res.ok) return { kind: 'live', option: { url: LIVE_PYPI }, note: `live registry ${LIVE_PYPI}` };
    return snapshot(`${LIVE_PYPI} answered ${res.status}`);
  } catch (error) {
    return snapshot(`${LIVE_PYPI} unreachable: ${(error as Error).message}`);
  }
  function snapshot(why: string) {
    const dir = join(fixtures, 'registry/pypi');
    return { kind: 'snapshot' as const, option: { dir }, note: `bundled snapshot ${relative(repoRoot, dir)} served by tools/pypi-local (${why})` };
  }
}

const bare = await prepareRepository();
const pypi = await choosePypi();
log(`PyPI: ${pypi.note}`);
const dataDir = join(work, 'data');
await unmountUnder(dataDir);
await rm(dataDir, { recursive: true, force: true });
const databaseUrl = await exampleDatabase('remediation_example_python');

const REVIEW = 'Thanks, these pins match the advisories listed above.';
let model: MessagesApiLocal | null = null;
const triageEnv: Record<string, string> = {};
if (process.env['ANTHROPIC_API_KEY']) {
  log(`model: the Messages API at ${process.env['ANTHROPIC_BASE_URL'] ?? 'https://api.anthropic.com'}`);
} else {
  model = await startMessagesApiLocal({
    apiKey: 'example',
    script: [{ content: [{ type: 'tool_use', name: 'triage_feedback', input: { actionable: false, reasoning: 'The reviewer agrees with the change; nothing is asked.', request: '' } }] }],
  });
  Object.assign(triageEnv, { ANTHROPIC_API_KEY: 'example', ANTHROPIC_BASE_URL: model.url, AGENT_MODEL: 'scripted-model' });
  log(`model: scripted triage (messages-api-local at ${model.url}); the patcher runs without the code-fix agent; set ANTHROPIC_API_KEY to use Claude`);
}
log('starting services');
const stack = await startStack({
  githubApp: true,
  serviceEnv: { 'pr-service': { ...triageEnv, PR_POLL_INTERVAL_MS: '1500', GITHUB_BOT_LOGINS: 'github-local' } },
  repoRoot,
  databaseUrl,
  natsUrl: process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222',
  dataDir,
  githubReposRoot: join(work, 'github'),
  osvDir: join(fixtures, 'osv-pypi-cases'),
  // npm is not used here; the planner still needs a source for it.
  registry: { snapshotDir: join(fixtures, 'registry/npm') },
  pypi: pypi.option,
  logLevel: process.env['LOG_LEVEL'] ?? 'info',
  tenant: 'example',
});
log(`api ${stack.apiUrl} · github-local ${stack.githubUrl} · PyPI ${stack.pypiUrl ?? '(planner default)'} · logs ${stack.logDir}`);
const apiKey = await exampleApiKey(databaseUrl);
const { waitExecution, call } = exampleApi(stack.apiUrl, apiKey);
await runExampleJob({
  remediate: { repoRoot, bare, scan: join(fixtures, 'scans/pygoat.cdx.json'), apiUrl: stack.apiUrl, apiKey },
  afterOpening,
  stop: async () => {
    await stack.stop();
    await model?.close();
  },
  dataDir,
  log,
});

/** Steps 4–6: a reviewer comments, then the base branch moves. @returns the exit code. */
async function afterOpening(): Promise<number> {
  const { branch, executionId } = remediationBranch(git, bare);
  let exec = await call(`/v1/executions/${executionId}`);
  const pr = exec.pullRequests[0];
  log(`pull request #${pr.number} open at ${pr.url} (patch version ${pr.patchVersion})`);

  // 4. A reviewer comments; the service triages it.
  const octokit = await createGithubClient({ apiUrl: stack.githubUrl, auth: stack.githubAuth }).forRepository('adeyosemanputra', 'pygoat');
  await octokit.rest.issues.createComment({ owner: 'adeyosemanputra', repo: 'pygoat', issue_number: pr.number, body: REVIEW, headers: { 'x-github-local-user': 'reviewer' } });
  log('a reviewer commented on the pull request; waiting for the triage');
  exec = await waitExecution(executionId, 'triaging the review', (e) => e.reviews.some((r: any) => r.author === 'reviewer' && r.actionable !== null));
  const review = exec.reviews.find((r: any) => r.author === 'reviewer');
  log(`triaged by ${review.triagedBy}: ${review.actionable ? 'actionable' : 'not actionable'} (${review.reasoning})`);

  // 5. The base branch moves.
  const moved = await moveBase({ git, work, bare, file: 'README.md', line: 'See https://owasp.org/www-project-pygoat/ for the labs.', message: 'docs: link the project page' });
  log(`master moved to ${moved.slice(0, 12)}; waiting for the rebase`);
  exec = await waitExecution(executionId, 'rebasing the PR', (e) => e.state === 'pr_opened' && e.patchVersions.at(-1).baseCommit === moved);
  const head = git(['rev-parse', branch], bare);
  const files = git(['diff', '--name-only', `master...${branch}`], bare).split('\n').filter(Boolean);
  const ok = git(['merge-base', 'master', branch], bare) === moved && files.length > 0 && files.every((f) => f.split('/').at(-1) === 'requirements.txt');
  process.stdout.write(
    `${JSON.stringify(
      {
        pypi: { source: pypi.kind, detail: pypi.note, url: stack.pypiUrl ?? null },
        executionId,
        targets: exec.targets.map((t: any) => ({ name: t.name, from: t.from, to: t.to, status: t.status, manifest: t.manifestPath ?? null })),
        pullRequest: { number: pr.number, url: pr.url, head, patchVersion: exec.pullRequests[0].patchVersion },
        review: { author: review.author, actionable: review.actionable, triagedBy: review.triagedBy, reasoning: review.reasoning },
        rebase: { onto: moved, filesInPullRequest: files },
        versions: exec.patchVersions.map((v: any) => ({ version: v.version, sha: v.sha, baseCommit: v.baseCommit })),
        ok,
      },
      null,
      2,
    )}\n`,
  );
  process.stderr.write(`${git(['diff', `master...${branch}`], bare)}\n`);
  return ok ? 0 : 1;
}
