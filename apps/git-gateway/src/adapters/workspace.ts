/**
 * Execution workspaces: an overlayfs mount of a read-only base snapshot (lower) with a
 * per-execution upper/work dir on a LOCAL filesystem (ARCHITECTURE.md "git-gateway": "The
 * overlay upper and work dirs must be on a local filesystem (overlayfs does not support NFS or
 * Lustre uppers …) … Same-node restarts simply remount the existing upper … Lock each
 * execution's dirs: two mounts sharing a workdir only warn.").
 *
 * Layout under `<localRoot>/workspaces/`:
 *   `<executionId>/upper`, `<executionId>/work`, `<executionId>/merged` — the overlay dirs;
 *   `<executionId>/base.json` — `{ "lowerDir": … }`, the base the upper was made against;
 *   `<executionId>.lock` — lock file (pid record, see lock-file.ts) held while mounted by a
 *   live process; stale once that process is dead, so a restarted process takes it over.
 */
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, realpath, rm, stat, statfs, writeFile, rename } from 'node:fs/promises';
import { join, resolve, isAbsolute } from 'node:path';
import { InvalidInputError, TransientError } from '@remediation/errors';
import { acquireLockFile, adoptOwnLock, type LockHandle } from './lock-file.js';

/** A mounted workspace; all paths absolute. */
export interface Workspace {
  executionId: string;
  /** Read-only base snapshot (overlay lowerdir). */
  lowerDir: string;
  /** `<localRoot>/workspaces/<executionId>/upper`: the execution's changes. */
  upperDir: string;
  /** `<localRoot>/workspaces/<executionId>/work`: overlayfs scratch dir. */
  workDir: string;
  /** `<localRoot>/workspaces/<executionId>/merged`: the view executions read and write. */
  mergedDir: string;
}

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

/**
 * overlayfs cannot be used under the given local root. Code `OVERLAY_UNAVAILABLE`, not
 * retryable (configuration must change). `details.reasons` lists every cause found; the
 * message says why and what to do.
 */
export class WorkspaceUnavailableError extends InvalidInputError {
  constructor(message: string, details: Record<string, unknown>, cause?: unknown) {
    super('OVERLAY_UNAVAILABLE', message, { details, cause });
    this.name = 'WorkspaceUnavailableError';
  }
}

/** Filesystems (statfs f_type) overlayfs refuses or mishandles as upper. Source: linux/magic.h. */
const UNSUPPORTED_UPPER_FS: Record<number, string> = {
  0x6969: 'nfs',
  0x794c7630: 'overlayfs',
  0xff534d42: 'cifs',
  0xfe534d42: 'smb2',
  0x517b: 'smb',
  0x65735546: 'fuse',
  0x0bd00bd0: 'lustre',
  0x61756673: 'aufs',
  0xf15f: 'ecryptfs',
  0x4d44: 'vfat/msdos',
  0x5346544e: 'ntfs',
  0x9fa0: 'procfs',
  0x73636673: 'securityfs',
  0x62656572: 'sysfs',
};

const KNOWN_FS: Record<number, string> = {
  0xef53: 'ext2/3/4',
  0x58465342: 'xfs',
  0x9123683e: 'btrfs',
  0x01021994: 'tmpfs',
  0x2fc12fc1: 'zfs',
  0xf2f52010: 'f2fs',
  ...UNSUPPORTED_UPPER_FS,
};

const CAP_SYS_ADMIN = 21;

/** Validates an execution id as a safe path segment. @throws InvalidInputError `WORKSPACE_INVALID_ID`. */
export function assertExecutionId(executionId: string): void {
  if (!/^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/.test(executionId) || executionId.includes('..') || executionId.endsWith('.lock')) {
    throw new InvalidInputError('WORKSPACE_INVALID_ID', `execution id ${JSON.stringify(executionId)} is not a safe path segment ([A-Za-z0-9_][A-Za-z0-9._-]{0,127}, no "..", not ending in ".lock")`, {
      details: { executionId },
    });
  }
}

/** overlay option values are split on `,` and lowerdir on `:`; `\` escapes. Refuse them. */
function assertMountablePath(path: string, what: string): void {
  if (/[,:\\\n]/.test(path)) {
    throw new InvalidInputError('WORKSPACE_INVALID_PATH', `${what} ${JSON.stringify(path)} contains a character overlayfs options cannot carry (",", ":", "\\" or newline)`);
  }
}

