/**
 * Test fixture for src/adapters/workspace/checkpoint.spec.ts (kill -9 recovery), run as a
 * separate process:
 *   `node --import tsx apps/git-gateway/test-support/checkpoint-child.ts '<json ChildPlan>'`
 * (cwd = the repository root, so tsx resolves the tsconfig path aliases).
 *
 * It prepares the workspace with the named driver, applies `beforeCheckpoint` edits, checkpoints,
 * applies `afterCheckpoint` edits WITHOUT checkpointing, prints one JSON line
 * `{"event":"ready","pid":…,"checkpoint":"<sha>","changedPaths":[…]}` on stdout and then waits
 * to be killed (SIGKILL by the test). On failure it prints `{"event":"error","message":…}` and
 * exits 1. Not used in production.
 */
import { chmod, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { checkpointWorkspace, driverByName, type WorkspaceDriverName } from '../src/adapters/workspace/index.js';

/** Edits applied in order: writes (creating parent dirs), symlinks, removals (rm -rf), chmod +x. */
export interface ChildEdits {
  write?: Record<string, string>;
  symlink?: Record<string, string>;
  remove?: string[];
  chmodX?: string[];
}

/** The JSON argument of the child. */
export interface ChildPlan {
  driver: WorkspaceDriverName;
  localRoot: string;
  executionId: string;
  lowerDir: string;
  mirrorPath: string;
  baseCommit: string;
  ref: string;
  beforeCheckpoint: ChildEdits;
  afterCheckpoint: ChildEdits;
}

/** Applies {@link ChildEdits} under `root` (also used by the spec to mirror the child's edits). */
export async function applyEdits(root: string, edits: ChildEdits): Promise<void> {
  for (const [path, content] of Object.entries(edits.write ?? {})) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
  }
  for (const [path, target] of Object.entries(edits.symlink ?? {})) {
    await rm(join(root, path), { force: true, recursive: true });
    await mkdir(dirname(join(root, path)), { recursive: true });
    await symlink(target, join(root, path));
  }
  for (const path of edits.remove ?? []) await rm(join(root, path), { force: true, recursive: true });
  for (const path of edits.chmodX ?? []) await chmod(join(root, path), 0o755);
}

async function main(): Promise<void> {
  const plan = JSON.parse(process.argv[2] ?? '{}') as ChildPlan;
  const driver = driverByName(plan.driver);
  const ws = await driver.prepare({ localRoot: plan.localRoot, executionId: plan.executionId, lowerDir: plan.lowerDir });
  await applyEdits(ws.mergedDir, plan.beforeCheckpoint);
  const result = await checkpointWorkspace({ mirrorPath: plan.mirrorPath, baseCommit: plan.baseCommit, ws, driver, ref: plan.ref });
  await applyEdits(ws.mergedDir, plan.afterCheckpoint);
  process.stdout.write(`${JSON.stringify({ event: 'ready', pid: process.pid, checkpoint: result.sha, changedPaths: result.changedPaths })}\n`);
  setInterval(() => undefined, 60_000); // wait for SIGKILL
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stdout.write(`${JSON.stringify({ event: 'error', message: err instanceof Error ? err.message : String(err) })}\n`);
    process.exit(1);
  });
}
