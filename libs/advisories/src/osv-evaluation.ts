import { ecosystemForOsv, memoSemver, type Versioning } from '@remediation/ecosystems';
import semver from 'semver';
import { normalisePackageName } from './package-names.js';
import type { OsvEvent, OsvRange } from './osv-schema.js';
import type { Advisory, AffectedPackage } from './types.js';

/**
 * OSV version evaluation, per https://ossf.github.io/osv-schema/#evaluation, generic over the
 * version scheme of each `affected[]` entry's OSV ecosystem (its `Versioning` from
 * `@remediation/ecosystems`, found with `ecosystemForOsv`):
 * - npm (and every ecosystem without a `Versioning` there, as before): SemVer 2.0 precedence
 *   (https://semver.org/#spec-item-11) with the `semver` library, event versions read loosely;
 *   ranges rendered in node-semver syntax (`>=1.0.0 <2.0.0`, `*`), listed versions as written.
 * - PyPI: PEP 440 ordering (https://peps.python.org/pep-0440/) through `pep440Versioning`; names
 *   compared by PEP 503; ranges rendered as PEP 440 specifier sets (`>=1.0,<2.0`, `<=1.5`,
 *   `==1.5` for listed versions, `>=0` for introduced 0 never fixed), the syntax the patcher's
 *   proof of remediation (`provePythonRemediated`) reads.
 * - crates.io: Cargo's semver ordering through `cargoVersioning`; names compared as crates.io
 *   does (ASCII case-insensitive, `-` and `_` equivalent: crates.io refuses a new crate whose name
 *   differs from an existing one only so; https://github.com/rust-lang/cargo/issues/4383,
 *   https://github.com/rust-lang/cargo/issues/2775); ranges rendered in node-semver syntax like npm's
 *   (`>=0.10.8 <0.10.55`, `*`), the syntax `proveCargoRemediated` reads. RustSec's
 *   `introduced: "0.0.0-0"` (before every version) renders as no lower bound.
 * - Go: Go module ordering through `goVersioning` (semver precedence, pseudo-versions as the
 *   pre-releases they are, `+incompatible` ignored); the Go vulnerability database writes `SEMVER`
 *   events without the `v` (https://go.dev/security/vuln/database#schema), a `v1.2.1` from a
 *   go.mod or purl compares equal to `1.2.1`; module paths compared exactly (they are
 *   case-sensitive: the module proxy case-encodes them, https://go.dev/ref/mod#goproxy-protocol);
 *   ranges rendered in node-semver syntax on versions without `v` (`<1.3.2`,
 *   `<0.0.0-20220906165146-f3363e06e74c`, `*`), what `proveGoRemediated` reads; fixed versions as
 *   the record writes them (`1.3.2`).
 * - Maven: Maven's ComparableVersion ordering through `mavenVersioning` (`3.2.6.RELEASE` =
 *   `3.2.6`, `2.0-beta9` < `2.0`); names `group:artifact` compared case-insensitively as before;
 *   ranges rendered as comparator sets like PyPI's (`>=2.13.0,<2.15.0`, `<2.12.2`, `<=1.4.Final`,
 *   `==2.0.0` for listed versions, `>=0`), the syntax `proveMavenRemediated` reads.
 * `SEMVER` and `ECOSYSTEM` ranges are evaluated; `GIT` ranges cannot be evaluated without the
 * repository and are ignored (the spec requires a `versions` list then). Event versions the
 * scheme cannot read are ignored.
 */

const EVALUABLE = new Set(['SEMVER', 'ECOSYSTEM']);

/** Whether the evaluation reads `range` (`SEMVER` and `ECOSYSTEM` ranges; `GIT` ranges never match a version). */
export function isEvaluable(range: OsvRange): boolean {
  return EVALUABLE.has(range.type.toUpperCase());
}

type EventKind = 'introduced' | 'fixed' | 'last_affected' | 'limit';

