/**
 * The code-fix agent's evaluation harness: for each case, a fresh workspace (the case's files, the
 * project's real manifest among them), the deterministic bump the patcher makes, one
 * `fixTargets` run against a Messages-API endpoint, and the case's deterministic check.
 * A measurement script, not a test: it reports, it does not assert.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Anthropic from '@anthropic-ai/sdk';
import {
  fixTargets,
  manifestDiff,
  type AgentOutcome,
  type AgentUsage,
  type FixTarget,
  type ModelPricing,
  type ModelRetryOptions,
  type ReportedStatus,
} from '@remediation/agent';
import type { JumpSize } from '@remediation/contracts';
import { bumpNpmDependency, DEPENDENCY_SECTIONS } from '@remediation/manifests';
import semver from 'semver';
import { DEFAULT_CASES_DIR, listCaseIds, loadCase, runCheck, type CheckResult, type EvaluationCase } from './cases.js';

/**
 * List prices in USD per million tokens (input, output) of Anthropic models, from
 * https://docs.anthropic.com/en/docs/about-claude/pricing; matched by the longest id prefix, so
 * dated ids (`claude-sonnet-4-5-20250929`) match too. Prices change: pass `pricing` (CLI
 * `--input-price`/`--output-price`) to override; an unknown model has no cost figure.
 */
export const KNOWN_MODEL_PRICING: Readonly<Record<string, ModelPricing>> = {
  'claude-opus-4-5': { inputUsdPerMTok: 5, outputUsdPerMTok: 25 },
  'claude-opus-4-1': { inputUsdPerMTok: 15, outputUsdPerMTok: 75 },
  'claude-opus-4': { inputUsdPerMTok: 15, outputUsdPerMTok: 75 },
  'claude-sonnet-4-5': { inputUsdPerMTok: 3, outputUsdPerMTok: 15 },
  'claude-sonnet-4': { inputUsdPerMTok: 3, outputUsdPerMTok: 15 },
  'claude-3-7-sonnet': { inputUsdPerMTok: 3, outputUsdPerMTok: 15 },
  'claude-haiku-4-5': { inputUsdPerMTok: 1, outputUsdPerMTok: 5 },
  'claude-3-5-haiku': { inputUsdPerMTok: 0.8, outputUsdPerMTok: 4 },
};

/** Pricing of `model` from {@link KNOWN_MODEL_PRICING} (longest matching prefix), or null. */
export function pricingFor(model: string): ModelPricing | null {
  const key = Object.keys(KNOWN_MODEL_PRICING)
    .filter((k) => model === k || model.startsWith(`${k}-`) || model.startsWith(`${k}@`))
    .sort((a, b) => b.length - a.length)[0];
  return key ? KNOWN_MODEL_PRICING[key]! : null;
}

/** Options of {@link evaluateCases}. */
export interface EvaluateOptions {
  /** A configured SDK client: `new Anthropic({ apiKey, baseURL })` for any Messages-API endpoint. */
  client: Anthropic;
  /** Model id sent with every request, e.g. `claude-sonnet-4-5`. */
  model: string;
  /** Case ids (directory names) to run, in this order; default every case of `casesDir`, sorted. */
  caseIds?: string[];
  /** Default `<repo>/evaluation/cases`. */
  casesDir?: string;
  /** Most model responses per case; default 30. */
  maxTurns?: number;
  /** `max_tokens` of each request; default 8192. */
  maxTokens?: number;
  /**
   * Prices for the cost figure and the cost budget; default {@link pricingFor}(model). `null`
   * (or an unknown model): cost is reported as null and only the token budgets apply.
   */
  pricing?: ModelPricing | null;
  /** Cost budget per case in USD (needs pricing); default 2. */
  maxCostUsd?: number;
  /** Input-token budget per case (all input, cached included); default 1 000 000. */
  maxInputTokens?: number;
  /** Output-token budget per case; default 100 000. */
  maxOutputTokens?: number;
  /** Stream responses (default true; some compatible endpoints only answer non-streaming requests). */
  stream?: boolean;
  /** Our retries of overloaded/mid-stream errors (see `ModelRetryOptions`). */
  retry?: ModelRetryOptions;
  /** Leave each case's workspace on disk (its path is in the result); default false (removed). */
  keepWorkspaces?: boolean;
  /** Progress lines (workspace, each tool call, verdict); default none. */
  log?: (line: string) => void;
}

