import { generateKeyPairSync } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createApiKey, ensureDatabaseExists, migrate, openDatabase, upsertTenant } from '@remediation/persistence';
import { serviceArgs } from '@remediation/service-bundle';
import { type StackProcess, freePort, spawnLogged, stopProcess, waitReady } from './processes.js';

/** The services of the stack, each its own process. */
export const SERVICES = ['api', 'planner', 'git-gateway', 'patcher', 'pr-service'] as const;
export type ServiceName = (typeof SERVICES)[number];

/** The services of a worker node: they share the node's `LOCAL_ROOT` (docs/deployment.md). */
export const NODE_SERVICES: readonly ServiceName[] = ['git-gateway', 'patcher'];

/** Options of `startStack`. */
export interface StackOptions {
  /** Repository root (where tsconfig.json and apps/ are). */
  repoRoot: string;
  databaseUrl: string;
  /** URL the services use (e.g. through a fault proxy); defaults to `databaseUrl`. */
  serviceDatabaseUrl?: string;
  natsUrl: string;
  /** Root for persistent data, local workspaces and logs of this stack. */
  dataDir: string;
  /** Bare repositories served by the local GitHub-compatible server: `<root>/<owner>/<repo>.git`. */
  githubReposRoot: string;
  /** OSV advisory directory for the planner. */
  osvDir: string;
  /** Where npm version lists come from: a registry URL or a snapshot folder of packuments. */
  registry: { url: string } | { snapshotDir: string };
  /**
   * Where PyPI version lists come from (the planner's `PYPI_URL`): an index URL (e.g.
   * https://pypi.org), or a folder of package files that the stack serves with tools/pypi-local
   * (format in tools/pypi-local/README.md). Unset: the planner's own default.
   */
  pypi?: { url: string } | { dir: string };
  /**
   * Where crate version lists come from (the planner's `CARGO_INDEX_URL`): a sparse index URL
   * (e.g. https://index.crates.io), or a folder of index files that the stack serves with
   * tools/cargo-local (format in tools/cargo-local/README.md). Unset: the planner's own default.
   */
  cargo?: { url: string } | { dir: string };
  /**
   * Where Go module version lists come from (the planner's `GOPROXY`): a GOPROXY value (e.g.
   * https://proxy.golang.org), or a folder laid out as a module proxy that the stack serves with
   * tools/go-proxy-local (format in tools/go-proxy-local/README.md). Unset: the planner's own default.
   */
  goproxy?: { url: string } | { dir: string };
  /**
   * Where Maven version lists come from (the planner's `MAVEN_REPOSITORY_URL`): a repository URL
   * list, or a folder in the Maven repository layout that the stack serves with tools/maven-local
   * (format in tools/maven-local/README.md). Unset: the planner's own default (Maven Central).
   */
  maven?: { url: string } | { dir: string };
  /** API port (default: a free port). */
  apiPort?: number;
  /** Extra environment for every service (e.g. ACK_WAIT_MS). */
  env?: Record<string, string>;
  /** Log level of the services (default `info`). */
  logLevel?: string;
  /** Extra environment per service (e.g. FAULT_INJECT for one of them). */
  serviceEnv?: Partial<Record<ServiceName, Record<string, string>>>;
  /**
   * Serve `githubReposRoot` through git-mirror-local too, and make git-gateway mirror from it
   * (bundle-first clone, then incremental fetch) instead of cloning the remotes directly.
   */
  mirror?: boolean;
  /** Processes per service (default 1); replicas are named `<service>#<n>`. */
  replicas?: Partial<Record<ServiceName, number>>;
  /**
   * Worker nodes (docs/decisions/0021): for each node id, a git-gateway and a patcher named
   * `git-gateway@<node>` and `patcher@<node>`, with `NODE_ID=<node>` and their own `LOCAL_ROOT`
   * (`<dataDir>/local-<node>`), sharing `DATA_ROOT`, the database and NATS. Unset: one unnamed
   * node (`git-gateway`, `patcher` on `<dataDir>/local`); `replicas` of the node services are then
   * ignored.
   */
  nodes?: string[];
  /**
   * Run github-local as a GitHub App host (installation tokens only, one installation covering
   * every repository) and give the services the App's id and private key instead of a token.
   */
  githubApp?: boolean;
  /**
   * The tenant the stack's API key belongs to (created when missing, any host and owner allowed;
   * default `default`).
   */
  tenant?: string;
}

