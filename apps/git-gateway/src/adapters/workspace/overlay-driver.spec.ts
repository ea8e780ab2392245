import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanupTempDirs, tempDir, writeFiles } from '../../../test-support/spec-helpers.js';
import { processStartTime } from '../lock-file.js';
import { findMount } from './mountinfo.js';
import { mountWorkspace, unmountWorkspace } from './overlay-driver.js';
import { checkOverlaySupport, WorkspaceUnavailableError } from './overlay-support.js';

afterEach(cleanupTempDirs);

async function lowerWith(files: Record<string, string>): Promise<string> {
  const lower = join(await tempDir('gg-lower-'), 'snapshot');
  await mkdir(lower, { recursive: true });
  await writeFiles(lower, files);
  return lower;
}

describe('mountWorkspace', () => {
  it('mounts an overlay, writes go to upper, lower stays untouched', async () => {
    const lower = await lowerWith({ 'package.json': '{"v":1}\n' });
    const localRoot = await tempDir('gg-local-');
    const ws = await mountWorkspace({ localRoot, executionId: 'exec-1', lowerDir: lower });
    expect(ws).toEqual({
      executionId: 'exec-1',
      lowerDir: lower,
      upperDir: join(localRoot, 'workspaces/exec-1/upper'),
      workDir: join(localRoot, 'workspaces/exec-1/work'),
      mergedDir: join(localRoot, 'workspaces/exec-1/merged'),
    });
    expect((await findMount(ws.mergedDir))?.fsType).toBe('overlay');
    expect(await readFile(join(ws.mergedDir, 'package.json'), 'utf8')).toBe('{"v":1}\n');
    await writeFile(join(ws.mergedDir, 'package.json'), '{"v":2}\n');
    expect(await readFile(join(ws.upperDir, 'package.json'), 'utf8')).toBe('{"v":2}\n');
    expect(await readFile(join(lower, 'package.json'), 'utf8')).toBe('{"v":1}\n');
    const lock = JSON.parse(await readFile(join(localRoot, 'workspaces/exec-1.lock'), 'utf8')) as { pid: number };
    expect(lock.pid).toBe(process.pid);

    // Idempotent: already mounted → same workspace, no second mount stacked.
    const [again1, again2] = await Promise.all([
      mountWorkspace({ localRoot, executionId: 'exec-1', lowerDir: lower }),
      mountWorkspace({ localRoot, executionId: 'exec-1', lowerDir: lower }),
    ]);
    expect(again1).toEqual(ws);
    expect(again2).toEqual(ws);
    const { stdout } = await execa('findmnt', ['-n', '-o', 'TARGET', ws.mergedDir], { reject: false });
    expect(stdout.split('\n').filter((l) => l.trim() !== '').length).toBeLessThanOrEqual(1);

    await unmountWorkspace(ws, { removeUpper: true });
    expect(await findMount(ws.mergedDir)).toBeNull();
    expect(existsSync(join(localRoot, 'workspaces/exec-1'))).toBe(false);
    expect(existsSync(join(localRoot, 'workspaces/exec-1.lock'))).toBe(false);
  });

  it('remounts the existing upper after a simulated restart, keeping the edits', async () => {
    const lower = await lowerWith({ 'a.txt': 'a\n', 'b.txt': 'b\n' });
    const localRoot = await tempDir('gg-local-');
    const ws = await mountWorkspace({ localRoot, executionId: 'exec-2', lowerDir: lower });
    await writeFile(join(ws.mergedDir, 'a.txt'), 'edited\n');
    await writeFile(join(ws.mergedDir, 'new.txt'), 'new\n');
    await execa('rm', [join(ws.mergedDir, 'b.txt')]);
    await unmountWorkspace(ws, { removeUpper: false });
    expect(await findMount(ws.mergedDir)).toBeNull();
    expect(existsSync(join(ws.upperDir, 'a.txt'))).toBe(true);

    // A "new process" whose predecessor left a lock with a dead pid behind.
    const dead = spawn('true');
    await new Promise((r) => dead.on('exit', r));
    await writeFile(join(localRoot, 'workspaces/exec-2.lock'), JSON.stringify({ pid: dead.pid, startTime: null, host: hostname(), token: 't', acquiredAt: '' }));

    const back = await mountWorkspace({ localRoot, executionId: 'exec-2', lowerDir: lower });
    expect(back).toEqual(ws);
    expect(await readFile(join(back.mergedDir, 'a.txt'), 'utf8')).toBe('edited\n');
    expect(await readFile(join(back.mergedDir, 'new.txt'), 'utf8')).toBe('new\n');
    expect(existsSync(join(back.mergedDir, 'b.txt'))).toBe(false);
    await unmountWorkspace(back, { removeUpper: true });
  });

  it('refuses an execution locked by another live process and a different base', async () => {
    const lower = await lowerWith({ 'a.txt': 'a\n' });
    const other = await lowerWith({ 'a.txt': 'other\n' });
    const localRoot = await tempDir('gg-local-');
    await mkdir(join(localRoot, 'workspaces'), { recursive: true });
    const live = spawn('sleep', ['30']);
    try {
      await new Promise((r) => setTimeout(r, 50));
      await writeFile(join(localRoot, 'workspaces/exec-3.lock'), JSON.stringify({ pid: live.pid, startTime: processStartTime(live.pid!), host: hostname(), token: 'x', acquiredAt: '' }));
      await expect(mountWorkspace({ localRoot, executionId: 'exec-3', lowerDir: lower })).rejects.toMatchObject({ code: 'WORKSPACE_LOCKED', retryable: true });
      expect(existsSync(join(localRoot, 'workspaces/exec-3/merged'))).toBe(false);
    } finally {
      live.kill();
    }
    await new Promise((r) => setTimeout(r, 50));
    const ws = await mountWorkspace({ localRoot, executionId: 'exec-3', lowerDir: lower });
    await expect(mountWorkspace({ localRoot, executionId: 'exec-3', lowerDir: other })).rejects.toMatchObject({ code: 'WORKSPACE_BASE_MISMATCH' });
    await unmountWorkspace(ws, { removeUpper: false });
    await expect(mountWorkspace({ localRoot, executionId: 'exec-3', lowerDir: other })).rejects.toMatchObject({ code: 'WORKSPACE_BASE_MISMATCH' });
    // The failed attempt released its lock.
    expect(existsSync(join(localRoot, 'workspaces/exec-3.lock'))).toBe(false);
  });

  it('works when localRoot is reached through a symlink (paths as given, mount checks on real paths)', async () => {
    const lower = await lowerWith({ 'a.txt': 'a\n' });
    const realRoot = await tempDir('gg-local-');
    const linkRoot = join(await tempDir('gg-link-'), 'local');
    await symlink(realRoot, linkRoot);
    const ws = await mountWorkspace({ localRoot: linkRoot, executionId: 'exec-s', lowerDir: lower });
    expect(ws.mergedDir).toBe(join(linkRoot, 'workspaces/exec-s/merged'));
    expect(await findMount(join(realRoot, 'workspaces/exec-s/merged'))).not.toBeNull();
    await writeFile(join(ws.mergedDir, 'b.txt'), 'b\n');
    expect(await mountWorkspace({ localRoot: linkRoot, executionId: 'exec-s', lowerDir: lower })).toEqual(ws);
    await unmountWorkspace(ws, { removeUpper: true });
    expect(await findMount(join(realRoot, 'workspaces/exec-s/merged'))).toBeNull();
    expect(existsSync(join(realRoot, 'workspaces/exec-s'))).toBe(false);
  });

  it('validates execution ids', async () => {
    const lower = await lowerWith({ 'a.txt': 'a\n' });
    const localRoot = await tempDir('gg-local-');
    for (const bad of ['', '..', '../x', 'a/b', '.hidden', 'x.lock', 'a b', 'a,b', 'x'.repeat(200)]) {
      await expect(mountWorkspace({ localRoot, executionId: bad, lowerDir: lower })).rejects.toMatchObject({ code: 'WORKSPACE_INVALID_ID' });
    }
  });
});

