/**
 * Whether overlayfs can mount under a local root, and why not (docs/architecture.md "Workspaces
 * (git-gateway)": the overlay upper and work dirs must be on a local filesystem; overlayfs does
 * not support NFS or Lustre uppers). Used at startup (driver.ts selectDriver) and to explain a
 * failed mount (overlay-driver.ts).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, realpath, rm, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidInputError } from '@remediation/errors';
import { workspacesRoot } from './layout.js';
import { findMount } from './mountinfo.js';
import { OverlayMountError, overlayMounter, type OverlayMountMechanism } from './overlay-mount.js';

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

/**
 * overlay option values are split on `,` and lowerdir on `:`; `\` escapes. Refuses them.
 * @throws InvalidInputError `WORKSPACE_INVALID_PATH`.
 */
export function assertMountablePath(path: string, what: string): void {
  if (/[,:\\\n]/.test(path)) {
    throw new InvalidInputError('WORKSPACE_INVALID_PATH', `${what} ${JSON.stringify(path)} contains a character overlayfs options cannot carry (",", ":", "\\" or newline)`);
  }
}

/** One reason overlayfs cannot mount, and what to do about it. */
export interface OverlayReason {
  why: string;
  todo: string;
}

/** The {@link WorkspaceUnavailableError} for `reasons` found under `localRoot`. */
export function overlayUnavailable(localRoot: string, reasons: OverlayReason[], mountError: string, cause?: unknown): WorkspaceUnavailableError {
  const why = reasons.map((r) => r.why).join('; ');
  const todo = [...new Set(reasons.map((r) => r.todo))].join(' ');
  return new WorkspaceUnavailableError(`overlayfs cannot be mounted under ${localRoot}: ${why}. ${todo}`, {
    localRoot,
    reasons: reasons.map((r) => r.why),
    mountError: mountError.trim(),
  }, cause);
}

/** Finds why overlayfs cannot mount under `dir` (empty list = no known reason). */
export async function diagnoseOverlay(dir: string): Promise<OverlayReason[]> {
  const reasons: OverlayReason[] = [];
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
        todo: 'Point localRoot at a local filesystem (ext4, xfs, btrfs or tmpfs); docs/architecture.md "git-gateway": upper and work dirs must be local, NFS/Lustre uppers are unsupported.',
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
  /** How workspaces are mounted: mount(2) through koffi, or mount(8) processes and why. */
  mechanism: OverlayMountMechanism;
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
    const dir = workspacesRoot(localRoot);
    await mkdir(dir, { recursive: true });
    workspacesDir = await realpath(dir);
  } catch (err) {
    throw overlayUnavailable(localRoot, [{ why: `cannot create ${workspacesRoot(localRoot)}: ${(err as Error).message}`, todo: 'Make localRoot a writable local directory.' }], '', err);
  }
  const fsType = await statfs(workspacesDir).then((s) => s.type).catch(() => 0);
  const filesystem = KNOWN_FS[fsType] ?? `0x${fsType.toString(16)}`;
  const probe = join(workspacesDir, `.probe-${process.pid}-${randomBytes(4).toString('hex')}`);
  const [lower, upper, work, merged] = ['lower', 'upper', 'work', 'merged'].map((d) => join(probe, d)) as [string, string, string, string];
  try {
    assertMountablePath(probe, 'localRoot');
    for (const d of [lower, upper, work, merged]) await mkdir(d, { recursive: true });
    await writeFile(join(lower, 'probe'), 'lower\n');
    const mounter = overlayMounter();
    try {
      await mounter.mount({ lowerDir: lower, upperDir: upper, workDir: work, mergedDir: merged });
    } catch (err) {
      if (!(err instanceof OverlayMountError)) throw err;
      const reasons = await diagnoseOverlay(workspacesDir);
      if (reasons.length === 0) {
        reasons.push({ why: err.message, todo: 'Check `dmesg` for the overlayfs message and make localRoot a local ext4/xfs/tmpfs directory.' });
      }
      throw overlayUnavailable(localRoot, reasons, err.message, err);
    }
    try {
      const seen = await readFile(join(merged, 'probe'), 'utf8');
      await writeFile(join(merged, 'written'), 'upper\n');
      const landed = await readFile(join(upper, 'written'), 'utf8').catch(() => null);
      if (seen !== 'lower\n' || landed !== 'upper\n') {
        throw overlayUnavailable(localRoot, [{ why: 'the probe overlay mounted but did not behave as overlayfs (lower not visible or writes not in upper)', todo: 'Check the kernel overlayfs configuration.' }], '');
      }
    } finally {
      await mounter.unmount(merged).catch(() => undefined);
    }
    return { workspacesDir, filesystem, mechanism: mounter.mechanism };
  } finally {
    if ((await findMount(merged)) === null) await rm(probe, { recursive: true, force: true });
  }
}
