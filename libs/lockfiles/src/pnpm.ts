import { parse as parseYaml } from 'yaml';
import { LockfileInvalidError, isRecord, stringMap } from './errors.js';
import { GraphBuilder } from './graph.js';
import type { DependencyKind, ResolvedGraph } from './types.js';

/**
 * Name and version of a pnpm package key. v5.x: `/name/1.0.0`, `/@s/n/1.0.0_peer@2.0.0`; v6:
 * `/name@1.0.0(peer@2.0.0)`; v9: `name@1.0.0(peer@2.0.0)`.
 * @returns null when the key has no version part.
 */
export function parsePnpmKey(key: string, major: number): { name: string; version: string } | null {
  const s = key.startsWith('/') ? key.slice(1) : key;
  if (major < 6) {
    const parts = s.split('/');
    const scoped = s.startsWith('@');
    const name = scoped ? parts.slice(0, 2).join('/') : parts[0]!;
    const rest = parts.slice(scoped ? 2 : 1).join('/');
    const version = rest.split('_')[0]!;
    return name && version ? { name, version } : null;
  }
  const paren = s.indexOf('(');
  const base = paren >= 0 ? s.slice(0, paren) : s;
  const at = base.indexOf('@', 1);
  if (at < 0) return null;
  return { name: base.slice(0, at), version: base.slice(at + 1) };
}

const DEP_FIELDS: Array<[string, DependencyKind]> = [
  ['dependencies', 'prod'],
  ['devDependencies', 'dev'],
  ['optionalDependencies', 'optional'],
];

/**
 * Reads pnpm-lock.yaml (https://github.com/pnpm/spec/tree/master/lockfile) with the `yaml`
 * parser, lockfileVersion 5.x, 6.x and 9.x:
 * - 5.x: root `specifiers` + `dependencies`/`devDependencies`/`optionalDependencies` (name →
 *   version reference) or `importers`; `packages` keyed `/name/version[_peers]`.
 * - 6.x: the same with `{ specifier, version }` values; keys `/name@version[(peers)]`.
 * - 9.x: `importers` always; `packages` (metadata, keyed `name@version`) and `snapshots`
 *   (dependencies, keyed `name@version[(peers)]`).
 * Packages are the snapshot (or package) keys, so one version installed with two peer sets is
 * two packages. Edge requirements of packages are the locked references (pnpm keeps no ranges
 * there); the importers' are their `specifier`s. `link:` references (workspace links) resolve to
 * null. Every importer's dependencies are direct dependencies (`importer` = its path).
 * @throws LockfileInvalidError when the text is not YAML, `lockfileVersion` is missing or not
 *   5.x/6.x/9.x, or a package key has no version.
 */
export function readPnpmLockfile(file: string, text: string): ResolvedGraph {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new LockfileInvalidError(file, 'pnpm', `not YAML (${(err as Error).message})`, { cause: err });
  }
  if (!isRecord(doc)) throw new LockfileInvalidError(file, 'pnpm', 'the document is not a YAML mapping');
  const versionText = doc['lockfileVersion'] === undefined ? '' : String(doc['lockfileVersion']);
  const major = Number.parseInt(versionText, 10);
  if (![5, 6, 9].includes(major)) {
    throw new LockfileInvalidError(file, 'pnpm', `lockfileVersion ${JSON.stringify(versionText)} is not 5.x, 6.x or 9.x`, { where: 'lockfileVersion' });
  }
  const packages = isRecord(doc['packages']) ? doc['packages'] : {};
  const nodes = major >= 9 && isRecord(doc['snapshots']) ? doc['snapshots'] : packages;
  const b = new GraphBuilder();

  const resolve = (name: string, ref: string): string | null => {
    if (ref.startsWith('link:') || ref.startsWith('file:')) return null;
    if (major < 9) {
      const key = ref.startsWith('/') ? ref : major < 6 ? `/${name}/${ref}` : `/${name}@${ref}`;
      return key in nodes ? key : null;
    }
    if (`${name}@${ref}` in nodes) return `${name}@${ref}`;
    return ref in nodes ? ref : null;
  };

  for (const [key, value] of Object.entries(nodes)) {
    const node = isRecord(value) ? value : {};
    const parsed = parsePnpmKey(key, major);
    const metaKey = major >= 9 && parsed ? key.slice(0, key.indexOf('(') >= 0 ? key.indexOf('(') : undefined) : key;
    const meta = major >= 9 && isRecord(packages[metaKey]) ? (packages[metaKey] as Record<string, unknown>) : node;
    const name = typeof meta['name'] === 'string' ? meta['name'] : parsed?.name;
    const version = typeof meta['version'] === 'string' ? meta['version'] : parsed?.version;
    if (!name || !version) throw new LockfileInvalidError(file, 'pnpm', 'the package key has no name@version', { where: `packages["${key}"]` });
    const resolution = isRecord(meta['resolution']) ? meta['resolution'] : {};
    b.addPackage({
      id: key,
      ecosystem: 'npm',
      name,
      version,
      ...(typeof resolution['tarball'] === 'string' ? { resolved: resolution['tarball'] } : {}),
      ...(typeof resolution['integrity'] === 'string' ? { integrity: resolution['integrity'] } : {}),
      dependencies: { ...stringMap(node['dependencies']), ...stringMap(node['optionalDependencies']) },
      ...(node['dev'] === true || meta['dev'] === true ? { dev: true } : {}),
      ...(node['optional'] === true || meta['optional'] === true ? { optional: true } : {}),
      locations: [key],
    });
  }
  for (const [key, value] of Object.entries(nodes)) {
    const node = isRecord(value) ? value : {};
    for (const [field, kind] of [['dependencies', 'prod'], ['optionalDependencies', 'optional']] as Array<[string, DependencyKind]>) {
      for (const [name, ref] of Object.entries(stringMap(node[field]))) b.addEdge(key, name, ref, kind, resolve(name, ref));
    }
  }

  const importers: Record<string, unknown> = isRecord(doc['importers']) ? doc['importers'] : { '.': doc };
  for (const [importer, value] of Object.entries(importers)) {
    if (!isRecord(value)) continue;
    const specifiers = stringMap(value['specifiers']);
    for (const [field, kind] of DEP_FIELDS) {
      const deps = value[field];
      if (!isRecord(deps)) continue;
      for (const [name, dep] of Object.entries(deps)) {
        const ref = isRecord(dep) ? String(dep['version'] ?? '') : String(dep);
        const requirement = isRecord(dep) && dep['specifier'] !== undefined ? String(dep['specifier']) : (specifiers[name] ?? ref);
        b.addDirect({ name, requirement, kind, to: resolve(name, ref), importer });
      }
    }
  }
  return b.finish({ file, kind: 'pnpm', lockfileVersion: versionText });
}
