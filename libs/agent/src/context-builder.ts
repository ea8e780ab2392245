import { glob, realpath } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { JumpSize, Severity } from '@remediation/contracts';
import { ecosystemFor, npmEcosystem, type Ecosystem } from '@remediation/ecosystems';
import { renderPrompt } from './prompts.js';
import { DEFAULT_MAX_FILE_BYTES, readWorkspaceFile } from './workspace.js';

/** Extensions (without the dot) of the files searched for imports/requires: npm's `sourceExtensions`. */
export const SOURCE_EXTENSIONS: readonly string[] = npmEcosystem.sourceExtensions.map((e) => e.replace(/^\./, ''));

/** How a module refers to the package. */
export type UsageKind = 'import' | 'export' | 'side-effect-import' | 'dynamic-import' | 'require';

/** One place the package is referenced. */
export interface PackageUsage {
  /** Workspace-relative POSIX path. */
  path: string;
  /** 1-based line of the module specifier. */
  line: number;
  kind: UsageKind;
  /** The specifier as written, e.g. `express-jwt` or `lodash/fp`. */
  specifier: string;
  /** The statement, whitespace-collapsed, cut to 200 characters. */
  snippet: string;
}

/** Result of {@link findPackageUsages}. */
export interface UsageSearch {
  usages: PackageUsage[];
  filesScanned: number;
  /** True when `maxUsages` cut the list. */
  truncated: boolean;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/**
 * Files under `workspaceDir` with one of `extensions` (without the dot), sorted; `.git` and the
 * folders named in `skipped` are not entered.
 */
async function sourceFiles(workspaceDir: string, extensions: readonly string[], skipped: readonly string[]): Promise<string[]> {
  if (extensions.length === 0) return [];
  const pattern = extensions.length === 1 ? `**/*.${extensions[0]}` : `**/*.{${extensions.join(',')}}`;
  const files: string[] = [];
  for await (const entry of glob(pattern, { cwd: workspaceDir, withFileTypes: true, exclude: (d) => d.name === '.git' || skipped.includes(d.name) })) {
    if (entry.isFile()) files.push(join(entry.parentPath, entry.name));
  }
  return files.sort();
}

/**
 * A source file's workspace-relative path and text, or null: only files whose real path stays in
 * the workspace (`root`, already resolved); oversized, hard-linked and special files are skipped
 * (readWorkspaceFile), as the agent's own tools do.
 */
async function readSource(root: string, workspaceDir: string, file: string): Promise<{ rel: string; text: string } | null> {
  const rel = relative(workspaceDir, file).split('\\').join('/');
  const real = await realpath(file).catch(() => null);
  if (real === null || relative(root, real).startsWith('..')) return null;
  const bytes = await readWorkspaceFile(real, rel, DEFAULT_MAX_FILE_BYTES).catch(() => null);
  return bytes === null ? null : { rel, text: bytes.toString('utf8') };
}

/** A statement as shown in a usage: at most 200 characters. */
function snippetOf(statement: string): string {
  return statement.length > 200 ? `${statement.slice(0, 200)}…` : statement;
}

/**
 * The regular expression of module specifiers naming `packageName` or a subpath of it:
 * `from 'x'` (import/export … from, multi-line statements included), `import 'x'`,
 * `import('x')`, `require('x')` (also `import y = require('x')`), with ', " or ` quotes.
 */
function specifierPattern(packageName: string): RegExp {
  const name = escapeRegExp(packageName);
  return new RegExp(
    String.raw`(\bfrom\s*|\bimport\s*|\bimport\s*\(\s*|\brequire\s*\(\s*)(['"\x60])(${name}(?:\/[^'"\x60\s]*)?)\2`,
    'g',
  );
}

function lineAt(text: string, index: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i !== -1 && i < index; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

/**
 * Deterministic search for the modules that import or require `packageName` in the `.js`,
 * `.cjs`, `.mjs`, `.jsx`, `.ts`, `.cts`, `.mts`, `.tsx` files under `workspaceDir`, skipping
 * `node_modules`, `.git` and files over 1 MiB. A text search (comments and strings that look
 * like imports count too); usages sorted by path then line.
 * @param options.maxUsages default 200.
 */
export async function findPackageUsages(workspaceDir: string, packageName: string, options: { maxUsages?: number } = {}): Promise<UsageSearch> {
  const maxUsages = options.maxUsages ?? 200;
  const files = await sourceFiles(workspaceDir, SOURCE_EXTENSIONS, ['node_modules']);
  const root = await realpath(workspaceDir);
  const usages: PackageUsage[] = [];
  for (const file of files) {
    const source = await readSource(root, workspaceDir, file);
    if (source === null) continue;
    const { rel, text } = source;
    if (!text.includes(packageName)) continue;
    for (const match of text.matchAll(specifierPattern(packageName))) {
      const keyword = match[1]!;
      const specifier = match[3]!;
      const at = match.index;
      let kind: UsageKind;
      let statementStart = text.lastIndexOf('\n', at) + 1;
      if (keyword.startsWith('require')) kind = 'require';
      else if (keyword.includes('(')) kind = 'dynamic-import';
      else if (keyword.startsWith('import')) kind = 'side-effect-import';
      else {
        // `from`: the statement starts at the nearest import/export keyword before it.
        const before = text.slice(Math.max(0, at - 2000), at);
        const keywords = [...before.matchAll(/\b(import|export)\b/g)];
        const lastKeyword = keywords.at(-1);
        kind = lastKeyword?.[1] === 'export' ? 'export' : 'import';
        if (lastKeyword) statementStart = Math.max(0, at - before.length) + lastKeyword.index;
      }
      const end = text.indexOf('\n', at + match[0].length);
      const statement = text.slice(statementStart, end === -1 ? text.length : end).replace(/\s+/g, ' ').trim();
      usages.push({ path: rel, line: lineAt(text, at + match[1]!.length), kind, specifier, snippet: snippetOf(statement) });
    }
  }
  return { usages: usages.slice(0, maxUsages), filesScanned: files.length, truncated: usages.length > maxUsages };
}

/**
 * Per ecosystem (purl type) other than npm, the folders its usage search skips besides `.git`
 * (Python: virtual environments, bytecode caches, installed packages; Rust: Cargo's build output
 * `target/`, https://doc.rust-lang.org/cargo/reference/build-cache.html; Go: the `vendor/` copies
 * of dependencies, https://go.dev/ref/mod#vendoring; Maven: its build output `target/` and wrapper
 * folder `.mvn/`) and the language named in
 * the prompt. The files searched are the ecosystem's `sourceExtensions`.
 */
const SOURCES_BY_ECOSYSTEM: Readonly<Record<string, { skipped: readonly string[]; language: string }>> = {
  pypi: { skipped: ['.venv', 'venv', '__pycache__', 'node_modules', 'site-packages'], language: 'Python' },
  cargo: { skipped: ['target', 'node_modules'], language: 'Rust' },
  golang: { skipped: ['vendor', 'node_modules'], language: 'Go' },
  maven: { skipped: ['target', 'node_modules', '.mvn'], language: 'Java/Kotlin' },
};

/**
 * Deterministic search for the lines that use package `packageName` of `ecosystem` (not npm: for
 * npm use {@link findPackageUsages}): every line of the files with one of the ecosystem's
 * `sourceExtensions` (Python: `.py`, `.pyi`; Rust: `.rs`; Go: `.go`) matching one of
 * `ecosystem.usagePatterns(packageName)` (`import x`, `from x import y`; `use x::…`,
 * `extern crate x`, `x::path`), skipping `.git`, virtual environments, caches, Cargo's `target/`
 * and files over 1 MiB; usages (`kind: 'import'`, `specifier` the matched text) sorted by path
 * then line.
 * @param options.maxUsages default 200.
 */
export async function findEcosystemUsages(workspaceDir: string, ecosystem: Ecosystem, packageName: string, options: { maxUsages?: number } = {}): Promise<UsageSearch> {
  const maxUsages = options.maxUsages ?? 200;
  const sources = SOURCES_BY_ECOSYSTEM[ecosystem.purlType] ?? { skipped: [], language: ecosystem.purlType };
  const patterns = ecosystem.usagePatterns(packageName);
  const files = await sourceFiles(workspaceDir, ecosystem.sourceExtensions.map((e) => e.replace(/^\./, '')), sources.skipped);
  const root = await realpath(workspaceDir);
  const usages: PackageUsage[] = [];
  for (const file of files) {
    const source = await readSource(root, workspaceDir, file);
    if (source === null) continue;
    const { rel } = source;
    const lines = source.text.split(/\r?\n/);
    lines.forEach((line, i) => {
      const match = patterns.map((p) => p.exec(line)).find((m) => m !== null);
      if (!match) return;
      const statement = line.replace(/\s+/g, ' ').trim();
      usages.push({ path: rel, line: i + 1, kind: 'import', specifier: match[0].trim(), snippet: snippetOf(statement) });
    });
  }
  return { usages: usages.slice(0, maxUsages), filesScanned: files.length, truncated: usages.length > maxUsages };
}

/** An advisory as the agent is told about it. */
export interface TargetAdvisory {
  /** e.g. `GHSA-6g6m-m6h5-w9gf`. */
  id: string;
  severity: Severity;
  summary?: string;
  /** Other ids, e.g. `CVE-2020-15084`. */
  aliases?: string[];
}

/** What the agent is told about one target. */
export interface TargetDescription {
  /** Package name, e.g. `express-jwt`. */
  name: string;
  /** Version before (the installed one). */
  from: string;
  /** Version after the bump. */
  to: string;
  jump: JumpSize;
  advisories: TargetAdvisory[];
  /** Known breaking changes between from and to (changelog lines, migration notes). */
  breakingChanges?: string[];
  /** Repository-relative manifest path; default the ecosystem's (`package.json` for npm). */
  manifestPath?: string;
  /** purl type of the package (`npm`, `pypi`, …); default `npm`. */
  ecosystem?: string;
}

/** Result of {@link buildTargetContext}. */
export interface TargetContext {
  /** The rendered per-target prompt (`prompts/target.md`). */
  text: string;
  usages: PackageUsage[];
}

/**
 * The per-target user message for the code-fix agent: version change, advisories, breaking
 * changes, the manifest diff already applied, and every import/require of the package with
 * `path:line: statement` (from {@link findPackageUsages} for npm, {@link findEcosystemUsages}
 * with the ecosystem's usage patterns otherwise), rendered from `prompts/target.md`.
 * @param input.manifestDiff unified diff of the manifest edit (see {@link manifestDiff}).
 */
export async function buildTargetContext(input: {
  workspaceDir: string;
  target: TargetDescription;
  manifestDiff: string;
  maxUsages?: number;
}): Promise<TargetContext> {
  const { target } = input;
  const limits = input.maxUsages !== undefined ? { maxUsages: input.maxUsages } : {};
  const ecosystem = target.ecosystem === undefined || target.ecosystem === 'npm' ? undefined : ecosystemFor(target.ecosystem);
  const search = ecosystem ? await findEcosystemUsages(input.workspaceDir, ecosystem, target.name, limits) : await findPackageUsages(input.workspaceDir, target.name, limits);
  const sources = ecosystem ? SOURCES_BY_ECOSYSTEM[ecosystem.purlType] : undefined;
  const advisories = target.advisories.length
    ? target.advisories
        .map((a) => `- ${a.id}${a.aliases?.length ? ` (${a.aliases.join(', ')})` : ''} [${a.severity}]${a.summary ? `: ${a.summary}` : ''}`)
        .join('\n')
    : '- none listed';
  const breaking = target.breakingChanges?.length
    ? target.breakingChanges.map((b) => `- ${b}`).join('\n')
    : target.jump === 'major'
      ? '- none recorded; this is a major upgrade, so check the package\'s changelog knowledge for API changes'
      : '- none recorded';
  const usageLines = search.usages.length
    ? search.usages.map((u) => `- ${u.path}:${u.line}: ${u.snippet}`).join('\n') + (search.truncated ? '\n- … more usages not listed; use grep' : '')
    : '- none found: the package may be used only indirectly (another dependency, a config file, a CLI)';
  const text = await renderPrompt('target', {
    name: target.name,
    from: target.from,
    to: target.to,
    jump: target.jump,
    manifestPath: target.manifestPath ?? ecosystem?.defaultManifestPath ?? 'package.json',
    ecosystem: ecosystem ? ` (${ecosystem.purlType})` : '',
    siteKind: ecosystem ? 'import' : 'import/require',
    language: sources?.language ?? (ecosystem ? ecosystem.purlType : 'JavaScript/TypeScript'),
    skipped: ecosystem ? ['.git', ...(sources?.skipped ?? [])].join(', ') : 'node_modules',
    advisories,
    breakingChanges: breaking,
    manifestDiff: input.manifestDiff.trimEnd(),
    usages: usageLines,
    usageCount: search.usages.length + (search.truncated ? '+' : ''),
    filesScanned: search.filesScanned,
  });
  return { text, usages: search.usages };
}

/**
 * A unified diff (`---`/`+++`, `@@` hunks with one line of context) between two versions of a
 * manifest whose edits keep the line count (what `bumpNpmDependency` produces: only version
 * literals change). Falls back to whole-file removal/addition when line counts differ.
 * Returns '' when the texts are equal.
 */
export function manifestDiff(path: string, before: string, after: string): string {
  if (before === after) return '';
  const a = before.split('\n');
  const b = after.split('\n');
  const header = `--- a/${path}\n+++ b/${path}\n`;
  if (a.length !== b.length) {
    return `${header}@@ -1,${a.length} +1,${b.length} @@\n${a.map((l) => `-${l}`).join('\n')}\n${b.map((l) => `+${l}`).join('\n')}\n`;
  }
  const changed = a.map((l, i) => l !== b[i]);
  const hunks: string[] = [];
  for (let i = 0; i < a.length; i++) {
    if (!changed[i]) continue;
    const start = Math.max(0, i - 1);
    let end = i;
    while (end + 1 < a.length && (changed[end + 1] || (end + 2 < a.length && changed[end + 2]))) end++;
    const stop = Math.min(a.length - 1, end + 1);
    const lines: string[] = [];
    for (let k = start; k <= stop; k++) {
      if (changed[k]) lines.push(`-${a[k]}`, `+${b[k]}`);
      else lines.push(` ${a[k]}`);
    }
    const count = stop - start + 1;
    hunks.push(`@@ -${start + 1},${count} +${start + 1},${count} @@\n${lines.join('\n')}`);
    i = stop;
  }
  return `${header}${hunks.join('\n')}\n`;
}
