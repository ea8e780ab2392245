import semver from 'semver';
import type { OsvEvent, OsvRange } from './osv-schema.js';
import type { Advisory, AffectedPackage } from './types.js';

/**
 * OSV version evaluation for npm, per https://ossf.github.io/osv-schema/#evaluation.
 * npm versions order by SemVer 2.0 precedence (https://semver.org/#spec-item-11), so `SEMVER`
 * and `ECOSYSTEM` ranges are both compared with the `semver` library; `GIT` ranges cannot be
 * evaluated without the repository and are ignored (the spec requires a `versions` list then).
 * Event versions that are not valid semver (even loosely) are ignored.
 */

const EVALUABLE = new Set(['SEMVER', 'ECOSYSTEM']);

type EventKind = 'introduced' | 'fixed' | 'last_affected' | 'limit';

interface ParsedEvent {
  kind: EventKind;
  /** null for `introduced: "0"` (before every version) and `limit: "*"` (infinity). */
  version: semver.SemVer | null;
  raw: string;
}

function parseVersion(v: string): semver.SemVer | null {
  return semver.parse(v) ?? semver.parse(v, { loose: true });
}

function eventOf(event: OsvEvent): ParsedEvent | undefined {
  const [kind, raw] = Object.entries(event)[0] as [EventKind, string];
  if (kind === 'introduced' && raw === '0') return { kind, version: null, raw };
  if (kind === 'limit' && raw.includes('*')) return { kind, version: null, raw };
  const version = parseVersion(raw);
  return version ? { kind, version, raw } : undefined;
}

/** Events of a range, parsed and sorted by version (`introduced: "0"` first, `limit: "*"` last). */
function sortedEvents(range: OsvRange): ParsedEvent[] {
  const events = range.events.map(eventOf).filter((e): e is ParsedEvent => e !== undefined);
  const key = (e: ParsedEvent): number => (e.version === null ? (e.kind === 'limit' ? 1 : -1) : 0);
  return events.sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    if (ka !== 0 || kb !== 0) return ka - kb;
    return semver.compare(a.version!, b.version!);
  });
}

/** The spec's `BeforeLimits`: true without limit events, else when v is below any limit. */
function beforeLimits(v: semver.SemVer, events: readonly ParsedEvent[]): boolean {
  const limits = events.filter((e) => e.kind === 'limit');
  if (limits.length === 0) return true;
  return limits.some((e) => e.version === null || semver.lt(v, e.version));
}

/**
 * Whether `version` lies in one OSV range (the spec's `IncludedInRanges` for a single range):
 * walk the sorted events; `introduced` ≤ v sets affected, `fixed` ≤ v clears it, `last_affected` < v
 * clears it; limits bound the whole range.
 * @returns false for `GIT` ranges and for a version that is not valid semver.
 */
export function isVersionInRange(version: string, range: OsvRange): boolean {
  if (!EVALUABLE.has(range.type.toUpperCase())) return false;
  const v = parseVersion(version);
  if (!v) return false;
  const events = sortedEvents(range);
  if (!beforeLimits(v, events)) return false;
  let vulnerable = false;
  for (const e of events) {
    if (e.kind === 'introduced') {
      if (e.version === null || semver.gte(v, e.version)) vulnerable = true;
    } else if (e.kind === 'fixed') {
      if (semver.gte(v, e.version!)) vulnerable = false;
    } else if (e.kind === 'last_affected') {
      if (semver.gt(v, e.version!)) vulnerable = false;
    }
  }
  return vulnerable;
}

/** The spec's `IncludedInVersions`: exact match, by semver equality when both sides parse. */
function inVersions(version: string, versions: readonly string[]): boolean {
  const v = parseVersion(version);
  return versions.some((listed) => {
    if (listed === version) return true;
    const l = v ? parseVersion(listed) : null;
    return v !== null && l !== null && semver.eq(v, l);
  });
}

/** Package names compare case-insensitively (npm names are lowercase; GHSA has `Axios`). */
export function samePackage(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/** The `affected[]` entries of `advisory` naming `name`. */
export function entriesFor(advisory: Advisory, name: string): AffectedPackage[] {
  return advisory.affected.filter((a) => samePackage(a.name, name));
}

/**
 * Whether `advisory` affects `version` of package `name`: the spec's `IsVulnerable`
 * (https://ossf.github.io/osv-schema/#evaluation): some `affected[]` entry for the package
 * lists the version in `versions` or includes it in one of its ranges.
 * @param name package name, compared case-insensitively.
 * @param version an npm version such as `1.20.2`; one that is not semver only matches `versions`.
 */
export function isAffected(advisory: Advisory, name: string, version: string): boolean {
  return entriesFor(advisory, name).some(
    (entry) => inVersions(version, entry.versions) || entry.ranges.some((range) => isVersionInRange(version, range)),
  );
}

/** An affected interval of one range, before rendering. */
interface Span {
  lower: ParsedEvent | null;
  upper: ParsedEvent | null;
}

function spansOf(range: OsvRange): Span[] {
  const events = sortedEvents(range);
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
    const limit = finiteLimits.reduce((a, b) => (semver.gt(a.version!, b.version!) ? a : b));
    return spans
      .filter((s) => s.lower === null || semver.lt(s.lower.version!, limit.version!))
      .map((s) =>
        s.upper === null || semver.gt(s.upper.version!, limit.version!) ? { lower: s.lower, upper: limit } : s,
      );
  }
  return spans;
}

function renderSpan(span: Span): string {
  const parts: string[] = [];
  if (span.lower) parts.push(`>=${span.lower.version!.version}`);
  if (span.upper) parts.push(`${span.upper.kind === 'last_affected' ? '<=' : '<'}${span.upper.version!.version}`);
  return parts.length === 0 ? '*' : parts.join(' ');
}

/**
 * Affected versions of `name` in `advisory` as npm range strings (node-semver syntax), sorted by
 * lower bound: e.g. `<1.20.3`, `>=0.2.0 <1.9.0`, `<=4.5.1` (last_affected), `*` (introduced 0,
 * never fixed). Listed `versions` not already inside a range are appended as exact versions.
 * `GIT` ranges are not rendered.
 */
export function affectedRanges(advisory: Advisory, name: string): string[] {
  const spans: Span[] = [];
  const listed: string[] = [];
  for (const entry of entriesFor(advisory, name)) {
    for (const range of entry.ranges) if (EVALUABLE.has(range.type.toUpperCase())) spans.push(...spansOf(range));
    listed.push(...entry.versions);
  }
  spans.sort((a, b) => {
    if (a.lower === null || b.lower === null) return (a.lower === null ? 0 : 1) - (b.lower === null ? 0 : 1);
    return semver.compare(a.lower.version!, b.lower.version!);
  });
  const rendered = [...new Set(spans.map(renderSpan))];
  const extra = listed.filter(
    (v) =>
      !entriesFor(advisory, name).some((entry) => entry.ranges.some((range) => isVersionInRange(v, range))),
  );
  return [...rendered, ...new Set(extra)];
}

/** Versions named by `fixed` events for `name`, unique, in semver order. */
export function fixedVersions(advisory: Advisory, name: string): string[] {
  const fixed = new Map<string, semver.SemVer>();
  for (const entry of entriesFor(advisory, name)) {
    for (const range of entry.ranges) {
      for (const event of range.events) {
        if ('fixed' in event) {
          const v = parseVersion(event.fixed);
          if (v) fixed.set(v.version, v);
        }
      }
    }
  }
  return [...fixed.values()].sort(semver.compare).map((v) => v.version);
}