/** A running stack. */
export interface Stack {
  apiUrl: string;
  /** The tenant of `apiKey`. */
  tenant: string;
  /** An API key of `tenant` with the `admin` scope (every route), sent as `Authorization: Bearer`. */
  apiKey: string;
  githubUrl: string;
  /** The PyPI index the planner uses (`PYPI_URL`): pypi-local's URL when the stack serves a folder. */
  pypiUrl?: string;
  /** The Cargo sparse index the planner uses (`CARGO_INDEX_URL`): cargo-local's URL when the stack serves a folder. */
  cargoIndexUrl?: string;
  /** The Go module proxy the planner uses (`GOPROXY`): go-proxy-local's URL when the stack serves a folder. */
  goproxyUrl?: string;
  /** The Maven repositories the planner uses (`MAVEN_REPOSITORY_URL`): maven-local's URL when the stack serves a folder. */
  mavenRepositoryUrl?: string;
  /** How the services authenticate to github-local (a token, or the App's id and key). */
  githubAuth: { kind: 'token'; token: string } | { kind: 'app'; appId: number; privateKey: string };
  logDir: string;
  /**
   * With `githubApp`: the file github-local appends every installation token it mints to (one a
   * line; outside `logDir`), for tests that check no token leaks.
   */
  issuedTokensFile?: string;
  processes: Map<string, StackProcess>;
  /**
   * Starts one service process again (after it was killed or stopped), waiting until it is
   * ready. `name` is a service or a replica (`planner#2`); `env` replaces its extra environment.
   */
  restart(name: string, env?: Record<string, string>): Promise<void>;
  /** Sends a signal to one process (e.g. SIGKILL, SIGSTOP, SIGCONT). */
  signal(name: string, signal: NodeJS.Signals): void;
  /** Stops one process cleanly (SIGTERM; SIGKILL after 10 s); `restart` starts it again. */
  stopOne(name: string): Promise<void>;
  /**
   * SIGKILLs every process of worker node `nodeId` (`*@<node>`, see `nodes`) at once and waits
   * until they are gone. @returns the names of the processes killed.
   * @throws Error when the stack has no such node.
   */
  killNode(nodeId: string): Promise<string[]>;
  /** The `LOCAL_ROOT` of worker node `nodeId` (with `nodes`), or of the one unnamed node. */
  localRoot(nodeId?: string): string;
  /** Base URL of a service's HTTP server (health, metrics; pr-service's webhook endpoint). */
  serviceUrl(name: string): string;
  stop(): Promise<void>;
}

/**
 * Starts the local GitHub-compatible server (and tools/pypi-local when `pypi` names a folder,
 * tools/cargo-local when `cargo` does, tools/go-proxy-local when `goproxy` does, tools/maven-local when `maven` does)
 * and the five services as separate processes
 * (`node <SERVICE_NODE_FLAGS of libs/config> --import tsx apps/<service>/src/main.ts`, or the service's bundle for
 * the planner: `serviceArgs` of @remediation/service-bundle, decision 0031) against the given PostgreSQL and NATS,
 * after creating and migrating the database and creating the tenant and an admin-scoped API key
 * for the caller. Waits until every service answers `/readyz`.
 * @throws Error naming the service and its log file when one does not become ready.
 */
