import { z } from 'zod';

/**
 * zod schemas for the OSV fields this library reads (OSV schema 1.x,
 * https://ossf.github.io/osv-schema/). Objects are loose: other fields are kept, not checked.
 */

/**
 * One event of a range: exactly one of `introduced`, `fixed`, `last_affected`, `limit`
 * (https://ossf.github.io/osv-schema/#affectedrangesevents-fields).
 */
export const OsvEvent = z.union([
  z.strictObject({ introduced: z.string().min(1) }),
  z.strictObject({ fixed: z.string().min(1) }),
  z.strictObject({ last_affected: z.string().min(1) }),
  z.strictObject({ limit: z.string().min(1) }),
]);
export type OsvEvent = z.infer<typeof OsvEvent>;

/** `affected[].ranges[]`: `type` is `SEMVER`, `ECOSYSTEM` or `GIT`. */
export const OsvRange = z.looseObject({
  type: z.string().min(1),
  repo: z.string().optional(),
  events: z.array(OsvEvent),
});
export type OsvRange = z.infer<typeof OsvRange>;

/** `severity[]` entry: `type` CVSS_V2, CVSS_V3, CVSS_V4, Ubuntu; `score` the vector (https://ossf.github.io/osv-schema/#severity-field). */
export const OsvSeverity = z.looseObject({ type: z.string(), score: z.string() });
export type OsvSeverity = z.infer<typeof OsvSeverity>;

/** `affected[]`: one package and its affected ranges and/or explicit versions. */
export const OsvAffected = z.looseObject({
  package: z.looseObject({ ecosystem: z.string().min(1), name: z.string().min(1), purl: z.string().optional() }),
  ranges: z.array(OsvRange).optional(),
  versions: z.array(z.string()).optional(),
  severity: z.array(OsvSeverity).optional(),
  database_specific: z.record(z.string(), z.unknown()).optional(),
});
export type OsvAffected = z.infer<typeof OsvAffected>;

/** `references[]`: `type` is ADVISORY, ARTICLE, WEB, FIX, PACKAGE, REPORT, … */
export const OsvReference = z.looseObject({ type: z.string(), url: z.string() });
export type OsvReference = z.infer<typeof OsvReference>;

/** One OSV record (`id` and `modified` are required by the spec). */
export const OsvRecord = z.looseObject({
  schema_version: z.string().optional(),
  id: z.string().min(1),
  modified: z.string(),
  published: z.string().optional(),
  withdrawn: z.string().optional(),
  aliases: z.array(z.string()).optional(),
  summary: z.string().optional(),
  details: z.string().optional(),
  affected: z.array(OsvAffected).optional(),
  references: z.array(OsvReference).optional(),
  severity: z.array(OsvSeverity).optional(),
  database_specific: z.looseObject({ severity: z.string().optional() }).optional(),
});
export type OsvRecord = z.infer<typeof OsvRecord>;
