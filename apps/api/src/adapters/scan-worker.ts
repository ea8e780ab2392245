/**
 * Worker-thread entry of `ScanParserPool` (./scan-parser.ts): parses one JSON request body off
 * the API's event loop and, when asked, validates its `scan` member (`parseScan`, any supported
 * format: an object, or a string holding CycloneDX XML, with the configured limits). Messages in: `ParseJob`; out: `ParseOutcome`.
 */
import { parentPort, threadId } from 'node:worker_threads';
import { isRemediationError } from '@remediation/errors';
import { assertMaxDepth, parseScan } from '@remediation/sbom';
import type { ParseJob, ParseOutcome } from './scan-parser.js';

const port = parentPort;
if (!port) throw new Error('scan-worker.ts must run as a worker thread');

port.on('message', (job: ParseJob) => {
  // Started: the pool's deadline counts from here (not the thread's start-up).
  port.postMessage({ started: job.id });
  port.postMessage(run(job));
});

function run(job: ParseJob): ParseOutcome {
  const fail = (code: string, message: string, details?: Record<string, unknown>): ParseOutcome => ({
    id: job.id,
    threadId,
    ok: false,
    error: { code, message, ...(details ? { details } : {}) },
  });
  let value: unknown;
  try {
    value = JSON.parse(job.text);
  } catch (err) {
    return fail('REQUEST_INVALID', `request body is not valid JSON: ${(err as Error).message}`);
  }
  let scanChecked = false;
  try {
    if (job.checkScan && isObject(value) && (isObject(value['scan']) || typeof value['scan'] === 'string')) {
      parseScan(value['scan'], job.limits);
      scanChecked = true;
    }
  } catch (err) {
    if (!isRemediationError(err)) return fail('INTERNAL', 'the scan could not be checked');
    const limit = typeof err.details?.['reason'] === 'string' ? LIMIT_VARIABLES[err.details['reason']] : undefined;
    return fail(err.code, limit ? `${err.message} (limit: ${limit})` : err.message, err.details);
  }
  try {
    // The whole body, so no deep value crosses back to the main thread (the scan is one level down).
    assertMaxDepth(value, job.limits.maxDepth + 1);
  } catch (err) {
    const path = String((isRemediationError(err) && err.details?.['path']) || '(root)');
    return fail('REQUEST_INVALID', `request body is nested deeper than ${job.limits.maxDepth + 1} levels (at ${path}; limit: API_SCAN_MAX_DEPTH)`, {
      reason: 'too_deep',
      limit: job.limits.maxDepth + 1,
      path,
    });
  }
  return { id: job.id, threadId, ok: true, value, scanChecked };
}

/** The environment variable that sets each limit `parseScan` reports (`details.reason`). */
const LIMIT_VARIABLES: Record<string, string> = {
  too_deep: 'API_SCAN_MAX_DEPTH',
  too_many_components: 'API_SCAN_MAX_COMPONENTS',
  too_large: 'API_SCAN_MAX_BYTES',
};

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
