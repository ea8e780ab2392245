import { lstatSync, readFileSync, statSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { inflateSync } from 'fflate';
import { InvalidInputError, TransientError } from '@remediation/errors';
import { checkOsvRecord, parseOsvRecord } from './osv-directory.js';
import { canWatchFolder, type FolderChanges, mergeFolderChanges, noFolderChanges, OsvFolderWatch } from './osv-folder-watch.js';
import type { OsvRecord } from './osv-schema.js';

/**
 * One record a source lists, before its schema check: the importer compares `id` and `modified`
 * with what it stores and calls `record()` only for records it will write (a full OSV folder or
 * archive holds hundreds of thousands of records, nearly all unchanged between syncs).
 */
export interface ListedOsvRecord {
  /** `id` as written. */
  id: string;
  /** `modified` as written (RFC 3339 when the record is valid). */
  modified: string;
  /** The file or archive entry, named in errors. */
  where: string;
  /**
   * The schema-checked record.
   * @throws InvalidInputError `ADVISORY_INVALID` naming `where` and the field.
   */
  record(): OsvRecord;
}

/**
 * Parses one OSV record's JSON and reads `id` and `modified` only; the schema check is deferred to
 * `record()` (see {@link ListedOsvRecord}).
 * @throws InvalidInputError `ADVISORY_INVALID` naming `where` when the text is not JSON, or when `id`
 *   or `modified` is not a string (then naming the schema's complaint).
 */
export function listOsvRecord(text: string, where: string): ListedOsvRecord {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new InvalidInputError('ADVISORY_INVALID', `${where} is not valid JSON: ${(err as Error).message}`, { cause: err, details: { file: where } });
  }
  const fields = (json ?? {}) as { id?: unknown; modified?: unknown };
  if (typeof fields.id !== 'string' || typeof fields.modified !== 'string') {
    const checked = checkOsvRecord(json, where); // throws, naming the field
    return { id: checked.id, modified: checked.modified, where, record: () => checked };
  }
  return { id: fields.id, modified: fields.modified, where, record: () => checkOsvRecord(json, where) };
}

/**
 * Files read or stat'ed per slice. File work is synchronous within a slice and yields to the event
 * loop between slices (each slice blocks it for a few ms): async `stat`/`readFile` cost one to four
 * thread-pool round trips per file, and over 200,000 small files took 3–8× as long (stat of 200,000
 * files: 1.7 s async with 32 in flight, 0.55 s sliced; read + JSON.parse: 16 s vs 1.8 s).
 */
const FILES_PER_SLICE = 500;

/** Runs `fn` over `items` synchronously in slices of `FILES_PER_SLICE`, yielding to the event loop between slices. */
async function forEachSliced<T>(items: readonly T[], fn: (item: T, index: number) => void): Promise<void> {
  for (let start = 0; start < items.length; start += FILES_PER_SLICE) {
    const end = Math.min(items.length, start + FILES_PER_SLICE);
    for (let i = start; i < end; i++) fn(items[i]!, i);
    if (end < items.length) await yieldToEventLoop();
  }
}

/**
 * One file's text.
 * @throws InvalidInputError `ADVISORY_SOURCE_UNREADABLE` naming the file when it cannot be read.
 */
function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new InvalidInputError('ADVISORY_SOURCE_UNREADABLE', `cannot read ${file}: ${(err as Error).message}`, { cause: err, details: { file } });
  }
}

