import { type FSWatcher, readFileSync, statfsSync, watch } from 'node:fs';
import { join } from 'node:path';

/**
 * File systems whose changes the kernel's inotify reports however they are made (`statfs`
 * `f_type`, linux/magic.h): ext2/3/4, XFS, Btrfs, tmpfs, overlayfs, ZFS, F2FS, ramfs. Not network
 * or user-space file systems (NFS, SMB, FUSE, 9p, Ceph…): inotify sees only the changes made
 * through this host's own mount of them (inotify(7), "Limitations and caveats").
 */
const LOCAL_FILE_SYSTEMS: ReadonlySet<number> = new Set([
  0xef53, // ext2/ext3/ext4
  0x58465342, // xfs
  0x9123683e, // btrfs
  0x01021994, // tmpfs
  0x794c7630, // overlayfs
  0x2fc12fc1, // zfs
  0xf2f52010, // f2fs
  0x858458f6, // ramfs
]);

/** `/proc/sys/fs/inotify/max_queued_events` (inotify(7)): events the kernel queues per instance before it drops them. */
function kernelEventQueue(): number {
  try {
    const n = Number.parseInt(readFileSync('/proc/sys/fs/inotify/max_queued_events', 'utf8'), 10);
    return Number.isFinite(n) && n > 0 ? n : 16_384;
  } catch {
    return 16_384; // the kernel's default
  }
}

/**
 * Whether inotify can be trusted for `dir`: Linux, and a local file system (see
 * {@link LOCAL_FILE_SYSTEMS}). False when `dir` cannot be stat'ed.
 */
export function canWatchFolder(dir: string): boolean {
  if (process.platform !== 'linux') return false;
  try {
    return LOCAL_FILE_SYSTEMS.has(Number(statfsSync(dir).type));
  } catch {
    return false;
  }
}

/** What a {@link OsvFolderWatch} saw since it was last taken from (see {@link OsvFolderWatch.take}). */
export interface FolderChanges {
  /** `*.json` paths some event named (changed, added, removed or renamed). */
  paths: Set<string>;
  /** Events received (the kernel merges identical consecutive ones). */
  events: number;
  /** An entry of the top folder other than a `*.json` file was named (a subfolder added, removed or renamed; the top folder itself moved): the folder list may have changed. */
  folders: boolean;
  /** A watcher failed or could not be started (its message): changes may have been missed. */
  failed: string | undefined;
}

/** Empty changes. */
export function noFolderChanges(): FolderChanges {
  return { paths: new Set(), events: 0, folders: false, failed: undefined };
}

/** `a` with `b` added (a new object; `a` is not changed). */
export function mergeFolderChanges(a: FolderChanges, b: FolderChanges): FolderChanges {
  const paths = new Set(a.paths);
  for (const p of b.paths) paths.add(p);
  return { paths, events: a.events + b.events, folders: a.folders || b.folders, failed: a.failed ?? b.failed };
}

/**
 * Watches the folders of an OSV directory (the top one and its immediate subfolders: the layout
 * `OsvDirectoryLister` lists) with node's `fs.watch`, which is the kernel's inotify on Linux: an
 * event per entry created, written, truncated, attribute-changed, deleted or renamed in a watched
 * folder (inotify(7); libuv's mask), named by the entry. Collects the named `*.json` paths until
 * {@link take}.
 *
 * The kernel drops events when more than `max_queued_events` (default 16,384) wait to be read,
 * and node does not report that: {@link overflowAt} is half that queue, and a caller should treat
 * so many events as "anything may have changed". libuv reads one inotify instance per event loop
 * for every `fs.watch` of the process: the count holds while nothing else in the process watches
 * files (nothing in the planner does).
 *
 * What inotify does not report (inotify(7)): writes through `mmap`, and changes to a file made
 * through a hard link or symlink located outside the watched folders. OSV mirrors write their
 * files in place or by rename, which it reports. Watchers do not keep the process alive
 * (`persistent: false`). Events are read in the event loop's poll phase: changes completed before
 * a caller awaits two `setImmediate`s in a row (the second resolves only after a whole poll
 * phase, wherever the first was called) are in the next {@link take}.
 */
export class OsvFolderWatch {
  private watchers: FSWatcher[] = [];
  private changes: FolderChanges = noFolderChanges();
  /** Incremented by every {@link restart}: a caller compares it to know the watch ran without a gap. */
  private generation = 0;
  /** Events that may mean an overflowed kernel queue: half of `max_queued_events`. */
  readonly overflowAt: number;

  constructor(overflowAt = Math.floor(kernelEventQueue() / 2)) {
    this.overflowAt = overflowAt;
  }

  /** Changes with one generation are seen without a gap since that generation's {@link restart}. */
  get epoch(): number {
    return this.generation;
  }

  /** Closes every watcher and forgets what was collected; a new epoch begins. */
  restart(): void {
    this.close();
    this.generation++;
    this.changes = noFolderChanges();
  }

  /**
   * Starts watching `folder` (after {@link restart}: the top folder first, then each subfolder,
   * each before its names are read). A watcher that cannot be started (e.g. `ENOSPC`: the user's
   * inotify watches are used up), or a folder on a file system {@link canWatchFolder} does not
   * trust, is recorded as `failed`, not thrown.
   * @param top true for the top folder: events naming anything but a `*.json` file there mean
   *   the folder list may have changed.
   */
  add(folder: string, top: boolean): void {
    try {
      if (!LOCAL_FILE_SYSTEMS.has(Number(statfsSync(folder).type))) {
        // A subfolder mounted from another file system (NFS, FUSE…) than the top one.
        this.changes.failed ??= `${folder} is not on a local file system: inotify may not report its changes`;
        return;
      }
      const watcher = watch(folder, { persistent: false, encoding: 'utf8' }, (_event, name) => {
        this.changes.events++;
        if (name === null || name === undefined) {
          this.changes.failed ??= `an event in ${folder} named no entry`;
          return;
        }
        if (name.endsWith('.json')) this.changes.paths.add(join(folder, name));
        else if (top) this.changes.folders = true;
      });
      watcher.on('error', (err: Error) => {
        this.changes.failed ??= `watching ${folder} failed: ${err.message}`;
      });
      this.watchers.push(watcher);
    } catch (err) {
      this.changes.failed ??= `cannot watch ${folder}: ${(err as Error).message}`;
    }
  }

  /** What was collected since the last take (or restart), and starts collecting anew. */
  take(): FolderChanges {
    const taken = this.changes;
    this.changes = noFolderChanges();
    return taken;
  }

  /** Closes every watcher (the epoch stays; {@link restart} begins a new one). */
  close(): void {
    for (const w of this.watchers) w.close();
    this.watchers = [];
  }
}
