import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, lstat, mkdir, readdir, readFile, readlink, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { ChildEdits, ChildPlan } from '../../../test-support/checkpoint-child.js';
import { applyEdits } from '../../../test-support/checkpoint-child.js';
import { cleanupTempDirs, makeRepo, tempDir, type FileSpec } from '../../../test-support/spec-helpers.js';
import { commitChanges, readCommitAt } from '../commit.js';
import { git } from '../git.js';
import { ensureMirror, resolveBranch } from '../mirror.js';
import { ensureBaseSnapshot } from '../snapshot.js';
import { checkpointRef, checkpointWorkspace, deleteCheckpoint, restoreWorkspace } from './checkpoint.js';
import { copyDriver } from './copy-driver.js';
import { workspaceLayout, type Workspace } from './layout.js';
import { readWorkspaceRecord, updateWorkspaceRecord } from './metadata.js';
import { findMount } from './mountinfo.js';
import { overlayDriver } from './overlay-driver.js';
import type { WorkspaceDriver } from './types.js';

afterEach(cleanupTempDirs);

/** Files in the bulk part of the test repository (override for a bigger benchmark). */
const BULK_FILES = Number(process.env['CHECKPOINT_SPEC_FILES'] ?? 2000);
const REPO_ROOT = resolve(import.meta.dirname, '../../../../..');
const CHILD = join(REPO_ROOT, 'apps/git-gateway/test-support/checkpoint-child.ts');
const author = { name: 'Test', email: 'test@example.com' };

const timings: Array<{ case: string; driver: string; ms: number }> = [];
afterAll(() => {
  if (timings.length > 0) {
    console.log(`recovery timings (${BULK_FILES + 8}-file repository):\n${timings.map((t) => `  ${t.driver.padEnd(7)} ${t.case.padEnd(58)} ${t.ms.toFixed(1)} ms`).join('\n')}`);
  }
});

async function setup(bulk = BULK_FILES) {
  const files: Record<string, FileSpec> = {
    'package.json': '{"name":"app","v":1}\n',
    'README.md': 'readme\n',
    'scripts/run.sh': '#!/bin/sh\necho hi\n',
    'old/one.txt': '1\n',
    'old/deep/two.txt': '2\n',
    'docs/guide.md': 'guide\n',
    'tools/x.sh': 'x\n',
    conf: 'conf\n',
  };
  for (let i = 0; i < bulk; i++) files[`bulk/d${String(i % 50).padStart(2, '0')}/f${String(i).padStart(5, '0')}.txt`] = `file ${i}\n`;
  const src = await makeRepo(files);
  const dataRoot = await tempDir('gg-data-');
  const localRoot = await tempDir('gg-local-');
  const { mirrorPath, repoKey } = await ensureMirror({ dataRoot, repository: src });
  const { commit } = await resolveBranch({ mirrorPath });
  const lowerDir = await ensureBaseSnapshot({ dataRoot, repoKey, mirrorPath, commit });
  return { src, dataRoot, localRoot, mirrorPath, commit, lowerDir };
}

async function objectCount(mirrorPath: string): Promise<number> {
  const { stdout } = await git(['count-objects', '-v'], { gitDir: mirrorPath });
  const get = (k: string): number => Number(new RegExp(`^${k}: (\\d+)$`, 'm').exec(stdout)?.[1] ?? 0);
  return get('count') + get('in-pack');
}

/** Tree of "base + the workspace's changes as the driver reports them" (a scratch commit). */
async function treeOfWorkspace(mirrorPath: string, base: string, ws: Workspace, driver: WorkspaceDriver, ref: string): Promise<string> {
  const scan = await driver.changes(ws);
  if (scan.changes.length === 0) return (await git(['rev-parse', `${base}^{tree}`], { gitDir: mirrorPath })).stdout.trim();
  return (await commitChanges({ mirrorPath, baseCommit: base, mergedDir: ws.mergedDir, changes: scan.changes, ref, message: 'verify', author })).tree;
}

const RICH_EDITS: ChildEdits = {
  write: { 'package.json': '{"name":"app","v":2}\n', 'feature/new.txt': 'new\n', 'conf/a.txt': 'was a file\n', 'bulk/d07/f00007.txt': 'edited 7\n' },
  symlink: { 'latest': 'feature/new.txt' },
  remove: ['README.md', 'old', 'tools'],
  chmodX: ['scripts/run.sh'],
};

