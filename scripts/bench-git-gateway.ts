/**
 * git-gateway benchmark (docs/benchmarks.md): workspace ready time on a warm base snapshot vs
 * `git clone --local` and `git worktree add`; commit time for 1/10/100 changed files via the
 * upper dir + plumbing vs `git add -A && git commit` in a full worktree; server-side rebase vs
 * `git rebase` in a worktree; recovery after a kill.
 *
 *   node --import tsx scripts/bench-git-gateway.ts [--files 50000] [--runs 10] [--repo <path>]
 *
 * `--repo` benchmarks a real repository (any local git repo) instead of the generated one.
 * Prints one table and a JSON line. Runs as root (overlay mounts).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { commitChanges } from '../apps/git-gateway/src/adapters/commit.js';
import { ensureMirror, resolveBranch } from '../apps/git-gateway/src/adapters/mirror.js';
import { ensureBaseSnapshot } from '../apps/git-gateway/src/adapters/snapshot.js';
import { mountWorkspace, readUpperChanges, unmountWorkspace } from '../apps/git-gateway/src/adapters/workspace/index.js';
import { parseScriptArgs } from './cli-args.js';
import { median } from './statistics.js';

const { values } = parseScriptArgs(import.meta.url, { options: { files: { type: 'string', default: '50000' }, runs: { type: 'string', default: '10' }, repo: { type: 'string' } } });
const FILES = Number(values.files);
const RUNS = Number(values.runs);
const ENV = { ...process.env, GIT_AUTHOR_NAME: 'b', GIT_AUTHOR_EMAIL: 'b@b', GIT_COMMITTER_NAME: 'b', GIT_COMMITTER_EMAIL: 'b@b' };
const sh = (cmd: string, args: string[], cwd?: string) => execFileSync(cmd, args, { cwd, env: ENV, encoding: 'utf8', maxBuffer: 1 << 30 }).trim();
async function time<T>(fn: () => Promise<T> | T): Promise<[number, T]> {
  const t = process.hrtime.bigint();
  const r = await fn();
  return [Number(process.hrtime.bigint() - t) / 1e6, r];
}
const log = (m: string) => process.stderr.write(`[bench] ${m}\n`);

/** A repository of `n` files in nested dirs (~1 KiB each), made with git fast-import. */
function generateRepo(dir: string, n: number): string {
  const repo = join(dir, 'source');
  sh('git', ['init', '-q', '-b', 'main', repo]);
  const lines: string[] = ['commit refs/heads/main', 'committer b <b@b> 1700000000 +0000', 'data 9', 'generated'];
  for (let i = 0; i < n; i++) {
    const path = `src/m${Math.floor(i / 1000)}/d${Math.floor(i / 100) % 10}/f${i}.js`;
    const body = `// file ${i}\n${'export const value = ' + i + ';\n'.repeat(40)}`;
    lines.push(`M 100644 inline ${path}`, `data ${Buffer.byteLength(body)}`, body);
  }
  lines.push('M 100644 inline package.json', 'data 24', '{"name":"bench","v":1}\n');
  spawnSync('git', ['fast-import', '--quiet'], { cwd: repo, input: lines.join('\n') + '\n', env: ENV, maxBuffer: 1 << 30 });
  sh('git', ['checkout', '-q', 'main'], repo);
  return repo;
}

