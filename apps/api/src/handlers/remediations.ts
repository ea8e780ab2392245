import {
  type CreateExecutionRequest,
  type CreateRemediationRequest,
  DEFAULT_REPOSITORY_HOSTS,
  type RepositoryPolicy,
  baseBranchProblem,
  checkRepositoryLocation,
  newRemediationId,
  providerRepository,
} from '@remediation/contracts';
import type { ExecutionResponse, PlannedTarget, PlannerOutput, RemediationResponse, Tier } from '@remediation/contracts';
import { ecosystemFor } from '@remediation/ecosystems';
import { InvalidInputError, RemediationError } from '@remediation/errors';
import {
  type NewExecutionTarget,
  createPatchExecution,
  createPlanExecution,
  createRemediation as storeRemediation,
  findExecutionByIdempotencyKey,
  findRemediationByIdempotencyKey,
  getExecutionView,
  getRemediationView,
  loadCodebase,
  loadLatestPlanExecution,
  loadTenant,
} from '@remediation/persistence';
import { parseScan } from '@remediation/sbom';
import type { Caller } from '../auth.js';
import type { ApiContext } from '../server.js';
import { assertRepositoryAllowed } from './tenant-policy.js';

/**
 * `POST /v1/remediations`: validates the codebase and the scan (any format `parseScan` reads:
 * an object, or a string holding CycloneDX XML), stores the remediation and
 * starts its plan execution (`planner_running`), all in one transaction, for the caller's tenant.
 * With an `Idempotency-Key` the tenant already used, returns the existing remediation
 * (`created: false`); keys are per tenant.
 * `options.scanChecked`: the scan was already validated (off the event loop, with the configured
 * limits) when the body was parsed (../body.ts); otherwise it is validated here.
 * @throws InvalidInputError `SCAN_INVALID` / `SCAN_UNSUPPORTED_VERSION` / `SCAN_FORMAT_UNKNOWN` / `CODEBASE_INVALID` (the
 *   codebase policy refused the repository: details `{ field, rule }`, never the credentials) /
 *   `REPOSITORY_NOT_ALLOWED` (the tenant's allowed hosts and owners)
 */
export async function createRemediation(
  ctx: ApiContext,
  caller: Caller,
  body: CreateRemediationRequest,
  idempotencyKey: string | undefined,
  options: { scanChecked?: boolean } = {},
): Promise<{ created: boolean; remediation: RemediationResponse }> {
  const { tenant } = caller;
  const key = idempotencyKey ?? null;
  const find = (k: string) => findRemediationByIdempotencyKey(ctx.db, tenant, k);
  const { created, id } = await createOnce(key, find, async () => {
    validateCodebase(body.codebase.repository, ctx.repositoryPolicy ?? DEFAULT_REPOSITORY_POLICY);
    if (!providerRepository(body.codebase)) {
      throw new InvalidInputError(
        'CODEBASE_INVALID',
        `cannot derive the pull-request repository (owner/repo) from ${JSON.stringify(body.codebase.repository)}: set codebase.pullRequestRepository`,
        { details: { field: 'codebase.pullRequestRepository' } },
      );
    }
    assertRepositoryAllowed(await loadTenant(ctx.db, tenant), body.codebase);
    if (!options.scanChecked) parseScan(body.scan); // throws SCAN_* errors naming the bad field
    const id = newRemediationId();
    await storeRemediation(ctx.db, { id, tenant, codebase: body.codebase, scan: body.scan, idempotencyKey: key, worker: ctx.worker });
    return id;
  });
  return { created, remediation: await getRemediationView(ctx.db, id, tenant) };
}

/** The policy of an API built without one: remote repositories on github.com only, no local ones. */
const DEFAULT_REPOSITORY_POLICY: RepositoryPolicy = { allowedHosts: DEFAULT_REPOSITORY_HOSTS, allowLocal: false };

