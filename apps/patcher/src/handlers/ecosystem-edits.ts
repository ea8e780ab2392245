import { lstat, readdir, readFile } from 'node:fs/promises';
import { join, normalize, sep } from 'node:path';
import { describeError } from '@remediation/errors';
import { type Ecosystem, type ManifestDependency, type ManifestManager, readInherited } from '@remediation/ecosystems';

/** Folders the manifest search never enters: VCS data, installed packages, virtual environments, caches, build output, Go's `vendor/` copies of dependencies. */
const SKIPPED_DIRS = new Set(['.git', 'node_modules', '.venv', 'venv', '__pycache__', 'target', 'vendor']);
/** Bounds of the manifest search: folder depth below the root, and entries looked at. */
const MAX_DEPTH = 12;
const MAX_ENTRIES = 50_000;

/** A manifest of the repository that declares a target's dependency. */
export interface DeclaringManifest {
  /** Repository-relative POSIX path. */
  file: string;
  manager: ManifestManager;
  text: string;
  /** The declarations of the dependency in it (one per marker or section). */
  declarations: ManifestDependency[];
  /**
   * The manifests it inherits from (`ManifestManager.inherits`: a Maven module's parent poms in the
   * repository), by path, as read; a declaration whose `location.file` is one of them is written there.
   */
  context?: ReadonlyMap<string, string>;
}

/** A repository-relative path inside the root (POSIX separators), or null when it would leave it. */
export function insideRoot(path: string): string | null {
  const rel = normalize(path).split(sep).join('/');
  return rel.startsWith('..') || rel.startsWith('/') || rel === '.' ? null : rel;
}

/** Text of a regular file (not a symbolic link, which could point outside the workspace) under `root`, or null. */
async function readRegular(root: string, rel: string): Promise<string | null> {
  try {
    const st = await lstat(join(root, rel));
    if (!st.isFile()) return null;
    return await readFile(join(root, rel), 'utf8');
  } catch {
    return null;
  }
}

/** Text of a regular file at repository-relative `path`, or null when it is absent, not regular, or outside the root. */
function readInside(root: string, path: string): Promise<string | null> {
  const rel = insideRoot(path);
  return rel === null ? Promise.resolve(null) : readRegular(root, rel);
}

/** Repository-relative paths of the files any manager of `ecosystem` matches, sorted; bounded walk without symbolic links. */
async function matchingFiles(root: string, ecosystem: Ecosystem): Promise<string[]> {
  const found: string[] = [];
  let seen = 0;
  const walk = async (rel: string, depth: number): Promise<void> => {
    if (depth > MAX_DEPTH || seen > MAX_ENTRIES) return;
    const entries = await readdir(join(root, rel), { withFileTypes: true }).catch(() => []);
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      if (++seen > MAX_ENTRIES) return;
      const path = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) {
        if (!SKIPPED_DIRS.has(e.name)) await walk(path, depth + 1);
      } else if (e.isFile() && ecosystem.managers.some((m) => m.matches(path))) {
        found.push(path);
      }
    }
  };
  await walk('', 0);
  return found;
}

/**
 * The manifests under `root` that declare `name` (compared after the ecosystem's normalisation),
 * in path order. When `manifestPath` (the plan's) declares it, that manifest and the files it
 * includes (`-r`/`-c`, followed transitively, inside the repository only) are the answer, so a
 * dependency pinned differently in an unrelated sub-project is left alone; otherwise every
 * manifest a manager of the ecosystem matches (bounded walk skipping `.git`, `node_modules`,
 * `.venv`, `venv`, `__pycache__`, `target` (Cargo's build output, where `cargo package` leaves
 * copies of `Cargo.toml`), `vendor` (Go's copies of dependencies, https://go.dev/ref/mod#vendoring);
 * symbolic links never followed), with their includes too. An
 * included file no manager matches by name is read by the manager of the file including it. A
 * file several managers read (pyproject.toml: PEP 621 and Poetry) gives one entry per manager
 * declaring the name.
 * With `everywhere` (a target installed at several versions, each in its own manifest), every
 * manifest of the repository is searched even when the plan's declares the name.
 * Unreadable or invalid manifests are passed over, each noted in `problems`.
 */
export async function declaringManifests(
  root: string,
  ecosystem: Ecosystem,
  name: string,
  manifestPath: string,
  options: { everywhere?: boolean } = {},
): Promise<{ manifests: DeclaringManifest[]; problems: string[] }> {
  const wanted = ecosystem.normaliseName(name);
  const problems: string[] = [];
  // Per file, one entry per manager that declares the name (pyproject.toml: PEP 621 and Poetry).
  const visited = new Map<string, DeclaringManifest[]>();
  const visit = async (rel: string, inherited: ManifestManager | undefined): Promise<void> => {
    if (visited.has(rel)) return;
    visited.set(rel, []);
    const matching = ecosystem.managers.filter((m) => m.matches(rel));
    const managers = matching.length > 0 ? matching : inherited ? [inherited] : [];
    if (managers.length === 0) return;
    const text = await readRegular(root, rel);
    if (text === null) return;
    for (const manager of managers) {
      let contents: ReturnType<ManifestManager['extract']>;
      let context: Map<string, string> | undefined;
      try {
        context = manager.inherits ? await readInherited(manager, rel, text, (p) => readInside(root, p)) : undefined;
        contents = manager.extract(rel, text, context);
      } catch (err) {
        problems.push(`${rel}: ${describeError(err)}`);
        continue;
      }
      const declarations = contents.dependencies.filter((d) => d.normalisedName === wanted);
      if (declarations.length > 0) visited.get(rel)!.push({ file: rel, manager, text, declarations, ...(context?.size ? { context } : {}) });
      for (const include of contents.includes) {
        const resolved = include.resolved === null ? null : insideRoot(include.resolved);
        if (resolved !== null) await visit(resolved, manager);
      }
    }
  };
  const collect = () => [...visited.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).flatMap(([, found]) => found);
  const start = insideRoot(manifestPath);
  if (start !== null && options.everywhere !== true) {
    await visit(start, undefined);
    const fromPlan = collect();
    if (fromPlan.length > 0) return { manifests: fromPlan, problems };
  }
  for (const file of await matchingFiles(root, ecosystem)) await visit(file, undefined);
  return { manifests: collect(), problems };
}
