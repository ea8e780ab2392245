import { existsSync } from 'node:fs';
import { mkdir, open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanupTempDirs, tempDir } from '../../../test-support/spec-helpers.js';
import { findMount } from './mountinfo.js';
import { mountWorkspace, unmountWorkspace } from './overlay-driver.js';
import { createOverlayMounter, OverlayMountError, overlayMounter, type OverlayDirs, type OverlayMounter } from './overlay-mount.js';

afterEach(cleanupTempDirs);

/** Fresh lower (holding a.txt), upper, work and merged dirs. */
async function overlayDirs(): Promise<OverlayDirs> {
  const base = await tempDir('gg-ovl-');
  const dirs = { lowerDir: join(base, 'lower'), upperDir: join(base, 'upper'), workDir: join(base, 'work'), mergedDir: join(base, 'merged') };
  for (const d of Object.values(dirs)) await mkdir(d);
  await writeFile(join(dirs.lowerDir, 'a.txt'), 'lower\n');
  return dirs;
}

async function rejection(promise: Promise<unknown>): Promise<OverlayMountError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OverlayMountError);
  return err as OverlayMountError;
}

/** The same checks for the syscall path and the process fallback. */
async function mountsAndUnmounts(mounter: OverlayMounter): Promise<void> {
  const dirs = await overlayDirs();
  await mounter.mount(dirs);
  const entry = await findMount(dirs.mergedDir);
  expect(entry).toMatchObject({ fsType: 'overlay', superOptions: { lowerdir: dirs.lowerDir, upperdir: dirs.upperDir, workdir: dirs.workDir } });
  expect(await readFile(join(dirs.mergedDir, 'a.txt'), 'utf8')).toBe('lower\n');
  await writeFile(join(dirs.mergedDir, 'b.txt'), 'upper\n');
  expect(await readFile(join(dirs.upperDir, 'b.txt'), 'utf8')).toBe('upper\n');
  expect(await mounter.unmount(dirs.mergedDir)).toBe('unmounted');
  expect(await findMount(dirs.mergedDir)).toBeNull();
  expect(existsSync(join(dirs.mergedDir, 'a.txt'))).toBe(false);
  expect(await mounter.unmount(dirs.mergedDir)).toBe('not-mounted');
  expect(await mounter.unmount(join(dirs.mergedDir, 'absent'))).toBe('not-mounted');
}

