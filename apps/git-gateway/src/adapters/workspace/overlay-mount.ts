/**
 * Overlay mounts and unmounts by the mount(2) and umount2(2) system calls, called through koffi
 * (an FFI with prebuilt binaries) — no `mount`/`umount` process per workspace (decision 0025,
 * docs/benchmarks.md "Worker nodes": spawning `mount` cost ~27 ms of CPU a workspace; the kernel
 * mount itself ~0.5 ms).
 *
 * The calls are koffi async calls: they run on libuv's thread pool, so a mount whose path lookups
 * block (a lower dir on a slow network filesystem) does not stall the event loop; koffi hands the
 * worker thread's errno to the completion callback. At most {@link SYSCALLS_IN_FLIGHT} are queued
 * at once (koffi refuses more than `max_async_calls`, 256, and the kernel serialises mounts of one
 * namespace anyway).
 *
 * When libc cannot be loaded through koffi (no prebuilt binary for the platform, no
 * `libc.so.6`, e.g. musl), the same functions run `mount(8)` / `umount(8)` instead;
 * the mounter's `mechanism` says which is in use and why (logged once, at driver selection).
 */
import { execa } from 'execa';
import { createRequire } from 'node:module';
import { getSystemErrorMessage, getSystemErrorName } from 'node:util';
import pLimit from 'p-limit';

/** The dirs of one overlay mount; absolute real paths without `,`, `:`, `\` or newline (assertMountablePath). */
export interface OverlayDirs {
  lowerDir: string;
  upperDir: string;
  workDir: string;
  /** The mount point. */
  mergedDir: string;
  /** Extra overlay options, e.g. `['redirect_dir=on']`. Default none. */
  extraOptions?: string[];
}

/**
 * A mount(2)/umount2(2) call (or, in the fallback, a `mount`/`umount` process) failed.
 * `errno` is the error's name (`ENOENT`, `EBUSY`, `EPERM`, `EINVAL`, …; null when the fallback
 * process failed: mount(8) reports text, not errno); the message names the call, the errno with
 * its text and every path involved.
 */
export class OverlayMountError extends Error {
  constructor(
    readonly operation: 'mount' | 'umount',
    readonly errno: string | null,
    /** strerror(3) text of errno, or the fallback process's stderr. */
    readonly reason: string,
    /** The paths involved: `{ target }` for umount; `{ lowerdir, upperdir, workdir, target }` for mount. */
    readonly paths: Record<string, string>,
  ) {
    const syscall = errno !== null;
    const call = operation === 'mount' ? `mount(${syscall ? 2 : 8}) of overlay` : syscall ? 'umount2(2)' : 'umount(8)';
    const what = Object.entries(paths).map(([k, v]) => `${k}=${v}`).join(' ');
    super(`${call} failed: ${errno === null ? reason : `${errno} (${reason})`}; ${what}`);
    this.name = 'OverlayMountError';
  }
}

/** Which mechanism an {@link OverlayMounter} uses. */
export interface OverlayMountMechanism {
  /** `syscall`: mount(2)/umount2(2) through koffi; `process`: mount(8)/umount(8). */
  kind: 'syscall' | 'process';
  /** Why the process fallback is used (the koffi load error); absent for `syscall`. */
  fallbackReason?: string;
}

/** The most mount/umount calls queued on the thread pool at once (koffi's own cap is 256). */
export const SYSCALLS_IN_FLIGHT = 16;

/** `MNT_DETACH` (linux/fs.h): lazy unmount, the mount point is detached now, freed when unused. */
export const MNT_DETACH = 2;

type AsyncCall = (...args: unknown[]) => void;

interface Libc {
  mount: AsyncCall;
  umount2: AsyncCall;
  errno: () => number;
  pageSize: number;
}

const _SC_PAGESIZE = 30; // bits/confname.h (Linux)

function loadLibc(libraryName: string): Libc | string {
  try {
    // koffi is CommonJS with a native addon; createRequire keeps this module ESM and the load lazy.
    const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
    const lib = koffi.load(libraryName);
    const mount = lib.func('int mount(const char *source, const char *target, const char *filesystemtype, unsigned long mountflags, const char *data)');
    const umount2 = lib.func('int umount2(const char *target, int flags)');
    const sysconf = lib.func('long sysconf(int name)');
    const pageSize = Number(sysconf(_SC_PAGESIZE));
    return { mount: mount.async as AsyncCall, umount2: umount2.async as AsyncCall, errno: () => koffi.errno(), pageSize: pageSize > 0 ? pageSize : 4096 };
  } catch (err) {
    return `koffi cannot call ${libraryName} here (${(err as Error).message.split('\n')[0]})`;
  }
}

const inFlight = pLimit(SYSCALLS_IN_FLIGHT);

/** Runs an async koffi call; resolves to 0 or the errno it failed with. */
function call(fn: AsyncCall, errno: () => number, ...args: unknown[]): Promise<number> {
  return inFlight(
    () =>
      new Promise<number>((resolve, reject) => {
        fn(...args, (err: unknown, result: number) => {
          if (err !== null && err !== undefined) reject(err as Error);
          else resolve(result === 0 ? 0 : errno());
        });
      }),
  );
}

/** A process's stderr on one line. */
function oneLine(text: string): string {
  return text.trim().replace(/\s*\n\s*/g, ' ');
}

function errnoName(errno: number): string {
  try {
    return getSystemErrorName(-errno);
  } catch {
    return `errno ${errno}`;
  }
}

