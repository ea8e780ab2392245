import { PackageURL } from 'packageurl-js';
import semver from 'semver';
import type { CdxBom, CdxComponent, CdxVulnerability } from '../cyclonedx-schema.js';

/**
 * OSV ecosystem → purl type, for scanners that name packages by OSV ecosystem (OSV-Scanner).
 * Source: the OSV schema's ecosystem list (https://ossf.github.io/osv-schema/#affectedpackage-field)
 * and the purl types of https://github.com/package-url/purl-spec/blob/main/PURL-TYPES.rst.
 */
const OSV_ECOSYSTEM_TO_PURL_TYPE: Record<string, string> = {
  npm: 'npm',
  pypi: 'pypi',
  go: 'golang',
  'crates.io': 'cargo',
  maven: 'maven',
  rubygems: 'gem',
  nuget: 'nuget',
  packagist: 'composer',
  pub: 'pub',
  hex: 'hex',
  hackage: 'hackage',
  cran: 'cran',
  swifturl: 'swift',
  debian: 'deb',
  ubuntu: 'deb',
  alpine: 'apk',
  conan: 'conan',
  github_actions: 'github',
};

/** Grype artifact `type` → purl type, for artifacts whose `purl` is empty (Grype's `pkg.Type` names). */
const GRYPE_TYPE_TO_PURL_TYPE: Record<string, string> = {
  npm: 'npm',
  python: 'pypi',
  'go-module': 'golang',
  'java-archive': 'maven',
  gem: 'gem',
  'rust-crate': 'cargo',
  dotnet: 'nuget',
  'php-composer': 'composer',
  rpm: 'rpm',
  deb: 'deb',
  apk: 'apk',
  'dart-pub': 'pub',
  hex: 'hex',
  conan: 'conan',
};

/**
 * A purl for a package named by ecosystem, name and version, or undefined when the ecosystem has
 * no known purl type. Scoped npm names and Maven `group:artifact` names become namespace + name;
 * an OSV ecosystem suffix such as `Debian:11` is dropped.
 */
export function purlFor(kind: 'osv' | 'grype', ecosystem: string, name: string, version: string | undefined): string | undefined {
  const base = ecosystem.split(':')[0]!.toLowerCase();
  const type = (kind === 'osv' ? OSV_ECOSYSTEM_TO_PURL_TYPE : GRYPE_TYPE_TO_PURL_TYPE)[base];
  if (type === undefined || name === '') return undefined;
  let namespace: string | undefined;
  let local = name;
  if (type === 'maven' && name.includes(':')) [namespace, local] = name.split(':', 2) as [string, string];
  else if ((type === 'npm' || type === 'golang' || type === 'composer' || type === 'swift') && name.lastIndexOf('/') > 0) {
    namespace = name.slice(0, name.lastIndexOf('/'));
    local = name.slice(name.lastIndexOf('/') + 1);
  }
  try {
    return new PackageURL(type, namespace, local, version || undefined, undefined, undefined).toString();
  } catch {
    return undefined;
  }
}

/**
 * The affected versions implied by a list of fixed versions, as a `vers` range
 * (https://github.com/package-url/vers-spec), when every fixed version is semver: below the
 * lowest fix, and for each later fix in a higher major line, from that line's `.0.0` up to the
 * fix (Trivy's `2.0.4, 3.0.5` → `vers:<scheme>/<2.0.4|>=3.0.0|<3.0.5`). A fix in the same major
 * line as an earlier one widens that line's interval. Null when no fixed version is semver.
 */
export function fixedToVers(scheme: string, fixed: readonly string[]): string | null {
  const versions = [...new Set(fixed)].filter((v) => semver.valid(v) !== null).sort(semver.compare);
  if (versions.length === 0 || versions.length !== new Set(fixed).size) return null;
  const intervals: { lower: string | null; upper: string }[] = [];
  for (const v of versions) {
    const last = intervals[intervals.length - 1];
    if (last && semver.major(last.upper) === semver.major(v)) last.upper = v;
    else intervals.push({ lower: last ? `${semver.major(v)}.0.0` : null, upper: v });
  }
  const parts = intervals.flatMap((i) => (i.lower === null ? [`<${i.upper}`] : [`>=${i.lower}`, `<${i.upper}`]));
  return `vers:${scheme}/${parts.join('|')}`;
}