/** A folder's identity and timestamps (nanoseconds), read before its names. */
interface FolderStamp {
  dev: bigint;
  ino: bigint;
  /** Birth time (statx; 0 where the file system keeps none): a new folder that got a freed inode number differs here. */
  birthNs: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

/**
 * How far (ms) a folder's mtime must lie before the start of a listing for its names to be reused
 * by the next listing when its stamp is unchanged. File systems round timestamps (Linux: to the
 * kernel's coarse clock tick, a few ms; FAT: 2 s), so an entry added just after `readdir` may
 * leave the mtime as it was; an mtime older than the listing's start by more than the rounding
 * cannot be the time of a later change (git's "racy" index entries, the same rule).
 */
const RACY_FOLDER_MS = 2_000;

/** One folder's names as last read: reused while its stamp is unchanged (see {@link RACY_FOLDER_MS}). */
interface FolderNames {
  stamp: FolderStamp;
  /** The stamp lay before the listing's start by more than {@link RACY_FOLDER_MS}: an unchanged stamp means unchanged names. */
  settled: boolean;
  /** `*.json` files at this folder's level (paths), and for the top folder its subfolders' names. */
  files: string[];
  folders: string[];
}

/**
 * A folder's stamp.
 * @throws InvalidInputError `ADVISORY_SOURCE_UNREADABLE` when it cannot be stat'ed.
 */
function folderStamp(dir: string): FolderStamp {
  try {
    const st = statSync(dir, { bigint: true });
    return { dev: st.dev, ino: st.ino, birthNs: st.birthtimeNs, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs };
  } catch (err) {
    throw new InvalidInputError('ADVISORY_SOURCE_UNREADABLE', `cannot read OSV directory ${dir}: ${(err as Error).message}`, { cause: err, details: { dir } });
  }
}

/** The same folder (device, inode and birth time: not one replaced by another of the same name, nor a symlink now pointing elsewhere). */
const sameFolder = (a: FolderStamp, b: FolderStamp): boolean => a.dev === b.dev && a.ino === b.ino && a.birthNs === b.birthNs;
const sameStamp = (a: FolderStamp, b: FolderStamp): boolean => sameFolder(a, b) && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;

/**
 * The `*.json` files of an OSV directory: at the top level and in its immediate subfolders (OSV's
 * per-ecosystem layout, e.g. `osv/npm/…`, `osv/PyPI/…`), in `readdir` order. A folder whose
 * stamp (inode, mtime, ctime) equals the one in `known` and was settled then is not read again:
 * adding, removing or renaming an entry changes its folder's mtime and ctime (POSIX), rewriting a
 * file in place does not (the caller stats files for that). Assumes a local clock that is not
 * stepped back and a file system that sets folder times from it.
 * @param known the folders as of the last listing, by path (none: every folder is read).
 * @param startedMs `Date.now()` at the start of this listing.
 * @param beforeFolder called with each folder (the top one first) before its stamp is read.
 * @returns the files and every folder's names as now read or reused (the `known` of the next listing).
 * @throws InvalidInputError `ADVISORY_SOURCE_UNREADABLE` when `dir` cannot be read.
 */
async function osvDirectoryFiles(
  dir: string,
  known: ReadonlyMap<string, FolderNames> | undefined,
  startedMs: number,
  beforeFolder?: (folder: string, top: boolean) => void,
): Promise<{ files: string[]; folders: Map<string, FolderNames>; read: number }> {
  const folders = new Map<string, FolderNames>();
  let read = 0;
  const settledBefore = BigInt(startedMs - RACY_FOLDER_MS) * 1_000_000n;
  const names = async (folder: string, top: boolean): Promise<FolderNames> => {
    beforeFolder?.(folder, top);
    const stamp = folderStamp(folder);
    const prior = known?.get(folder);
    if (prior?.settled && sameStamp(prior.stamp, stamp)) return prior;
    read++;
    const settled = stamp.mtimeNs < settledBefore && stamp.ctimeNs < settledBefore;
    try {
      if (!top) {
        // Names only (no dirent per file): a folder of 200,000 records. A `*.json` that is not a file is skipped by its stat.
        return { stamp, settled, files: (await readdir(folder)).filter((n) => n.endsWith('.json')).map((n) => `${folder}/${n}`), folders: [] };
      }
      const entries = await readdir(folder, { withFileTypes: true });
      return {
        stamp,
        settled,
        files: entries.filter((e) => e.isFile() && e.name.endsWith('.json')).map((e) => join(folder, e.name)),
        folders: entries.filter((e) => e.isDirectory()).map((e) => join(folder, e.name)),
      };
    } catch (err) {
      throw new InvalidInputError('ADVISORY_SOURCE_UNREADABLE', `cannot read OSV directory ${folder}: ${(err as Error).message}`, {
        cause: err,
        details: { dir: folder },
      });
    }
  };
  const top = await names(dir, true);
  folders.set(dir, top);
  const files = [...top.files];
  for (const sub of top.folders) {
    const own = await names(sub, false);
    folders.set(sub, own);
    for (const f of own.files) files.push(f);
  }
  return { files, folders, read };
}

/**
 * Reads and schema-checks every OSV record of a directory (see {@link OsvDirectoryLister} for the
 * layout), withdrawn ones included (the importer decides). Sorted by path.
 * @throws InvalidInputError `ADVISORY_SOURCE_UNREADABLE` when `dir` cannot be read; `ADVISORY_INVALID`
 *   naming the file for a file that is not an OSV record.
 */
export async function readOsvDirectoryRecords(dir: string): Promise<OsvRecord[]> {
  const files = (await osvDirectoryFiles(dir, undefined, Date.now())).files.sort();
  const records: OsvRecord[] = new Array<OsvRecord>(files.length);
  await forEachSliced(files, (file, i) => {
    records[i] = parseOsvRecord(readText(file), file);
  });
  return records;
}

/**
 * How a listing of {@link OsvDirectoryLister.list} chose the files to stat: `watched`, only the
 * files the folder watch named since the committed listing; otherwise every file, because of:
 * - `first`: no committed listing to compare with (the first listing reads every file);
 * - `off`: watching is not used (turned off, not Linux, or a file system whose changes inotify
 *   may not see: see `canWatchFolder`);
 * - `restarted`: the watch began after the committed listing (a listing of every file since was
 *   not committed, or the lister was closed);
 * - `folders`: the top folder is another one than at the committed listing (a symlinked `dir`
 *   swapped), or it holds other subfolders (added, removed, replaced; checked when the watch
 *   named something other than a `*.json` file in it);
 * - `overflow`: as many events as the kernel may have dropped some of (`OsvFolderWatch.overflowAt`);
 * - `failed`: a watcher failed or could not be started, or a subfolder is on a file system inotify
 *   may not see changes of;
 * - `expired`: the last listing of every file is older than `fullListingMs`.
 */
export type OsvListingScope = 'watched' | 'first' | 'off' | 'restarted' | 'folders' | 'overflow' | 'failed' | 'expired';

/** One listing of {@link OsvDirectoryLister.list}. */
export interface OsvDirectoryListing {
  /** The records of the files read (all of them on a complete listing), unchecked. Sorted by path. */
  records: ListedOsvRecord[];
  /** Every file was read: a record the importer holds from this source and not listed was removed. */
  complete: boolean;
  /** Incremental listing: ids whose every file is gone since the base listing (or now carries another id). */
  removed: string[];
  /** Files looked at (stat'ed) and read. */
  files: { seen: number; read: number };
  /** Folders (the top one and its subfolders) and how many of them were read (`readdir`) rather than reused (0 when `watched`). */
  folders: { seen: number; read: number };
  /** Which files were stat'ed, and why every file when not `watched`. */
  scope: OsvListingScope;
  /** Why the folder watch failed, when `scope` is `failed`. */
  watchError?: string;
  /** Makes this listing the base of the next one: call once its records are stored. */
  commit(): void;
}

/** What a committed listing knew: per file (same index) its size, mtime and id; per folder its names. */
interface ListerBase {
  files: string[];
  /** -1 where the file was gone or not a file at its stat. */
  size: Float64Array;
  mtimeMs: Float64Array;
  id: Array<string | undefined>;
  folders: Map<string, FolderNames>;
  /** The folder watch's epoch when this listing began (changes since are in the watch); undefined without a watch. */
  epoch: number | undefined;
  /** `Date.now()` at the start of the last listing that stat'ed every file (this one or an earlier one). */
  fullAt: number;
  /** Each file's index, built by the first watched listing of this base and shared with the bases after it. */
  index: Map<string, number> | undefined;
}

/** Options of {@link OsvDirectoryLister}. */
export interface OsvDirectoryListerOptions {
  /**
   * Watch the folders (`OsvFolderWatch`, inotify) so that a listing after a committed one stats
   * only the files named since (`scope: 'watched'`). Default true; used only where
   * `canWatchFolder` holds (Linux, a local file system).
   */
  watch?: boolean;
  /**
   * A listing stats every file when the last one that did began longer ago than this, ms: a bound
   * on how long a change the watch missed stays unseen. Default 21,600,000 (6 h; the planner's
   * `OSV_DIR_FULL_LISTING_MS`). 0: every listing stats every file.
   */
  fullListingMs?: number;
  /** Events after which a listing stats every file (default: half the kernel's `max_queued_events`); for tests. */
  watchOverflowAt?: number;
}

/**
 * Lists an OSV directory (`*.json` at the top level and in immediate subfolders, OSV's
 * per-ecosystem layout) incrementally within one process: the first listing reads every file
 * (`complete`); once committed, a listing reads only the files whose size or mtime changed since
 * the committed one (or that are new), and names the ids whose files are gone.
 *
 * Which files a later listing stats: where the folders can be watched (Linux, a local file system;
 * decision 0030), only those the kernel named in an event since the committed listing began;
 * otherwise, and whenever the watch may have missed something (see {@link OsvListingScope}),
 * every file. A listing of every file reads a folder's names again only when the folder's inode,
 * mtime or ctime changed (or were too recent to trust: see `osvDirectoryFiles`; decision 0026);
 * files rewritten in place are found by their own stat. A file rewritten with the same size
 * within the file system's mtime resolution is missed until its next change (mtimes have
 * nanosecond resolution on ext4/xfs; node gives `mtimeMs` with a fraction).
 */
export class OsvDirectoryLister {
  private base: ListerBase | undefined;
  private readonly watch: OsvFolderWatch | undefined;
  /** Changes taken from the watch by listings not committed yet: the next listing stats them again. */
  private pending: FolderChanges = noFolderChanges();
  private readonly fullListingMs: number;

