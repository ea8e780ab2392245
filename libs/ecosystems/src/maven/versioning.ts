import { InvalidInputError } from '@remediation/errors';
import type { JumpSize, ParsedVersion, PublishedVersion, Versioning } from '../types.js';

/**
 * One item of a parsed Maven version: a number, a qualifier (lowercased, aliases resolved) or a
 * sub-list (what follows a `-`, or a transition from letters to digits).
 */
type Item = { kind: 'number'; value: bigint } | { kind: 'string'; value: string } | { kind: 'list'; items: Item[] };

/** Known qualifiers in ascending order; `''` is the release (https://maven.apache.org/pom.html#version-order-specification). */
const QUALIFIERS = ['alpha', 'beta', 'milestone', 'rc', 'snapshot', '', 'sp'];
/** Qualifiers Maven 3.9 reads as the release itself (`1-ga` = `1-final` = `1-release` = `1`). */
const RELEASE_ALIASES = new Set(['ga', 'final', 'release']);
const RELEASE_INDEX = String(QUALIFIERS.indexOf(''));
/** Qualifiers that make a version a pre-release (never proposed by the planner). */
const UNSTABLE = new Set(['alpha', 'beta', 'milestone', 'rc', 'snapshot']);

function qualifier(text: string, followedByDigit: boolean): Item {
  let value = text;
  // a1 = alpha-1, b1 = beta-1, m1 = milestone-1
  if (followedByDigit && value.length === 1) value = ({ a: 'alpha', b: 'beta', m: 'milestone' } as Record<string, string>)[value] ?? value;
  if (value === 'cr') value = 'rc';
  if (RELEASE_ALIASES.has(value)) value = '';
  return { kind: 'string', value };
}

/** Maven's `comparableQualifier`: the index of a known qualifier, else `7-<qualifier>` (after every known one, lexically). */
function comparableQualifier(value: string): string {
  const i = QUALIFIERS.indexOf(value);
  return i === -1 ? `${QUALIFIERS.length}-${value}` : String(i);
}

function isNull(item: Item): boolean {
  if (item.kind === 'number') return item.value === 0n;
  if (item.kind === 'string') return comparableQualifier(item.value) === RELEASE_INDEX;
  return item.items.length === 0;
}

function cmpStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `ComparableVersion.Item.compareTo`, `undefined` standing for Java's `null` (the missing item of the shorter list). */
function compareItem(a: Item, b: Item | undefined): number {
  if (a.kind === 'number') {
    if (b === undefined) return a.value === 0n ? 0 : 1; // 1.0 == 1, 1.1 > 1
    if (b.kind === 'number') return a.value < b.value ? -1 : a.value > b.value ? 1 : 0;
    return 1; // 1.1 > 1-sp, 1.1 > 1-1
  }
  if (a.kind === 'string') {
    if (b === undefined) return cmpStrings(comparableQualifier(a.value), RELEASE_INDEX); // 1-rc < 1, 1-sp > 1
    if (b.kind === 'string') return cmpStrings(comparableQualifier(a.value), comparableQualifier(b.value));
    return -1; // 1.any < 1.1, 1.any < 1-1
  }
  if (b === undefined) {
    // MNG-6964: the whole list is compared with null, not only its first item (1-0.alpha < 1).
    for (const item of a.items) {
      const r = compareItem(item, undefined);
      if (r !== 0) return r;
    }
    return 0;
  }
  if (b.kind === 'number') return -1; // 1-1 < 1.0.x
  if (b.kind === 'string') return 1; // 1-1 > 1-sp
  const n = Math.max(a.items.length, b.items.length);
  for (let i = 0; i < n; i++) {
    const l = a.items[i];
    const r = b.items[i];
    const result = l === undefined ? (r === undefined ? 0 : -compareItem(r, undefined)) : compareItem(l, r);
    if (result !== 0) return result;
  }
  return 0;
}

