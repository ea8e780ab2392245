/**
 * Workspace checkpoints and recovery (docs/architecture.md "git-gateway": "the overlay upper and work
 * dirs must be on a local filesystem … Recovery therefore checkpoints the upper into a
 * work-in-progress commit on a ref in the mirror (cheap: O(changed files)); a new node rebuilds
 * the workspace from base snapshot + checkpoint. Same-node restarts simply remount the existing
 * upper.").
 *
 * A checkpoint is one commit `base + driver.changes(ws)` made with the commitChanges plumbing
 * (the changed files hashed, the tree edited from the base tree, commit-tree), whose
 * parent is always the base commit (not the previous checkpoint), anchored by a checkpoint ref,
 * e.g. `refs/remediations/<rem>/<kind>.<n>/checkpoint` ({@link checkpointRef}). The ref moves
 * with compare-and-set. Its message carries a `Checkpoint-Instance: <id>` trailer naming the
 * local workspace instance that wrote it.
 *
 * Restore never clones or fetches: it reads only the mirror (objects already there, anchored by
 * the ref) and the persistent base snapshot.
 *
 * What this module keeps in the workspace record (metadata.ts, deleted with the workspace):
 *   `checkpoint` — `{ instanceId, lastCheckpointSha }`: the local workspace's identity (new for
 *     every freshly built workspace) and the last checkpoint it wrote or was restored from. Used
 *     to tell whether an existing local workspace is at least as new as the ref;
 *   `restorePending` — present while a checkpoint is being applied; a workspace found with it is
 *     an interrupted restore and is rebuilt.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, rmdir } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseExecutionId } from '@remediation/contracts';
import { InvalidInputError, isRemediationError } from '@remediation/errors';
import { commitChanges, readCommitAt, type CommitAuthor } from '../commit.js';
import { git } from '../git.js';
import { updateRefs } from '../long-lived-git.js';
import { ensureRawAttributes } from '../mirror.js';
import { localWorkspaceDriver } from './driver.js';
import { layoutOf, toWorkspace, workspaceLayout, type Workspace } from './layout.js';
import { assertExecutionLockFree, singleFlight } from './lock.js';
import { driverMismatch, readWorkspaceRecord, updateWorkspaceRecord } from './metadata.js';
import type { WorkspaceDriver } from './types.js';
import type { UpperScan } from './upper-changes.js';

/** Default identity of checkpoint commits (they are never pushed). */
export const CHECKPOINT_AUTHOR: CommitAuthor = { name: 'git-gateway checkpoint', email: 'checkpoint@git-gateway.invalid' };

const INSTANCE_TRAILER = 'Checkpoint-Instance';

/**
 * The checkpoint ref of an execution: `refs/remediations/<remediationId>/<kind>.<n>/checkpoint`
 * (a sibling of the patch refs `…/<kind>.<n>/v<version>`).
 * @throws InvalidInputError `CHECKPOINT_INVALID_EXECUTION` for a malformed execution id.
 */
export function checkpointRef(executionId: string): string {
  const parsed = parseExecutionId(executionId);
  if (parsed === null) {
    throw new InvalidInputError('CHECKPOINT_INVALID_EXECUTION', `malformed execution id: ${executionId}`, { details: { executionId } });
  }
  return `refs/remediations/${parsed.remediationId}/${parsed.kind}.${parsed.seq}/checkpoint`;
}

function newInstanceId(): string {
  return `${hostname().replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 40)}-${process.pid}-${randomBytes(6).toString('hex')}`;
}

async function instanceOfCommit(mirrorPath: string, sha: string): Promise<string | null> {
  const { stdout } = await git(['show', '-s', '--format=%B', sha], { gitDir: mirrorPath });
  const match = new RegExp(`^${INSTANCE_TRAILER}: (\\S+)$`, 'm').exec(stdout);
  return match?.[1] ?? null;
}

function refConflict(ref: string, current: string | null, expected: string | null): InvalidInputError {
  return new InvalidInputError('REF_CONFLICT', `checkpoint ref ${ref} is at ${current ?? '(absent)'}, expected ${expected ?? '(absent)'}`, {
    details: { ref, current, expected },
  });
}

