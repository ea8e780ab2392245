import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Absolute path of the repository root (the folder holding package.json and nx.json). */
export const repoRoot: string = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/**
 * The shared fixtures folder: `$FIXTURES_DIR`, else `../shared/fixtures` beside the repository,
 * else beside the repository this one was cloned from when that is a local path (a clone made
 * elsewhere, e.g. `git clone . /tmp/x`). Null when none exists.
 */
export function fixturesDir(): string | null {
  const candidates = [process.env['FIXTURES_DIR'], resolve(repoRoot, '../shared/fixtures')];
  try {
    const origin = execFileSync('git', ['-C', repoRoot, 'remote', 'get-url', 'origin'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const local = origin.startsWith('file://') ? origin.slice('file://'.length) : origin;
    if (isAbsolute(local)) candidates.push(resolve(local, '../shared/fixtures'));
  } catch {
    // no git, or no origin
  }
  return candidates.find((c): c is string => !!c && existsSync(c)) ?? null;
}

/**
 * Absolute path of the shared fixtures (see {@link fixturesDir}), or of a file inside it. Tests
 * read fixtures from there; they are never copied into the project.
 * @throws Error when no fixtures folder is found (a checkout without ../shared).
 */
export function fixturePath(...segments: string[]): string {
  const dir = fixturesDir();
  if (!dir) {
    throw new Error(`shared fixtures not found beside ${repoRoot} (../shared/fixtures) or its origin: clone the project beside ../shared or set FIXTURES_DIR`);
  }
  return resolve(dir, ...segments);
}
