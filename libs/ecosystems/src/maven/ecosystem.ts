import type { Ecosystem } from '../types.js';
import { pomManager } from './pom.js';
import { proveMavenRemediated } from './proof.js';
import { javaUsagePatterns } from './usage.js';
import { mavenVersioning } from './versioning.js';

/**
 * Maven artifacts, purl type `maven` (https://github.com/package-url/purl-spec/blob/main/PURL-TYPES.rst:
 * `pkg:maven/<groupId>/<artifactId>@<version>`), OSV ecosystem `Maven`
 * (https://ossf.github.io/osv-schema/#affectedpackage-field), names `groupId:artifactId` as OSV
 * writes them, unchanged (Maven coordinates are case-sensitive). Versions ordered by Maven's
 * ComparableVersion ({@link mavenVersioning}); `pom.xml` edited by {@link pomManager}. The
 * registry source is built per configuration (`new MavenRepositorySource({ repositories:
 * parseMavenRepositories(MAVEN_REPOSITORY_URL, credentials) })`). Maven has no lockfile; the PR's
 * test guidance names `mvn -q verify`. Source files searched for usages: `.java`, `.kt`.
 */
export const mavenEcosystem: Ecosystem = {
  purlType: 'maven',
  osvEcosystem: 'Maven',
  versioning: mavenVersioning,
  normaliseName: (name) => name,
  managers: [pomManager],
  defaultManifestPath: 'pom.xml',
  proveRemediated: proveMavenRemediated,
  usagePatterns: javaUsagePatterns,
  lockfileCommands: [],
  testCommands: ['mvn -q verify'],
  sourceExtensions: ['.java', '.kt'],
};
