/**
 * The workspace driver interface: one way to give an execution a writable view of a base
 * snapshot (docs/architecture.md "Workspaces (git-gateway)").
 *  - `overlay` (overlay-driver.ts, preferred): an overlayfs mount with a per-execution upper
 *    layer; changes read from the upper layer in O(changed dirs).
 *  - `copy` (copy-driver.ts, where overlayfs cannot mount): a full copy of the snapshot;
 *    changes found by a walk of the copy against the snapshot.
 * Both return the same {@link Workspace} and {@link UpperScan} shapes, record themselves in the
 * one workspace record (metadata.ts) and hold the execution lock (lock.ts) from prepare until
 * release.
 */
import type { Workspace } from './layout.js';
import type { UpperScan } from './upper-changes.js';

/** Names of the workspace drivers (as recorded in the workspace record). */
export const WORKSPACE_DRIVER_NAMES = ['overlay', 'copy'] as const;

/** Name of a workspace driver. */
export type WorkspaceDriverName = (typeof WORKSPACE_DRIVER_NAMES)[number];

/** Input of {@link WorkspaceDriver.prepare} and {@link WorkspaceDriver.exists}. */
export interface PrepareWorkspaceInput {
  /** Local (non-NFS for overlay) root; workspaces live under `<localRoot>/workspaces/`. */
  localRoot: string;
  /** Execution id: `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`, no `..`, not ending in `.lock`. */
  executionId: string;
  /** Absolute path of the read-only base snapshot (ensureBaseSnapshot). */
  lowerDir: string;
}

/** Options of {@link WorkspaceDriver.release}. */
export interface ReleaseWorkspaceOptions {
  /**
   * Also delete `<localRoot>/workspaces/<executionId>/` (the execution's edits: the upper
   * layer, or the copy). false keeps them so a later prepare resumes them.
   */
  removeUpper: boolean;
}

/** A way to give an execution a writable view of a base snapshot (see the module comment). */
export interface WorkspaceDriver {
  readonly name: WorkspaceDriverName;
  /**
   * Creates the workspace, or resumes the existing one of this execution (same node after a
   * process restart: overlay remounts the existing upper layer, copy reuses the complete copy).
   * Takes the execution lock, kept until {@link WorkspaceDriver.release}.
   * @returns the {@link Workspace}; paths under `resolve(localRoot)/workspaces/<id>/`,
   *   lowerDir as its real path.
   * @throws InvalidInputError `WORKSPACE_INVALID_ID` / `WORKSPACE_INVALID_PATH` /
   *   `WORKSPACE_LOWER_MISSING`; `WORKSPACE_BASE_MISMATCH` when the existing workspace was made
   *   over another lowerDir; `WORKSPACE_DRIVER_MISMATCH` when it was made by another driver
   *   (release it with `removeUpper: true` to rebuild).
   * @throws LockBusyError `WORKSPACE_LOCKED` (retryable) when a live process holds the execution.
   * @throws WorkspaceUnavailableError `OVERLAY_UNAVAILABLE` (overlay driver only).
   * @throws TransientError `WORKSPACE_MOUNT_FAILED` (overlay) / `WORKSPACE_COPY_FAILED` (copy).
   */
  prepare(input: PrepareWorkspaceInput): Promise<Workspace>;
  /**
   * Unmounts (overlay) and releases the execution lock; with `removeUpper` deletes the
   * execution's dirs. Idempotent (a workspace already gone is fine).
   * @throws TransientError `WORKSPACE_BUSY` (overlay: the mount stays busy).
   * @throws LockBusyError `WORKSPACE_LOCKED` when another live process holds the execution.
   */
  release(ws: Workspace, options: ReleaseWorkspaceOptions): Promise<void>;
  /**
   * The workspace's changes against its lower dir (upper-changes.ts: sorted by path; `.git`
   * paths in `forbidden`; fifos/sockets/devices in `unsupported`).
   * @throws TransientError `WORKSPACE_NOT_READY` when the workspace is not mounted / not
   *   prepared (reading an unmounted overlay would report every lower file as deleted).
   */
  changes(ws: Workspace): Promise<UpperScan>;
  /** Whether the workspace is usable now (overlay: mounted over its upper layer; copy: copy complete). */
  isReady(ws: Workspace): Promise<boolean>;
  /**
   * Whether this execution has local state this driver would resume on prepare (overlay: an
   * upper layer recorded as the overlay driver's; copy: a complete copy). Does not take the lock.
   * @throws InvalidInputError `WORKSPACE_INVALID_ID`.
   */
  exists(input: Pick<PrepareWorkspaceInput, 'localRoot' | 'executionId'>): Promise<boolean>;
}
