/**
 * The agent evaluation harness (scripts/evaluate-agent.ts) against messages-api-local: the real
 * cases in evaluation/cases (each with its project's real manifest in files/), the real SDK client
 * and fixTargets; only the model is scripted.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { lastToolResults, startMessagesApiLocal, type MessagesApiLocal, type RecordedRequest, type ScriptTurn } from '@remediation/messages-api-local';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CaseDefinitionError,
  DEFAULT_CASES_DIR,
  evaluateCases,
  formatReport,
  listCaseIds,
  loadCase,
  parseCase,
  prepareWorkspace,
  runCheck,
  runCli,
  verifyCase,
  type EvaluationReport,
} from '../../scripts/evaluate-agent.js';

const CASE = 'juice-shop-express-jwt';
const FILE = join(DEFAULT_CASES_DIR, CASE, 'files/lib/insecurity.ts');

let api: MessagesApiLocal | undefined;
const temps: string[] = [];
afterEach(async () => {
  await api?.close();
  api = undefined;
  for (const dir of temps.splice(0)) await rm(dir, { recursive: true, force: true });
});

const use = (id: string, name: string, input: Record<string, unknown>) => ({ type: 'tool_use' as const, id, name, input });
const text = (t: string) => ({ type: 'text' as const, text: t });

/** Fails the turn when any tool result of the previous turn is an error. */
const noToolErrors = (req: RecordedRequest) => {
  const errors = lastToolResults(req).filter((r) => r.is_error);
  expect(errors, JSON.stringify(errors)).toEqual([]);
};

async function startScript(script: ScriptTurn[]): Promise<Anthropic> {
  api = await startMessagesApiLocal({ script });
  return new Anthropic({ apiKey: 'local-key', baseURL: api.url, maxRetries: 0 });
}

function cliIo() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { env: {}, stdout: (t: string) => void out.push(t), stderr: (t: string) => void err.push(t) } };
}

