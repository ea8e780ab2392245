/**
 * `@remediation/advisories`: OSV advisories for one ecosystem (npm today), matched against
 * installed versions with the OSV evaluation algorithm (https://ossf.github.io/osv-schema/#evaluation).
 * This file is the only public entry.
 */
export {
  loadOsvDirectory,
  OsvAdvisoryIndex,
  toAdvisory,
  advisoryUrl,
  normaliseSeverity,
  type LoadOsvOptions,
} from './osv-directory.js';
export { isAffected, isVersionInRange, affectedRanges, fixedVersions, samePackage } from './osv-evaluation.js';
export { OsvRecord, OsvAffected, OsvRange, OsvEvent, OsvReference } from './osv-schema.js';
export type { Advisory, AdvisorySource, AdvisorySeverity, AffectedPackage } from './types.js';
