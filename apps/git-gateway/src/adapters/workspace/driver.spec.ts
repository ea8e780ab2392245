import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, lstat, mkdir, readFile, readlink, rm, stat, symlink, unlink, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanupTempDirs, makeRepo, tempDir } from '../../../test-support/spec-helpers.js';
import { commitChanges } from '../commit.js';
import { processStartTime } from '../lock-file.js';
import { ensureMirror, resolveBranch } from '../mirror.js';
import { ensureBaseSnapshot } from '../snapshot.js';
import { copyDriver } from './copy-driver.js';
import { selectDriver, type DriverLogger } from './driver.js';
import type { Workspace } from './layout.js';
import { findMount } from './mountinfo.js';
import { overlayDriver } from './overlay-driver.js';
import { WorkspaceUnavailableError } from './overlay-support.js';
import type { WorkspaceDriver } from './types.js';
import type { UpperChange } from './upper-changes.js';

afterEach(cleanupTempDirs);

const author = { name: 'Remediation Bot', email: 'bot@example.com' };
const date = new Date('2024-05-01T12:00:00Z');

/** A mirror + base snapshot of a small repository with every kind of entry. */
async function setup() {
  const src = await makeRepo({
    'package.json': '{"name":"app","v":1}\n',
    'README.md': 'readme\n',
    'scripts/run.sh': '#!/bin/sh\necho hi\n',
    'old/one.txt': '1\n',
    'old/two.txt': '2\n',
    'old/deep/three.txt': '3\n',
    link: { symlink: 'README.md' },
    'docs/guide.md': 'guide\n',
    'lib/a.js': 'a\n',
    'lib/sub/b.js': 'b\n',
    conf: 'conf file\n',
    'tools/x.sh': 'x\n',
    'tools/y.sh': 'y\n',
    'same-size.txt': 'AAAA\n',
    'keep.txt': 'keep\n',
  });
  const dataRoot = await tempDir('gg-data-');
  const localRoot = await tempDir('gg-local-');
  const { mirrorPath, repoKey } = await ensureMirror({ dataRoot, repository: src });
  const { commit } = await resolveBranch({ mirrorPath });
  const lowerDir = await ensureBaseSnapshot({ dataRoot, repoKey, mirrorPath, commit });
  return { mirrorPath, commit, lowerDir, localRoot };
}

/** The same edits, applied through a workspace's merged view (add, modify, delete, rename, …). */
async function edit(m: string, lowerDir: string): Promise<void> {
  await writeFile(join(m, 'package.json'), '{"name":"app","v":2}\n'); // modify
  await mkdir(join(m, 'new/nested'), { recursive: true });
  await writeFile(join(m, 'new/nested/file.txt'), 'n\n'); // add in a new dir
  await unlink(join(m, 'README.md')); // delete
  await rm(join(m, 'old'), { recursive: true }); // delete a dir (with a subdir)
  await symlink('new/nested', join(m, 'dirlink')); // new symlink
  await unlink(join(m, 'link'));
  await symlink('package.json', join(m, 'link')); // retarget a symlink
  await chmod(join(m, 'scripts/run.sh'), 0o755); // chmod +x
  await execa('mv', [join(m, 'docs/guide.md'), join(m, 'docs/manual.md')]); // rename a file
  await execa('mv', [join(m, 'lib'), join(m, 'src')]); // rename a dir (EXDEV → copy under overlay)
  await unlink(join(m, 'conf'));
  await mkdir(join(m, 'conf'));
  await writeFile(join(m, 'conf/a.txt'), 'c\n'); // file → dir
  await rm(join(m, 'tools'), { recursive: true });
  await writeFile(join(m, 'tools'), 'now a file\n'); // dir → file
  // Same size, mtime set back to the lower's: only ctime (and the bytes) tell.
  const lowerStat = await stat(join(lowerDir, 'same-size.txt'));
  await writeFile(join(m, 'same-size.txt'), 'BBBB\n');
  await utimes(join(m, 'same-size.txt'), lowerStat.atime, lowerStat.mtime);
  await execa('mkfifo', [join(m, 'pipe')]); // unsupported
  await mkdir(join(m, 'vendor/.git'), { recursive: true });
  await writeFile(join(m, 'vendor/.git/config'), '[core]\n'); // forbidden
}

const W = (path: string, mode: UpperChange['mode'] = '100644'): UpperChange => ({ path, kind: 'write', mode });
const D = (path: string): UpperChange => ({ path, kind: 'delete' });
const byPath = (a: UpperChange, b: UpperChange): number => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);

