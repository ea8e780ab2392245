import { z } from 'zod';

/**
 * zod schemas for the subset of CycloneDX JSON (1.4–1.7) the planner reads. Objects are loose:
 * unknown keys are kept and not checked, so tool-specific additions never fail a scan.
 * Field meanings follow the CycloneDX JSON reference, https://cyclonedx.org/docs/1.6/json/
 * (same shapes in 1.4, 1.5 and 1.7 for every field used here).
 */

/** `specVersion` values this parser accepts. 1.7 keeps the 1.6 shapes for every field read here. */
export const SUPPORTED_SPEC_VERSIONS = ['1.4', '1.5', '1.6', '1.7'] as const;

/** A supported CycloneDX `specVersion`. */
export const CdxSpecVersion = z.enum(SUPPORTED_SPEC_VERSIONS);
export type CdxSpecVersion = z.infer<typeof CdxSpecVersion>;

/**
 * A component (`components[]`, `metadata.component`); `components` nests sub-components
 * (cyclonedx-npm uses it for nested `node_modules`). Spec: "component" object, `type` and
 * `name` required.
 */
export const CdxComponent = z.looseObject({
  type: z.string().min(1),
  name: z.string().min(1),
  group: z.string().optional(),
  version: z.string().optional(),
  purl: z.string().optional(),
  'bom-ref': z.string().min(1).optional(),
  get components() {
    return z.array(CdxComponent).optional();
  },
});
export type CdxComponent = z.infer<typeof CdxComponent>;

/** One node of the dependency graph (`dependencies[]`): `ref` depends on each of `dependsOn`. */
export const CdxDependency = z.looseObject({
  ref: z.string().min(1),
  dependsOn: z.array(z.string()).optional(),
});
export type CdxDependency = z.infer<typeof CdxDependency>;

/** A vulnerability source (`vulnerabilities[].source`, `references[].source`, `ratings[].source`). */
export const CdxVulnerabilitySource = z.looseObject({
  name: z.string().optional(),
  url: z.string().optional(),
});
export type CdxVulnerabilitySource = z.infer<typeof CdxVulnerabilitySource>;

/** `vulnerabilities[].ratings[]`: severity is one of critical/high/medium/low/info/none/unknown. */
export const CdxRating = z.looseObject({
  source: CdxVulnerabilitySource.optional(),
  score: z.number().optional(),
  severity: z.string().optional(),
  method: z.string().optional(),
  vector: z.string().optional(),
});
export type CdxRating = z.infer<typeof CdxRating>;

/**
 * `vulnerabilities[].affects[].versions[]`: either one `version` or a `range` (in `vers` syntax,
 * https://github.com/package-url/vers-spec), with a `status` of affected/unaffected/unknown.
 */
export const CdxAffectedVersion = z.looseObject({
  version: z.string().optional(),
  range: z.string().optional(),
  status: z.enum(['affected', 'unaffected', 'unknown']).optional(),
});
export type CdxAffectedVersion = z.infer<typeof CdxAffectedVersion>;

/** `vulnerabilities[].affects[]`: the bom-ref of an affected component and its versions. */
export const CdxAffects = z.looseObject({
  ref: z.string().min(1),
  versions: z.array(CdxAffectedVersion).optional(),
});
export type CdxAffects = z.infer<typeof CdxAffects>;

/** `vulnerabilities[]` (CycloneDX ≥ 1.4 "vulnerability" object). */
export const CdxVulnerability = z.looseObject({
  'bom-ref': z.string().optional(),
  id: z.string().optional(),
  source: CdxVulnerabilitySource.optional(),
  references: z.array(z.looseObject({ id: z.string().min(1), source: CdxVulnerabilitySource.optional() })).optional(),
  ratings: z.array(CdxRating).optional(),
  description: z.string().optional(),
  detail: z.string().optional(),
  recommendation: z.string().optional(),
  advisories: z.array(z.looseObject({ title: z.string().optional(), url: z.string() })).optional(),
  affects: z.array(CdxAffects).optional(),
});
export type CdxVulnerability = z.infer<typeof CdxVulnerability>;

