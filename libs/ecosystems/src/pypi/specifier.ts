import * as pep440 from '@renovatebot/pep440';
import type { RefusalReason } from '../types.js';

/** A PEP 508 requirement split into spans (offsets into the parsed string). */
export interface RequirementParts {
  name: string;
  nameEnd: number;
  extras: string[];
  /** Start and end of the version specifier (inside parentheses when written `name (>=1)`); equal when there is none. */
  specStart: number;
  specEnd: number;
  specifier: string;
  marker?: string;
  /** `name @ url` direct reference. */
  url?: string;
}

const HEAD = /^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:\[([^\]]*)\])?/;

/**
 * Split a PEP 508 requirement (https://peps.python.org/pep-0508/) such as
 * `requests[socks] (>=2.28,<3) ; python_version > "3.8"` into name, extras, specifier span,
 * marker and direct URL. Returns null when the text does not start with a distribution name.
 */
export function parseRequirement(text: string): RequirementParts | null {
  const head = HEAD.exec(text);
  if (!head) return null;
  const name = head[1]!;
  const nameEnd = head[0].indexOf(name) + name.length;
  const extras = (head[2] ?? '').split(',').map((e) => e.trim()).filter(Boolean);
  let rest = head[0].length;
  const semicolon = text.indexOf(';', rest);
  const specEndRaw = semicolon === -1 ? text.length : semicolon;
  const marker = semicolon === -1 ? undefined : text.slice(semicolon + 1).trim();
  const between = text.slice(rest, specEndRaw);
  if (between.trimStart().startsWith('@')) {
    return { name, nameEnd, extras, specStart: rest, specEnd: rest, specifier: '', url: between.trim().slice(1).trim(), ...(marker ? { marker } : {}) };
  }
  while (rest < specEndRaw && /\s/.test(text[rest]!)) rest++;
  let end = specEndRaw;
  while (end > rest && /\s/.test(text[end - 1]!)) end--;
  if (rest >= end) {
    const at = head[0].length;
    return { name, nameEnd, extras, specStart: at, specEnd: at, specifier: '', ...(marker ? { marker } : {}) };
  }
  if (text[rest] === '(' && text[end - 1] === ')') {
    rest++;
    end--;
  }
  return { name, nameEnd, extras, specStart: rest, specEnd: end, specifier: text.slice(rest, end), ...(marker ? { marker } : {}) };
}

/** Outcome of raising a specifier's floor. */
export type FloorChange =
  | { status: 'edited'; specifier: string }
  | { status: 'unchanged' }
  | { status: 'refused'; reason: RefusalReason; message: string };

const CLAUSE = /^(\s*)(~=|===|==|!=|<=|>=|<|>)(\s*)(\S*?)(\s*)$/;

/**
 * `fixed` written with the release-segment count of `like` for `~=` (PEP 440 §"Compatible
 * release"): trailing zero segments are dropped down to that count so `~=2.28` → `~=2.31` for
 * 2.31.0, never dropping a non-zero segment (`~=2.28` → `~=2.31.1` for 2.31.1). At least two segments.
 */
export function compatibleReleaseOperand(fixed: string, like: string): string {
  const f = pep440.parse(fixed);
  const l = pep440.parse(like);
  if (!f || !l || f.pre || f.post || f.dev || f.local || f.epoch) return fixed;
  const want = Math.max(2, l.release.length);
  const release = [...f.release];
  while (release.length > want && release[release.length - 1] === 0) release.pop();
  while (release.length < 2) release.push(0);
  return release.join('.');
}

/**
 * Raise the floor of a PEP 440 specifier set (PEP 440 §"Version specifiers") so that `fixed`
 * is its lowest allowed version, keeping each clause's operator and spacing: `==a` → `==fixed`,
 * `===a` → `===fixed`, `>=a`/`>a` → `>=fixed`, `~=a` → `~=fixed` (segment count kept), an empty
 * specifier → `>=fixed`, a set without a lower bound gets `>=fixed,` in front. `unchanged` when
 * the existing floor is already at or above `fixed`; `refused` for wildcards (`==2.*`), arbitrary
 * text, or when the result would not allow `fixed` (an upper bound or `!=` excluding it).
 */
export function raisePep440Floor(specifier: string, fixed: string): FloorChange {
  if (specifier.trim() === '') return { status: 'edited', specifier: `>=${fixed}` };
  const clauses = specifier.split(',');
  let floor: string | undefined;
  const parts: Array<RegExpExecArray> = [];
  for (const c of clauses) {
    const m = CLAUSE.exec(c);
    if (!m || (!m[4]!.endsWith('.*') && m[2] !== '===' && pep440.valid(m[4]!) === null)) {
      return { status: 'refused', reason: 'unsupported-requirement', message: `cannot read the specifier ${JSON.stringify(specifier)} (PEP 440)` };
    }
    if (m[4]!.endsWith('.*') && m[2] === '==') {
      return { status: 'refused', reason: 'unsupported-requirement', message: `a prefix match ${JSON.stringify(c.trim())} has no floor to raise` };
    }
    parts.push(m);
    if (['==', '===', '>=', '>', '~='].includes(m[2]!) && pep440.valid(m[4]!) !== null) {
      if (floor === undefined || pep440.gt(m[4]!, floor)) floor = m[4]!;
    }
  }
  if (floor !== undefined && pep440.gte(floor, fixed)) return { status: 'unchanged' };
  let out: string;
  if (floor === undefined) {
    out = `>=${fixed},${specifier}`;
  } else {
    out = parts
      .map((m) => {
        const [, lead, op, mid, operand, trail] = m as unknown as [string, string, string, string, string, string];
        switch (op) {
          case '==':
          case '===':
            return `${lead}${op}${mid}${fixed}${trail}`;
          case '>=':
          case '>':
            return `${lead}>=${mid}${fixed}${trail}`;
          case '~=':
            return `${lead}~=${mid}${compatibleReleaseOperand(fixed, operand)}${trail}`;
          default:
            return m[0];
        }
      })
      .join(',');
  }
  if (!pep440.satisfies(fixed, out, { prereleases: true })) {
    return { status: 'refused', reason: 'cap-excludes-fix', message: `${JSON.stringify(specifier)} raised to ${JSON.stringify(out)} would not allow ${fixed}` };
  }
  return { status: 'edited', specifier: out };
}
