import { execFileSync } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { type OwnNatsCluster, type OwnNatsServer, type Stack, type StackOptions, startNatsCluster, startNatsServer, startStack, unmountUnder } from '@remediation/stack';

/** `url` with its port replaced. */
export function withPort(url: string, port: number): string {
  const u = new URL(url);
  u.port = String(port);
  return u.toString();
}
import { dropDatabase, fixturePath, freshDatabaseUrl, repoRoot } from '@remediation/testing';

export { TEST_PG_URL, dropDatabase, freshDatabaseUrl } from '@remediation/testing';

const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: 'Test Maintainer',
  GIT_AUTHOR_EMAIL: 'maintainer@example.invalid',
  GIT_COMMITTER_NAME: 'Test Maintainer',
  GIT_COMMITTER_EMAIL: 'maintainer@example.invalid',
};

/** Runs git and returns trimmed stdout. */
export function git(args: string[], cwd?: string): string {
  return execFileSync('git', args, { cwd, env: GIT_ENV, encoding: 'utf8' }).trim();
}

/**
 * Creates `<reposRoot>/<owner>/<repo>.git`, a bare repository whose `master` holds `files`
 * (path → content), as a local "remote" the local GitHub-compatible server serves.
 */
export async function makeRemote(reposRoot: string, owner: string, repo: string, files: Record<string, string>): Promise<string> {
  const work = await mkdtemp(join(tmpdir(), 'rem-src-'));
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(work, path)), { recursive: true });
    await writeFile(join(work, path), content);
  }
  git(['init', '-q', '-b', 'master'], work);
  git(['add', '-A'], work);
  git(['commit', '-q', '-m', 'initial'], work);
  const bare = join(reposRoot, owner, `${repo}.git`);
  await mkdir(join(reposRoot, owner), { recursive: true });
  git(['clone', '-q', '--bare', work, bare]);
  await rm(work, { recursive: true, force: true });
  return bare;
}

/** The tenant of every test environment's API key (its public events are `remediation.evt.v1.acme-tests.…`). */
export const TEST_TENANT = 'acme-tests';

/** Everything an end-to-end test runs against: its own NATS, database, data dir and stack (its API key: `stack.apiKey`). */
export interface TestEnvironment {
  dir: string;
  reposRoot: string;
  databaseUrl: string;
  /** The nats-server (with `natsCluster`: the cluster's first server). */
  nats: OwnNatsServer;
  /** With `natsCluster`: every server of the JetStream cluster the services use. */
  natsCluster?: OwnNatsCluster;
  stack: Stack;
  close(): Promise<void>;
}

/**
 * Starts a private nats-server, a fresh database, and the five services plus the local
 * GitHub-compatible server as separate processes, with advisories from test/fixtures/osv/npm
 * (`osvDir` to change), npm version lists from the trimmed registry snapshot in
 * test/fixtures/registry/npm, PyPI version lists from test/fixtures/registry/pypi served by
 * tools/pypi-local (the planner's `PYPI_URL`) and crate version lists from
 * test/fixtures/registry/cargo served by tools/cargo-local (the planner's `CARGO_INDEX_URL`) and
 * Go module version lists from test/fixtures/registry/go served by tools/go-proxy-local (the
 * planner's `GOPROXY`) and Maven version lists from test/fixtures/registry/maven served by
 * tools/maven-local (the planner's `MAVEN_REPOSITORY_URL`; sources in test/fixtures/PROVENANCE.md).
 */
