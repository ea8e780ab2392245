/**
 * Execution workspaces of git-gateway (docs/architecture.md "Workspaces (git-gateway)"): what
 * the handlers, main.ts and the other adapters use. Inside:
 *  - layout.ts — the one directory layout under `<localRoot>/workspaces/` and the one
 *    execution-id check;
 *  - metadata.ts — the one workspace record, `<dir>/workspace.json`;
 *  - lock.ts — the execution lock (on ../lock-file.ts);
 *  - types.ts — the driver interface; overlay-driver.ts, copy-driver.ts — the two drivers;
 *    overlay-support.ts, mountinfo.ts — the overlay capability check and mount table;
 *  - driver.ts — driver choice at startup, the driver that made a local workspace, removal;
 *  - upper-changes.ts — the one tree walker: a workspace's changes against its base snapshot;
 *  - checkpoint.ts — checkpoints into the mirror and restore from them.
 */
export type { Workspace } from './layout.js';
export { workspaceLayout, workspacesRoot, type WorkspaceLayout } from './layout.js';
export { readWorkspaceRecord, type WorkspaceRecord } from './metadata.js';
export type { PrepareWorkspaceInput, ReleaseWorkspaceOptions, WorkspaceDriver, WorkspaceDriverName } from './types.js';
export { mountWorkspace, overlayDriver, unmountWorkspace, type MountWorkspaceInput, type UnmountOptions } from './overlay-driver.js';
export { copyDriver } from './copy-driver.js';
export { checkOverlaySupport, WorkspaceUnavailableError, type OverlaySupport } from './overlay-support.js';
export { findMount, readMountInfo, type MountEntry } from './mountinfo.js';
export { driverByName, removeWorkspace, selectDriver, type DriverLogger, type SelectDriverOptions } from './driver.js';
export { readUpperChanges, type UpperChange, type UpperScan } from './upper-changes.js';
export {
  CHECKPOINT_AUTHOR,
  checkpointRef,
  checkpointWorkspace,
  deleteCheckpoint,
  restoreWorkspace,
  type CheckpointResult,
  type CheckpointWorkspaceInput,
  type RestoreWorkspaceInput,
  type RestoreWorkspaceResult,
} from './checkpoint.js';
