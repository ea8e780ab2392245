import { LockfileInvalidError, isRecord, parseManifestJson, stringMap } from './errors.js';
import { GraphBuilder } from './graph.js';
import type { DependencyKind, LockedPackage, LockfileKind, ResolvedGraph } from './types.js';

/**
 * Package name of an npm `packages` key: the part after the last `node_modules/`
 * (`node_modules/a/node_modules/@s/b` → `@s/b`), or null for a key outside node_modules
 * (the root `""` or a workspace folder).
 */
export function npmNameFromLocation(location: string): string | null {
  const i = location.lastIndexOf('node_modules/');
  if (i < 0 || (i > 0 && location[i - 1] !== '/')) return null;
  return location.slice(i + 'node_modules/'.length) || null;
}

/**
 * Node's module resolution over lockfile locations
 * (https://nodejs.org/api/modules.html#loading-from-node_modules-folders, as npm lays packages
 * out, https://docs.npmjs.com/cli/v10/configuring-npm/package-lock-json#packages): from the folder
 * `from` (a `packages` key, `""` for the root) try `<dir>/node_modules/<name>` for `from` and each
 * parent folder not itself named `node_modules`, nearest first.
 * @returns the first location `exists` accepts, or null.
 */
export function resolveNpmLocation(from: string, name: string, exists: (location: string) => boolean): string | null {
  const parts = from === '' ? [] : from.split('/');
  for (let n = parts.length; n >= 0; n--) {
    if (n > 0 && parts[n - 1] === 'node_modules') continue;
    const dir = parts.slice(0, n).join('/');
    const candidate = dir === '' ? `node_modules/${name}` : `${dir}/node_modules/${name}`;
    if (exists(candidate)) return candidate;
  }
  return null;
}

const KINDS: Array<[string, DependencyKind]> = [
  ['dependencies', 'prod'],
  ['optionalDependencies', 'optional'],
  ['peerDependencies', 'peer'],
];

/** Optional peer names of an entry (`peerDependenciesMeta.<name>.optional`). */
function optionalPeers(entry: Record<string, unknown>): Set<string> {
  const meta = entry['peerDependenciesMeta'];
  const out = new Set<string>();
  if (isRecord(meta)) for (const [k, v] of Object.entries(meta)) if (isRecord(v) && v['optional'] === true) out.add(k);
  return out;
}

/** The package-lock.json / npm-shrinkwrap.json document, parsed and checked at the top level. */
export function parseNpmLockDocument(file: string, text: string, kind: LockfileKind = 'npm-package-lock'): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new LockfileInvalidError(file, kind, `not JSON (${(err as Error).message})`, { cause: err });
  }
  if (!isRecord(doc)) throw new LockfileInvalidError(file, kind, 'the document is not a JSON object');
  const version = doc['lockfileVersion'];
  if (version !== undefined && version !== 1 && version !== 2 && version !== 3) {
    throw new LockfileInvalidError(file, kind, `lockfileVersion ${JSON.stringify(version)} is not 1, 2 or 3`, { where: 'lockfileVersion' });
  }
  if (!isRecord(doc['packages']) && !isRecord(doc['dependencies'])) {
    throw new LockfileInvalidError(file, kind, 'neither "packages" nor "dependencies" is an object');
  }
  return doc;
}

/**
 * Reads npm's package-lock.json or npm-shrinkwrap.json, lockfileVersion 1, 2 or 3
 * (https://docs.npmjs.com/cli/v10/configuring-npm/package-lock-json). v2 and v3 are read from
 * `packages` (keys are install locations; edges follow Node's module resolution from each
 * location, {@link resolveNpmLocation}); v1 from the nested `dependencies` tree (`requires`,
 * locations written as `node_modules/a/node_modules/b`). Root requirements come from
 * `packages[""]`; v1 has none, so pass the project's package.json text as `manifest` or the
 * direct dependencies are inferred ({@link ResolvedGraph.rootsInferred}). Folders outside
 * node_modules (workspaces) are packages and importers of their own dependencies; `link`
 * entries resolve to their target folder.
 * @throws LockfileInvalidError when the text is not JSON, the version is not 1–3, or an
 *   installed entry has no `version`.
 */
