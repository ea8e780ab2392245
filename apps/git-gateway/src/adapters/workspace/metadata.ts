/**
 * The workspace record: the one metadata file of a workspace, `<dir>/workspace.json`
 * (layout.ts), deleted with the workspace. It is built up in steps by the code that knows each
 * part, always by a read-merge-write through {@link updateWorkspaceRecord}:
 *  - the driver, when the workspace exists: overlay before mounting a new upper layer, copy once
 *    the copy is complete (so `driver` present = a workspace that driver can resume);
 *  - checkpoints (checkpoint.ts): which local workspace instance this is, the last checkpoint it
 *    wrote or was restored from, and a marker while a restore is being applied;
 *  - GC (../gc.ts) reads `lowerDir` to keep base snapshots in use.
 */
import { randomBytes } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { InvalidInputError } from '@remediation/errors';
import { WORKSPACE_DRIVER_NAMES, type WorkspaceDriverName } from './types.js';

/** File name of the workspace record inside the workspace dir. */
const RECORD_FILE = 'workspace.json';

/** What `<dir>/workspace.json` holds; every part is optional because it is written in steps. */
export const WorkspaceRecord = z.object({
  /** The driver that made the workspace (see the module comment for when it is set). */
  driver: z.enum(WORKSPACE_DRIVER_NAMES).optional(),
  /** Real path of the base snapshot the workspace was made over. */
  lowerDir: z.string().optional(),
  /** Copy driver: ctime (ns, decimal string) of a marker written right after the copy completed. */
  copyDoneCtimeNs: z.string().regex(/^\d+$/).optional(),
  /** checkpoint.ts: this local workspace instance (new for every freshly built workspace). */
  checkpoint: z
    .object({
      instanceId: z.string(),
      /** The last checkpoint this instance wrote or was restored from; null = none. */
      lastCheckpointSha: z.string().nullable(),
    })
    .optional(),
  /** checkpoint.ts: present while a checkpoint is being applied; found later = an interrupted restore. */
  restorePending: z.object({ ref: z.string(), sha: z.string(), startedAt: z.string(), pid: z.number() }).optional(),
});
export type WorkspaceRecord = z.infer<typeof WorkspaceRecord>;

/**
 * Reads the record of the workspace dir `dir`.
 * @returns the record, or null when there is none (or it is unreadable: treated as absent, so
 *   the workspace is rebuilt rather than trusted).
 */
export async function readWorkspaceRecord(dir: string): Promise<WorkspaceRecord | null> {
  let text: string;
  try {
    text = await readFile(join(dir, RECORD_FILE), 'utf8');
  } catch {
    return null;
  }
  try {
    const parsed = WorkspaceRecord.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** Updates in progress by record dir: this process's updates of one record run one at a time. */
const updating = new Map<string, Promise<WorkspaceRecord>>();

/**
 * Merges `patch` into the record of the workspace dir `dir` (which must exist) and writes it
 * atomically (temporary file + rename). A key set to `undefined` is removed. Updates of one
 * record in this process are serialised; across processes the execution lock (lock.ts) keeps
 * other writers out.
 * @returns the record written.
 * @throws Error (fs errors) when the dir is missing or not writable.
 */
export async function updateWorkspaceRecord(dir: string, patch: Partial<WorkspaceRecord>): Promise<WorkspaceRecord> {
  const previous = updating.get(dir) ?? Promise.resolve(null);
  const next = previous
    .catch(() => null)
    .then(async () => {
      const record = { ...((await readWorkspaceRecord(dir)) ?? {}), ...patch };
      const file = join(dir, RECORD_FILE);
      const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
      await writeFile(tmp, JSON.stringify(record, null, 2));
      await rename(tmp, file);
      return record;
    });
  updating.set(dir, next);
  try {
    return await next;
  } finally {
    if (updating.get(dir) === next) updating.delete(dir);
  }
}

/** `WORKSPACE_DRIVER_MISMATCH`: the local workspace was made by the driver `found`, not `wanted`. */
export function driverMismatch(executionId: string, found: WorkspaceDriverName, wanted: WorkspaceDriverName): InvalidInputError {
  return new InvalidInputError(
    'WORKSPACE_DRIVER_MISMATCH',
    `workspace ${executionId} was made by the ${found} driver, not ${wanted}: release it with removeUpper to rebuild (or restore it from its checkpoint)`,
    { details: { executionId, found, wanted } },
  );
}

/**
 * Refuses to resume a workspace the record says was made by another driver or over another
 * base snapshot (checked in this order).
 * @throws InvalidInputError `WORKSPACE_DRIVER_MISMATCH`; `WORKSPACE_BASE_MISMATCH` (release the
 *   workspace with removeUpper to rebuild).
 */
export function assertRecordMatches(record: WorkspaceRecord | null, expected: { executionId: string; driver: WorkspaceDriverName; lowerDir: string }): void {
  if (record?.driver !== undefined && record.driver !== expected.driver) throw driverMismatch(expected.executionId, record.driver, expected.driver);
  if (record?.lowerDir !== undefined && record.lowerDir !== expected.lowerDir) {
    throw new InvalidInputError(
      'WORKSPACE_BASE_MISMATCH',
      `workspace ${expected.executionId} was created over ${record.lowerDir}, not ${expected.lowerDir}: release it with removeUpper to rebuild`,
      { details: { executionId: expected.executionId, recordedLowerDir: record.lowerDir, lowerDir: expected.lowerDir } },
    );
  }
}
