import { z } from 'zod';
import { buildScan, schemaError } from '../parse-cyclonedx.js';
import type { ParsedScan } from '../types.js';
import { aliasReferences, BomCollector, purlFor, versScheme } from './common.js';

/** An OSV record as OSV-Scanner embeds it (https://ossf.github.io/osv-schema/), the fields read here. */
const OsvRecord = z.looseObject({
  id: z.string().min(1),
  aliases: z.array(z.string()).optional().nullable(),
  summary: z.string().optional(),
  details: z.string().optional(),
  affected: z
    .array(
      z.looseObject({
        package: z.looseObject({ name: z.string().optional(), ecosystem: z.string().optional() }).optional(),
        ranges: z
          .array(
            z.looseObject({
              type: z.string(),
              events: z.array(z.looseObject({ introduced: z.string().optional(), fixed: z.string().optional(), last_affected: z.string().optional() })),
            }),
          )
          .optional()
          .nullable(),
      }),
    )
    .optional()
    .nullable(),
  database_specific: z.looseObject({ severity: z.string().optional(), url: z.string().optional() }).optional().nullable(),
});
type OsvRecord = z.infer<typeof OsvRecord>;

const OsvScannerResults = z.looseObject({
  results: z.array(
    z.looseObject({
      source: z.looseObject({ path: z.string().optional(), type: z.string().optional() }).optional(),
      packages: z
        .array(
          z.looseObject({
            package: z.looseObject({
              name: z.string().min(1),
              version: z.string().optional(),
              ecosystem: z.string().optional(),
              purl: z.string().optional(),
            }),
            vulnerabilities: z.array(OsvRecord).optional().nullable(),
            groups: z
              .array(z.looseObject({ ids: z.array(z.string()), aliases: z.array(z.string()).optional().nullable(), max_severity: z.string().optional() }))
              .optional()
              .nullable(),
          }),
        )
        .optional()
        .nullable(),
    }),
  ),
});

/** Keys only OSV-Scanner 2's output has (v1 has neither). */
const V2_MARKERS = ['experimental_config', 'image_metadata', 'license_summary'];

/**
 * Reads OSV-Scanner's JSON output (`osv-scanner --format json`, layouts of v1 and v2:
 * `results[].packages[]` with `package`, `vulnerabilities` (full OSV records) and `groups`) into
 * the normalised scan. Packages are components by purl (from `package.purl`, else from the OSV
 * ecosystem and name); each OSV record's ranges for the package become `vers` ranges and its
 * `fixed` events fixed versions; a group's ids and aliases are merged as aliases and its
 * `max_severity` (a CVSS score, v2) or the record's `database_specific.severity` gives the
 * severity. OSV-Scanner reports no dependency graph: every package is a direct dependency.
 * @throws InvalidInputError `SCAN_INVALID` with JSON pointers to the offending fields.
 */
export function parseOsvScanner(doc: Record<string, unknown>): ParsedScan {
  const parsed = OsvScannerResults.safeParse(doc);
  if (!parsed.success) throw schemaError(parsed.error, 'OSV-Scanner');
  const bom = new BomCollector();
  const root = { type: 'application', name: 'scanned sources', 'bom-ref': 'osv-scanner:sources' };
  let v2 = V2_MARKERS.some((k) => k in doc);
  parsed.data.results.forEach((result, r) => {
    for (const p of result.packages ?? []) {
      const pkg = p.package;
      const purl = pkg.purl || (pkg.ecosystem ? purlFor('osv', pkg.ecosystem, pkg.name, pkg.version) : undefined);
      const ref = bom.component({
        type: 'library',
        name: pkg.name,
        ...(pkg.version ? { version: pkg.version } : {}),
        ...(purl ? { purl } : {}),
        'bom-ref': `${r}/${purl ?? `${pkg.ecosystem ?? ''}:${pkg.name}@${pkg.version ?? ''}`}`,
      });
      // Each id or alias → its group (the first that names it), built once per package so a report
      // with many records and groups is read in linear time.
      const groupOf = new Map<string, NonNullable<typeof p.groups>[number]>();
      for (const g of p.groups ?? []) for (const id of [...g.ids, ...(g.aliases ?? [])]) if (!groupOf.has(id)) groupOf.set(id, g);
      for (const record of p.vulnerabilities ?? []) {
        const group = [record.id, ...(record.aliases ?? [])].map((id) => groupOf.get(id)).find((g) => g !== undefined);
        if (group?.max_severity !== undefined) v2 = true;
        const score = group?.max_severity !== undefined && group.max_severity !== '' ? Number(group.max_severity) : NaN;
        const word = record.database_specific?.severity;
        const { ranges, fixed } = rangesFor(record, pkg.name, versScheme(purl));
        const url = record.database_specific?.url;
        bom.affects(
          record.id,
          {
            references: aliasReferences(record.id, [...(record.aliases ?? []), ...(group?.ids ?? []), ...(group?.aliases ?? [])]),
            ratings: [...(Number.isFinite(score) ? [{ score }] : []), ...(word ? [{ severity: word }] : [])],
            ...(record.summary || record.details ? { description: record.summary ?? record.details } : {}),
            ...(url ? { advisories: [{ url }] } : {}),
          },
          ref,
          pkg.version,
          ranges,
          fixed,
        );
      }
    }
  });
  return buildScan(bom.bom(root, true), { name: 'osv-scanner', version: v2 ? '2' : '1', encoding: 'json' }, bom.fixedOf);
}

/**
 * `vers` ranges and fixed versions of an OSV record for one package (its `affected[]` entries
 * naming the package, or all when none names it). SEMVER and ECOSYSTEM events in order:
 * `introduced` opens an interval (`0` = unbounded), `fixed` closes it exclusively,
 * `last_affected` inclusively (OSV schema, "affected[].ranges[].events").
 */
function rangesFor(record: OsvRecord, name: string, scheme: string): { ranges: string[]; fixed: string[] } {
  const entries = record.affected ?? [];
  const named = entries.filter((a) => a.package?.name === name);
  const ranges: string[] = [];
  const fixed: string[] = [];
  for (const a of named.length > 0 ? named : entries) {
    for (const range of a.ranges ?? []) {
      if (range.type !== 'SEMVER' && range.type !== 'ECOSYSTEM') continue;
      const parts: string[] = [];
      let open = false;
      for (const e of range.events) {
        if (e.introduced !== undefined) {
          if (e.introduced !== '0') parts.push(`>=${e.introduced}`);
          open = true;
        } else if (e.fixed !== undefined && open) {
          parts.push(`<${e.fixed}`);
          fixed.push(e.fixed);
          open = false;
        } else if (e.last_affected !== undefined && open) {
          parts.push(`<=${e.last_affected}`);
          open = false;
        }
      }
      if (parts.length > 0) ranges.push(`vers:${scheme}/${parts.join('|')}`);
      else if (open) ranges.push(`vers:${scheme}/*`);
    }
  }
  return { ranges, fixed: [...new Set(fixed)] };
}