/** `ListItem.normalize`: drop trailing null items (`0`, `''`, empty lists), looking through trailing sub-lists. */
function normalize(list: Item[]): void {
  for (let i = list.length - 1; i >= 0; i--) {
    const item = list[i]!;
    if (isNull(item)) list.splice(i, 1);
    else if (item.kind !== 'list') break;
  }
}

function numberOrQualifier(isDigit: boolean, text: string): Item {
  return isDigit ? { kind: 'number', value: BigInt(text) } : qualifier(text, false);
}

/** Characters this module accepts in a version: Maven accepts anything, repositories publish these. */
const VERSION_TEXT = /^[0-9][0-9A-Za-z._+-]*$/;

/**
 * The item list of `version` by `ComparableVersion.parseVersion` (Maven 3.9), or null when it is not
 * a version this module reads (empty, not starting with a digit, or a character other than letters,
 * digits, `.`, `-`, `_`, `+`: a range such as `[1.0,2.0)` or a `${property}` is not a version).
 */
function parseItems(version: string): Item[] | null {
  if (!VERSION_TEXT.test(version)) return null;
  const text = version.toLowerCase();
  const root: Item[] = [];
  let list = root;
  const stack: Item[][] = [root];
  let isDigit = false;
  let start = 0;
  const push = (): void => {
    const sub: Item[] = [];
    list.push({ kind: 'list', items: sub });
    list = sub;
    stack.push(sub);
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '.' || c === '-') {
      list.push(i === start ? { kind: 'number', value: 0n } : numberOrQualifier(isDigit, text.slice(start, i)));
      start = i + 1;
      if (c === '-') push();
    } else if (c >= '0' && c <= '9') {
      if (!isDigit && i > start) {
        // 1.0.0.X1 < 1.0.0-X2: a qualifier X after a dot is read as -X (Maven 3.9, MNG-5568)
        if (list.length > 0) push();
        list.push(qualifier(text.slice(start, i), true));
        start = i;
        push();
      }
      isDigit = true;
    } else {
      if (isDigit && i > start) {
        list.push(numberOrQualifier(true, text.slice(start, i)));
        start = i;
        push();
      }
      isDigit = false;
    }
  }
  if (text.length > start) {
    if (!isDigit && list.length > 0) push(); // .X read as -X, as above
    list.push(numberOrQualifier(isDigit, text.slice(start)));
  }
  while (stack.length > 0) normalize(stack.pop()!);
  return root;
}

const parsed = new Map<string, Item[] | null>();

function itemsOf(version: string): Item[] | null {
  let items = parsed.get(version);
  if (items === undefined) {
    items = parseItems(version);
    if (parsed.size > 50_000) parsed.clear();
    parsed.set(version, items);
  }
  return items;
}

function checked(version: string): Item[] {
  const items = itemsOf(version);
  if (items === null) throw new InvalidInputError('VERSION_INVALID', `not a Maven version: ${JSON.stringify(version)}`, { details: { version } });
  return items;
}

/**
 * Order of two Maven versions by Maven 3.9's `ComparableVersion`
 * (org.apache.maven.artifact.versioning.ComparableVersion; rules in
 * https://maven.apache.org/pom.html#version-order-specification): the version is split into items
 * at `.`, `-` and digit/letter transitions (a `-` or a transition starts a sub-list, so a hyphen is
 * less important than a dot); trailing nulls (`0`, release qualifiers, empty sub-lists) are dropped
 * (`1.0.0` = `1`); numbers compare numerically (no size limit; leading zeros ignored); qualifiers
 * compare case-insensitively as `alpha` (`a1`) < `beta` (`b1`) < `milestone` (`m1`) < `rc` = `cr` <
 * `snapshot` < `""` = `ga` = `final` = `release` < `sp` < unknown qualifiers (lexically); a number
 * sorts after a qualifier and after a sub-list. Tests: ComparableVersionTest of maven-3.9.x.
 * @throws InvalidInputError `VERSION_INVALID` when either is not a version (see {@link isMavenVersion}).
 */
