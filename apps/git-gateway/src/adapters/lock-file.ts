/**
 * Cross-process lock files holding a JSON record `{ pid, startTime, host, token, acquiredAt }`.
 * Used for `<mirror>.lock` (mirror.ts) and the workspace execution lock
 * `<localRoot>/workspaces/<executionId>.lock` (workspace/lock.ts).
 *
 * A lock file is created complete and atomically: the record is written to a temporary file that
 * is then hard-linked to the lock path (`link(2)` fails with EEXIST when the path exists), so
 * nobody ever reads a half-written lock.
 *
 * Staleness (the holder died without removing the file), {@link isLockStale}:
 *  - same host: the pid is not alive (`kill(pid, 0)` → ESRCH), or it is alive but its start
 *    time (field 22 of `/proc/<pid>/stat`) differs from the recorded one (pid reused, e.g. a
 *    restarted container whose process is pid 1 again);
 *  - another host (a lock on a shared volume): the file's mtime is older than `staleAfterMs`;
 *    holders refresh the mtime every `heartbeatMs` while they hold the lock.
 * A stale lock is removed by one breaker at a time: breakers serialise on a short-lived
 * proper-lockfile mutex (`.<name>.break` next to the lock) and remove the file only if it
 * still holds the record judged stale.
 *
 * Why the pid record is not proper-lockfile itself: proper-lockfile judges a lock stale only by
 * its mtime (at least 2 s old), so a restarted process would wait out the staleness period
 * before taking over the workspace of its dead predecessor, and a live holder could not be
 * told from a dead one on the same host. The pid record decides that at once.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { link, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { lock as lockMutex } from 'proper-lockfile';
import { TransientError } from '@remediation/errors';

/** The JSON record stored in a lock file. */
export interface LockRecord {
  pid: number;
  /** Process start time in clock ticks since boot (`/proc/<pid>/stat` field 22), or null. */
  startTime: number | null;
  host: string;
  /** Random token identifying this acquisition. */
  token: string;
  /** ISO timestamp. */
  acquiredAt: string;
}

/** A held lock. */
export interface LockHandle {
  path: string;
  record: LockRecord;
  /** Removes the lock file if it is still ours; idempotent. */
  release(): Promise<void>;
}

/** Locks from another host older than this (mtime), in ms, are stale by default (10 min). */
export const DEFAULT_STALE_AFTER_MS = 10 * 60_000;

/** Options of {@link acquireLockFile}. */
export interface AcquireLockOptions {
  /** How long to wait for a live holder, in ms; 0 = fail at once. Default 0. */
  waitMs?: number;
  /** Poll interval while waiting, in ms. Default 100. */
  pollMs?: number;
  /** Locks from another host older than this (mtime) are stale, in ms. Default {@link DEFAULT_STALE_AFTER_MS}. */
  staleAfterMs?: number;
  /** mtime refresh interval while held, in ms. Default 30 s. */
  heartbeatMs?: number;
  /** Code of the error thrown when the lock stays busy. Default `LOCK_BUSY`. */
  busyCode?: string;
}

/** The lock is held by a live process (or did not free up within `waitMs`). Retryable. */
export class LockBusyError extends TransientError {
  constructor(code: string, path: string, holder: LockRecord | null) {
    super(code, `lock ${path} is held by ${holder === null ? 'an unknown holder' : `pid ${holder.pid} on ${holder.host} since ${holder.acquiredAt}`}`, {
      details: { path, holder },
    });
    this.name = 'LockBusyError';
  }
}

/** Start time of a process in clock ticks since boot, or null when unreadable (non-Linux). */
export function processStartTime(pid: number): number | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may contain spaces: split after ')'.
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const value = Number(rest[19]); // field 22 overall = index 19 after "pid (comm)"
    return Number.isFinite(value) ? value : null;
  } catch {
    return null;
  }
}

const ownStartTime = processStartTime(process.pid);
const ownHost = hostname();

/** Whether a process with this pid exists (EPERM counts as alive). */
export function isPidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether the record was written by this process. */
export function isOwnLock(record: LockRecord): boolean {
  return record.host === ownHost && record.pid === process.pid && (record.startTime === null || record.startTime === ownStartTime);
}

/** Reads a lock file; null when absent; an unparseable file yields a record with pid 0. */
export async function readLockRecord(path: string): Promise<LockRecord | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    const parsed = JSON.parse(text) as Partial<LockRecord>;
    return {
      pid: Number(parsed.pid ?? 0),
      startTime: typeof parsed.startTime === 'number' ? parsed.startTime : null,
      host: String(parsed.host ?? ownHost),
      token: String(parsed.token ?? ''),
      acquiredAt: String(parsed.acquiredAt ?? ''),
    };
  } catch {
    // A plain pid (older format or hand-written).
    const pid = Number.parseInt(text.trim(), 10);
    return { pid: Number.isFinite(pid) ? pid : 0, startTime: null, host: ownHost, token: text, acquiredAt: '' };
  }
}

