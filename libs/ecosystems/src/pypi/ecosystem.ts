import type { Ecosystem } from '../types.js';
import { normalisePythonName } from './names.js';
import { pep621Manager, poetryManager } from './pyproject.js';
import { requirementsTxtManager } from './requirements-txt.js';
import { provePythonRemediated } from './proof.js';
import { pythonUsagePatterns } from './usage.js';
import { pep440Versioning } from './versioning.js';

/**
 * Python on PyPI, purl type `pypi` (https://github.com/package-url/purl-spec/blob/main/PURL-TYPES.rst):
 * PEP 440 versioning, PEP 503 names, requirements files, PEP 621 and Poetry `pyproject.toml`.
 * The registry source is built per configuration (`new PypiRegistrySource({ url: PYPI_URL, … })`).
 * Lockfiles (poetry.lock, uv.lock, hashed requirements) are not regenerated: the PR's test guidance
 * names their commands.
 */
export const pypiEcosystem: Ecosystem = {
  purlType: 'pypi',
  versioning: pep440Versioning,
  normaliseName: normalisePythonName,
  osvEcosystem: 'PyPI',
  managers: [requirementsTxtManager, pep621Manager, poetryManager],
  defaultManifestPath: 'requirements.txt',
  proveRemediated: provePythonRemediated,
  usagePatterns: pythonUsagePatterns,
  lockfileCommands: ['poetry lock', 'uv lock', 'pip-compile --generate-hashes'],
  sourceExtensions: ['.py', '.pyi'],
};