export async function startStack(o: StackOptions): Promise<Stack> {
  const dataDir = resolve(o.dataDir);
  const logDir = join(dataDir, 'logs');
  await mkdir(logDir, { recursive: true });
  await ensureDatabaseExists(o.databaseUrl);
  const tenant = o.tenant ?? 'default';
  const db = await openDatabase(o.databaseUrl);
  let apiKey: string;
  try {
    await migrate(db);
    await upsertTenant(db, { id: tenant });
    ({ key: apiKey } = await createApiKey(db, { tenant, name: 'stack', scopes: ['admin'] }));
  } finally {
    await db.close();
  }
  const processes = new Map<string, StackProcess>();
  const node = process.execPath;
  const baseEnv: NodeJS.ProcessEnv = {
    // The caller's environment (proxy and CA settings such as NODE_EXTRA_CA_CERTS) plus the
    // system CA store, so registries behind a corporate CA work.
    ...process.env,
    NODE_USE_SYSTEM_CA: process.env['NODE_USE_SYSTEM_CA'] ?? '1',
    DATABASE_URL: o.serviceDatabaseUrl ?? o.databaseUrl,
    NATS_URL: o.natsUrl,
    DATA_ROOT: join(dataDir, 'persistent'),
    LOCAL_ROOT: join(dataDir, 'local'),
    LOG_LEVEL: o.logLevel ?? 'info',
    // The stack runs on local bare repositories (tests, `./run example`): a development setting
    // (docs/security.md "Codebase policy"); production keeps the default, false.
    ALLOW_LOCAL_REPOSITORIES: 'true',
    ...o.env,
  };

  /** Starts a dev tool server that prints `<name> listening on <url>` on stdout. */
  const startToolServer = (name: string, args: string[]) =>
    new Promise<{ proc: StackProcess; url: string }>((resolveTool, reject) => {
      let proc: StackProcess | undefined;
      const timer = setTimeout(() => reject(new Error(`${name} did not start; see ${join(logDir, `${name}.log`)}`)), 30_000);
      void spawnLogged(name, node, ['--import', 'tsx', ...args], {
        cwd: o.repoRoot,
        env: baseEnv,
        logDir,
        onStdoutLine: (line) => {
          const m = /listening on (\S+)/.exec(line);
          if (m && proc) {
            clearTimeout(timer);
            resolveTool({ proc, url: m[1]! });
          }
        },
      }).then((p) => {
        proc = p;
        void p.exited.then((code) => reject(new Error(`${name} exited (${code}); see ${p.logFile}`)));
      }, reject);
    });
  const issuedTokensFile = join(dataDir, 'github-app-issued-tokens.txt');
  const githubArgs = ['tools/github-local/src/main.ts', '--port', '0', '--repos-root', resolve(o.githubReposRoot)];
  let githubAuth: Stack['githubAuth'] = { kind: 'token', token: process.env['GITHUB_TOKEN'] ?? 'local-development-token' };
  if (o.githubApp) {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const publicKeyFile = join(dataDir, 'github-app.pub.pem');
    await writeFile(publicKeyFile, publicKey.export({ type: 'spki', format: 'pem' }));
    githubAuth = { kind: 'app', appId: 4242, privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
    githubArgs.push('--app-id', '4242', '--app-public-key', publicKeyFile, '--installation', '1:*', '--issued-tokens-file', issuedTokensFile);
  }
  const github = await startToolServer('github-local', githubArgs);
  const githubUrl = github.url;
  const gh = github.proc;
  processes.set('github-local', gh);

  /** A registry's URL: the one given, or that of `tool` (tools/<tool>) started on a free port serving the given folder; undefined when unset. */
  const registryUrl = async (tool: string, registry: { url: string } | { dir: string } | undefined): Promise<string | undefined> => {
    if (registry === undefined || 'url' in registry) return registry?.url;
    const { proc, url } = await startToolServer(tool, [`tools/${tool}/src/main.ts`, '--port', '0', '--dir', resolve(registry.dir)]);
    processes.set(tool, proc);
    return url;
  };
  const pypiUrl = await registryUrl('pypi-local', o.pypi);
  const cargoIndexUrl = await registryUrl('cargo-local', o.cargo);
  const goproxyUrl = await registryUrl('go-proxy-local', o.goproxy);

  let mavenRepositoryUrl: string | undefined;
  if (o.maven && 'url' in o.maven) mavenRepositoryUrl = o.maven.url;
  else if (o.maven) {
    const { proc, url } = await startToolServer('maven-local', ['tools/maven-local/src/main.ts', '--port', '0', '--dir', resolve(o.maven.dir)]);
    processes.set('maven-local', proc);
    mavenRepositoryUrl = url;
  }

  let mirrorUrl = '';
  if (o.mirror) {
    const { proc, url } = await startToolServer('git-mirror-local', ['tools/git-mirror-local/src/main.ts', '--port', '0', '--root', resolve(o.githubReposRoot)]);
    processes.set('git-mirror-local', proc);
    mirrorUrl = url;
  }

  const apiPort = o.apiPort ?? (await freePort());
  const healthPorts = new Map<string, number>();
  const serviceOf = (proc: string) => proc.split(/[#@]/)[0] as ServiceName;
  const nodeOf = (proc: string) => (proc.includes('@') ? proc.slice(proc.indexOf('@') + 1) : null);
  const localRootOf = (node: string | null) => join(dataDir, node === null ? 'local' : `local-${node}`);
  const extraEnv = new Map<string, Record<string, string>>();
  const envFor = async (proc: string): Promise<NodeJS.ProcessEnv> => {
    const name = serviceOf(proc);
    if (!healthPorts.has(proc)) healthPorts.set(proc, proc === 'api' ? apiPort : await freePort());
    const env: NodeJS.ProcessEnv = {
      ...baseEnv,
      ...(o.serviceEnv?.[name] ?? {}),
      ...(extraEnv.get(proc) ?? {}),
      HEALTH_PORT: String(healthPorts.get(proc)),
    };
    const node = nodeOf(proc);
    if (node !== null) {
      env['NODE_ID'] = node;
      env['LOCAL_ROOT'] = localRootOf(node);
    }
    if (name === 'api') env['API_PORT'] = String(apiPort);
    if (name === 'planner') env['OSV_DIR'] = resolve(o.osvDir);
    // The registries: the planner lists versions, the patcher reads metadata to update lockfiles (same settings).
    if (name === 'planner' || name === 'patcher') {
      if ('url' in o.registry) env['NPM_REGISTRY_URL'] = o.registry.url;
      else env['NPM_REGISTRY_SNAPSHOT_DIR'] = resolve(o.registry.snapshotDir);
      if (pypiUrl) env['PYPI_URL'] = pypiUrl;
      if (cargoIndexUrl) env['CARGO_INDEX_URL'] = cargoIndexUrl;
      if (goproxyUrl) env['GOPROXY'] = goproxyUrl;
      if (mavenRepositoryUrl) env['MAVEN_REPOSITORY_URL'] = mavenRepositoryUrl;
    }
    if (name === 'git-gateway' && mirrorUrl) env['MIRROR_URL'] = mirrorUrl;
    if (name === 'pr-service' || name === 'git-gateway') {
      env['GITHUB_API_URL'] = githubUrl;
      if (githubAuth.kind === 'app') {
        env['GITHUB_APP_ID'] = String(githubAuth.appId);
        env['GITHUB_APP_PRIVATE_KEY'] = githubAuth.privateKey;
        delete env['GITHUB_TOKEN'];
      } else {
        env['GITHUB_TOKEN'] = githubAuth.token;
      }
    }
    return env;
  };
  // One bundle per service and stack (replicas and restarts start from the same one).
  const argsOf = new Map<string, Promise<string[]>>();
  const startOne = async (proc: string) => {
    const service = serviceOf(proc);
    let args = argsOf.get(service);
    if (args === undefined) {
      argsOf.set(service, (args = serviceArgs(o.repoRoot, service)));
      // A failed build is tried again by the next start (a restart), not remembered.
      args.catch(() => argsOf.delete(service));
    }
    const p = await spawnLogged(proc.replace('#', '-'), node, await args, {
      cwd: o.repoRoot,
      env: await envFor(proc),
      logDir,
    });
    processes.set(proc, p);
    return { proc, p };
  };
  const names = SERVICES.flatMap((s) =>
    o.nodes && NODE_SERVICES.includes(s)
      ? o.nodes.map((n) => `${s}@${n}`)
      : Array.from({ length: o.replicas?.[s] ?? 1 }, (_, i) => (i === 0 ? s : `${s}#${i + 1}`)),
  );
  const stop = async () => {
    await Promise.all([...processes.values()].map((p) => stopProcess(p)));
  };
  try {
    const started = await Promise.all(names.map(startOne));
    await Promise.all(started.map(({ proc, p }) => waitReady(p, `http://127.0.0.1:${healthPorts.get(proc)}/readyz`)));
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    apiUrl: `http://127.0.0.1:${apiPort}`,
    tenant,
    apiKey,
    githubUrl,
    ...(pypiUrl ? { pypiUrl } : {}),
    ...(cargoIndexUrl ? { cargoIndexUrl } : {}),
    ...(goproxyUrl ? { goproxyUrl } : {}),
    ...(mavenRepositoryUrl ? { mavenRepositoryUrl } : {}),
    githubAuth,
    ...(o.githubApp ? { issuedTokensFile } : {}),
    serviceUrl(name) {
      const p = healthPorts.get(name);
      if (p === undefined) throw new Error(`no service ${name}`);
      return `http://127.0.0.1:${p}`;
    },
    logDir,
    processes,
    async restart(name, env) {
      const old = processes.get(name);
      if (old) await stopProcess(old);
      if (env) extraEnv.set(name, env);
      const { p } = await startOne(name);
      await waitReady(p, `http://127.0.0.1:${healthPorts.get(name)}/readyz`);
    },
    signal(name, signal) {
      const p = processes.get(name);
      if (!p) throw new Error(`no process ${name}`);
      p.child.kill(signal);
    },
    async stopOne(name) {
      const p = processes.get(name);
      if (!p) throw new Error(`no process ${name}`);
      await stopProcess(p);
    },
    async killNode(nodeId) {
      const names = [...processes.keys()].filter((n) => nodeOf(n) === nodeId);
      if (names.length === 0) throw new Error(`no worker node ${nodeId} in this stack (nodes: ${(o.nodes ?? []).join(', ') || 'none named'})`);
      for (const n of names) processes.get(n)!.child.kill('SIGKILL');
      await Promise.all(names.map((n) => processes.get(n)!.exited));
      return names;
    },
    localRoot(nodeId) {
      return localRootOf(nodeId ?? null);
    },
    stop,
  };
}

/** Removes a stack's data directory (unmount workspaces first: see git-gateway). */
export async function removeDataDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
