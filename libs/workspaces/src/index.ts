import { readFile, writeFile, rename } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { z } from 'zod';

/**
 * Where an execution's workspace lives on the local root, shared by git-gateway (which mounts
 * it) and the patcher (which edits files in `mergedDir`). Everything is addressable from the
 * execution id.
 */
export interface WorkspacePaths {
  root: string;
  upperDir: string;
  workDir: string;
  mergedDir: string;
  /** JSON metadata written by git-gateway once the workspace is mounted. */
  infoFile: string;
}

const SAFE_SEGMENT = /^[A-Za-z0-9_.-]+$/;

/**
 * Paths of the workspace of `executionId` under `localRoot`:
 * `<localRoot>/workspaces/<executionId>/{upper,work,merged,workspace.json}`.
 * @throws Error when the execution id is not a safe path segment.
 */
export function workspacePaths(localRoot: string, executionId: string): WorkspacePaths {
  if (!SAFE_SEGMENT.test(executionId) || executionId.startsWith('.')) {
    throw new Error(`execution id ${JSON.stringify(executionId)} is not a safe path segment`);
  }
  const root = join(resolve(localRoot), 'workspaces', executionId);
  return {
    root,
    upperDir: join(root, 'upper'),
    workDir: join(root, 'work'),
    mergedDir: join(root, 'merged'),
    infoFile: join(root, 'workspace.json'),
  };
}

/** What git-gateway records about a mounted workspace. */
export const WorkspaceInfo = z.object({
  executionId: z.string(),
  /** Read-only base snapshot (the overlay lower dir). */
  lowerDir: z.string(),
  baseCommit: z.string().regex(/^[0-9a-f]{40}$/),
  baseBranch: z.string(),
  /** Workspace driver: `overlay` (upper over a read-only lower), or `copy` where overlayfs cannot mount. */
  driver: z.enum(['overlay', 'copy']),
  mountedAt: z.string(),
});
export type WorkspaceInfo = z.infer<typeof WorkspaceInfo>;

/** Writes the workspace info atomically (temp file + rename). */
export async function writeWorkspaceInfo(paths: WorkspacePaths, info: WorkspaceInfo): Promise<void> {
  const tmp = `${paths.infoFile}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await writeFile(tmp, JSON.stringify(info, null, 2));
  await rename(tmp, paths.infoFile);
}

/**
 * Reads the workspace info.
 * @throws Error naming the file when it is missing or malformed (workspace not prepared).
 */
export async function readWorkspaceInfo(paths: WorkspacePaths): Promise<WorkspaceInfo> {
  let text: string;
  try {
    text = await readFile(paths.infoFile, 'utf8');
  } catch (err) {
    throw new Error(`workspace not prepared: ${paths.infoFile} is missing`, { cause: err });
  }
  return WorkspaceInfo.parse(JSON.parse(text));
}
