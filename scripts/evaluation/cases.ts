/**
 * Evaluation cases of the code-fix agent: `evaluation/cases/<id>/case.json` plus the source files
 * under `evaluation/cases/<id>/files/` (the project's real manifest among them). This module holds the case.json schema (zod), the loader
 * with errors that name the bad field, and the deterministic "fixed?" check.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { isAbsolute, join, normalize, resolve } from 'node:path';
import { Severity } from '@remediation/contracts';
import { repoRoot } from '@remediation/testing';
import semver from 'semver';
import { z } from 'zod';

/** Default folder of the cases: `<repo>/evaluation/cases`. */
export const DEFAULT_CASES_DIR = join(repoRoot, 'evaluation/cases');

/** A relative POSIX path that stays inside its root (no `..`, not absolute, no backslashes). */
const RelativePath = z
  .string()
  .min(1)
  .refine((p) => !isAbsolute(p) && !p.includes('\\') && !normalize(p).split('/').includes('..'), 'must be a relative path inside the case (no "..", not absolute)');

const FullVersion = z.string().refine((v) => semver.valid(v) === v, 'must be a full semver version such as 6.0.0');

const NpmRange = z.string().min(1).refine((r) => semver.validRange(r) !== null, 'must be an npm semver range such as <6.0.0');

function compiles(pattern: string, flags = ''): string | null {
  try {
    new RegExp(pattern, flags);
    return null;
  } catch (error) {
    return (error as Error).message;
  }
}

/**
 * `first` when `isFirst(value)`, else `second`: a union whose errors come from the branch the
 * value was meant for (zod's own union reports only "Invalid input" at the union's path).
 */
function either<A extends z.ZodType, B extends z.ZodType>(isFirst: (value: unknown) => boolean, first: A, second: B) {
  return z.unknown().transform((value, ctx): z.output<A> | z.output<B> => {
    const result = (isFirst(value) ? first : second).safeParse(value);
    if (result.success) return result.data as z.output<A> | z.output<B>;
    for (const issue of result.error.issues) ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path as PropertyKey[] });
    return z.NEVER;
  });
}

/** A pattern of a rule: a JavaScript regular expression, or one with a minimum match count. */
const Pattern = either(
  (v) => typeof v === 'string',
  z.string().min(1),
  z.strictObject({
    pattern: z.string().min(1),
    /** The pattern must match at least this many times (non-overlapping, `g` flag). Default 1. */
    atLeast: z.number().int().min(1).optional(),
  }),
);

/** A check on one file of the workspace after the run. */
const FileRule = z
  .strictObject({
    description: z.string().min(1).optional(),
    /** Workspace-relative path; a missing file fails the rule. */
    path: RelativePath,
    /** Every pattern must match (case-sensitive unless `flags` says otherwise). */
    mustMatch: z.array(Pattern).default([]),
    /** No pattern may match. */
    mustNotMatch: z.array(z.string().min(1)).default([]),
    /** RegExp flags for every pattern of the rule, from `i`, `m`, `s`, `u`. */
    flags: z.string().regex(/^[imsu]*$/, 'may hold only the RegExp flags i, m, s, u').default(''),
  })
  .superRefine((rule, ctx) => {
    if (rule.mustMatch.length === 0 && rule.mustNotMatch.length === 0) {
      ctx.addIssue({ code: 'custom', message: 'needs at least one pattern in mustMatch or mustNotMatch' });
    }
    rule.mustMatch.forEach((p, i) => {
      const source = typeof p === 'string' ? p : p.pattern;
      const error = compiles(source, rule.flags);
      if (error) ctx.addIssue({ code: 'custom', path: ['mustMatch', i, ...(typeof p === 'string' ? [] : ['pattern'])], message: `invalid regular expression: ${error}` });
    });
    rule.mustNotMatch.forEach((p, i) => {
      const error = compiles(p, rule.flags);
      if (error) ctx.addIssue({ code: 'custom', path: ['mustNotMatch', i], message: `invalid regular expression: ${error}` });
    });
  });

