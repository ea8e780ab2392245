import semver from 'semver';
import { ManifestEditError } from '../errors.js';

/**
 * Range grammar used below is node-semver's (https://github.com/npm/node-semver#ranges), parsed
 * in loose mode like npm itself does (npm-package-arg calls `semver.validRange(spec, true)`).
 * `PARTIAL` is one version or X-range operand: `1`, `1.2`, `1.2.3`, `1.x`, `*`, with optional
 * prerelease and build (`1.2.3-beta.1+b`).
 */
const PARTIAL = String.raw`(?:\d+|[xX*])(?:\.(?:\d+|[xX*])){0,2}(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?`;
/** One comparator: `1.2.3`, `=1.2.3`, `v1.2.3`, `^1.2.3`, `~1.2`, `~>1.2.3`, `>=1.2.3`, `<2`, `1.x`, `*`. */
const SINGLE = new RegExp(String.raw`^(?<op>\^|~>?|>=|>|<=|<|=)?(?<sp>\s*)(?<v>[vV])?(?<ver>${PARTIAL})$`);
/** A floor and a ceiling: `>=1.2.3 <2.0.0`, `>1.2.3 <=1.9.0`. */
const BOUNDED = new RegExp(
  String.raw`^(?<op>>=|>)(?<sp>\s*)(?<v>[vV])?(?<ver>${PARTIAL})(?<gap>\s+)(?<upper>(?:<=|<)\s*[vV]?${PARTIAL})$`,
);
/** A hyphen range: `1.2.3 - 2.3.4`. */
const HYPHEN = new RegExp(String.raw`^(?<v>[vV])?(?<ver>${PARTIAL})(?<sep>\s+-\s+)(?<upper>[vV]?${PARTIAL})$`);

const LOOSE = { loose: true } as const;

/** Where a range came from, for error messages and details. */
export interface RangeContext {
  /** Dependency name. */
  readonly dependency: string;
  /** Section the range is declared in, if any. */
  readonly section?: string;
}

/** Outcome of {@link raiseRangeFloor}. */
export interface RaisedRange {
  /** The new range (the input, unchanged, when `changed` is false). */
  readonly range: string;
  /** False when the range already had a lowest admissible version >= the target. */
  readonly changed: boolean;
  /** Human notes: style changes, dropped `||` alternatives, "already sufficient". */
  readonly notes: string[];
}

/**
 * Why a specifier is not a registry semver range (e.g. `"a git URL"`), or null when it is a
 * range or `latest`. Kinds follow npm's package.json docs ("URLs as Dependencies", "Git URLs as
 * Dependencies", "GitHub URLs", "Local Paths"; https://docs.npmjs.com/cli/v10/configuring-npm/package-json#dependencies),
 * npm's `npm:` aliases (npm-package-arg) and the `workspace:`/`link:` protocols of
 * pnpm/yarn workspaces. Anything else that is not a valid loose node-semver range is a dist-tag
 * or garbage.
 */
