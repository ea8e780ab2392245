import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type ExecutionResponse, type ExecutionState, Tier, describeTransitiveFix } from '@remediation/contracts';
import { ApiError, RemediationClient } from './client.js';
import { ProgressLines } from './progress.js';

const USAGE = `usage: remediate --repo <git URL or path> --scan <CycloneDX JSON> [options]

  --tier minimal|moderate|comprehensive   upgrade tier (default: minimal)
  --approve                               open the pull request once the patch is generated
  --targets a,b                           only these targets (package names)
  --branch NAME                           branch to push (default remediation/<id>/patch.<n>)
  --base-branch NAME                      branch to patch (default: the repository's default)
  --pr-repository OWNER/REPO              pull-request repository if it can't be derived from --repo
  --draft                                 open the pull request as a draft
  --api URL                               API base URL (default: $REMEDIATION_API_URL or http://127.0.0.1:3000)
  --api-key KEY                           API key (rk_…) of a service account (default: $REMEDIATION_API_KEY)
  --token JWT                             bearer token of your identity provider (default: $REMEDIATION_TOKEN)
                                          (prefer the variables: arguments show in the process list)
  --timeout SECONDS                       give up after this long (default: 1800)

Progress goes to stderr (each state change, and one progress line per step: clone objects,
agent tool calls), followed live on the API's events stream (GET /v1/executions/:id/events);
an API without that route is polled instead. One JSON summary goes to stdout. Exit 0 only when
the requested end state was reached (patch_generated, or pr_opened with --approve).`;

function fail(message: string, code = 1): never {
  process.stderr.write(`remediate: ${message}\n`);
  process.exit(code);
}

const { values } = parseArgs({
  options: {
    repo: { type: 'string' },
    scan: { type: 'string' },
    tier: { type: 'string', default: 'minimal' },
    approve: { type: 'boolean', default: false },
    targets: { type: 'string' },
    branch: { type: 'string' },
    'base-branch': { type: 'string' },
    'pr-repository': { type: 'string' },
    draft: { type: 'boolean', default: false },
    api: { type: 'string', default: process.env['REMEDIATION_API_URL'] ?? 'http://127.0.0.1:3000' },
    'api-key': { type: 'string' },
    token: { type: 'string' },
    timeout: { type: 'string', default: '1800' },
    help: { type: 'boolean', default: false },
  },
  strict: true,
}).valueOf() as { values: Record<string, string | boolean | undefined> };

if (values['help']) {
  process.stdout.write(USAGE + '\n');
  process.exit(0);
}
if (!values['repo'] || !values['scan']) fail(`--repo and --scan are required\n${USAGE}`, 2);
const tier = Tier.safeParse(values['tier']);
if (!tier.success) fail(`--tier must be one of ${Tier.options.join(', ')}; got ${String(values['tier'])}`, 2);
const timeoutMs = Number(values['timeout']) * 1000;
if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) fail('--timeout must be a positive number of seconds', 2);

const repoArg = String(values['repo']);
const repository = /^[a-z+]+:\/\//i.test(repoArg) || /^[^@/]+@[^:]+:/.test(repoArg) ? repoArg : resolve(repoArg);
// A JSON scan is sent as an object; any other text (CycloneDX XML) as a string: the API detects the format.
let scan: Record<string, unknown> | string;
try {
  const text = await readFile(String(values['scan']), 'utf8');
  scan = text.replace(/^\uFEFF/, '').trimStart().startsWith('{') ? JSON.parse(text.replace(/^\uFEFF/, '')) : text;
} catch (err) {
  fail(`cannot read the scan ${String(values['scan'])}: ${(err as Error).message}`, 2);
}
const prRepo = values['pr-repository'] ? String(values['pr-repository']).split('/') : undefined;
if (prRepo && (prRepo.length !== 2 || !prRepo[0] || !prRepo[1])) fail('--pr-repository must be OWNER/REPO', 2);