/** One target's outcome in a {@link CaseResult}. */
export interface TargetResult {
  name: string;
  from: string;
  to: string;
  /** The agent's `report_outcome` status, or `failed` when it reported none. */
  status: ReportedStatus;
  reason: string;
}

/** What one case measured. */
export interface CaseResult {
  caseId: string;
  description: string;
  /**
   * True when every criterion of the case's check passed after the run (the harness's verdict,
   * independent of what the agent reported); null when the case could not run.
   */
  fixed: boolean | null;
  /** Each criterion of `check.all`, then one "manifest keeps the bump" criterion per target. */
  checks: CheckResult[];
  /** How the agent's run ended; null when it did not run to an end (see `error`). */
  agent: { outcome: AgentOutcome; detail: string; turns: number; toolCalls: number } | null;
  targets: TargetResult[];
  /** Tokens of the run (input counts cached input too); null when the agent did not run to an end. */
  usage: Omit<AgentUsage, 'costUsd'> | null;
  /** Cost in USD under `pricing`; null without pricing or without a finished run. */
  costUsd: number | null;
  /** Wall time of the agent run in milliseconds (0 when it did not start). */
  durationMs: number;
  /** Workspace-relative paths the agent wrote. */
  changedPaths: string[];
  /** The workspace, when kept (`keepWorkspaces`). */
  workspaceDir?: string;
  /** Why the case could not run (bad case, missing manifest, failed bump, API error). */
  error?: string;
}

/** A prepared workspace: the case's files (manifest included), the deterministic bump applied. */
export interface PreparedWorkspace {
  /** Absolute temporary directory (not a git repository). */
  dir: string;
  /** The targets as `fixTargets` takes them (manifest diff and advisory ranges included). */
  targets: FixTarget[];
}

function jumpOf(from: string, to: string): JumpSize {
  if (semver.major(from) !== semver.major(to)) return 'major';
  return semver.minor(from) !== semver.minor(to) ? 'minor' : 'patch';
}

/**
 * Copies the case's `files/` into a fresh temporary directory, then applies the patcher's
 * deterministic bump of every target to the manifest at `manifest.path` (`bumpNpmDependency`
 * with the advisories' affected ranges as proof).
 * @throws Error naming the case and the cause when the manifest is missing, the bump fails
 *   (e.g. REMEDIATION_NOT_PROVEN), or the manifest does not declare a target at `from`.
 *   The directory is removed on error.
 */