  constructor(
    readonly dir: string,
    options: OsvDirectoryListerOptions = {},
  ) {
    this.fullListingMs = options.fullListingMs ?? 21_600_000;
    this.watch = (options.watch ?? true) && canWatchFolder(dir) ? new OsvFolderWatch(options.watchOverflowAt) : undefined;
  }

  /**
   * @throws InvalidInputError `ADVISORY_SOURCE_UNREADABLE` when `dir` cannot be read; `ADVISORY_INVALID`
   *   naming the file for a file that is not JSON or has no string `id`/`modified`.
   */
  async list(): Promise<OsvDirectoryListing> {
    const startedMs = Date.now();
    const base = this.base;
    let changes = this.pending;
    if (this.watch) {
      // The watch's events are read in the event loop's poll phase. One setImmediate called from
      // within a poll phase (e.g. after an awaited fs call) resolves in that same iteration's
      // check phase, before another poll: the second one resolves only after a whole poll phase.
      await yieldToEventLoop();
      await yieldToEventLoop();
      changes = mergeFolderChanges(changes, this.watch.take());
      this.pending = changes;
    }
    const scope = await this.scopeOf(base, changes, startedMs);
    const listing = scope === 'watched' ? this.listWatched(base!, changes) : await this.listAll(base, startedMs, scope);
    const used = this.pending;
    return {
      ...listing.result,
      ...(scope === 'failed' && changes.failed ? { watchError: changes.failed } : {}),
      commit: () => {
        // Only onto the base this listing compared with: a late or second commit would move the base back.
        if (this.base !== base) return;
        if (listing.next.index !== undefined && listing.added.length > 0) for (const [path, i] of listing.added) listing.next.index.set(path, i);
        this.base = listing.next;
        if (this.pending === used) this.pending = noFolderChanges();
      },
    };
  }

