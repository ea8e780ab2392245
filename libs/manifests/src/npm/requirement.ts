import semver from 'semver';
import { ManifestEditError, ManifestParseError } from '../errors.js';
import { DEPENDENCY_SECTIONS, findDeclaration, parseManifest, positionAt, type DependencySection } from './package-json.js';

/** A dependency's declared requirement: the section and the range exactly as written. */
export interface DeclaredRequirement {
  readonly section: DependencySection;
  readonly range: string;
}

/** Outcome of {@link proveRemediated}. */
export interface RemediationProof {
  /** True when the lowest admissible version is outside every affected range. */
  readonly remediated: boolean;
  /** node-semver `minVersion` of the declared range, or null when it has none / is not a range. */
  readonly lowestAdmissible: string | null;
  /** One sentence explaining the verdict, fit for a PR body or history row. */
  readonly reason: string;
}

/**
 * Precedence used when a name is declared in several sections: npm's docs say entries in
 * `optionalDependencies` override the same name in `dependencies`
 * (https://docs.npmjs.com/cli/v10/configuring-npm/package-json#optionaldependencies);
 * `devDependencies` come last because they are not installed for consumers.
 */
const PRECEDENCE: readonly DependencySection[] = ['optionalDependencies', 'dependencies', 'devDependencies'];

/**
 * Every declaration of `name` in `optionalDependencies`, `dependencies`, `devDependencies`
 * (in that precedence order). `peerDependencies` is not a requirement the project installs
 * from its own manifest and is ignored. Duplicate keys resolve like JSON.parse (last wins).
 * @throws ManifestParseError (MANIFEST_INVALID) for invalid JSON or a non-object section.
 * @throws ManifestEditError (UNSUPPORTED_SPECIFIER) when the declared value is not a string.
 */
export function declaredRequirements(text: string, name: string): DeclaredRequirement[] {
  const manifest = parseManifest(text);
  const found: DeclaredRequirement[] = [];
  for (const section of PRECEDENCE) {
    const declaration = findDeclaration(manifest, section, name);
    if (declaration !== null) found.push({ section, range: declaration.value });
  }
  return found;
}

/**
 * The effective declared requirement of `name`, or null when it is in none of
 * `optionalDependencies`, `dependencies`, `devDependencies`. When declared in several, the
 * one with the highest precedence wins (optionalDependencies > dependencies > devDependencies,
 * see npm docs #optionaldependencies); use {@link declaredRequirements} to check all of them.
 * @throws ManifestParseError (MANIFEST_INVALID) for invalid JSON or a non-object section.
 * @throws ManifestEditError (UNSUPPORTED_SPECIFIER) when the declared value is not a string.
 */
export function declaredRequirement(text: string, name: string): DeclaredRequirement | null {
  return declaredRequirements(text, name)[0] ?? null;
}

/**
 * Proof-of-remediation rule: a declared range is remediated when its lowest admissible version
 * (node-semver `minVersion`, https://github.com/npm/node-semver#ranges-1) lies in none of the
 * advisory's affected ranges. The range alone then no longer lets a fresh resolve pick a
 * vulnerable floor, e.g. `^1.20.2` with affected `<1.20.3` is NOT remediated (1.20.2 is
 * admissible) while `^1.20.3` is.
 *
 * Ranges are parsed in loose mode like npm does (npm-package-arg). Membership in an affected
 * range includes prereleases (`1.20.3-beta.1` is inside `<1.20.3`), because node-semver's
 * default would otherwise hide a vulnerable prerelease floor.
 *
 * Never throws: a specifier that is not a semver range (git URL, tag, alias, …), a range with no
 * admissible version, or an affected range that is not valid npm range syntax all give
 * `remediated: false` with the reason. An empty `affectedRanges` gives `remediated: true`.
 *
 * Scope: only the floor is checked; a range such as `>=1.0.0` whose floor is safe may still
 * admit a later vulnerable line. Lockfiles are not consulted.
 *
 * @param range declared range, e.g. `^1.20.3`
 * @param affectedRanges advisory ranges in npm syntax, e.g. `<1.20.3`, `>=0.2.0 <1.9.0`
 */
