import { InvalidInputError } from '@remediation/errors';
import { applyFloorEdits } from '../pypi/floor-edits.js';
import { lineAt } from '../text-position.js';
import type { FloorChange } from '../pypi/specifier.js';
import type { ManifestContents, ManifestDependency, ManifestEdit, ManifestManager } from '../types.js';
import { canonicalGoVersion, goVersioning, parseGoVersion } from './versioning.js';

/** One token of a go.mod line: its value (quotes removed, escapes read) and where its source text lies. */
interface Token {
  value: string;
  start: number;
  end: number;
  /** Offset and length of the value in the source when it can be spliced (bare, or quoted without escapes); null otherwise. */
  splice: { offset: number; length: number } | null;
}

/** One directive line (`require x v1`, or a line inside `require ( … )`) with its trailing comment. */
interface DirectiveLine {
  verb: string;
  args: Token[];
  /** Text of the trailing `//` comment, trimmed, or null. */
  comment: string | null;
  line: number;
}

/** A `replace` directive (https://go.dev/ref/mod#go-mod-file-replace). */
export interface GoReplace {
  /** Module path replaced. */
  path: string;
  /** The version replaced, or null when every version is. */
  version: string | null;
  /** The replacement as written: `path version` or a file path. */
  replacement: string;
  line: number;
}

/** What {@link parseGoMod} reads from a go.mod file. */
export interface GoModFile {
  /** The `module` path, or null when absent. */
  module: string | null;
  requires: Array<{ path: string; version: Token; indirect: boolean; line: number }>;
  replaces: GoReplace[];
  excludes: Array<{ path: string; version: string; line: number }>;
}

function invalid(file: string, line: number, why: string): InvalidInputError {
  return new InvalidInputError('MANIFEST_INVALID', `${file} line ${line} is not valid go.mod: ${why}`, { details: { file, line } });
}

const JSON_ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', '"': '"', '\\': '\\', '/': '/' };