const EXPECTED: UpperChange[] = [
  D('README.md'),
  D('conf'),
  W('conf/a.txt'),
  W('dirlink', '120000'),
  D('docs/guide.md'),
  W('docs/manual.md'),
  D('lib/a.js'),
  D('lib/sub/b.js'),
  W('link', '120000'),
  W('new/nested/file.txt'),
  D('old/deep/three.txt'),
  D('old/one.txt'),
  D('old/two.txt'),
  W('package.json'),
  W('same-size.txt'),
  W('scripts/run.sh', '100755'),
  W('src/a.js'),
  W('src/sub/b.js'),
  W('tools'),
  D('tools/x.sh'),
  D('tools/y.sh'),
].sort(byPath);

/** A pino logger writing JSON lines into an array (a real DriverLogger). */
function captureLogger(): { logger: DriverLogger; lines: Array<{ level: number; msg: string; driver?: string; reason?: string }> } {
  const lines: Array<{ level: number; msg: string; driver?: string; reason?: string }> = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as (typeof lines)[number]) });
  return { logger, lines };
}

describe('copy driver vs overlay driver', () => {
  it('report the same changes for the same edits and commit the same tree', async () => {
    const { mirrorPath, commit, lowerDir, localRoot } = await setup();
    const wsO = await overlayDriver.prepare({ localRoot, executionId: 'exec-o', lowerDir });
    const wsC = await copyDriver.prepare({ localRoot, executionId: 'exec-c', lowerDir });
    expect(await overlayDriver.isReady(wsO)).toBe(true);
    expect(await copyDriver.isReady(wsC)).toBe(true);
    expect((await findMount(wsC.mergedDir))).toBeNull();
    expect(existsSync(wsC.upperDir)).toBe(false);

    // Unchanged workspaces have no changes.
    expect((await overlayDriver.changes(wsO)).changes).toEqual([]);
    expect((await copyDriver.changes(wsC)).changes).toEqual([]);

    await edit(wsO.mergedDir, lowerDir);
    await edit(wsC.mergedDir, lowerDir);
    const [scanO, scanC] = [await overlayDriver.changes(wsO), await copyDriver.changes(wsC)];
    expect(scanO.changes).toEqual(EXPECTED);
    expect(scanC).toEqual(scanO);
    expect(scanC.forbidden).toEqual(['vendor/.git']);
    expect(scanC.unsupported).toEqual([{ path: 'pipe', type: 'fifo' }]);

    // commitChanges works unchanged on both: identical commits (same tree, parent, date).
    const commitOf = (ws: Workspace, changes: UpperChange[], ref: string) =>
      commitChanges({ mirrorPath, baseCommit: commit, mergedDir: ws.mergedDir, changes, ref, message: 'same', author, date });
    const cO = await commitOf(wsO, scanO.changes, 'refs/test/overlay');
    const cC = await commitOf(wsC, scanC.changes, 'refs/test/copy');
    expect(cC.tree).toBe(cO.tree);
    expect(cC.sha).toBe(cO.sha);

    await overlayDriver.release(wsO, { removeUpper: true });
    await copyDriver.release(wsC, { removeUpper: true });
    expect(existsSync(join(localRoot, 'workspaces/exec-o'))).toBe(false);
    expect(existsSync(join(localRoot, 'workspaces/exec-c'))).toBe(false);
    expect(existsSync(join(localRoot, 'workspaces/exec-c.lock'))).toBe(false);
  });

  it('copy: ignores a touch without content change; sees same-size edits with old mtimes', async () => {
    const { lowerDir, localRoot } = await setup();
    const ws = await copyDriver.prepare({ localRoot, executionId: 'exec-t', lowerDir });
    await utimes(join(ws.mergedDir, 'keep.txt'), new Date(), new Date());
    await chmod(join(ws.mergedDir, 'package.json'), 0o664); // not a git mode change
    expect((await copyDriver.changes(ws)).changes).toEqual([]);
    const lowerStat = await stat(join(lowerDir, 'keep.txt'));
    await writeFile(join(ws.mergedDir, 'keep.txt'), 'KEEP\n');
    await utimes(join(ws.mergedDir, 'keep.txt'), lowerStat.atime, lowerStat.mtime);
    expect((await copyDriver.changes(ws)).changes).toEqual([W('keep.txt')]);
    await copyDriver.release(ws, { removeUpper: true });
  });

  it('copy: keeps symlinks, exec bits and mtimes of the lower in the copy', async () => {
    const { lowerDir, localRoot } = await setup();
    await chmod(join(lowerDir, 'scripts/run.sh'), 0o755);
    const ws = await copyDriver.prepare({ localRoot, executionId: 'exec-m', lowerDir });
    expect((await lstat(join(ws.mergedDir, 'link'))).isSymbolicLink()).toBe(true);
    expect((await stat(join(ws.mergedDir, 'scripts/run.sh'))).mode & 0o777).toBe(0o755);
    expect((await stat(join(ws.mergedDir, 'docs/guide.md'), { bigint: true })).mtimeNs).toBe((await stat(join(lowerDir, 'docs/guide.md'), { bigint: true })).mtimeNs);
    expect((await copyDriver.changes(ws)).changes).toEqual([]);
    await chmod(join(lowerDir, 'scripts/run.sh'), 0o644);
    await copyDriver.release(ws, { removeUpper: true });
  });
});