export function compareMavenVersions(a: string, b: string): number {
  return compareItem({ kind: 'list', items: checked(a) }, { kind: 'list', items: checked(b) });
}

/**
 * Whether `version` is a version this module reads: starts with a digit and has only letters,
 * digits, `.`, `-`, `_` and `+` (Maven itself accepts any string; ranges and `${…}` are not versions).
 */
export function isMavenVersion(version: string): boolean {
  return itemsOf(version) !== null;
}

/** Items in reading order, sub-lists flattened (`1-alpha-2` → `1`, `alpha`, `2`). */
function flatten(items: readonly Item[]): Item[] {
  return items.flatMap((i) => (i.kind === 'list' ? flatten(i.items) : [i]));
}

/** The first unstable qualifier and the number right after it (`2.0-rc2` → `['rc', 2]`), or null. */
function preReleaseOf(items: readonly Item[]): [string, number] | null {
  const flat = flatten(items);
  const i = flat.findIndex((item) => item.kind === 'string' && UNSTABLE.has(item.value));
  if (i === -1) return null;
  const next = flat[i + 1];
  return [(flat[i] as { value: string }).value, next?.kind === 'number' ? Number(next.value) : 0];
}

/**
 * The release segment of a version as written, before trimming (`2.0.0` → `[2, 0, 0]`), so the
 * jump between `2.0.0` and `2.1.0` is found at the right index; qualifiers end it.
 */
function writtenRelease(version: string): number[] {
  const m = /^\d+(?:\.\d+)*/.exec(version);
  return m ? m[0].split('.').map(Number) : [];
}

/** One bound of a requirement interval. */
interface Bound {
  version: string;
  inclusive: boolean;
}

/** An interval of versions; a missing bound is unbounded. */
export interface MavenInterval {
  lower?: Bound;
  upper?: Bound;
}

/**
 * Read a requirement as a union of intervals, or null when it is not one. Two syntaxes are read:
 * - Maven version ranges (https://maven.apache.org/pom.html#dependency-version-requirement-specification):
 *   `[1.0]` (exactly), `[1.0,2.0)`, `(,1.0]`, `[1.5,)`, unions `(,1.0],[1.2,)`; a bare version
 *   `1.0` is Maven's soft requirement, read as exactly that version (what Maven resolves without
 *   a conflict).
 * - Comparator sets, as the OSV evaluation of `@remediation/advisories` renders Maven affected
 *   ranges: `>=1.0,<2.0`, `<=1.5`, `==1.5`, `>=0` (every version); comparators are intersected.
 */
