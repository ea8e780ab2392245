/**
 * The copy driver, the fallback where overlayfs cannot mount (no CAP_SYS_ADMIN, local root on
 * NFS/FUSE/overlayfs, no overlay module): the snapshot is copied into
 * `<localRoot>/workspaces/<executionId>/merged` with `cp -a --reflink=auto` (a Node copy keeping
 * symlinks, modes and timestamps when `cp` is missing); there is no upper layer. Prepare costs
 * a full copy (O(repository), cheap only with reflinks on btrfs/xfs); changes are found by a
 * walk of the copy against the snapshot (upper-changes.ts readCopyChanges).
 *
 * In the workspace dir (layout.ts): `merged/` — the copy; `.copy-tmp-*` — a copy in progress
 * (renamed to `merged` when complete); `.copy-done` — the marker whose ctime is recorded. The
 * workspace record (metadata.ts) gets `driver: copy`, the lowerDir and `copyDoneCtimeNs` last:
 * their presence means the copy is complete (a copy interrupted by a crash is redone).
 * The returned `upperDir`/`workDir` do NOT exist for a copy workspace: read its changes with
 * `copyDriver.changes()`, never with readUpperChanges.
 */
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { cp, mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { TransientError, isRemediationError } from '@remediation/errors';
import { isDirectory, layoutOf, realLayoutOf, resolvePrepare, toWorkspace, workspaceLayout, type PrepareLayout, type Workspace } from './layout.js';
import { dropExecutionLock, holdExecutionLock, prepareUnderLock, singleFlight } from './lock.js';
import { assertRecordMatches, readWorkspaceRecord, updateWorkspaceRecord, type WorkspaceRecord } from './metadata.js';
import type { PrepareWorkspaceInput, WorkspaceDriver } from './types.js';
import { readCopyChanges } from './upper-changes.js';

/** Whether the record describes a complete copy (see the module comment). */
function isCompleteCopy(record: WorkspaceRecord | null): record is WorkspaceRecord & { copyDoneCtimeNs: string } {
  return record?.driver === 'copy' && record.copyDoneCtimeNs !== undefined;
}

/** Copies `from/.` into the existing empty dir `to`, keeping symlinks, modes and timestamps. */
async function copyTree(from: string, to: string): Promise<void> {
  const result = await execa('cp', ['-a', '--reflink=auto', '--', `${from}/.`, `${to}/`], { reject: false, env: { LC_ALL: 'C' } });
  if (result.exitCode === 0) return;
  const notCp = (result as { code?: string }).code === 'ENOENT' || /unrecognized option|invalid option/i.test(String(result.stderr ?? ''));
  if (!notCp) {
    throw new TransientError('WORKSPACE_COPY_FAILED', `copying ${from} failed: ${String(result.stderr ?? result.message ?? '').trim().split('\n')[0] ?? 'unknown error'}`, {
      details: { from, to, stderr: String(result.stderr ?? '') },
    });
  }
  // No GNU cp: Node's copy (modes via copyFile, symlinks verbatim, ms-precision timestamps).
  await rm(to, { recursive: true, force: true });
  await cp(from, to, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true, errorOnExist: false, force: true });
}

const prepareOnce = singleFlight<Workspace>();

async function prepareCopy(input: PrepareWorkspaceInput): Promise<Workspace> {
  const paths = await resolvePrepare(input);
  return prepareOnce(paths.real.dir, async () => {
    try {
      return await prepareUnderLock(paths.real.lockFile, () => doPrepareCopy(paths));
    } catch (err) {
      if (isRemediationError(err)) throw err;
      throw new TransientError('WORKSPACE_COPY_FAILED', `preparing copy workspace ${input.executionId} failed: ${(err as Error).message}`, {
        details: { executionId: input.executionId },
        cause: err,
      });
    }
  });
}

async function doPrepareCopy({ layout, real, lowerDir }: PrepareLayout): Promise<Workspace> {
  const ws = toWorkspace(layout, lowerDir);
  const record = await readWorkspaceRecord(layout.dir);
  assertRecordMatches(record, { executionId: ws.executionId, driver: 'copy', lowerDir });
  await mkdir(real.dir, { recursive: true });
  // We hold the lock: any temp copy is a leftover of a dead process.
  for (const entry of await readdir(real.dir)) {
    if (entry.startsWith('.copy-tmp-') || entry === '.copy-done') await rm(join(real.dir, entry), { recursive: true, force: true });
  }
  if (isCompleteCopy(record) && (await isDirectory(real.mergedDir))) return ws;
  // Absent or interrupted between the rename and the record below: (re)copy from scratch.
  await rm(real.mergedDir, { recursive: true, force: true });
  const tmp = join(real.dir, `.copy-tmp-${randomBytes(4).toString('hex')}`);
  await mkdir(tmp);
  await copyTree(lowerDir, tmp);
  const marker = join(real.dir, '.copy-done');
  await writeFile(marker, '');
  const doneCtime = (await stat(marker, { bigint: true })).ctimeNs;
  await rename(tmp, real.mergedDir);
  await updateWorkspaceRecord(layout.dir, { driver: 'copy', lowerDir, copyDoneCtimeNs: doneCtime.toString() });
  await rm(marker, { force: true });
  return ws;
}

/**
 * The copy driver (see the module comment for the layout and upper-changes.ts readCopyChanges
 * for how changes are found). Same lock semantics as the overlay driver; `prepare` copies the
 * lower dir once and later resumes the complete copy.
 */
export const copyDriver: WorkspaceDriver = {
  name: 'copy',
  prepare: prepareCopy,
  async release(ws, options) {
    const real = await realLayoutOf(ws);
    if (!(await isDirectory(dirname(real.dir)))) return; // no workspaces dir: nothing to release
    await holdExecutionLock(real.lockFile);
    if (options.removeUpper) await rm(real.dir, { recursive: true, force: true });
    await dropExecutionLock(real.lockFile);
  },
  async changes(ws) {
    const layout = layoutOf(ws);
    const record = await readWorkspaceRecord(layout.dir);
    if (!isCompleteCopy(record) || !(await isDirectory(ws.mergedDir))) {
      throw new TransientError('WORKSPACE_NOT_READY', `copy workspace ${ws.executionId} is not prepared (no complete copy in ${layout.dir})`, {
        details: { executionId: ws.executionId, mergedDir: ws.mergedDir },
      });
    }
    return readCopyChanges({ lowerDir: record.lowerDir ?? ws.lowerDir, mergedDir: ws.mergedDir, copyDoneCtimeNs: BigInt(record.copyDoneCtimeNs) });
  },
  async isReady(ws) {
    return isCompleteCopy(await readWorkspaceRecord(layoutOf(ws).dir)) && (await isDirectory(ws.mergedDir));
  },
  async exists(input) {
    const layout = workspaceLayout(input.localRoot, input.executionId);
    return isCompleteCopy(await readWorkspaceRecord(layout.dir)) && (await isDirectory(layout.mergedDir));
  },
};