async function richEdit(m: string): Promise<void> {
  await unlink(join(m, 'conf')); // file → dir
  await applyEdits(m, RICH_EDITS);
  await writeFile(join(m, 'tools'), 'dir became a file\n'); // dir → file
  await execa('mv', [join(m, 'docs/guide.md'), join(m, 'docs/manual.md')]); // rename
}

describe('checkpointWorkspace', () => {
  it('checkpoint, edit more, checkpoint: the ref moves by compare-and-set, each costs O(changed files)', async () => {
    const { localRoot, mirrorPath, commit, lowerDir } = await setup();
    const ref = checkpointRef('rem_0123456789abcdef.patch.2');
    expect(ref).toBe('refs/remediations/rem_0123456789abcdef/patch.2/checkpoint');
    const ws = await overlayDriver.prepare({ localRoot, executionId: 'exec-k', lowerDir });
    const m = ws.mergedDir;

    await writeFile(join(m, 'package.json'), '{"name":"app","v":2}\n');
    await writeFile(join(m, 'new.txt'), 'new\n');
    let objects = await objectCount(mirrorPath);
    const cp1 = await checkpointWorkspace({ mirrorPath, baseCommit: commit, ws, driver: overlayDriver, ref, expectedOldSha: null });
    if (cp1.sha === null) throw new Error('expected a checkpoint');
    expect(cp1.previousSha).toBeNull();
    expect(cp1.changedPaths).toEqual(['new.txt', 'package.json']);
    expect((await readCommitAt(mirrorPath, ref))).toMatchObject({ sha: cp1.sha, parents: [commit] });
    // 2 blobs + root tree + commit: nothing proportional to the repository's ~2,000 files.
    expect((await objectCount(mirrorPath)) - objects).toBeLessThanOrEqual(4);
    timings.push({ case: 'checkpoint #1 (2 changed files)', driver: 'overlay', ms: cp1.durationMs });

    await unlink(join(m, 'README.md'));
    await chmod(join(m, 'scripts/run.sh'), 0o755);
    await writeFile(join(m, 'bulk/d05/f00105.txt'), 'edited\n');
    objects = await objectCount(mirrorPath);
    const cp2 = await checkpointWorkspace({ mirrorPath, baseCommit: commit, ws, driver: overlayDriver, ref, expectedOldSha: cp1.sha });
    if (cp2.sha === null) throw new Error('expected a checkpoint');
    expect(cp2.sha).not.toBe(cp1.sha);
    expect(cp2.previousSha).toBe(cp1.sha);
    expect(cp2.changedPaths).toEqual(['README.md', 'bulk/d05/f00105.txt', 'new.txt', 'package.json', 'scripts/run.sh']);
    expect((await readCommitAt(mirrorPath, ref))).toMatchObject({ sha: cp2.sha, parents: [commit] }); // parent is the base, not cp1
    // 1 blob + trees bulk/d05, bulk, scripts, root + commit (the exec bit reuses the blob).
    expect((await objectCount(mirrorPath)) - objects).toBeLessThanOrEqual(6);
    timings.push({ case: 'checkpoint #2 (5 changed files)', driver: 'overlay', ms: cp2.durationMs });
    const { stdout: message } = await git(['show', '-s', '--format=%B', cp2.sha], { gitDir: mirrorPath });
    expect(message).toMatch(/^Checkpoint-Instance: \S+$/m);

    // No edits since: same commit, nothing written.
    objects = await objectCount(mirrorPath);
    const again = await checkpointWorkspace({ mirrorPath, baseCommit: commit, ws, driver: overlayDriver, ref });
    expect(again).toMatchObject({ sha: cp2.sha, reused: true });
    expect(await objectCount(mirrorPath)).toBe(objects);

    // Compare-and-set against a stale or absent expectation.
    await expect(checkpointWorkspace({ mirrorPath, baseCommit: commit, ws, driver: overlayDriver, ref, expectedOldSha: cp1.sha })).rejects.toMatchObject({ code: 'REF_CONFLICT' });
    await expect(checkpointWorkspace({ mirrorPath, baseCommit: commit, ws, driver: overlayDriver, ref, expectedOldSha: null })).rejects.toMatchObject({ code: 'REF_CONFLICT' });
    expect((await readCommitAt(mirrorPath, ref))?.sha).toBe(cp2.sha);

    // Every edit reverted (overlay still has copied-up files): no checkpoint, ref deleted.
    await writeFile(join(m, 'package.json'), '{"name":"app","v":1}\n');
    await writeFile(join(m, 'README.md'), 'readme\n');
    await chmod(join(m, 'scripts/run.sh'), 0o644);
    await writeFile(join(m, 'bulk/d05/f00105.txt'), 'file 105\n');
    await unlink(join(m, 'new.txt'));
    expect((await overlayDriver.changes(ws)).changes.length).toBeGreaterThan(0);
    const cleared = await checkpointWorkspace({ mirrorPath, baseCommit: commit, ws, driver: overlayDriver, ref, expectedOldSha: cp2.sha });
    expect(cleared).toMatchObject({ sha: null, refDeleted: true, previousSha: cp2.sha });
    expect(await readCommitAt(mirrorPath, ref)).toBeNull();
    expect(await checkpointWorkspace({ mirrorPath, baseCommit: commit, ws, driver: overlayDriver, ref })).toMatchObject({ sha: null, refDeleted: false });

    // deleteCheckpoint (end of the execution): CAS, idempotent.
    await writeFile(join(m, 'new.txt'), 'again\n');
    const cp3 = await checkpointWorkspace({ mirrorPath, baseCommit: commit, ws, driver: overlayDriver, ref, expectedOldSha: null });
    await expect(deleteCheckpoint({ mirrorPath, ref, expectedOldSha: cp1.sha })).rejects.toMatchObject({ code: 'REF_CONFLICT' });
    expect(await deleteCheckpoint({ mirrorPath, ref })).toBe(cp3.sha);
    expect(await deleteCheckpoint({ mirrorPath, ref })).toBeNull();
    await overlayDriver.release(ws, { removeUpper: true });
  });

  it('leaves .git paths and fifos out and reports them', async () => {
    const { localRoot, mirrorPath, commit, lowerDir } = await setup(10);
    const ws = await copyDriver.prepare({ localRoot, executionId: 'exec-s', lowerDir });
    await mkdir(join(ws.mergedDir, 'sub/.git'), { recursive: true });
    await writeFile(join(ws.mergedDir, 'sub/.git/config'), 'x\n');
    await execa('mkfifo', [join(ws.mergedDir, 'pipe')]);
    await writeFile(join(ws.mergedDir, 'package.json'), '{}\n');
    const cp = await checkpointWorkspace({ mirrorPath, baseCommit: commit, ws, driver: copyDriver, ref: 'refs/remediations/r/patch.1/checkpoint' });
    expect(cp).toMatchObject({ changedPaths: ['package.json'], skipped: { forbidden: ['sub/.git'], unsupported: [{ path: 'pipe', type: 'fifo' }] } });
  });
});