export function proveRemediated(range: string, affectedRanges: string[]): RemediationProof {
  const spec = range.trim();
  if (semver.validRange(spec, { loose: true }) === null) {
    return {
      remediated: false,
      lowestAdmissible: null,
      reason: `"${range}" is not a semver range, so its lowest admissible version cannot be known`,
    };
  }
  const low = semver.minVersion(spec, { loose: true });
  if (low === null) {
    return { remediated: false, lowestAdmissible: null, reason: `"${range}" admits no version at all` };
  }
  const lowestAdmissible = low.version;
  for (const affected of affectedRanges) {
    if (semver.validRange(affected, { loose: true }) === null) {
      return {
        remediated: false,
        lowestAdmissible,
        reason: `affected range "${affected}" is not a valid npm range, so remediation cannot be proven`,
      };
    }
    if (semver.satisfies(lowestAdmissible, affected, { loose: true, includePrerelease: true })) {
      return {
        remediated: false,
        lowestAdmissible,
        reason: `"${range}" still admits ${lowestAdmissible}, which is inside the affected range "${affected}"`,
      };
    }
  }
  return {
    remediated: true,
    lowestAdmissible,
    reason:
      affectedRanges.length === 0
        ? `no affected ranges were given; lowest admissible version of "${range}" is ${lowestAdmissible}`
        : `lowest admissible version ${lowestAdmissible} of "${range}" is outside every affected range (${affectedRanges.map((r) => `"${r}"`).join(', ')})`,
  };
}

/** One declaration of a dependency in package.json, with where its range string sits in the text. */
export interface DeclarationLocation {
  readonly name: string;
  readonly section: DependencySection;
  /** The declared range, exactly as the JSON string means it (escapes decoded). */
  readonly range: string;
  /**
   * UTF-16 offset of the first character inside the string literal's quotes, in the text as
   * given (a BOM counted).
   */
  readonly offset: number;
  /** Length of the literal's contents between the quotes, as written (escapes not decoded). */
  readonly length: number;
  /** 1-based line of the literal. */
  readonly line: number;
  /** True when the literal contains JSON escapes, so `range` and the raw text differ. */
  readonly escaped: boolean;
}

/**
 * Every string-valued declaration in `dependencies`, `devDependencies`, `optionalDependencies`
 * (in that order, keys in file order, duplicates resolved like JSON.parse: the last wins), with
 * the offsets of the range strings from jsonc-parser's tree. Values that are not strings are left
 * out (they are not ranges; `bumpNpmDependency` refuses them).
 * @throws ManifestParseError (MANIFEST_INVALID) for invalid JSON or a non-object section.
 */
export function declarationLocations(text: string): DeclarationLocation[] {
  const manifest = parseManifest(text);
  const out: DeclarationLocation[] = [];
  for (const section of DEPENDENCY_SECTIONS) {
    const sectionNode = [...(manifest.root.children ?? [])].reverse().find((c) => c.type === 'property' && c.children?.[0]?.value === section)?.children?.[1];
    if (sectionNode === undefined) continue;
    if (sectionNode.type !== 'object') {
      throw new ManifestParseError(`package.json "${section}" is not an object`, positionAt(text, sectionNode.offset + manifest.shift), 'SectionNotObject');
    }
    const names = new Set<string>();
    for (const child of sectionNode.children ?? []) {
      const key = child.children?.[0]?.value;
      if (child.type === 'property' && typeof key === 'string') names.add(key);
    }
    for (const name of names) {
      let declaration: ReturnType<typeof findDeclaration>;
      try {
        declaration = findDeclaration(manifest, section, name);
      } catch (err) {
        if (err instanceof ManifestEditError) continue; // not a string value: not a range
        throw err;
      }
      if (declaration === null) continue;
      const offset = declaration.node.offset + manifest.shift + 1;
      const length = declaration.node.length - 2;
      out.push({
        name,
        section,
        range: declaration.value,
        offset,
        length,
        line: positionAt(text, offset).line,
        escaped: text.slice(offset, offset + length) !== declaration.value,
      });
    }
  }
  return out;
}
