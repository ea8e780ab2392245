import { InvalidInputError } from '@remediation/errors';

/**
 * Codes of {@link ManifestEditError}. Stable once published (see `@remediation/errors`).
 *
 * - `UNSUPPORTED_SPECIFIER`: the declared value is not a semver range npm resolves from the
 *   registry (git URL, `file:`, `link:`, `workspace:`, `npm:` alias, tarball URL, GitHub
 *   shorthand, local path, dist-tag other than `latest`, or not a string at all). Which values
 *   are ranges follows npm's package.json docs, "dependencies":
 *   https://docs.npmjs.com/cli/v10/configuring-npm/package-json#dependencies
 * - `UNSUPPORTED_RANGE`: a valid semver range whose shape this editor does not rewrite
 *   (e.g. three comparators), so raising its floor could change its meaning.
 * - `RANGE_EXCLUDES_TARGET`: raising the floor would leave a range that does not admit the
 *   target, e.g. `>=1.0.0 <1.5.0` raised to `1.6.0`.
 * - `INVALID_TARGET_VERSION`: the requested `to` is not a full semver version (`1.20.3`).
 * - `REMEDIATION_NOT_PROVEN`: `advisoryRanges` were given and the resulting range's lowest
 *   admissible version is still inside one of them (see `proveRemediated`).
 * - `OVERRIDE_CONFLICT`: an npm `overrides` entry cannot be written: the package is also a direct
 *   dependency whose declared range does not admit the override (npm refuses that with
 *   `EOVERRIDE`), or the existing `overrides` value is not an object.
 */
export type ManifestEditErrorCode =
  | 'UNSUPPORTED_SPECIFIER'
  | 'UNSUPPORTED_RANGE'
  | 'RANGE_EXCLUDES_TARGET'
  | 'INVALID_TARGET_VERSION'
  | 'REMEDIATION_NOT_PROVEN'
  | 'OVERRIDE_CONFLICT';

/**
 * A manifest is valid but the requested edit cannot be made deterministically.
 * Not retryable. `details` always holds `dependency`, and `section`/`specifier` when known.
 */
export class ManifestEditError extends InvalidInputError {
  declare readonly code: ManifestEditErrorCode;

  constructor(code: ManifestEditErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(code, message, { details });
    this.name = 'ManifestEditError';
  }
}

/**
 * The manifest text is not a JSON object, or a dependency section is not an object
 * (code `MANIFEST_INVALID`). `line` and `column` are 1-based and point at the first problem;
 * `column` counts UTF-16 code units, `offset` is the 0-based index into the original text.
 * package.json is strict JSON (RFC 8259): comments and trailing commas are errors here too.
 */
export class ManifestParseError extends InvalidInputError {
  /** 1-based line of the problem. */
  readonly line: number;
  /** 1-based column of the problem. */
  readonly column: number;
  /** 0-based offset of the problem in the text. */
  readonly offset: number;

  constructor(message: string, position: { line: number; column: number; offset: number }, problem: string) {
    super('MANIFEST_INVALID', `${message} at line ${position.line}, column ${position.column}`, {
      details: { ...position, problem },
    });
    this.name = 'ManifestParseError';
    this.line = position.line;
    this.column = position.column;
    this.offset = position.offset;
  }
}

/**
 * The dependency is in none of `dependencies`, `devDependencies`, `optionalDependencies`
 * (code `DEPENDENCY_NOT_DECLARED`). `details.peerDependency` holds its peer range when it is
 * declared only as a peer dependency, which this editor never changes.
 */
export class DependencyNotDeclaredError extends InvalidInputError {
  /** The dependency name that was looked up. */
  readonly dependency: string;

  constructor(dependency: string, peerRange?: string) {
    const peer = peerRange === undefined ? '' : ` (it is only a peerDependency, "${peerRange}", which is left alone)`;
    super(
      'DEPENDENCY_NOT_DECLARED',
      `${dependency} is not declared in dependencies, devDependencies or optionalDependencies${peer}`,
      { details: peerRange === undefined ? { dependency } : { dependency, peerDependency: peerRange } },
    );
    this.name = 'DependencyNotDeclaredError';
    this.dependency = dependency;
  }
}
