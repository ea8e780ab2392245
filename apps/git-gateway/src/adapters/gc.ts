import { existsSync } from 'node:fs';
import { readdir, realpath, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { git } from './git.js';
import { overlayMounter } from './workspace/overlay-mount.js';
import { readWorkspaceRecord, workspaceLayout, workspacesRoot, type WorkspaceLayout } from './workspace/index.js';

/** What one GC pass removed, for logs and metrics. */
export interface GcReport {
  /** Execution ids whose workspaces were released. */
  workspaces: string[];
  /** `<repoKey>/<commit>` of removed base snapshots. */
  snapshots: string[];
  /** Mirrors `git gc` ran on. */
  mirrors: string[];
}

/** Marks a base snapshot as used now (its GC clock restarts). */
export async function touchSnapshot(snapshotDir: string): Promise<void> {
  const marker = `${snapshotDir}.used`;
  const now = new Date();
  try {
    await utimes(marker, now, now);
  } catch {
    await writeFile(marker, '');
  }
}

/** Layouts of the workspace dirs under `<localRoot>/workspaces` (entries that are no execution's are skipped). */
async function workspaceDirs(localRoot: string): Promise<WorkspaceLayout[]> {
  const root = workspacesRoot(localRoot);
  if (!existsSync(root)) return [];
  const layouts: WorkspaceLayout[] = [];
  for (const entry of await readdir(root, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
    try {
      layouts.push(workspaceLayout(localRoot, entry.name));
    } catch {
      // not an execution id: not a workspace dir (nothing of ours to collect)
    }
  }
  return layouts;
}

/** Real path of `path` (itself when it cannot be resolved). */
const realOrResolved = (path: string): Promise<string> => realpath(path).catch(() => resolve(path));

/**
 * Releases workspaces of executions that ended more than `retentionMs` ago: unmounts the overlay
 * and deletes upper, work and merged dirs. `endedAt(executionId)` answers from the database:
 * the execution's completion time, or null while it is not terminal (kept).
 */
export async function collectWorkspaces(options: {
  localRoot: string;
  retentionMs: number;
  endedAt: (executionId: string) => Promise<Date | null>;
  now?: Date;
}): Promise<string[]> {
  const now = options.now ?? new Date();
  const released: string[] = [];
  for (const layout of await workspaceDirs(options.localRoot)) {
    const ended = await options.endedAt(layout.executionId);
    if (!ended || now.getTime() - ended.getTime() < options.retentionMs) continue;
    const merged = await realOrResolved(layout.mergedDir);
    await unmount(merged);
    await rm(layout.dir, { recursive: true, force: true });
    await rm(layout.lockFile, { force: true });
    released.push(layout.executionId);
  }
  return released;
}

/** umount2(2) of `path` (nothing when it is not a mount point), lazily (MNT_DETACH, `umount -l`) when it is busy. */
async function unmount(path: string): Promise<void> {
  await overlayMounter()
    .unmount(path)
    .catch(() => overlayMounter().unmount(path, { detach: true }));
}

/**
 * Removes base snapshots not used for `unusedForMs` (by the `<snapshot>.used` marker, or the
 * snapshot's own mtime when it has none) and not the lower dir of any workspace still present.
 */
export async function collectSnapshots(options: { dataRoot: string; localRoot: string; unusedForMs: number; now?: Date }): Promise<string[]> {
  const root = join(resolve(options.dataRoot), 'snapshots');
  if (!existsSync(root)) return [];
  const now = options.now ?? new Date();
  const inUse = new Set<string>();
  for (const layout of await workspaceDirs(options.localRoot)) {
    // No record (yet), or an unreadable one: that workspace names no snapshot.
    const lowerDir = (await readWorkspaceRecord(layout.dir))?.lowerDir;
    if (lowerDir !== undefined) inUse.add(await realOrResolved(lowerDir));
  }
  const removed: string[] = [];
  for (const repoKey of await readdir(root)) {
    const repoDir = join(root, repoKey);
    if (!(await stat(repoDir)).isDirectory()) continue;
    for (const commit of await readdir(repoDir)) {
      if (!/^[0-9a-f]{40,64}$/.test(commit)) continue;
      const snap = join(repoDir, commit);
      if (inUse.has(await realOrResolved(snap))) continue;
      const marker = `${snap}.used`;
      const last = (await stat(existsSync(marker) ? marker : snap)).mtime;
      if (now.getTime() - last.getTime() < options.unusedForMs) continue;
      await rm(snap, { recursive: true, force: true });
      await rm(marker, { force: true });
      await rm(`${snap}.index`, { force: true }); // the prebuilt index older versions kept (decision 0022)
      removed.push(`${repoKey}/${commit}`);
    }
  }
  return removed;
}

/**
 * Runs `git gc --auto` on every mirror. Objects reachable from a ref are never pruned by git, and
 * every commit the gateway makes is anchored by a ref under `refs/remediations/`, so patch
 * versions and checkpoints survive; unreachable objects go after git's default grace period.
 */
export async function collectMirrors(options: { dataRoot: string }): Promise<string[]> {
  const root = join(resolve(options.dataRoot), 'mirrors');
  if (!existsSync(root)) return [];
  const done: string[] = [];
  for (const m of await readdir(root)) {
    if (!m.endsWith('.git')) continue;
    await git(['gc', '--auto', '--quiet'], { gitDir: join(root, m) });
    done.push(m);
  }
  return done;
}