describe('restoreWorkspace', () => {
  it.each([
    ['overlay', 'overlay'],
    ['overlay', 'copy'],
    ['copy', 'overlay'],
  ] as const)('rebuilds from base snapshot + checkpoint (%s → %s) so the workspace equals the checkpoint', async (fromName, toName) => {
    const from = fromName === 'copy' ? copyDriver : overlayDriver;
    const to = toName === 'copy' ? copyDriver : overlayDriver;
    const { localRoot, mirrorPath, commit, lowerDir } = await setup(200);
    const ref = 'refs/remediations/r/patch.1/checkpoint';

    // Nothing anywhere: an empty workspace.
    const empty = await restoreWorkspace({ localRoot, executionId: 'exec-e', lowerDir, mirrorPath, baseCommit: commit, ref, driver: to });
    expect(empty).toMatchObject({ restoredFrom: 'empty', checkpointSha: null, discarded: null });
    expect((await to.changes(empty.ws)).changes).toEqual([]);
    await to.release(empty.ws, { removeUpper: true });

    const ws = await from.prepare({ localRoot, executionId: 'exec-r', lowerDir });
    await richEdit(ws.mergedDir);
    const cp = await checkpointWorkspace({ mirrorPath, baseCommit: commit, ws, driver: from, ref });
    if (cp.sha === null) throw new Error('expected a checkpoint');
    const cpTree = (await readCommitAt(mirrorPath, ref))!.tree;
    await from.release(ws, { removeUpper: true }); // "another node": no local state

    const restored = await restoreWorkspace({ localRoot, executionId: 'exec-r', lowerDir, mirrorPath, baseCommit: commit, ref, driver: to });
    expect(restored).toMatchObject({ restoredFrom: 'checkpoint', checkpointSha: cp.sha, discarded: null });
    expect(restored.applied.written + restored.applied.deleted).toBe(cp.changedPaths.length);
    const m = restored.ws.mergedDir;
    expect(await readFile(join(m, 'package.json'), 'utf8')).toBe('{"name":"app","v":2}\n');
    expect(await readFile(join(m, 'conf/a.txt'), 'utf8')).toBe('was a file\n');
    expect(await readFile(join(m, 'tools'), 'utf8')).toBe('dir became a file\n');
    expect(await readFile(join(m, 'docs/manual.md'), 'utf8')).toBe('guide\n');
    expect(await readlink(join(m, 'latest'))).toBe('feature/new.txt');
    expect((await stat(join(m, 'scripts/run.sh'))).mode & 0o100).toBe(0o100);
    for (const gone of ['README.md', 'old', 'docs/guide.md']) expect(existsSync(join(m, gone))).toBe(false);
    expect(await treeOfWorkspace(mirrorPath, commit, restored.ws, to, 'refs/test/verify')).toBe(cpTree);
    expect(restored.ws.lowerDir).toBe(lowerDir);
    if (to === overlayDriver) expect((await findMount(m))?.fsType).toBe('overlay');
    await to.release(restored.ws, { removeUpper: true });
  });

  it('keeps an up-to-date local workspace, discards a stale or half-restored one, checks the base', async () => {
    const { dataRoot, localRoot, mirrorPath, commit, lowerDir } = await setup(50);
    const ref = 'refs/remediations/r/patch.3/checkpoint';
    const input = { localRoot, executionId: 'exec-n', lowerDir, mirrorPath, baseCommit: commit, ref, driver: overlayDriver };
    const first = await restoreWorkspace(input);
    expect(first.restoredFrom).toBe('empty');
    await writeFile(join(first.ws.mergedDir, 'a.txt'), 'a\n');
    const cp1 = await checkpointWorkspace({ mirrorPath, baseCommit: commit, ws: first.ws, driver: overlayDriver, ref });
    await writeFile(join(first.ws.mergedDir, 'b.txt'), 'b\n'); // not checkpointed
    await overlayDriver.release(first.ws, { removeUpper: false }); // process restart + unmount

    const same = await restoreWorkspace(input);
    expect(same).toMatchObject({ restoredFrom: 'existing', checkpointSha: cp1.sha, discarded: null });
    expect(existsSync(join(same.ws.mergedDir, 'b.txt'))).toBe(true);
    await overlayDriver.release(same.ws, { removeUpper: false });

    // Node 2 (its own local root) takes over from the checkpoint and checkpoints more.
    const localRoot2 = await tempDir('gg-local2-');
    const node2 = await restoreWorkspace({ ...input, localRoot: localRoot2 });
    expect(node2).toMatchObject({ restoredFrom: 'checkpoint', checkpointSha: cp1.sha });
    expect(existsSync(join(node2.ws.mergedDir, 'b.txt'))).toBe(false);
    await writeFile(join(node2.ws.mergedDir, 'c.txt'), 'c\n');
    const cp2 = await checkpointWorkspace({ mirrorPath, baseCommit: commit, ws: node2.ws, driver: overlayDriver, ref });
    await overlayDriver.release(node2.ws, { removeUpper: false });
    // Node 2's own restore resumes its workspace (it was restored from, then wrote, the ref).
    const node2again = await restoreWorkspace({ ...input, localRoot: localRoot2 });
    expect(node2again.restoredFrom).toBe('existing');
    await overlayDriver.release(node2again.ws, { removeUpper: false });

    // Back on node 1: its upper is older than the ref → rebuilt from cp2.
    const back = await restoreWorkspace(input);
    expect(back).toMatchObject({ restoredFrom: 'checkpoint', checkpointSha: cp2.sha, discarded: 'stale' });
    expect(existsSync(join(back.ws.mergedDir, 'c.txt'))).toBe(true);
    expect(existsSync(join(back.ws.mergedDir, 'b.txt'))).toBe(false);
    await overlayDriver.release(back.ws, { removeUpper: false });

    // A restore that died midway is redone.
    const wsDirN = workspaceLayout(localRoot, 'exec-n').dir;
    await updateWorkspaceRecord(wsDirN, { restorePending: { ref, sha: cp2.sha!, startedAt: new Date().toISOString(), pid: 1 } });
    const redone = await restoreWorkspace(input);
    expect(redone).toMatchObject({ restoredFrom: 'checkpoint', discarded: 'interrupted-restore' });
    expect((await readWorkspaceRecord(wsDirN))?.restorePending).toBeUndefined();
    await overlayDriver.release(redone.ws, { removeUpper: false });

    // The copy driver will not silently drop an overlay workspace's edits.
    await expect(restoreWorkspace({ ...input, driver: copyDriver })).rejects.toMatchObject({ code: 'WORKSPACE_DRIVER_MISMATCH' });
    // A checkpoint over another base is refused.
    await expect(restoreWorkspace({ ...input, baseCommit: cp1.sha! })).rejects.toMatchObject({ code: 'CHECKPOINT_BASE_MISMATCH' });
    expect(dataRoot).toBeTruthy();
  });
});