/** Input of {@link checkpointWorkspace}. */
export interface CheckpointWorkspaceInput {
  /** Bare mirror holding `baseCommit`; receives the checkpoint objects and ref. */
  mirrorPath: string;
  /** Full id of the commit the workspace's lower dir was extracted from. */
  baseCommit: string;
  /** The prepared workspace (from `driver.prepare` or {@link restoreWorkspace}). */
  ws: Workspace;
  /** The driver that prepared `ws`. */
  driver: WorkspaceDriver;
  /** Full checkpoint ref, e.g. {@link checkpointRef}(executionId). */
  ref: string;
  /**
   * Compare-and-set: `null` = the ref must be absent; a sha = the ref must point there (the
   * previous checkpoint). `undefined` (default) = whatever the ref holds now (read first; the
   * update is still atomic against that value).
   */
  expectedOldSha?: string | null;
  /** Default {@link CHECKPOINT_AUTHOR}. */
  author?: CommitAuthor;
  /** Subject line; default `checkpoint <executionId>`. The instance trailer is appended. */
  message?: string;
  /** Commit date; default now. */
  date?: Date;
}

/** Entries that cannot be committed and were left out of a checkpoint. */
export interface CheckpointSkipped {
  /** `.git` paths (see readUpperChanges). */
  forbidden: string[];
  /** fifos, sockets, devices. */
  unsupported: UpperScan['unsupported'];
}

/** Result of {@link checkpointWorkspace}. */
export type CheckpointResult =
  | {
      /** The checkpoint commit (parent: baseCommit) now at `ref`. */
      sha: string;
      tree: string;
      /** Paths differing between base and the checkpoint, sorted. */
      changedPaths: string[];
      /** True when the ref already held a commit with this tree (nothing written). */
      reused: boolean;
      /** What the ref held before (null = created). */
      previousSha: string | null;
      skipped: CheckpointSkipped;
      /** Wall time of the call, ms. */
      durationMs: number;
    }
  | {
      /** No changes (or changes that leave the base tree as is): nothing to checkpoint. */
      sha: null;
      changedPaths: [];
      previousSha: string | null;
      /** True when a previous checkpoint ref existed and was deleted (CAS) so restore yields the base. */
      refDeleted: boolean;
      skipped: CheckpointSkipped;
      durationMs: number;
    };

/**
 * Commits the workspace's current changes (`driver.changes(ws)`, O(changed files) with the
 * overlay driver) onto `baseCommit` and moves `ref` there with compare-and-set. Each checkpoint
 * holds ALL changes since the base (its parent is the base), so only the latest one matters.
 *
 * No changes (or a tree equal to the base's): returns `{ sha: null }` and DELETES the ref if it
 * exists (CAS against the value read / `expectedOldSha`), so that a later restore yields the
 * base rather than edits the workspace no longer has. Calling twice without edits in between
 * returns the same sha with `reused: true` and writes nothing.
 *
 * `.git` paths and fifos/sockets/devices are left out (reported in `skipped`; the patch guard
 * fails on them at commit time). When a file vanishes between the scan and the commit (an
 * execution still editing), the scan is retried up to 3 times.
 *
 * @returns {@link CheckpointResult}.
 * @throws InvalidInputError `REF_CONFLICT` when the ref is not at `expectedOldSha` or moved
 *   during the call; `REF_INVALID`; `COMMIT_NOT_FOUND` (base not in the mirror);
 *   `PATCH_PATH_MISSING` when files keep vanishing (see commit.ts).
 * @throws TransientError `WORKSPACE_NOT_READY` (workspace not mounted/prepared);
 *   GitCommandError (retryable) for other git failures.
 */