/** The top-level BOM, after `bomFormat` and `specVersion` were checked. */
export const CdxBom = z.looseObject({
  bomFormat: z.literal('CycloneDX'),
  specVersion: CdxSpecVersion,
  serialNumber: z.string().optional(),
  version: z.number().int().optional(),
  metadata: z.looseObject({ component: CdxComponent.optional() }).optional(),
  components: z.array(CdxComponent).optional(),
  dependencies: z.array(CdxDependency).optional(),
  vulnerabilities: z.array(CdxVulnerability).optional(),
});
export type CdxBom = z.infer<typeof CdxBom>;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const optionalString = (v: unknown): boolean => v === undefined || typeof v === 'string';
const nonEmptyString = (v: unknown): boolean => typeof v === 'string' && v.length > 0;

/**
 * Whether every entry of `components` (nested `components` included, without recursion) meets
 * {@link CdxComponent}: an object with non-empty string `type` and `name`, string or absent
 * `group`, `version` and `purl`, non-empty string or absent `bom-ref`, an array or absent
 * `components`. Checks without copying; must never accept what the schema refuses (the spec
 * `cyclonedx-schema.spec.ts` holds both to the same cases). False for anything else (zod then
 * names the problem).
 */
export function componentsMeetSchema(components: unknown): boolean {
  if (!Array.isArray(components)) return false;
  const lists: unknown[][] = [components];
  while (lists.length > 0) {
    const list = lists.pop()!;
    for (let i = 0; i < list.length; i++) {
      const c = list[i];
      if (!isObject(c) || !nonEmptyString(c['type']) || !nonEmptyString(c['name'])) return false;
      if (!optionalString(c['group']) || !optionalString(c['version']) || !optionalString(c['purl'])) return false;
      const ref = c['bom-ref'];
      if (ref !== undefined && !nonEmptyString(ref)) return false;
      const nested = c['components'];
      if (nested !== undefined) {
        if (!Array.isArray(nested)) return false;
        lists.push(nested);
      }
    }
  }
  return true;
}

/**
 * Whether every entry of `dependencies` meets {@link CdxDependency}: an object with a non-empty
 * string `ref` and an array of strings or nothing as `dependsOn`. Same contract as
 * {@link componentsMeetSchema}.
 */
export function dependenciesMeetSchema(dependencies: unknown): boolean {
  if (!Array.isArray(dependencies)) return false;
  for (let i = 0; i < dependencies.length; i++) {
    const d = dependencies[i];
    if (!isObject(d) || !nonEmptyString(d['ref'])) return false;
    const on = d['dependsOn'];
    if (on === undefined) continue;
    if (!Array.isArray(on)) return false;
    for (let j = 0; j < on.length; j++) if (typeof on[j] !== 'string') return false;
  }
  return true;
}

/**
 * `CdxBom.safeParse(doc)` without zod copying the two arrays that grow with the scan: when
 * `components` and `dependencies` are absent or every entry meets its schema
 * ({@link componentsMeetSchema}, {@link dependenciesMeetSchema}), zod checks the rest of the
 * document with those arrays empty and the result holds the document's own arrays (zod's loose
 * objects would hold copies of the same values). Otherwise zod checks the whole document, so
 * every error path and message is zod's.
 */
export function safeParseBom(doc: Record<string, unknown>): ReturnType<typeof CdxBom.safeParse> {
  const components = doc['components'];
  const dependencies = doc['dependencies'];
  const fast = (components === undefined || componentsMeetSchema(components)) && (dependencies === undefined || dependenciesMeetSchema(dependencies));
  if (!fast) return CdxBom.safeParse(doc);
  const rest = CdxBom.safeParse({
    ...doc,
    ...(components !== undefined ? { components: [] } : {}),
    ...(dependencies !== undefined ? { dependencies: [] } : {}),
  });
  if (!rest.success) return rest;
  if (components !== undefined) rest.data.components = components as CdxComponent[];
  if (dependencies !== undefined) rest.data.dependencies = dependencies as CdxDependency[];
  return rest;
}