describe('checkOverlaySupport', () => {
  it('succeeds on a local filesystem and cleans up its probe', async () => {
    const localRoot = await tempDir('gg-local-');
    const support = await checkOverlaySupport(localRoot);
    expect(support.workspacesDir).toBe(join(localRoot, 'workspaces'));
    expect(support.filesystem).toMatch(/ext|xfs|btrfs|tmpfs|zfs|f2fs|0x/);
    expect((await execa('ls', ['-A', support.workspacesDir])).stdout).toBe('');
  });

  it('fails with OVERLAY_UNAVAILABLE and says why when the local root is on overlayfs', async () => {
    // A real refusal: overlayfs does not accept an upper dir that is itself on overlayfs.
    const base = await tempDir('gg-nested-');
    for (const d of ['l', 'u', 'w', 'm']) await mkdir(join(base, d));
    await execa('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${base}/l,upperdir=${base}/u,workdir=${base}/w`, `${base}/m`]);
    const localRoot = join(base, 'm', 'local');
    const err = await checkOverlaySupport(localRoot).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkspaceUnavailableError);
    const e = err as WorkspaceUnavailableError;
    expect(e.code).toBe('OVERLAY_UNAVAILABLE');
    expect(e.retryable).toBe(false);
    expect(e.message).toMatch(/overlayfs cannot be mounted under .*: .* is on overlayfs .* not support .*upper\/work dirs/);
    expect(e.message).toMatch(/Point localRoot at a local filesystem/);
    expect((e.details as { reasons: string[] }).reasons.length).toBeGreaterThan(0);

    // mountWorkspace reports the same error.
    const lower = await lowerWith({ 'a.txt': 'a\n' });
    await expect(mountWorkspace({ localRoot, executionId: 'e', lowerDir: lower })).rejects.toBeInstanceOf(WorkspaceUnavailableError);
    expect(existsSync(join(localRoot, 'workspaces/e.lock'))).toBe(false);
  });
});
