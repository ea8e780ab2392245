import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import pg from 'pg';
import { expect } from 'vitest';
import { InvalidInputError } from '@remediation/errors';

/** Absolute path of the repository root (the folder holding package.json and nx.json). */
export const repoRoot: string = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/**
 * Absolute path of the cross-service tests' input inside the repository: `<repoRoot>/test/fixtures`
 * itself, or a file or folder in it (e.g. `fixturePath('scans/express-4.19.2.cdx.json')`). What
 * is there and where it comes from: test/fixtures/PROVENANCE.md. Unit specs keep their input in a
 * `__fixtures__` folder beside them instead.
 * @throws Error naming the path when it is not there (a fixture the tests need is missing) or
 *   when the segments leave test/fixtures.
 */
export function fixturePath(...segments: string[]): string {
  const root = resolve(repoRoot, 'test/fixtures');
  const path = resolve(root, ...segments);
  const inside = relative(root, path);
  if (inside === '..' || inside.startsWith(`..${sep}`) || isAbsolute(inside)) {
    throw new Error(`fixture path ${segments.join('/')} leaves test/fixtures`);
  }
  if (!existsSync(path)) throw new Error(`fixture test/fixtures/${inside.split(sep).join('/')} is missing (see test/fixtures/PROVENANCE.md)`);
  return path;
}

/** Base URL of the PostgreSQL server tests create their own databases on (`TEST_DATABASE_URL`). */
export const TEST_PG_URL = process.env['TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/**
 * A fresh, uniquely named database URL on the test server, `rem_test_<label>_<pid>_<time>` (not
 * created yet: `ensureDatabaseExists` of @remediation/persistence does that; drop it with
 * {@link dropDatabase}).
 */
export function freshDatabaseUrl(label: string): string {
  const url = new URL(TEST_PG_URL);
  url.pathname = `/rem_test_${label.replace(/[^A-Za-z0-9_]/g, '_')}_${process.pid}_${Date.now().toString(36)}`;
  return url.toString();
}

/** Drops a test database made by {@link freshDatabaseUrl}, terminating its connections first. */
export async function dropDatabase(url: string): Promise<void> {
  const name = new URL(url).pathname.slice(1);
  const admin = new pg.Client({ connectionString: TEST_PG_URL });
  await admin.connect();
  try {
    await admin.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1', [name]);
    await admin.query(`drop database if exists "${name}"`);
  } finally {
    await admin.end();
  }
}

/**
 * Runs `fn` and returns the InvalidInputError it throws (a failed expectation when it throws
 * something else, an Error when it throws nothing): for specs of bad-input handling.
 */
export function thrownInvalidInput(fn: () => unknown): InvalidInputError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidInputError);
    return err as InvalidInputError;
  }
  throw new Error('expected an InvalidInputError');
}

/**
 * `npm ci --dry-run --ignore-scripts --offline` with an empty cache in a temporary folder holding
 * `packageJson` and `lock` (package-lock.json): npm builds its ideal tree from package.json and
 * the lockfile and needs the registry only when the lock does not satisfy them, which offline
 * fails with ENOTCACHED (https://docs.npmjs.com/cli/v10/commands/npm-ci). Nothing is fetched,
 * unpacked or run. A test-only check that a lockfile written without npm is in sync.
 * @returns npm's exit code and its combined output.
 */
export async function npmCiDryRun(packageJson: string, lock: string): Promise<{ exitCode: number; output: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'npm-ci-dry-run-'));
  try {
    await writeFile(join(dir, 'package.json'), packageJson);
    await writeFile(join(dir, 'package-lock.json'), lock);
    const run = await execa('npm', ['ci', '--dry-run', '--ignore-scripts', '--offline', '--no-audit', '--no-fund', '--cache', join(dir, '.npm-cache')], {
      cwd: dir,
      reject: false,
      all: true,
      env: { npm_config_update_notifier: 'false' },
    });
    return { exitCode: run.exitCode ?? -1, output: run.all ?? '' };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Lines that differ between two texts with the same number of lines (an in-place edit):
 * `[line number (1-based), before, after]`. Fails the test when the line counts differ.
 */
export function changedLines(before: string, after: string): Array<[number, string, string]> {
  const a = before.split('\n');
  const b = after.split('\n');
  expect(b).toHaveLength(a.length);
  return a.flatMap((line, i): Array<[number, string, string]> => (line === b[i] ? [] : [[i + 1, line, b[i]!]]));
}
