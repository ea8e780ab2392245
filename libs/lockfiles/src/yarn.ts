import { createRequire } from 'node:module';
import { parseSyml } from '@yarnpkg/parsers';
import { LockfileInvalidError, isRecord, parseManifestJson, stringMap } from './errors.js';
import { GraphBuilder } from './graph.js';
import type { DependencyKind, ResolvedGraph } from './types.js';

/**
 * yarn's v1 parser. A webpack bundle marked `__esModule` whose `parse` sits on `module.exports`:
 * Node's ESM loader offers it only as the default export, bundlers only as a named one, so it
 * is loaded with `require`.
 */
const yarnLockfile = createRequire(import.meta.url)('@yarnpkg/lockfile') as typeof import('@yarnpkg/lockfile');

/** Name part of a yarn descriptor or locator: `@s/n@npm:^1` → `@s/n`, `n@^1` → `n`. */
export function yarnDescriptorName(descriptor: string): string {
  const at = descriptor.indexOf('@', 1);
  return at < 0 ? descriptor : descriptor.slice(0, at);
}

/**
 * Reads a yarn v1 lockfile (`# yarn lockfile v1`, https://classic.yarnpkg.com/en/docs/yarn-lock)
 * with yarn's own parser (@yarnpkg/lockfile). Each entry is `name@version`, located at its
 * descriptors (`acorn@^5.0.0`, …); an edge goes to the entry whose descriptor is
 * `name@requirement`. yarn.lock does not record what the root requires: pass package.json's
 * text as `manifest`, else the direct dependencies are inferred.
 * @throws LockfileInvalidError when yarn's parser rejects the text, it holds merge conflicts, or
 *   an entry has no `version`.
 */
export function readYarnV1Lockfile(file: string, text: string, options: { manifest?: string } = {}): ResolvedGraph {
  let parsed: ReturnType<typeof yarnLockfile.parse>;
  try {
    parsed = yarnLockfile.parse(text, file);
  } catch (err) {
    throw new LockfileInvalidError(file, 'yarn-v1', (err as Error).message, { cause: err });
  }
  if (parsed.type !== 'success') throw new LockfileInvalidError(file, 'yarn-v1', `it has unresolved merge conflicts (${parsed.type})`);
  const b = new GraphBuilder();
  const byDescriptor = new Map<string, string>();
  const entries = new Map<object, { id: string; value: Record<string, unknown> }>();
  for (const [descriptor, value] of Object.entries(parsed.object as Record<string, unknown>)) {
    if (!isRecord(value) || typeof value['version'] !== 'string') {
      throw new LockfileInvalidError(file, 'yarn-v1', `entry ${descriptor} has no "version"`, { where: descriptor });
    }
    const name = yarnDescriptorName(descriptor);
    const id = `${name}@${value['version']}`;
    byDescriptor.set(descriptor, id);
    entries.set(value, { id, value });
    b.addPackage({
      id,
      ecosystem: 'npm',
      name,
      version: value['version'],
      ...(typeof value['resolved'] === 'string' ? { resolved: value['resolved'] } : {}),
      ...(typeof value['integrity'] === 'string' ? { integrity: value['integrity'] } : {}),
      dependencies: { ...stringMap(value['dependencies']), ...stringMap(value['optionalDependencies']) },
      locations: [descriptor],
    });
  }
  for (const { id, value } of entries.values()) {
    for (const [field, kind] of [['dependencies', 'prod'], ['optionalDependencies', 'optional']] as Array<[string, DependencyKind]>) {
      for (const [name, requirement] of Object.entries(stringMap(value[field]))) {
        b.addEdge(id, name, requirement, kind, byDescriptor.get(`${name}@${requirement}`) ?? null);
      }
    }
  }
  const manifest = options.manifest === undefined ? null : parseManifestJson(file, options.manifest);
  if (manifest) {
    for (const [field, kind] of [
      ['dependencies', 'prod'],
      ['devDependencies', 'dev'],
      ['optionalDependencies', 'optional'],
    ] as Array<[string, DependencyKind]>) {
      for (const [name, requirement] of Object.entries(stringMap(manifest[field]))) {
        b.addDirect({ name, requirement, kind, to: byDescriptor.get(`${name}@${requirement}`) ?? null, importer: '.' });
      }
    }
  } else {
    b.inferDirect();
  }
  return b.finish({ file, kind: 'yarn-v1', lockfileVersion: '1', rootsInferred: manifest === null });
}

