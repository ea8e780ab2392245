import { proveRemediated } from '@remediation/manifests';
import type { Ecosystem } from '../types.js';
import { packageJsonManager } from './package-json-manager.js';
import { npmUsagePatterns } from './usage.js';
import { npmVersioning } from './versioning.js';

/**
 * npm, purl type `npm` (https://github.com/package-url/purl-spec/blob/main/PURL-TYPES.rst),
 * OSV ecosystem `npm`: semver versioning with caret lines, names as published (npm names are
 * case-sensitive in the registry but lowercase for new packages; not normalised), `package.json`
 * read and edited by `packageJsonManager` (over `@remediation/manifests`), proof of remediation by its `proveRemediated` (node-semver
 * `minVersion` of the declared range outside every affected range).
 */
export const npmEcosystem: Ecosystem = {
  purlType: 'npm',
  osvEcosystem: 'npm',
  versioning: npmVersioning,
  normaliseName: (name) => name,
  managers: [packageJsonManager],
  defaultManifestPath: 'package.json',
  proveRemediated: (requirement, _style, affectedRanges) => proveRemediated(requirement, [...affectedRanges]),
  usagePatterns: npmUsagePatterns,
  lockfileCommands: ['npm install'],
  sourceExtensions: ['.js', '.cjs', '.mjs', '.jsx', '.ts', '.tsx', '.mts', '.cts'],
};