/**
 * The codebase policy (`checkRepositoryLocation` of @remediation/contracts) at the API, before
 * anything is stored or started.
 * @throws InvalidInputError `CODEBASE_INVALID` naming the rule; the message never repeats credentials.
 */
function validateCodebase(repository: string, policy: RepositoryPolicy): void {
  const checked = checkRepositoryLocation(repository, policy);
  if ('rule' in checked) {
    throw new InvalidInputError('CODEBASE_INVALID', `codebase.repository refused: ${checked.message}`, {
      details: { field: 'codebase.repository', rule: checked.rule },
    });
  }
}

/**
 * `POST /v1/remediations/:id/executions`: starts a patch execution for a tier (optionally a
 * subset of targets). Inputs are immutable: another choice means another execution. Several
 * may run at once. Targets without a fix in the tier are recorded as `skipped` with the reason.
 * Another tenant's remediation is not found.
 * A `branchName` equal to the codebase's base branch (or, when the codebase names none, to `main` or
 * `master`) is refused before anything is created (git's and our other branch rules are checked by
 * the request schema).
 * @throws NotFoundError; RemediationError `PLAN_NOT_READY` (409), `UNKNOWN_TARGET` / `NO_TARGETS` (422);
 *   InvalidInputError `BRANCH_NAME_INVALID` (400)
 */
export async function createExecution(
  ctx: ApiContext,
  caller: Caller,
  remediationId: string,
  body: CreateExecutionRequest,
  idempotencyKey?: string,
): Promise<{ created: boolean; execution: ExecutionResponse }> {
  const { tenant } = caller;
  // Namespaced by remediation and kind (`patch`, `plan`): one caller key never finds the other kind's execution.
  const key = idempotencyKey ? JSON.stringify([remediationId, 'patch', idempotencyKey]) : null;
  const find = (k: string) => findExecutionByIdempotencyKey(ctx.db, tenant, k);
  const { created, id } = await createOnce(key, find, async () => {
    if (body.branchName !== undefined) {
      const { baseBranch } = await loadCodebase(ctx.db, remediationId, tenant);
      const problem = baseBranchProblem(body.branchName, baseBranch);
      if (problem) {
        throw new InvalidInputError('BRANCH_NAME_INVALID', `branchName ${problem}`, { details: { field: 'branchName', rule: 'base-branch' } });
      }
    }
    return createPatchExecution(
      ctx.db,
      {
        remediationId,
        tenant,
        tier: body.tier,
        selectedTargets: body.targets ?? null,
        branchName: body.branchName ?? null,
        asDraft: body.asDraft,
        idempotencyKey: key,
        allowEdits: body.allowEdits ?? [],
        ...(await chooseTargets(ctx, tenant, remediationId, body)),
      },
      ctx.worker,
    );
  });
  return { created, execution: await getExecutionView(ctx.db, id, tenant) };
}

/**
 * `POST /v1/remediations/:id/plans`: re-plans the remediation (issue 12, "plans say what they
 * knew"): a new plan execution `<id>.plan.<n>` of the same stored scan, planned with the
 * advisories and versions known now. The remediation's view then shows it, and patch executions
 * started after it has generated use its plan. With an `Idempotency-Key` the tenant already used
 * for this remediation's re-plans, returns that execution (`created: false`).
 * @throws NotFoundError (also another tenant's remediation); RemediationError `PLAN_RUNNING` (409)
 *   while a plan execution of the remediation is running.
 */
export async function createPlan(
  ctx: ApiContext,
  caller: Caller,
  remediationId: string,
  idempotencyKey?: string,
): Promise<{ created: boolean; execution: ExecutionResponse }> {
  const { tenant } = caller;
  // Scoped to the remediation and to re-plans, so a key used for a patch execution does not collide.
  const key = idempotencyKey ? JSON.stringify([remediationId, 'plan', idempotencyKey]) : null;
  const { created, id } = await createOnce(
    key,
    (k) => findExecutionByIdempotencyKey(ctx.db, tenant, k),
    () => createPlanExecution(ctx.db, { remediationId, tenant, idempotencyKey: key }, ctx.worker),
  );
  return { created, execution: await getExecutionView(ctx.db, id, tenant) };
}