export function readNpmLockfile(file: string, text: string, options: { manifest?: string; kind?: LockfileKind } = {}): ResolvedGraph {
  const kind = options.kind ?? (/(^|[\\/])npm-shrinkwrap\.json$/.test(file) ? 'npm-shrinkwrap' : 'npm-package-lock');
  const doc = parseNpmLockDocument(file, text, kind);
  const lockfileVersion = typeof doc['lockfileVersion'] === 'number' ? doc['lockfileVersion'] : 1;
  const b = new GraphBuilder();
  const rootName = typeof doc['name'] === 'string' ? doc['name'] : undefined;
  const rootVersion = typeof doc['version'] === 'string' ? doc['version'] : undefined;

  if (lockfileVersion >= 2 && isRecord(doc['packages'])) {
    readPackages(file, kind, doc['packages'], b);
    return b.finish({ file, kind, lockfileVersion: String(lockfileVersion), rootName, rootVersion });
  }

  const entries = new Map<string, Record<string, unknown>>();
  const walk = (deps: unknown, prefix: string, where: string): void => {
    if (!isRecord(deps)) return;
    for (const [name, entry] of Object.entries(deps)) {
      const location = prefix === '' ? `node_modules/${name}` : `${prefix}/node_modules/${name}`;
      if (!isRecord(entry) || typeof entry['version'] !== 'string') {
        throw new LockfileInvalidError(file, kind, `entry ${name} has no "version"`, { where: `${where}.${name}` });
      }
      entries.set(location, entry);
      walk(entry['dependencies'], location, `${where}.${name}.dependencies`);
    }
  };
  walk(doc['dependencies'], '', 'dependencies');
  for (const [location, entry] of entries) {
    b.addPackage({
      id: location,
      ecosystem: 'npm',
      name: npmNameFromLocation(location)!,
      version: entry['version'] as string,
      ...packageFields(entry),
      dependencies: stringMap(entry['requires']),
      locations: [location],
    });
  }
  const exists = (l: string) => entries.has(l);
  for (const [location, entry] of entries) {
    for (const [name, requirement] of Object.entries(stringMap(entry['requires']))) {
      b.addEdge(location, name, requirement, 'prod', resolveNpmLocation(location, name, exists));
    }
  }
  const manifest = options.manifest === undefined ? null : parseManifestJson(file, options.manifest);
  if (manifest) addImporter(b, manifest, '', '.', exists);
  else b.inferDirect();
  return b.finish({
    file,
    kind,
    lockfileVersion: String(lockfileVersion),
    rootName,
    rootVersion,
    rootsInferred: manifest === null,
  });
}

function packageFields(entry: Record<string, unknown>): Pick<LockedPackage, 'resolved' | 'integrity' | 'dev' | 'optional'> {
  return {
    ...(typeof entry['resolved'] === 'string' ? { resolved: entry['resolved'] } : {}),
    ...(typeof entry['integrity'] === 'string' ? { integrity: entry['integrity'] } : {}),
    ...(entry['dev'] === true ? { dev: true } : {}),
    ...(entry['optional'] === true ? { optional: true } : {}),
  };
}

/** Root edges for the requirements of a package.json-shaped entry at `location`. */
function addImporter(
  b: GraphBuilder,
  entry: Record<string, unknown>,
  location: string,
  importer: string,
  exists: (l: string) => boolean,
  follow: (l: string | null) => string | null = (l) => l,
): void {
  const kinds: Array<[string, DependencyKind]> = [...KINDS, ['devDependencies', 'dev']];
  const peersOptional = optionalPeers(entry);
  for (const [field, kind] of kinds) {
    for (const [name, requirement] of Object.entries(stringMap(entry[field]))) {
      const to = follow(resolveNpmLocation(location, name, exists));
      if (to === null && kind === 'peer' && peersOptional.has(name)) continue;
      b.addDirect({ name, requirement, kind, to, importer });
    }
  }
}

function readPackages(file: string, kind: LockfileKind, packages: Record<string, unknown>, b: GraphBuilder): void {
  const links = new Map<string, string>();
  const entries = new Map<string, Record<string, unknown>>();
  for (const [location, entry] of Object.entries(packages)) {
    if (!isRecord(entry)) throw new LockfileInvalidError(file, kind, 'the entry is not an object', { where: `packages["${location}"]` });
    if (entry['link'] === true) {
      if (typeof entry['resolved'] !== 'string') {
        throw new LockfileInvalidError(file, kind, 'a link entry has no "resolved" target', { where: `packages["${location}"]` });
      }
      links.set(location, entry['resolved']);
      continue;
    }
    entries.set(location, entry);
  }
  const exists = (l: string) => entries.has(l) || links.has(l);
  const follow = (l: string | null): string | null => (l !== null && links.has(l) ? (entries.has(links.get(l)!) ? links.get(l)! : null) : l);
  for (const [location, entry] of entries) {
    if (location === '') continue;
    const name = npmNameFromLocation(location) ?? (typeof entry['name'] === 'string' ? entry['name'] : location);
    const workspace = npmNameFromLocation(location) === null;
    if (typeof entry['version'] !== 'string' && !workspace) {
      throw new LockfileInvalidError(file, kind, 'the entry has no "version"', { where: `packages["${location}"]` });
    }
    const dependencies: Record<string, string> = {};
    for (const [field] of KINDS) Object.assign(dependencies, stringMap(entry[field]));
    b.addPackage({
      id: location,
      ecosystem: 'npm',
      name,
      version: typeof entry['version'] === 'string' ? entry['version'] : '',
      ...packageFields(entry),
      dependencies,
      locations: [location, ...[...links].filter(([, target]) => target === location).map(([l]) => l)],
    });
  }
  for (const [location, entry] of entries) {
    if (location === '' || npmNameFromLocation(location) === null) {
      addImporter(b, entry, location, location === '' ? '.' : location, exists, follow);
      if (location === '') continue;
    }
    const peersOptional = optionalPeers(entry);
    for (const [field, depKind] of KINDS) {
      for (const [name, requirement] of Object.entries(stringMap(entry[field]))) {
        const to = follow(resolveNpmLocation(location, name, exists));
        if (to === null && depKind === 'peer' && peersOptional.has(name)) continue;
        b.addEdge(location, name, requirement, depKind, to);
      }
    }
  }
}
