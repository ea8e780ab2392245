/**
 * `@remediation/sbom`: reads scans (CycloneDX 1.4–1.7 JSON/XML, SPDX 2.2/2.3 JSON, OSV-Scanner,
 * Trivy and Grype JSON; format detected from content, `parseScan`) into one normalised scan:
 * components by purl, the dependency graph, direct dependencies and the scan's
 * vulnerabilities. This file is the only public entry.
 */
export { parseScan, SCAN_FORMATS, type ScanTextLimits } from './parse-scan.js';
export { parseCycloneDx } from './parse-cyclonedx.js';
export { parseCycloneDxText, DEFAULT_MAX_SCAN_CHARS } from './parse-cyclonedx-text.js';
export { DEFAULT_SCAN_LIMITS, assertMaxDepth, type ScanLimits } from './guards.js';
export { versToNpmRange } from './vers.js';
export { purlParts, type PurlParts } from './purl-parts.js';
export {
  CdxBom,
  CdxComponent,
  CdxDependency,
  CdxVulnerability,
  CdxSpecVersion,
  SUPPORTED_SPEC_VERSIONS,
} from './cyclonedx-schema.js';
export type {
  ParsedScan,
  ScanComponent,
  ScanVulnerability,
  ScanAffects,
  ScanAffectedVersion,
  ScanSeverity,
  ScanFormat,
} from './types.js';
