/**
 * The README's main job: one real remediation end to end on the bundled example.
 *
 * 1. Fetches express 4.19.2 as published on the npm registry (`npm pack`), commits its files into
 *    a new git repository and pushes it to a local bare remote served by the local
 *    GitHub-compatible server (`.work/example/github/expressjs/express.git`).
 * 2. Starts the five services as separate processes against PostgreSQL and NATS.
 * 3. Runs `remediate --approve` with the real scan and advisories in examples/express-4.19.2;
 *    the code-fix agent looks at the 0.x-minor jumps (cookie, send) first.
 * 4. A reviewer requests a change on the pull request (a real review on the local GitHub): the
 *    service triages it as actionable, the agent makes a new version, it is pushed to the PR with
 *    a reply linking it.
 * 5. The base branch moves (a maintainer pushes to master): the service rebases the PR
 *    server-side; its diff holds only the patch's files.
 * 6. Prints a JSON summary and the PR's diff, stops the services, exits 0 when every step held.
 *
 * `./run example python` (argument `python`) runs the same job on pygoat's Python requirements
 * instead: see scripts/example-python.ts. `npm` (the default) is this file's job.
 *
 * The model: with ANTHROPIC_API_KEY set, the real Messages API (ANTHROPIC_BASE_URL for another
 * compatible endpoint); otherwise a scripted model (tools/messages-api-local) answers with the
 * calls written below, so the job runs offline. Everything else is real.
 * Env: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/remediation_example, emptied at
 * each run; a DATABASE_URL you set is used as it is),
 * NATS_URL (default nats://127.0.0.1:4222), NPM_REGISTRY_URL (default: npm's configured registry),
 * EXAMPLE_TIER (default minimal), KEEP_RUNNING=1 to leave the stack up.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createGithubClient } from '@remediation/github';
import { type MessagesApiLocal, type ScriptTurn, startMessagesApiLocal } from '@remediation/messages-api-local';
import { startStack, unmountUnder } from '@remediation/stack';
import { exampleApi, exampleApiKey, exampleDatabase, maintainerGit, moveBase, remediationBranch, runExampleJob } from './example-support.js';

// `./run example python`: the same job on a Python codebase (pygoat), in its own script.
const ecosystem = process.argv[2] ?? 'npm';
if (ecosystem === 'python') {
  await import('./example-python.js');
  // example-python.js exits the process itself when done.
  await new Promise(() => undefined);
} else if (ecosystem !== 'npm') {
  process.stderr.write(`usage: ./run example [npm|python] (got ${JSON.stringify(ecosystem)})\n`);
  process.exit(2);
}

const repoRoot = resolve(import.meta.dirname, '..');
const work = join(repoRoot, '.work/example');
const exampleDir = join(repoRoot, 'examples/express-4.19.2');
const log = (m: string) => process.stderr.write(`[example] ${m}\n`);
const git = maintainerGit('2024-03-25T00:00:00Z');

async function prepareRepository(): Promise<string> {
  const tarball = join(work, 'express-4.19.2.tgz');
  if (!existsSync(tarball)) {
    log('fetching express@4.19.2 from the npm registry (npm pack)');
    await mkdir(work, { recursive: true });
    const name = execFileSync('npm', ['pack', 'express@4.19.2', '--silent', '--pack-destination', work], { encoding: 'utf8' }).trim().split('\n').at(-1)!;
    if (join(work, name) !== tarball) execFileSync('mv', [join(work, name), tarball]);
  }
  const src = join(work, 'src');
  const bare = join(work, 'github/expressjs/express.git');
  await rm(src, { recursive: true, force: true });
  await rm(join(work, 'github'), { recursive: true, force: true });
  await mkdir(src, { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', src, '--strip-components=1']);
  git(['init', '-q', '-b', 'master'], src);
  git(['add', '-A'], src);
  git(['commit', '-q', '-m', 'express 4.19.2 as published on the npm registry'], src);
  await mkdir(join(work, 'github/expressjs'), { recursive: true });
  git(['clone', '-q', '--bare', src, bare]);
  log(`repository ready: ${bare} (master at ${git(['rev-parse', 'master'], bare).slice(0, 12)})`);
  return bare;
}

const registry = process.env['NPM_REGISTRY_URL'] ?? execFileSync('npm', ['config', 'get', 'registry'], { encoding: 'utf8' }).trim();
const bare = await prepareRepository();
const dataDir = join(work, 'data');
await unmountUnder(dataDir);
await rm(dataDir, { recursive: true, force: true });
const databaseUrl = await exampleDatabase('remediation_example');

/**
 * The scripted model, in request order: the agent's first look at the 0.x-minor jumps, the triage
 * of the review, then the iteration that answers it (an entry in History.md).
 */
