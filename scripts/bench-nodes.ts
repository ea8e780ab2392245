/**
 * Worker-node benchmark (issue 17, docs/decisions/0021, docs/benchmarks.md "Worker nodes"):
 *
 * 1. Takeover time: two worker nodes (`git-gateway@a` + `patcher@a`, `…@b`; own `NODE_ID` and
 *    `LOCAL_ROOT`, one `DATA_ROOT`) with `NODE_LEASE_MS` 3000 and `ACK_WAIT_MS` 2000; `--executions`
 *    executions whose workspaces node A holds, each mid-`patch.commit` (A's git-gateway holds them
 *    with `FAULT_INJECT=…=hold`; at most 4, the commands a consumer takes at once); every process of node A is SIGKILLed and its local root wiped;
 *    takeover = node killed → the step's attempt claimed on node B (`step_attempts.started_at`),
 *    per execution. Target ≤ 5 s.
 * 2. Workspace-ready latency: `--workspaces` overlay workspaces mounted at once on one warm base
 *    snapshot (the path of `workspace.prepare` and of a takeover's rebuild) vs one at a time.
 *    Target: median under load ≤ 2 × a single mount.
 *
 *   node --import tsx scripts/bench-nodes.ts [--executions 4] [--workspaces 100] [--files 5000] [--runs 10] [--skip-takeover]
 *
 * `--skip-takeover` measures only part 2 (no stack started; for before/after runs of the mount path).
 *
 * Prints a table and a JSON line. Runs as root (overlay mounts), against the PostgreSQL and
 * nats-server binaries the tests use.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { unmountUnder } from '@remediation/stack';
import { ensureMirror, resolveBranch } from '../apps/git-gateway/src/adapters/mirror.js';
import { ensureBaseSnapshot } from '../apps/git-gateway/src/adapters/snapshot.js';
import { mountWorkspace, unmountWorkspace } from '../apps/git-gateway/src/adapters/workspace/index.js';
import { startTestEnvironment } from '../test/support/environment.js';
import { waitSettled } from '../test/support/flows.js';
import { executionsOnNode, firstAttemptsAfter, midStep, until } from '../test/support/nodes.js';
import { parseScriptArgs } from './cli-args.js';
import { median } from './statistics.js';

const { values } = parseScriptArgs(import.meta.url, {
  options: {
    executions: { type: 'string', default: '4' },
    workspaces: { type: 'string', default: '100' },
    files: { type: 'string', default: '5000' },
    runs: { type: 'string', default: '10' },
    'skip-takeover': { type: 'boolean', default: false },
  },
});
const log = (m: string) => process.stderr.write(`[bench-nodes] ${m}\n`);
const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;
const results: Record<string, number | string> = { 'load average (1 min) at start': loadavg()[0]!.toFixed(2) };

/** Takeover: node A killed with its executions mid-commit; ms until each step runs again on node B. */
async function takeover(count: number): Promise<void> {
  if (count < 1 || count > 4) throw new Error(`--executions must be 1 to 4 (node A's git-gateway holds 4 commits at once), not ${count}`);
  const env = await startTestEnvironment('bench-nodes', { ACK_WAIT_MS: '2000', MAX_DELIVER: '5', NODE_LEASE_MS: '3000', RECONCILE_STALE_MS: '300000' }, { nodes: ['a', 'b'] });
  try {
    await env.stack.restart('git-gateway@a', { FAULT_INJECT: 'before-handle@patch.commit=hold:600000' });
    const ids = await executionsOnNode(env, 'a', ['b'], count);
    await until('node A mid-commit', async () => (await midStep(env, ids, 'committing')).size === ids.length, 180_000);
    const killedAt = new Date();
    await env.stack.killNode('a');
    await unmountUnder(env.stack.localRoot('a'));
    await rm(env.stack.localRoot('a'), { recursive: true, force: true });
    for (const id of ids) {
      const done = await waitSettled(env, id, 180_000);
      if (done.state !== 'patch_generated') throw new Error(`${id} ended ${done.state}: ${JSON.stringify(done.error)}`);
    }
    const again = (await firstAttemptsAfter(env, ids, killedAt)).map((r) => new Date(r.started_at).getTime() - killedAt.getTime());
    if (again.length !== ids.length) throw new Error(`${ids.length - again.length} executions never ran again after the kill`);
    results['takeover executions'] = ids.length;
    results['takeover (node killed → step running on B) min ms'] = Math.min(...again);
    results['takeover median ms'] = median(again);
    results['takeover max ms'] = Math.max(...again);
  } finally {
    await env.close();
  }
}

