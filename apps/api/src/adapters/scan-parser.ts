import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { InvalidInputError, TransientError } from '@remediation/errors';
import { DEFAULT_SCAN_LIMITS } from '@remediation/sbom';

/**
 * Limits on request bodies and scans (hostile-input guards, issue 11). Each has an environment
 * variable in apps/api/src/main.ts (README "Service environment").
 */
export interface ScanLimitsConfig {
  /** Largest request body in bytes (`API_SCAN_MAX_BYTES`); larger gets 413. Default 50 MiB. */
  maxBytes: number;
  /** Most components in a scan, nested ones included (`API_SCAN_MAX_COMPONENTS`). Default 100,000. */
  maxComponents: number;
  /** Deepest nesting of the scan's JSON, the scan object being level 1 (`API_SCAN_MAX_DEPTH`). Default 100. */
  maxDepth: number;
  /** Worker threads parsing bodies (`API_SCAN_PARSE_THREADS`). Default 2 (at most the cores). */
  threads: number;
  /** Heap of each worker in MiB (`API_SCAN_WORKER_HEAP_MB`); a body needing more gets 413. Default 1024. */
  workerHeapMb: number;
  /**
   * Longest one body may take to parse and validate, in ms (`API_SCAN_PARSE_TIMEOUT_MS`): past it
   * the worker is stopped (and replaced) and the request gets 413 `SCAN_TOO_COMPLEX`, so a
   * pathological scan cannot hold the pool for everyone. Default 30,000.
   */
  parseTimeoutMs: number;
}

/** Defaults of {@link ScanLimitsConfig}. */
export const DEFAULT_SCAN_LIMITS_CONFIG: ScanLimitsConfig = {
  maxBytes: 50 * 1024 * 1024,
  maxComponents: DEFAULT_SCAN_LIMITS.maxComponents,
  maxDepth: DEFAULT_SCAN_LIMITS.maxDepth,
  threads: Math.max(1, Math.min(2, availableParallelism())),
  workerHeapMb: 1024,
  parseTimeoutMs: 30_000,
};

/**
 * Bodies that may wait for a worker; more get 503 `SCAN_PARSER_BUSY` (retryable). With the
 * body limit this bounds the memory held by waiting bodies: `(threads + MAX_WAITING) × maxBytes`.
 */
export const MAX_WAITING = 16;

/** Message to a worker (./scan-worker.ts). */
export interface ParseJob {
  id: number;
  text: string;
  /** Validate the body's `scan` member as a scan (`parseScan`). */
  checkScan: boolean;
  limits: { maxComponents: number; maxDepth: number };
}

/** A worker's answer: the parsed body, or an error body (`code`, `message`, `details`). */
export type ParseOutcome =
  | { id: number; threadId: number; ok: true; value: unknown; scanChecked: boolean }
  | { id: number; threadId: number; ok: false; error: { code: string; message: string; details?: Record<string, unknown> } };

/** A parsed body. */
export interface ParsedBody {
  value: unknown;
  /** Whether `value.scan` was validated as a scan within the limits. */
  scanChecked: boolean;
  /** The worker thread that parsed it (a test seam: never the main thread's 0). */
  threadId: number;
}

/** The body needed more memory to parse than a worker may use: 413 `BODY_TOO_LARGE`. */
export class BodyParseError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'BodyParseError';
  }
}

interface Slot {
  worker: Worker;
  job: { id: number; resolve: (body: ParsedBody) => void; reject: (err: Error) => void; deadline: NodeJS.Timeout | null } | null;
}

/**
 * A small pool of worker threads (node:worker_threads) that parse JSON request bodies and
 * validate scans, so a large scan does not block the API's event loop. Jobs queue in order;
 * each worker takes one at a time. A worker that dies (e.g. its heap limit, `workerHeapMb`,
 * is exceeded) fails its job with 413 and is replaced.
 */
export class ScanParserPool {
  private readonly slots: Slot[] = [];
  private readonly queue: { job: ParseJob; resolve: (body: ParsedBody) => void; reject: (err: Error) => void }[] = [];
  private nextId = 1;
  private closed = false;

  constructor(private readonly config: ScanLimitsConfig) {}

