import type { ManifestManager } from './types.js';

/** Bound of an inheritance chain (Maven parents), in manifests read. */
const MAX_INHERITED = 20;

/**
 * The texts of the manifests `file` inherits from, transitively (`manager.inherits`: a Maven
 * module's parent poms), by repository-relative path: the `context` that `extract` and
 * `raiseFloor` take. `read` returns a manifest's text, or null when it is absent or outside the
 * repository (the chain stops there). Empty when the manager has no `inherits`. At most 20
 * manifests; a manifest whose parents cannot be read ends the chain.
 */
export async function readInherited(manager: ManifestManager, file: string, text: string, read: (path: string) => Promise<string | null>): Promise<Map<string, string>> {
  const context = new Map<string, string>();
  if (!manager.inherits) return context;
  const queue = manager.inherits(file, text);
  while (queue.length > 0 && context.size < MAX_INHERITED) {
    const next = queue.shift()!;
    if (next === file || context.has(next)) continue;
    const t = await read(next);
    if (t === null) continue;
    context.set(next, t);
    try {
      queue.push(...manager.inherits(next, t));
    } catch {
      // an unreadable parent ends the chain; the child's extraction reports what it cannot resolve
    }
  }
  return context;
}
