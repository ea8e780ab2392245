import { z } from 'zod';
import { buildScan, schemaError } from '../parse-cyclonedx.js';
import type { ParsedScan } from '../types.js';
import { aliasReferences, BomCollector, fixedToVers, purlFor, versScheme } from './common.js';

/**
 * The parts of Grype's JSON report (`grype … -o json`) read here; field names as in Grype's
 * `grype/presenter/models` (https://github.com/anchore/grype). Loose objects.
 */
const GrypeMatch = z.looseObject({
  vulnerability: z.looseObject({
    id: z.string().min(1),
    severity: z.string().optional(),
    dataSource: z.string().optional(),
    description: z.string().optional(),
    urls: z.array(z.string()).optional().nullable(),
    fix: z.looseObject({ versions: z.array(z.string()).optional().nullable(), state: z.string().optional() }).optional(),
  }),
  relatedVulnerabilities: z.array(z.looseObject({ id: z.string() })).optional().nullable(),
  artifact: z.looseObject({
    id: z.string().optional(),
    name: z.string().min(1),
    version: z.string().optional(),
    type: z.string().optional(),
    purl: z.string().optional(),
  }),
});
const GrypeReport = z.looseObject({
  matches: z.array(GrypeMatch),
  source: z.looseObject({ type: z.string().optional(), target: z.unknown().optional() }).optional(),
  descriptor: z.looseObject({ name: z.string().optional(), version: z.string().optional() }).optional(),
});

/**
 * Reads a Grype JSON report into the normalised scan: each matched artifact is a component (its
 * `purl`, or one made from its `type`, name and version when Grype left it empty), each match
 * reports `vulnerability.id` with `relatedVulnerabilities` as aliases and `fix.versions` as fixed
 * versions (and the affected range they imply). Grype reports no dependency graph, so every
 * component is a direct dependency (a warning says so).
 * @throws InvalidInputError `SCAN_INVALID` with JSON pointers to the offending fields.
 */
export function parseGrype(doc: Record<string, unknown>): ParsedScan {
  const parsed = GrypeReport.safeParse(doc);
  if (!parsed.success) throw schemaError(parsed.error, 'Grype');
  const report = parsed.data;
  const bom = new BomCollector();
  const target = report.source?.target;
  const rootName = typeof target === 'string' && target !== '' ? target : (report.source?.type ?? 'scanned artifact');
  const root = { type: 'application', name: rootName, 'bom-ref': 'grype:source' };
  for (const m of report.matches) {
    const a = m.artifact;
    const purl = a.purl || (a.type ? purlFor('grype', a.type, a.name, a.version) : undefined);
    const ref = bom.component({
      type: 'library',
      name: a.name,
      ...(a.version ? { version: a.version } : {}),
      ...(purl ? { purl } : {}),
      'bom-ref': a.id || purl || `${a.name}@${a.version ?? ''}`,
    });
    const v = m.vulnerability;
    const fixed = v.fix?.versions ?? [];
    const range = fixedToVers(versScheme(purl), fixed);
    bom.affects(
      v.id,
      {
        references: aliasReferences(v.id, (m.relatedVulnerabilities ?? []).map((r) => r.id)),
        ...(v.severity ? { ratings: [{ severity: v.severity }] } : {}),
        ...(v.description ? { description: v.description } : {}),
        advisories: [...new Set([...(v.dataSource ? [v.dataSource] : []), ...(v.urls ?? [])])].map((url) => ({ url })),
        ...(fixed.length > 0 ? { recommendation: `Upgrade ${a.name} to version ${fixed.join(', ')}` } : {}),
      },
      ref,
      a.version,
      range === null ? [] : [range],
      fixed,
    );
  }
  return buildScan(bom.bom(root, true), { name: 'grype', version: report.descriptor?.version ?? 'unknown', encoding: 'json' }, bom.fixedOf);
}
