import semver from 'semver';

/** One end of an interval: a version and whether the interval includes it. */
interface Bound {
  version: string;
  inclusive: boolean;
}

/** A contiguous set of versions; `null` ends are unbounded. */
interface Interval {
  lower: Bound | null;
  upper: Bound | null;
}

const COMPARATOR = /^(<=|>=|!=|<|>|=)?(.+)$/;

/**
 * Converts a CycloneDX `affects[].versions[].range` to an npm range string (node-semver syntax,
 * https://github.com/npm/node-semver#ranges), e.g. `vers:npm/>=1.0.0|<1.20.3` → `>=1.0.0 <1.20.3`,
 * `vers:npm/<0.1.10|>=0.2.0|<1.9.0` → `<0.1.10 || >=0.2.0 <1.9.0`.
 *
 * Accepts the `vers` syntax of https://github.com/package-url/vers-spec (schemes `npm`, `semver`,
 * `cargo` and `golang` only, since only their versions order like semver; the vers spec gives Cargo
 * semver ordering, and Go module versions are semver with a `v`, https://go.dev/ref/mod#versions,
 * which is dropped here; `+incompatible` is build metadata) and, for tools that write npm
 * ranges directly, any string node-semver accepts as a range. Constraints are interpreted with
 * the vers-spec containment algorithm: `=` versions are single points, `!=` versions are cut out,
 * and the remaining `<`/`<=`/`>`/`>=` constraints, sorted by version, pair up into intervals.
 *
 * @param range the range as written in the scan.
 * @returns the npm range, or null when the scheme is not npm/semver/cargo/golang, a version is not valid
 *   semver, or the constraints do not form intervals (e.g. two lower bounds in a row).
 */
export function versToNpmRange(range: string): string | null {
  const trimmed = range.trim();
  if (!trimmed.startsWith('vers:')) {
    return semver.validRange(trimmed) === null ? null : trimmed;
  }
  const slash = trimmed.indexOf('/');
  if (slash < 0) return null;
  const scheme = trimmed.slice('vers:'.length, slash).toLowerCase();
  if (scheme !== 'npm' && scheme !== 'semver' && scheme !== 'cargo' && scheme !== 'golang') return null;
  const body = trimmed.slice(slash + 1).trim();
  if (body === '*') return '*';

  const points: string[] = [];
  const excluded: string[] = [];
  const bounds: { op: '<' | '<=' | '>' | '>='; version: string }[] = [];
  for (const raw of body.split('|')) {
    const constraint = raw.trim();
    const match = COMPARATOR.exec(constraint);
    if (!match) return null;
    const op = match[1] ?? '=';
    let decoded: string;
    try {
      decoded = decodeURIComponent(match[2]!.trim());
    } catch {
      return null;
    }
    const version = semver.valid(decoded);
    if (version === null) return null;
    if (op === '=') points.push(version);
    else if (op === '!=') excluded.push(version);
    else bounds.push({ op: op as '<' | '<=' | '>' | '>=', version });
  }
  bounds.sort((a, b) => semver.compare(a.version, b.version));

  const intervals: Interval[] = [];
  let i = 0;
  if (bounds[0] && (bounds[0].op === '<' || bounds[0].op === '<=')) {
    intervals.push({ lower: null, upper: { version: bounds[0].version, inclusive: bounds[0].op === '<=' } });
    i = 1;
  }
  while (i < bounds.length) {
    const lower = bounds[i]!;
    if (lower.op !== '>' && lower.op !== '>=') return null;
    const upper = bounds[i + 1];
    if (upper === undefined) {
      intervals.push({ lower: { version: lower.version, inclusive: lower.op === '>=' }, upper: null });
      i += 1;
    } else {
      if (upper.op !== '<' && upper.op !== '<=') return null;
      intervals.push({
        lower: { version: lower.version, inclusive: lower.op === '>=' },
        upper: { version: upper.version, inclusive: upper.op === '<=' },
      });
      i += 2;
    }
  }

  let cut = intervals;
  for (const version of excluded) cut = cut.flatMap((interval) => cutOut(interval, version));
  const parts = [...cut.map(renderInterval), ...points.filter((p) => !excluded.includes(p))];
  if (parts.length === 0) return null;
  return parts.join(' || ');
}

/** Splits `interval` around `version` when it contains it. */
function cutOut(interval: Interval, version: string): Interval[] {
  const aboveLower =
    interval.lower === null ||
    semver.gt(version, interval.lower.version) ||
    (interval.lower.inclusive && semver.eq(version, interval.lower.version));
  const belowUpper =
    interval.upper === null ||
    semver.lt(version, interval.upper.version) ||
    (interval.upper.inclusive && semver.eq(version, interval.upper.version));
  if (!aboveLower || !belowUpper) return [interval];
  return [
    { lower: interval.lower, upper: { version, inclusive: false } },
    { lower: { version, inclusive: false }, upper: interval.upper },
  ];
}

function renderInterval(interval: Interval): string {
  const parts: string[] = [];
  if (interval.lower) parts.push(`${interval.lower.inclusive ? '>=' : '>'}${interval.lower.version}`);
  if (interval.upper) parts.push(`${interval.upper.inclusive ? '<=' : '<'}${interval.upper.version}`);
  return parts.length === 0 ? '*' : parts.join(' ');
}