/**
 * The targets of a new patch execution, from the remediation's latest plan (generated): the chosen
 * ones (all by default), each `pending` with its fixed version in the tier, or `skipped` with the
 * reason when the tier has none; and that plan execution's id (checked again when the execution
 * is stored, see `createPatchExecution`).
 * @throws NotFoundError; RemediationError `PLAN_NOT_READY`, `UNKNOWN_TARGET`, `NO_TARGETS`
 */
async function chooseTargets(
  ctx: ApiContext,
  tenant: string,
  remediationId: string,
  body: CreateExecutionRequest,
): Promise<{ targets: NewExecutionTarget[]; planExecutionId: string }> {
  const planRow = await loadLatestPlanExecution(ctx.db, remediationId, tenant);
  const plan = planRow.plan;
  if (planRow.state !== 'plan_generated' || !plan) {
    throw new RemediationError('PLAN_NOT_READY', `the plan of ${remediationId} is ${planRow.state}, not plan_generated`, {
      details: { state: planRow.state },
    });
  }
  const tier = body.tier;
  const known = new Set(plan.targets.map((t) => t.name));
  const transitive = transitiveTargets(plan, body.targets ?? [], known, tier);
  for (const t of transitive) known.add(t.name);
  if (body.targets) {
    const unknown = body.targets.filter((t) => !known.has(t));
    if (unknown.length) {
      throw new RemediationError('UNKNOWN_TARGET', `not targets of this plan: ${unknown.join(', ')}`, {
        details: { unknown, targets: [...known] },
      });
    }
  }
  const chosen = plan.targets.filter((t) => !body.targets || body.targets.includes(t.name));
  const withFix = chosen.filter((t) => t.tiers[tier] !== null);
  if (withFix.length === 0 && !transitive.some((t) => t.status === 'pending')) {
    throw new RemediationError('NO_TARGETS', `no selected target has a fixed version in the ${tier} tier`, {
      details: { tier, selected: chosen.map((t) => t.name) },
    });
  }
  const targets = groupByPackage(chosen).map((group): NewExecutionTarget => {
    // The highest installed version leads (its row's from/to); every installed version with a fix
    // in the tier is listed in `versions` when there are several.
    const t = group[group.length - 1]!;
    const fixable = group.filter((g) => g.tiers[tier] !== null);
    const lead = fixable[fixable.length - 1] ?? t;
    const leadOption = lead.tiers[tier];
    return {
      ecosystem: t.ecosystem,
      name: t.name,
      manifestPath: lead.manifestPath,
      fromVersion: lead.currentVersion,
      toVersion: leadOption?.version ?? lead.currentVersion,
      status: leadOption ? 'pending' : 'skipped',
      reason: leadOption ? null : (t.noFixReason ?? `no fixed version in the ${tier} tier`),
      advisories: [...new Set(group.flatMap((g) => g.advisories.map((a) => a.id)))],
      // A major jump or known breaking changes: code may need changes only the agent can make.
      needsAgent: fixable.some((g) => g.tiers[tier]?.jump === 'major' || g.tiers[tier]?.breakingChangeRisk === 'high'),
      ...(group.length > 1 ? { versions: fixable.map((g) => ({ from: g.currentVersion, to: g.tiers[tier]!.version })) } : {}),
    };
  });
  return { targets: [...targets, ...transitive], planExecutionId: planRow.id };
}

/**
 * The transitive targets of a new patch execution (docs/decisions/0016): each name in `selected`
 * that is no direct target of the plan but names npm `transitive` findings becomes one target,
 * `pending` with the fix option the plan chose for the tier (`minimal`, `moderate` or
 * `comprehensive` of the finding, decision 0017; a plan without per-tier choices gives `minimal`),
 * or `skipped` with the finding's reasons when it has none. A package found at several versions takes the option of its highest installed version
 * with an option (an override or a lockfile update moves every locked instance). Never selected
 * by default: a real scan has thousands of transitive findings (issue 15), each an override or a
 * bump in one pull request would be a change nobody reviews.
 */
