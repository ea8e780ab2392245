import { resolve } from 'node:path';
import { NpmRegistrySource, SnapshotDirectorySource, type PackumentSource, type VersionSource } from '@remediation/registry';
import { z } from 'zod';
import type { Registry } from '@remediation/metrics';
import { CargoSparseIndexSource } from './cargo/sparse-index-source.js';
import { GoProxySource, parseGoProxy } from './go/goproxy-source.js';
import { MavenRepositorySource, parseMavenRepositories } from './maven/maven-repository-source.js';
import { PypiRegistrySource } from './pypi/pypi-registry-source.js';
import { PypiSnapshotSource } from './pypi/snapshot-source.js';
import { CachedRegistrySource } from './cached-registry-source.js';
import type { RegistryCredentials, RegistrySource } from './types.js';

/** Prefixes of the registries' optional credentials (`<prefix>_TOKEN`, or `<prefix>_USERNAME` + `<prefix>_PASSWORD`). */
export const REGISTRY_CREDENTIAL_PREFIXES = ['PYPI', 'CARGO_INDEX', 'GOPROXY', 'MAVEN_REPOSITORY'] as const;

/** Whether `list` is a MAVEN_REPOSITORY_URL value `parseMavenRepositories` accepts. */
function isRepositoryList(list: string): boolean {
  try {
    parseMavenRepositories(list);
    return true;
  } catch {
    return false;
  }
}

/**
 * The registry settings the planner and the patcher share (README "Settings"): npm registry or
 * snapshot, PyPI index, Cargo sparse index, Go module proxies, Maven repositories, with their credentials, time limits
 * and retries. Extend a service's schema with `.extend(RegistryEnv.shape)` and add
 * {@link checkRegistryCredentials} as a `superRefine`.
 */
