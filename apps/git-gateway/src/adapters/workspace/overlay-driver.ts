/**
 * The overlay driver: an overlayfs mount of a read-only base snapshot (lower) with a
 * per-execution upper/work dir on a LOCAL filesystem (docs/architecture.md "git-gateway": "The
 * overlay upper and work dirs must be on a local filesystem (overlayfs does not support NFS or
 * Lustre uppers …) … Same-node restarts simply remount the existing upper … Lock each
 * execution's dirs: two mounts sharing a workdir only warn."). Prepare measured 4.5 ms on a
 * 50,000-file repository; changes are read from the upper layer in O(changed dirs)
 * (upper-changes.ts). Paths: layout.ts; record: metadata.ts; lock: lock.ts.
 */
import pLimit from 'p-limit';
import { availableParallelism } from 'node:os';
import { mkdir, realpath, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { InvalidInputError, TransientError } from '@remediation/errors';
import { isDirectory, realLayoutOf, resolvePrepare, toWorkspace, workspaceLayout, type PrepareLayout, type Workspace } from './layout.js';
import { dropExecutionLock, holdExecutionLock, prepareUnderLock, singleFlight } from './lock.js';
import { assertRecordMatches, readWorkspaceRecord, updateWorkspaceRecord } from './metadata.js';
import { findMount } from './mountinfo.js';
import { OverlayMountError, overlayMounter } from './overlay-mount.js';
import { assertMountablePath, diagnoseOverlay, overlayUnavailable } from './overlay-support.js';
import type { WorkspaceDriver } from './types.js';
import { readUpperChanges } from './upper-changes.js';

/** Input of {@link mountWorkspace}. */
export interface MountWorkspaceInput {
  /** Local (non-NFS) root for upper/work dirs. */
  localRoot: string;
  /** Execution id: `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`, not ending in `.lock`. */
  executionId: string;
  /** Absolute path of the base snapshot (ensureBaseSnapshot). */
  lowerDir: string;
  /**
   * Extra overlay mount options (e.g. `['redirect_dir=on']`); default none, i.e. the kernel's
   * defaults (here redirect_dir=off, index=off, metacopy=off).
   */
  extraOptions?: string[];
}

const mountOnce = singleFlight<Workspace>();

/**
 * Workspaces prepared at once by this process: one per CPU. With mount(2) a prepare is ~20 small
 * filesystem calls on libuv's thread pool plus a ~0.3 ms kernel mount (serialised by the kernel
 * per mount namespace); with all of 100 requests in flight together they interleave and each is
 * ready only near the end, with them queued the median request waits for half of them. Measured
 * on the 2-core machine at load 9–10 (median ready of 100 at once, median of 4 alternated rounds):
 * 2 at once ~150 ms, 4 ~200 ms, 8 ~230 ms, unqueued ~290 ms (decision 0025).
 */
const mountSlots = pLimit(Math.max(1, availableParallelism()));

/**
 * Mounts (or returns the already mounted) workspace of an execution: mount(2) of overlay with
 * `lowerdir=L,upperdir=U,workdir=W` on `<merged>` (overlay-mount.ts; `mount(8)` where koffi
 * cannot load libc).
 *  - already mounted (per /proc/self/mountinfo) with the same upper and lower → returned as is;
 *  - upper exists but not mounted (process or node restart) → the existing upper is remounted,
 *    keeping the execution's edits;
 *  - the execution lock is taken (lock.ts: adopted if this process wrote it, broken if its pid
 *    is dead) and kept until {@link unmountWorkspace};
 *  - the workspace record (metadata.ts) gets `driver: overlay` and the lowerDir before the
 *    first mount.
 *
 * @returns the {@link Workspace}: upper/work/merged under `resolve(localRoot)/workspaces/<id>/`,
 *   lowerDir as its real path.
 * @throws InvalidInputError `WORKSPACE_INVALID_ID` / `WORKSPACE_INVALID_PATH`;
 *   `WORKSPACE_BASE_MISMATCH` when the existing upper (or mount) was made over another lowerDir
 *   (unmount with `removeUpper: true` to rebuild); `WORKSPACE_DRIVER_MISMATCH` when the copy
 *   driver made it; `WORKSPACE_LOWER_MISSING`; `WORKSPACE_INVALID_PATH` also when the overlay
 *   options (the three paths) do not fit the one page mount(2) takes.
 * @throws LockBusyError `WORKSPACE_LOCKED` (retryable) when a live process holds the lock.
 * @throws WorkspaceUnavailableError `OVERLAY_UNAVAILABLE` when overlayfs cannot mount here.
 * @throws TransientError `WORKSPACE_MOUNT_FAILED` for other mount failures; the message names
 *   the errno (e.g. `ENOENT`, `EBUSY`) and the paths, `details.errno` holds it.
 */
export async function mountWorkspace(input: MountWorkspaceInput): Promise<Workspace> {
  const paths = await resolvePrepare(input);
  for (const [what, p] of [['lowerDir', paths.lowerDir], ['workspace dir', paths.real.dir]] as const) assertMountablePath(p, what);
  return mountOnce(paths.real.dir, () => mountSlots(() => prepareUnderLock(paths.real.lockFile, () => doMount(paths, input.extraOptions ?? []))));
}

async function doMount({ layout, real, lowerDir }: PrepareLayout, extraOptions: string[]): Promise<Workspace> {
  const ws = toWorkspace(layout, lowerDir);
  // A workspace dir this call creates is new: no record to check, nothing mounted in it (the
  // common case, decided without reading the record or /proc/self/mountinfo, whose parse grows
  // with every workspace mounted on the node).
  const fresh = await mkdir(real.dir).then(
    () => true,
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'EEXIST') return false;
      throw err;
    },
  );
  const record = fresh ? null : await readWorkspaceRecord(layout.dir);
  assertRecordMatches(record, { executionId: ws.executionId, driver: 'overlay', lowerDir });
  const mounted = fresh ? null : await findMount(real.mergedDir);
  if (mounted !== null) {
    if (mounted.fsType === 'overlay' && mounted.superOptions['upperdir'] === real.upperDir && mounted.superOptions['lowerdir'] === lowerDir) {
      return ws;
    }
    throw new InvalidInputError('WORKSPACE_BASE_MISMATCH', `${ws.mergedDir} is already mounted (${mounted.fsType}, lowerdir=${mounted.superOptions['lowerdir'] ?? '?'}) with other dirs`, {
      details: { executionId: ws.executionId, mount: mounted },
    });
  }
  await Promise.all([real.upperDir, real.workDir, real.mergedDir].map((d) => mkdir(d, { recursive: true })));
  if (record?.lowerDir === undefined) await updateWorkspaceRecord(layout.dir, { driver: 'overlay', lowerDir });
  const dirs = { lowerDir, upperDir: real.upperDir, workDir: real.workDir, mergedDir: real.mergedDir, extraOptions };
  try {
    await overlayMounter().mount(dirs);
  } catch (err) {
    if (err instanceof RangeError) throw new InvalidInputError('WORKSPACE_INVALID_PATH', err.message, { details: { executionId: ws.executionId, lowerDir }, cause: err });
    if (!(err instanceof OverlayMountError)) throw err;
    const workspacesDir = dirname(real.dir);
    const reasons = await diagnoseOverlay(workspacesDir);
    if (reasons.length > 0) throw overlayUnavailable(workspacesDir, reasons, err.message, err);
    throw new TransientError('WORKSPACE_MOUNT_FAILED', `mounting workspace ${ws.executionId} failed: ${err.message}`, {
      details: { executionId: ws.executionId, errno: err.errno, reason: err.reason, ...err.paths },
      cause: err,
    });
  }
  return ws;
}

