import { glob, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { z } from 'zod';
import { ToolError } from './errors.js';
import { defineTool, type AgentTool } from './tool.js';
import { readWorkspaceFile, type Workspace } from './workspace.js';
import { MAX_PATH_CHARS, MAX_PATTERN_CHARS } from './limits.js';

/** Bounds of the file tools. */
export interface FileToolLimits {
  /** Lines `read_file` returns when no `limit` is given; default 2000. */
  defaultReadLines?: number;
  /** Characters after which a line is cut in `read_file`/`grep` output; default 2000 / 300. */
  maxLineChars?: number;
  /** Most entries `list_files` returns; default 500. */
  maxListEntries?: number;
  /** Most matches `grep` returns (the model may ask for fewer); default 100, at most 500. */
  maxGrepResults?: number;
  /** Most files `grep` reads in one call; default 20 000. */
  maxGrepFiles?: number;
}

/** Directories listing and searching never enter. */
const SKIPPED_DIRS = new Set(['.git', 'node_modules']);

const pathField = z.string().min(1).max(MAX_PATH_CHARS).describe('Path relative to the workspace root, e.g. src/app.js');

function cut(line: string, max: number): string {
  return line.length > max ? `${line.slice(0, max)}… [line cut at ${max} characters]` : line;
}

function countOccurrences(text: string, needle: string): number {
  let count = 0;
  for (let i = text.indexOf(needle); i !== -1; i = text.indexOf(needle, i + needle.length)) count++;
  return count;
}

/** Rejects glob patterns that could leave the directory they are matched in. */
function assertSafePattern(pattern: string): void {
  if (pattern.startsWith('/') || /^[a-zA-Z]:[\\/]/.test(pattern)) throw new ToolError(`refused: pattern ${pattern} is absolute; patterns are relative to the directory searched`);
  if (pattern.split(/[\\/]/).includes('..')) throw new ToolError(`refused: pattern ${pattern} contains ".."; patterns may not leave the workspace`);
}

/**
 * Files under `dir` (an absolute directory inside the workspace) matching `pattern`, as
 * workspace-relative POSIX paths, sorted, skipping `.git` and `node_modules`; each result's real
 * path is checked against the jail and dropped when a symlink leads outside.
 */
async function matchFiles(workspace: Workspace, dir: string, pattern: string, max: number): Promise<{ files: string[]; truncated: boolean; hidden: number }> {
  assertSafePattern(pattern);
  const found: string[] = [];
  for await (const entry of glob(pattern, { cwd: dir, withFileTypes: true, exclude: (d) => SKIPPED_DIRS.has(d.name) })) {
    if (!entry.isFile() && !entry.isSymbolicLink()) continue;
    found.push(relative(workspace.root, join(entry.parentPath, entry.name)).split('\\').join('/'));
  }
  found.sort();
  const files: string[] = [];
  let hidden = 0;
  for (const rel of found) {
    if (files.length >= max) return { files, truncated: true, hidden };
    try {
      const resolved = await workspace.resolve(rel);
      if (!(await stat(resolved.real)).isFile()) continue;
      files.push(rel);
    } catch {
      hidden++;
    }
  }
  return { files, truncated: false, hidden };
}

/**
 * The file tools of the agent, all jailed to `workspace` (see {@link Workspace}) and returning
 * refusals and failures to the model as `is_error` tool results:
 * - `read_file { path, offset?, limit? }`: numbered lines (`offset` is the first line, 1-based);
 *   refuses directories, files over the size limit, binary files.
 * - `write_file { path, content }`: creates or replaces a file (parents created); edit policy.
 * - `edit_file { path, old_string, new_string, replace_all? }`: exact-string replacement;
 *   `old_string` must occur exactly once unless `replace_all`; edit policy.
 * - `list_files { pattern?, path? }`: glob (`fs.promises.glob`; `**`, `*`, `{a,b}`; dotfiles
 *   only when named) under `path`, files only, `.git`/`node_modules` skipped, bounded.
 * - `grep { pattern, path?, glob?, case_insensitive?, max_results? }`: JavaScript regular
 *   expression over text files, `path:line: text` results, bounded.
 * There is no shell, package manager or network tool.
 */
export function createFileTools(workspace: Workspace, limits: FileToolLimits = {}): AgentTool[] {
  const defaultReadLines = limits.defaultReadLines ?? 2000;
  const maxLineChars = limits.maxLineChars ?? 2000;
  const maxList = limits.maxListEntries ?? 500;
  const maxGrep = Math.min(limits.maxGrepResults ?? 100, 500);
  const maxGrepFiles = limits.maxGrepFiles ?? 20_000;

  const readFileTool = defineTool({
    name: 'read_file',
    description:
      'Read a text file of the workspace. Returns lines prefixed with their 1-based line number and a tab (the prefix is not part of the file). ' +
      'Use offset/limit for long files. Files over 1 MiB and binary files are refused.',
    inputSchema: z.strictObject({
      path: pathField,
      offset: z.number().int().min(1).optional().describe('First line to return, 1-based (default 1)'),
      limit: z.number().int().min(1).max(10_000).optional().describe(`Number of lines to return (default ${defaultReadLines})`),
    }),
    async run({ path, offset, limit }) {
      const { path: resolved, text } = await workspace.readText(path);
      const lines = text.split(/\r?\n/);
      if (lines.length > 1 && lines.at(-1) === '') lines.pop();
      const start = (offset ?? 1) - 1;
      if (text === '') return `${resolved.rel} is empty`;
      if (start >= lines.length) throw new ToolError(`offset ${offset} is past the end of ${resolved.rel} (${lines.length} lines)`);
      const slice = lines.slice(start, start + (limit ?? defaultReadLines));
      const body = slice.map((l, i) => `${String(start + i + 1).padStart(6)}\t${cut(l, maxLineChars)}`).join('\n');
      const end = start + slice.length;
      const more = end < lines.length ? `\n[lines ${start + 1}-${end} of ${lines.length}; read on with offset ${end + 1}]` : '';
      return `${body}${more}`;
    },
  });

  const writeFileTool = defineTool({
    name: 'write_file',
    description:
      'Create a file or replace its whole content. Prefer edit_file for changes to existing files. ' +
      'Test files, CI configuration, lockfiles, .env files and manifests (package.json, requirements*.txt, pyproject.toml, go.mod, Cargo.toml, pom.xml) are refused (use bump_version for dependency versions).',
    inputSchema: z.strictObject({ path: pathField, content: z.string().max(workspace.maxFileBytes).describe('The complete new content of the file') }),
    async run({ path, content }) {
      const resolved = await workspace.resolve(path);
      const existed = resolved.exists;
      await workspace.writeText(resolved, content);
      return `${existed ? 'replaced' : 'created'} ${resolved.rel} (${Buffer.byteLength(content, 'utf8')} bytes)`;
    },
  });

  const editFileTool = defineTool({
    name: 'edit_file',
    description:
      'Replace an exact string in a file. old_string must match the file content exactly (whitespace included, without read_file line-number prefixes) ' +
      'and occur exactly once, unless replace_all is true. Include enough surrounding lines to make it unique. Same path policy as write_file.',
    inputSchema: z.strictObject({
      path: pathField,
      old_string: z.string().min(1).max(workspace.maxFileBytes).describe('Exact text to replace'),
      new_string: z.string().max(workspace.maxFileBytes).describe('Replacement text'),
      replace_all: z.boolean().optional().describe('Replace every occurrence (default false)'),
    }),
    async run({ path, old_string, new_string, replace_all }) {
      if (old_string === new_string) throw new ToolError('old_string and new_string are identical; nothing to change');
      const { path: resolved, text } = await workspace.readText(path);
      let oldText = old_string;
      let newText = new_string;
      let count = countOccurrences(text, oldText);
      if (count === 0 && text.includes('\r\n') && oldText.includes('\n') && !oldText.includes('\r\n')) {
        // The file uses CRLF and the model wrote LF: match and write in the file's style.
        oldText = oldText.replaceAll('\n', '\r\n');
        newText = newText.replaceAll('\r\n', '\n').replaceAll('\n', '\r\n');
        count = countOccurrences(text, oldText);
      }
      if (count === 0) throw new ToolError(`old_string was not found in ${resolved.rel}; read the file again and copy the text exactly`);
      if (count > 1 && !replace_all) {
        throw new ToolError(`old_string occurs ${count} times in ${resolved.rel}; include more surrounding text to make it unique, or set replace_all to true`);
      }
      // split/join: a literal replacement (String.replace would interpret `$&` and friends).
      const updated = replace_all ? text.split(oldText).join(newText) : text.replace(oldText, () => newText);
      await workspace.writeText(resolved, updated);
      return `edited ${resolved.rel}: ${replace_all ? count : 1} replacement${(replace_all ? count : 1) === 1 ? '' : 's'}`;
    },
  });

  const listFilesTool = defineTool({
    name: 'list_files',
    description:
      `List files matching a glob pattern (e.g. "**/*.js", "src/**/*.{ts,tsx}") under a directory of the workspace. ` +
      `Dotfiles match only patterns that name them. .git and node_modules are skipped. At most ${maxList} paths.`,
    inputSchema: z.strictObject({
      pattern: z.string().min(1).max(MAX_PATTERN_CHARS).optional().describe('Glob relative to path (default "**/*")'),
      path: z.string().min(1).max(MAX_PATH_CHARS).optional().describe('Directory to list, relative to the workspace root (default ".")'),
    }),
    async run({ pattern, path }) {
      const dir = await workspace.resolve(path ?? '.');
      if (!dir.exists || !(await stat(dir.real)).isDirectory()) throw new ToolError(`${path} is not a directory of the workspace`);
      const { files, truncated, hidden } = await matchFiles(workspace, dir.real, pattern ?? '**/*', maxList);
      const lines = files.length ? files : ['(no files match)'];
      if (truncated) lines.push(`[more than ${maxList} files; narrow the pattern or path]`);
      if (hidden) lines.push(`[${hidden} path(s) hidden: symlinks leading outside the workspace]`);
      return lines.join('\n');
    },
  });

  const grepTool = defineTool({
    name: 'grep',
    description:
      'Search text files for a JavaScript regular expression (no delimiters, e.g. "require\\\\([\'\\"]express-jwt"). Returns "path:line: text" for each matching line, ' +
      `at most ${maxGrep}. Skips .git, node_modules, binary files and files over 1 MiB.`,
    inputSchema: z.strictObject({
      pattern: z.string().min(1).max(MAX_PATTERN_CHARS).describe('JavaScript regular expression'),
      path: z.string().min(1).max(MAX_PATH_CHARS).optional().describe('File or directory to search, relative to the workspace root (default ".")'),
      glob: z.string().min(1).max(MAX_PATTERN_CHARS).optional().describe('Only files matching this glob, relative to path (default "**/*")'),
      case_insensitive: z.boolean().optional(),
      max_results: z.number().int().min(1).max(500).optional().describe(`Default ${maxGrep}`),
    }),
    async run({ pattern, path, glob: filePattern, case_insensitive, max_results }) {
      let re: RegExp;
      try {
        re = new RegExp(pattern, case_insensitive ? 'i' : '');
      } catch (error) {
        throw new ToolError(`invalid regular expression: ${(error as Error).message}`);
      }
      const limit = Math.min(max_results ?? maxGrep, maxGrep);
      const target = await workspace.resolve(path ?? '.');
      if (!target.exists) throw new ToolError(`${path} does not exist`);
      const files = (await stat(target.real)).isDirectory()
        ? (await matchFiles(workspace, target.real, filePattern ?? '**/*', maxGrepFiles)).files
        : [target.rel];
      const out: string[] = [];
      let truncated = false;
      for (const rel of files) {
        const resolved = await workspace.resolve(rel).catch(() => null);
        if (!resolved) continue;
        // Oversized, hard-linked and special files are skipped (see readWorkspaceFile).
        const bytes = await readWorkspaceFile(resolved.real, rel, workspace.maxFileBytes).catch(() => null);
        if (!bytes) continue;
        if (bytes.subarray(0, 8192).includes(0)) continue;
        const lines = bytes.toString('utf8').split(/\r?\n/);
        for (const [i, line] of lines.entries()) {
          if (!re.test(line.length > 10_000 ? line.slice(0, 10_000) : line)) continue;
          if (out.length >= limit) {
            truncated = true;
            break;
          }
          out.push(`${rel}:${i + 1}: ${cut(line.trim(), 300)}`);
        }
        if (truncated) break;
      }
      if (out.length === 0) return 'no matches';
      if (truncated) out.push(`[results cut at ${limit}; narrow the pattern, path or glob]`);
      return out.join('\n');
    },
  });

  return [readFileTool, writeFileTool, editFileTool, listFilesTool, grepTool];
}