export async function startTestEnvironment(
  label: string,
  env: Record<string, string> = {},
  options: {
    serviceEnv?: StackOptions['serviceEnv'];
    replicas?: StackOptions['replicas'];
    /** Worker nodes (see StackOptions.nodes): `git-gateway@<node>`, `patcher@<node>` each. */
    nodes?: StackOptions['nodes'];
    /** Services reach PostgreSQL through this proxy port instead of directly. */
    databasePort?: number;
    registry?: StackOptions['registry'];
    /** OSV_DIR of the planner (default test/fixtures/osv/npm). */
    osvDir?: string;
    mirror?: boolean;
    githubApp?: boolean;
    /** Runs a JetStream cluster of this many servers instead of one server (set `NATS_REPLICAS` in `env` to replicate). */
    natsCluster?: number;
  } = {},
): Promise<TestEnvironment> {
  const dir = await mkdtemp(join(tmpdir(), `rem-${label}-`));
  const reposRoot = join(dir, 'github');
  await mkdir(reposRoot, { recursive: true });
  const natsCluster = options.natsCluster ? await startNatsCluster(join(dir, 'nats'), options.natsCluster) : undefined;
  const nats = natsCluster ? natsCluster.servers[0]! : await startNatsServer(join(dir, 'nats'));
  const stopNats = () => (natsCluster ? natsCluster.stop() : nats.stop());
  const databaseUrl = freshDatabaseUrl(label);
  let stack: Stack;
  try {
    stack = await startStack({
      repoRoot,
      databaseUrl,
      ...(options.databasePort ? { serviceDatabaseUrl: withPort(databaseUrl, options.databasePort) } : {}),
      natsUrl: natsCluster ? natsCluster.url : nats.url,
      tenant: TEST_TENANT,
      dataDir: join(dir, 'data'),
      githubReposRoot: reposRoot,
      osvDir: options.osvDir ?? fixturePath('osv/npm'),
      registry: options.registry ?? { snapshotDir: fixturePath('registry/npm') },
      pypi: { dir: fixturePath('registry/pypi') },
      cargo: { dir: fixturePath('registry/cargo') },
      goproxy: { dir: fixturePath('registry/go') },
      maven: { dir: fixturePath('registry/maven') },
      logLevel: 'debug',
      env: { RETRY_BASE_MS: '200', ...env },
      ...(options.serviceEnv ? { serviceEnv: options.serviceEnv } : {}),
      ...(options.replicas ? { replicas: options.replicas } : {}),
      ...(options.nodes ? { nodes: options.nodes } : {}),
      ...(options.mirror ? { mirror: true } : {}),
      ...(options.githubApp ? { githubApp: true } : {}),
    });
  } catch (err) {
    await stopNats();
    throw err;
  }
  return {
    dir,
    reposRoot,
    databaseUrl,
    nats,
    ...(natsCluster ? { natsCluster } : {}),
    stack,
    async close() {
      await stack.stop();
      await stopNats();
      if (process.env['KEEP_TEST_ENV'] === '1') {
        process.stderr.write(`KEEP_TEST_ENV=1: kept ${dir} (logs in data/logs) and database ${databaseUrl}\n`);
        return;
      }
      await unmountUnder(dir);
      await dropDatabase(databaseUrl).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Runs the `remediate` CLI as a process; returns exit code, parsed stdout JSON and stderr. */
export function runCli(args: string[]): { code: number; summary: any; stderr: string } {
  try {
    const out = execFileSync(process.execPath, ['--import', 'tsx', 'apps/cli/src/main.ts', ...args], {
      cwd: repoRoot,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return { code: 0, summary: JSON.parse(out), stderr: '' };
  } catch (err) {
    const e = err as { status: number; stdout: string; stderr: string };
    let summary: unknown = null;
    try {
      summary = JSON.parse(e.stdout);
    } catch {
      // not JSON
    }
    return { code: e.status, summary, stderr: e.stderr };
  }
}

/** Commits `files` on top of `branch` in a bare remote (as a person pushing to it would). */
export async function commitToRemote(bare: string, files: Record<string, string>, message: string, branch = 'master'): Promise<string> {
  const work = await mkdtemp(join(tmpdir(), 'rem-push-'));
  try {
    git(['clone', '-q', '-b', branch, bare, work]);
    for (const [path, content] of Object.entries(files)) {
      await mkdir(dirname(join(work, path)), { recursive: true });
      await writeFile(join(work, path), content);
    }
    git(['add', '-A'], work);
    git(['commit', '-q', '-m', message], work);
    git(['push', '-q', 'origin', branch], work);
    return git(['rev-parse', 'HEAD'], work);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