/** How one ecosystem's versions are read, ordered and written in ranges. */
interface Scheme {
  /** The version in the form ranges are rendered with, or null when the scheme cannot read it. */
  read(version: string): string | null;
  compare(a: string, b: string): number;
  /** Joins the clauses of one interval. */
  join: string;
  /** Renders an interval with neither bound. */
  everything: string;
  /** Renders a listed (`versions[]`) version. */
  exact(version: string): string;
}

/**
 * A semver version read strictly, else loosely (null when neither reads it), through the shared
 * memo of `@remediation/ecosystems` (`memoSemver`): a plan evaluates the same few thousand version
 * strings (installed versions, range events) tens of thousands of times.
 */
function parseSemver(v: string): semver.SemVer | null {
  return memoSemver(v) ?? memoSemver(v, 'loose');
}

/** npm and ecosystems without a Versioning: semver, loose parse, node-semver rendering (unchanged). */
const SEMVER_SCHEME: Scheme = {
  read: (v) => parseSemver(v)?.version ?? null,
  compare: (a, b) => {
    const pa = parseSemver(a);
    const pb = parseSemver(b);
    return pa && pb ? pa.compare(pb) : semver.compare(a, b);
  },
  join: ' ',
  everything: '*',
  exact: (v) => v,
};

function versioningScheme(versioning: Versioning): Scheme {
  return {
    read: (v) => (versioning.isValid(v) ? v : null),
    compare: (a, b) => versioning.compare(a, b),
    join: ',',
    everything: '>=0',
    exact: (v) => `==${v}`,
  };
}

/** Cargo (crates.io) and Go: the ecosystem's own ordering, ranges written in node-semver syntax (what `proveCargoRemediated` and `proveGoRemediated` read). */
function nodeSemverRangesScheme(versioning: Versioning): Scheme {
  return {
    read: (v) => (versioning.isValid(v) ? v : null),
    compare: (a, b) => versioning.compare(a, b),
    join: ' ',
    everything: '*',
    exact: (v) => v,
  };
}

/** OSV ecosystems with their own Versioning whose affected ranges are rendered in node-semver syntax. */
const NODE_SEMVER_RANGES = new Set(['crates.io', 'Go']);

const schemes = new Map<string, Scheme>();

/**
 * The scheme of OSV ecosystem `ecosystem`: npm's semver reading (also for ecosystems not in
 * `@remediation/ecosystems`, as before), else the ecosystem's own `Versioning`.
 */
function schemeOf(ecosystem: string): Scheme {
  let scheme = schemes.get(ecosystem);
  if (scheme === undefined) {
    const e = ecosystemForOsv(ecosystem);
    scheme =
      e === undefined || e.versioning.scheme === 'semver'
        ? SEMVER_SCHEME
        : NODE_SEMVER_RANGES.has(ecosystem)
          ? nodeSemverRangesScheme(e.versioning)
          : versioningScheme(e.versioning);
    schemes.set(ecosystem, scheme);
  }
  return scheme;
}

interface ParsedEvent {
  kind: EventKind;
  /** null for `introduced: "0"` (before every version) and `limit: "*"` (infinity). */
  version: string | null;
  raw: string;
}

function eventOf(event: OsvEvent, scheme: Scheme): ParsedEvent | undefined {
  const [kind, raw] = Object.entries(event)[0] as [EventKind, string];
  // `0` is the spec's "before every version"; RustSec writes it `0.0.0-0` (the lowest semver).
  if (kind === 'introduced' && (raw === '0' || raw === '0.0.0-0')) return { kind, version: null, raw };
  if (kind === 'limit' && raw.includes('*')) return { kind, version: null, raw };
  const version = scheme.read(raw);
  return version !== null ? { kind, version, raw } : undefined;
}

/** Sort rank of an event without a version: `introduced: "0"` first, `limit: "*"` last; 0 for the others. */
const unboundedRank = (e: ParsedEvent): number => (e.version === null ? (e.kind === 'limit' ? 1 : -1) : 0);