/** Runs the child until it reports `ready`, then SIGKILLs it. */
async function runChildAndKill(plan: ChildPlan): Promise<{ checkpoint: string; changedPaths: string[] }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(plan)], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<NodeJS.Signals | null>((r) => child.on('exit', (_code, signal) => r(signal)));
  const ready = await new Promise<{ event: string; checkpoint: string; changedPaths: string[]; message?: string }>((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`child not ready in 60 s: ${out} ${err}`)), 60_000);
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line !== undefined && out.includes('\n')) {
        clearTimeout(timer);
        resolvePromise(JSON.parse(line) as never);
      }
    });
    child.on('exit', () => reject(new Error(`child exited early: ${out} ${err}`)));
  });
  if (ready.event !== 'ready') throw new Error(`child failed: ${ready.message ?? out}`);
  child.kill('SIGKILL');
  expect(await exited).toBe('SIGKILL');
  return ready;
}

/** A `git` on PATH that logs every invocation, then runs the real git. */
async function gitSpy(): Promise<{ dir: string; log: string }> {
  const dir = await tempDir('gg-gitspy-');
  const log = join(dir, 'calls.log');
  const real = (await execa('sh', ['-c', 'command -v git'])).stdout.trim();
  await writeFile(join(dir, 'git'), `#!/bin/sh\nprintf '%s\\n' "$*" >> '${log}'\nexec '${real}' "$@"\n`);
  await chmod(join(dir, 'git'), 0o755);
  await writeFile(log, '');
  return { dir, log };
}