/** Options of {@link unmountWorkspace}. */
export interface UnmountOptions {
  /** Also delete `<localRoot>/workspaces/<executionId>/` (upper included). Default false. */
  removeUpper?: boolean;
}

/**
 * Unmounts the workspace's merged dir (no-op when not mounted), optionally deletes its dirs,
 * and releases the execution lock. With `removeUpper: false` the upper is kept so a later
 * {@link mountWorkspace} remounts it with the edits.
 * @throws TransientError `WORKSPACE_BUSY` when umount2(2) still fails with `EBUSY` (open files)
 *   after 10 tries over ~5.5 s.
 * @throws OverlayMountError (overlay-mount.ts) for other unmount failures, e.g. `EPERM`.
 * @throws LockBusyError `WORKSPACE_LOCKED` when another live process holds the execution.
 */
export async function unmountWorkspace(ws: Workspace, options: UnmountOptions = {}): Promise<void> {
  const real = await realLayoutOf(ws);
  await holdExecutionLock(real.lockFile);
  // umount2(2) until nothing is mounted there (EINVAL: not a mount point), stacked mounts
  // included; EBUSY (open files) is retried with a growing pause.
  let busy: OverlayMountError | null = null;
  for (let attempt = 0; attempt < 10; attempt++) {
    try {
      if ((await overlayMounter().unmount(real.mergedDir)) === 'not-mounted') {
        busy = null;
        break;
      }
    } catch (err) {
      if (!(err instanceof OverlayMountError) || (err.errno !== 'EBUSY' && err.errno !== null)) throw err;
      busy = err;
      await new Promise((r) => setTimeout(r, 100 * (attempt + 1)));
    }
  }
  if (busy !== null) {
    throw new TransientError('WORKSPACE_BUSY', `cannot unmount workspace ${ws.executionId}: ${busy.message}`, {
      details: { executionId: ws.executionId, mergedDir: ws.mergedDir, errno: busy.errno, reason: busy.reason },
      cause: busy,
    });
  }
  if (options.removeUpper === true) await rm(real.dir, { recursive: true, force: true });
  await dropExecutionLock(real.lockFile);
}

/**
 * The overlayfs driver: {@link mountWorkspace} / {@link unmountWorkspace} /
 * readUpperChanges (upper-changes.ts), plus a mount check before reading changes.
 */
export const overlayDriver: WorkspaceDriver = {
  name: 'overlay',
  prepare: (input) => mountWorkspace(input),
  async release(ws, options) {
    await unmountWorkspace(ws, { removeUpper: options.removeUpper });
  },
  async changes(ws) {
    if (!(await overlayDriver.isReady(ws))) {
      throw new TransientError('WORKSPACE_NOT_READY', `workspace ${ws.executionId} is not mounted: prepare (remount) it before reading its changes`, {
        details: { executionId: ws.executionId, mergedDir: ws.mergedDir },
      });
    }
    return readUpperChanges(ws);
  },
  async isReady(ws) {
    const merged = await realpath(ws.mergedDir).catch(() => null);
    const upper = await realpath(ws.upperDir).catch(() => null);
    if (merged === null || upper === null) return false;
    const mount = await findMount(merged);
    return mount !== null && mount.fsType === 'overlay' && mount.superOptions['upperdir'] === upper;
  },
  async exists(input) {
    const layout = workspaceLayout(input.localRoot, input.executionId);
    const record = await readWorkspaceRecord(layout.dir);
    return record?.driver === 'overlay' && (await isDirectory(layout.upperDir));
  },
};