/** A repository of `n` small files, made with git fast-import. */
function generateRepo(dir: string, n: number): string {
  const env = { ...process.env, GIT_AUTHOR_NAME: 'b', GIT_AUTHOR_EMAIL: 'b@b', GIT_COMMITTER_NAME: 'b', GIT_COMMITTER_EMAIL: 'b@b' };
  const repo = join(dir, 'source');
  execFileSync('git', ['init', '-q', '-b', 'main', repo], { env });
  const lines = ['commit refs/heads/main', 'committer b <b@b> 1700000000 +0000', 'data 9', 'generated'];
  for (let i = 0; i < n; i++) {
    const body = `// file ${i}\nexport const value = ${i};\n`;
    lines.push(`M 100644 inline src/d${Math.floor(i / 100)}/f${i}.js`, `data ${Buffer.byteLength(body)}`, body);
  }
  spawnSync('git', ['fast-import', '--quiet'], { cwd: repo, input: lines.join('\n') + '\n', env, maxBuffer: 1 << 30 });
  return repo;
}

/** Workspace-ready latency: `concurrent` overlay workspaces at once vs one at a time (`runs`). */
async function workspaces(concurrent: number, files: number, runs: number): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-nodes-ws-'));
  try {
    const dataRoot = join(dir, 'persistent');
    const localRoot = join(dir, 'local');
    const mirror = await ensureMirror({ dataRoot, repository: generateRepo(dir, files) });
    const head = await resolveBranch({ mirrorPath: mirror.mirrorPath });
    const ready = async (executionId: string) => {
      const t = performance.now();
      const lowerDir = await ensureBaseSnapshot({ dataRoot, repoKey: mirror.repoKey, mirrorPath: mirror.mirrorPath, commit: head.commit });
      const ws = await mountWorkspace({ localRoot, executionId, lowerDir });
      return { ms: performance.now() - t, ws };
    };
    await ready('bench.warm.1').then(({ ws }) => unmountWorkspace(ws, { removeUpper: true })); // the snapshot is extracted once
    const single: number[] = [];
    for (let i = 0; i < runs; i++) {
      const { ms, ws } = await ready(`bench.single.${i}`);
      single.push(ms);
      await unmountWorkspace(ws, { removeUpper: true });
    }
    const made = await Promise.all(Array.from({ length: concurrent }, (_, i) => ready(`bench.concurrent.${i}`)));
    const under = made.map((m) => m.ms);
    for (const m of made) await unmountWorkspace(m.ws, { removeUpper: true });
    results['workspace files'] = files;
    results['workspace ready, one at a time, median ms'] = +median(single).toFixed(1);
    results[`workspace ready, ${concurrent} at once, median ms`] = +median(under).toFixed(1);
    results[`workspace ready, ${concurrent} at once, p95 ms`] = +quantile(under, 0.95).toFixed(1);
    results[`workspace ready, ${concurrent} at once, max ms`] = +Math.max(...under).toFixed(1);
    results['concurrent median / single median'] = +(median(under) / median(single)).toFixed(2);
  } finally {
    await unmountUnder(dir);
    await rm(dir, { recursive: true, force: true });
  }
}

log(`workspace-ready latency: ${values.workspaces} at once vs one (${values.files} files)`);
await workspaces(Number(values.workspaces), Number(values.files), Number(values.runs));
log(`workspace-ready figures: ${JSON.stringify(results)}`);
if (values['skip-takeover'] !== true) {
  log(`takeover: ${values.executions} executions on node A, node A killed`);
  await takeover(Number(values.executions));
}
results['load average (1 min) at end'] = loadavg()[0]!.toFixed(2);
const width = Math.max(...Object.keys(results).map((k) => k.length));
for (const [k, v] of Object.entries(results)) process.stdout.write(`${k.padEnd(width)}  ${v}\n`);
process.stdout.write(JSON.stringify(results) + '\n');
