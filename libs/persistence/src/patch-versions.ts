import type { EntityManager } from '@mikro-orm/postgresql';
import type { AgentRunSummary, Codebase, TargetProof } from '@remediation/contracts';
import { InvalidInputError, NotFoundError, RemediationError } from '@remediation/errors';
import type { Database } from './database.js';
import { type ExecutionRow, IterationEntity, PatchVersionEntity, type PatchVersionRow, PullRequestEntity, type PullRequestRow } from './entities.js';
import { loadExecution } from './executions.js';
import { loadCodebase } from './remediations.js';

/** The patch versions of an execution, oldest first. */
export async function listPatchVersions(db: Database, executionId: string): Promise<PatchVersionRow[]> {
  return db.em().find(PatchVersionEntity, { executionId }, { orderBy: { version: 'asc' } });
}

/** Patch version `version` of an execution, or null. */
export async function findPatchVersion(db: Database, executionId: string, version: number): Promise<PatchVersionRow | null> {
  return db.em().findOne(PatchVersionEntity, { executionId, version });
}

/** The newest patch version of an execution made on `baseCommit`, or null. */
export async function latestPatchVersionOn(db: Database, executionId: string, baseCommit: string): Promise<PatchVersionRow | null> {
  return db.em().findOne(PatchVersionEntity, { executionId, baseCommit }, { orderBy: { version: 'desc' } });
}

/** The number the next patch version of an execution gets: one more than the newest (1 for the first). */
export async function nextPatchVersionNumber(db: Database, executionId: string): Promise<number> {
  const newest = await db.em().findOne(PatchVersionEntity, { executionId }, { orderBy: { version: 'desc' }, fields: ['version'] });
  return (newest?.version ?? 0) + 1;
}

/**
 * An execution and one of its patch versions: `version`, or the newest when omitted.
 * @param tenant when given, another tenant's execution is not found.
 * @throws NotFoundError when the execution does not exist (or is another tenant's); RemediationError `PATCH_NOT_READY` when
 *   it has no such version (none yet, or not that one).
 */
export async function loadPatchVersion(
  db: Database,
  executionId: string,
  version?: number,
  tenant?: string,
): Promise<{ execution: ExecutionRow; patchVersion: PatchVersionRow; codebase: Codebase }> {
  const execution = await loadExecution(db, executionId, tenant);
  const patchVersion =
    version === undefined
      ? await db.em().findOne(PatchVersionEntity, { executionId }, { orderBy: { version: 'desc' } })
      : await findPatchVersion(db, executionId, version);
  if (!patchVersion) {
    throw new RemediationError(
      'PATCH_NOT_READY',
      version === undefined ? `execution ${executionId} has no patch version yet` : `execution ${executionId} has no patch version ${version}`,
    );
  }
  return { execution, patchVersion, codebase: await loadCodebase(db, execution.remediationId) };
}

/**
 * The one approvability check (docs/mission.md "Proof of remediation"): only a version whose every
 * shipped target passes its proof of remediation is offered for approval and goes to a pull
 * request. Used when a person approves a version (API) and before any push (git-gateway).
 * @throws InvalidInputError `PATCH_NOT_APPROVABLE` naming the targets whose proof failed, with
 *   `details: { patchVersion, proof }`.
 */
export function assertApprovable(version: Pick<PatchVersionRow, 'executionId' | 'version' | 'proofPassed' | 'proof'>): void {
  if (version.proofPassed) return;
  const failing = version.proof.filter((p) => !p.remediated);
  throw new InvalidInputError(
    'PATCH_NOT_APPROVABLE',
    `patch version ${version.version} of ${version.executionId} fails its proof of remediation: ${failing.map((p) => `${p.target}: ${p.reason}`).join('; ') || 'no target proven'}`,
    { details: { patchVersion: version.version, proof: version.proof } },
  );
}

/** A patch version to record: one commit on its own ref in the mirror. */
export interface NewPatchVersion {
  executionId: string;
  version: number;
  ref: string;
  sha: string;
  baseCommit: string;
  changedPaths: string[];
  /** Per-target proof of remediation of this version's manifests. */
  proof: TargetProof[];
  /** False when a shipped target fails its proof (the version is listed, not approvable). */
  proofPassed: boolean;
  /** The iteration it delivers (null for the first version, or a rebase of the pull request's version). */
  iteration: number | null;
  /** The agent run that produced it, if any. */
  agent: AgentRunSummary | null;
}

/**
 * Records a patch version in the caller's transaction; the first version an iteration makes is
 * also recorded as that iteration's result (`iterations.patch_version`).
 * @throws the database's errors (unique `(execution_id, version)` when the version exists).
 */
export async function recordPatchVersion(tx: EntityManager, version: NewPatchVersion): Promise<void> {
  await tx.insert(PatchVersionEntity, { ...version, createdAt: new Date() });
  if (version.iteration !== null) {
    await tx.nativeUpdate(
      IterationEntity,
      { executionId: version.executionId, number: version.iteration, patchVersion: null },
      { patchVersion: version.version },
    );
  }
}

/**
 * What pushing to a pull request needs: the remote's repository (URL or path), the pull request
 * record (head and base branches, the version it shows) and the execution's patch versions.
 * @throws NotFoundError when the pull request record or the remediation does not exist.
 */
export async function loadPushContext(
  db: Database,
  input: { remediationId: string; executionId: string; pullRequestId: string },
): Promise<{ repository: string; pullRequest: PullRequestRow; versions: PatchVersionRow[] }> {
  const [pullRequest, codebase, versions] = await Promise.all([
    db.em().findOne(PullRequestEntity, { id: input.pullRequestId }),
    loadCodebase(db, input.remediationId),
    listPatchVersions(db, input.executionId),
  ]);
  if (!pullRequest) throw new NotFoundError('pull request', input.pullRequestId);
  return { repository: codebase.repository, pullRequest, versions };
}

/**
 * Records a push to a pull request in the caller's transaction (with `branch.pushed`): the
 * version rebased on the way (if any), and the version and head SHA the pull request now shows.
 */
export async function recordPush(
  tx: EntityManager,
  input: { pullRequest: Pick<PullRequestRow, 'id' | 'patchVersion'>; pushed: { version: number; sha: string }; rebased: NewPatchVersion | null },
): Promise<void> {
  if (input.rebased) await recordPatchVersion(tx, input.rebased);
  if (input.pushed.version !== input.pullRequest.patchVersion) {
    await tx.nativeUpdate(PullRequestEntity, { id: input.pullRequest.id }, { patchVersion: input.pushed.version, headSha: input.pushed.sha, updatedAt: new Date() });
  }
}