  /**
   * Parses `text` in a worker; with `checkScan`, also validates its `scan` member.
   * @throws InvalidInputError (400) naming what was wrong: `REQUEST_INVALID` (not JSON, nested
   *   too deep), `SCAN_INVALID` / `SCAN_UNSUPPORTED_VERSION` / `SCAN_FORMAT_UNKNOWN` (with the limit's variable when a
   *   limit was hit); BodyParseError (413) when the worker ran out of heap; TransientError
   *   `SCAN_PARSER_BUSY` (503) when {@link MAX_WAITING} bodies already wait.
   */
  parse(text: string, checkScan: boolean): Promise<ParsedBody> {
    if (this.closed) return Promise.reject(new Error('scan parser pool is closed'));
    if (this.queue.length >= MAX_WAITING) {
      return Promise.reject(
        new TransientError('SCAN_PARSER_BUSY', `${this.queue.length} request bodies are already waiting to be parsed; retry shortly`),
      );
    }
    return new Promise((resolve, reject) => {
      const job: ParseJob = {
        id: this.nextId++,
        text,
        checkScan,
        limits: { maxComponents: this.config.maxComponents, maxDepth: this.config.maxDepth },
      };
      this.queue.push({ job, resolve, reject });
      this.dispatch();
    });
  }

  /** Stops every worker; queued jobs fail. */
  async close(): Promise<void> {
    this.closed = true;
    for (const q of this.queue.splice(0)) q.reject(new Error('scan parser pool is closed'));
    await Promise.all(this.slots.splice(0).map((s) => s.worker.terminate()));
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let slot = this.slots.find((s) => s.job === null);
      if (!slot && this.slots.length < this.config.threads) slot = this.spawn();
      if (!slot) return;
      const next = this.queue.shift()!;
      slot.job = { id: next.job.id, resolve: next.resolve, reject: next.reject, deadline: null };
      slot.worker.postMessage(next.job);
    }
  }

  /**
   * The deadline of job `id` on `slot` (from the moment the worker started it): past
   * `parseTimeoutMs` the job fails with 413 `SCAN_TOO_COMPLEX` and the worker is replaced.
   */
  private deadline(slot: Slot, id: number): NodeJS.Timeout {
    const timer = setTimeout(() => {
      const job = slot.job;
      if (!job || job.id !== id) return;
      slot.job = null;
      job.reject(
        new BodyParseError(413, 'SCAN_TOO_COMPLEX', `parsing the request body took longer than ${this.config.parseTimeoutMs} ms (limit: API_SCAN_PARSE_TIMEOUT_MS)`, {
          limit: this.config.parseTimeoutMs,
        }),
      );
      // The worker may be stuck for good: take it out of the pool (no job goes to it again), stop
      // it, and let the queue go on with a new one.
      const index = this.slots.indexOf(slot);
      if (index >= 0) this.slots.splice(index, 1);
      void slot.worker.terminate();
      this.dispatch();
    }, this.config.parseTimeoutMs);
    timer.unref();
    return timer;
  }

  private spawn(): Slot {
    // The sources are TypeScript: the entry registers tsx in the worker, then loads ./scan-worker.ts.
    const worker = new Worker(new URL('./scan-worker-entry.mjs', import.meta.url), {
      execArgv: [],
      resourceLimits: { maxOldGenerationSizeMb: this.config.workerHeapMb },
    });
    worker.unref();
    const slot: Slot = { worker, job: null };
    this.slots.push(slot);
    worker.on('message', (outcome: ParseOutcome | { started: number }) => {
      const job = slot.job;
      if ('started' in outcome) {
        if (job && job.id === outcome.started) job.deadline = this.deadline(slot, job.id);
        return;
      }
      if (!job || job.id !== outcome.id) return;
      if (job.deadline) clearTimeout(job.deadline);
      slot.job = null;
      if (outcome.ok) job.resolve({ value: outcome.value, scanChecked: outcome.scanChecked, threadId: outcome.threadId });
      else if (outcome.error.code === 'INTERNAL') job.reject(new Error(outcome.error.message));
      else job.reject(new InvalidInputError(outcome.error.code, outcome.error.message, outcome.error.details ? { details: outcome.error.details } : {}));
      this.dispatch();
    });
    const lost = (err: Error | number) => {
      const index = this.slots.indexOf(slot);
      if (index < 0) return;
      this.slots.splice(index, 1);
      const job = slot.job;
      slot.job = null;
      if (job?.deadline) clearTimeout(job.deadline);
      if (job) {
        const outOfMemory = err instanceof Error && (err as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY';
        job.reject(
          outOfMemory
            ? new BodyParseError(413, 'BODY_TOO_LARGE', `parsing the request body needs more than ${this.config.workerHeapMb} MiB (limit: API_SCAN_WORKER_HEAP_MB)`, {
                limit: this.config.workerHeapMb,
              })
            : new Error(`scan parser worker stopped: ${err instanceof Error ? err.message : `exit code ${err}`}`),
        );
      }
      if (!this.closed) this.dispatch();
    };
    worker.on('error', lost);
    worker.on('exit', lost);
    return slot;
  }
}