export const RegistryEnv = z.object({
  /** npm registry URL (private registries welcome). */
  NPM_REGISTRY_URL: z.string().url().default('https://registry.npmjs.org'),
  /** Offline snapshot directory of registry documents; when set, used instead of the registry. */
  NPM_REGISTRY_SNAPSHOT_DIR: z.string().min(1).optional(),
  /** Time limit of one registry request, in ms (some registries are slow; packuments are big). */
  NPM_REGISTRY_TIMEOUT_MS: z.coerce.number().int().positive().default(120_000),
  /** Retries of one registry request inside a delivery (network errors, 429, 5xx). */
  NPM_REGISTRY_RETRIES: z.coerce.number().int().min(0).max(10).default(4),
  /** PyPI-compatible index (pypi.org, devpi, Artifactory, Nexus, …). */
  PYPI_URL: z.string().url().default('https://pypi.org'),
  /** `json`: PyPI's JSON API `<PYPI_URL>/pypi/<name>/json`; `simple`: the Simple API in JSON (PEP 691/700) under `<PYPI_URL>/simple`. */
  PYPI_API: z.enum(['json', 'simple']).default('json'),
  /** Root of the Simple API when it is not `<PYPI_URL>/simple` (e.g. devpi's `<url>/root/pypi/+simple`). */
  PYPI_SIMPLE_URL: z.string().url().optional(),
  /** Basic credentials of a private index (with PYPI_PASSWORD). */
  PYPI_USERNAME: z.string().min(1).optional(),
  PYPI_PASSWORD: z.string().min(1).optional(),
  /** Bearer token of a private index (instead of PYPI_USERNAME/PYPI_PASSWORD). */
  PYPI_TOKEN: z.string().min(1).optional(),
  /** Offline folder of PyPI documents (`<PEP 503 name>.json`: JSON API answers or tools/pypi-local package files); when set, used instead of the index. */
  PYPI_SNAPSHOT_DIR: z.string().min(1).optional(),
  /** Time limit of one index request, in ms. */
  PYPI_TIMEOUT_MS: z.coerce.number().int().positive().default(60_000),
  /** Retries of one index request inside a delivery (network errors, 408, 429, 5xx). */
  PYPI_RETRIES: z.coerce.number().int().min(0).max(10).default(4),
  /**
   * Cargo sparse index (https://doc.rust-lang.org/cargo/reference/registry-index.html#sparse-protocol):
   * crates.io's, or a private registry's; a `sparse+` prefix is accepted.
   */
  CARGO_INDEX_URL: z.string().min(1).default('https://index.crates.io').pipe(z.string().transform((u) => u.replace(/^sparse\+/, '')).pipe(z.string().url())),
  /** Token of a private index, sent as `Authorization: Bearer <token>` (a token carrying its own scheme is sent verbatim, as Cargo does). */
  CARGO_INDEX_TOKEN: z.string().min(1).optional(),
  /** Basic credentials of a private index (with CARGO_INDEX_PASSWORD), instead of CARGO_INDEX_TOKEN. */
  CARGO_INDEX_USERNAME: z.string().min(1).optional(),
  CARGO_INDEX_PASSWORD: z.string().min(1).optional(),
  /** Time limit of one index request, in ms. */
  CARGO_INDEX_TIMEOUT_MS: z.coerce.number().int().positive().default(60_000),
  /** Retries of one index request inside a delivery (network errors, 408, 429, 5xx). */
  CARGO_INDEX_RETRIES: z.coerce.number().int().min(0).max(10).default(4),
  /**
   * Go module proxies, in Go's GOPROXY syntax (https://go.dev/ref/mod#goproxy-protocol): proxy
   * URLs separated by `,` (the next is asked only after a 404 or 410) or `|` (after any error);
   * user info in a URL (`https://user:pass@host`) is sent to that proxy. `direct` (fetching from
   * version control) is not done here: reaching it fails the module's look-up with a clear reason;
   * `off` forbids look-ups. At least one proxy URL is required. Default: Go's own,
   * `https://proxy.golang.org,direct`.
   */
  GOPROXY: z
    .string()
    .min(1)
    .default('https://proxy.golang.org,direct')
    .superRefine((value, ctx) => {
      try {
        if (!parseGoProxy(value).some((e) => e.proxy !== 'direct' && e.proxy !== 'off')) {
          ctx.addIssue({ code: 'custom', message: 'GOPROXY names no module proxy URL: "direct" (fetching from version control) cannot be used by the planner or the patcher and "off" forbids look-ups; list a proxy such as https://proxy.golang.org' });
        }
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : String(err) });
      }
    }),
  /** Token of a private module proxy, sent as `Authorization: Bearer <token>` to the first proxy of GOPROXY only. */
  GOPROXY_TOKEN: z.string().min(1).optional(),
  /** Basic credentials of a private module proxy (with GOPROXY_PASSWORD), instead of GOPROXY_TOKEN; first proxy only. */
  GOPROXY_USERNAME: z.string().min(1).optional(),
  GOPROXY_PASSWORD: z.string().min(1).optional(),
  /** Time limit of one proxy request, in ms. */
  GOPROXY_TIMEOUT_MS: z.coerce.number().int().positive().default(60_000),
  /** Retries of one proxy request inside a delivery (network errors, 408, 429, 5xx). */
  GOPROXY_RETRIES: z.coerce.number().int().min(0).max(10).default(4),
  /**
   * Maven repositories (https://maven.apache.org/repositories/layout.html), a comma-separated list
   * of base URLs in order (Artifactory, Nexus, Maven Central, …); versions of every repository that
   * answers are merged. Basic credentials of one repository may be written in its URL
   * (`https://user:pass@nexus.example/repository/maven-public`).
   */
  MAVEN_REPOSITORY_URL: z
    .string()
    .min(1)
    .default('https://repo.maven.apache.org/maven2')
    .refine((list) => isRepositoryList(list), { message: 'expected a comma-separated list of http(s) repository URLs' }),
  /** Bearer token of the first repository of MAVEN_REPOSITORY_URL (list the private one first). */
  MAVEN_REPOSITORY_TOKEN: z.string().min(1).optional(),
  /** Basic credentials of the first repository (with MAVEN_REPOSITORY_PASSWORD), instead of MAVEN_REPOSITORY_TOKEN. */
  MAVEN_REPOSITORY_USERNAME: z.string().min(1).optional(),
  MAVEN_REPOSITORY_PASSWORD: z.string().min(1).optional(),
  /** Time limit of one repository request, in ms. */
  MAVEN_REPOSITORY_TIMEOUT_MS: z.coerce.number().int().positive().default(60_000),
  /** Retries of one repository request inside a delivery (network errors, 408, 429, 5xx). */
  MAVEN_REPOSITORY_RETRIES: z.coerce.number().int().min(0).max(10).default(4),
});
export type RegistryEnv = z.infer<typeof RegistryEnv>;

/**
 * `superRefine` of a schema extending {@link RegistryEnv}: per prefix of
 * {@link REGISTRY_CREDENTIAL_PREFIXES}, `<prefix>_USERNAME` and `<prefix>_PASSWORD` come together
 * and exclude `<prefix>_TOKEN`.
 */
export function checkRegistryCredentials(e: RegistryEnv, ctx: z.RefinementCtx): void {
  for (const prefix of REGISTRY_CREDENTIAL_PREFIXES) {
    const [token, username, password] = (['TOKEN', 'USERNAME', 'PASSWORD'] as const).map((k) => e[`${prefix}_${k}`]);
    if ((username === undefined) !== (password === undefined)) {
      ctx.addIssue({ code: 'custom', message: `set ${prefix}_USERNAME and ${prefix}_PASSWORD together`, path: [`${prefix}_PASSWORD`] });
    }
    if (token !== undefined && username !== undefined) {
      ctx.addIssue({ code: 'custom', message: `set either ${prefix}_TOKEN or ${prefix}_USERNAME/${prefix}_PASSWORD, not both`, path: [`${prefix}_TOKEN`] });
    }
  }
}