export function unsupportedSpecifierKind(specifier: string): string | null {
  const spec = specifier.trim();
  if (/^npm:/i.test(spec)) return 'an npm: alias';
  if (/^workspace:/i.test(spec)) return 'a workspace: protocol specifier';
  if (/^file:/i.test(spec)) return 'a file: path';
  if (/^link:/i.test(spec)) return 'a link: path';
  if (/^(portal|patch|exec|jsr):/i.test(spec)) return 'a package-manager protocol specifier';
  if (/^(git\+[a-z+]+:|git:|git@|github:|gitlab:|bitbucket:|gist:)/i.test(spec)) return 'a git URL';
  if (/^https?:\/\//i.test(spec)) return /\.git(#.*)?$/i.test(spec) ? 'a git URL' : 'a tarball URL';
  if (/^[a-z][a-z0-9+.-]*:/i.test(spec)) return 'a URL';
  if (/^(\.{1,2}\/|\/|~\/|[a-zA-Z]:\\)/.test(spec)) return 'a local path';
  if (semver.validRange(spec, LOOSE) !== null) return null;
  if (/^[^@\s/]+\/[^\s/]+$/.test(spec)) return 'a GitHub shorthand';
  return spec === 'latest' ? null : 'a dist-tag or an invalid semver range';
}

/**
 * Parses the bump target, which must be a full semver version without prefix (`1.20.3`,
 * `2.0.0-rc.1`), as node-semver's `parse` reads it (https://github.com/npm/node-semver#functions).
 * @throws ManifestEditError INVALID_TARGET_VERSION otherwise.
 */
export function assertTargetVersion(to: string, dependency: string): semver.SemVer {
  const target = semver.parse(to);
  if (target === null || /^[vV=]/.test(to) || to.trim() !== to) {
    throw new ManifestEditError('INVALID_TARGET_VERSION', `${dependency}: target "${to}" is not a full semver version`, {
      dependency,
      to,
    });
  }
  return target;
}

/** True when `ver` is a full `major.minor.patch` version (no x, no missing parts). */
function isFull(ver: string): boolean {
  return semver.valid(ver, LOOSE) !== null;
}

/** Lowest admissible version of a range (node-semver `minVersion`), or null when invalid/empty. */
function lowest(range: string): semver.SemVer | null {
  return semver.validRange(range, LOOSE) === null ? null : semver.minVersion(range, LOOSE);
}

/** Rewrites one `||`-free comparator set so that its lowest admissible version is `to`. */
function rewriteSet(set: string, to: string, ctx: RangeContext, notes: string[]): string {
  const details = { dependency: ctx.dependency, section: ctx.section, specifier: set, to };
  const single = SINGLE.exec(set)?.groups;
  if (single !== undefined) {
    const op = single['op'] ?? '';
    const sp = single['sp'] ?? '';
    const v = single['v'] ?? '';
    const ver = single['ver'] ?? '';
    if (op === '^' || op === '~' || op === '~>') {
      if (!isFull(ver)) notes.push(`"${set}" was a partial ${op} range; it is now "${op}${sp}${v}${to}"`);
      return `${op}${sp}${v}${to}`;
    }
    if (op === '>=' || op === '>') {
      if (op === '>' || !isFull(ver)) notes.push(`range style changed: "${set}" became ">=${sp}${v}${to}"`);
      return `>=${sp}${v}${to}`;
    }
    if (op === '<' || op === '<=') {
      if (!semver.satisfies(to, set, { ...LOOSE, includePrerelease: true })) {
        throw new ManifestEditError('RANGE_EXCLUDES_TARGET', `${ctx.dependency}: the ceiling "${set}" excludes ${to}`, details);
      }
      notes.push(`added a floor: "${set}" became ">=${to} ${set}"`);
      return `>=${to} ${set}`;
    }
    // '' or '=': an exact version, or an X-range (`1.x`, `1.2`, `*`) without operator.
    if (isFull(ver)) return `${op}${sp}${v}${to}`;
    notes.push(`range style changed: "${set}" became "^${to}" (an X-range cannot express a floor)`);
    return `^${to}`;
  }
  const bounded = BOUNDED.exec(set)?.groups;
  if (bounded !== undefined) {
    const upper = bounded['upper'] ?? '';
    if (!semver.satisfies(to, upper, { ...LOOSE, includePrerelease: true })) {
      throw new ManifestEditError(
        'RANGE_EXCLUDES_TARGET',
        `${ctx.dependency}: "${set}" cannot be raised to ${to} because its ceiling "${upper}" excludes ${to}`,
        details,
      );
    }
    if (bounded['op'] === '>') notes.push(`range style changed: ">" became ">=" in "${set}"`);
    return `>=${bounded['sp'] ?? ''}${bounded['v'] ?? ''}${to}${bounded['gap'] ?? ' '}${upper}`;
  }
  const hyphen = HYPHEN.exec(set)?.groups;
  if (hyphen !== undefined) {
    const upper = hyphen['upper'] ?? '';
    const candidate = `${hyphen['v'] ?? ''}${to}${hyphen['sep'] ?? ' - '}${upper}`;
    if (lowest(candidate)?.compare(to) !== 0) {
      throw new ManifestEditError(
        'RANGE_EXCLUDES_TARGET',
        `${ctx.dependency}: "${set}" cannot be raised to ${to} because its upper end "${upper}" excludes ${to}`,
        details,
      );
    }
    return candidate;
  }
  throw new ManifestEditError(
    'UNSUPPORTED_RANGE',
    `${ctx.dependency}: the range "${set}" has a shape this editor does not rewrite (supported: exact, =, v, ^, ~, >=, >, <, >=a <b, a - b, X-ranges, and || of those)`,
    details,
  );
}

/**
 * Raises the floor of an npm semver range so that its lowest admissible version
 * (node-semver `minVersion`) is exactly `to`, keeping the author's range style:
 *
 * - `1.2.3`, `=1.2.3`, `v1.2.3` → same prefix + `to`
 * - `^1.2.3`, `~1.2.3`, `~>1.2.3` (also partial `^1.2`, noted) → same operator + `to`
 * - `>=1.2.3` → `>=to`; `>1.2.3` → `>=to` (noted)
 * - `>=a <b` (or `>a <=b`) → `>=to <b` when `to` satisfies `<b`, else RANGE_EXCLUDES_TARGET
 * - `a - b` → `to - b` when `to` is within, else RANGE_EXCLUDES_TARGET
 * - `<b`, `<=b` → `>=to <b` (noted)
 * - `1.x`, `1.2.x`, `1`, `*`, `x`, `latest`, `""` → `^to` (noted: style changed)
 * - `A || B || …` → alternatives that admit only versions below `to` are dropped (noted), the
 *   others are raised as above; when every alternative is below `to`, the one with the highest
 *   floor is raised.
 *
 * When the declared range's lowest admissible version is already >= `to`, it is returned
 * unchanged with a note. Range semantics: node-semver README (https://github.com/npm/node-semver#ranges,
 * "Caret Ranges", "Tilde Ranges", "X-Ranges", "Hyphen Ranges") and npm's dependency docs
 * (https://docs.npmjs.com/cli/v10/configuring-npm/package-json#dependencies), which define
 * `latest` (a dist-tag) and `""` (same as `*`).
 *
 * @param specifier the declared value, e.g. `^1.20.2`
 * @param to a full semver version, e.g. `1.20.3`
 * @param ctx dependency name (and section) used in error messages and details
 * @throws ManifestEditError INVALID_TARGET_VERSION, UNSUPPORTED_SPECIFIER (git, file:, link:,
 *   workspace:, npm:, tarball URL, GitHub shorthand, local path, other dist-tags),
 *   UNSUPPORTED_RANGE, RANGE_EXCLUDES_TARGET.
 */
export function raiseRangeFloor(specifier: string, to: string, ctx: RangeContext): RaisedRange {
  const target = assertTargetVersion(to, ctx.dependency);
  const spec = specifier.trim();
  const kind = unsupportedSpecifierKind(spec);
  if (kind !== null) {
    throw new ManifestEditError(
      'UNSUPPORTED_SPECIFIER',
      `${ctx.dependency}${ctx.section === undefined ? '' : ` in ${ctx.section}`} is declared as "${specifier}", ${kind}; only semver ranges can be bumped`,
      { dependency: ctx.dependency, section: ctx.section, specifier },
    );
  }
  if (spec === 'latest' || spec === '') {
    return {
      range: `^${to}`,
      changed: true,
      notes: [`range style changed: "${specifier}" (any version) became "^${to}"`],
    };
  }
  const current = lowest(spec);
  if (current !== null && current.compare(target) >= 0) {
    return {
      range: specifier,
      changed: false,
      notes: [`"${specifier}" already admits nothing below ${to} (lowest admissible ${current.version}); left unchanged`],
    };
  }

  const notes: string[] = [];
  const pieces = spec.split(/(\s*\|\|\s*)/);
  const sets = pieces.filter((_, i) => i % 2 === 0);
  let result: string;
  if (sets.length === 1) {
    result = rewriteSet(spec, to, ctx, notes);
  } else {
    const reaches = (set: string): boolean => semver.intersects(set, `>=${to}`, LOOSE);
    let raise = sets.filter(reaches);
    if (raise.length === 0) {
      // Every alternative is below the target: raise the one with the highest floor.
      const byFloor = [...sets].sort((a, b) => lowest(a)?.compare(lowest(b) ?? '0.0.0') ?? -1);
      raise = byFloor.slice(-1);
    }
    const kept: string[] = [];
    for (const set of sets) {
      if (!raise.includes(set)) {
        notes.push(`dropped alternative "${set}": it admits only versions below ${to}`);
        continue;
      }
      const min = lowest(set);
      kept.push(min !== null && min.compare(target) >= 0 ? set : rewriteSet(set, to, ctx, notes));
    }
    result = kept.join(pieces[1] ?? ' || ');
  }

  const min = lowest(result);
  if (min === null || min.compare(target) !== 0) {
    throw new ManifestEditError(
      'RANGE_EXCLUDES_TARGET',
      `${ctx.dependency}: could not raise "${specifier}" to ${to} (candidate "${result}" has lowest admissible ${min?.version ?? 'none'})`,
      { dependency: ctx.dependency, section: ctx.section, specifier, to, candidate: result },
    );
  }
  return { range: result, changed: true, notes };
}