/**
 * Sorted events per range object, with the scheme they were read by. Advisories are not changed
 * once built, and a plan evaluates each of their ranges for many versions (every candidate of a
 * target or transitive fix): parsing and sorting them once spares an allocation-heavy step per call.
 */
const sortedEventsOf = new WeakMap<OsvRange, { scheme: Scheme; events: readonly ParsedEvent[] }>();

/** Events of a range, parsed and sorted by version (`introduced: "0"` first, `limit: "*"` last). Shared: never changed by callers. */
function sortedEvents(range: OsvRange, scheme: Scheme): readonly ParsedEvent[] {
  const hit = sortedEventsOf.get(range);
  if (hit !== undefined && hit.scheme === scheme) return hit.events;
  const events = range.events.map((e) => eventOf(e, scheme)).filter((e): e is ParsedEvent => e !== undefined);
  events.sort((a, b) => {
    const ka = unboundedRank(a);
    const kb = unboundedRank(b);
    if (ka !== 0 || kb !== 0) return ka - kb;
    return scheme.compare(a.version!, b.version!);
  });
  sortedEventsOf.set(range, { scheme, events });
  return events;
}

/** The spec's `BeforeLimits`: true without limit events, else when v is below any limit. */
function beforeLimits(v: string, events: readonly ParsedEvent[], scheme: Scheme): boolean {
  let limited = false;
  for (const e of events) {
    if (e.kind !== 'limit') continue;
    if (e.version === null || scheme.compare(v, e.version) < 0) return true;
    limited = true;
  }
  return !limited;
}

/**
 * Whether `version` lies in one OSV range (the spec's `IncludedInRanges` for a single range):
 * walk the sorted events; `introduced` ≤ v sets affected, `fixed` ≤ v clears it, `last_affected` < v
 * clears it; limits bound the whole range.
 * @param ecosystem OSV ecosystem whose version scheme orders the events (default `npm`: semver).
 * @returns false for `GIT` ranges and for a version the scheme cannot read.
 */
export function isVersionInRange(version: string, range: OsvRange, ecosystem = 'npm'): boolean {
  if (!isEvaluable(range)) return false;
  const scheme = schemeOf(ecosystem);
  const v = scheme.read(version);
  if (v === null) return false;
  const events = sortedEvents(range, scheme);
  if (!beforeLimits(v, events, scheme)) return false;
  let vulnerable = false;
  for (const e of events) {
    if (e.kind === 'introduced') {
      if (e.version === null || scheme.compare(v, e.version) >= 0) vulnerable = true;
    } else if (e.kind === 'fixed') {
      if (scheme.compare(v, e.version!) >= 0) vulnerable = false;
    } else if (e.kind === 'last_affected') {
      if (scheme.compare(v, e.version!) > 0) vulnerable = false;
    }
  }
  return vulnerable;
}

/** The spec's `IncludedInVersions`: exact match, or equality by the scheme when both sides parse. */
function inVersions(version: string, versions: readonly string[], scheme: Scheme): boolean {
  if (versions.length === 0) return false;
  const v = scheme.read(version);
  return versions.some((listed) => {
    if (listed === version) return true;
    const l = v !== null ? scheme.read(listed) : null;
    return v !== null && l !== null && scheme.compare(v, l) === 0;
  });
}

/**
 * Whether two package names are the same package: PyPI names by PEP 503
 * (https://peps.python.org/pep-0503/#normalized-names); crates.io names case-insensitively with
 * `-` and `_` equivalent (crates.io keeps names unique under that folding,
 * https://github.com/rust-lang/cargo/issues/4383); Go module paths exactly (case-sensitive,
 * https://go.dev/ref/mod#goproxy-protocol "case-encoded"); npm and other
 * case-insensitive registries case-insensitively (npm names are lowercase; GHSA has `Axios`), as
 * before for every other ecosystem.
 * @param ecosystem OSV ecosystem of the names (default `npm`).
 */