describe('overlayMounter (mount(2) / umount2(2) through koffi)', () => {
  it('uses the system calls here', () => {
    expect(overlayMounter().mechanism).toEqual({ kind: 'syscall' });
  });

  it('mounts an overlay (lower visible, writes in upper) and unmounts it; unmounting again is "not-mounted"', async () => {
    await mountsAndUnmounts(overlayMounter());
  });

  it('fails with ENOENT naming the paths when the lower dir is missing, mounting nothing', async () => {
    const dirs = await overlayDirs();
    const missing = { ...dirs, lowerDir: join(dirs.lowerDir, 'gone') };
    const err = await rejection(overlayMounter().mount(missing));
    expect(err).toMatchObject({ operation: 'mount', errno: 'ENOENT', paths: { lowerdir: missing.lowerDir, target: dirs.mergedDir } });
    expect(err.message).toMatch(/^mount\(2\) of overlay failed: ENOENT \(no such file or directory\); /i);
    expect(err.message).toContain(`lowerdir=${missing.lowerDir}`);
    expect(await findMount(dirs.mergedDir)).toBeNull();
  });

  it('fails with EBUSY while a file under the mount is open; a detaching unmount succeeds', async () => {
    const dirs = await overlayDirs();
    const mounter = overlayMounter();
    await mounter.mount(dirs);
    const file = await open(join(dirs.mergedDir, 'a.txt'), 'r');
    try {
      const err = await rejection(mounter.unmount(dirs.mergedDir));
      expect(err).toMatchObject({ operation: 'umount', errno: 'EBUSY', paths: { target: dirs.mergedDir } });
      expect(err.message).toBe(`umount2(2) failed: EBUSY (${err.reason}); target=${dirs.mergedDir}`);
      expect(await findMount(dirs.mergedDir)).not.toBeNull();
      expect(await mounter.unmount(dirs.mergedDir, { detach: true })).toBe('unmounted');
      expect(await findMount(dirs.mergedDir)).toBeNull();
      expect(await file.readFile('utf8')).toBe('lower\n'); // the detached mount lives while in use
    } finally {
      await file.close();
    }
  });

  it('refuses options longer than one page before calling mount(2)', async () => {
    const dirs = await overlayDirs();
    const long = { ...dirs, extraOptions: [`lowerdir=${'x'.repeat(5000)}`] };
    expect(() => overlayMounter().options(long)).toThrow(/overlay options for .* are \d+ bytes, more than mount\(2\) takes \(4095: one page/);
    await expect(overlayMounter().mount(long)).rejects.toBeInstanceOf(RangeError);
    expect(await findMount(dirs.mergedDir)).toBeNull();
    expect(overlayMounter().options(dirs)).toBe(`lowerdir=${dirs.lowerDir},upperdir=${dirs.upperDir},workdir=${dirs.workDir}`);
  });

  it('many mounts at once all land (calls queued on the thread pool)', async () => {
    const all = await Promise.all(Array.from({ length: 40 }, () => overlayDirs()));
    await Promise.all(all.map((d) => overlayMounter().mount(d)));
    for (const d of all) expect((await findMount(d.mergedDir))?.fsType).toBe('overlay');
    expect(await Promise.all(all.map((d) => overlayMounter().unmount(d.mergedDir)))).toEqual(all.map(() => 'unmounted'));
  });
});

describe('createOverlayMounter fallback (libc not loadable through koffi)', () => {
  const fallback = createOverlayMounter('libc-not-here.so.0');

  it('says why it falls back to mount(8)', () => {
    expect(fallback.mechanism.kind).toBe('process');
    expect(fallback.mechanism.fallbackReason).toMatch(/^koffi cannot call libc-not-here\.so\.0 here \(.+\)$/);
  });

  it('mounts and unmounts by mount(8) / umount(8)', async () => {
    await mountsAndUnmounts(fallback);
  });

  it('reports mount(8)\'s text (no errno) for a missing lower dir', async () => {
    const dirs = await overlayDirs();
    const err = await rejection(fallback.mount({ ...dirs, lowerDir: join(dirs.lowerDir, 'gone') }));
    expect(err.errno).toBeNull();
    expect(err.message).toMatch(/^mount\(8\) of overlay failed: .+; lowerdir=/);
  });
});

describe('mountWorkspace / unmountWorkspace over mount(2) / umount2(2)', () => {
  it('names the errno of a failed mount (WORKSPACE_MOUNT_FAILED), and a later prepare of the same workspace mounts it', async () => {
    const lower = join(await tempDir('gg-lower-'), 'snapshot');
    await mkdir(lower);
    await writeFile(join(lower, 'a.txt'), 'a\n');
    const localRoot = await tempDir('gg-local-');
    const err = await mountWorkspace({ localRoot, executionId: 'exec-bad', lowerDir: lower, extraOptions: ['no_such_option'] }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'WORKSPACE_MOUNT_FAILED', retryable: true, details: { errno: 'EINVAL', lowerdir: lower } });
    expect((err as Error).message).toMatch(/^mounting workspace exec-bad failed: mount\(2\) of overlay failed: EINVAL \(invalid argument\); lowerdir=/i);
    expect(existsSync(join(localRoot, 'workspaces/exec-bad.lock'))).toBe(false);
    await expect(mountWorkspace({ localRoot, executionId: 'exec-bad', lowerDir: lower, extraOptions: [`x=${'y'.repeat(4100)}`] })).rejects.toMatchObject({
      code: 'WORKSPACE_INVALID_PATH',
      message: expect.stringMatching(/more than mount\(2\) takes/),
    });

    // The dir is left behind (not new any more): the record and mountinfo are checked, then it mounts.
    const ws = await mountWorkspace({ localRoot, executionId: 'exec-bad', lowerDir: lower });
    expect((await findMount(ws.mergedDir))?.superOptions['upperdir']).toBe(ws.upperDir);
    expect(await readFile(join(ws.mergedDir, 'a.txt'), 'utf8')).toBe('a\n');
    await unmountWorkspace(ws, { removeUpper: true });
  });


  it('retries while the workspace is busy and unmounts once the file is closed', async () => {
    const lower = join(await tempDir('gg-lower-'), 'snapshot');
    await mkdir(lower);
    await writeFile(join(lower, 'a.txt'), 'a\n');
    const localRoot = await tempDir('gg-local-');
    const ws = await mountWorkspace({ localRoot, executionId: 'exec-busy', lowerDir: lower });
    const file = await open(join(ws.mergedDir, 'a.txt'), 'r');
    setTimeout(() => void file.close(), 250);
    const started = Date.now();
    await unmountWorkspace(ws, { removeUpper: true });
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    expect(await findMount(ws.mergedDir)).toBeNull();
    expect(existsSync(ws.upperDir)).toBe(false);
  });
});
