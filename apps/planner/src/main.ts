import { resolve } from 'node:path';
import { z } from 'zod';
import type { Logger } from 'pino';
import { OsvApiClient } from '@remediation/advisories';
import { RegistryEnv, checkRegistryCredentials, registrySourcesFromEnv } from '@remediation/ecosystems';
import { BaseEnv, envFlag, loadEnv } from '@remediation/config';
import { ADVISORY_LOOKUP_CONNECTIONS, advisoryDatabaseSnapshot, warmAdvisoryLookup } from '@remediation/persistence';
import { describeError } from '@remediation/errors';
import { timeLookup } from '@remediation/metrics';
import { runMain } from '@remediation/service-runtime';
import { AdvisorySync, archiveSource, directorySource, loadPlanAdvisories, type ConfiguredSource } from './adapters/advisory-database.js';
import { planRunHandler } from './handlers/plan-run.js';

/** Planner environment: where advisories and version lists (npm, PyPI, Cargo, Go, Maven) come from. */
const PlannerEnv = BaseEnv.extend({
  /** Directory of OSV advisory JSON files (flat, or one folder per ecosystem): imported at start, then re-synced. */
  OSV_DIR: z.string().min(1).optional(),
  /**
   * OSV_DIR: a sync stats every file when the last sync that did began longer ago than this, in ms
   * (between such syncs only the files the folder watch named, decision 0030); 0: every sync stats every file.
   */
  OSV_DIR_FULL_LISTING_MS: z.coerce.number().int().min(0).default(21_600_000),
  /** Base URL of OSV's data dump: `<url>/<ecosystem>/all.zip` per ecosystem of OSV_ECOSYSTEMS (e.g. https://osv-vulnerabilities.storage.googleapis.com). */
  OSV_ALL_ZIP_URL: z.string().url().optional(),
  /** Comma-separated OSV ecosystems fetched from OSV_ALL_ZIP_URL. */
  OSV_ECOSYSTEMS: z
    .string()
    .default('npm,PyPI,Maven,Go,crates.io')
    .transform((s) => s.split(',').map((e) => e.trim()).filter(Boolean)),
  /** After the first import, sync OSV_ALL_ZIP_URL sources through `<url>/<ecosystem>/modified_id.csv` (only records changed since). */
  OSV_CHANGE_LIST: envFlag.default(false),
  /** OSV API base URL (e.g. https://api.osv.dev); when set, each plan's packages are also queried there. */
  OSV_API_URL: z.string().url().optional(),
  /** Time between syncs of the advisory sources, in ms; 0 syncs only at start. */
  ADVISORY_SYNC_INTERVAL_MS: z.coerce.number().int().min(0).default(3_600_000),
  /** Time limit of one all.zip download, in ms. */
  ADVISORY_DOWNLOAD_TIMEOUT_MS: z.coerce.number().int().positive().default(300_000),
  /** Largest all.zip download, in bytes (ADVISORY_ARCHIVE_TOO_LARGE naming this variable beyond it); default 512 MiB. */
  ADVISORY_ARCHIVE_MAX_BYTES: z.coerce.number().int().positive().default(536_870_912),
})
  .extend(RegistryEnv.shape)
  .superRefine(checkRegistryCredentials)
  .refine((e) => e.OSV_DIR !== undefined || e.OSV_ALL_ZIP_URL !== undefined || e.OSV_API_URL !== undefined, {
  message: 'set at least one advisory source: OSV_DIR, OSV_ALL_ZIP_URL or OSV_API_URL',
  path: ['OSV_DIR'],
});

const env = loadEnv(PlannerEnv);
/** The configured advisory sources (`OSV_DIR`, `OSV_ALL_ZIP_URL` per ecosystem). */
const advisorySources = (logger: Pick<Logger, 'info'>): ConfiguredSource[] => [
  ...(env.OSV_DIR ? [directorySource(resolve(env.OSV_DIR), { logger, fullListingMs: env.OSV_DIR_FULL_LISTING_MS })] : []),
  ...(env.OSV_ALL_ZIP_URL ? env.OSV_ECOSYSTEMS.map((e) => archiveSource(env.OSV_ALL_ZIP_URL!, e, { timeoutMs: env.ADVISORY_DOWNLOAD_TIMEOUT_MS, maxBytes: env.ADVISORY_ARCHIVE_MAX_BYTES, changeList: env.OSV_CHANGE_LIST })) : []),
];
const api = env.OSV_API_URL ? { client: new OsvApiClient(env.OSV_API_URL), name: `api:${env.OSV_API_URL}` } : undefined;
let sync: AdvisorySync | undefined;

await runMain(() => ({
  name: 'planner',
  env,
  // A plan's advisory look-up runs this many statements at once: their connections stay open.
  databasePoolMin: ADVISORY_LOOKUP_CONNECTIONS,
  start: async (ctx) => {
    sync = new AdvisorySync(ctx.db, advisorySources(ctx.logger), { intervalMs: env.ADVISORY_SYNC_INTERVAL_MS, logger: ctx.logger });
    sync.start();
    // Before the first plan (consumers start after this): a backend's first look-up statement is
    // 2–3× slower than its later ones (docs/decisions/0029). An optimisation only: a failure is logged.
    await warmAdvisoryLookup(ctx.db).then(
      (warmed) => ctx.logger.info(warmed, 'advisory look-up connections ready'),
      (err: unknown) => ctx.logger.warn({ err: describeError(err) }, 'advisory look-up connections not readied'),
    );
    return () => sync!.stop();
  },
  handlers: (ctx) => {
    const { npm: versions, npmLabel: registryLabel, registries } = registrySourcesFromEnv(env, ctx.metrics);
    return [
      planRunHandler({
        db: ctx.db,
        worker: ctx.worker,
        advisories: async (scan) => {
          await sync?.ready;
          // One advisory lookup per plan, over every ecosystem of the scan.
          return timeLookup(ctx.metrics, 'advisories', 'all', () => loadPlanAdvisories(ctx.db, scan, api ? { api } : {}));
        },
        advisoryDatabase: async () => {
          await sync?.ready;
          return advisoryDatabaseSnapshot(ctx.db);
        },
        versions,
        registryLabel,
        registries,
      }),
    ];
  },
}));
