import { InvalidInputError } from '@remediation/errors';
import { z } from 'zod';
import { buildScan, schemaError } from '../parse-cyclonedx.js';
import type { ParsedScan } from '../types.js';
import { aliasReferences, BomCollector, fixedToVers, splitFixed, versScheme } from './common.js';

/**
 * The parts of Trivy's JSON report (`trivy … --format json`, `SchemaVersion` 2) read here; field
 * names as in Trivy's `pkg/types/report.go` (https://github.com/aquasecurity/trivy). Loose objects:
 * other fields are ignored.
 */
const TrivyPackage = z.looseObject({
  ID: z.string().optional(),
  Name: z.string().min(1),
  Version: z.string().optional(),
  Identifier: z.looseObject({ PURL: z.string().optional() }).optional(),
  DependsOn: z.array(z.string()).optional(),
  Relationship: z.string().optional(),
});
const TrivyVulnerability = z.looseObject({
  VulnerabilityID: z.string().min(1),
  PkgID: z.string().optional(),
  PkgName: z.string().min(1),
  PkgIdentifier: z.looseObject({ PURL: z.string().optional() }).optional(),
  InstalledVersion: z.string().optional(),
  FixedVersion: z.string().optional(),
  Severity: z.string().optional(),
  Title: z.string().optional(),
  Description: z.string().optional(),
  PrimaryURL: z.string().optional(),
  VendorIDs: z.array(z.string()).optional(),
});
const TrivyReport = z.looseObject({
  SchemaVersion: z.literal(2),
  ArtifactName: z.string().optional(),
  Results: z
    .array(
      z.looseObject({
        Target: z.string(),
        Packages: z.array(TrivyPackage).optional().nullable(),
        Vulnerabilities: z.array(TrivyVulnerability).optional().nullable(),
      }),
    )
    .optional()
    .nullable(),
});

/**
 * Reads a Trivy JSON report (`SchemaVersion` 2) into the normalised scan: each result's packages
 * (Trivy lists them with `--list-all-pkgs`, the default for JSON since 0.48) become components
 * keyed `<result index>/<package ID>`, `DependsOn` the graph, with the packages marked
 * `Relationship: direct` (else those nothing depends on) as the direct dependencies; each
 * vulnerability reports its installed version and `FixedVersion` (comma-separated) as fixed
 * versions and as an affected range. A vulnerable package missing from `Packages` is added.
 * @throws InvalidInputError `SCAN_UNSUPPORTED_VERSION` for another `SchemaVersion`, `SCAN_INVALID`
 *   with JSON pointers to the offending fields.
 */
export function parseTrivy(doc: Record<string, unknown>): ParsedScan {
  if (doc['SchemaVersion'] !== 2) {
    throw new InvalidInputError('SCAN_UNSUPPORTED_VERSION', `Trivy SchemaVersion ${JSON.stringify(doc['SchemaVersion'])} is not supported (supported: 2)`, {
      details: { pointer: '/SchemaVersion', version: doc['SchemaVersion'] ?? null, supported: [2] },
    });
  }
  const parsed = TrivyReport.safeParse(doc);
  if (!parsed.success) throw schemaError(parsed.error, 'Trivy');
  const report = parsed.data;
  const bom = new BomCollector();
  const root = { type: 'application', name: report.ArtifactName || 'scanned artifact', 'bom-ref': 'trivy:artifact' };
  let sawRelationship = false;
  (report.Results ?? []).forEach((result, r) => {
    const refOf = (id: string) => `${r}/${id}`;
    for (const pkg of result.Packages ?? []) {
      const id = pkg.ID ?? `${pkg.Name}@${pkg.Version ?? ''}`;
      bom.component({
        type: 'library',
        name: pkg.Name,
        ...(pkg.Version ? { version: pkg.Version } : {}),
        ...(pkg.Identifier?.PURL ? { purl: pkg.Identifier.PURL } : {}),
        'bom-ref': refOf(id),
      });
      if (pkg.Relationship !== undefined) sawRelationship = true;
      if (pkg.Relationship === 'direct') bom.dependsOn(root['bom-ref'], refOf(id));
    }
    for (const pkg of result.Packages ?? []) {
      for (const to of pkg.DependsOn ?? []) bom.dependsOn(refOf(pkg.ID ?? `${pkg.Name}@${pkg.Version ?? ''}`), refOf(to));
    }
    for (const v of result.Vulnerabilities ?? []) {
      const ref = refOf(v.PkgID ?? `${v.PkgName}@${v.InstalledVersion ?? ''}`);
      const purl = v.PkgIdentifier?.PURL ?? bom.purlOf(ref);
      if (!bom.has(ref)) {
        bom.component({
          type: 'library',
          name: v.PkgName,
          ...(v.InstalledVersion ? { version: v.InstalledVersion } : {}),
          ...(purl ? { purl } : {}),
          'bom-ref': ref,
        });
      }
      const fixed = splitFixed(v.FixedVersion);
      const range = fixedToVers(versScheme(purl), fixed);
      bom.affects(
        v.VulnerabilityID,
        {
          references: aliasReferences(v.VulnerabilityID, v.VendorIDs ?? []),
          ...(v.Severity ? { ratings: [{ severity: v.Severity }] } : {}),
          ...(v.Title || v.Description ? { description: v.Title ?? v.Description } : {}),
          ...(v.PrimaryURL ? { advisories: [{ url: v.PrimaryURL }] } : {}),
          ...(fixed.length > 0 ? { recommendation: `Upgrade ${v.PkgName} to version ${fixed.join(', ')}` } : {}),
        },
        ref,
        v.InstalledVersion,
        range === null ? [] : [range],
        fixed,
      );
    }
  });
  if (!sawRelationship) bom.rootDependsOnUnreferenced(root['bom-ref']);
  return buildScan(bom.bom(root, true), { name: 'trivy', version: '2', encoding: 'json' }, bom.fixedOf);
}