describe('copy driver lifecycle', () => {
  it('copies with Node (symlinks, modes kept) where cp is missing', async () => {
    const { lowerDir, localRoot } = await setup();
    await chmod(join(lowerDir, 'scripts/run.sh'), 0o755);
    const savedPath = process.env['PATH'];
    process.env['PATH'] = await tempDir('gg-nopath-');
    let ws: Workspace;
    try {
      ws = await copyDriver.prepare({ localRoot, executionId: 'exec-n', lowerDir });
    } finally {
      process.env['PATH'] = savedPath;
      await chmod(join(lowerDir, 'scripts/run.sh'), 0o644);
    }
    expect(await readlink(join(ws.mergedDir, 'link'))).toBe('README.md');
    expect((await stat(join(ws.mergedDir, 'scripts/run.sh'))).mode & 0o777).toBe(0o755);
    await chmod(join(ws.mergedDir, 'scripts/run.sh'), 0o644);
    expect((await copyDriver.changes(ws)).changes).toEqual([]);
    await writeFile(join(ws.mergedDir, 'keep.txt'), 'KEEP\n');
    expect((await copyDriver.changes(ws)).changes).toEqual([W('keep.txt')]);
    await copyDriver.release(ws, { removeUpper: true });
    await copyDriver.release(ws, { removeUpper: true }); // idempotent
  });

  it('resumes a complete copy, redoes an interrupted one, locks the execution', async () => {
    const { lowerDir, localRoot } = await setup();
    const input = { localRoot, executionId: 'exec-l', lowerDir };
    expect(await copyDriver.exists(input)).toBe(false);
    const [ws, again] = await Promise.all([copyDriver.prepare(input), copyDriver.prepare(input)]);
    expect(again).toEqual(ws);
    expect(ws).toEqual({
      executionId: 'exec-l',
      lowerDir,
      upperDir: join(localRoot, 'workspaces/exec-l/upper'),
      workDir: join(localRoot, 'workspaces/exec-l/work'),
      mergedDir: join(localRoot, 'workspaces/exec-l/merged'),
    });
    const lock = JSON.parse(await readFile(join(localRoot, 'workspaces/exec-l.lock'), 'utf8')) as { pid: number };
    expect(lock.pid).toBe(process.pid);
    await writeFile(join(ws.mergedDir, 'package.json'), 'edited\n');

    // Process restart: keep the copy, resume it with the edit.
    await copyDriver.release(ws, { removeUpper: false });
    expect(existsSync(join(localRoot, 'workspaces/exec-l.lock'))).toBe(false);
    expect(await copyDriver.exists(input)).toBe(true);
    const back = await copyDriver.prepare(input);
    expect(await readFile(join(back.mergedDir, 'package.json'), 'utf8')).toBe('edited\n');
    expect((await copyDriver.changes(back)).changes).toEqual([W('package.json')]);
    await copyDriver.release(back, { removeUpper: false });

    // A copy interrupted before its completion was recorded (workspace.json) is redone from the lower.
    await rm(join(localRoot, 'workspaces/exec-l/workspace.json'));
    expect(await copyDriver.exists(input)).toBe(false);
    expect(await copyDriver.isReady(back)).toBe(false);
    await expect(copyDriver.changes(back)).rejects.toMatchObject({ code: 'WORKSPACE_NOT_READY' });
    const redone = await copyDriver.prepare(input);
    expect(await readFile(join(redone.mergedDir, 'package.json'), 'utf8')).toBe('{"name":"app","v":1}\n');
    await copyDriver.release(redone, { removeUpper: false });

    // Another live process holds the execution.
    const live = spawn('sleep', ['30']);
    try {
      await new Promise((r) => setTimeout(r, 50));
      await writeFile(join(localRoot, 'workspaces/exec-l.lock'), JSON.stringify({ pid: live.pid, startTime: processStartTime(live.pid!), host: hostname(), token: 'x', acquiredAt: '' }));
      await expect(copyDriver.prepare(input)).rejects.toMatchObject({ code: 'WORKSPACE_LOCKED', retryable: true });
    } finally {
      live.kill();
    }
    await new Promise((r) => setTimeout(r, 50));
    const last = await copyDriver.prepare(input); // dead holder: lock taken over
    await copyDriver.release(last, { removeUpper: true });
    expect(existsSync(join(localRoot, 'workspaces/exec-l'))).toBe(false);
  });

  it('refuses to resume a workspace made by the other driver; overlay refuses to read an unmounted workspace', async () => {
    const { lowerDir, localRoot } = await setup();
    const wsO = await overlayDriver.prepare({ localRoot, executionId: 'exec-x', lowerDir });
    await expect(copyDriver.prepare({ localRoot, executionId: 'exec-x', lowerDir })).rejects.toMatchObject({ code: 'WORKSPACE_DRIVER_MISMATCH' });
    await overlayDriver.release(wsO, { removeUpper: false });
    expect(await overlayDriver.exists({ localRoot, executionId: 'exec-x' })).toBe(true);
    expect(await overlayDriver.isReady(wsO)).toBe(false);
    await expect(overlayDriver.changes(wsO)).rejects.toMatchObject({ code: 'WORKSPACE_NOT_READY' });

    const wsC = await copyDriver.prepare({ localRoot, executionId: 'exec-y', lowerDir });
    await copyDriver.release(wsC, { removeUpper: false });
    await expect(overlayDriver.prepare({ localRoot, executionId: 'exec-y', lowerDir })).rejects.toMatchObject({ code: 'WORKSPACE_DRIVER_MISMATCH' });
    expect(await overlayDriver.exists({ localRoot, executionId: 'exec-y' })).toBe(false);
    expect(await copyDriver.exists({ localRoot, executionId: 'exec-x' })).toBe(false);
  });
});