/** Fixed versions split out of a scanner's comma-separated text (`"2.0.4, 3.0.5"`). */
export function splitFixed(text: string | undefined): string[] {
  return (text ?? '')
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

/** vers scheme of a purl type (npm versions are semver; other types keep their own name). */
export function versScheme(purl: string | undefined): string {
  if (purl === undefined) return 'generic';
  try {
    return PackageURL.fromString(purl).type.toLowerCase();
  } catch {
    return 'generic';
  }
}

/**
 * Collects a converted scan in CycloneDX's shape (components, graph, vulnerabilities grouped by
 * id) so that every format is normalised by the same `buildScan`.
 */
export class BomCollector {
  readonly components: CdxComponent[] = [];
  readonly dependencies = new Map<string, Set<string>>();
  private readonly vulnerabilities = new Map<string, CdxVulnerability>();
  readonly fixedOf = new Map<object, readonly string[]>();
  private readonly refs = new Map<string, CdxComponent>();

  /** Adds a component unless its `bom-ref` is already known; returns the ref. */
  component(c: CdxComponent & { 'bom-ref': string }): string {
    if (!this.refs.has(c['bom-ref'])) {
      this.refs.set(c['bom-ref'], c);
      this.components.push(c);
    }
    return c['bom-ref'];
  }

  has(ref: string): boolean {
    return this.refs.has(ref);
  }

  /** The purl of a collected component, if it has one. */
  purlOf(ref: string): string | undefined {
    return this.refs.get(ref)?.purl;
  }

  dependsOn(from: string, to: string): void {
    const set = this.dependencies.get(from) ?? new Set<string>();
    this.dependencies.set(from, set.add(to));
  }

  /**
   * Makes `root` depend on every component no other component depends on: the direct
   * dependencies of a format that marks none but has a graph.
   */
  rootDependsOnUnreferenced(root: string): void {
    const dependedOn = new Set<string>();
    for (const tos of this.dependencies.values()) for (const to of tos) dependedOn.add(to);
    for (const c of this.components) if (!dependedOn.has(c['bom-ref']!)) this.dependsOn(root, c['bom-ref']!);
  }

  /**
   * Records that `ref` (installed at `version`) is affected by vulnerability `id`, with the ranges
   * (`vers`) and fixed versions the scanner gives; details of the first report of an id are kept,
   * aliases are merged.
   */
  affects(
    id: string,
    details: Omit<CdxVulnerability, 'id' | 'affects'>,
    ref: string,
    version: string | undefined,
    ranges: readonly string[],
    fixed: readonly string[],
  ): void {
    const vuln = this.vulnerabilities.get(id) ?? { id, ...details, affects: [] };
    if (this.vulnerabilities.has(id) && Array.isArray(details.references)) {
      const known = new Set((vuln.references ?? []).map((r) => r.id));
      const more = (details.references as { id: string }[]).filter((r) => !known.has(r.id));
      vuln.references = [...(vuln.references ?? []), ...more];
    }
    this.vulnerabilities.set(id, vuln);
    const entry = {
      ref,
      versions: [
        ...(version !== undefined ? [{ version, status: 'affected' as const }] : []),
        ...ranges.map((range) => ({ range, status: 'affected' as const })),
      ],
    };
    vuln.affects!.push(entry);
    this.fixedOf.set(entry, fixed);
  }

  /** The collected scan as a CycloneDX-shaped BOM (`vulnerabilities` present: the scan reports them). */
  bom(root: CdxComponent & { 'bom-ref': string }, withVulnerabilities: boolean): CdxBom {
    return {
      bomFormat: 'CycloneDX',
      specVersion: '1.6',
      metadata: { component: root },
      components: this.components,
      dependencies: [...this.dependencies].map(([ref, tos]) => ({ ref, dependsOn: [...tos] })),
      ...(withVulnerabilities ? { vulnerabilities: [...this.vulnerabilities.values()] } : {}),
    };
  }
}

/** Aliases as CycloneDX `references` (`{ id }` each), without the id itself and duplicates. */
export function aliasReferences(id: string, aliases: readonly (string | undefined | null)[]): { id: string }[] {
  return [...new Set(aliases.filter((a): a is string => typeof a === 'string' && a !== '' && a !== id))].map((a) => ({ id: a }));
}