export function samePackage(a: string, b: string, ecosystem = 'npm'): boolean {
  if (ecosystem === 'PyPI') return normalisePackageName('PyPI', a) === normalisePackageName('PyPI', b);
  if (ecosystem === 'crates.io') return a.toLowerCase().replace(/-/g, '_') === b.toLowerCase().replace(/-/g, '_');
  if (ecosystem === 'Go') return a.trim() === b.trim();
  return a.toLowerCase() === b.toLowerCase();
}

/**
 * The kind of a RustSec informational advisory for `name`: `affected[].database_specific.informational`
 * of its entries (`unsound`, `unmaintained`, `notice`; https://github.com/rustsec/advisory-db#advisory-format
 * "informational"), the first one set; undefined for a vulnerability (and for every other database).
 * @param ecosystem OSV ecosystem to restrict the entries to; every entry when absent.
 */
export function informationalKind(advisory: Advisory, name: string, ecosystem?: string): string | undefined {
  return entriesFor(advisory, name, ecosystem).find((e) => e.informational !== undefined)?.informational;
}

/**
 * The `affected[]` entries of `advisory` naming `name`, each compared by its own ecosystem's
 * naming rules; only entries of `ecosystem` when given (a PyPI `requests` never matches an npm one).
 */
export function entriesFor(advisory: Advisory, name: string, ecosystem?: string): AffectedPackage[] {
  return advisory.affected.filter((a) => (ecosystem === undefined || a.ecosystem === ecosystem) && samePackage(a.name, name, a.ecosystem));
}

/**
 * Whether `advisory` affects `version` of package `name`: the spec's `IsVulnerable`
 * (https://ossf.github.io/osv-schema/#evaluation): some `affected[]` entry for the package
 * lists the version in `versions` or includes it in one of its ranges, compared by the entry's
 * ecosystem's version scheme.
 * @param name package name, compared by the entry's ecosystem's rules (see {@link samePackage}).
 * @param version e.g. `1.20.2` (npm) or `4.2` (PyPI); one the scheme cannot read only matches `versions`.
 * @param ecosystem OSV ecosystem (`npm`, `PyPI`) to restrict the entries to; every entry when absent.
 */
export function isAffected(advisory: Advisory, name: string, version: string, ecosystem?: string): boolean {
  return affectedTest(advisory, name, ecosystem)(version);
}

/**
 * {@link isAffected} of one package as a test of versions: the advisory's entries for the package
 * (and their version schemes) are found once, not per version — for a plan that tests every
 * candidate version of a package against its advisories.
 * @returns `(version) => isAffected(advisory, name, version, ecosystem)`.
 */
export function affectedTest(advisory: Advisory, name: string, ecosystem?: string): (version: string) => boolean {
  const entries = entriesFor(advisory, name, ecosystem).map((entry) => ({ entry, scheme: schemeOf(entry.ecosystem) }));
  return (version) =>
    entries.some(({ entry, scheme }) => inVersions(version, entry.versions, scheme) || entry.ranges.some((range) => isVersionInRange(version, range, entry.ecosystem)));
}

/** An affected interval of one range, before rendering. */
interface Span {
  lower: ParsedEvent | null;
  upper: ParsedEvent | null;
}

function spansOf(range: OsvRange, scheme: Scheme): Span[] {
  const events = sortedEvents(range, scheme);
  const spans: Span[] = [];
  let open: { lower: ParsedEvent | null } | null = null;
  for (const e of events) {
    if (e.kind === 'introduced') {
      if (open === null) open = { lower: e.version === null ? null : e };
    } else if (e.kind === 'fixed' || e.kind === 'last_affected') {
      if (open !== null) {
        spans.push({ lower: open.lower, upper: e });
        open = null;
      }
    }
  }
  if (open !== null) spans.push({ lower: open.lower, upper: null });
  const finiteLimits = events.filter((e) => e.kind === 'limit');
  if (finiteLimits.length > 0 && finiteLimits.every((e) => e.version !== null)) {
    const limit = finiteLimits.reduce((a, b) => (scheme.compare(a.version!, b.version!) > 0 ? a : b));
    return spans
      .filter((s) => s.lower === null || scheme.compare(s.lower.version!, limit.version!) < 0)
      .map((s) => (s.upper === null || scheme.compare(s.upper.version!, limit.version!) > 0 ? { lower: s.lower, upper: limit } : s));
  }
  return spans;
}