export async function checkpointWorkspace(input: CheckpointWorkspaceInput): Promise<CheckpointResult> {
  const started = performance.now();
  const wsDir = layoutOf(input.ws).dir;
  const local = (await readWorkspaceRecord(wsDir))?.checkpoint ?? { instanceId: newInstanceId(), lastCheckpointSha: null };
  const current = await readCommitAt(input.mirrorPath, input.ref);
  const currentSha = current?.sha ?? null;
  if (input.expectedOldSha !== undefined && input.expectedOldSha !== currentSha) {
    throw refConflict(input.ref, currentSha, input.expectedOldSha);
  }
  const subject = input.message ?? `checkpoint ${input.ws.executionId}`;
  const message = `${subject.trimEnd()}\n\nWork in progress of execution ${input.ws.executionId}; never pushed.\n\n${INSTANCE_TRAILER}: ${local.instanceId}\n`;
  let skipped: CheckpointSkipped = { forbidden: [], unsupported: [] };

  const noChanges = async (): Promise<CheckpointResult> => {
    let refDeleted = false;
    if (currentSha !== null) {
      const del = await updateRefs(input.mirrorPath, [{ op: 'delete', ref: input.ref, oldSha: currentSha }]);
      if (!del.ok) {
        const now = await readCommitAt(input.mirrorPath, input.ref);
        if (now !== null) throw refConflict(input.ref, now.sha, currentSha);
      }
      refDeleted = true;
    }
    await updateWorkspaceRecord(wsDir, { checkpoint: { instanceId: local.instanceId, lastCheckpointSha: null } });
    return { sha: null, changedPaths: [], previousSha: currentSha, refDeleted, skipped, durationMs: performance.now() - started };
  };

  for (let attempt = 0; ; attempt++) {
    const scan = await input.driver.changes(input.ws);
    skipped = { forbidden: scan.forbidden, unsupported: scan.unsupported };
    if (scan.changes.length === 0) return noChanges();
    try {
      const commit = await commitChanges({
        mirrorPath: input.mirrorPath,
        baseCommit: input.baseCommit,
        mergedDir: input.ws.mergedDir,
        changes: scan.changes,
        ref: input.ref,
        message,
        author: input.author ?? CHECKPOINT_AUTHOR,
        ...(input.date === undefined ? {} : { date: input.date }),
        expectedOldSha: currentSha,
      });
      await updateWorkspaceRecord(wsDir, { checkpoint: { instanceId: local.instanceId, lastCheckpointSha: commit.sha } });
      return {
        sha: commit.sha,
        tree: commit.tree,
        changedPaths: commit.changedPaths,
        reused: commit.reused,
        previousSha: currentSha,
        skipped,
        durationMs: performance.now() - started,
      };
    } catch (err) {
      if (isRemediationError(err) && err.code === 'PATCH_EMPTY') return noChanges();
      if (isRemediationError(err) && err.code === 'PATCH_PATH_MISSING' && attempt < 2) continue;
      throw err;
    }
  }
}

/**
 * Deletes a checkpoint ref (e.g. when the execution committed its patch or was cancelled), so
 * its commit can be garbage-collected. Compare-and-set when `expectedOldSha` is given.
 * @returns the sha the ref pointed at, or null when it was already absent.
 * @throws InvalidInputError `REF_CONFLICT` when the ref is not at `expectedOldSha`.
 */
export async function deleteCheckpoint(input: { mirrorPath: string; ref: string; expectedOldSha?: string }): Promise<string | null> {
  const current = await readCommitAt(input.mirrorPath, input.ref);
  if (current === null) return null;
  if (input.expectedOldSha !== undefined && input.expectedOldSha !== current.sha) throw refConflict(input.ref, current.sha, input.expectedOldSha);
  const del = await updateRefs(input.mirrorPath, [{ op: 'delete', ref: input.ref, oldSha: current.sha }]);
  if (!del.ok) {
    const now = await readCommitAt(input.mirrorPath, input.ref);
    if (now !== null) throw refConflict(input.ref, now.sha, current.sha);
  }
  return current.sha;
}

/** Input of {@link restoreWorkspace}. */
export interface RestoreWorkspaceInput {
  /** Local root of workspaces (as for `driver.prepare`). */
  localRoot: string;
  executionId: string;
  /** The base snapshot of `baseCommit` (ensureBaseSnapshot; persistent). */
  lowerDir: string;
  /** Bare mirror holding `baseCommit` and the checkpoint (persistent). */
  mirrorPath: string;
  /** Full id of the execution's base commit. */
  baseCommit: string;
  /** Checkpoint ref (as given to {@link checkpointWorkspace}). */
  ref: string;
  /** The driver of this node (selectDriver). */
  driver: WorkspaceDriver;
}

/** Result of {@link restoreWorkspace}. */
export interface RestoreWorkspaceResult {
  /** The prepared workspace (lock held, as after `driver.prepare`). */
  ws: Workspace;
  /**
   * `existing`: this node's workspace (upper/copy) was resumed as is — it holds every edit,
   *   checkpointed or not (overlay: remounted if the mount was gone);
   * `checkpoint`: a fresh workspace was built from the base snapshot and the checkpoint's diff
   *   (edits after the checkpoint are lost);
   * `empty`: no local workspace and no checkpoint: a fresh workspace equal to the base.
   */
  restoredFrom: 'existing' | 'checkpoint' | 'empty';
  /** The checkpoint ref's commit at restore time, or null when the ref is absent. */
  checkpointSha: string | null;
  /**
   * Why a local workspace was thrown away before rebuilding: `stale` (the ref holds a
   * checkpoint written by another workspace instance after this one, e.g. on another node),
   * `interrupted-restore` (a previous restore died midway), `incomplete` (dirs without a
   * usable workspace). null when nothing was discarded.
   */
  discarded: 'stale' | 'interrupted-restore' | 'incomplete' | null;
  /** Paths written / deleted when applying the checkpoint (0 unless `checkpoint`). */
  applied: { written: number; deleted: number };
  /** Wall time of the call, ms. */
  durationMs: number;
}