describe('evaluate-agent', () => {
  it('names a case whose files/ lack the manifest, and the CLI reports it as a case that could not run', async () => {
    const good = JSON.parse(await readFile(join(DEFAULT_CASES_DIR, CASE, 'case.json'), 'utf8'));
    const casesDir = await mkdtemp(join(tmpdir(), 'eval-cases-'));
    temps.push(casesDir);
    await mkdir(join(casesDir, 'no-manifest', 'files'), { recursive: true });
    await writeFile(join(casesDir, 'no-manifest', 'case.json'), JSON.stringify({ ...good, id: 'no-manifest' }));
    await expect(loadCase(casesDir, 'no-manifest')).rejects.toThrow(/no-manifest\/case\.json: manifest\.path: package\.json is not in the case's files\/ \(.*no-manifest\/files\)/);
    const { out, err, io } = cliIo();
    expect(await runCli(['--cases-dir', casesDir, '--verify-cases'], io)).toBe(1);
    expect(out.join('')).toContain("FAIL no-manifest: NOT broken before, no reference fix\n");
    expect(out.join('')).toContain("manifest.path: package.json is not in the case's files/");
    expect(err.join('')).toBe('');
  });

  it('reports fixed=yes with turns, tokens and cost when the scripted model adds algorithms (CLI, --json)', async () => {
    const original = await readFile(FILE, 'utf8');
    await startScript([
      {
        content: [use('r1', 'read_file', { path: 'lib/insecurity.ts' })],
        usage: { input_tokens: 2100, output_tokens: 45 },
        expect: (req) => {
          expect(req.body!.model).toBe('claude-haiku-4-5');
          const first = String(req.body!.messages[0]!.content);
          expect(first).toContain('## Target: express-jwt 0.1.3 → 6.0.0 (major upgrade)');
          expect(first).toContain('GHSA-6g6m-m6h5-w9gf (CVE-2020-15084) [high]');
          expect(first).toContain('-    "express-jwt": "0.1.3",\n+    "express-jwt": "6.0.0",');
          expect(first).toContain("- lib/insecurity.ts:3: import expressJwt from 'express-jwt'");
        },
      },
      {
        content: [
          use('e1', 'edit_file', { path: 'lib/insecurity.ts', old_string: 'expressJwt(({ secret: publicKey }) as any)', new_string: "expressJwt(({ secret: publicKey, algorithms: ['RS256'] }) as any)" }),
          use('e2', 'edit_file', { path: 'lib/insecurity.ts', old_string: "expressJwt({ secret: '' + Math.random() } as any)", new_string: "expressJwt({ secret: '' + Math.random(), algorithms: ['HS256'] } as any)" }),
        ],
        usage: { input_tokens: 2600, output_tokens: 180 },
        expect: (req) => {
          noToolErrors(req);
          expect(lastToolResults(req)[0]!.content).toContain('expressJwt(({ secret: publicKey }) as any)');
        },
      },
      {
        content: [use('o1', 'report_outcome', { target: 'express-jwt', status: 'success', reason: 'passed algorithms to both expressJwt calls' })],
        usage: { input_tokens: 2900, output_tokens: 60 },
        expect: noToolErrors,
      },
      { content: [text('Added the algorithms option express-jwt 6 requires.')], usage: { input_tokens: 3000, output_tokens: 40 }, expect: noToolErrors },
    ]);
    const { out, err, io } = cliIo();
    const code = await runCli(['--base-url', api!.url, '--api-key', 'local-key', '--model', 'claude-haiku-4-5', '--case', CASE, '--max-turns', '10', '--json'], io);
    expect(code, err.join('')).toBe(0);
    api!.assertDone();

    const report = JSON.parse(out.join('')) as EvaluationReport;
    expect(report.model).toBe('claude-haiku-4-5');
    expect(report.results).toHaveLength(1);
    const r = report.results[0]!;
    expect(r.caseId).toBe(CASE);
    expect(r.error).toBeUndefined();
    expect(r.fixed).toBe(true);
    expect(r.checks.map((c) => c.passed)).toEqual([true, true, true]);
    expect(r.agent).toMatchObject({ outcome: 'completed', turns: 4, toolCalls: 4 });
    expect(r.targets).toEqual([{ name: 'express-jwt', from: '0.1.3', to: '6.0.0', status: 'success', reason: 'passed algorithms to both expressJwt calls' }]);
    expect(r.usage).toMatchObject({ inputTokens: 10_600, outputTokens: 325, requests: 4 });
    // claude-haiku-4-5 list price: $1 input, $5 output per million tokens.
    expect(r.costUsd).toBeCloseTo((10_600 * 1 + 325 * 5) / 1e6, 10);
    expect(r.changedPaths).toEqual(['lib/insecurity.ts']);
    expect(r.durationMs).toBeGreaterThan(0);
    expect(report.summary).toMatchObject({ cases: 1, fixed: 1, notFixed: 0, couldNotRun: 0, turns: 4, inputTokens: 10_600, outputTokens: 325 });
    // Progress went to stderr; the case's own files are untouched (the run used a temp copy).
    expect(err.join('')).toContain(`[evaluate] ${CASE}: turn 2 edit_file lib/insecurity.ts`);
    expect(await readFile(FILE, 'utf8')).toBe(original);
  });

  it('reports fixed=no when the scripted model gives up, and the table says so', async () => {
    const client = await startScript([
      { content: [use('r1', 'read_file', { path: 'lib/insecurity.ts' })], usage: { input_tokens: 2000, output_tokens: 30 } },
      {
        content: [use('o1', 'report_outcome', { target: 'express-jwt', status: 'failed', reason: 'cannot tell which algorithms the tokens use' })],
        usage: { input_tokens: 2500, output_tokens: 50 },
        expect: noToolErrors,
      },
      { content: [text('I could not fix express-jwt.')], usage: { input_tokens: 2600, output_tokens: 20 }, expect: noToolErrors },
    ]);
    const lines: string[] = [];
    const report = await evaluateCases({ client, model: 'claude-haiku-4-5', caseIds: [CASE], maxTurns: 10, log: (l) => void lines.push(l) });
    api!.assertDone();
    const r = report.results[0]!;
    expect(r.fixed).toBe(false);
    expect(r.agent).toMatchObject({ outcome: 'completed', turns: 3, toolCalls: 2 });
    expect(r.targets).toEqual([{ name: 'express-jwt', from: '0.1.3', to: '6.0.0', status: 'failed', reason: 'cannot tell which algorithms the tokens use' }]);
    expect(r.usage).toMatchObject({ inputTokens: 7100, outputTokens: 100 });
    expect(r.changedPaths).toEqual([]);
    expect(r.checks.map((c) => [c.description.slice(0, 20), c.passed])).toEqual([
      ['isAuthorized() verif', false],
      ['both expressJwt({ ..', false],
      ['package.json keeps e', true],
    ]);
    expect(r.checks[1]!.detail).toBe(
      'lib/insecurity.ts: /expressJwt\\(\\(?\\s*\\{[^}]*\\balgorithms\\s*:/ matches 0 time(s), needs 2; ' +
        '/expressJwt\\(\\(?\\s*\\{(?![^}]*\\balgorithms\\s*:)[^}]*\\}/ must not match but matches "expressJwt(({ secret: publicKey }"',
    );
    expect(report.summary).toMatchObject({ cases: 1, fixed: 0, notFixed: 1, couldNotRun: 0 });

    const table = formatReport(report);
    expect(table).toMatch(/^juice-shop-express-jwt\s+no\s+completed\s+express-jwt: failed\s+3\s+7,100\s+100\s+\$0\.0076\s+\d+\.\ds$/m);
    expect(table).toContain('fixed 0 of 1; 3 turns, 7,100 input and 100 output tokens, cost $0.0076');
    expect(table).toContain('juice-shop-express-jwt: check failed: isAuthorized() verifies with RS256');
    expect(table).toContain('juice-shop-express-jwt: express-jwt 0.1.3 → 6.0.0 reported failed: cannot tell which algorithms the tokens use');
  });

  it('judges the code, not the report: a wrong algorithm reported as success is not fixed', async () => {
    const client = await startScript([
      {
        content: [
          use('e1', 'edit_file', { path: 'lib/insecurity.ts', old_string: 'expressJwt(({ secret: publicKey }) as any)', new_string: "expressJwt(({ secret: publicKey, algorithms: ['HS256'] }) as any)" }),
          use('e2', 'edit_file', { path: 'lib/insecurity.ts', old_string: "expressJwt({ secret: '' + Math.random() } as any)", new_string: "expressJwt({ secret: '' + Math.random(), algorithms: ['HS256'] } as any)" }),
          use('o1', 'report_outcome', { target: 'express-jwt', status: 'success', reason: 'added algorithms' }),
        ],
      },
      { content: [text('done')], expect: noToolErrors },
    ]);
    const report = await evaluateCases({ client, model: 'some-compatible-model', caseIds: [CASE], retry: { overloadedRetries: 0 } });
    api!.assertDone();
    const r = report.results[0]!;
    expect(r.targets[0]!.status).toBe('success');
    expect(r.fixed).toBe(false);
    expect(r.checks.filter((c) => !c.passed).map((c) => c.description)).toEqual([
      'isAuthorized() verifies with RS256 (authorize() signs RS256 tokens; publicKey verifies them)',
    ]);
    // An unknown model has no list price: tokens are reported, cost is not.
    expect(r.costUsd).toBeNull();
    expect(r.usage!.inputTokens).toBeGreaterThan(0);
    expect(formatReport(report)).toMatch(/^juice-shop-express-jwt\s+no\s+completed\s+express-jwt: success\s+2\s+[\d,]+\s+[\d,]+\s+n\/a/m);
  });

  it('reports a case that could not run (API error) with the reason and exit code 1', async () => {
    await startScript([{ error: 'authentication_error' }]);
    const { out, err, io } = cliIo();
    const code = await runCli(['--base-url', api!.url, '--api-key', 'bad', '--model', 'claude-haiku-4-5', '--case', CASE], io);
    expect(code).toBe(1);
    expect(out.join('')).toMatch(/^juice-shop-express-jwt\s+error\s+-\s+-/m);
    expect(err.join('')).toContain(`evaluate: case ${CASE} could not run: the agent run failed: AGENT_API_ACCESS_DENIED`);
  });

  it('every case is broken before the fix and passes its check after its reference fix', async () => {
    const ids = await listCaseIds(DEFAULT_CASES_DIR);
    expect(ids).toEqual(expect.arrayContaining([CASE, 'nodegoat-marked']));
    for (const id of ids) {
      const verification = await verifyCase(await loadCase(DEFAULT_CASES_DIR, id));
      expect(verification, id).toEqual({ caseId: id, brokenBefore: true, fixedByReference: true, problems: [] });
    }
    const { out, io } = cliIo();
    expect(await runCli(['--verify-cases'], io)).toBe(0);
    expect(out.join('')).toContain(`ok   ${CASE}: broken before, reference fix passes`);
  });

  it('does not count deleting a middleware as a fix of juice-shop-express-jwt', async () => {
    const juice = await loadCase(DEFAULT_CASES_DIR, CASE);
    const prepared = await prepareWorkspace(juice);
    temps.push(prepared.dir);
    const file = join(prepared.dir, 'lib/insecurity.ts');
    const source = await readFile(file, 'utf8');
    await writeFile(
      file,
      source
        .replace('expressJwt(({ secret: publicKey }) as any)', "expressJwt(({ secret: publicKey, algorithms: ['RS256'] }) as any)")
        .replace(/^export const denyAll = .*\n/m, ''),
    );
    const checks = await runCheck(prepared.dir, juice.check);
    expect(checks.map((c) => c.passed)).toEqual([true, false]);
    expect(checks[1]!.detail).toContain('matches 1 time(s), needs 2');
  });

  it('accepts the other way to fix nodegoat-marked (marked.parse in the view) and applies the bump with proof', async () => {
    const nodegoat = await loadCase(DEFAULT_CASES_DIR, 'nodegoat-marked');
    const prepared = await prepareWorkspace(nodegoat);
    temps.push(prepared.dir);
    expect(prepared.targets).toMatchObject([{ name: 'marked', from: '0.3.5', to: '4.0.10', jump: 'major', advisoryRanges: ['<4.0.10', '<4.0.10', '<0.3.6', '<0.3.9'] }]);
    expect(JSON.parse(await readFile(join(prepared.dir, 'package.json'), 'utf8')).dependencies.marked).toBe('4.0.10');
    const before = await runCheck(prepared.dir, nodegoat.check);
    expect(before.map((c) => c.passed)).toEqual([true, false]);
    const view = join(prepared.dir, 'app/views/memos.html');
    await writeFile(view, (await readFile(view, 'utf8')).replace('{{ marked(doc.memo) }}', '{{ marked.parse(doc.memo) }}'));
    expect((await runCheck(prepared.dir, nodegoat.check)).map((c) => c.passed)).toEqual([true, true]);
  });

  it('rejects a bad case.json naming each bad field', async () => {
    const good = JSON.parse(await readFile(join(DEFAULT_CASES_DIR, CASE, 'case.json'), 'utf8'));
    const bad = structuredClone(good);
    bad.targets[0].to = '6';
    bad.targets[0].advisories[0].affectedRanges = ['not a range'];
    bad.check.all[0].mustMatch = ['expressJwt(('];
    bad.check.all.push({ description: 'alternatives', anyOf: [{ path: '../outside.ts', mustMatch: ['x'] }] });
    let error: unknown;
    try {
      parseCase(bad, 'case.json');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CaseDefinitionError);
    const message = (error as Error).message;
    expect(message).toContain('targets[0].to: must be a full semver version such as 6.0.0');
    expect(message).toContain('targets[0].advisories[0].affectedRanges[0]: must be an npm semver range such as <6.0.0');
    expect(message).toContain('check.all[0].mustMatch[0]: invalid regular expression');
    expect(message).toContain('check.all[2].anyOf[0].path: must be a relative path inside the case');
    expect(message).toContain('check.all[2].anyOf: Too small');
    expect(() => parseCase(good, 'case.json', 'other-id')).toThrow('id: is "juice-shop-express-jwt" but the case directory is "other-id"');

    // Through the CLI: the case could not run, exit code 1, the field named.
    const casesDir = await mkdtemp(join(tmpdir(), 'eval-cases-'));
    temps.push(casesDir);
    await mkdir(join(casesDir, 'broken'));
    await writeFile(join(casesDir, 'broken', 'case.json'), JSON.stringify({ ...good, id: 'broken', manifest: { path: 'missing.json' }, extra: 1 }));
    const { out, err, io } = cliIo();
    expect(await runCli(['--cases-dir', casesDir, '--api-key', 'unused', '--model', 'm', '--base-url', 'http://127.0.0.1:9'], io)).toBe(1);
    expect(out.join('')).toMatch(/^broken\s+error/m);
    expect(err.join('')).toMatch(/case broken could not run: .*broken\/case\.json: \(root\): Unrecognized key: "extra"/);
  });

  it('names a missing case and a usage error', async () => {
    const { err, io } = cliIo();
    expect(await runCli(['--max-turns', 'ten', '--api-key', 'k', '--model', 'm'], io)).toBe(2);
    expect(err.join('')).toContain('--max-turns must be a positive integer, got "ten"');
    expect(await runCli(['--api-key', 'k'], io)).toBe(2);
    expect(err.join('')).toContain('no model: pass --model (e.g. claude-sonnet-4-5) or set ANTHROPIC_MODEL');
    await expect(loadCase(DEFAULT_CASES_DIR, 'no-such-case')).rejects.toThrow(/no such case "no-such-case" \(cases: .*juice-shop-express-jwt/);
  });
});