export function transitiveTargets(plan: PlannerOutput, selected: readonly string[], direct: ReadonlySet<string>, tier: Tier): NewExecutionTarget[] {
  const npm = ecosystemFor('npm')!.versioning;
  return [...new Set(selected)]
    .filter((name) => !direct.has(name))
    .flatMap((name): NewExecutionTarget[] => {
      const found = plan.transitive
        .filter((f) => f.name === name && f.purl.startsWith('pkg:npm/'))
        .sort((a, b) => (npm.isValid(a.version) && npm.isValid(b.version) ? npm.compare(a.version, b.version) : a.version < b.version ? -1 : 1));
      if (found.length === 0) return [];
      // The tier's choice (decision 0017); a plan made before the planner chose per tier has only `minimal`.
      const choice = (f: (typeof found)[number]) => (f[tier] === undefined ? f.minimal : f[tier]) ?? null;
      const lead = [...found].reverse().find((f) => choice(f)) ?? found[found.length - 1]!;
      const fix = choice(lead);
      const advisories = [...new Set(found.flatMap((f) => f.advisories))].sort();
      const why = [...new Set(found.flatMap((f) => f.reasons ?? []))].join('; ');
      return [
        {
          ecosystem: 'npm',
          name,
          manifestPath: 'package.json',
          fromVersion: fix?.from ?? lead.version,
          toVersion: fix?.to ?? lead.version,
          status: fix ? 'pending' : 'skipped',
          reason: fix ? null : `no fix option in the ${tier} tier for transitive ${name}${why ? `: ${why}` : ''}`,
          advisories,
          needsAgent: fix?.jump === 'major' || fix?.breakingChangeRisk === 'high',
          ...(fix ? { fix } : {}),
        },
      ];
    });
}

/**
 * Plan targets grouped by package (ecosystem and name): a package installed at several versions
 * (pygoat pins django 4.2 in one requirements file and 3.2.18 in another: two plan targets) becomes
 * one execution target. Each group is sorted by installed version, ascending, by the ecosystem's
 * versioning (string order for an ecosystem not supported yet); groups keep plan order.
 */
function groupByPackage(targets: readonly PlannedTarget[]): PlannedTarget[][] {
  const groups = new Map<string, PlannedTarget[]>();
  for (const t of targets) {
    const key = `${t.ecosystem}\u0000${t.name}`;
    groups.set(key, [...(groups.get(key) ?? []), t]);
  }
  return [...groups.values()].map((group) => {
    const versioning = ecosystemFor(group[0]!.ecosystem)?.versioning;
    const compare = (a: string, b: string): number => {
      if (versioning?.isValid(a) && versioning.isValid(b)) return versioning.compare(a, b);
      return a < b ? -1 : a > b ? 1 : 0;
    };
    return [...group].sort((a, b) => compare(a.currentVersion, b.currentVersion));
  });
}

/**
 * Creates something once per idempotency key: returns what an earlier request with `key` made
 * (`created: false`), else runs `create`; when `create` loses a race on the key's unique index
 * (PostgreSQL 23505: a concurrent request with the same key committed first), returns what that
 * request made instead. Without a key, `create` simply runs.
 * @param find the id stored under `key` for the caller's tenant, or null.
 * @returns whether this call created it, and its id.
 */
async function createOnce(key: string | null, find: (key: string) => Promise<string | null>, create: () => Promise<string>): Promise<{ created: boolean; id: string }> {
  if (key) {
    const earlier = await find(key);
    if (earlier) return { created: false, id: earlier };
  }
  try {
    return { created: true, id: await create() };
  } catch (err) {
    if (key && (err as { code?: string }).code === '23505') {
      const existing = await find(key);
      if (existing) return { created: false, id: existing };
    }
    throw err;
  }
}