function scriptedModel(): ScriptTurn[] {
  const first = readFileSync(join(work, 'src/History.md'), 'utf8').split('\n').slice(0, 2).join('\n');
  const entry = 'unreleased\n==========\n\n  * deps: body-parser@1.20.3\n  * deps: cookie@0.7.0\n  * deps: path-to-regexp@0.1.10\n  * deps: send@0.19.0\n  * deps: serve-static@1.16.0\n\n';
  return [
    {
      content: [
        { type: 'tool_use', name: 'grep', input: { pattern: "require\\('(cookie|send)'\\)" } },
      ],
    },
    {
      content: [
        { type: 'tool_use', name: 'report_outcome', input: { target: 'cookie', status: 'success', reason: 'only cookie.serialize is used, unchanged in 0.7' } },
        { type: 'tool_use', name: 'report_outcome', input: { target: 'send', status: 'success', reason: 'the send() options express passes are unchanged in 0.19' } },
      ],
    },
    { content: [{ type: 'text', text: 'No code change needed for cookie and send.' }] },
    { content: [{ type: 'tool_use', name: 'triage_feedback', input: { actionable: true, reasoning: 'The reviewer asks for a change to History.md in this PR.', request: 'Add an "unreleased" entry at the top of History.md listing the upgraded dependencies.' } }] },
    { content: [{ type: 'tool_use', name: 'edit_file', input: { path: 'History.md', old_string: first, new_string: `${entry}${first}` } }] },
    { content: [{ type: 'tool_use', name: 'report_outcome', input: { target: 'body-parser', status: 'success', reason: 'listed the upgraded dependencies in History.md, as the reviewer asked' } }] },
    { content: [{ type: 'text', text: 'History.md now lists the upgrades.' }] },
  ];
}

let model: MessagesApiLocal | null = null;
const agentEnv: Record<string, string> = {};
if (process.env['ANTHROPIC_API_KEY']) {
  log(`model: the Messages API at ${process.env['ANTHROPIC_BASE_URL'] ?? 'https://api.anthropic.com'}`);
} else {
  model = await startMessagesApiLocal({ script: scriptedModel(), apiKey: 'example' });
  Object.assign(agentEnv, { ANTHROPIC_API_KEY: 'example', ANTHROPIC_BASE_URL: model.url, AGENT_MODEL: 'scripted-model' });
  log(`model: scripted (messages-api-local at ${model.url}); set ANTHROPIC_API_KEY to use Claude`);
}
log(`starting services (registry ${registry})`);
const stack = await startStack({
  githubApp: true,
  serviceEnv: {
    patcher: agentEnv,
    // No webhook endpoint is reachable from a GitHub here: pr-service polls the open PR.
    'pr-service': { ...agentEnv, PR_POLL_INTERVAL_MS: '1500', GITHUB_BOT_LOGINS: 'github-local' },
  },
  repoRoot,
  databaseUrl,
  natsUrl: process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222',
  dataDir,
  githubReposRoot: join(work, 'github'),
  osvDir: join(exampleDir, 'advisories'),
  registry: { url: registry },
  logLevel: process.env['LOG_LEVEL'] ?? 'info',
  tenant: 'example',
});
log(`api ${stack.apiUrl} · github-local ${stack.githubUrl} · logs ${stack.logDir}`);
const apiKey = await exampleApiKey(databaseUrl);
log('tenant example: API key created for the CLI (REMEDIATION_API_KEY)');
const { waitExecution, call } = exampleApi(stack.apiUrl, apiKey);
await runExampleJob({
  remediate: { repoRoot, bare, scan: join(exampleDir, 'scan.cdx.json'), apiUrl: stack.apiUrl, apiKey },
  afterOpening,
  stop: async () => {
    await stack.stop();
    await model?.close();
  },
  dataDir,
  log,
});

