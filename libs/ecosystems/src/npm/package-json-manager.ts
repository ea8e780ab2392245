import { bumpNpmDependency, declarationLocations, DependencyNotDeclaredError, ManifestEditError } from '@remediation/manifests';
import type { ManifestContents, ManifestEdit, ManifestManager, RefusalReason, RequirementLocation } from '../types.js';

function locationsOf(file: string, text: string, name: string): RequirementLocation[] {
  return declarationLocations(text)
    .filter((d) => d.name === name)
    .map((d) => ({ file, line: d.line, offset: d.offset, length: d.length, section: d.section }));
}

function refusalOf(code: string): RefusalReason {
  if (code === 'DEPENDENCY_NOT_DECLARED') return 'not-found';
  if (code === 'RANGE_EXCLUDES_TARGET') return 'cap-excludes-fix';
  return 'unsupported-requirement';
}

/**
 * Manager of npm's `package.json` (https://docs.npmjs.com/cli/v10/configuring-npm/package-json),
 * over `@remediation/manifests`: `extract` lists the string-valued declarations of
 * `dependencies`, `devDependencies`, `optionalDependencies` (section = that key) with the offset
 * and length of the range string between its quotes (jsonc-parser offsets); `raiseFloor` is
 * `bumpNpmDependency` (every section declaring the name is raised; only the version string
 * literals change). package.json has no includes and no hash-checking mode.
 * Refusals: `not-found` (DEPENDENCY_NOT_DECLARED), `cap-excludes-fix` (RANGE_EXCLUDES_TARGET),
 * `unsupported-requirement` (UNSUPPORTED_SPECIFIER, UNSUPPORTED_RANGE, INVALID_TARGET_VERSION),
 * each with the editor's message.
 */
export const packageJsonManager: ManifestManager = {
  name: 'npm',
  matches: (path) => /(^|\/)package\.json$/.test(path) && !/(^|\/)node_modules\//.test(path),
  extract(file, text): ManifestContents {
    const dependencies = declarationLocations(text).map((d) => ({
      name: d.name,
      normalisedName: d.name,
      requirement: d.range,
      style: 'npm' as const,
      location: { file, line: d.line, offset: d.offset, length: d.length, section: d.section },
      extras: [],
      hashes: false,
      ...(d.escaped ? { uneditable: 'the range string contains JSON escapes' } : {}),
    }));
    return { dependencies, includes: [], hashChecking: false };
  },
  raiseFloor(file, text, name, fixedVersion): ManifestEdit {
    try {
      const result = bumpNpmDependency(text, { name, to: fixedVersion });
      const locations = locationsOf(file, text, name);
      const first = result.edits[0];
      if (!first) {
        const declared = locations[0]!;
        return { status: 'unchanged', requirement: text.slice(declared.offset, declared.offset + declared.length), location: declared };
      }
      const location = locations.find((l) => l.section === first.section)!;
      return { status: 'edited', text: result.text, before: first.from, after: first.to, location };
    } catch (err) {
      if (err instanceof ManifestEditError || err instanceof DependencyNotDeclaredError) {
        return { status: 'refused', reason: refusalOf(err.code), message: `${file}: ${err.message}` };
      }
      throw err;
    }
  },
};
