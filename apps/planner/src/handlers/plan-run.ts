import type { AdvisorySource } from '@remediation/advisories';
import type { AdvisoryDatabaseInfo } from '@remediation/contracts';
import type { RegistrySource } from '@remediation/ecosystems';
import type { CommandHandler } from '@remediation/messaging';
import { type Database, loadScan, recordHistory, recordPlanPackages, storePlan } from '@remediation/persistence';
import type { VersionSource } from '@remediation/registry';
import { parseScan, type ParsedScan } from '@remediation/sbom';
import { scanPackages } from '../adapters/advisory-database.js';
import { computePlan } from '../plan.js';

/** What the plan handler needs. */
export interface PlanHandlerDeps {
  db: Database;
  worker: string;
  /** The advisories a plan of `scan` needs (from the advisory database: `loadPlanAdvisories`). */
  advisories: (scan: ParsedScan) => Promise<AdvisorySource>;
  /** The advisory database's snapshot, recorded in the plan (`advisoryDatabase`); taken before the look-ups. */
  advisoryDatabase: () => Promise<AdvisoryDatabaseInfo>;
  /** npm's published versions, and its registry URL or snapshot folder (the plan's `sources.registry`). */
  versions: VersionSource;
  registryLabel: string;
  /** Registry sources of the other ecosystems by purl type (e.g. `pypi`). */
  registries?: ReadonlyMap<string, RegistrySource>;
}

/**
 * `plan.run`: parses the stored scan (any format `parseScan` reads), computes the PlannerOutput and stores it with the
 * `plan.completed` transition (one transaction). Each registry look-up is a heartbeat. A bad
 * scan fails the plan at once (`planner_failed` with the reason); a registry outage is retried.
 */
export function planRunHandler(deps: PlanHandlerDeps): CommandHandler {
  return {
    kind: 'plan.run',
    async handle(ctx) {
      const { executionId, remediationId } = ctx.payload;
      const scan = parseScan(await loadScan(deps.db, remediationId));
      let lookups = 0;
      const versions: VersionSource = {
        listVersions: async (name: string) => {
          ctx.heartbeat({ event: 'plan.lookup', package: name });
          lookups++;
          return deps.versions.listVersions(name);
        },
      } as VersionSource;
      const registries = new Map(
        [...(deps.registries ?? new Map<string, RegistrySource>())].map(([type, source]): [string, RegistrySource] => [
          type,
          {
            label: source.label,
            releases: async (name: string) => {
              ctx.heartbeat({ event: 'plan.lookup', package: name, ecosystem: type });
              lookups++;
              return source.releases(name);
            },
          },
        ]),
      );
      const started = Date.now();
      const advisoryDatabase = await deps.advisoryDatabase();
      const output = {
        ...(await computePlan(scan, {
          advisories: await deps.advisories(scan),
          versions,
          registryLabel: deps.registryLabel,
          registries,
        })),
        advisoryDatabase,
      };
      await ctx.transition({
        executionId,
        event: { type: 'plan.completed' },
        details: {
          targets: output.targets.length,
          noFixTargets: output.noFixTargets.length,
          transitive: output.transitive.length,
          registryLookups: lookups,
          durationMs: Date.now() - started,
        },
        mutate: async (tx) => {
          await storePlan(tx, executionId, output);
          await recordPlanPackages(tx, executionId, scanPackages(scan));
        },
      });
      if (output.warnings.length) {
        await recordHistory(deps.db, { executionId, event: 'plan.warnings', worker: deps.worker, details: { warnings: output.warnings } });
      }
    },
    async giveUp(ctx, error) {
      await ctx.transition({ executionId: ctx.payload.executionId, event: { type: 'plan.failed', error } });
    },
  };
}
