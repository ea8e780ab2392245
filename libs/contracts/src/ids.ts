import { randomBytes } from 'node:crypto';
import type { ExecutionKind } from './states.js';

/**
 * Identifiers. Execution ids encode their remediation id (docs/mission.md "Names"):
 * `<remediationId>.<kind>.<n>`, e.g. `rem_01kf3x9q2m7v4c8d.patch.2`. There is no separate
 * workflow id.
 */
const REMEDIATION_ID = /^rem_[0-9a-z]{16}$/;
const EXECUTION_ID = /^(rem_[0-9a-z]{16})\.(plan|patch)\.([1-9][0-9]*)$/;

/** New remediation id: `rem_` + 16 lowercase base36 characters of time and randomness. */
export function newRemediationId(now: number = Date.now()): string {
  const time = now.toString(36).padStart(9, '0').slice(-9);
  const rand = BigInt('0x' + randomBytes(8).toString('hex')).toString(36).padStart(7, '0').slice(-7);
  return `rem_${time}${rand}`;
}

/** Execution id for the `seq`-th execution of a remediation. */
export function executionId(remediationId: string, kind: ExecutionKind, seq: number): string {
  return `${remediationId}.${kind}.${seq}`;
}

/** Whether `id` is a well-formed remediation id. */
export function isRemediationId(id: string): boolean {
  return REMEDIATION_ID.test(id);
}

/**
 * Splits an execution id into its parts, or returns null when it is malformed.
 * @returns `{ remediationId, kind, seq }`
 */
export function parseExecutionId(id: string): { remediationId: string; kind: ExecutionKind; seq: number } | null {
  const m = EXECUTION_ID.exec(id);
  if (!m) return null;
  return { remediationId: m[1]!, kind: m[2] as ExecutionKind, seq: Number(m[3]) };
}

/**
 * Git ref that anchors a patch version in the mirror:
 * `refs/remediations/<remediationId>/<kind>.<n>/v<version>`.
 */
export function patchRef(executionIdValue: string, version: number): string {
  const parsed = parseExecutionId(executionIdValue);
  if (!parsed) throw new Error(`malformed execution id: ${executionIdValue}`);
  return `refs/remediations/${parsed.remediationId}/${parsed.kind}.${parsed.seq}/v${version}`;
}
