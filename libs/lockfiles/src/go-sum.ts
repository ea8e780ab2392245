import { goVersioning, parseGoMod } from '@remediation/ecosystems';
import { LockfileInvalidError } from './errors.js';
import { GraphBuilder } from './graph.js';
import type { ResolvedGraph } from './types.js';

/** One go.sum line: `module version[/go.mod] h1:hash`. */
export interface GoSumEntry {
  module: string;
  version: string;
  /** True for the `version/go.mod` line (hash of the go.mod file only, https://go.dev/ref/mod#go-sum-files). */
  goModOnly: boolean;
  hash: string;
  line: number;
}

/**
 * Parses go.sum (https://go.dev/ref/mod#go-sum-files): one `module version[/go.mod] hash` per
 * line, the hash `h<N>:` followed by base64.
 * @throws LockfileInvalidError naming the line when it has not exactly three fields, the version
 *   is not a Go module version, or the hash is not `h<N>:…`.
 */
export function parseGoSum(file: string, text: string): GoSumEntry[] {
  const out: GoSumEntry[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    const fields = line.split(/\s+/);
    if (fields.length !== 3) throw new LockfileInvalidError(file, 'go-sum', `expected "module version hash", found ${fields.length} fields`, { where: i + 1 });
    const [module, rawVersion, hash] = fields as [string, string, string];
    const goModOnly = rawVersion.endsWith('/go.mod');
    const version = goModOnly ? rawVersion.slice(0, -'/go.mod'.length) : rawVersion;
    if (!goVersioning.isValid(version)) throw new LockfileInvalidError(file, 'go-sum', `${JSON.stringify(version)} is not a Go module version`, { where: i + 1 });
    if (!/^h\d+:[A-Za-z0-9+/=]+$/.test(hash)) throw new LockfileInvalidError(file, 'go-sum', `${JSON.stringify(hash)} is not a go.sum hash (h1:…)`, { where: i + 1 });
    out.push({ module, version, goModOnly, hash, line: i + 1 });
  });
  return out;
}

/**
 * Reads go.sum with its go.mod into a graph. go.sum records hashes, not a graph: the packages are
 * the modules whose code (zip) hash it holds, at the highest such version (the one minimal
 * version selection kept, https://go.dev/ref/mod#minimal-version-selection), and every go.mod
 * `require` (at the higher of its version and go.sum's). Direct dependencies are the `require`s
 * without `// indirect` (requirement = the required version). Package-to-package edges are not in
 * these files (`edgesComplete: false`); without go.mod every package is taken as direct
 * (`rootsInferred`). `replace` directives are not applied.
 * @throws LockfileInvalidError for a malformed go.sum line; go.mod errors are
 *   @remediation/ecosystems' `MANIFEST_INVALID`.
 */
export function readGoSum(file: string, text: string, options: { goMod?: { file: string; text: string } } = {}): ResolvedGraph {
  const entries = parseGoSum(file, text);
  const selected = new Map<string, GoSumEntry>();
  for (const e of entries) {
    if (e.goModOnly) continue;
    const current = selected.get(e.module);
    if (!current || goVersioning.compare(e.version, current.version) > 0) selected.set(e.module, e);
  }
  const mod = options.goMod ? parseGoMod(options.goMod.file, options.goMod.text) : null;
  const versions = new Map<string, string>();
  for (const [module, e] of selected) versions.set(module, e.version);
  for (const r of mod?.requires ?? []) {
    const v = versions.get(r.path);
    if (v === undefined || goVersioning.compare(r.version.value, v) > 0) versions.set(r.path, r.version.value);
  }
  const b = new GraphBuilder();
  for (const [module, version] of versions) {
    const hash = entries.find((e) => e.module === module && e.version === version && !e.goModOnly)?.hash;
    b.addPackage({
      id: `${module}@${version}`,
      ecosystem: 'golang',
      name: module,
      version,
      ...(hash ? { integrity: hash } : {}),
      dependencies: {},
      locations: [`${module}@${version}`],
    });
  }
  if (mod) {
    for (const r of mod.requires) {
      if (r.indirect) continue;
      b.addDirect({ name: r.path, requirement: r.version.value, kind: 'prod', to: `${r.path}@${versions.get(r.path)!}`, importer: '.' });
    }
  } else {
    b.inferDirect();
  }
  return b.finish({
    file,
    kind: 'go-sum',
    lockfileVersion: 'unversioned',
    ...(mod?.module ? { rootName: mod.module } : {}),
    rootsInferred: mod === null,
    edgesComplete: false,
  });
}