export async function prepareWorkspace(evaluationCase: EvaluationCase): Promise<PreparedWorkspace> {
  const dir = await mkdtemp(join(tmpdir(), `agent-eval-${evaluationCase.id}-`));
  try {
    await cp(evaluationCase.filesDir, dir, { recursive: true });
    const manifestPath = evaluationCase.manifest.path;
    let manifest: string;
    try {
      manifest = await readFile(join(dir, manifestPath), 'utf8');
    } catch {
      throw new Error(`manifest.path ${manifestPath} is not in the case's files/ (${evaluationCase.filesDir})`);
    }
    const targets: FixTarget[] = [];
    for (const [i, target] of evaluationCase.targets.entries()) {
      const advisoryRanges = target.advisories.flatMap((a) => a.affectedRanges);
      let bumped: ReturnType<typeof bumpNpmDependency>;
      try {
        bumped = bumpNpmDependency(manifest, { name: target.name, to: target.to, advisoryRanges });
      } catch (error) {
        throw new Error(`targets[${i}]: the deterministic bump of ${target.name} to ${target.to} failed: ${(error as Error).message}`);
      }
      const declared = bumped.edits[0]?.from;
      if (!bumped.changed || declared === undefined) {
        throw new Error(`targets[${i}]: ${manifestPath} already declares ${target.name} at or above ${target.to} (${bumped.notes.join('; ')})`);
      }
      const floor = semver.minVersion(declared)?.version;
      if (floor !== target.from) {
        throw new Error(`targets[${i}].from is ${target.from} but ${manifestPath} declares ${target.name} "${declared}"`);
      }
      targets.push({
        name: target.name,
        from: target.from,
        to: target.to,
        jump: jumpOf(target.from, target.to),
        advisories: target.advisories.map(({ affectedRanges: _ranges, ...advisory }) => advisory),
        ...(target.breakingChanges ? { breakingChanges: target.breakingChanges } : {}),
        manifestPath,
        manifestDiff: manifestDiff(manifestPath, manifest, bumped.text),
        advisoryRanges,
      });
      manifest = bumped.text;
    }
    await writeFile(join(dir, manifestPath), manifest);
    return { dir, targets };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/**
 * One criterion per target: the manifest still declares it, in every dependency section, with
 * a range whose lowest admissible version is at least `to` (the agent must not undo the bump).
 */
export async function checkManifestKeepsBump(workspaceDir: string, evaluationCase: EvaluationCase): Promise<CheckResult[]> {
  const path = evaluationCase.manifest.path;
  let manifest: Record<string, unknown> | null = null;
  try {
    manifest = JSON.parse(await readFile(join(workspaceDir, path), 'utf8')) as Record<string, unknown>;
  } catch (error) {
    const detail = `${path} is missing or not JSON: ${(error as Error).message}`;
    return evaluationCase.targets.map((t) => ({ description: `${path} keeps ${t.name} at >= ${t.to}`, passed: false, detail }));
  }
  return evaluationCase.targets.map((t) => {
    const description = `${path} keeps ${t.name} at >= ${t.to}`;
    const declared = DEPENDENCY_SECTIONS.flatMap((section) => {
      const deps = manifest[section];
      const value = deps && typeof deps === 'object' ? (deps as Record<string, unknown>)[t.name] : undefined;
      return typeof value === 'string' ? [{ section, value }] : [];
    });
    if (declared.length === 0) return { description, passed: false, detail: `${t.name} is no longer declared in ${path}` };
    for (const { section, value } of declared) {
      const floor = semver.validRange(value) ? semver.minVersion(value) : null;
      if (!floor || semver.lt(floor, t.to)) return { description, passed: false, detail: `${section}.${t.name} is "${value}", which admits versions below ${t.to}` };
    }
    return { description, passed: true, detail: '' };
  });
}

/**
 * Applies the case's `reference.edits` (exact, single-occurrence string replacements) in `dir`.
 * @throws Error when the case has no reference fix, or an `old` string is not found exactly once.
 */
export async function applyReferenceFix(dir: string, evaluationCase: EvaluationCase): Promise<void> {
  if (!evaluationCase.reference) throw new Error(`case ${evaluationCase.id} has no reference fix`);
  for (const [i, edit] of evaluationCase.reference.edits.entries()) {
    const file = join(dir, edit.path);
    const text = await readFile(file, 'utf8');
    const count = text.split(edit.old).length - 1;
    if (count !== 1) throw new Error(`reference.edits[${i}].old occurs ${count} times in ${edit.path}; it must occur exactly once`);
    await writeFile(file, text.replace(edit.old, () => edit.new));
  }
}

/** Result of {@link verifyCase}. */
export interface CaseVerification {
  caseId: string;
  /** The check fails on the prepared workspace before any fix (the case really is broken). */
  brokenBefore: boolean;
  /** The check passes after the reference fix; null when the case has no reference fix. */
  fixedByReference: boolean | null;
  /** Failed criteria, or why the case could not be prepared. */
  problems: string[];
}

/**
 * Validates a case without any model: prepares the workspace, runs the check (it must fail: the
 * upgrade breaks the code), applies `reference.edits` and runs it again (it must pass).
 */
export async function verifyCase(evaluationCase: EvaluationCase): Promise<CaseVerification> {
  const prepared = await prepareWorkspace(evaluationCase);
  try {
    const before = await runCheck(prepared.dir, evaluationCase.check);
    const problems: string[] = [];
    const brokenBefore = before.some((c) => !c.passed);
    if (!brokenBefore) problems.push('the check already passes before any fix: it does not detect the breakage');
    let fixedByReference: boolean | null = null;
    if (evaluationCase.reference) {
      await applyReferenceFix(prepared.dir, evaluationCase);
      const after = [...(await runCheck(prepared.dir, evaluationCase.check)), ...(await checkManifestKeepsBump(prepared.dir, evaluationCase))];
      fixedByReference = after.every((c) => c.passed);
      for (const c of after.filter((c) => !c.passed)) problems.push(`after the reference fix: ${c.description}: ${c.detail}`);
    }
    return { caseId: evaluationCase.id, brokenBefore, fixedByReference, problems };
  } finally {
    await rm(prepared.dir, { recursive: true, force: true });
  }
}

function couldNotRun(caseId: string, description: string, error: string): CaseResult {
  return { caseId, description, fixed: null, checks: [], agent: null, targets: [], usage: null, costUsd: null, durationMs: 0, changedPaths: [], error };
}

function errorText(error: unknown): string {
  const e = error as { code?: unknown; message?: unknown };
  const message = typeof e?.message === 'string' ? e.message : String(error);
  return typeof e?.code === 'string' && !message.includes(e.code) ? `${e.code}: ${message}` : message;
}

/**
 * Runs one case (see {@link evaluateCases}). Never throws for a case problem: a case that could
 * not run comes back with `fixed: null` and `error`.
 */
export async function evaluateCase(evaluationCase: EvaluationCase, options: EvaluateOptions): Promise<CaseResult> {
  const log = options.log ?? (() => {});
  const id = evaluationCase.id;
  let prepared: PreparedWorkspace;
  try {
    prepared = await prepareWorkspace(evaluationCase);
  } catch (error) {
    return couldNotRun(id, evaluationCase.description, `${join(evaluationCase.dir, 'case.json')}: ${errorText(error)}`);
  }
  log(`${id}: workspace ${prepared.dir}`);
  const pricing = options.pricing === undefined ? pricingFor(options.model) : options.pricing;
  const started = performance.now();
  try {
    let fix: Awaited<ReturnType<typeof fixTargets>>;
    try {
      fix = await fixTargets({
        client: options.client,
        model: options.model,
        maxTokens: options.maxTokens ?? 8192,
        maxTurns: options.maxTurns ?? 30,
        budget: {
          maxInputTokens: options.maxInputTokens ?? 1_000_000,
          maxOutputTokens: options.maxOutputTokens ?? 100_000,
          maxCostUsd: pricing ? (options.maxCostUsd ?? 2) : Infinity,
          pricing: pricing ?? { inputUsdPerMTok: 0, outputUsdPerMTok: 0 },
        },
        workspaceDir: prepared.dir,
        targets: prepared.targets,
        onToolCall: (e) => {
          const input = e.input as { path?: unknown; package?: unknown; target?: unknown; status?: unknown } | null;
          const subject = [input?.path ?? input?.package ?? input?.target, input?.status].filter((x) => typeof x === 'string').join(' ');
          log(`${id}: turn ${e.turn} ${e.name}${subject ? ` ${subject}` : ''}${e.isError ? ` → error: ${e.preview.split('\n')[0]}` : ''}`);
        },
        ...(options.stream !== undefined ? { stream: options.stream } : {}),
        ...(options.retry ? { retry: options.retry } : {}),
      });
    } catch (error) {
      const result = couldNotRun(id, evaluationCase.description, `the agent run failed: ${errorText(error)}`);
      result.durationMs = Math.round(performance.now() - started);
      if (options.keepWorkspaces) result.workspaceDir = prepared.dir;
      return result;
    }
    const durationMs = Math.round(performance.now() - started);
    const checks = [...(await runCheck(prepared.dir, evaluationCase.check)), ...(await checkManifestKeepsBump(prepared.dir, evaluationCase))];
    const { costUsd, ...usage } = fix.run.usage;
    const result: CaseResult = {
      caseId: id,
      description: evaluationCase.description,
      fixed: checks.every((c) => c.passed),
      checks,
      agent: { outcome: fix.run.outcome, detail: fix.run.detail, turns: fix.run.turns, toolCalls: fix.run.toolCalls },
      targets: evaluationCase.targets.map((t, i) => ({ name: t.name, from: t.from, to: t.to, status: fix.outcomes[i]!.status, reason: fix.outcomes[i]!.reason })),
      usage,
      costUsd: pricing ? costUsd : null,
      durationMs,
      changedPaths: fix.changedPaths,
      ...(options.keepWorkspaces ? { workspaceDir: prepared.dir } : {}),
    };
    log(`${id}: ${result.fixed ? 'fixed' : 'not fixed'} (agent ${fix.run.outcome}, ${fix.run.turns} turns)`);
    return result;
  } finally {
    if (!options.keepWorkspaces) await rm(prepared.dir, { recursive: true, force: true });
  }
}

/** Totals over the results of {@link evaluateCases}. */
export interface EvaluationSummary {
  cases: number;
  fixed: number;
  notFixed: number;
  couldNotRun: number;
  turns: number;
  inputTokens: number;
  outputTokens: number;
  /** Sum of the cases' costs in USD; null when any case that ran has no cost figure. */
  costUsd: number | null;
  durationMs: number;
}

/** Result of {@link evaluateCases}. */
export interface EvaluationReport {
  model: string;
  /** The client's base URL (no key). */
  baseUrl: string;
  results: CaseResult[];
  summary: EvaluationSummary;
}

/** Totals of `results`. */
export function summarize(results: readonly CaseResult[]): EvaluationSummary {
  const ran = results.filter((r) => r.usage !== null);
  return {
    cases: results.length,
    fixed: results.filter((r) => r.fixed === true).length,
    notFixed: results.filter((r) => r.fixed === false).length,
    couldNotRun: results.filter((r) => r.fixed === null).length,
    turns: ran.reduce((s, r) => s + (r.agent?.turns ?? 0), 0),
    inputTokens: ran.reduce((s, r) => s + r.usage!.inputTokens, 0),
    outputTokens: ran.reduce((s, r) => s + r.usage!.outputTokens, 0),
    costUsd: ran.some((r) => r.costUsd === null) ? null : ran.reduce((s, r) => s + (r.costUsd ?? 0), 0),
    durationMs: results.reduce((s, r) => s + r.durationMs, 0),
  };
}

/**
 * Runs the agent on each case, one after the other, each in its own temporary workspace, and
 * measures it: fixed (the case's deterministic check), the agent's outcome and per-target
 * reports, turns, tokens, cost (USD) and duration (ms). Cases that cannot be loaded or run are
 * reported with `error`, never thrown, so one bad case does not hide the others.
 * @throws Error only when the cases folder cannot be listed.
 */
export async function evaluateCases(options: EvaluateOptions): Promise<EvaluationReport> {
  const casesDir = options.casesDir ?? DEFAULT_CASES_DIR;
  const ids = options.caseIds?.length ? options.caseIds : await listCaseIds(casesDir);
  const results: CaseResult[] = [];
  for (const id of ids) {
    let evaluationCase: EvaluationCase;
    try {
      evaluationCase = await loadCase(casesDir, id);
    } catch (error) {
      results.push(couldNotRun(id, '', errorText(error)));
      continue;
    }
    results.push(await evaluateCase(evaluationCase, options));
  }
  return { model: options.model, baseUrl: options.client.baseURL, results, summary: summarize(results) };
}

const integer = (n: number) => n.toLocaleString('en-US');
const usd = (n: number | null) => (n === null ? 'n/a' : `$${n.toFixed(4)}`);
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
const cut = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/**
 * The human report: one table row per case (case, fixed, agent outcome, per-target outcomes,
 * turns, input/output tokens, cost, duration), a totals line, then the reasons: failed check
 * criteria, cases that could not run, and each target's reported reason.
 */
export function formatReport(report: EvaluationReport): string {
  const header = ['case', 'fixed', 'agent', 'targets', 'turns', 'input tok', 'output tok', 'cost', 'time'];
  const rows = report.results.map((r) => [
    r.caseId,
    r.fixed === null ? 'error' : r.fixed ? 'yes' : 'no',
    r.agent?.outcome ?? '-',
    r.targets.length ? r.targets.map((t) => `${t.name}: ${t.status}`).join(', ') : '-',
    r.agent ? String(r.agent.turns) : '-',
    r.usage ? integer(r.usage.inputTokens) : '-',
    r.usage ? integer(r.usage.outputTokens) : '-',
    r.usage ? usd(r.costUsd) : '-',
    seconds(r.durationMs),
  ]);
  const numeric = new Set([4, 5, 6, 7, 8]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (numeric.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const s = report.summary;
  const out = [
    `model ${report.model} at ${report.baseUrl}`,
    '',
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    '',
    `fixed ${s.fixed} of ${s.cases}${s.couldNotRun ? ` (${s.couldNotRun} could not run)` : ''}; ${s.turns} turns, ${integer(s.inputTokens)} input and ${integer(s.outputTokens)} output tokens, cost ${usd(s.costUsd)}, ${seconds(s.durationMs)}`,
  ];
  const notes: string[] = [];
  for (const r of report.results) {
    if (r.error) notes.push(`${r.caseId}: could not run: ${r.error}`);
    for (const c of r.checks.filter((c) => !c.passed)) notes.push(`${r.caseId}: check failed: ${c.description}: ${c.detail}`);
    for (const t of r.targets) notes.push(`${r.caseId}: ${t.name} ${t.from} → ${t.to} reported ${t.status}: ${cut(t.reason.replace(/\s+/g, ' '), 200)}`);
    if (r.agent && r.agent.outcome !== 'completed') notes.push(`${r.caseId}: agent stopped: ${r.agent.detail}`);
    if (r.workspaceDir) notes.push(`${r.caseId}: workspace kept at ${r.workspaceDir}`);
  }
  if (notes.length) out.push('', ...notes);
  return `${out.join('\n')}\n`;
}
