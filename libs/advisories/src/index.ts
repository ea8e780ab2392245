/**
 * `@remediation/advisories`: OSV advisories (records, their sources — a directory, OSV's `all.zip`,
 * the OSV API —, alias merge, CVSS severity) matched against
 * installed versions with the OSV evaluation algorithm (https://ossf.github.io/osv-schema/#evaluation).
 * This file is the only public entry.
 */
export {
  loadOsvDirectory,
  OsvAdvisoryIndex,
  toAdvisory,
  advisoryUrl,
  normaliseSeverity,
  parseOsvRecord,
  checkOsvRecord,
  type LoadOsvOptions,
} from './osv-directory.js';
export { recordSeverity, cvssBaseScore, cvssVectors, severityOfScore, higherSeverity } from './osv-severity.js';
export { mergeRecords, normalisePackageName, canonicalId, recordIds, osvPackageOfPurl, type MergedAdvisory } from './osv-merge.js';
export {
  readOsvDirectoryRecords,
  listOsvRecord,
  OsvDirectoryLister,
  readZipEntries,
  fetchOsvArchive,
  fetchOsvModifiedSince,
  DEFAULT_ARCHIVE_MAX_BYTES,
  OsvApiClient,
  type ListedOsvRecord,
  type OsvDirectoryListing,
  type OsvDirectoryListerOptions,
  type OsvListingScope,
  type HttpValidators,
  type OsvArchiveResult,
  type OsvModifiedResult,
  type OsvQuery,
} from './osv-sources.js';
export { canWatchFolder } from './osv-folder-watch.js';
export { affectedKeyRanges, versionOrderKey, type VersionKeyRange } from './osv-key-ranges.js';
export { isAffected, affectedTest, isVersionInRange, affectedRanges, fixedVersions, samePackage, informationalKind } from './osv-evaluation.js';
export { OsvRecord, OsvAffected, OsvRange, OsvEvent, OsvReference, OsvSeverity } from './osv-schema.js';
export type { Advisory, AdvisorySource, AdvisorySeverity, AffectedPackage } from './types.js';
