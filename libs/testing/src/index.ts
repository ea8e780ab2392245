import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Absolute path of the repository root (the folder holding package.json and nx.json). */
export const repoRoot: string = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/**
 * Absolute path of the shared fixtures (`../shared/fixtures` beside the repository), or of a
 * file inside it. Tests read fixtures from there; they are never copied into the project.
 * @throws Error when the fixtures folder is missing (a checkout without ../shared).
 */
export function fixturePath(...segments: string[]): string {
  const dir = process.env['FIXTURES_DIR'] ?? resolve(repoRoot, '../shared/fixtures');
  if (!existsSync(dir)) {
    throw new Error(`shared fixtures not found at ${dir}: clone the project beside ../shared or set FIXTURES_DIR`);
  }
  return resolve(dir, ...segments);
}