function renderSpan(span: Span, scheme: Scheme): string {
  const parts: string[] = [];
  if (span.lower) parts.push(`>=${span.lower.version!}`);
  if (span.upper) parts.push(`${span.upper.kind === 'last_affected' ? '<=' : '<'}${span.upper.version!}`);
  return parts.length === 0 ? scheme.everything : parts.join(scheme.join);
}

/**
 * Affected versions of `name` in `advisory` as ranges in the ecosystem's own syntax, sorted by
 * lower bound. npm, crates.io and Go (node-semver; Go versions without `v`): `<1.20.3`, `>=0.2.0 <1.9.0`, `<=4.5.1` (last_affected), `*`
 * (introduced 0, never fixed), listed `versions` as written. PyPI (PEP 440 specifier sets,
 * https://peps.python.org/pep-0440/#version-specifiers): `<2.0`, `>=1.0,<2.0`, `<=1.5`, `>=0`,
 * listed versions as `==1.5`. Listed versions already inside a range are left out. `GIT` ranges
 * are not rendered.
 * @param ecosystem OSV ecosystem to restrict the entries to; every entry when absent.
 */
export function affectedRanges(advisory: Advisory, name: string, ecosystem?: string): string[] {
  const entries = entriesFor(advisory, name, ecosystem);
  const rendered: string[] = [];
  const extra: string[] = [];
  for (const eco of [...new Set(entries.map((e) => e.ecosystem))]) {
    const scheme = schemeOf(eco);
    const own = entries.filter((e) => e.ecosystem === eco);
    const spans: Span[] = [];
    for (const entry of own) {
      for (const range of entry.ranges) if (isEvaluable(range)) spans.push(...spansOf(range, scheme));
    }
    spans.sort((a, b) => {
      if (a.lower === null || b.lower === null) return (a.lower === null ? 0 : 1) - (b.lower === null ? 0 : 1);
      return scheme.compare(a.lower.version!, b.lower.version!);
    });
    rendered.push(...spans.map((s) => renderSpan(s, scheme)));
    for (const entry of own) {
      for (const v of entry.versions) {
        if (!own.some((e) => e.ranges.some((range) => isVersionInRange(v, range, eco)))) extra.push(scheme.exact(v));
      }
    }
  }
  return [...new Set(rendered), ...new Set(extra)];
}

/**
 * Versions named by `fixed` events for `name`, unique (by the scheme's equality), in the
 * ecosystem's order (semver for npm, PEP 440 for PyPI). npm versions are written as semver
 * renders them (loose `v1.2.3` → `1.2.3`); PyPI versions as the advisory writes them.
 * @param ecosystem OSV ecosystem to restrict the entries to; every entry when absent.
 */
export function fixedVersions(advisory: Advisory, name: string, ecosystem?: string): string[] {
  const entries = entriesFor(advisory, name, ecosystem);
  const out: string[] = [];
  for (const eco of [...new Set(entries.map((e) => e.ecosystem))]) {
    const scheme = schemeOf(eco);
    const fixed: string[] = [];
    for (const entry of entries.filter((e) => e.ecosystem === eco)) {
      for (const range of entry.ranges) {
        for (const event of range.events) {
          if ('fixed' in event) {
            const v = scheme.read(event.fixed);
            if (v !== null && !fixed.some((f) => scheme.compare(f, v) === 0)) fixed.push(v);
          }
        }
      }
    }
    out.push(...fixed.sort(scheme.compare));
  }
  return out;
}