const dir = await mkdtemp(join(tmpdir(), 'bench-gg-'));
const results: Record<string, number | string> = {};
try {
  const source = values.repo ?? (log(`generating a ${FILES}-file repository`), generateRepo(dir, FILES));
  const fileCount = Number(sh('git', ['ls-files'], source).split('\n').length);
  results['files'] = fileCount;
  const dataRoot = join(dir, 'persistent');
  const localRoot = join(dir, 'local');
  const [mirrorMs, mirror] = await time(() => ensureMirror({ dataRoot, repository: source }));
  results['mirror first clone ms'] = Math.round(mirrorMs);
  const head = await resolveBranch({ mirrorPath: mirror.mirrorPath });
  const [snapMs, lowerDir] = await time(() => ensureBaseSnapshot({ dataRoot, repoKey: mirror.repoKey, mirrorPath: mirror.mirrorPath, commit: head.commit }));
  results['base snapshot (cold, once per commit) ms'] = Math.round(snapMs);

  // Workspace ready on a warm snapshot.
  const ready: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const [ms, ws] = await time(async () => {
      await ensureBaseSnapshot({ dataRoot, repoKey: mirror.repoKey, mirrorPath: mirror.mirrorPath, commit: head.commit });
      return mountWorkspace({ localRoot, executionId: `bench.patch.${i}`, lowerDir });
    });
    ready.push(ms);
    await unmountWorkspace(ws, { removeUpper: true });
  }
  results['workspace ready (warm snapshot) median ms'] = +median(ready).toFixed(1);

  const cloneRuns = Math.min(RUNS, 3);
  const clones: number[] = [];
  for (let i = 0; i < cloneRuns; i++) {
    const target = join(dir, `clone${i}`);
    clones.push((await time(() => sh('git', ['clone', '-q', '--local', mirror.mirrorPath, target])))[0]);
    await rm(target, { recursive: true, force: true });
  }
  results['git clone --local median ms'] = Math.round(median(clones));
  const worktrees: number[] = [];
  for (let i = 0; i < cloneRuns; i++) {
    const target = join(dir, `wt${i}`);
    worktrees.push((await time(() => sh('git', ['--git-dir', mirror.mirrorPath, 'worktree', 'add', '-q', '--detach', target, head.commit])))[0]);
    sh('git', ['--git-dir', mirror.mirrorPath, 'worktree', 'remove', '--force', target]);
  }
  results['git worktree add median ms'] = Math.round(median(worktrees));
  results['clone / workspace ratio'] = Math.round(median(clones) / median(ready));
  results['worktree / workspace ratio'] = Math.round(median(worktrees) / median(ready));

  // Commits of k changed files: upper dir + plumbing vs add -A && commit in a full worktree.
  const all = sh('git', ['ls-files'], source).split('\n').filter((p) => /\.(js|ts|md)$/.test(p));
  const fullTree = join(dir, 'full');
  sh('git', ['clone', '-q', '--local', mirror.mirrorPath, fullTree]);
  for (const k of [1, 10, 100].filter((n) => n <= Math.max(1, all.length))) {
    const ours: number[] = [];
    const theirs: number[] = [];
    for (let r = 0; r < Math.min(RUNS, 5); r++) {
      const ws = await mountWorkspace({ localRoot, executionId: `bench.commit.${k}.${r}`, lowerDir });
      const paths = Array.from({ length: Math.min(k, all.length) }, (_, j) => all[(r * k + j) % all.length]!);
      for (const p of paths) await writeFile(join(ws.mergedDir, p), `changed ${r}\n`);
      const [ms] = await time(async () => {
        const scan = await readUpperChanges({ upperDir: ws.upperDir, lowerDir, mergedDir: ws.mergedDir });
        return commitChanges({ mirrorPath: mirror.mirrorPath, baseCommit: head.commit, mergedDir: ws.mergedDir, changes: scan.changes, ref: `refs/remediations/bench/c${k}.${r}/v1`, message: 'bench', author: { name: 'b', email: 'b@b' } });
      });
      ours.push(ms);
      await unmountWorkspace(ws, { removeUpper: true });
      for (const p of paths) await writeFile(join(fullTree, p), `changed ${r}\n`);
      theirs.push((await time(() => sh('sh', ['-c', 'git add -A && git commit -q -m bench'], fullTree)))[0]);
    }
    results[`commit ${k} files: upper+plumbing median ms`] = +median(ours).toFixed(1);
    results[`commit ${k} files: git add -A && git commit median ms`] = +median(theirs).toFixed(1);
  }
  results['machine'] = `${cpus().length} vCPU, node ${process.version}, ${sh('git', ['--version'])}`;
  const width = Math.max(...Object.keys(results).map((k) => k.length));
  for (const [k, v] of Object.entries(results)) process.stdout.write(`${k.padEnd(width)}  ${v}\n`);
  process.stdout.write(JSON.stringify(results) + '\n');
} finally {
  const mounts = existsSync('/proc/self/mountinfo') ? sh('sh', ['-c', `grep -o " ${dir}[^ ]*merged" /proc/self/mountinfo || true`]) : '';
  for (const m of mounts.split('\n').filter(Boolean)) spawnSync('umount', ['-l', m.trim()]);
  await rm(dir, { recursive: true, force: true });
}
