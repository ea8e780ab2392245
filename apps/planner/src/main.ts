import { resolve } from 'node:path';
import { z } from 'zod';
import { type AdvisorySource, loadOsvDirectory } from '@remediation/advisories';
import { NpmRegistrySource, SnapshotDirectorySource, type VersionSource } from '@remediation/registry';
import { BaseEnv, loadEnv } from '@remediation/config';
import { runMain } from '@remediation/service-runtime';
import { planRunHandler } from './handlers/plan-run.js';

/** Planner environment: where advisories and version lists come from. */
const PlannerEnv = BaseEnv.extend({
  /** Directory of OSV advisory JSON files (npm). */
  OSV_DIR: z.string().min(1, 'OSV_DIR must name a directory of OSV advisories'),
  /** npm registry URL (private registries welcome). */
  NPM_REGISTRY_URL: z.string().url().default('https://registry.npmjs.org'),
  /** Offline snapshot directory of registry documents; when set, used instead of the registry. */
  NPM_REGISTRY_SNAPSHOT_DIR: z.string().min(1).optional(),
  /** Time limit of one registry request, in ms (some registries are slow; packuments are big). */
  NPM_REGISTRY_TIMEOUT_MS: z.coerce.number().int().positive().default(120_000),
  /** Retries of one registry request inside a delivery (network errors, 429, 5xx). */
  NPM_REGISTRY_RETRIES: z.coerce.number().int().min(0).max(10).default(4),
});

const env = loadEnv(PlannerEnv);
let advisories: Promise<AdvisorySource> | undefined;
const versions: VersionSource = env.NPM_REGISTRY_SNAPSHOT_DIR
  ? new SnapshotDirectorySource(resolve(env.NPM_REGISTRY_SNAPSHOT_DIR))
  : new NpmRegistrySource({ url: env.NPM_REGISTRY_URL, timeoutMs: env.NPM_REGISTRY_TIMEOUT_MS, retries: env.NPM_REGISTRY_RETRIES });
const registryLabel = env.NPM_REGISTRY_SNAPSHOT_DIR ? resolve(env.NPM_REGISTRY_SNAPSHOT_DIR) : env.NPM_REGISTRY_URL;

await runMain(() => ({
  name: 'planner',
  env,
  handlers: (ctx) => [
    planRunHandler({
      db: ctx.db,
      worker: ctx.worker,
      advisories: () => (advisories ??= loadOsvDirectory(resolve(env.OSV_DIR), { ecosystem: 'npm' })),
      versions,
      registryLabel,
    }),
  ],
}));
