/**
 * Driver choice: which workspace driver (types.ts) this node uses, chosen once at startup, and
 * which driver made an execution's existing local workspace (as its record says), so that
 * restore and release go through that driver rather than guessing.
 */
import { rm } from 'node:fs/promises';
import { isRemediationError } from '@remediation/errors';
import { copyDriver } from './copy-driver.js';
import { toWorkspace, workspaceLayout } from './layout.js';
import { readWorkspaceRecord } from './metadata.js';
import { overlayDriver } from './overlay-driver.js';
import type { OverlayMountMechanism } from './overlay-mount.js';
import { checkOverlaySupport } from './overlay-support.js';
import type { PrepareWorkspaceInput, WorkspaceDriver, WorkspaceDriverName } from './types.js';

/** The logging this module needs; a pino `Logger` fits. */
export interface DriverLogger {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
}

/** Options of {@link selectDriver}. */
export interface SelectDriverOptions {
  /** Force a driver (configuration override); the overlay check still runs for `overlay`. */
  prefer?: WorkspaceDriverName;
  /** The capability check; default {@link checkOverlaySupport} (tests may inject a failure). */
  checkOverlay?: (localRoot: string) => Promise<unknown>;
}

/**
 * Picks the workspace driver for a local root, once at startup: runs the overlay capability
 * check (a real probe mount, {@link checkOverlaySupport}); on `OVERLAY_UNAVAILABLE` falls back
 * to the copy driver. Logs exactly one line: info `workspace driver: overlay (… on <fs>; mounts by
 * mount(2))` — warn when mounts fall back to mount(8) processes (koffi cannot load libc), with
 * why — or warn `workspace driver: copy (overlayfs unavailable: …)`, with `{ driver, localRoot,
 * reason }` (and `filesystem`, `mount`: `syscall` | `process`, `mountFallbackReason` for overlay).
 * @returns the overlay or the copy driver.
 * @throws whatever the check throws other than `OVERLAY_UNAVAILABLE` (e.g. an unexpected fs
 *   error), so a misconfiguration that is not "no overlay" is not silently downgraded.
 */
export async function selectDriver(localRoot: string, logger: DriverLogger, options: SelectDriverOptions = {}): Promise<WorkspaceDriver> {
  if (options.prefer === 'copy') {
    logger.info({ driver: 'copy', localRoot, reason: 'configured' }, 'workspace driver: copy (configured)');
    return copyDriver;
  }
  const check = options.checkOverlay ?? checkOverlaySupport;
  try {
    const support = (await check(localRoot)) as { filesystem?: string; mechanism?: OverlayMountMechanism } | undefined;
    const filesystem = support?.filesystem;
    const mechanism = support?.mechanism;
    const mounts = mechanism === undefined ? '' : mechanism.kind === 'syscall' ? '; mounts by mount(2)' : `; mounts by mount(8) processes, slower: ${mechanism.fallbackReason ?? 'koffi unavailable'}`;
    (mechanism?.kind === 'process' ? logger.warn : logger.info).call(
      logger,
      { driver: 'overlay', localRoot, reason: 'overlayfs probe mount succeeded', ...(filesystem === undefined ? {} : { filesystem }), ...(mechanism === undefined ? {} : { mount: mechanism.kind, ...(mechanism.fallbackReason === undefined ? {} : { mountFallbackReason: mechanism.fallbackReason }) }) },
      `workspace driver: overlay (overlayfs probe mount succeeded under ${localRoot}${filesystem === undefined ? '' : ` on ${filesystem}`}${mounts})`,
    );
    return overlayDriver;
  } catch (err) {
    if (!isRemediationError(err) || err.code !== 'OVERLAY_UNAVAILABLE') throw err;
    logger.warn(
      { driver: 'copy', localRoot, reason: err.message, code: err.code },
      `workspace driver: copy (overlayfs unavailable: ${err.message}) — workspaces are full copies of the base snapshot, slower to prepare and to diff`,
    );
    return copyDriver;
  }
}

/** The driver of a name (e.g. read back from a workspace record). */
export function driverByName(name: WorkspaceDriverName): WorkspaceDriver {
  return name === 'copy' ? copyDriver : overlayDriver;
}

/**
 * The driver that made the execution's local workspace, when that workspace can be resumed
 * (its record names the driver and that driver's `exists` holds). Does not take the lock.
 * @returns the driver, or null when there is no resumable local workspace.
 * @throws InvalidInputError `WORKSPACE_INVALID_ID`.
 */
export async function localWorkspaceDriver(input: Pick<PrepareWorkspaceInput, 'localRoot' | 'executionId'>): Promise<WorkspaceDriver | null> {
  const record = await readWorkspaceRecord(workspaceLayout(input.localRoot, input.executionId).dir);
  if (record?.driver === undefined) return null;
  const driver = driverByName(record.driver);
  return (await driver.exists(input)) ? driver : null;
}

/**
 * Releases the execution's workspace on this node through the driver that made it (unmounting
 * an overlay) and removes its dir, upper layer or copy included. Idempotent: a workspace
 * already gone is fine.
 * @throws InvalidInputError `WORKSPACE_INVALID_ID`.
 * @throws TransientError `WORKSPACE_BUSY` (the overlay mount stays busy).
 * @throws LockBusyError `WORKSPACE_LOCKED` when another live process holds the execution.
 */
export async function removeWorkspace(localRoot: string, executionId: string): Promise<void> {
  const layout = workspaceLayout(localRoot, executionId);
  const record = await readWorkspaceRecord(layout.dir);
  if (record?.driver !== undefined) {
    await driverByName(record.driver).release(toWorkspace(layout, record.lowerDir ?? ''), { removeUpper: true });
  }
  await rm(layout.dir, { recursive: true, force: true });
}
