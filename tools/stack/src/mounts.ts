import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Unmounts every mount point under `dir` (deepest first), e.g. overlay workspaces left by a
 * previous run, so the directory can be removed. Mount points come from /proc/self/mountinfo.
 */
export async function unmountUnder(dir: string): Promise<string[]> {
  const root = resolve(dir) + '/';
  let info: string;
  try {
    info = await readFile('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const points = info
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((p): p is string => !!p)
    .map((p) => p.replace(/\\040/g, ' '))
    .filter((p) => p.startsWith(root))
    .sort((a, b) => b.length - a.length);
  for (const p of points) await run('umount', [p]).catch(() => run('umount', ['-l', p]));
  return points;
}