/**
 * Whether the holder recorded in the lock file at `path` is gone (see the module comment for
 * the rule): same host → its pid is dead or was reused; another host → the file's mtime is
 * older than `staleAfterMs` (or the file vanished).
 */
export async function isLockStale(path: string, record: LockRecord, staleAfterMs = DEFAULT_STALE_AFTER_MS): Promise<boolean> {
  if (record.host !== ownHost) {
    try {
      const info = await stat(path);
      return Date.now() - info.mtimeMs > staleAfterMs;
    } catch {
      return true;
    }
  }
  if (!isPidAlive(record.pid)) return true;
  if (record.startTime !== null) {
    const current = processStartTime(record.pid);
    if (current !== null && current !== record.startTime) return true;
  }
  return false;
}

/** Removes the lock at `path` if it still holds the record `judged` stale (one breaker at a time). */
async function breakStaleLock(path: string, judged: LockRecord): Promise<void> {
  const unlock = await lockMutex(path, {
    lockfilePath: join(dirname(path), `.${basename(path)}.break`),
    realpath: false,
    // Held for a read and an unlink; a breaker that died leaves a mutex stale after 2 s.
    stale: 2_000,
    retries: { retries: 40, factor: 1.2, minTimeout: 5, maxTimeout: 200 },
    onCompromised: () => undefined,
  });
  try {
    const current = await readLockRecord(path);
    if (current !== null && current.token === judged.token) await rm(path, { force: true });
  } finally {
    await unlock();
  }
}

/** Creates the lock file with `record` in one step; false when the path already exists. */
async function createLockFile(path: string, record: LockRecord): Promise<boolean> {
  const tmp = join(dirname(path), `.${basename(path)}.${record.token}.tmp`);
  await writeFile(tmp, JSON.stringify(record), { mode: 0o644 });
  try {
    await link(tmp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await rm(tmp, { force: true });
  }
}

/**
 * Acquires the lock file at `path`, breaking stale locks (see the module comment).
 *
 * @returns a handle whose `release()` deletes the file (only if it still holds our token).
 * @throws LockBusyError (code `busyCode`, default `LOCK_BUSY`, retryable) when a live holder
 *   keeps it for longer than `waitMs`.
 * @throws Error (fs errors) when the lock's directory is missing or not writable.
 */
export async function acquireLockFile(path: string, options: AcquireLockOptions = {}): Promise<LockHandle> {
  const waitMs = options.waitMs ?? 0;
  const pollMs = options.pollMs ?? 100;
  const staleAfterMs = options.staleAfterMs ?? DEFAULT_STALE_AFTER_MS;
  const heartbeatMs = options.heartbeatMs ?? 30_000;
  const deadline = Date.now() + waitMs;
  const record: LockRecord = {
    pid: process.pid,
    startTime: ownStartTime,
    host: ownHost,
    token: randomBytes(12).toString('hex'),
    acquiredAt: new Date().toISOString(),
  };
  for (;;) {
    if (await createLockFile(path, record)) return makeHandle(path, record, heartbeatMs);
    const holder = await readLockRecord(path);
    if (holder === null) continue; // released in between
    if (await isLockStale(path, holder, staleAfterMs)) {
      await breakStaleLock(path, holder);
      continue;
    }
    if (Date.now() >= deadline) throw new LockBusyError(options.busyCode ?? 'LOCK_BUSY', path, holder);
    await new Promise((resolve) => setTimeout(resolve, Math.min(pollMs, Math.max(1, deadline - Date.now()))));
  }
}

/**
 * Adopts a lock file that this very process wrote earlier (same pid and start time), e.g. a
 * workspace lock whose in-memory handle was lost. Returns null when the file is absent or not
 * ours.
 */
export async function adoptOwnLock(path: string, heartbeatMs = 30_000): Promise<LockHandle | null> {
  const record = await readLockRecord(path);
  if (record === null || !isOwnLock(record)) return null;
  return makeHandle(path, record, heartbeatMs);
}

function makeHandle(path: string, record: LockRecord, heartbeatMs: number): LockHandle {
  const timer = setInterval(() => {
    const now = new Date();
    utimes(path, now, now).catch(() => undefined);
  }, heartbeatMs);
  timer.unref();
  let released = false;
  return {
    path,
    record,
    async release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      const current = await readLockRecord(path);
      if (current !== null && current.token === record.token) await rm(path, { force: true });
    },
  };
}