/** A criterion: one file rule, or alternatives of which one must pass. */
const Criterion = either(
  (v) => typeof v === 'object' && v !== null && 'anyOf' in v,
  z.strictObject({
    description: z.string().min(1),
    anyOf: z.array(FileRule).min(2),
  }),
  FileRule,
);

const Advisory = z.strictObject({
  id: z.string().min(1),
  severity: Severity,
  summary: z.string().min(1).optional(),
  aliases: z.array(z.string().min(1)).optional(),
  /** Affected ranges in npm syntax, e.g. `<6.0.0`; the deterministic bump must prove they no longer match. */
  affectedRanges: z.array(NpmRange).min(1),
});

const Target = z
  .strictObject({
    /** Package name as declared in the manifest. */
    name: z.string().min(1),
    /** The version the project has (the floor of the declared range). */
    from: FullVersion,
    /** The version the service upgrades to (the deterministic bump's floor). */
    to: FullVersion,
    advisories: z.array(Advisory).min(1),
    /**
     * Known breaking changes told to the agent. Leave them out to measure what the service gives
     * today (the planner records a risk level, not change notes); add them to measure a variant.
     */
    breakingChanges: z.array(z.string().min(1)).optional(),
  })
  .refine((t) => !semver.valid(t.from) || !semver.valid(t.to) || semver.gt(t.to, t.from), { message: 'must be a version above from', path: ['to'] });

/** The case.json schema (see docs/evaluation.md, "Adding a case"). */
export const EvaluationCaseSchema = z.strictObject({
  /** Equal to the case's directory name. */
  id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'must be lower-case letters, digits and dashes'),
  description: z.string().min(1),
  /** Where the case comes from: the real project and what the files keep of it. */
  source: z.strictObject({ project: z.string().min(1), notes: z.string().min(1).optional() }),
  manifest: z.strictObject({
    /**
     * Where the project's real manifest is, relative to `files/` and so to the workspace; default
     * `package.json`. The deterministic bump edits it there.
     */
    path: RelativePath.default('package.json'),
  }),
  targets: z.array(Target).min(1),
  check: z.strictObject({ all: z.array(Criterion).min(1) }),
  /** A known good fix, applied by `--verify-cases` and the tests to prove the check accepts it. */
  reference: z
    .strictObject({
      edits: z.array(z.strictObject({ path: RelativePath, old: z.string().min(1), new: z.string() })).min(1),
    })
    .optional(),
});

/** A validated case.json (defaults filled in). */
export type EvaluationCaseSpec = z.infer<typeof EvaluationCaseSchema>;
/** One file rule of a case's check. */
export type FileRule = z.infer<typeof FileRule>;
/** One criterion of a case's check: a file rule or `anyOf` alternatives. */
export type CheckCriterion = z.infer<typeof Criterion>;

/** A case ready to run: its spec and where its files are. */
export interface EvaluationCase extends EvaluationCaseSpec {
  /** Absolute directory of the case (holding case.json). */
  dir: string;
  /** Absolute `files/` directory copied into the workspace; it holds the manifest at `manifest.path`. */
  filesDir: string;
}

/** A case.json that is missing, not JSON, or does not match the schema. The message names the file and each bad field. */
export class CaseDefinitionError extends Error {
  override readonly name = 'CaseDefinitionError';
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`${file}: ${problems.length === 1 ? problems[0] : `\n  - ${problems.join('\n  - ')}`}`);
  }
}

/** `targets[0].advisories[1].affectedRanges[0]` from a zod issue path. */
function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) out += typeof key === 'number' ? `[${key}]` : `${out ? '.' : ''}${String(key)}`;
  return out || '(root)';
}

/**
 * Validates a parsed case.json.
 * @param file shown in errors (e.g. the case.json path).
 * @param expectedId when given, `id` must equal it (the directory name).
 * @throws CaseDefinitionError with one `field: problem` line per issue.
 */
export function parseCase(raw: unknown, file: string, expectedId?: string): EvaluationCaseSpec {
  const parsed = EvaluationCaseSchema.safeParse(raw);
  if (!parsed.success) {
    throw new CaseDefinitionError(
      file,
      parsed.error.issues.map((issue) => `${fieldPath(issue.path)}: ${issue.message}`),
    );
  }
  if (expectedId !== undefined && parsed.data.id !== expectedId) {
    throw new CaseDefinitionError(file, [`id: is "${parsed.data.id}" but the case directory is "${expectedId}"; they must be equal`]);
  }
  return parsed.data;
}

