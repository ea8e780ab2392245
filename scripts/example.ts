/**
 * The README's main job: one real remediation end to end on the bundled example.
 *
 * 1. Fetches express 4.19.2 as published on the npm registry (`npm pack`), commits its files into
 *    a new git repository and pushes it to a local bare remote served by the local
 *    GitHub-compatible server (`.work/example/github/expressjs/express.git`).
 * 2. Starts the five services as separate processes against PostgreSQL and NATS.
 * 3. Runs `remediate --approve` with the real scan and advisories in examples/express-4.19.2.
 * 4. Shows the pushed branch's changed files, stops the services, exits with remediate's code.
 *
 * Env: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/remediation_example),
 * NATS_URL (default nats://127.0.0.1:4222), NPM_REGISTRY_URL (default: npm's configured registry),
 * EXAMPLE_TIER (default minimal), KEEP_RUNNING=1 to leave the stack up.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { startStack, unmountUnder } from '@remediation/stack';

const repoRoot = resolve(import.meta.dirname, '..');
const work = join(repoRoot, '.work/example');
const exampleDir = join(repoRoot, 'examples/express-4.19.2');
const log = (m: string) => process.stderr.write(`[example] ${m}\n`);
const git = (args: string[], cwd?: string) =>
  execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 'Example Maintainer',
      GIT_AUTHOR_EMAIL: 'maintainer@example.invalid',
      GIT_COMMITTER_NAME: 'Example Maintainer',
      GIT_COMMITTER_EMAIL: 'maintainer@example.invalid',
      GIT_AUTHOR_DATE: '2024-03-25T00:00:00Z',
      GIT_COMMITTER_DATE: '2024-03-25T00:00:00Z',
    },
  }).trim();

async function prepareRepository(): Promise<string> {
  const tarball = join(work, 'express-4.19.2.tgz');
  if (!existsSync(tarball)) {
    log('fetching express@4.19.2 from the npm registry (npm pack)');
    await mkdir(work, { recursive: true });
    const name = execFileSync('npm', ['pack', 'express@4.19.2', '--silent', '--pack-destination', work], { encoding: 'utf8' }).trim().split('\n').at(-1)!;
    if (join(work, name) !== tarball) execFileSync('mv', [join(work, name), tarball]);
  }
  const src = join(work, 'src');
  const bare = join(work, 'github/expressjs/express.git');
  await rm(src, { recursive: true, force: true });
  await rm(join(work, 'github'), { recursive: true, force: true });
  await mkdir(src, { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', src, '--strip-components=1']);
  git(['init', '-q', '-b', 'master'], src);
  git(['add', '-A'], src);
  git(['commit', '-q', '-m', 'express 4.19.2 as published on the npm registry'], src);
  await mkdir(join(work, 'github/expressjs'), { recursive: true });
  git(['clone', '-q', '--bare', src, bare]);
  log(`repository ready: ${bare} (master at ${git(['rev-parse', 'master'], bare).slice(0, 12)})`);
  return bare;
}

const registry = process.env['NPM_REGISTRY_URL'] ?? execFileSync('npm', ['config', 'get', 'registry'], { encoding: 'utf8' }).trim();
const bare = await prepareRepository();
const dataDir = join(work, 'data');
await unmountUnder(dataDir);
await rm(dataDir, { recursive: true, force: true });
log(`starting services (registry ${registry})`);
const stack = await startStack({
  repoRoot,
  databaseUrl: process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/remediation_example',
  natsUrl: process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222',
  dataDir,
  githubReposRoot: join(work, 'github'),
  osvDir: join(exampleDir, 'advisories'),
  registry: { url: registry },
  logLevel: process.env['LOG_LEVEL'] ?? 'info',
});
log(`api ${stack.apiUrl} · github-local ${stack.githubUrl} · logs ${stack.logDir}`);
let code = 1;
try {
  code = await new Promise<number>((resolveCode) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'apps/cli/src/main.ts', '--repo', bare, '--scan', join(exampleDir, 'scan.cdx.json'), '--tier', process.env['EXAMPLE_TIER'] ?? 'minimal', '--approve', '--api', stack.apiUrl],
      { cwd: repoRoot, stdio: ['ignore', 'inherit', 'inherit'] },
    );
    child.once('exit', (c) => resolveCode(c ?? 1));
  });
  const branches = git(['for-each-ref', '--format=%(refname:short)', 'refs/heads/remediation/'], bare).split('\n').filter(Boolean);
  for (const b of branches) {
    log(`pushed branch ${b} changes: ${git(['diff', '--name-only', 'master', b], bare).split('\n').join(', ')}`);
    process.stderr.write(git(['diff', 'master', b], bare) + '\n');
  }
} finally {
  if (process.env['KEEP_RUNNING'] === '1') {
    log('KEEP_RUNNING=1: services left running; press Ctrl-C to stop');
    await new Promise<void>((r) => process.once('SIGINT', () => r()));
  }
  await stack.stop();
}
process.exit(code);