const restoreOnce = singleFlight<RestoreWorkspaceResult>();

/**
 * Gives an execution its workspace back after a crash, restart or move to another node:
 *  1. a local workspace of this driver exists (same node after a process restart) and is not
 *     older than the checkpoint ref (the ref is absent, or was written by / restored into this
 *     very workspace instance) → `driver.prepare` resumes it (overlay: an existing mount is
 *     reused, or the existing upper is remounted) → `existing`, with all edits including the
 *     uncheckpointed ones;
 *  2. otherwise (another node, wiped local root, a stale or half-restored local workspace) → a
 *     fresh workspace over the base snapshot, then the checkpoint's diff against the base is
 *     applied into the merged view: removed paths deleted (emptied parent dirs pruned), added/
 *     changed paths written with their mode, symlink target or submodule dir by
 *     `git checkout-index -f` from a temporary index holding only the changed entries
 *     (O(changed files); bytes verbatim through the mirror's raw attributes) → `checkpoint`;
 *     or `empty` when there is no checkpoint.
 * Never clones or fetches; the objects come from the mirror, where the ref anchors them.
 * Concurrent calls for one execution in this process share one restore.
 *
 * @returns {@link RestoreWorkspaceResult}.
 * @throws InvalidInputError `CHECKPOINT_BASE_MISMATCH` when the checkpoint's parent is not
 *   `baseCommit`; `WORKSPACE_DRIVER_MISMATCH` when the local workspace was made by another
 *   driver (its record says which; its edits are not silently dropped); everything
 *   `driver.prepare` throws.
 * @throws LockBusyError `WORKSPACE_LOCKED` when another live process holds the execution.
 * @throws GitCommandError (retryable) when reading the checkpoint from the mirror fails.
 */
export async function restoreWorkspace(input: RestoreWorkspaceInput): Promise<RestoreWorkspaceResult> {
  const layout = workspaceLayout(input.localRoot, input.executionId);
  return restoreOnce(layout.dir, () => doRestore(input, layout.dir, layout.lockFile));
}

async function doRestore(input: RestoreWorkspaceInput, wsDir: string, lockFile: string): Promise<RestoreWorkspaceResult> {
  const started = performance.now();
  const { driver } = input;
  const ckpt = await readCommitAt(input.mirrorPath, input.ref);
  if (ckpt !== null && (ckpt.parents.length !== 1 || ckpt.parents[0] !== input.baseCommit)) {
    throw new InvalidInputError(
      'CHECKPOINT_BASE_MISMATCH',
      `checkpoint ${input.ref} (${ckpt.sha}) was made over ${ckpt.parents.join(',') || '(no parent)'}, not ${input.baseCommit}`,
      { details: { ref: input.ref, sha: ckpt.sha, parents: ckpt.parents, baseCommit: input.baseCommit } },
    );
  }
  await assertExecutionLockFree(lockFile);
  const prepareInput = { localRoot: input.localRoot, executionId: input.executionId, lowerDir: input.lowerDir };
  const done = (ws: Workspace, restoredFrom: RestoreWorkspaceResult['restoredFrom'], discarded: RestoreWorkspaceResult['discarded'], applied = { written: 0, deleted: 0 }): RestoreWorkspaceResult => ({
    ws,
    restoredFrom,
    checkpointSha: ckpt?.sha ?? null,
    discarded,
    applied,
    durationMs: performance.now() - started,
  });

  let discarded: RestoreWorkspaceResult['discarded'] = null;
  if (existsSync(wsDir)) {
    const record = await readWorkspaceRecord(wsDir);
    const pending = record?.restorePending !== undefined;
    const maker = await localWorkspaceDriver(prepareInput);
    if (maker !== null && maker !== driver) {
      // Another driver's workspace holds edits this driver cannot resume: do not drop them.
      throw driverMismatch(input.executionId, maker.name, driver.name);
    }
    if (maker === driver) {
      if (!pending) {
        const local = record?.checkpoint ?? null;
        const upToDate =
          ckpt === null ||
          (local !== null && (local.lastCheckpointSha === ckpt.sha || (await instanceOfCommit(input.mirrorPath, ckpt.sha)) === local.instanceId));
        if (upToDate) {
          const ws = await driver.prepare(prepareInput);
          if (local === null) await updateWorkspaceRecord(wsDir, { checkpoint: { instanceId: newInstanceId(), lastCheckpointSha: null } });
          return done(ws, 'existing', null);
        }
      }
      discarded = pending ? 'interrupted-restore' : 'stale';
    } else {
      discarded = 'incomplete';
    }
    await driver.release(toWorkspace(workspaceLayout(input.localRoot, input.executionId), input.lowerDir), { removeUpper: true });
    await rm(wsDir, { recursive: true, force: true });
  }

  await mkdir(wsDir, { recursive: true });
  if (ckpt !== null) await updateWorkspaceRecord(wsDir, { restorePending: { ref: input.ref, sha: ckpt.sha, startedAt: new Date().toISOString(), pid: process.pid } });
  const ws = await driver.prepare(prepareInput);
  const instanceId = newInstanceId();
  if (ckpt === null) {
    await updateWorkspaceRecord(wsDir, { checkpoint: { instanceId, lastCheckpointSha: null } });
    return done(ws, 'empty', discarded);
  }
  const applied = await applyCheckpoint(input.mirrorPath, input.baseCommit, ckpt.sha, ws.mergedDir);
  await updateWorkspaceRecord(wsDir, { checkpoint: { instanceId, lastCheckpointSha: ckpt.sha }, restorePending: undefined });
  return done(ws, 'checkpoint', discarded, applied);
}