/** One line of /proc/self/mountinfo. */
export interface MountEntry {
  mountPoint: string;
  fsType: string;
  source: string;
  /** Super-block options, e.g. `{ lowerdir: '/a', upperdir: '/b', workdir: '/c' }`. */
  superOptions: Record<string, string>;
}

function unescapeMountinfo(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}

/** Parses /proc/self/mountinfo (proc(5)); later entries stack over earlier ones. */
export async function readMountInfo(): Promise<MountEntry[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const [left, right] = line.split(' - ');
    if (left === undefined || right === undefined) continue;
    const fields = left.split(' ');
    const [fsType, source, superOpts] = right.split(' ');
    const superOptions: Record<string, string> = {};
    for (const opt of (superOpts ?? '').split(',')) {
      const eq = opt.indexOf('=');
      if (eq === -1) superOptions[opt] = '';
      else superOptions[opt.slice(0, eq)] = unescapeMountinfo(opt.slice(eq + 1));
    }
    entries.push({ mountPoint: unescapeMountinfo(fields[4] ?? ''), fsType: fsType ?? '', source: unescapeMountinfo(source ?? ''), superOptions });
  }
  return entries;
}

/** The topmost mount at `path` (exact mount point), or null. */
export async function findMount(path: string): Promise<MountEntry | null> {
  const entries = await readMountInfo();
  for (let i = entries.length - 1; i >= 0; i--) {
    if (entries[i]!.mountPoint === path) return entries[i]!;
  }
  return null;
}

interface Paths {
  /** Real path of `<localRoot>/workspaces` (used for mount options and mountinfo checks). */
  root: string;
  wsDir: string;
  lockPath: string;
  basePath: string;
  /** Returned to callers: under `resolve(localRoot)`, like `workspacePaths()` of libs/workspaces. */
  ws: Workspace;
  /** The same dirs under the real root, as the kernel reports them in mountinfo. */
  real: { upperDir: string; workDir: string; mergedDir: string };
}

async function pathsFor(localRoot: string, executionId: string, lowerDir: string): Promise<Paths> {
  const workspacesDir = join(resolve(localRoot), 'workspaces');
  await mkdir(workspacesDir, { recursive: true });
  const root = await realpath(workspacesDir);
  const wsDir = join(root, executionId);
  const shown = join(workspacesDir, executionId);
  return {
    root,
    wsDir,
    lockPath: join(root, `${executionId}.lock`),
    basePath: join(wsDir, 'base.json'),
    ws: {
      executionId,
      lowerDir,
      upperDir: join(shown, 'upper'),
      workDir: join(shown, 'work'),
      mergedDir: join(shown, 'merged'),
    },
    real: { upperDir: join(wsDir, 'upper'), workDir: join(wsDir, 'work'), mergedDir: join(wsDir, 'merged') },
  };
}

/** Lock handles this process holds, by lock path. */
const heldLocks = new Map<string, LockHandle>();
const inFlight = new Map<string, Promise<Workspace>>();

/**
 * Mounts (or returns the already mounted) workspace of an execution:
 * `mount -t overlay overlay -o lowerdir=L,upperdir=U,workdir=W <merged>`.
 *  - already mounted (per /proc/self/mountinfo) with the same upper and lower → returned as is;
 *  - upper exists but not mounted (process or node restart) → the existing upper is remounted,
 *    keeping the execution's edits;
 *  - the lock `<localRoot>/workspaces/<executionId>.lock` is taken (or adopted if this process
 *    wrote it, or broken if its pid is dead) and kept until {@link unmountWorkspace}.
 *
 * @returns the {@link Workspace}: upper/work/merged under `resolve(localRoot)/workspaces/<id>/`
 *   (the same paths as `workspacePaths()` of libs/workspaces), lowerDir as its real path.
 * @throws InvalidInputError `WORKSPACE_INVALID_ID` / `WORKSPACE_INVALID_PATH`;
 *   `WORKSPACE_BASE_MISMATCH` when the existing upper (or mount) was made over another lowerDir
 *   (unmount with `removeUpper: true` to rebuild); `WORKSPACE_LOWER_MISSING`.
 * @throws LockBusyError `WORKSPACE_LOCKED` (retryable) when a live process holds the lock.
 * @throws WorkspaceUnavailableError `OVERLAY_UNAVAILABLE` when overlayfs cannot mount here.
 * @throws TransientError `WORKSPACE_MOUNT_FAILED` for other mount failures.
 */
