import { InvalidInputError } from '@remediation/errors';
import { z } from 'zod';
import { buildScan, schemaError } from '../parse-cyclonedx.js';
import type { ParsedScan } from '../types.js';
import { BomCollector } from './common.js';

/** SPDX versions read (https://spdx.github.io/spdx-spec/v2.3/; 2.2 has the same fields used here). */
const SUPPORTED_SPDX = ['SPDX-2.2', 'SPDX-2.3'];

const SpdxDocument = z.looseObject({
  spdxVersion: z.string(),
  SPDXID: z.string().optional(),
  name: z.string().optional(),
  documentDescribes: z.array(z.string()).optional(),
  packages: z
    .array(
      z.looseObject({
        SPDXID: z.string().min(1),
        name: z.string().min(1),
        versionInfo: z.string().optional(),
        externalRefs: z
          .array(z.looseObject({ referenceCategory: z.string().optional(), referenceType: z.string(), referenceLocator: z.string() }))
          .optional(),
      }),
    )
    .optional(),
  relationships: z
    .array(z.looseObject({ spdxElementId: z.string(), relationshipType: z.string(), relatedSpdxElement: z.string() }))
    .optional()
    .nullable(),
});

/**
 * Reads an SPDX 2.2/2.3 JSON document (or a tag-value one read by `spdxTagValueToJson`, with
 * `encoding: 'tag-value'`) into the normalised scan: packages are components (the
 * `purl` external reference; `versionInfo` as version), `DEPENDS_ON` / `DEPENDENCY_OF` /
 * `CONTAINS` relationships the graph, and the package the document `DESCRIBES` the root. SPDX
 * carries no vulnerabilities: the planner matches the components against its advisories.
 * @throws InvalidInputError `SCAN_UNSUPPORTED_VERSION` for other `spdxVersion`s, `SCAN_INVALID`
 *   with JSON pointers.
 */
export function parseSpdx(doc: Record<string, unknown>, encoding: 'json' | 'tag-value' = 'json'): ParsedScan {
  const version = doc['spdxVersion'];
  if (typeof version !== 'string' || !SUPPORTED_SPDX.includes(version)) {
    throw new InvalidInputError('SCAN_UNSUPPORTED_VERSION', `SPDX version ${JSON.stringify(version)} is not supported (supported: ${SUPPORTED_SPDX.join(', ')})`, {
      details: { pointer: '/spdxVersion', version: version ?? null, supported: SUPPORTED_SPDX },
    });
  }
  const parsed = SpdxDocument.safeParse(doc);
  if (!parsed.success) throw schemaError(parsed.error, 'SPDX');
  const spdx = parsed.data;
  const documentId = spdx.SPDXID ?? 'SPDXRef-DOCUMENT';
  const relationships = spdx.relationships ?? [];
  const described = new Set([
    ...(spdx.documentDescribes ?? []),
    ...relationships.filter((r) => r.spdxElementId === documentId && r.relationshipType === 'DESCRIBES').map((r) => r.relatedSpdxElement),
  ]);
  const bom = new BomCollector();
  let root: { type: string; name: string; version?: string; purl?: string; 'bom-ref': string } = {
    type: 'application',
    name: spdx.name || 'SPDX document',
    'bom-ref': documentId,
  };
  for (const p of spdx.packages ?? []) {
    const purl = p.externalRefs?.find((r) => r.referenceType === 'purl')?.referenceLocator;
    const component = {
      type: 'library',
      name: p.name,
      ...(p.versionInfo && p.versionInfo !== 'NOASSERTION' ? { version: p.versionInfo } : {}),
      ...(purl ? { purl } : {}),
      'bom-ref': p.SPDXID,
    };
    if (described.size === 1 && described.has(p.SPDXID)) root = component;
    else bom.component(component);
  }
  const known = (id: string) => bom.has(id) || id === root['bom-ref'];
  for (const r of relationships) {
    if (!known(r.spdxElementId) || !known(r.relatedSpdxElement)) continue;
    if (r.relationshipType === 'DEPENDS_ON' || r.relationshipType === 'CONTAINS') bom.dependsOn(r.spdxElementId, r.relatedSpdxElement);
    else if (r.relationshipType === 'DEPENDENCY_OF') bom.dependsOn(r.relatedSpdxElement, r.spdxElementId);
  }
  if (bom.dependencies.size > 0 && !bom.dependencies.has(root['bom-ref'])) bom.rootDependsOnUnreferenced(root['bom-ref']);
  return buildScan(bom.bom(root, false), { name: 'spdx', version: version.slice('SPDX-'.length), encoding });
}
