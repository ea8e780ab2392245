import { ecosystemForOsv } from '@remediation/ecosystems';
import { LRUCache } from 'lru-cache';
import { entriesFor, isEvaluable } from './osv-evaluation.js';
import type { OsvRange } from './osv-schema.js';
import type { Advisory } from './types.js';

/**
 * Where the versions an advisory affects lie, in a form a database can compare without knowing
 * the ecosystem's version scheme: closed intervals of order keys (`Versioning.orderKey` of
 * `@remediation/ecosystems`: arrays of non-negative integers, compared element by element, that
 * keep the scheme's order). The intervals are conservative: every version the OSV evaluation
 * (https://ossf.github.io/osv-schema/#evaluation, `isAffected`) finds affected has its key inside
 * one, while a key inside one may belong to a version that is not affected (versions with equal
 * keys, e.g. `1.0.0-rc.1` and `1.0.0`, cannot be told apart; `limit` events are left out). The
 * advisory database stores them per (advisory, package) so that a plan's look-up reads only the
 * advisories of packages something may affect at an installed version (docs/decisions/0012).
 */

/** A closed interval of order keys; a null bound is unbounded on that side. */
export interface VersionKeyRange {
  lower: readonly number[] | null;
  upper: readonly number[] | null;
}

const EVERYTHING: VersionKeyRange = { lower: null, upper: null };

/**
 * The order key of `version` in OSV ecosystem `ecosystem` (`Versioning.orderKey`), or null when
 * the ecosystem has none (no `Versioning` in `@remediation/ecosystems`, or a scheme without an
 * order key) or the version is not valid there.
 */
export function versionOrderKey(ecosystem: string, version: string): readonly number[] | null {
  const cacheKey = `${ecosystem}\u0000${version}`;
  let key = orderKeys.get(cacheKey);
  if (key === undefined) {
    key = ecosystemForOsv(ecosystem)?.versioning.orderKey?.(version) ?? false;
    orderKeys.set(cacheKey, key);
  }
  return key === false ? null : key;
}

/**
 * Order keys by ecosystem and version text (`false`: none). An import computes them for every
 * event of every advisory and a look-up for every installed version; the same strings recur.
 */
const orderKeys = new LRUCache<string, readonly number[] | false>({ max: 50_000 });

/** Lexicographic order of order keys (a prefix first), as PostgreSQL orders `bigint[]`. */
function compareKeys(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

const sameKey = (a: readonly number[] | null, b: readonly number[] | null): boolean => (a === null || b === null ? a === b : compareKeys(a, b) === 0);

/**
 * The key intervals of one evaluable range. Events are grouped by key (versions of equal keys
 * may sort either way) and walked in key order like the evaluation walks versions: an interval
 * opens at a group holding an `introduced` (or before everything for `introduced: "0"`) and
 * closes, inclusively, at the next group holding only `fixed`/`last_affected` events — a key
 * above such a group is above all of its versions, so no longer affected. A group mixing both
 * leaves the interval open. An event whose version has no key makes the whole range unbounded.
 */
function rangeKeyRanges(range: OsvRange, key: (version: string) => readonly number[] | null): VersionKeyRange[] {
  const events: Array<{ introduced: boolean; key: readonly number[] | null }> = [];
  for (const event of range.events) {
    const [kind, raw] = Object.entries(event)[0] as [string, string];
    // `limit` only narrows what is affected; other kinds the evaluation does not act on.
    if (kind !== 'introduced' && kind !== 'fixed' && kind !== 'last_affected') continue;
    // `0` is the spec's "before every version"; RustSec writes it `0.0.0-0` (as the evaluation reads them).
    if (kind === 'introduced' && (raw === '0' || raw === '0.0.0-0')) {
      events.push({ introduced: true, key: null });
      continue;
    }
    const k = key(raw);
    if (k === null) return [EVERYTHING];
    events.push({ introduced: kind === 'introduced', key: k });
  }
  // Unbounded (`introduced: "0"`) first.
  events.sort((a, b) => (a.key === null || b.key === null ? (a.key === null ? 0 : 1) - (b.key === null ? 0 : 1) : compareKeys(a.key, b.key)));
  const out: VersionKeyRange[] = [];
  /** Lower bound of the open interval (null: unbounded); undefined while none is open. */
  let open: readonly number[] | null | undefined;
  for (let i = 0; i < events.length; ) {
    const groupKey = events[i]!.key;
    let introduced = false;
    for (; i < events.length && sameKey(events[i]!.key, groupKey); i++) introduced ||= events[i]!.introduced;
    if (open === undefined) {
      if (introduced) open = groupKey;
    } else if (!introduced) {
      out.push({ lower: open, upper: groupKey });
      open = undefined;
    }
  }
  if (open !== undefined) out.push({ lower: open, upper: null });
  return out;
}

/**
 * The key intervals holding every version of `name` (in OSV ecosystem `ecosystem`) that
 * `advisory` affects: for each of its entries naming the package, each listed version as a point
 * and each `SEMVER`/`ECOSYSTEM` range as {@link rangeKeyRanges} gives (`GIT` ranges affect no
 * version by themselves). An empty list: the advisory affects no version of it.
 * @returns null when the ecosystem has no order key (see {@link versionOrderKey}): any version
 *   may be affected.
 */
export function affectedKeyRanges(advisory: Advisory, name: string, ecosystem: string): VersionKeyRange[] | null {
  if (ecosystemForOsv(ecosystem)?.versioning.orderKey === undefined) return null;
  const key = (version: string): readonly number[] | null => versionOrderKey(ecosystem, version);
  const out: VersionKeyRange[] = [];
  for (const entry of entriesFor(advisory, name, ecosystem)) {
    for (const listed of entry.versions) {
      const k = key(listed);
      out.push(k === null ? EVERYTHING : { lower: k, upper: k });
    }
    for (const range of entry.ranges) if (isEvaluable(range)) out.push(...rangeKeyRanges(range, key));
  }
  return out;
}