export function parseMavenRequirement(requirement: string): MavenInterval[] | null {
  const text = requirement.replace(/\s+/g, '');
  if (text === '') return null;
  if (/^[[(]/.test(text)) {
    const out: MavenInterval[] = [];
    const re = /([[(])([^[\]()]*)([\])])(?:,|$)/gy;
    let m: RegExpExecArray | null;
    let end = 0;
    while ((m = re.exec(text)) !== null) {
      end = re.lastIndex;
      const [, open, body, close] = m as unknown as [string, string, string, string];
      const parts = body.split(',');
      if (parts.length === 1) {
        if (open !== '[' || close !== ']' || !isMavenVersion(parts[0]!)) return null;
        out.push({ lower: { version: parts[0]!, inclusive: true }, upper: { version: parts[0]!, inclusive: true } });
        continue;
      }
      if (parts.length !== 2) return null;
      const [lo, hi] = parts as [string, string];
      if ((lo !== '' && !isMavenVersion(lo)) || (hi !== '' && !isMavenVersion(hi))) return null;
      out.push({
        ...(lo !== '' ? { lower: { version: lo, inclusive: open === '[' } } : {}),
        ...(hi !== '' ? { upper: { version: hi, inclusive: close === ']' } } : {}),
      });
    }
    return end === text.length && out.length > 0 ? out : null;
  }
  if (isMavenVersion(text)) return [{ lower: { version: text, inclusive: true }, upper: { version: text, inclusive: true } }];
  const interval: MavenInterval = {};
  for (const part of text.split(',')) {
    const m = /^(>=|<=|==|>|<)(.+)$/.exec(part);
    if (!m) return null;
    const [, op, v] = m as unknown as [string, string, string];
    if (op === '>=' && v === '0') continue;
    if (!isMavenVersion(v)) return null;
    if (op === '>=' || op === '>' || op === '==') interval.lower = { version: v, inclusive: op !== '>' };
    if (op === '<=' || op === '<' || op === '==') interval.upper = { version: v, inclusive: op !== '<' };
  }
  return [interval];
}

/** Whether `version` lies in `interval` by {@link compareMavenVersions}. */
export function inMavenInterval(version: string, interval: MavenInterval): boolean {
  const { lower, upper } = interval;
  if (lower) {
    const c = compareMavenVersions(version, lower.version);
    if (c < 0 || (c === 0 && !lower.inclusive)) return false;
  }
  if (upper) {
    const c = compareMavenVersions(version, upper.version);
    if (c > 0 || (c === 0 && !upper.inclusive)) return false;
  }
  return true;
}

function firstNumber(items: readonly Item[]): bigint | null {
  const first = items[0];
  return first?.kind === 'number' ? first.value : null;
}

/**
 * Maven versioning: ordering by {@link compareMavenVersions} (Maven 3.9 `ComparableVersion`).
 * Stable: no `alpha`, `beta`, `milestone`, `rc`/`cr` or `snapshot` qualifier anywhere
 * (`3.2.6.RELEASE`, `4.3.1.Final`, `1.0-GA`, `2.0-sp1` are stable). Compatibility line (moderate
 * tier): the same first numeric component (`2.14.1` and `2.17.1` share it, `3.2.6.RELEASE` and
 * `5.2.24.RELEASE` do not). `satisfies` reads Maven version ranges and comparator sets
 * ({@link parseMavenRequirement}). `parse` maps a version onto the seam's shape: `release` the
 * leading numbers, `pre` the first unstable qualifier with the number after it.
 */
export const mavenVersioning: Versioning = {
  scheme: 'maven',
  isValid: isMavenVersion,
  parse(version): ParsedVersion | null {
    const items = itemsOf(version);
    if (items === null) return null;
    return { epoch: 0, release: writtenRelease(version), pre: preReleaseOf(items), post: null, dev: null, local: null };
  },
  compare: compareMavenVersions,
  satisfies(version, requirement) {
    checked(version);
    const intervals = parseMavenRequirement(requirement);
    if (intervals === null) throw new InvalidInputError('REQUIREMENT_INVALID', `not a Maven version requirement: ${JSON.stringify(requirement)}`, { details: { requirement } });
    return intervals.some((i) => inMavenInterval(version, i));
  },
  isStable: (version) => preReleaseOf(checked(version)) === null,
  sameLine: (a, b) => firstNumber(checked(a)) === firstNumber(checked(b)),
  jump(from, to): JumpSize {
    checked(from);
    checked(to);
    const a = writtenRelease(from);
    const b = writtenRelease(to);
    const n = Math.max(a.length, b.length);
    for (let i = 0; i < n; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return i === 0 ? 'major' : i === 1 ? 'minor' : 'patch';
    return 'patch';
  },
  candidates(published: readonly PublishedVersion[], inUse: readonly string[] = []): string[] {
    const used = inUse.filter(isMavenVersion);
    return published
      .filter((p) => isMavenVersion(p.version))
      .filter((p) => used.some((u) => compareMavenVersions(u, p.version) === 0) || (!p.yanked && mavenVersioning.isStable(p.version)))
      .map((p) => p.version)
      .sort(compareMavenVersions);
  },
};