describe('selectDriver', () => {
  it('uses overlay where the probe mount works, logging one line', async () => {
    const localRoot = await tempDir('gg-local-');
    const { logger, lines } = captureLogger();
    const driver: WorkspaceDriver = await selectDriver(localRoot, logger);
    expect(driver).toBe(overlayDriver);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 30, driver: 'overlay', mount: 'syscall' });
    expect(lines[0]!.msg).toMatch(/^workspace driver: overlay \(overlayfs probe mount succeeded under .* on (ext2\/3\/4|xfs|btrfs|tmpfs|zfs|f2fs|0x[0-9a-f]+); mounts by mount\(2\)\)$/);
  });

  it('falls back to copy on a real overlayfs refusal (local root on overlayfs), logging why; copy works there', async () => {
    const base = await tempDir('gg-nested-');
    for (const d of ['l', 'u', 'w', 'm']) await mkdir(join(base, d));
    await execa('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${base}/l,upperdir=${base}/u,workdir=${base}/w`, `${base}/m`]);
    const localRoot = join(base, 'm', 'local');
    const { logger, lines } = captureLogger();
    const driver = await selectDriver(localRoot, logger);
    expect(driver).toBe(copyDriver);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 40, driver: 'copy' });
    expect(lines[0]!.msg).toMatch(/^workspace driver: copy \(overlayfs unavailable: overlayfs cannot be mounted under .*is on overlayfs.*\)/);
    expect(lines[0]!.reason).toMatch(/Point localRoot at a local filesystem/);

    const { lowerDir } = await setup();
    const ws = await driver.prepare({ localRoot, executionId: 'exec-f', lowerDir });
    await writeFile(join(ws.mergedDir, 'package.json'), '{"v":3}\n');
    await rm(join(ws.mergedDir, 'old'), { recursive: true });
    expect((await driver.changes(ws)).changes).toEqual([D('old/deep/three.txt'), D('old/one.txt'), D('old/two.txt'), W('package.json')]);
    await driver.release(ws, { removeUpper: true });
  });

  it('falls back on an injected OVERLAY_UNAVAILABLE, honours prefer=copy, rethrows other errors', async () => {
    const localRoot = await tempDir('gg-local-');
    const { logger, lines } = captureLogger();
    const unavailable = async (): Promise<never> => {
      throw new WorkspaceUnavailableError('overlayfs cannot be mounted under x: no CAP_SYS_ADMIN. Run as root.', { reasons: ['no CAP_SYS_ADMIN'] });
    };
    expect(await selectDriver(localRoot, logger, { checkOverlay: unavailable })).toBe(copyDriver);
    expect(lines.at(-1)!.msg).toMatch(/^workspace driver: copy \(overlayfs unavailable: .*no CAP_SYS_ADMIN/);
    expect(await selectDriver(localRoot, logger, { prefer: 'copy' })).toBe(copyDriver);
    expect(lines.at(-1)!.msg).toBe('workspace driver: copy (configured)');
    expect(lines).toHaveLength(2);
    const boom = async (): Promise<never> => {
      throw new Error('EIO');
    };
    await expect(selectDriver(localRoot, logger, { checkOverlay: boom })).rejects.toThrow('EIO');
  });
});