async function mirrorFingerprint(dataRoot: string, mirrorPath: string) {
  return {
    objects: await objectCount(mirrorPath),
    refs: (await git(['for-each-ref', '--format=%(refname) %(objectname)'], { gitDir: mirrorPath })).stdout,
    mirrorsDir: (await readdir(join(dataRoot, 'mirrors'))).sort(),
    mirrorMtime: (await stat(mirrorPath)).mtimeMs,
    objectsMtime: (await stat(join(mirrorPath, 'objects'))).mtimeMs,
    packs: (await readdir(join(mirrorPath, 'objects/pack'))).sort(),
  };
}

describe('kill -9 recovery', () => {
  it.each([['overlay'], ['copy']] as const)('%s: same node resumes every edit; a wiped local root gets exactly the checkpoint, without a clone', async (name) => {
    const driver = name === 'copy' ? copyDriver : overlayDriver;
    const { src, dataRoot, localRoot, mirrorPath, commit, lowerDir } = await setup();
    const executionId = 'rem_0123456789abcdef.patch.1';
    const ref = checkpointRef(executionId);
    const beforeCheckpoint: ChildEdits = {
      write: { 'package.json': '{"name":"app","v":2}\n', 'feature/new.txt': 'checkpointed\n', 'bulk/d03/f00003.txt': 'edited 3\n' },
      symlink: { latest: 'feature/new.txt' },
      remove: ['README.md', 'old'],
      chmodX: ['scripts/run.sh'],
    };
    const afterCheckpoint: ChildEdits = {
      write: { 'uncheckpointed.txt': 'lost on another node\n', 'package.json': '{"name":"app","v":3}\n' },
      remove: ['docs/guide.md'],
    };
    const plan: ChildPlan = { driver: name, localRoot, executionId, lowerDir, mirrorPath, baseCommit: commit, ref, beforeCheckpoint, afterCheckpoint };
    const { checkpoint } = await runChildAndKill(plan);
    expect((await readCommitAt(mirrorPath, ref))?.sha).toBe(checkpoint);
    const restoreInput = { localRoot, executionId, lowerDir, mirrorPath, baseCommit: commit, ref, driver };
    const wsDir = workspaceLayout(localRoot, executionId).dir;
    const lockHolder = JSON.parse(await readFile(`${wsDir}.lock`, 'utf8')) as { pid: number };
    expect(lockHolder.pid).not.toBe(process.pid); // the dead child's lock

    // (a) same node, process restarted: the workspace is resumed with ALL edits.
    if (name === 'overlay') expect((await findMount(join(wsDir, 'merged')))?.fsType).toBe('overlay'); // kill -9 leaves the mount
    const a = await restoreWorkspace(restoreInput);
    timings.push({ case: '(a) same node, right after kill -9 (overlay: mount left)', driver: name, ms: a.durationMs });
    expect(a).toMatchObject({ restoredFrom: 'existing', checkpointSha: checkpoint, discarded: null });
    const m = a.ws.mergedDir;
    expect(await readFile(join(m, 'uncheckpointed.txt'), 'utf8')).toBe('lost on another node\n');
    expect(await readFile(join(m, 'package.json'), 'utf8')).toBe('{"name":"app","v":3}\n');
    expect(existsSync(join(m, 'docs/guide.md'))).toBe(false);
    expect(await readFile(join(m, 'feature/new.txt'), 'utf8')).toBe('checkpointed\n');
    expect(existsSync(join(m, 'README.md'))).toBe(false);

    // (a') same node after a reboot: the mount is gone, the local upper/copy survived.
    await driver.release(a.ws, { removeUpper: false });
    const a2 = await restoreWorkspace(restoreInput);
    timings.push({ case: "(a') same node after reboot (unmounted; upper/copy kept)", driver: name, ms: a2.durationMs });
    expect(a2.restoredFrom).toBe('existing');
    expect(await readFile(join(a2.ws.mergedDir, 'uncheckpointed.txt'), 'utf8')).toBe('lost on another node\n');

    // (b) another node: local state wiped, remote gone; only mirror + base snapshot remain.
    await driver.release(a2.ws, { removeUpper: false });
    if ((await findMount(join(wsDir, 'merged'))) !== null) await execa('umount', [join(wsDir, 'merged')]);
    await rm(wsDir, { recursive: true, force: true });
    await rename(src, `${src}.gone`); // the "network remote" is unreachable
    const before = await mirrorFingerprint(dataRoot, mirrorPath);
    const spy = await gitSpy();
    const savedPath = process.env['PATH'];
    process.env['PATH'] = `${spy.dir}:${savedPath ?? ''}`;
    let b;
    try {
      b = await restoreWorkspace(restoreInput);
    } finally {
      process.env['PATH'] = savedPath;
    }
    timings.push({ case: '(b) wiped local root (another node), from checkpoint', driver: name, ms: b.durationMs });
    expect(b).toMatchObject({ restoredFrom: 'checkpoint', checkpointSha: checkpoint, discarded: null });
    const calls = (await readFile(spy.log, 'utf8')).split('\n').filter((l) => l.length > 0);
    expect(calls.some((c) => /\bdiff-tree\b/.test(c))).toBe(true); // the spy did see restore's git calls
    expect(calls.filter((c) => /\b(clone|fetch|ls-remote|remote|pull)\b/.test(c))).toEqual([]);
    expect(await mirrorFingerprint(dataRoot, mirrorPath)).toEqual(before);

    const mb = b.ws.mergedDir;
    expect(existsSync(join(mb, 'uncheckpointed.txt'))).toBe(false); // uncheckpointed edits are lost
    expect(await readFile(join(mb, 'package.json'), 'utf8')).toBe('{"name":"app","v":2}\n');
    expect(await readFile(join(mb, 'docs/guide.md'), 'utf8')).toBe('guide\n');
    expect(await readFile(join(mb, 'feature/new.txt'), 'utf8')).toBe('checkpointed\n'); // checkpointed ones are back
    expect(await readFile(join(mb, 'bulk/d03/f00003.txt'), 'utf8')).toBe('edited 3\n');
    expect((await lstat(join(mb, 'latest'))).isSymbolicLink()).toBe(true);
    expect((await stat(join(mb, 'scripts/run.sh'))).mode & 0o100).toBe(0o100);
    expect(existsSync(join(mb, 'README.md'))).toBe(false);
    expect(existsSync(join(mb, 'old'))).toBe(false);
    const cpTree = (await readCommitAt(mirrorPath, ref))!.tree;
    expect(await treeOfWorkspace(mirrorPath, commit, b.ws, driver, 'refs/test/verify')).toBe(cpTree);
    await driver.release(b.ws, { removeUpper: true });
  });
});