export async function mountWorkspace(input: MountWorkspaceInput): Promise<Workspace> {
  assertExecutionId(input.executionId);
  if (!isAbsolute(input.lowerDir)) {
    throw new InvalidInputError('WORKSPACE_INVALID_PATH', `lowerDir must be absolute: ${input.lowerDir}`);
  }
  const lowerDir = await realpath(input.lowerDir).catch(() => {
    throw new InvalidInputError('WORKSPACE_LOWER_MISSING', `lower dir ${input.lowerDir} does not exist`, { details: { lowerDir: input.lowerDir } });
  });
  if (!(await stat(lowerDir)).isDirectory()) {
    throw new InvalidInputError('WORKSPACE_LOWER_MISSING', `lower dir ${lowerDir} is not a directory`, { details: { lowerDir } });
  }
  const paths = await pathsFor(input.localRoot, input.executionId, lowerDir);
  for (const [what, p] of [['lowerDir', lowerDir], ['workspace dir', paths.wsDir]] as const) assertMountablePath(p, what);
  const key = paths.wsDir;
  const existing = inFlight.get(key);
  if (existing !== undefined) return existing;
  const promise = doMount(paths, input.extraOptions ?? []);
  inFlight.set(key, promise);
  try {
    return await promise;
  } finally {
    inFlight.delete(key);
  }
}

async function takeLock(lockPath: string): Promise<{ handle: LockHandle; fresh: boolean }> {
  const held = heldLocks.get(lockPath);
  if (held !== undefined) return { handle: held, fresh: false };
  const adopted = await adoptOwnLock(lockPath);
  const handle = adopted ?? (await acquireLockFile(lockPath, { waitMs: 0, busyCode: 'WORKSPACE_LOCKED' }));
  heldLocks.set(lockPath, handle);
  return { handle, fresh: adopted === null };
}

