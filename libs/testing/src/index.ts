import { existsSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

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