/** The registry sources {@link registrySourcesFromEnv} builds. */
export interface RegistrySources {
  /** npm: the snapshot directory (NPM_REGISTRY_SNAPSHOT_DIR) or the registry (NPM_REGISTRY_URL): version lists and whole packuments. */
  npm: VersionSource & PackumentSource;
  /** The npm source's URL or absolute directory, for `sources.registry` in plans. */
  npmLabel: string;
  pypi: RegistrySource;
  cargo: CargoSparseIndexSource;
  golang: GoProxySource;
  maven: MavenRepositorySource;
  /** The sources of the ecosystems other than npm, by purl type, each behind a `CachedRegistrySource` (answers remembered across plans). */
  registries: Map<string, RegistrySource>;
}

/**
 * The registry sources of one environment (planner or patcher), each with its credentials
 * (`<prefix>_TOKEN` as bearer, or `<prefix>_USERNAME`/`<prefix>_PASSWORD` as basic), time limit and retries.
 * @param metrics where lookups are reported (`remediation_lookup_*{source="registry",ecosystem}`):
 *   the cache hits and misses (timed loads) of the npm source and of each source of the
 *   `registries` map (`CachedRegistrySource`), labelled with the ecosystem.
 */
export function registrySourcesFromEnv(env: RegistryEnv, metrics?: Registry): RegistrySources {
  const credentialsOf = (prefix: (typeof REGISTRY_CREDENTIAL_PREFIXES)[number]): { credentials?: RegistryCredentials } => {
    const token = env[`${prefix}_TOKEN`];
    const username = env[`${prefix}_USERNAME`];
    const password = env[`${prefix}_PASSWORD`];
    if (token) return { credentials: { kind: 'bearer', token } };
    return username && password ? { credentials: { kind: 'basic', username, password } } : {};
  };
  const npm = env.NPM_REGISTRY_SNAPSHOT_DIR
    ? new SnapshotDirectorySource(resolve(env.NPM_REGISTRY_SNAPSHOT_DIR), metrics ? { metrics } : {})
    : new NpmRegistrySource({ url: env.NPM_REGISTRY_URL, timeoutMs: env.NPM_REGISTRY_TIMEOUT_MS, retries: env.NPM_REGISTRY_RETRIES, ...(metrics ? { metrics } : {}) });
  const pypi: RegistrySource = env.PYPI_SNAPSHOT_DIR
    ? new PypiSnapshotSource(resolve(env.PYPI_SNAPSHOT_DIR))
    : new PypiRegistrySource({
        url: env.PYPI_URL,
        api: env.PYPI_API,
        ...(env.PYPI_SIMPLE_URL ? { simpleUrl: env.PYPI_SIMPLE_URL } : {}),
        ...credentialsOf('PYPI'),
        timeoutMs: env.PYPI_TIMEOUT_MS,
        retries: env.PYPI_RETRIES,
      });
  const cargo = new CargoSparseIndexSource({ url: env.CARGO_INDEX_URL, ...credentialsOf('CARGO_INDEX'), timeoutMs: env.CARGO_INDEX_TIMEOUT_MS, retries: env.CARGO_INDEX_RETRIES });
  const golang = new GoProxySource({ url: env.GOPROXY, ...credentialsOf('GOPROXY'), timeoutMs: env.GOPROXY_TIMEOUT_MS, retries: env.GOPROXY_RETRIES });
  const maven = new MavenRepositorySource({
    repositories: parseMavenRepositories(env.MAVEN_REPOSITORY_URL, credentialsOf('MAVEN_REPOSITORY').credentials),
    timeoutMs: env.MAVEN_REPOSITORY_TIMEOUT_MS,
    retries: env.MAVEN_REPOSITORY_RETRIES,
  });
  return {
    npm,
    npmLabel: env.NPM_REGISTRY_SNAPSHOT_DIR ? resolve(env.NPM_REGISTRY_SNAPSHOT_DIR) : env.NPM_REGISTRY_URL,
    pypi,
    cargo,
    golang,
    maven,
    // Answers (and PACKAGE_NOT_FOUND) remembered across plans around the timed sources; the fields
    // above stay the sources themselves.
    registries: new Map<string, RegistrySource>(
      (
        [
          ['pypi', pypi],
          ['cargo', cargo],
          ['golang', golang],
          ['maven', maven],
        ] as const
      ).map(([purl, source]) => [purl, new CachedRegistrySource(source, { ecosystem: purl }, metrics)]),
    ),
  };
}