/** Steps 4–6: a review asks for a change, then the base branch moves. @returns the exit code. */
async function afterOpening(): Promise<number> {
  const { branch, executionId } = remediationBranch(git, bare);
  let exec = await call(`/v1/executions/${executionId}`);
  const pr = exec.pullRequests[0];
  log(`pull request #${pr.number} open at ${pr.url} (patch version ${pr.patchVersion})`);

  // 4. A reviewer requests a change.
  const octokit = await createGithubClient({ apiUrl: stack.githubUrl, auth: stack.githubAuth }).forRepository('expressjs', 'express');
  await octokit.rest.pulls.createReview({
    owner: 'expressjs',
    repo: 'express',
    pull_number: pr.number,
    event: 'REQUEST_CHANGES',
    body: 'Please add an "unreleased" entry at the top of History.md listing the upgraded dependencies.',
    headers: { 'x-github-local-user': 'reviewer' },
  });
  log('reviewer requested a change on the pull request; waiting for the new version');
  exec = await waitExecution(executionId, 'answering the review', (e) => e.state === 'pr_opened' && e.patchVersions.length >= 2);
  const v2 = exec.patchVersions.at(-1);
  const comments = (await octokit.rest.issues.listComments({ owner: 'expressjs', repo: 'express', issue_number: pr.number })).data;
  const reply = comments.find((c) => c.body?.includes(`patch version ${v2.version}`));
  log(`version ${v2.version} (${v2.sha.slice(0, 12)}) pushed to the PR; reply: ${reply ? reply.html_url : 'missing'}`);

  // 5. The base branch moves.
  const moved = await moveBase({ git, work, bare, file: 'Readme.md', line: 'See https://expressjs.com for the docs.', message: 'docs: link the website' });
  log(`master moved to ${moved.slice(0, 12)}; waiting for the rebase`);
  exec = await waitExecution(executionId, 'rebasing the PR', (e) => e.state === 'pr_opened' && e.patchVersions.at(-1).baseCommit === moved);
  const head = git(['rev-parse', branch], bare);
  const files = git(['diff', '--name-only', `master...${branch}`], bare).split('\n').filter(Boolean);
  const ok = Boolean(reply) && git(['merge-base', 'master', branch], bare) === moved && files.every((f) => ['package.json', 'History.md'].includes(f)) && files.includes('History.md');
  process.stdout.write(
    `${JSON.stringify(
      {
        executionId,
        pullRequest: { number: pr.number, url: pr.url, head, patchVersion: exec.pullRequests[0].patchVersion },
        review: { answeredBy: `patch version ${v2.version}`, reply: reply?.html_url ?? null, triage: exec.reviews.map((r: any) => ({ author: r.author, actionable: r.actionable, reasoning: r.reasoning })) },
        rebase: { onto: moved, filesInPullRequest: files },
        versions: exec.patchVersions.map((v: any) => ({ version: v.version, sha: v.sha, baseCommit: v.baseCommit, feedback: v.feedback?.text ?? null, approvable: v.approvable })),
        ok,
      },
      null,
      2,
    )}\n`,
  );
  process.stderr.write(`${git(['diff', `master...${branch}`], bare)}\n`);
  return ok ? 0 : 1;
}