function errnoText(errno: number): string {
  try {
    return getSystemErrorMessage(-errno);
  } catch {
    return 'unknown error';
  }
}

/** Options of {@link unmountOverlay}. */
export interface UnmountOverlayOptions {
  /** Lazy unmount (`MNT_DETACH`, `umount -l`): detach now even when busy. Default false. */
  detach?: boolean;
}

/** Overlay mount and unmount through one libc (or the process fallback); see {@link overlayMounter}. */
export interface OverlayMounter {
  /** Which mechanism the functions below use. */
  mechanism: OverlayMountMechanism;
  /**
   * The overlay option string `lowerdir=L,upperdir=U,workdir=W[,extra…]`, checked against the
   * one page mount(2) copies from user space (the kernel cuts the data at PAGE_SIZE − 1 bytes
   * without an error, which would silently mount other dirs; fs/namespace.c path_mount).
   * @throws RangeError when the string does not fit one page (names its length and the limit).
   */
  options(dirs: OverlayDirs): string;
  /**
   * Mounts an overlay: `mount("overlay", mergedDir, "overlay", 0, options(dirs))`. All dirs
   * must exist.
   * @throws OverlayMountError with the errno (e.g. `ENOENT` for a missing lower/upper/work dir
   *   or mount point, `EPERM` without CAP_SYS_ADMIN, `EINVAL` for an upper on an unsupported
   *   filesystem or bad options) and the four paths.
   * @throws RangeError when the options do not fit one page.
   */
  mount(dirs: OverlayDirs): Promise<void>;
  /**
   * Unmounts the topmost mount at `mergedDir` by umount2(2).
   * @returns `unmounted`, or `not-mounted` when `mergedDir` is not a mount point (`EINVAL`) or
   *   does not exist (`ENOENT`).
   * @throws OverlayMountError with the errno, e.g. `EBUSY` when files are open under it (retry,
   *   or detach), `EPERM` without CAP_SYS_ADMIN.
   */
  unmount(mergedDir: string, options?: UnmountOverlayOptions): Promise<'unmounted' | 'not-mounted'>;
}

/**
 * An {@link OverlayMounter} calling mount(2)/umount2(2) of `libraryName` through koffi, or
 * mount(8)/umount(8) processes when that library cannot be loaded (its `mechanism` says so and
 * why). The process uses {@link overlayMounter}; other names are for tests of the fallback.
 */
export function createOverlayMounter(libraryName = 'libc.so.6'): OverlayMounter {
  const libc = loadLibc(libraryName);
  const mechanism: OverlayMountMechanism = typeof libc === 'string' ? { kind: 'process', fallbackReason: libc } : { kind: 'syscall' };
  const limit = (typeof libc === 'string' ? 4096 : libc.pageSize) - 1;
  const options = (dirs: OverlayDirs): string => {
    const text = [`lowerdir=${dirs.lowerDir}`, `upperdir=${dirs.upperDir}`, `workdir=${dirs.workDir}`, ...(dirs.extraOptions ?? [])].join(',');
    const length = Buffer.byteLength(text);
    if (length > limit) {
      throw new RangeError(`overlay options for ${dirs.mergedDir} are ${length} bytes, more than mount(2) takes (${limit}: one page less its terminating NUL); use shorter paths`);
    }
    return text;
  };
  return {
    mechanism,
    options,
    async mount(dirs) {
      const data = options(dirs);
      const paths = { lowerdir: dirs.lowerDir, upperdir: dirs.upperDir, workdir: dirs.workDir, target: dirs.mergedDir };
      if (typeof libc === 'string') {
        const result = await execa('mount', ['-t', 'overlay', 'overlay', '-o', data, dirs.mergedDir], { reject: false, env: { LC_ALL: 'C' } });
        if (result.exitCode !== 0) throw new OverlayMountError('mount', null, oneLine(String(result.stderr || result.message || 'mount(8) failed')), paths);
        return;
      }
      const errno = await call(libc.mount, libc.errno, 'overlay', dirs.mergedDir, 'overlay', 0, data);
      if (errno !== 0) throw new OverlayMountError('mount', errnoName(errno), errnoText(errno), paths);
    },
    async unmount(mergedDir, unmountOptions = {}) {
      const detach = unmountOptions.detach === true;
      if (typeof libc === 'string') {
        const result = await execa('umount', [...(detach ? ['-l'] : []), mergedDir], { reject: false, env: { LC_ALL: 'C' } });
        if (result.exitCode === 0) return 'unmounted';
        const stderr = oneLine(String(result.stderr || result.message || 'umount(8) failed'));
        if (/not mounted|no mount point|no such file or directory/i.test(stderr)) return 'not-mounted';
        throw new OverlayMountError('umount', null, stderr, { target: mergedDir });
      }
      const errno = await call(libc.umount2, libc.errno, mergedDir, detach ? MNT_DETACH : 0);
      if (errno === 0) return 'unmounted';
      const name = errnoName(errno);
      if (name === 'EINVAL' || name === 'ENOENT') return 'not-mounted';
      throw new OverlayMountError('umount', name, errnoText(errno), { target: mergedDir });
    },
  };
}

let shared: OverlayMounter | undefined;

/** This process's {@link OverlayMounter} over `libc.so.6`, made (koffi loaded) on first use. */
export function overlayMounter(): OverlayMounter {
  shared ??= createOverlayMounter();
  return shared;
}