const apiKey = (values['api-key'] as string | undefined) ?? process.env['REMEDIATION_API_KEY'];
const token = (values['token'] as string | undefined) ?? process.env['REMEDIATION_TOKEN'] ?? process.env['REMEDIATION_API_TOKEN'];
if (!apiKey && !token) fail('credentials required: --api-key or $REMEDIATION_API_KEY (an API key), or --token or $REMEDIATION_TOKEN (a JWT)', 2);
const client = new RemediationClient(String(values['api']), { ...(apiKey ? { apiKey } : {}), ...(token ? { token } : {}) });
const deadline = Date.now() + timeoutMs;
const progressLines = new ProgressLines({ write: (text) => process.stderr.write(text), isTTY: Boolean(process.stderr.isTTY) }, '[remediate]');
const log = (msg: string) => {
  progressLines.end();
  process.stderr.write(`[remediate] ${msg}\n`);
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, poll: () => Promise<T>, done: (v: T) => boolean, describe: (v: T) => string): Promise<T> {
  let last = '';
  for (;;) {
    const v = await poll();
    const d = describe(v);
    if (d !== last) log(d);
    last = d;
    if (done(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${d})`);
    await sleep(500);
  }
}

/** The last event id seen per execution: a later wait on the same execution resumes after it. */
const lastEventIds = new Map<string, string>();
/** False once the API answered that it has no events route (an older server): then we poll. */
let eventsRoute = true;

/**
 * Follows the execution's events stream until a state change reaches a state `done` accepts,
 * logging each state change and the progress lines. A stream that ends or breaks is reopened
 * after the last event seen (`Last-Event-ID`), first checking the execution's state in case
 * events were missed.
 * @throws ApiError (`ROUTE_NOT_FOUND` from an API without the route, `NOT_FOUND`, …); Error on the deadline.
 */
async function followEvents(id: string, what: string, done: (state: ExecutionState) => boolean): Promise<void> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), Math.max(0, deadline - Date.now()));
  let last = '';
  try {
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0 && done((await client.getExecution(id)).state)) return;
      try {
        for await (const e of client.executionEvents(id, { lastEventId: lastEventIds.get(id), signal: abort.signal })) {
          lastEventIds.set(id, e.id);
          if (e.type === 'progress') {
            progressLines.progress(e.event);
            continue;
          }
          const line = `execution ${id}: ${e.event.to}${e.event.step ? ` (${e.event.step})` : ''}`;
          if (line !== last) log(line);
          last = line;
          if (done(e.event.to)) return;
        }
      } catch (err) {
        if (abort.signal.aborted) break;
        // The API's own answers (no route, not found, bad credentials) end the wait; network trouble and 5xx are retried.
        if (err instanceof ApiError && err.status >= 400 && err.status < 500) throw err;
      }
      if (abort.signal.aborted) break;
      await sleep(Math.min(5_000, 250 * 2 ** attempt));
    }
    throw new Error(`timed out waiting for ${what} (last: ${last || 'no event'})`);
  } finally {
    clearTimeout(timer);
    abort.abort();
    progressLines.end();
  }
}

/**
 * Waits until the execution is in a state `done` accepts and returns it: on the events stream, or
 * by polling every 500 ms when the API has no events route (an older server).
 */
async function waitForExecution(id: string, what: string, done: (state: ExecutionState) => boolean): Promise<ExecutionResponse> {
  if (eventsRoute) {
    try {
      await followEvents(id, what, done);
      return await client.getExecution(id);
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 'ROUTE_NOT_FOUND')) throw err;
      eventsRoute = false;
      log('the API has no events route (an older server): polling');
    }
  }
  return waitFor(what, () => client.getExecution(id), (x) => done(x.state), (x) => `execution ${x.id}: ${x.state}${x.step ? ` (${x.step})` : ''}`);
}

const summary: Record<string, unknown> = { remediationId: null, executionId: null, state: null };
function finish(code: number, reason?: string): never {
  if (reason) summary['reason'] = reason;
  process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
  process.exit(code);
}

try {
  log(`creating remediation for ${repository}`);
  const created = await client.createRemediation({
    codebase: {
      repository,
      ...(values['base-branch'] ? { baseBranch: String(values['base-branch']) } : {}),
      ...(prRepo ? { pullRequestRepository: { owner: prRepo[0]!, repo: prRepo[1]! } } : {}),
    },
    scan,
  });
  summary['remediationId'] = created.id;
  await waitForExecution(created.planExecution.id, 'the plan', (state) => state !== 'planner_running');
  const rem = await client.getRemediation(created.id);
  summary['state'] = rem.state;
  if (rem.state !== 'plan_generated' || !rem.plan) finish(1, `planning failed: ${rem.planExecution.error?.code ?? ''} ${rem.planExecution.error?.message ?? ''}`.trim());
  const plan = rem.plan;
  summary['plan'] = {
    targets: plan.targets.map((t) => ({ name: t.name, current: t.currentVersion, [tier.data]: t.tiers[tier.data]?.version ?? null, advisories: t.advisories.map((a) => a.id) })),
    noFixTargets: plan.noFixTargets,
    transitive: plan.transitive.map((t) => `${t.name}@${t.version}`),
  };
  for (const t of plan.targets) {
    const o = t.tiers[tier.data];
    log(`  target ${t.name} ${t.currentVersion} → ${o ? `${o.version} (${o.jump})` : 'no fix'}  [${t.advisories.map((a) => a.id).join(', ')}]`);
  }
  for (const t of plan.transitive) {
    log(`  transitive ${t.name} ${t.version} via ${t.via.join(', ') || '?'} → ${t.minimal ? describeTransitiveFix(t.minimal) : 'no option'}  [${t.advisories.join(', ')}] (select with --targets ${t.name})`);
  }
  const exec = await client.createExecution(rem.id, {
    tier: tier.data,
    ...(values['targets'] ? { targets: String(values['targets']).split(',').map((s) => s.trim()).filter(Boolean) } : {}),
    ...(values['branch'] ? { branchName: String(values['branch']) } : {}),
    asDraft: Boolean(values['draft']),
  });
  summary['executionId'] = exec.id;
  log(`execution ${exec.id} started (${tier.data})`);
  let e = await waitForExecution(exec.id, 'the patch', (state) => state !== 'patch_running');
  const describeTargets = (x: typeof e) => x.targets.map((t) => ({ name: t.name, from: t.from, to: t.to, status: t.status, ...(t.versions ? { versions: t.versions } : {}), ...(t.fix ? { fix: describeTransitiveFix(t.fix) } : {}), ...(t.reason ? { reason: t.reason } : {}) }));
  summary['state'] = e.state;
  summary['targets'] = describeTargets(e);
  const pv = e.patchVersions.at(-1);
  summary['commit'] = pv?.sha ?? null;
  summary['patchRef'] = pv?.ref ?? null;
  summary['baseCommit'] = e.baseCommit;
  if (e.state !== 'patch_generated') finish(1, `patch did not complete: ${e.error?.code ?? ''} ${e.error?.message ?? ''}`.trim());
  if (!values['approve']) finish(0);
  log(`approving patch version ${pv!.version}: opening the pull request`);
  await client.requestPullRequest(e.id, pv!.version);
  e = await waitForExecution(exec.id, 'the pull request', (state) => state !== 'pr_opening');
  summary['state'] = e.state;
  const pr = e.pullRequests.at(-1);
  summary['pullRequest'] = pr ? { url: pr.url, number: pr.number, branch: pr.headBranch, base: pr.baseBranch, draft: pr.draft, state: pr.state } : null;
  if (e.state !== 'pr_opened') finish(1, `pull request not opened: ${e.error?.code ?? ''} ${e.error?.message ?? ''}`.trim());
  finish(0);
} catch (err) {
  finish(1, err instanceof ApiError ? err.message : (err as Error).message);
}
