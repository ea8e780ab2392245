/**
 * `@remediation/manifests`: deterministic manifest editing and the proof-of-remediation check.
 * This file is the library's only public entry.
 */
export { DependencyNotDeclaredError, ManifestEditError, ManifestParseError, type ManifestEditErrorCode } from './errors.js';
export { DEPENDENCY_SECTIONS, type DependencySection } from './npm/package-json.js';
export { raiseRangeFloor, unsupportedSpecifierKind, type RaisedRange, type RangeContext } from './npm/range-floor.js';
export {
  declaredRequirement,
  declaredRequirements,
  declarationLocations,
  proveRemediated,
  type DeclaredRequirement,
  type DeclarationLocation,
  type RemediationProof,
} from './npm/requirement.js';
export { bumpNpmDependency, restoreNpmDependency, type BumpResult, type ManifestEdit, type NpmDependencyChange } from './npm/update.js';
export { setNpmOverride, restoreNpmOverride, type OverrideResult } from './npm/overrides.js';