interface RawDiffEntry {
  newMode: string;
  newOid: string;
  status: string;
  path: string;
}

/** `git diff-tree -r -z --no-renames --raw base sha`, parsed. */
async function diffTree(mirrorPath: string, base: string, sha: string): Promise<RawDiffEntry[]> {
  const { stdout } = await git(['diff-tree', '-r', '-z', '--no-renames', '--raw', base, sha], { gitDir: mirrorPath });
  const parts = stdout.split('\0');
  const entries: RawDiffEntry[] = [];
  for (let i = 0; i + 1 < parts.length; i += 2) {
    const meta = parts[i]!;
    if (!meta.startsWith(':')) break;
    const [, newMode = '', , newOid = '', status = ''] = meta.slice(1).split(' ');
    entries.push({ newMode, newOid, status: status.charAt(0), path: parts[i + 1]! });
  }
  return entries;
}

/**
 * Makes a fresh merged view (equal to `base`) equal to `sha`: deletes, then one
 * `checkout-index -f -a` of a temporary index holding only the added/changed entries.
 */
async function applyCheckpoint(mirrorPath: string, base: string, sha: string, mergedDir: string): Promise<{ written: number; deleted: number }> {
  const entries = await diffTree(mirrorPath, base, sha);
  const deletes = entries.filter((e) => e.status === 'D');
  const writes = entries.filter((e) => e.status !== 'D');
  for (const entry of deletes) {
    await rm(join(mergedDir, entry.path), { recursive: true, force: true });
    await pruneEmptyParents(mergedDir, entry.path);
  }
  if (writes.length > 0) {
    await ensureRawAttributes(mirrorPath);
    const tmp = await mkdtemp(join(tmpdir(), 'git-gateway-restore-'));
    try {
      const env = { GIT_INDEX_FILE: join(tmp, 'index') };
      await git(['update-index', '--add', '-z', '--index-info'], {
        gitDir: mirrorPath,
        env,
        input: writes.map((w) => `${w.newMode} ${w.newOid}\t${w.path}\0`).join(''),
      });
      await git(
        ['-c', 'core.symlinks=true', '-c', 'core.fileMode=true', '-c', 'core.autocrlf=false', '-c', 'core.eol=lf', '--work-tree', mergedDir, 'checkout-index', '-f', '-a'],
        { gitDir: mirrorPath, cwd: mergedDir, env },
      );
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }
  return { written: writes.length, deleted: deletes.length };
}

/** Removes the now-empty parent dirs of a deleted path (git does not track empty dirs). */
async function pruneEmptyParents(mergedDir: string, path: string): Promise<void> {
  const parts = path.split('/');
  for (let n = parts.length - 1; n > 0; n--) {
    const dir = join(mergedDir, ...parts.slice(0, n));
    const left = await readdir(dir).catch(() => null);
    if (left === null || left.length > 0) return;
    await rmdir(dir).catch(() => undefined);
  }
}
