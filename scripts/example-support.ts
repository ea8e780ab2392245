/**
 * What the README's example jobs (scripts/example.ts for npm, scripts/example-python.ts for PyPI)
 * share: the maintainer's git, the example's own database, the CLI's API key, the run of
 * `remediate --approve`, the API calls that follow the pull request, the base branch moving, and
 * the stop that leaves no service or overlay mount behind.
 */
import { execFileSync, spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { createApiKey, openDatabase } from '@remediation/persistence';
import { unmountUnder } from '@remediation/stack';

/** `git <args>` in `cwd` as the example's maintainer, with author and committer dates fixed at `date` (ISO 8601); returns trimmed stdout; throws on a non-zero exit. */
export function maintainerGit(date: string): (args: string[], cwd?: string) => string {
  return (args, cwd) =>
    execFileSync('git', args, {
      cwd,
      encoding: 'utf8',
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: 'Example Maintainer',
        GIT_AUTHOR_EMAIL: 'maintainer@example.invalid',
        GIT_COMMITTER_NAME: 'Example Maintainer',
        GIT_COMMITTER_EMAIL: 'maintainer@example.invalid',
        GIT_AUTHOR_DATE: date,
        GIT_COMMITTER_DATE: date,
      },
    }).trim();
}

/**
 * The example's database URL: DATABASE_URL when set (used as it is: give it an empty database);
 * else `postgres://postgres@127.0.0.1:5432/<name>`, dropped first. Each run recreates its GitHub
 * (github-local) and repository, so an earlier run's records would name pull requests and review
 * ids that no longer exist there.
 */
export async function exampleDatabase(name: string): Promise<string> {
  const configured = process.env['DATABASE_URL'];
  if (configured) return configured;
  const admin = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
  await admin.connect();
  try {
    await admin.query(`drop database if exists ${name} with (force)`);
  } finally {
    await admin.end();
  }
  return `postgres://postgres@127.0.0.1:5432/${name}`;
}

/**
 * The example's service account: an API key of tenant `example` with the scopes the CLI and the
 * review need (what `./run admin api-key-create` does). The database must be migrated (the stack
 * does it at start).
 */
export async function exampleApiKey(databaseUrl: string): Promise<string> {
  const db = await openDatabase(databaseUrl);
  try {
    return (await createApiKey(db, { tenant: 'example', name: 'example-cli', scopes: ['remediations:read', 'remediations:write', 'executions:approve'] })).key;
  } finally {
    await db.close();
  }
}

/** Runs `remediate --repo <bare> --scan <scan> --tier <EXAMPLE_TIER or minimal> --approve` (apps/cli) with the API key; resolves to its exit code. */
function runRemediate(o: { repoRoot: string; bare: string; scan: string; apiUrl: string; apiKey: string }): Promise<number> {
  return new Promise<number>((resolveCode) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'apps/cli/src/main.ts', '--repo', o.bare, '--scan', o.scan, '--tier', process.env['EXAMPLE_TIER'] ?? 'minimal', '--approve', '--api', o.apiUrl],
      { cwd: o.repoRoot, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, REMEDIATION_API_KEY: o.apiKey } },
    );
    child.once('exit', (c) => resolveCode(c ?? 1));
  });
}

/** JSON calls against the API with the example's key. */
export interface ExampleApi {
  /** `fetch` of `path`; throws naming the method, path, status and body when the answer is not 2xx. */
  call(path: string, init?: RequestInit): Promise<any>;
  /** Polls `GET /v1/executions/:id` every 500 ms until `done`; throws after `timeoutMs` naming `what` and where the execution stood. */
  waitExecution(id: string, what: string, done: (e: any) => boolean, timeoutMs?: number): Promise<any>;
}

/** An {@link ExampleApi} on `apiUrl` with `apiKey`. */
export function exampleApi(apiUrl: string, apiKey: string): ExampleApi {
  const call = async (path: string, init: RequestInit = {}): Promise<any> => {
    const res = await fetch(new URL(path, apiUrl), { ...init, headers: { 'content-type': 'application/json', 'x-api-key': apiKey, ...(init.headers ?? {}) } });
    const body = await res.json();
    if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${path}: ${res.status} ${JSON.stringify(body)}`);
    return body;
  };
  const waitExecution = async (id: string, what: string, done: (e: any) => boolean, timeoutMs = 180_000): Promise<any> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const e = await call(`/v1/executions/${id}`);
      if (done(e)) return e;
      if (Date.now() > deadline) throw new Error(`${what}: still ${e.state}/${e.step} after ${timeoutMs / 1000} s`);
      await new Promise((r) => setTimeout(r, 500));
    }
  };
  return { call, waitExecution };
}

/** The remediation branch in `bare` (`remediation/<remediation>/<n>`) and its execution id (`<remediation>.<n>`). */
export function remediationBranch(git: (args: string[], cwd?: string) => string, bare: string): { branch: string; executionId: string } {
  const branch = git(['for-each-ref', '--format=%(refname:short)', 'refs/heads/remediation/'], bare).split('\n').filter(Boolean)[0];
  if (!branch) throw new Error(`no remediation/ branch in ${bare}`);
  const [, remediation, n] = branch.split('/');
  return { branch, executionId: `${remediation}.${n}` };
}

/**
 * The base branch moves: a maintainer clones `bare` into `<work>/maintainer`, appends `line` to
 * `file`, commits with `message` and pushes master. @returns master's new commit.
 */
export async function moveBase(o: { git: (args: string[], cwd?: string) => string; work: string; bare: string; file: string; line: string; message: string }): Promise<string> {
  const clone = join(o.work, 'maintainer');
  await rm(clone, { recursive: true, force: true });
  o.git(['clone', '-q', o.bare, clone]);
  execFileSync('sh', ['-c', `printf '\\n%s\\n' "$1" >> "$2"`, 'sh', o.line, o.file], { cwd: clone });
  o.git(['commit', '-q', '-am', o.message], clone);
  o.git(['push', '-q', 'origin', 'master'], clone);
  return o.git(['rev-parse', 'master'], o.bare);
}

/**
 * Runs `remediate --approve` ({@link runRemediate}) and, when it exits 0, `afterOpening` (the
 * review and rebase steps; resolves to the exit code); then stops everything and exits with the
 * code: KEEP_RUNNING=1 waits for Ctrl-C first; `stop` closes the stack and the scripted model, and
 * no overlay mount is left under `dataDir` (the open PR's workspace stays mounted while its
 * services run). A thrown error is logged and exits 1.
 */
export async function runExampleJob(o: {
  remediate: Parameters<typeof runRemediate>[0];
  afterOpening: () => Promise<number>;
  stop: () => Promise<void>;
  dataDir: string;
  log: (m: string) => void;
}): Promise<never> {
  let code = 1;
  try {
    code = await runRemediate(o.remediate);
    if (code === 0) code = await o.afterOpening();
  } catch (error) {
    o.log(`failed: ${(error as Error).message}`);
    code = 1;
  } finally {
    if (process.env['KEEP_RUNNING'] === '1') {
      o.log('KEEP_RUNNING=1: services left running; press Ctrl-C to stop');
      await new Promise<void>((r) => process.once('SIGINT', () => r()));
    }
    await o.stop();
    await unmountUnder(o.dataDir);
  }
  process.exit(code);
}