  /** Stops watching the folders. A later listing stats every file (`restarted`) and watches them again. */
  close(): void {
    this.watch?.restart(); // closes the watchers; a new epoch, so no listing trusts the closed ones
  }

  /** Which files this listing stats (see {@link OsvListingScope}); the folders are checked only when nothing earlier decided. */
  private async scopeOf(base: ListerBase | undefined, changes: FolderChanges, startedMs: number): Promise<OsvListingScope> {
    if (base === undefined) return 'first';
    if (this.watch === undefined) return 'off';
    if (base.epoch !== this.watch.epoch) return 'restarted';
    if (changes.failed !== undefined) return 'failed';
    if (!(await this.sameFolders(base, changes.folders))) return 'folders';
    if (changes.events >= this.watch.overflowAt) return 'overflow';
    if (startedMs - base.fullAt >= this.fullListingMs) return 'expired';
    return 'watched';
  }

  /**
   * Whether the folders are those of `base`: the top folder is the same one (device and inode: a
   * symlinked `dir` swapped to another target is not, and no watched folder sees that), and, when
   * the watch named something other than a `*.json` file in it (`named`), it holds the same
   * subfolders, each the same one. An attribute change of a subfolder (`rsync -a` sets their
   * mtimes) or a top-level non-JSON file is named too, and changes nothing. False when a folder
   * cannot be read (a listing of every file then reports it).
   */
  private async sameFolders(base: ListerBase, named: boolean): Promise<boolean> {
    const top = base.folders.get(this.dir);
    if (top === undefined) return false;
    try {
      if (!sameFolder(folderStamp(this.dir), top.stamp)) return false;
      if (!named) return true;
      const now = (await readdir(this.dir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => join(this.dir, e.name));
      if (now.length !== top.folders.length || now.some((f) => !top.folders.includes(f))) return false;
      return now.every((f) => {
        const known = base.folders.get(f);
        return known !== undefined && sameFolder(folderStamp(f), known.stamp);
      });
    } catch {
      return false;
    }
  }

  /** Stats every file, reads the new and changed ones; (re)starts the folder watch first. */
  private async listAll(base: ListerBase | undefined, startedMs: number, scope: OsvListingScope): Promise<Listed> {
    const watch = this.watch;
    if (watch) {
      watch.restart();
      this.pending = noFolderChanges(); // this listing stats every file
    }
    // The epoch this listing's watchers belong to; were the watch restarted meanwhile (`close`), its folders are not watched again.
    const epoch = watch?.epoch;
    const { files, folders, read: foldersRead } = await osvDirectoryFiles(
      this.dir,
      base?.folders,
      startedMs,
      watch ? (f, top) => (watch.epoch === epoch ? watch.add(f, top) : undefined) : undefined,
    );
    // Base index of each file: the same position while no folder changed (the usual case: no map of 200,000 paths).
    const samePositions = base !== undefined && base.files.length === files.length && files.every((f, i) => f === base.files[i]);
    const baseIndex = base && !samePositions ? new Map(base.files.map((f, j) => [f, j])) : undefined;
    const matched = new Int32Array(base?.files.length ?? 0).fill(-1);
    const next: ListerBase = {
      files,
      size: new Float64Array(files.length).fill(-1),
      mtimeMs: new Float64Array(files.length),
      id: new Array<string | undefined>(files.length),
      folders,
      epoch,
      fullAt: startedMs,
      index: undefined,
    };
    const read: Array<ListedOsvRecord | undefined> = new Array<ListedOsvRecord | undefined>(files.length);
    let readCount = 0;
    await forEachSliced(files, (file, i) => {
      const st = statSync(file, { throwIfNoEntry: false });
      if (!st?.isFile()) return; // removed between readdir and stat, or not a file
      const j = base ? (samePositions ? i : (baseIndex!.get(file) ?? -1)) : -1;
      next.size[i] = st.size;
      next.mtimeMs[i] = st.mtimeMs;
      if (j >= 0) matched[j] = i;
      if (unchangedSince(base, j, st)) {
        next.id[i] = base!.id[j];
        return;
      }
      const listed = listOsvRecord(readText(file), file);
      readCount++;
      read[i] = listed;
      next.id[i] = listed.id;
    });
    const candidates: string[] = [];
    if (base) {
      for (let j = 0; j < base.files.length; j++) {
        const was = base.id[j];
        if (was !== undefined && (matched[j]! < 0 || next.id[matched[j]!] !== was)) candidates.push(was);
      }
    }
    return {
      result: {
        records: sortedByPath(read),
        complete: base === undefined,
        removed: goneIds(candidates, next.id),
        files: { seen: files.length, read: readCount },
        folders: { seen: folders.size, read: foldersRead },
        scope,
      },
      next,
      added: [],
    };
  }

  /**
   * Stats only the files named in `changes` (sorted, so that reads are in path order), against the
   * committed listing: a file now gone keeps its place with size -1 until a listing of every file.
   */
  private listWatched(base: ListerBase, changes: FolderChanges): Listed {
    const index = (base.index ??= new Map(base.files.map((f, j) => [f, j])));
    const named = [...changes.paths].sort();
    const added = named.filter((p) => !index.has(p));
    const total = base.files.length + added.length;
    const grow = (a: Float64Array, fill: number): Float64Array => {
      const out = new Float64Array(total).fill(fill);
      out.set(a);
      return out;
    };
    const next: ListerBase = {
      files: [...base.files, ...added],
      size: grow(base.size, -1),
      mtimeMs: grow(base.mtimeMs, 0),
      id: [...base.id, ...new Array<string | undefined>(added.length)],
      folders: base.folders,
      epoch: base.epoch,
      fullAt: base.fullAt,
      index,
    };
    const addedAt = new Map(added.map((p, k) => [p, base.files.length + k]));
    const read: Array<ListedOsvRecord | undefined> = [];
    const candidates: string[] = [];
    const top = join(this.dir);
    for (const file of named) {
      const i = index.get(file) ?? addedAt.get(file)!;
      const was = i < base.files.length ? base.id[i] : undefined;
      // As a listing of every file sees them: top-level entries by their own type (a symlink is not listed), subfolders' by stat.
      const st = dirname(file) === top ? lstatSync(file, { throwIfNoEntry: false }) : statSync(file, { throwIfNoEntry: false });
      if (!st?.isFile()) {
        next.size[i] = -1;
        next.id[i] = undefined;
        if (was !== undefined) candidates.push(was);
        continue;
      }
      next.size[i] = st.size;
      next.mtimeMs[i] = st.mtimeMs;
      if (unchangedSince(base, i, st)) continue;
      const listed = listOsvRecord(readText(file), file);
      read.push(listed);
      next.id[i] = listed.id;
      if (was !== undefined && was !== listed.id) candidates.push(was);
    }
    return {
      result: {
        records: sortedByPath(read),
        complete: false,
        removed: goneIds(candidates, next.id),
        files: { seen: named.length, read: read.length },
        folders: { seen: base.folders.size, read: 0 },
        scope: 'watched',
      },
      next,
      added: [...addedAt],
    };
  }
}

/** A listing before its `commit`: the result, the base it makes, and the files it appended to the base's index. */
interface Listed {
  result: Omit<OsvDirectoryListing, 'commit' | 'watchError'>;
  next: ListerBase;
  added: Array<[string, number]>;
}

/** Whether a file's stat has the size and mtime `base` recorded at index `j` (-1 or past its files: not known there). */
function unchangedSince(base: ListerBase | undefined, j: number, st: { size: number; mtimeMs: number }): boolean {
  return base !== undefined && j >= 0 && j < base.files.length && base.size[j] === st.size && base.mtimeMs[j] === st.mtimeMs;
}

/** The records read, by path. */
function sortedByPath(read: ReadonlyArray<ListedOsvRecord | undefined>): ListedOsvRecord[] {
  return read.filter((r): r is ListedOsvRecord => r !== undefined).sort((a, b) => (a.where < b.where ? -1 : a.where > b.where ? 1 : 0));
}

/** Of `candidates` (ids whose file is gone or now carries another id), those no file carries any more; sorted. */
function goneIds(candidates: readonly string[], ids: ReadonlyArray<string | undefined>): string[] {
  if (candidates.length === 0) return [];
  const present = new Set(ids);
  return [...new Set(candidates.filter((id) => !present.has(id)))].sort();
}

/** Validators of the last successful download of an archive (RFC 9110 §8.8). */
export interface HttpValidators {
  etag?: string | undefined;
  lastModified?: string | undefined;
}

/** Outcome of {@link fetchOsvArchive}. */
export type OsvArchiveResult =
  | { status: 'not-modified' }
  | { status: 'ok'; records: ListedOsvRecord[]; validators: HttpValidators; complete: true };

/** Default of `maxBytes` of {@link fetchOsvArchive}: 512 MiB. */
export const DEFAULT_ARCHIVE_MAX_BYTES = 512 * 1024 * 1024;
/** Largest uncompressed archive entry: one OSV record (the largest published are a few MB). */
const MAX_ENTRY_BYTES = 64 * 1024 * 1024;

/** Reads a response body, refusing more than `maxBytes` (before reading, by Content-Length, and while reading). */
async function readCapped(res: Response, url: string, maxBytes: number, limitName: string): Promise<Uint8Array> {
  const tooLarge = (bytes: string): InvalidInputError =>
    new InvalidInputError('ADVISORY_ARCHIVE_TOO_LARGE', `${url} is larger than ${limitName} (${maxBytes} bytes): ${bytes}`, {
      details: { url, limit: maxBytes, limitName },
    });
  const declared = Number(res.headers.get('content-length') ?? Number.NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    await res.body?.cancel().catch(() => undefined);
    throw tooLarge(`Content-Length ${declared}`);
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  if (res.body) {
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        await reader.cancel().catch(() => undefined);
        throw tooLarge(`more than ${maxBytes} bytes received`);
      }
      chunks.push(value);
    }
  }
  const body = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    body.set(c, at);
    at += c.byteLength;
  }
  return body;
}

