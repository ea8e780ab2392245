import type { Ecosystem } from '../types.js';
import { goModManager, isOtherMajorPath } from './go-mod.js';
import { proveGoRemediated } from './proof.js';
import { goUsagePatterns } from './usage.js';
import { goVersioning } from './versioning.js';

/**
 * Go modules, purl type `golang` (https://github.com/package-url/purl-spec/blob/main/PURL-TYPES.rst),
 * OSV ecosystem `Go` (https://ossf.github.io/osv-schema/#affectedpackage-field; the Go
 * vulnerability database, https://go.dev/security/vuln/database): module versions by
 * {@link goVersioning}, `go.mod` edited by {@link goModManager} (direct and `// indirect`
 * requirements; `replace`d modules uneditable; fixes in a new major module path refused, and
 * reported by the planner through `isOtherMajorPackage`), module
 * paths kept as written (case-sensitive). The registry source is built per configuration
 * (`new GoProxySource({ goproxy: GOPROXY, credentials })`). go.sum is not regenerated: the PR's
 * test guidance names `go mod tidy` as the lockfile step and `go mod tidy && go test ./...` as the
 * test command (`go test` refuses to build with a go.sum missing the new versions' entries).
 */
export const goEcosystem: Ecosystem = {
  purlType: 'golang',
  osvEcosystem: 'Go',
  versioning: goVersioning,
  normaliseName: (name) => name,
  managers: [goModManager],
  defaultManifestPath: 'go.mod',
  proveRemediated: proveGoRemediated,
  usagePatterns: goUsagePatterns,
  lockfileCommands: ['go mod tidy'],
  sourceExtensions: ['.go'],
  testCommands: ['go mod tidy && go test ./...'],
  isOtherMajorPackage: isOtherMajorPath,
};
