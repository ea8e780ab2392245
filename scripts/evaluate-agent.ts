/**
 * Evaluation harness of the code-fix agent (`./run evaluate`, docs/evaluation.md): runs the agent
 * on cases where an upgrade is known to break code (`evaluation/cases/<id>/`) against any
 * Messages-API-compatible endpoint and reports, per case, whether the code was fixed (the case's
 * deterministic check), the agent's outcome and per-target reports, turns, tokens, cost and time.
 *
 *   ./run evaluate --model claude-sonnet-4-5 [--case <id>]… [--base-url URL] [--api-key KEY] [--json]
 *
 * Exit code: 0 when every case ran (fixed or not), 1 when a case could not run (the reason is
 * printed), 2 for a usage error. The core is in scripts/evaluation/ and is re-exported here.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Anthropic from '@anthropic-ai/sdk';
import type { ModelPricing } from '@remediation/agent';
import { DEFAULT_CASES_DIR, listCaseIds, loadCase } from './evaluation/cases.js';
import { evaluateCases, formatReport, pricingFor, verifyCase, type CaseVerification } from './evaluation/harness.js';

export * from './evaluation/cases.js';
export * from './evaluation/harness.js';

/** Where {@link runCli} writes and what it reads from its environment. */
export interface CliIo {
  /** Environment (ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL, ANTHROPIC_MODEL). */
  env: Record<string, string | undefined>;
  /** The report (table or JSON). */
  stdout: (text: string) => void;
  /** Progress and errors. */
  stderr: (text: string) => void;
}

const USAGE = `usage: ./run evaluate [options]

Runs the code-fix agent on the evaluation cases (evaluation/cases/<id>/) and reports per case:
fixed (the case's deterministic check), agent outcome, per-target outcomes, turns, tokens, cost, time.

  --model ID           model id, e.g. claude-sonnet-4-5 (required unless $ANTHROPIC_MODEL is set)
  --base-url URL       Messages API endpoint (default $ANTHROPIC_BASE_URL or https://api.anthropic.com)
  --api-key KEY        API key (default $ANTHROPIC_API_KEY)
  --case ID            run only this case; repeatable (default: every case)
  --max-turns N        most model responses per case (default 30)
  --max-tokens N       max_tokens of each request (default 8192)
  --max-cost USD       cost budget per case (default 2; needs pricing)
  --input-price USD    input price per million tokens (default: the model's list price if known)
  --output-price USD   output price per million tokens
  --no-stream          non-streaming requests (for endpoints that do not stream)
  --cases-dir DIR      cases folder (default evaluation/cases)
  --keep               keep each case's workspace and print its path
  --json               print the results as JSON instead of a table
  --verify-cases       no model: check that each case is broken before and fixed by its reference fix
  -h, --help           this text

Exit code 0 when every case ran (fixed or not), 1 when a case could not run, 2 on a usage error.
`;

class UsageError extends Error {}

function positiveNumber(name: string, value: string | undefined, integer: boolean): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) throw new UsageError(`--${name} must be a positive ${integer ? 'integer' : 'number'}, got "${value}"`);
  return n;
}

