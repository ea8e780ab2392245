import semver from 'semver';
import { DependencyNotDeclaredError, ManifestEditError } from '../errors.js';
import { DEPENDENCY_SECTIONS, findDeclaration, parseManifest, type DependencySection } from './package-json.js';
import { assertTargetVersion, raiseRangeFloor } from './range-floor.js';
import { proveRemediated } from './requirement.js';

/** The requested bump of one npm dependency. */
export interface NpmDependencyChange {
  /** Package name as declared, e.g. `body-parser` or `@types/node`. */
  readonly name: string;
  /** Full semver version the range's floor must become, e.g. `1.20.3`. */
  readonly to: string;
  /**
   * The advisory's affected ranges in npm syntax (e.g. `<1.20.3`). When given, every resulting
   * range must pass {@link proveRemediated} or the bump fails with REMEDIATION_NOT_PROVEN.
   */
  readonly advisoryRanges?: string[];
}

/** One changed declaration. */
export interface ManifestEdit {
  readonly section: DependencySection;
  /** Declared value before, exactly as written. */
  readonly from: string;
  /** Declared value after. */
  readonly to: string;
}

/** Outcome of {@link bumpNpmDependency}. */
export interface BumpResult {
  /** The new package.json text; identical to the input when `changed` is false. */
  readonly text: string;
  /** True when at least one declaration was edited. */
  readonly changed: boolean;
  /** Changed declarations, in section order dependencies, devDependencies, optionalDependencies. */
  readonly edits: ManifestEdit[];
  /** Human notes: style changes, already-sufficient ranges, peerDependencies left alone. */
  readonly notes: string[];
}

/**
 * Bumps one dependency in the text of a package.json so that, in every section where it is
 * declared (`dependencies`, `devDependencies`, `optionalDependencies`), the range's lowest
 * admissible version (node-semver `minVersion`) becomes `change.to`; the range alone then no
 * longer admits versions below the fix. Range rewriting rules are those of `raiseRangeFloor`
 * (node-semver README https://github.com/npm/node-semver#ranges and npm's dependency docs
 * https://docs.npmjs.com/cli/v10/configuring-npm/package-json#dependencies): `1.2.3`→`to`,
 * `^1.2.3`→`^to`, `~1.2.3`→`~to`, `=`/`v` prefixes kept, `>=1.2.3`→`>=to`, `>=a <b`→`>=to <b`,
 * `1.x`/`*`/`latest`/`""`→`^to` (noted). Ranges whose lowest admissible version is already
 * >= `to` are left as they are (noted, `changed: false` if no section changed).
 *
 * The text is edited in place through jsonc-parser offsets: only the version string literals
 * change, so indentation (spaces or tabs), key order, CRLF/LF, a BOM and the presence or absence
 * of a trailing newline are preserved byte for byte. `peerDependencies` is never edited; a note
 * reports it (and whether it still admits `to`).
 *
 * @throws ManifestParseError (MANIFEST_INVALID) when the text is not a JSON object, with line/column.
 * @throws DependencyNotDeclaredError (DEPENDENCY_NOT_DECLARED) when the name is in none of the sections.
 * @throws ManifestEditError INVALID_TARGET_VERSION, UNSUPPORTED_SPECIFIER (git, file:, link:,
 *   workspace:, npm: alias, tarball URL, …), UNSUPPORTED_RANGE, RANGE_EXCLUDES_TARGET, and
 *   REMEDIATION_NOT_PROVEN when `advisoryRanges` is given and a resulting range fails the proof.
 *   Nothing is edited when any section fails.
 */
export function bumpNpmDependency(text: string, change: NpmDependencyChange): BumpResult {
  const { name, to } = change;
  assertTargetVersion(to, name);
  const manifest = parseManifest(text);
  const notes: string[] = [];
  const edits: ManifestEdit[] = [];
  const replacements: Array<{ start: number; end: number; literal: string }> = [];

  const peer = findDeclaration(manifest, 'peerDependencies', name);
  let declared = 0;
  for (const section of DEPENDENCY_SECTIONS) {
    const declaration = findDeclaration(manifest, section, name);
    if (declaration === null) continue;
    declared++;
    if (declaration.occurrences > 1) {
      notes.push(`${name} is a key ${declaration.occurrences} times in ${section}; only the last (the one npm reads) was considered`);
    }
    const raised = raiseRangeFloor(declaration.value, to, { dependency: name, section });
    notes.push(...raised.notes.map((note) => `${section}.${name}: ${note}`));
    if (change.advisoryRanges !== undefined) {
      const proof = proveRemediated(raised.range, change.advisoryRanges);
      if (!proof.remediated) {
        throw new ManifestEditError('REMEDIATION_NOT_PROVEN', `${section}.${name}: ${proof.reason}`, {
          dependency: name,
          section,
          specifier: raised.range,
          to,
          advisoryRanges: change.advisoryRanges,
          lowestAdmissible: proof.lowestAdmissible,
        });
      }
    }
    if (!raised.changed) continue;
    const start = declaration.node.offset + manifest.shift;
    replacements.push({ start, end: start + declaration.node.length, literal: JSON.stringify(raised.range) });
    edits.push({ section, from: declaration.value, to: raised.range });
  }
  if (declared === 0) throw new DependencyNotDeclaredError(name, peer?.value);
  if (peer !== null) {
    notes.push(`peerDependencies.${name} ("${peer.value}") was left unchanged${semver.satisfies(to, peer.value, { loose: true, includePrerelease: true }) ? '' : `; it does not admit ${to}`}`);
  }

  let next = text;
  for (const r of [...replacements].sort((a, b) => b.start - a.start)) {
    next = next.slice(0, r.start) + r.literal + next.slice(r.end);
  }
  return { text: next, changed: edits.length > 0, edits, notes };
}

/**
 * Puts back the declarations of `name` as they are in `originalText` (the base commit's
 * package.json) into `text`, section by section, editing only the version string literals like
 * {@link bumpNpmDependency}. Used when a target is not shipped (it failed, or the partial-success
 * decision left it out) after its bump was already written.
 * A section where `name` is declared in only one of the two texts is left as it is.
 * @returns the new text and the sections restored.
 * @throws ManifestParseError (MANIFEST_INVALID) when either text is not a JSON object.
 */
export function restoreNpmDependency(text: string, originalText: string, name: string): { text: string; restored: DependencySection[] } {
  const manifest = parseManifest(text);
  const original = parseManifest(originalText);
  const replacements: Array<{ start: number; end: number; literal: string }> = [];
  const restored: DependencySection[] = [];
  for (const section of DEPENDENCY_SECTIONS) {
    const now = findDeclaration(manifest, section, name);
    const before = findDeclaration(original, section, name);
    if (now === null || before === null || now.value === before.value) continue;
    const start = now.node.offset + manifest.shift;
    replacements.push({ start, end: start + now.node.length, literal: JSON.stringify(before.value) });
    restored.push(section);
  }
  let next = text;
  for (const r of replacements.sort((a, b) => b.start - a.start)) next = next.slice(0, r.start) + r.literal + next.slice(r.end);
  return { text: next, restored };
}