/**
 * Reads a yarn Berry (2+) lockfile (`__metadata.version`, YAML-like syml) with yarn's parser
 * (@yarnpkg/parsers `parseSyml`, https://github.com/yarnpkg/berry/tree/master/packages/yarnpkg-parsers).
 * Each entry is its `resolution` locator (`name@npm:1.2.0`); keys are comma-separated
 * descriptors. A dependency `name: range` resolves to the entry with descriptor `name@range`, or
 * `name@npm:range` when the range has no protocol (older lockfile versions omit it). The root
 * project is the `@workspace:.` entry, its dependencies the direct ones; other workspaces are
 * packages and importers of their own dependencies. Without a root workspace entry (a trimmed
 * lockfile) the direct dependencies are inferred.
 * @throws LockfileInvalidError when the syml does not parse, `__metadata` is missing, or an entry
 *   has no `version` or `resolution`.
 */
export function readYarnBerryLockfile(file: string, text: string): ResolvedGraph {
  let doc: Record<string, unknown>;
  try {
    doc = parseSyml(text);
  } catch (err) {
    throw new LockfileInvalidError(file, 'yarn-berry', (err as Error).message, { cause: err });
  }
  const metadata = doc['__metadata'];
  if (!isRecord(metadata) || metadata['version'] === undefined) {
    throw new LockfileInvalidError(file, 'yarn-berry', 'it has no "__metadata.version"', { where: '__metadata' });
  }
  const b = new GraphBuilder();
  const byDescriptor = new Map<string, string>();
  const entries: Array<{ id: string; value: Record<string, unknown>; workspace: string | null }> = [];
  for (const [key, value] of Object.entries(doc)) {
    if (key === '__metadata') continue;
    if (!isRecord(value) || value['version'] === undefined || typeof value['resolution'] !== 'string') {
      throw new LockfileInvalidError(file, 'yarn-berry', 'the entry has no "version" or "resolution"', { where: key });
    }
    const id = value['resolution'];
    const name = yarnDescriptorName(id);
    const descriptors = key.split(',').map((d) => d.trim());
    for (const d of descriptors) byDescriptor.set(d, id);
    const ws = /@workspace:(.*)$/.exec(id);
    entries.push({ id, value, workspace: ws ? ws[1]! : null });
    if (ws && ws[1] === '.') continue;
    b.addPackage({
      id,
      ecosystem: 'npm',
      name,
      version: String(value['version']),
      resolved: id,
      ...(value['checksum'] === undefined ? {} : { integrity: String(value['checksum']) }),
      dependencies: { ...stringMap(value['dependencies']), ...stringMap(value['peerDependencies']) },
      locations: descriptors,
    });
  }
  const resolve = (name: string, range: string): string | null =>
    byDescriptor.get(`${name}@${range}`) ?? (/^[a-z]+:/.test(range) ? null : (byDescriptor.get(`${name}@npm:${range}`) ?? null));
  let root: { name: string; version: string } | null = null;
  for (const { id, value, workspace } of entries) {
    const optional = new Set<string>();
    const meta = value['dependenciesMeta'];
    if (isRecord(meta)) for (const [k, v] of Object.entries(meta)) if (isRecord(v) && v['optional'] === 'true') optional.add(k);
    const peerMeta = value['peerDependenciesMeta'];
    const optionalPeers = new Set<string>();
    if (isRecord(peerMeta)) for (const [k, v] of Object.entries(peerMeta)) if (isRecord(v) && v['optional'] === 'true') optionalPeers.add(k);
    if (workspace === '.') root = { name: yarnDescriptorName(id), version: String(value['version']) };
    for (const [field, fieldKind] of [['dependencies', 'prod'], ['peerDependencies', 'peer']] as Array<[string, DependencyKind]>) {
      for (const [name, requirement] of Object.entries(stringMap(value[field]))) {
        const to = resolve(name, requirement);
        if (to === null && fieldKind === 'peer' && optionalPeers.has(name)) continue;
        const kind: DependencyKind = optional.has(name) ? 'optional' : fieldKind;
        if (workspace !== null) b.addDirect({ name, requirement, kind, to, importer: workspace });
        if (workspace !== '.') b.addEdge(id, name, requirement, kind, to);
      }
    }
  }
  if (root === null) b.inferDirect();
  return b.finish({
    file,
    kind: 'yarn-berry',
    lockfileVersion: String(metadata['version']),
    ...(root ? { rootName: root.name, rootVersion: root.version } : {}),
    rootsInferred: root === null,
  });
}