/**
 * The command line: parses `argv` (without node and the script), runs the evaluation (or
 * `--verify-cases`) and writes the report.
 * @returns the exit code: 0 every case ran, 1 a case could not run (or failed verification), 2 usage error.
 */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        model: { type: 'string' },
        'base-url': { type: 'string' },
        'api-key': { type: 'string' },
        case: { type: 'string', multiple: true },
        'max-turns': { type: 'string' },
        'max-tokens': { type: 'string' },
        'max-cost': { type: 'string' },
        'input-price': { type: 'string' },
        'output-price': { type: 'string' },
        'no-stream': { type: 'boolean' },
        'cases-dir': { type: 'string' },
        keep: { type: 'boolean' },
        json: { type: 'boolean' },
        'verify-cases': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    io.stderr(`evaluate: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    io.stdout(USAGE);
    return 0;
  }
  const casesDir = values['cases-dir'] ? resolve(values['cases-dir']) : DEFAULT_CASES_DIR;
  if (values['verify-cases']) return verifyCases(casesDir, values.case, values.json === true, io);

  let maxTurns: number | undefined, maxTokens: number | undefined, maxCost: number | undefined, pricing: ModelPricing | null;
  const model = values.model ?? io.env['ANTHROPIC_MODEL'];
  if (!model) {
    io.stderr('evaluate: no model: pass --model (e.g. claude-sonnet-4-5) or set ANTHROPIC_MODEL\n');
    return 2;
  }
  try {
    maxTurns = positiveNumber('max-turns', values['max-turns'], true);
    maxTokens = positiveNumber('max-tokens', values['max-tokens'], true);
    maxCost = positiveNumber('max-cost', values['max-cost'], false);
    const input = values['input-price'] === undefined ? undefined : Number(values['input-price']);
    const output = values['output-price'] === undefined ? undefined : Number(values['output-price']);
    if ((input === undefined) !== (output === undefined)) throw new UsageError('--input-price and --output-price go together');
    if (input !== undefined && output !== undefined) {
      if (!(input >= 0) || !(output >= 0)) throw new UsageError('--input-price and --output-price must be numbers >= 0 (USD per million tokens)');
      pricing = { inputUsdPerMTok: input, outputUsdPerMTok: output };
    } else {
      pricing = pricingFor(model);
    }
  } catch (error) {
    io.stderr(`evaluate: ${(error as Error).message}\n`);
    return 2;
  }
  const apiKey = values['api-key'] ?? io.env['ANTHROPIC_API_KEY'];
  if (!apiKey) {
    io.stderr('evaluate: no API key: pass --api-key or set ANTHROPIC_API_KEY\n');
    return 2;
  }
  const baseURL = values['base-url'] ?? io.env['ANTHROPIC_BASE_URL'];
  const client = new Anthropic({ apiKey, ...(baseURL ? { baseURL } : {}) });
  if (!pricing) io.stderr(`evaluate: no list price known for ${model}; cost is not reported (pass --input-price and --output-price)\n`);

  let report;
  try {
    report = await evaluateCases({
      client,
      model,
      casesDir,
      pricing,
      ...(values.case ? { caseIds: values.case } : {}),
      ...(maxTurns !== undefined ? { maxTurns } : {}),
      ...(maxTokens !== undefined ? { maxTokens } : {}),
      ...(maxCost !== undefined ? { maxCostUsd: maxCost } : {}),
      ...(values['no-stream'] ? { stream: false } : {}),
      keepWorkspaces: values.keep === true,
      log: (line) => io.stderr(`[evaluate] ${line}\n`),
    });
  } catch (error) {
    io.stderr(`evaluate: ${(error as Error).message}\n`);
    return 1;
  }
  io.stdout(values.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
  const failed = report.results.filter((r) => r.error);
  for (const r of failed) io.stderr(`evaluate: case ${r.caseId} could not run: ${r.error}\n`);
  return failed.length ? 1 : 0;
}

async function verifyCases(casesDir: string, ids: string[] | undefined, json: boolean, io: CliIo): Promise<number> {
  const results: CaseVerification[] = [];
  for (const id of ids?.length ? ids : await listCaseIds(casesDir)) {
    try {
      results.push(await verifyCase(await loadCase(casesDir, id)));
    } catch (error) {
      results.push({ caseId: id, brokenBefore: false, fixedByReference: null, problems: [(error as Error).message] });
    }
  }
  const ok = (r: CaseVerification) => r.problems.length === 0;
  if (json) io.stdout(`${JSON.stringify(results, null, 2)}\n`);
  else {
    for (const r of results) {
      const reference = r.fixedByReference === null ? 'no reference fix' : r.fixedByReference ? 'reference fix passes' : 'reference fix FAILS';
      io.stdout(`${ok(r) ? 'ok  ' : 'FAIL'} ${r.caseId}: ${r.brokenBefore ? 'broken before' : 'NOT broken before'}, ${reference}\n`);
      for (const p of r.problems) io.stdout(`       ${p}\n`);
    }
  }
  return results.every(ok) ? 0 : 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await runCli(process.argv.slice(2), {
    env: process.env,
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
  });
}
