/**
 * The one directory layout of execution workspaces (docs/architecture.md "Workspaces
 * (git-gateway)"), under a LOCAL root (the overlay upper must not be on NFS/Lustre):
 *
 *   `<localRoot>/workspaces/`
 *     `<executionId>/` — the workspace dir, deleted with the workspace:
 *       `upper/`, `work/` — overlay driver: the upper layer and overlayfs' scratch dir;
 *       `merged/` — the view executions read and write (the overlay mount, or the copy);
 *       `workspace.json` — the workspace record (metadata.ts);
 *       `.copy-tmp-*` — copy driver: a copy in progress;
 *     `<executionId>.lock` — the execution lock (lock.ts), outside the dir so that removing the
 *       dir does not drop it;
 *     `.probe-*` — the overlay capability check in progress (overlay-support.ts).
 *
 * Every workspace path is derived here, and the execution id is checked here — once — as a safe
 * path segment.
 */
import { mkdir, realpath, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { InvalidInputError } from '@remediation/errors';

/** A prepared workspace, as drivers return it; all paths absolute. */
export interface Workspace {
  executionId: string;
  /** Read-only base snapshot (the overlay lowerdir; the copy's source), as a real path. */
  lowerDir: string;
  /** `<localRoot>/workspaces/<executionId>/upper`: the upper layer (absent for a copy workspace). */
  upperDir: string;
  /** `<localRoot>/workspaces/<executionId>/work`: overlayfs scratch dir (absent for a copy workspace). */
  workDir: string;
  /** `<localRoot>/workspaces/<executionId>/merged`: the view executions read and write. */
  mergedDir: string;
}

/** Every path of one execution's workspace (see the module comment). */
export interface WorkspaceLayout {
  executionId: string;
  /** `<localRoot>/workspaces/<executionId>`. */
  dir: string;
  upperDir: string;
  workDir: string;
  mergedDir: string;
  /** `<dir>/workspace.json`. */
  recordFile: string;
  /** `<dir>.lock`. */
  lockFile: string;
}

const EXECUTION_ID = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

/** @throws InvalidInputError `WORKSPACE_INVALID_ID` unless `executionId` is a safe path segment. */
function assertExecutionId(executionId: string): void {
  if (!EXECUTION_ID.test(executionId) || executionId.includes('..') || executionId.endsWith('.lock')) {
    throw new InvalidInputError('WORKSPACE_INVALID_ID', `execution id ${JSON.stringify(executionId)} is not a safe path segment ([A-Za-z0-9_][A-Za-z0-9._-]{0,127}, no "..", not ending in ".lock")`, {
      details: { executionId },
    });
  }
}

function layoutIn(dir: string, executionId: string): WorkspaceLayout {
  return {
    executionId,
    dir,
    upperDir: join(dir, 'upper'),
    workDir: join(dir, 'work'),
    mergedDir: join(dir, 'merged'),
    recordFile: join(dir, 'workspace.json'),
    lockFile: `${dir}.lock`,
  };
}

/** `<localRoot>/workspaces`, absolute (not realpath-ed). */
export function workspacesRoot(localRoot: string): string {
  return join(resolve(localRoot), 'workspaces');
}

/**
 * The layout of an execution's workspace under `resolve(localRoot)` (paths as callers see them,
 * not realpath-ed), without touching the filesystem.
 * @throws InvalidInputError `WORKSPACE_INVALID_ID`: `executionId` must match
 *   `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`, contain no `..` and not end in `.lock`.
 */
export function workspaceLayout(localRoot: string, executionId: string): WorkspaceLayout {
  assertExecutionId(executionId);
  return layoutIn(join(workspacesRoot(localRoot), executionId), executionId);
}

/**
 * The same layout under the REAL path of `<localRoot>/workspaces` (created if missing), as the
 * kernel reports mounts in /proc/self/mountinfo.
 * @throws InvalidInputError `WORKSPACE_INVALID_ID` (see {@link workspaceLayout}); fs errors
 *   when the root cannot be created.
 */
export async function realWorkspaceLayout(localRoot: string, executionId: string): Promise<WorkspaceLayout> {
  assertExecutionId(executionId);
  const root = workspacesRoot(localRoot);
  await mkdir(root, { recursive: true });
  return layoutIn(join(await realpath(root), executionId), executionId);
}

/**
 * The layout of a {@link Workspace} (its dir is the parent of `mergedDir`), as given.
 * @throws InvalidInputError `WORKSPACE_INVALID_ID`.
 */
export function layoutOf(ws: Workspace): WorkspaceLayout {
  assertExecutionId(ws.executionId);
  return layoutIn(dirname(resolve(ws.mergedDir)), ws.executionId);
}

/**
 * The layout of a {@link Workspace} through the real path of its merged dir (the path as given
 * when it no longer exists), e.g. to find its mount and its lock after a restart.
 * @throws InvalidInputError `WORKSPACE_INVALID_ID`.
 */
export async function realLayoutOf(ws: Workspace): Promise<WorkspaceLayout> {
  assertExecutionId(ws.executionId);
  const mergedDir = await realpath(ws.mergedDir).catch(() => resolve(ws.mergedDir));
  return layoutIn(dirname(mergedDir), ws.executionId);
}

/** The {@link Workspace} of a layout over `lowerDir`. */
export function toWorkspace(layout: WorkspaceLayout, lowerDir: string): Workspace {
  return { executionId: layout.executionId, lowerDir, upperDir: layout.upperDir, workDir: layout.workDir, mergedDir: layout.mergedDir };
}

/** What a driver's prepare works with: see {@link resolvePrepare}. */
export interface PrepareLayout {
  /** Paths as callers see them (returned in the {@link Workspace}; the record). */
  layout: WorkspaceLayout;
  /** The same under the real root (mount points, the copy, the lock). */
  real: WorkspaceLayout;
  /** Real path of the base snapshot. */
  lowerDir: string;
}

/**
 * Checks a driver's prepare input and resolves its paths (the real root is created if missing).
 * @throws InvalidInputError `WORKSPACE_INVALID_ID`, `WORKSPACE_INVALID_PATH`,
 *   `WORKSPACE_LOWER_MISSING` (see {@link resolveLowerDir}).
 */
export async function resolvePrepare(input: { localRoot: string; executionId: string; lowerDir: string }): Promise<PrepareLayout> {
  const layout = workspaceLayout(input.localRoot, input.executionId);
  const lowerDir = await resolveLowerDir(input.lowerDir);
  const real = await realWorkspaceLayout(input.localRoot, input.executionId);
  return { layout, real, lowerDir };
}

/**
 * The real path of a base snapshot given to a driver.
 * @throws InvalidInputError `WORKSPACE_INVALID_PATH` when not absolute; `WORKSPACE_LOWER_MISSING`
 *   when it does not exist or is not a directory.
 */
export async function resolveLowerDir(lowerDir: string): Promise<string> {
  if (!isAbsolute(lowerDir)) {
    throw new InvalidInputError('WORKSPACE_INVALID_PATH', `lowerDir must be absolute: ${lowerDir}`);
  }
  const real = await realpath(lowerDir).catch(() => {
    throw new InvalidInputError('WORKSPACE_LOWER_MISSING', `lower dir ${lowerDir} does not exist`, { details: { lowerDir } });
  });
  if (!(await isDirectory(real))) {
    throw new InvalidInputError('WORKSPACE_LOWER_MISSING', `lower dir ${real} is not a directory`, { details: { lowerDir: real } });
  }
  return real;
}

/** Whether `path` is a directory (false when missing). */
export async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}