/**
 * The entries of a ZIP archive (PKWARE APPNOTE 6.3.x, https://pkware.cachefly.net/webdocs/casestudies/APPNOTE.TXT),
 * read through its central directory, ZIP64 included (§4.3.14 end record, §4.3.15 locator,
 * §4.5.3 extra field): stored (0) or deflated (8) entries, inflated one at a time (fflate).
 * The central directory is walked by its size; its entry count must equal the end record's. An
 * archive of more than 65,535 entries without a ZIP64 end record (e.g. fflate's `zipSync`) holds
 * the count modulo 65,536 there: that is accepted when the walked directory ends exactly at the
 * end record (nothing else is ambiguous), so no entry is silently dropped.
 * @param onEntry called per entry in directory order with its name and uncompressed bytes.
 * @throws InvalidInputError `ADVISORY_SOURCE_UNREADABLE` naming `where` and the inconsistency.
 */
export function readZipEntries(data: Uint8Array, where: string, onEntry: (name: string, bytes: Uint8Array) => void, filter: (name: string) => boolean = () => true): number {
  const bad = (why: string): InvalidInputError =>
    new InvalidInputError('ADVISORY_SOURCE_UNREADABLE', `${where} is not a readable zip archive: ${why}`, { details: { url: where, reason: why } });
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const u16 = (o: number): number => view.getUint16(o, true);
  const u32 = (o: number): number => view.getUint32(o, true);
  const u64 = (o: number): number => {
    const v = view.getBigUint64(o, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw bad('a ZIP64 field beyond 2^53');
    return Number(v);
  };
  const inRange = (o: number, n: number): boolean => o >= 0 && o + n <= data.byteLength;
  let eocd = -1;
  for (let o = data.byteLength - 22; o >= 0 && o >= data.byteLength - 22 - 65535; o--) {
    if (u32(o) === 0x06054b50) {
      eocd = o;
      break;
    }
  }
  if (eocd < 0) throw bad('no end of central directory record');
  let count = u16(eocd + 10);
  let cdSize = u32(eocd + 12);
  let cdOffset = u32(eocd + 16);
  let cdEnd = eocd;
  let zip64 = false;
  if (eocd >= 20 && u32(eocd - 20) === 0x07064b50) {
    const at = u64(eocd - 20 + 8);
    if (!inRange(at, 56) || u32(at) !== 0x06064b50) throw bad('the ZIP64 locator points to no ZIP64 end record');
    zip64 = true;
    count = u64(at + 32);
    cdSize = u64(at + 40);
    cdOffset = u64(at + 48);
    cdEnd = at;
  }
  if (!inRange(cdOffset, cdSize) || cdOffset + cdSize !== cdEnd) {
    throw bad(`the central directory (offset ${cdOffset}, ${cdSize} bytes) does not end at the end record (offset ${cdEnd})`);
  }
  const decoder = new TextDecoder();
  let walked = 0;
  let p = cdOffset;
  while (p < cdOffset + cdSize) {
    if (!inRange(p, 46) || u32(p) !== 0x02014b50) throw bad(`no central directory header at offset ${p}`);
    const method = u16(p + 10);
    let compressed = u32(p + 20);
    let size = u32(p + 24);
    const nameLength = u16(p + 28);
    const extraLength = u16(p + 30);
    const commentLength = u16(p + 32);
    let local = u32(p + 42);
    if (!inRange(p + 46, nameLength + extraLength)) throw bad(`central directory header at offset ${p} runs past the directory`);
    const name = decoder.decode(data.subarray(p + 46, p + 46 + nameLength));
    if (size === 0xffffffff || compressed === 0xffffffff || local === 0xffffffff) {
      let e = p + 46 + nameLength;
      const end = e + extraLength;
      let found = false;
      while (e + 4 <= end) {
        const id = u16(e);
        const length = u16(e + 2);
        if (id === 0x0001) {
          let f = e + 4;
          if (size === 0xffffffff) {
            size = u64(f);
            f += 8;
          }
          if (compressed === 0xffffffff) {
            compressed = u64(f);
            f += 8;
          }
          if (local === 0xffffffff) local = u64(f);
          found = true;
          break;
        }
        e += 4 + length;
      }
      if (!found) throw bad(`entry ${name} has 32-bit fields at their maximum and no ZIP64 extra field`);
    }
    p += 46 + nameLength + extraLength + commentLength;
    walked++;
    if (!filter(name)) continue;
    if (!inRange(local, 30) || u32(local) !== 0x04034b50) throw bad(`entry ${name}: no local header at offset ${local}`);
    const start = local + 30 + u16(local + 26) + u16(local + 28);
    if (!inRange(start, compressed)) throw bad(`entry ${name} runs past the archive`);
    if (size > MAX_ENTRY_BYTES) throw bad(`entry ${name} is ${size} bytes uncompressed (limit ${MAX_ENTRY_BYTES})`);
    const raw = data.subarray(start, start + compressed);
    let bytes: Uint8Array;
    if (method === 0) bytes = raw;
    else if (method === 8) {
      try {
        bytes = inflateSync(raw, { out: new Uint8Array(size) });
      } catch (err) {
        throw bad(`entry ${name} cannot be inflated: ${(err as Error).message}`);
      }
    } else throw bad(`entry ${name} uses compression method ${method} (only stored and deflate are read)`);
    if (bytes.byteLength !== size) throw bad(`entry ${name} inflates to ${bytes.byteLength} bytes, its header says ${size}`);
    onEntry(name, bytes);
  }
  if (walked !== count && (zip64 || walked % 65536 !== count)) {
    throw bad(`the end record declares ${count} entries, the central directory holds ${walked}`);
  }
  return walked;
}

/**
 * Downloads one OSV `all.zip` (one JSON record per entry; https://google.github.io/osv.dev/data/#data-dump)
 * with a conditional request: `If-None-Match` / `If-Modified-Since` from `prior`
 * (RFC 9110 §13.1.2, §13.1.3); a 304 answer is `not-modified`. At most `maxBytes` are read
 * (default {@link DEFAULT_ARCHIVE_MAX_BYTES}); entries are read with {@link readZipEntries} (ZIP64
 * included) and listed unchecked (`id`/`modified` only: see {@link ListedOsvRecord}).
 * @param options.limitName how errors name `maxBytes` (e.g. the env variable setting it).
 * @throws TransientError on a network error or a 5xx/429 answer (the next sync retries);
 *   InvalidInputError `ADVISORY_ARCHIVE_TOO_LARGE` naming the limit when the archive is larger than
 *   `maxBytes`; `ADVISORY_SOURCE_UNREADABLE` on another status or an archive that is not a readable
 *   zip; `ADVISORY_INVALID` naming the entry for an entry that is not JSON or has no string `id`/`modified`.
 */
export async function fetchOsvArchive(
  url: string,
  prior: HttpValidators,
  options: { timeoutMs?: number; fetch?: typeof fetch; maxBytes?: number; limitName?: string } = {},
): Promise<OsvArchiveResult> {
  const headers: Record<string, string> = {};
  if (prior.etag) headers['if-none-match'] = prior.etag;
  if (prior.lastModified) headers['if-modified-since'] = prior.lastModified;
  let res: Response;
  let body: Uint8Array;
  try {
    res = await (options.fetch ?? fetch)(url, { headers, signal: AbortSignal.timeout(options.timeoutMs ?? 300_000) });
    if (res.status === 304) return { status: 'not-modified' };
    if (res.status >= 500 || res.status === 429) {
      throw new TransientError('ADVISORY_SOURCE_UNAVAILABLE', `${url} answered ${res.status}`);
    }
    if (res.status !== 200) {
      throw new InvalidInputError('ADVISORY_SOURCE_UNREADABLE', `${url} answered ${res.status}`, { details: { url, status: res.status } });
    }
    body = await readCapped(res, url, options.maxBytes ?? DEFAULT_ARCHIVE_MAX_BYTES, options.limitName ?? 'the archive size limit');
  } catch (err) {
    if (err instanceof InvalidInputError || err instanceof TransientError) throw err;
    throw new TransientError('ADVISORY_SOURCE_UNAVAILABLE', `cannot download ${url}: ${(err as Error).message}`, { cause: err });
  }
  const decoder = new TextDecoder();
  const records: ListedOsvRecord[] = [];
  readZipEntries(body, url, (name, bytes) => records.push(listOsvRecord(decoder.decode(bytes), `${url}!${name}`)), (name) => name.endsWith('.json'));
  records.sort((a, b) => (a.where < b.where ? -1 : a.where > b.where ? 1 : 0));
  return {
    status: 'ok',
    records,
    complete: true,
    validators: { etag: res.headers.get('etag') ?? undefined, lastModified: res.headers.get('last-modified') ?? undefined },
  };
}

/** Outcome of {@link fetchOsvModifiedSince}. */
export type OsvModifiedResult =
  | { status: 'ok'; records: ListedOsvRecord[] }
  /** No change list (404), or more records changed than `maxRecords`: read `all.zip` instead. */
  | { status: 'unavailable'; reason: string };

/**
 * Records fetched at once by {@link fetchOsvModifiedSince}: each costs one round trip to the bucket,
 * so 1,000 changed records at ≈ 40 ms take ≈ 5 s 8 at a time, ≈ 1.3 s 32 at a time.
 */
const RECORD_FETCH_CONCURRENCY = 32;

/**
 * The records of one ecosystem of OSV's data dump modified at or after `since`, through its change
 * list (https://google.github.io/osv.dev/data/#data-dumps): `<base>/<ecosystem>/modified_id.csv`,
 * one `<modified>,<id>` line per record, newest first, and each record at
 * `<base>/<ecosystem>/<id>.json`. The list is read only up to its first line older than `since`
 * (the rest of the download is cancelled); the records listed are fetched 32 at a time and listed
 * unchecked (see {@link ListedOsvRecord}). OSV withdraws records rather than deleting them, so a
 * change list names every change.
 * @param since ISO 8601; lines at exactly `since` are included (the importer skips what it has).
 * @param options.maxRecords more changed records than this (default 5,000) → `unavailable`.
 * @throws TransientError on a network error, a 5xx/429 answer, or a listed record answering 404
 *   (the dump is being rewritten; the next sync retries); InvalidInputError
 *   `ADVISORY_SOURCE_UNREADABLE` on another status or a line that is not `<time>,<id>`;
 *   `ADVISORY_INVALID` naming the URL for a record that is not JSON or has no string `id`/`modified`.
 */
export async function fetchOsvModifiedSince(
  baseUrl: string,
  ecosystem: string,
  since: string,
  options: { timeoutMs?: number; fetch?: typeof fetch; maxRecords?: number } = {},
): Promise<OsvModifiedResult> {
  const base = `${baseUrl.replace(/\/+$/, '')}/${encodeURIComponent(ecosystem)}`;
  const listUrl = `${base}/modified_id.csv`;
  const doFetch = options.fetch ?? fetch;
  const get = async (url: string): Promise<Response> => {
    let res: Response;
    try {
      res = await doFetch(url, { signal: AbortSignal.timeout(options.timeoutMs ?? 300_000) });
    } catch (err) {
      throw new TransientError('ADVISORY_SOURCE_UNAVAILABLE', `cannot download ${url}: ${(err as Error).message}`, { cause: err });
    }
    if (res.status >= 500 || res.status === 429) throw new TransientError('ADVISORY_SOURCE_UNAVAILABLE', `${url} answered ${res.status}`);
    return res;
  };
  const res = await get(listUrl);
  if (res.status === 404) {
    await res.body?.cancel().catch(() => undefined);
    return { status: 'unavailable', reason: `${listUrl} answered 404` };
  }
  if (res.status !== 200 || !res.body) {
    throw new InvalidInputError('ADVISORY_SOURCE_UNREADABLE', `${listUrl} answered ${res.status}`, { details: { url: listUrl, status: res.status } });
  }
  const sinceMs = Date.parse(since);
  const maxRecords = options.maxRecords ?? 5000;
  const ids: string[] = [];
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let rest = '';
  let line = 0;
  let done = false;
  try {
    while (!done) {
      const chunk = await reader.read();
      const text = rest + (chunk.value ?? '');
      const lines = text.split('\n');
      rest = chunk.done ? '' : lines.pop()!;
      for (const raw of lines) {
        line++;
        const entry = raw.trim();
        if (entry === '') continue;
        const comma = entry.indexOf(',');
        const modified = Date.parse(entry.slice(0, comma));
        const id = entry.slice(comma + 1);
        if (comma < 0 || Number.isNaN(modified) || id === '' || id.includes('/')) {
          throw new InvalidInputError('ADVISORY_SOURCE_UNREADABLE', `${listUrl} line ${line} is not "<modified>,<id>": ${entry.slice(0, 200)}`, {
            details: { url: listUrl, line },
          });
        }
        if (modified < sinceMs) {
          done = true;
          break;
        }
        ids.push(id);
        if (ids.length > maxRecords) {
          return { status: 'unavailable', reason: `more than ${maxRecords} records of ${ecosystem} changed since ${since}` };
        }
      }
      if (chunk.done) done = true;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  const records: ListedOsvRecord[] = new Array<ListedOsvRecord>(ids.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < ids.length) {
      const i = next++;
      const url = `${base}/${encodeURIComponent(ids[i]!)}.json`;
      const answer = await get(url);
      if (answer.status === 404) throw new TransientError('ADVISORY_SOURCE_UNAVAILABLE', `${url} (listed in ${listUrl}) answered 404`);
      if (answer.status !== 200) throw new InvalidInputError('ADVISORY_SOURCE_UNREADABLE', `${url} answered ${answer.status}`, { details: { url, status: answer.status } });
      records[i] = listOsvRecord(await answer.text(), url);
    }
  };
  await Promise.all(Array.from({ length: Math.min(RECORD_FETCH_CONCURRENCY, ids.length) }, worker));
  return { status: 'ok', records };
}

/** One query of the OSV API's `/v1/querybatch` (https://google.github.io/osv.dev/post-v1-querybatch/). */
export interface OsvQuery {
  package: { ecosystem: string; name: string };
  version?: string;
}

/**
 * Client of the OSV API (https://google.github.io/osv.dev/api/): `POST /v1/querybatch` lists the ids
 * of vulnerabilities per query, `GET /v1/vulns/{id}` returns one record.
 */
export class OsvApiClient {
  /** @param baseUrl e.g. `https://api.osv.dev` (no trailing `/v1`). */
  constructor(
    private readonly baseUrl: string,
    private readonly options: { timeoutMs?: number; fetch?: typeof fetch } = {},
  ) {}

  private async request(path: string, init?: RequestInit): Promise<unknown> {
    const url = new URL(path, this.baseUrl.endsWith('/') ? this.baseUrl : `${this.baseUrl}/`).toString();
    let res: Response;
    try {
      res = await (this.options.fetch ?? fetch)(url, { ...init, signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000) });
    } catch (err) {
      throw new TransientError('ADVISORY_SOURCE_UNAVAILABLE', `cannot reach ${url}: ${(err as Error).message}`, { cause: err });
    }
    if (res.status >= 500 || res.status === 429) throw new TransientError('ADVISORY_SOURCE_UNAVAILABLE', `${url} answered ${res.status}`);
    if (res.status !== 200) {
      throw new InvalidInputError('ADVISORY_SOURCE_UNREADABLE', `${url} answered ${res.status}`, { details: { url, status: res.status } });
    }
    return res.json();
  }

  /**
   * `POST /v1/querybatch`: per query (same order), the ids and `modified` times of the
   * vulnerabilities the API knows (first page of each; the API pages at 1,000 per query).
   */
  async queryBatch(queries: readonly OsvQuery[]): Promise<Array<Array<{ id: string; modified: string }>>> {
    const body = (await this.request('v1/querybatch', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ queries }),
    })) as { results?: Array<{ vulns?: Array<{ id: string; modified: string }> }> };
    return queries.map((_, i) => body.results?.[i]?.vulns ?? []);
  }

  /**
   * `GET /v1/vulns/{id}`: one full record.
   * @throws InvalidInputError `ADVISORY_INVALID` when the answer is not an OSV record.
   */
  async vuln(id: string): Promise<OsvRecord> {
    const json = await this.request(`v1/vulns/${encodeURIComponent(id)}`);
    return parseOsvRecord(JSON.stringify(json), `${this.baseUrl}/v1/vulns/${id}`);
  }
}