/**
 * Reads and validates `<casesDir>/<id>/case.json`.
 * @throws CaseDefinitionError when the case directory or case.json is missing, is not JSON,
 *   fails the schema (each bad field named), or `files/` lacks the manifest at `manifest.path`.
 */
export async function loadCase(casesDir: string, id: string): Promise<EvaluationCase> {
  const dir = resolve(casesDir, id);
  const file = join(dir, 'case.json');
  if (!existsSync(file)) {
    const known = await listCaseIds(casesDir).catch(() => []);
    throw new CaseDefinitionError(file, [`no such case "${id}"${known.length ? ` (cases: ${known.join(', ')})` : ''}`]);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new CaseDefinitionError(file, [`not valid JSON: ${(error as Error).message}`]);
  }
  const spec = parseCase(raw, file, id);
  const filesDir = join(dir, 'files');
  if (!existsSync(join(filesDir, spec.manifest.path))) {
    throw new CaseDefinitionError(file, [`manifest.path: ${spec.manifest.path} is not in the case's files/ (${filesDir}); put the project's real manifest there`]);
  }
  return { ...spec, dir, filesDir };
}

/** Ids of the cases under `casesDir` (directories holding a case.json), sorted. */
export async function listCaseIds(casesDir: string): Promise<string[]> {
  const entries = await readdir(casesDir, { withFileTypes: true });
  return entries
    .filter((e) => e.isDirectory() && existsSync(join(casesDir, e.name, 'case.json')))
    .map((e) => e.name)
    .sort();
}

/** Outcome of one criterion. */
export interface CheckResult {
  description: string;
  passed: boolean;
  /** Why it failed (every failing pattern, or a missing file); '' when it passed. */
  detail: string;
}

function describeRule(rule: FileRule): string {
  return rule.description ?? `${rule.path} matches the case's patterns`;
}

async function checkRule(workspaceDir: string, rule: FileRule): Promise<string> {
  let text: string;
  try {
    text = await readFile(join(workspaceDir, rule.path), 'utf8');
  } catch {
    return `${rule.path} does not exist`;
  }
  const problems: string[] = [];
  for (const p of rule.mustMatch) {
    const source = typeof p === 'string' ? p : p.pattern;
    const atLeast = typeof p === 'string' ? 1 : (p.atLeast ?? 1);
    const count = [...text.matchAll(new RegExp(source, `${rule.flags}g`))].length;
    if (count < atLeast) problems.push(`/${source}/ matches ${count} time(s), needs ${atLeast}`);
  }
  for (const p of rule.mustNotMatch) {
    const m = new RegExp(p, rule.flags).exec(text);
    if (m) problems.push(`/${p}/ must not match but matches ${JSON.stringify(m[0].length > 120 ? `${m[0].slice(0, 120)}…` : m[0])}`);
  }
  return problems.length ? `${rule.path}: ${problems.join('; ')}` : '';
}

/**
 * Runs the case's check over `workspaceDir`: every criterion of `check.all` (an `anyOf` passes
 * when one alternative passes). Deterministic: regular expressions over file text only.
 */
export async function runCheck(workspaceDir: string, check: EvaluationCaseSpec['check']): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const criterion of check.all) {
    if ('anyOf' in criterion) {
      const failures: string[] = [];
      for (const rule of criterion.anyOf) {
        const why = await checkRule(workspaceDir, rule);
        if (!why) {
          failures.length = 0;
          break;
        }
        failures.push(`${describeRule(rule)}: ${why}`);
      }
      results.push({ description: criterion.description, passed: failures.length === 0, detail: failures.length ? `none of: ${failures.join('; ')}` : '' });
    } else {
      const why = await checkRule(workspaceDir, criterion);
      results.push({ description: describeRule(criterion), passed: !why, detail: why });
    }
  }
  return results;
}
