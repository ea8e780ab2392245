/**
 * `@remediation/sbom`: reads CycloneDX JSON scans (1.4–1.7) into components, the dependency
 * graph, direct dependencies and the scan's vulnerabilities. This file is the only public entry.
 */
export { parseCycloneDx } from './parse-cyclonedx.js';
export { parseCycloneDxText, DEFAULT_MAX_SCAN_CHARS } from './parse-cyclonedx-text.js';
export { DEFAULT_SCAN_LIMITS, assertMaxDepth, type ScanLimits } from './guards.js';
export { versToNpmRange } from './vers.js';
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
} from './types.js';
