/**
 * The execution lock (docs/architecture.md "Workspaces (git-gateway)": one process per
 * execution's dirs — two overlay mounts sharing a workdir only warn): the lock file
 * `<localRoot>/workspaces/<executionId>.lock` (layout.ts) of ../lock-file.ts, taken by a
 * driver's prepare and kept until its release. A lock of a dead process is taken over; a lock
 * this very process wrote (its in-memory handle lost) is adopted.
 *
 * Also the in-process "one call at a time per key" helper the drivers and restore share.
 */
import { acquireLockFile, adoptOwnLock, isLockStale, isOwnLock, LockBusyError, readLockRecord, type LockHandle } from '../lock-file.js';

/** Code of the error when another live process holds the execution. */
const BUSY_CODE = 'WORKSPACE_LOCKED';

/** Execution locks this process holds, by lock file path. */
const held = new Map<string, LockHandle>();

/**
 * Holds the execution lock at `lockFile`: already held by this process → kept; written by this
 * process earlier → adopted; free or stale → acquired.
 * @returns `fresh: true` when this call acquired it (a failed prepare then drops it again).
 * @throws LockBusyError `WORKSPACE_LOCKED` (retryable) when another live process holds it.
 */
export async function holdExecutionLock(lockFile: string): Promise<{ fresh: boolean }> {
  if (held.has(lockFile)) return { fresh: false };
  const adopted = await adoptOwnLock(lockFile);
  const handle = adopted ?? (await acquireLockFile(lockFile, { waitMs: 0, busyCode: BUSY_CODE }));
  held.set(lockFile, handle);
  return { fresh: adopted === null };
}

/** Releases the execution lock at `lockFile` if this process holds it (idempotent). */
export async function dropExecutionLock(lockFile: string): Promise<void> {
  const handle = held.get(lockFile);
  held.delete(lockFile);
  await handle?.release();
}

/**
 * Runs a driver's prepare under the execution lock at `lockFile` ({@link holdExecutionLock}):
 * the lock is kept when `prepare` succeeds, and dropped again when it fails and this call took
 * it.
 * @returns what `prepare` returns.
 * @throws LockBusyError `WORKSPACE_LOCKED`; whatever `prepare` throws.
 */
export async function prepareUnderLock<T>(lockFile: string, prepare: () => Promise<T>): Promise<T> {
  const { fresh } = await holdExecutionLock(lockFile);
  try {
    return await prepare();
  } catch (err) {
    if (fresh) await dropExecutionLock(lockFile);
    throw err;
  }
}

/**
 * Refuses early (before touching the workspace dirs) when another live process holds the
 * execution lock; absent, own and stale locks pass.
 * @throws LockBusyError `WORKSPACE_LOCKED` (retryable).
 */
export async function assertExecutionLockFree(lockFile: string): Promise<void> {
  const holder = await readLockRecord(lockFile);
  if (holder === null || isOwnLock(holder)) return;
  if (!(await isLockStale(lockFile, holder))) throw new LockBusyError(BUSY_CODE, lockFile, holder);
}

/**
 * Concurrent calls with the same key share one in-flight promise (e.g. two requests preparing
 * one execution's workspace mount it once).
 * @returns a function running `fn` for `key` unless a call for `key` is in flight.
 */
export function singleFlight<T>(): (key: string, fn: () => Promise<T>) => Promise<T> {
  const inFlight = new Map<string, Promise<T>>();
  return async (key, fn) => {
    const existing = inFlight.get(key);
    if (existing !== undefined) return existing;
    const promise = fn();
    inFlight.set(key, promise);
    try {
      return await promise;
    } finally {
      inFlight.delete(key);
    }
  };
}
