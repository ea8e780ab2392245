/**
 * `@remediation/ecosystems`: the seam every ecosystem plugs into (versioning, registry source,
 * manifest managers, proof of remediation, usage search; see ./types.ts), the map of ecosystems
 * by purl type (./registry.ts), and the npm, Python (PyPI), Rust (Cargo) and Go (modules)
 * implementations. This file is the only public entry.
 */
export type {
  Ecosystem,
  JumpSize,
  ManifestContents,
  ManifestDependency,
  ManifestEdit,
  ManifestInclude,
  ManifestManager,
  PackageReleases,
  ParsedVersion,
  PublishedVersion,
  RefusalReason,
  RegistryCredentials,
  RegistrySource,
  RegistrySourceOptions,
  RemediationProof,
  RequirementLocation,
  Versioning,
} from './types.js';
export { pep440Versioning } from './pypi/versioning.js';
export { normalisePythonName, isPythonName, assertPythonName } from './pypi/names.js';
export { parseRequirement, raisePep440Floor, compatibleReleaseOperand, type RequirementParts, type FloorChange } from './pypi/specifier.js';
export { requirementsTxtManager } from './pypi/requirements-txt.js';
export { pep621Manager, poetryManager, raisePoetryFloor } from './pypi/pyproject.js';
export { PypiRegistrySource, fromJsonApi, fromSimpleApi, versionOfFilename, type PypiRegistrySourceOptions } from './pypi/pypi-registry-source.js';
export { PypiSnapshotSource } from './pypi/snapshot-source.js';
export { pypiEcosystem } from './pypi/ecosystem.js';
export { provePythonRemediated, poetryToPep440, lowestAdmissibleVersion } from './pypi/proof.js';
export { pythonImportNames, pythonUsagePatterns } from './pypi/usage.js';
export { memoSemver, npmVersioning } from './npm/versioning.js';
export { npmUsagePatterns } from './npm/usage.js';
export { npmEcosystem } from './npm/ecosystem.js';
export { packageJsonManager } from './npm/package-json-manager.js';
export { cargoVersioning, cargoToSemverRange, parseCargoRequirement, type CargoComparator } from './cargo/versioning.js';
export { cargoTomlManager, raiseCargoFloor } from './cargo/cargo-toml.js';
export { CargoSparseIndexSource, sparseIndexPath, isCrateName, fromIndexFile, type SparseIndexConfig } from './cargo/sparse-index-source.js';
export { proveCargoRemediated } from './cargo/proof.js';
export { rustCrateIdent, rustUsagePatterns } from './cargo/usage.js';
export { cargoEcosystem } from './cargo/ecosystem.js';
export { goVersioning, parseGoVersion, isPseudoVersion, canonicalGoVersion, goRangeToSemver } from './go/versioning.js';
export { goModManager, parseGoMod, pathMajor, modulePathForMajor, isOtherMajorPath, type GoModFile, type GoReplace } from './go/go-mod.js';
export { GoProxySource, parseGoProxy, escapeModulePath, isModulePath, fromVersionList, type GoProxyEntry, type GoProxySourceOptions } from './go/goproxy-source.js';
export { proveGoRemediated } from './go/proof.js';
export { goUsagePatterns } from './go/usage.js';
export { goEcosystem } from './go/ecosystem.js';
export { NpmReleaseSource, npmReleasesOf } from './npm/registry-source.js';
export { ECOSYSTEMS, ecosystemFor, ecosystemForOsv } from './registry.js';
export { restoreRequirement } from './restore.js';
export { mavenVersioning, compareMavenVersions, isMavenVersion, parseMavenRequirement, inMavenInterval, type MavenInterval } from './maven/versioning.js';
export {
  pomManager,
  parsePom,
  raisePomFloor,
  raiseMavenVersion,
  raiseInMavenProject,
  findVersionSite,
  pomChain,
  propertyReference,
  type PomModel,
  type PomDependency,
  type PomText,
  type PomFloorOptions,
  type PomVersionSite,
  type MavenProjectEdit,
} from './maven/pom.js';
export { MavenRepositorySource, parseMavenRepositories, mavenMetadataPath, isMavenName, fromMavenMetadata, type MavenRepository, type MavenRepositorySourceOptions } from './maven/maven-repository-source.js';
export { proveMavenRemediated, lowestMavenAdmissible } from './maven/proof.js';
export { javaPackagePrefixes, javaUsagePatterns } from './maven/usage.js';
export { mavenEcosystem } from './maven/ecosystem.js';
export { readInherited } from './inherited.js';
export { CachedRegistrySource } from './cached-registry-source.js';
export { RegistryEnv, checkRegistryCredentials, registrySourcesFromEnv, REGISTRY_CREDENTIAL_PREFIXES, type RegistrySources } from './registry-env.js';