async function doMount(paths: Paths, extraOptions: string[]): Promise<Workspace> {
  const { ws, real } = paths;
  const { handle, fresh } = await takeLock(paths.lockPath);
  try {
    const recorded = await readFile(paths.basePath, 'utf8')
      .then((t) => (JSON.parse(t) as { lowerDir?: string }).lowerDir)
      .catch(() => undefined);
    if (recorded !== undefined && recorded !== ws.lowerDir) {
      throw new InvalidInputError('WORKSPACE_BASE_MISMATCH', `workspace ${ws.executionId} was created over ${recorded}, not ${ws.lowerDir}: unmount it with removeUpper to rebuild`, {
        details: { executionId: ws.executionId, recordedLowerDir: recorded, lowerDir: ws.lowerDir },
      });
    }
    const mounted = await findMount(real.mergedDir);
    if (mounted !== null) {
      if (mounted.fsType === 'overlay' && mounted.superOptions['upperdir'] === real.upperDir && mounted.superOptions['lowerdir'] === ws.lowerDir) {
        return ws;
      }
      throw new InvalidInputError('WORKSPACE_BASE_MISMATCH', `${ws.mergedDir} is already mounted (${mounted.fsType}, lowerdir=${mounted.superOptions['lowerdir'] ?? '?'}) with other dirs`, {
        details: { executionId: ws.executionId, mount: mounted },
      });
    }
    await mkdir(real.upperDir, { recursive: true });
    await mkdir(real.workDir, { recursive: true });
    await mkdir(real.mergedDir, { recursive: true });
    if (recorded === undefined) {
      const tmp = `${paths.basePath}.tmp-${randomBytes(4).toString('hex')}`;
      await writeFile(tmp, JSON.stringify({ lowerDir: ws.lowerDir }));
      await rename(tmp, paths.basePath);
    }
    const options = [`lowerdir=${ws.lowerDir}`, `upperdir=${real.upperDir}`, `workdir=${real.workDir}`, ...extraOptions].join(',');
    const result = await execa('mount', ['-t', 'overlay', 'overlay', '-o', options, real.mergedDir], { reject: false, env: { LC_ALL: 'C' } });
    if (result.exitCode !== 0) {
      const stderr = String(result.stderr ?? result.message ?? '');
      const reasons = await diagnoseOverlay(paths.root);
      if (reasons.length > 0) throw unavailable(paths.root, reasons, stderr);
      throw new TransientError('WORKSPACE_MOUNT_FAILED', `mounting workspace ${ws.executionId} failed: ${stderr.trim().split('\n')[0] ?? 'unknown error'}`, {
        details: { executionId: ws.executionId, options, stderr },
      });
    }
    return ws;
  } catch (err) {
    if (fresh) {
      heldLocks.delete(paths.lockPath);
      await handle.release();
    }
    throw err;
  }
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
 * @throws TransientError `WORKSPACE_BUSY` when the mount stays busy (open files) after retries.
 * @throws LockBusyError `WORKSPACE_LOCKED` when another live process holds the execution.
 */
export async function unmountWorkspace(ws: Workspace, options: UnmountOptions = {}): Promise<void> {
  assertExecutionId(ws.executionId);
  const mergedDir = await realpath(ws.mergedDir).catch(() => resolve(ws.mergedDir));
  const wsDir = resolve(mergedDir, '..');
  const lockPath = `${wsDir}.lock`;
  const { handle } = await takeLock(lockPath);
  let lastError = '';
  for (let attempt = 0; attempt < 10; attempt++) {
    if ((await findMount(mergedDir)) === null) {
      lastError = '';
      break;
    }
    const result = await execa('umount', [mergedDir], { reject: false, env: { LC_ALL: 'C' } });
    lastError = String(result.stderr ?? '');
    if (result.exitCode === 0) continue;
    await new Promise((r) => setTimeout(r, 100 * (attempt + 1)));
  }
  if (lastError !== '' && (await findMount(mergedDir)) !== null) {
    throw new TransientError('WORKSPACE_BUSY', `cannot unmount workspace ${ws.executionId}: ${lastError.trim()}`, {
      details: { executionId: ws.executionId, mergedDir: ws.mergedDir, stderr: lastError },
    });
  }
  if (options.removeUpper === true) {
    await rm(wsDir, { recursive: true, force: true });
  }
  heldLocks.delete(lockPath);
  await handle.release();
}

function unavailable(localRoot: string, reasons: Reason[], mountStderr: string, cause?: unknown): WorkspaceUnavailableError {
  const why = reasons.map((r) => r.why).join('; ');
  const todo = [...new Set(reasons.map((r) => r.todo))].join(' ');
  return new WorkspaceUnavailableError(`overlayfs cannot be mounted under ${localRoot}: ${why}. ${todo}`, {
    localRoot,
    reasons: reasons.map((r) => r.why),
    mountStderr: mountStderr.trim(),
  }, cause);
}

interface Reason {
  why: string;
  todo: string;
}

/** Finds why overlayfs cannot mount under `dir` (empty list = no known reason). */
async function diagnoseOverlay(dir: string): Promise<Reason[]> {
  const reasons: Reason[] = [];
  const filesystems = await readFile('/proc/filesystems', 'utf8').catch(() => '');
  if (!/\toverlay$/m.test(filesystems)) {
    reasons.push({
      why: 'the kernel does not list "overlay" in /proc/filesystems',
      todo: 'Load the module on the node (`modprobe overlay`) or use a kernel built with CONFIG_OVERLAY_FS.',
    });
  }
  const status = await readFile('/proc/self/status', 'utf8').catch(() => '');
  const capEff = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  const hasSysAdmin = capEff === undefined ? process.getuid?.() === 0 : (BigInt(`0x${capEff}`) >> BigInt(CAP_SYS_ADMIN)) & 1n;
  if (!hasSysAdmin) {
    reasons.push({
      why: `the process (uid ${process.getuid?.() ?? '?'}) lacks CAP_SYS_ADMIN, which mount(2) needs`,
      todo: 'Run git-gateway as root with CAP_SYS_ADMIN (container: --cap-add SYS_ADMIN, or privileged).',
    });
  }
  try {
    const fs = await statfs(dir);
    const name = UNSUPPORTED_UPPER_FS[fs.type];
    if (name !== undefined) {
      reasons.push({
        why: `${dir} is on ${name} (statfs type 0x${fs.type.toString(16)}), which overlayfs does not support for upper/work dirs`,
        todo: 'Point localRoot at a local filesystem (ext4, xfs, btrfs or tmpfs); ARCHITECTURE.md "git-gateway": upper and work dirs must be local, NFS/Lustre uppers are unsupported.',
      });
    }
  } catch (err) {
    reasons.push({ why: `cannot statfs ${dir}: ${(err as Error).message}`, todo: 'Make localRoot an existing writable directory.' });
  }
  return reasons;
}

/** Result of {@link checkOverlaySupport}. */
export interface OverlaySupport {
  /** Real path of `<localRoot>/workspaces`. */
  workspacesDir: string;
  /** Filesystem of localRoot (`ext2/3/4`, `xfs`, `tmpfs`, … or `0x…`). */
  filesystem: string;
}

/**
 * Startup capability check: mounts a tiny overlay under `<localRoot>/workspaces/.probe-*`,
 * writes through it, checks the write landed in the upper dir, unmounts and cleans up.
 * @returns where workspaces will live and the filesystem found there.
 * @throws WorkspaceUnavailableError `OVERLAY_UNAVAILABLE` whose message says why (no overlay
 *   in the kernel, no CAP_SYS_ADMIN / not root, upper on NFS/overlay/FUSE/…, mount error text)
 *   and what to do.
 */
export async function checkOverlaySupport(localRoot: string): Promise<OverlaySupport> {
  let workspacesDir: string;
  try {
    const dir = join(resolve(localRoot), 'workspaces');
    await mkdir(dir, { recursive: true });
    workspacesDir = await realpath(dir);
  } catch (err) {
    throw unavailable(localRoot, [{ why: `cannot create ${join(localRoot, 'workspaces')}: ${(err as Error).message}`, todo: 'Make localRoot a writable local directory.' }], '', err);
  }
  const fsType = await statfs(workspacesDir).then((s) => s.type).catch(() => 0);
  const filesystem = KNOWN_FS[fsType] ?? `0x${fsType.toString(16)}`;
  const probe = join(workspacesDir, `.probe-${process.pid}-${randomBytes(4).toString('hex')}`);
  const [lower, upper, work, merged] = ['lower', 'upper', 'work', 'merged'].map((d) => join(probe, d)) as [string, string, string, string];
  try {
    assertMountablePath(probe, 'localRoot');
    for (const d of [lower, upper, work, merged]) await mkdir(d, { recursive: true });
    await writeFile(join(lower, 'probe'), 'lower\n');
    const result = await execa('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${upper},workdir=${work}`, merged], {
      reject: false,
      env: { LC_ALL: 'C' },
    });
    if (result.exitCode !== 0) {
      const stderr = String(result.stderr ?? result.message ?? '');
      const reasons = await diagnoseOverlay(workspacesDir);
      if (reasons.length === 0) {
        reasons.push({ why: `mount(8) failed: ${stderr.trim().split('\n')[0] ?? 'unknown error'}`, todo: 'Check `dmesg` for the overlayfs message and make localRoot a local ext4/xfs/tmpfs directory.' });
      }
      throw unavailable(localRoot, reasons, stderr);
    }
    try {
      const seen = await readFile(join(merged, 'probe'), 'utf8');
      await writeFile(join(merged, 'written'), 'upper\n');
      const landed = await readFile(join(upper, 'written'), 'utf8').catch(() => null);
      if (seen !== 'lower\n' || landed !== 'upper\n') {
        throw unavailable(localRoot, [{ why: 'the probe overlay mounted but did not behave as overlayfs (lower not visible or writes not in upper)', todo: 'Check the kernel overlayfs configuration.' }], '');
      }
    } finally {
      await execa('umount', [merged], { reject: false });
    }
    return { workspacesDir, filesystem };
  } finally {
    if ((await findMount(merged)) === null) await rm(probe, { recursive: true, force: true });
  }
}