/** Tokens and trailing comment of one line (https://go.dev/ref/mod#go-mod-file-lexical): identifiers, `"…"` and `` `…` `` strings, `(`, `)`, `=>`, `//` comments. */
function tokenize(file: string, text: string, start: number, end: number, lineNo: number): { tokens: Token[]; comment: string | null } {
  const tokens: Token[] = [];
  let i = start;
  while (i < end) {
    const c = text[i]!;
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
    } else if (text.startsWith('//', i)) {
      return { tokens, comment: text.slice(i + 2, end).trim() };
    } else if (c === '(' || c === ')') {
      tokens.push({ value: c, start: i, end: i + 1, splice: null });
      i++;
    } else if (text.startsWith('=>', i)) {
      tokens.push({ value: '=>', start: i, end: i + 2, splice: null });
      i += 2;
    } else if (c === '"') {
      let j = i + 1;
      let value = '';
      let escaped = false;
      while (j < end && text[j] !== '"') {
        if (text[j] === '\\') {
          const e = JSON_ESCAPES[text[j + 1] ?? ''];
          if (e === undefined) throw invalid(file, lineNo, `unsupported escape in a quoted string`);
          value += e;
          escaped = true;
          j += 2;
        } else {
          value += text[j];
          j++;
        }
      }
      if (j >= end) throw invalid(file, lineNo, 'unterminated quoted string');
      tokens.push({ value, start: i, end: j + 1, splice: escaped ? null : { offset: i + 1, length: j - i - 1 } });
      i = j + 1;
    } else if (c === '`') {
      const j = text.indexOf('`', i + 1);
      if (j < 0 || j >= end) throw invalid(file, lineNo, 'unterminated raw string');
      tokens.push({ value: text.slice(i + 1, j), start: i, end: j + 1, splice: { offset: i + 1, length: j - i - 1 } });
      i = j + 1;
    } else {
      let j = i;
      while (j < end && !/[\s()"`]/.test(text[j]!) && !text.startsWith('//', j) && !text.startsWith('=>', j)) j++;
      tokens.push({ value: text.slice(i, j), start: i, end: j, splice: { offset: i, length: j - i } });
      i = j;
    }
  }
  return { tokens, comment: null };
}

/** Directive lines of a go.mod file, blocks (`verb (` … `)`) flattened into one line per entry. */
function directiveLines(file: string, text: string): DirectiveLine[] {
  const out: DirectiveLine[] = [];
  let block: { verb: string; line: number } | null = null;
  let lineStart = 0;
  let lineNo = 1;
  while (lineStart <= text.length) {
    const nl = text.indexOf('\n', lineStart);
    const lineEnd = nl < 0 ? text.length : nl;
    const { tokens, comment } = tokenize(file, text, lineStart, lineEnd, lineNo);
    if (tokens.length > 0) {
      const values = tokens.map((t) => t.value);
      if (block !== null) {
        if (values[0] === ')') {
          if (tokens.length > 1) throw invalid(file, lineNo, 'unexpected text after ")"');
          block = null;
        } else {
          if (values.includes('(') || values.includes(')')) throw invalid(file, lineNo, `unexpected parenthesis inside the ${block.verb} block`);
          out.push({ verb: block.verb, args: tokens, comment, line: lineNo });
        }
      } else if (values[0] === '(' || values[0] === ')') {
        throw invalid(file, lineNo, `unexpected "${values[0]}"`);
      } else if (values[1] === '(') {
        if (tokens.length === 3 && values[2] === ')') {
          // `require ()`: an empty block on one line.
        } else if (tokens.length > 2) {
          throw invalid(file, lineNo, 'unexpected text after "("');
        } else {
          block = { verb: values[0]!, line: lineNo };
        }
      } else {
        out.push({ verb: values[0]!, args: tokens.slice(1), comment, line: lineNo });
      }
    }
    if (nl < 0) break;
    lineStart = nl + 1;
    lineNo++;
  }
  if (block !== null) throw invalid(file, block.line, `the ${block.verb} block is not closed with ")"`);
  return out;
}

/**
 * Read a go.mod file (https://go.dev/ref/mod#go-mod-file): `module`, `require` (single lines and
 * blocks; `// indirect` comments, https://go.dev/ref/mod#go-mod-file-require), `replace`
 * (`path [version] => path [version]` or `=> ./dir`), `exclude`; `go`, `toolchain`, `godebug`,
 * `retract` (about this module's own versions), `tool`, `ignore` and unknown verbs are skipped.
 * Comments, quoted (`"…"`) and raw (`` `…` ``) strings are read; offsets of each required version
 * are kept for byte-exact edits.
 * @throws InvalidInputError `MANIFEST_INVALID` naming the line: an unclosed block or string, a
 *   stray parenthesis, a `require`/`exclude` without exactly a module path and a version, a
 *   `replace` without `=>`.
 */
export function parseGoMod(file: string, text: string): GoModFile {
  const mod: GoModFile = { module: null, requires: [], replaces: [], excludes: [] };
  for (const d of directiveLines(file, text)) {
    const values = d.args.map((a) => a.value);
    if (d.verb === 'module') {
      if (values.length !== 1) throw invalid(file, d.line, 'module needs exactly one module path');
      mod.module = values[0]!;
    } else if (d.verb === 'require') {
      if (values.length !== 2) throw invalid(file, d.line, 'require needs a module path and a version');
      const indirect = d.comment !== null && /^indirect(?:;|$)/.test(d.comment);
      mod.requires.push({ path: values[0]!, version: d.args[1]!, indirect, line: d.line });
    } else if (d.verb === 'exclude') {
      if (values.length !== 2) throw invalid(file, d.line, 'exclude needs a module path and a version');
      mod.excludes.push({ path: values[0]!, version: values[1]!, line: d.line });
    } else if (d.verb === 'replace') {
      const arrow = values.indexOf('=>');
      if (arrow < 1 || arrow > 2 || arrow === values.length - 1 || values.length - arrow - 1 > 2) {
        throw invalid(file, d.line, 'replace needs `path [version] => path [version]`');
      }
      mod.replaces.push({ path: values[0]!, version: arrow === 2 ? values[1]! : null, replacement: values.slice(arrow + 1).join(' '), line: d.line });
    }
  }
  return mod;
}


/** The major version a module path allows (https://go.dev/ref/mod#major-version-suffixes): `/vN` or gopkg.in's `.vN`; null without a suffix (v0, v1 or `+incompatible`); `'any'` for gopkg.in `-unstable`. */
export function pathMajor(modulePath: string): number | 'any' | null {
  const gopkg = /^gopkg\.in\/.*\.v(\d+)(-unstable)?$/.exec(modulePath);
  if (gopkg) return gopkg[2] ? 'any' : Number(gopkg[1]);
  const suffix = /\/v(\d+)$/.exec(modulePath);
  return suffix && Number(suffix[1]) >= 2 ? Number(suffix[1]) : null;
}

/** The module path of major version `major` of the module at `modulePath` (`x` → `x/v2`, `x/v2` → `x/v3`, `gopkg.in/yaml.v2` → `gopkg.in/yaml.v3`). */
export function modulePathForMajor(modulePath: string, major: number): string {
  if (/^gopkg\.in\//.test(modulePath)) return modulePath.replace(/\.v\d+(-unstable)?$/, `.v${major}`);
  const base = modulePath.replace(/\/v\d+$/, (s) => (Number(s.slice(2)) >= 2 ? '' : s));
  return major <= 1 ? base : `${base}/v${major}`;
}

/**
 * Whether `other` is another major version of module `modulePath` (`x` and `x/v2`, `x/v2` and
 * `x/v3`, `gopkg.in/yaml.v2` and `gopkg.in/yaml.v3`; https://go.dev/ref/mod#major-version-suffixes):
 * the same path once the major suffix is set aside, and not the same path. Paths compare exactly
 * (module paths are case-sensitive).
 */
export function isOtherMajorPath(modulePath: string, other: string): boolean {
  return modulePath !== other && modulePathForMajor(modulePath, 1) === modulePathForMajor(other, 1);
}

/**
 * Manager of Go module files (`go.mod`, https://go.dev/ref/mod#go-mod-file). Extracts every
 * `require`d module, direct ones (section `require`) and `// indirect` ones (section
 * `require // indirect`): both are raised, since minimal version selection builds with the
 * highest requirement of each module (https://go.dev/ref/mod#minimal-version-selection).
 *
 * - `name` and `normalisedName`: the module path as written (module paths are case-sensitive).
 * - `requirement`: the version as written (`v1.2.1`, `v3.2.0+incompatible`, a pseudo-version).
 * - `style`: `go` — a Go requirement is always one version, the minimum MVS selects (Go's proof
 *   reads it so).
 * - `uneditable`: the module is `replace`d (for every version, or for the required one): the build
 *   uses the replacement, so raising the requirement would prove nothing; a version that is not a
 *   canonical module version (a branch name `go mod tidy` would resolve); a quoted version with escapes.
 *
 * `raiseFloor` finds `name` exactly, else case-insensitively (some scanners lowercase golang purls),
 * and writes the fixed version (canonical, with `v`) over the version token and keeps
 * every other byte (`// indirect` included). It refuses (`new-module-path`) when the fix lies in
 * another major version than the module path allows: from v0/v1 to v2+ the fix is in a new module
 * path (`<module>/v2`), which needs code changes (import paths), never a plain bump; a requirement
 * already `+incompatible` moves to a fixed version of the same major `+incompatible`. It also refuses
 * (`excluded`) a fixed version the file `exclude`s. go.sum is not regenerated (`go mod tidy`).
 */
export const goModManager: ManifestManager = {
  name: 'gomod',
  matches: (path) => /(^|\/)go\.mod$/.test(path),
  extract(file, text): ManifestContents {
    const mod = parseGoMod(file, text);
    const dependencies: ManifestDependency[] = mod.requires.map((r) => {
      const replaced = mod.replaces.find((p) => p.path === r.path && (p.version === null || p.version === r.version.value));
      const offset = r.version.splice?.offset ?? r.version.start;
      const length = r.version.splice?.length ?? r.version.end - r.version.start;
      const uneditable = replaced
        ? `replaced by ${replaced.replacement} (replace directive on line ${replaced.line}): the build uses the replacement, not this requirement; edit the replace directive instead`
        : r.version.splice === null
          ? 'the version is a quoted string with escapes'
          : parseGoVersion(r.version.value) === null
            ? `${JSON.stringify(r.version.value)} is not a canonical module version (run go mod tidy first)`
            : undefined;
      return {
        name: r.path,
        normalisedName: r.path,
        requirement: r.version.value,
        style: 'go',
        location: { file, line: lineAt(text, offset), offset, length, section: r.indirect ? 'require // indirect' : 'require' },
        extras: [],
        hashes: false,
        ...(uneditable !== undefined ? { uneditable } : {}),
      };
    });
    return { dependencies, includes: [], hashChecking: false };
  },
  raiseFloor(file, text, name, fixedVersion): ManifestEdit {
    const all = goModManager.extract(file, text).dependencies;
    const exact = all.filter((d) => d.name === name);
    // Some scanners write golang purls lowercase; a case-insensitive match is used only when nothing matches exactly.
    const dependencies = exact.length > 0 ? exact : all.filter((d) => d.name.toLowerCase() === name.toLowerCase());
    if (dependencies.length > 0) name = dependencies[0]!.name;
    if (dependencies.length === 0) return applyFloorEdits(file, text, name, fixedVersion, []);
    const fixed = parseGoVersion(fixedVersion);
    if (!fixed) return { status: 'refused', reason: 'unsupported-requirement', message: `${JSON.stringify(fixedVersion)} is not a Go module version` };
    const allowed = pathMajor(name);
    // An `+incompatible` requirement may move within its major version (still without go.mod);
    // another major version is taken to be a new module path, as modules adopting go.mod do.
    const incompatible = dependencies.some((d) => {
      const current = parseGoVersion(d.requirement);
      return current?.incompatible === true && current.major === fixed.major;
    });
    let written = canonicalGoVersion(fixedVersion);
    if (allowed === null && fixed.major >= 2 && !fixed.incompatible) {
      if (!incompatible) {
        const path = modulePathForMajor(name, fixed.major);
        return {
          status: 'refused',
          reason: 'new-module-path',
          message: `the fix ${written} of ${name} is in ${path}, a new module path: code changes needed (import ${path}, then go mod tidy); ${name} in ${file} was left unchanged`,
          lockfileCommand: 'go mod tidy',
        };
      }
      written = `${written}+incompatible`;
    } else if (typeof allowed === 'number' && fixed.major !== allowed) {
      const path = modulePathForMajor(name, fixed.major);
      return {
        status: 'refused',
        reason: 'new-module-path',
        message: `the fix ${written} of ${name} is in ${path}, a new module path: code changes needed (import ${path}, then go mod tidy); ${name} in ${file} was left unchanged`,
        lockfileCommand: 'go mod tidy',
      };
    }
    const mod = parseGoMod(file, text);
    const excluded = mod.excludes.find((e) => e.path === name && parseGoVersion(e.version)?.semver === fixed.semver);
    if (excluded) {
      return { status: 'refused', reason: 'excluded', message: `${name} ${written} is excluded by ${file} (exclude directive on line ${excluded.line}); choose another fixed version or drop the exclusion` };
    }
    const change = (requirement: string): FloorChange => {
      const current = parseGoVersion(requirement);
      if (!current) return { status: 'refused', reason: 'unsupported-requirement', message: `${JSON.stringify(requirement)} is not a Go module version` };
      return goVersioning.compare(requirement, written) >= 0 ? { status: 'unchanged' } : { status: 'edited', specifier: written };
    };
    return applyFloorEdits(file, text, name, written, dependencies.map((dependency) => ({ dependency, change })));
  },
};
