/** The mounts of this process's mount namespace, from /proc/self/mountinfo (proc(5)). */
import { readFile } from 'node:fs/promises';

/** One line of /proc/self/mountinfo. */
export interface MountEntry {
  mountPoint: string;
  fsType: string;
  source: string;
  /** Super-block options, e.g. `{ lowerdir: '/a', upperdir: '/b', workdir: '/c' }`. */
  superOptions: Record<string, string>;
}

function unescapeMountinfo(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}

/** Parses /proc/self/mountinfo (proc(5)); later entries stack over earlier ones. */
export async function readMountInfo(): Promise<MountEntry[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const [left, right] = line.split(' - ');
    if (left === undefined || right === undefined) continue;
    const fields = left.split(' ');
    const [fsType, source, superOpts] = right.split(' ');
    const superOptions: Record<string, string> = {};
    for (const opt of (superOpts ?? '').split(',')) {
      const eq = opt.indexOf('=');
      if (eq === -1) superOptions[opt] = '';
      else superOptions[opt.slice(0, eq)] = unescapeMountinfo(opt.slice(eq + 1));
    }
    entries.push({ mountPoint: unescapeMountinfo(fields[4] ?? ''), fsType: fsType ?? '', source: unescapeMountinfo(source ?? ''), superOptions });
  }
  return entries;
}

/** The topmost mount at `path` (exact mount point, a real path), or null. */
export async function findMount(path: string): Promise<MountEntry | null> {
  const entries = await readMountInfo();
  for (let i = entries.length - 1; i >= 0; i--) {
    if (entries[i]!.mountPoint === path) return entries[i]!;
  }
  return null;
}
