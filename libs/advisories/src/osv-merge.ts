import type { OsvAffected, OsvRecord } from './osv-schema.js';
import { higherSeverity, recordSeverity } from './osv-severity.js';
import { normalisePackageName } from './package-names.js';
import type { AdvisorySeverity } from './types.js';

export { normalisePackageName };

/**
 * Preference of id prefixes for the canonical id of merged records: the GitHub advisory first
 * (the planner's ids so far are GHSA ids), then the ecosystem databases, then CVE, then anything else.
 */
const PREFERENCE = ['GHSA-', 'PYSEC-', 'GO-', 'RUSTSEC-', 'CVE-'];

function rank(id: string): number {
  const i = PREFERENCE.findIndex((p) => id.startsWith(p));
  return i === -1 ? PREFERENCE.length : i;
}

/** The canonical id among `ids`: best prefix (see PREFERENCE), then the smallest id. */
export function canonicalId(ids: Iterable<string>): string {
  const sorted = [...new Set(ids)].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  if (sorted.length === 0) throw new Error('canonicalId of no ids');
  return sorted[0]!;
}

/** Every id a record is known by: its `id` and its `aliases`. */
export function recordIds(record: OsvRecord): string[] {
  return [...new Set([record.id, ...(record.aliases ?? [])])];
}

/** One advisory made of OSV records that alias each other. */
export interface MergedAdvisory {
  /** Canonical id (see {@link canonicalId}). */
  id: string;
  /** Every other id of the group (record ids and their aliases), sorted. */
  aliases: string[];
  /** Latest `modified` of the records (ISO 8601). */
  modified: string;
  /** Earliest `published`, when any record has one. */
  published: string | undefined;
  summary: string | undefined;
  /** Highest severity of the records (see `recordSeverity`). */
  severity: AdvisorySeverity;
  /** The merged OSV record: the canonical record's fields, the group's aliases, every record's `affected[]` and references. */
  osv: OsvRecord;
  /** (ecosystem, normalised name) of every affected package, unique. */
  packages: Array<{ ecosystem: string; name: string }>;
}

/**
 * Merges records that alias each other into one advisory (OSV `aliases`:
 * https://ossf.github.io/osv-schema/#aliases-field — the same vulnerability in several databases).
 * Withdrawn records must be left out by the caller. `affected[]` entries are unioned (identical
 * entries once), so ranges from every database apply.
 * @throws Error when `records` is empty.
 */
export function mergeRecords(records: readonly OsvRecord[]): MergedAdvisory {
  if (records.length === 0) throw new Error('mergeRecords of no records');
  const allIds = new Set(records.flatMap(recordIds));
  const id = canonicalId(allIds);
  const sorted = [...records].sort((a, b) => rank(a.id) - rank(b.id) || (a.id < b.id ? -1 : 1));
  const primary = sorted.find((r) => r.id === id) ?? sorted[0]!;
  const affected: OsvAffected[] = [];
  const seenAffected = new Set<string>();
  for (const r of sorted) {
    for (const a of r.affected ?? []) {
      const key = JSON.stringify(a);
      if (!seenAffected.has(key)) {
        seenAffected.add(key);
        affected.push(a);
      }
    }
  }
  const references = [...new Map(sorted.flatMap((r) => r.references ?? []).map((ref) => [`${ref.type} ${ref.url}`, ref])).values()];
  const modified = records.map((r) => r.modified).reduce((a, b) => (Date.parse(b) > Date.parse(a) ? b : a));
  const publishedList = records.map((r) => r.published).filter((p): p is string => p !== undefined);
  const published = publishedList.length ? publishedList.reduce((a, b) => (Date.parse(b) < Date.parse(a) ? b : a)) : undefined;
  const aliases = [...allIds].filter((a) => a !== id).sort();
  const severity = records.map(recordSeverity).reduce(higherSeverity, 'unknown');
  const osv: OsvRecord = {
    ...primary,
    id,
    aliases,
    modified,
    ...(published !== undefined ? { published } : {}),
    summary: primary.summary ?? sorted.find((r) => r.summary)?.summary,
    affected,
    references,
  };
  if (osv.summary === undefined) delete osv.summary;
  const packages = new Map<string, { ecosystem: string; name: string }>();
  for (const a of affected) {
    const name = normalisePackageName(a.package.ecosystem, a.package.name);
    packages.set(`${a.package.ecosystem}\u0000${name}`, { ecosystem: a.package.ecosystem, name });
  }
  return { id, aliases, modified, published, summary: osv.summary, severity, osv, packages: [...packages.values()] };
}

/** purl type (https://github.com/package-url/purl-spec/blob/main/PURL-TYPES.rst) → OSV ecosystem. */
const ECOSYSTEM_OF_PURL_TYPE: Record<string, string> = {
  npm: 'npm',
  pypi: 'PyPI',
  maven: 'Maven',
  golang: 'Go',
  cargo: 'crates.io',
  nuget: 'NuGet',
  gem: 'RubyGems',
  composer: 'Packagist',
  hex: 'Hex',
  pub: 'Pub',
};

/**
 * The OSV ecosystem (https://ossf.github.io/osv-schema/#defined-ecosystems) of a purl type, and the
 * package name as OSV writes it: Maven `group:artifact`, Go and others `namespace/name`, npm `@scope/name`.
 * @returns undefined for a purl type without an OSV ecosystem here.
 */
export function osvPackageOfPurl(purl: { type: string; namespace?: string | null | undefined; name: string }): { ecosystem: string; name: string } | undefined {
  const ecosystem = ECOSYSTEM_OF_PURL_TYPE[purl.type.toLowerCase()];
  if (!ecosystem) return undefined;
  const ns = purl.namespace ?? undefined;
  if (!ns) return { ecosystem, name: purl.name };
  return { ecosystem, name: ecosystem === 'Maven' ? `${ns}:${purl.name}` : `${ns}/${purl.name}` };
}
