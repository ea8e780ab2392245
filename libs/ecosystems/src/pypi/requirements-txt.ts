import { posix } from 'node:path';
import type { ManifestContents, ManifestDependency, ManifestEdit, ManifestInclude, ManifestManager } from '../types.js';
import { normalisePythonName } from './names.js';
import { applyFloorEdits, type FloorTarget } from './floor-edits.js';
import { parseRequirement } from './specifier.js';

/** One logical line of a requirements file: physical lines joined at a trailing `\`. */
interface LogicalLine {
  text: string;
  /** File offset of each character of `text`. */
  offsets: number[];
  /** 1-based line number of its first physical line. */
  line: number;
}

function logicalLines(text: string): LogicalLine[] {
  const out: LogicalLine[] = [];
  const lineRe = /([^\r\n]*)(\r\n|\n|\r|$)/g;
  let current: LogicalLine | undefined;
  let lineNo = 0;
  for (let m = lineRe.exec(text); m && m.index < text.length; m = lineRe.exec(text)) {
    lineNo++;
    let body = m[1]!;
    const continued = body.endsWith('\\');
    if (continued) body = body.slice(0, -1);
    current ??= { text: '', offsets: [], line: lineNo };
    current.text += body;
    for (let i = 0; i < body.length; i++) current.offsets.push(m.index + i);
    if (!continued) {
      out.push(current);
      current = undefined;
    }
    if (m[2] === '') break;
  }
  if (current) out.push(current);
  return out;
}

/** pip's comment rule (pip `req_file.py` `COMMENT_RE`): `#` at line start or after whitespace. */
function stripComment(text: string): string {
  const m = /(^|\s+)#.*$/.exec(text);
  return m ? text.slice(0, m.index) : text;
}

const INCLUDE = /^\s*(-r|--requirement|-c|--constraint)(?:\s*=\s*|\s+|(?<=^\s*-[rc]))(\S+)\s*$/;

/**
 * Manager of pip requirements files (https://pip.pypa.io/en/stable/reference/requirements-file-format/):
 * one PEP 508 requirement per line, `\` line continuations, `#` comments, `-r`/`-c` includes
 * (reported, not followed: the caller reads them inside the repository), per-requirement
 * `--hash` options and `--require-hashes`. Files named `requirements*.txt` / `*.in`, or any
 * `.txt` under a `requirements/` folder.
 */
export const requirementsTxtManager: ManifestManager = {
  name: 'pip-requirements',
  matches: (path) => /(^|\/)requirements[^/]*\.(txt|in)$/.test(path) || /(^|\/)requirements\/[^/]+\.(txt|in)$/.test(path),
  extract(file, text): ManifestContents {
    const dependencies: ManifestDependency[] = [];
    const includes: ManifestInclude[] = [];
    let hashChecking = false;
    const dir = posix.dirname(file);
    for (const line of logicalLines(text)) {
      const content = stripComment(line.text);
      if (content.trim() === '') continue;
      const include = INCLUDE.exec(content);
      if (include) {
        const path = include[2]!;
        const joined = posix.normalize(posix.join(dir, path));
        const resolved = /^[a-z][a-z0-9+.-]*:\/\//i.test(path) || posix.isAbsolute(path) || joined.startsWith('..') ? null : joined;
        includes.push({ kind: include[1]!.startsWith('-c') || include[1] === '--constraint' ? 'constraints' : 'requirements', path, resolved, line: line.line });
        continue;
      }
      if (/^\s*-/.test(content)) {
        if (/--require-hashes\b/.test(content)) hashChecking = true;
        continue;
      }
      const optionAt = content.search(/\s--?[A-Za-z]/);
      const requirementText = optionAt === -1 ? content : content.slice(0, optionAt);
      const options = optionAt === -1 ? '' : content.slice(optionAt);
      const hashes = /--hash\b/.test(options);
      if (hashes) hashChecking = true;
      if (/^\s*[./]/.test(requirementText) || (/:\/\//.test(requirementText) && !/@/.test(requirementText))) continue;
      const parts = parseRequirement(requirementText);
      if (!parts) continue;
      const offset = parts.specStart < line.offsets.length ? line.offsets[parts.specStart]! : line.offsets[parts.specStart - 1]! + 1;
      const startLine = line.line + countNewlines(text, line.offsets[0]!, offset);
      dependencies.push({
        name: parts.name,
        normalisedName: normalisePythonName(parts.name),
        requirement: parts.specifier,
        style: 'pep440',
        location: { file, line: startLine, offset, length: parts.specEnd === parts.specStart ? 0 : line.offsets[parts.specEnd - 1]! + 1 - offset, section: 'requirements' },
        extras: parts.extras,
        ...(parts.marker ? { marker: parts.marker } : {}),
        hashes,
        ...(parts.url !== undefined ? { uneditable: `direct reference ${parts.url}` } : {}),
      });
    }
    return { dependencies, includes, hashChecking };
  },
  raiseFloor(file, text, name, fixedVersion): ManifestEdit {
    const contents = requirementsTxtManager.extract(file, text);
    const wanted = normalisePythonName(name);
    const targets: FloorTarget[] = contents.dependencies.filter((d) => d.normalisedName === wanted).map((d) => ({ dependency: d }));
    if (targets.length > 0 && contents.hashChecking) {
      return {
        status: 'refused',
        reason: 'hashes',
        message: `${file} pins with --hash (pip hash-checking mode): ${name} cannot be raised to ${fixedVersion} without new hashes; regenerate it with the lockfile tool`,
        lockfileCommand: 'pip-compile --generate-hashes',
      };
    }
    return applyFloorEdits(file, text, name, fixedVersion, targets);
  },
};

function countNewlines(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) if (text[i] === '\n' || (text[i] === '\r' && text[i + 1] !== '\n')) n++;
  return n;
}
