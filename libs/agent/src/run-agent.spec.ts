import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import type { MessageParam } from '@anthropic-ai/sdk/resources/messages';
import { lastToolResults, startMessagesApiLocal, type MessagesApiLocal, type RecordedRequest, type ScriptTurn } from '@remediation/messages-api-local';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { agentMetrics } from '@remediation/metrics';
import {
  createBumpVersionTool,
  createFileTools,
  createManifestBumper,
  createReportOutcomeTool,
  runAgent,
  Workspace,
  type AgentBudget,
  type AgentCheckpoint,
  type AgentTool,
  type ModelRetryEvent,
  type RunAgentOptions,
  type ToolCallEvent,
} from './index.js';

const APP_JS = [
  "const express = require('express');",
  "const expressJwt = require('express-jwt');",
  '',
  'const app = express();',
  "app.use(expressJwt({ secret: process.env.JWT_SECRET }));",
  'module.exports = app;',
  '',
].join('\n');
const FIXED_APP_JS = APP_JS.replace(
  "app.use(expressJwt({ secret: process.env.JWT_SECRET }));",
  "app.use(expressJwt.expressjwt({ secret: process.env.JWT_SECRET, algorithms: ['HS256'] }));",
);
const PACKAGE_JSON = '{\n  "name": "demo",\n  "dependencies": {\n    "express-jwt": "6.1.2",\n    "@types/express-jwt": "^0.0.42"\n  }\n}\n';

const budget: AgentBudget = {
  maxInputTokens: 1_000_000,
  maxOutputTokens: 100_000,
  maxCostUsd: 10,
  pricing: { inputUsdPerMTok: 3, outputUsdPerMTok: 15 },
};

let base: string;
let root: string;
let outside: string;
let api: MessagesApiLocal | undefined;

async function put(rel: string, content: string | Buffer): Promise<void> {
  await mkdir(dirname(join(root, rel)), { recursive: true });
  await writeFile(join(root, rel), content);
}

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'agent-run-'));
  root = join(base, 'workspace');
  outside = join(base, 'outside');
  await mkdir(root);
  await mkdir(outside);
  await writeFile(join(outside, 'secret.txt'), 'top secret\n');
  await put('src/app.js', APP_JS);
  await put('src/app.spec.js', "test('app', () => {});\n");
  await put('.github/workflows/ci.yml', 'on: push\n');
  await put('package.json', PACKAGE_JSON);
  await put('src/dup.js', 'call();\ncall();\n');
  await put('assets/huge.txt', 'x'.repeat(1024 * 1024 + 10));
  await symlink(outside, join(root, 'vendor-link'));
});
afterEach(async () => {
  await api?.close();
  api = undefined;
  await rm(base, { recursive: true, force: true });
});

interface Harness {
  api: MessagesApiLocal;
  client: Anthropic;
  workspace: Workspace;
  tools: AgentTool[];
  reports: () => Array<{ target: string; status: string; reason: string }>;
  options: (extra?: Partial<RunAgentOptions>) => RunAgentOptions;
}

async function harness(script: ScriptTurn[], clientOptions: { maxRetries?: number } = {}): Promise<Harness> {
  api = await startMessagesApiLocal({ script, chunkSize: 7 });
  const client = new Anthropic({ apiKey: 'test-key', baseURL: api.url, maxRetries: clientOptions.maxRetries ?? 2 });
  const workspace = await Workspace.open(root);
  const outcome = createReportOutcomeTool({ targets: ['express-jwt'] });
  const tools = [
    ...createFileTools(workspace),
    createBumpVersionTool({ bump: createManifestBumper(workspace, { allowedPackages: ['express-jwt', '@types/express-jwt'] }) }),
    outcome.tool,
  ];
  const server = api;
  return {
    api: server,
    client,
    workspace,
    tools,
    reports: outcome.reports,
    options: (extra = {}) => ({
      client,
      model: 'claude-test',
      maxTokens: 4096,
      maxTurns: 10,
      budget,
      system: 'You fix code.',
      initialMessages: [{ role: 'user', content: 'Upgrade express-jwt 0.1.3 → 6.1.2 and fix src/app.js.' }],
      tools,
      retry: { baseDelayMs: 5 },
      ...extra,
    }),
  };
}

/** Script helpers. */
const toolUse = (id: string, name: string, input: Record<string, unknown>) => ({ type: 'tool_use' as const, id, name, input });
const text = (t: string) => ({ type: 'text' as const, text: t });
function resultsOf(req: RecordedRequest) {
  return lastToolResults(req);
}

/** The scripted successful fix: read, edit, report, summary. */
function fixScript(stream: boolean): ScriptTurn[] {
  return [
    {
      stream,
      content: [text('Let me look at the app.'), toolUse('toolu_read', 'read_file', { path: 'src/app.js' })],
      usage: { input_tokens: 1200, output_tokens: 40 },
      expect: (req) => {
        expect(req.body!.tools!.map((t) => t.name)).toEqual(['read_file', 'write_file', 'edit_file', 'list_files', 'grep', 'bump_version', 'report_outcome']);
        expect(req.body!.tools![0]!.input_schema).toMatchObject({ type: 'object', required: ['path'] });
        expect(req.body!.system).toEqual([{ type: 'text', text: 'You fix code.', cache_control: { type: 'ephemeral' } }]);
        expect(req.body!.messages).toHaveLength(1);
      },
    },
    {
      stream,
      content: [
        toolUse('toolu_edit', 'edit_file', {
          path: 'src/app.js',
          old_string: "app.use(expressJwt({ secret: process.env.JWT_SECRET }));",
          new_string: "app.use(expressJwt.expressjwt({ secret: process.env.JWT_SECRET, algorithms: ['HS256'] }));",
        }),
      ],
      usage: { input_tokens: 1500, output_tokens: 80 },
      expect: (req) => {
        const [read] = resultsOf(req);
        expect(read).toMatchObject({ tool_use_id: 'toolu_read', is_error: false });
        expect(read!.content).toContain("     5\tapp.use(expressJwt({ secret: process.env.JWT_SECRET }));");
      },
    },
    {
      stream,
      content: [toolUse('toolu_report', 'report_outcome', { target: 'express-jwt', status: 'success', reason: 'express-jwt 6 exports expressjwt and requires algorithms' })],
      usage: { input_tokens: 1700, output_tokens: 50 },
      expect: (req) => {
        expect(resultsOf(req)).toEqual([{ tool_use_id: 'toolu_edit', content: 'edited src/app.js: 1 replacement', is_error: false }]);
      },
    },
    {
      stream,
      content: [text('Switched to the named expressjwt export and added the required algorithms option.')],
      usage: { input_tokens: 1800, output_tokens: 30 },
      expect: (req) => {
        expect(resultsOf(req)).toEqual([{ tool_use_id: 'toolu_report', content: 'recorded express-jwt: success', is_error: false }]);
        expect(req.body!.messages).toHaveLength(7);
      },
    },
  ];
}

describe('runAgent against messages-api-local (real SDK)', () => {
  for (const stream of [true, false]) {
    it(`fixes code over several turns (${stream ? 'streaming' : 'non-streaming'})`, async () => {
      const h = await harness(fixScript(stream));
      const toolEvents: ToolCallEvent[] = [];
      const checkpoints: AgentCheckpoint[] = [];
      const registry = new Registry();
      const result = await runAgent(h.options({ stream, onToolCall: (e) => void toolEvents.push(e), onTurn: (c) => void checkpoints.push(c), metrics: registry }));

      expect(result.outcome).toBe('completed');
      expect(result.stopReason).toBe('end_turn');
      expect(result.turns).toBe(4);
      expect(result.toolCalls).toBe(3);
      expect(result.finalText).toBe('Switched to the named expressjwt export and added the required algorithms option.');
      expect(await readFile(join(root, 'src/app.js'), 'utf8')).toBe(FIXED_APP_JS);
      expect(h.workspace.changedPaths()).toEqual(['src/app.js']);
      expect(h.reports()).toEqual([{ target: 'express-jwt', status: 'success', reason: 'express-jwt 6 exports expressjwt and requires algorithms' }]);
      expect(toolEvents.map((e) => [e.turn, e.name, e.isError])).toEqual([
        [1, 'read_file', false],
        [2, 'edit_file', false],
        [3, 'report_outcome', false],
      ]);
      expect(checkpoints.map((c) => c.phase)).toEqual(['response', 'tool_results', 'response', 'tool_results', 'response', 'tool_results', 'response']);
      expect(checkpoints.at(-1)!.conversation).toEqual(result.conversation);
      expect(result.usage).toMatchObject({ inputTokens: 6200, outputTokens: 200, requests: 4 });
      expect(result.usage.costUsd).toBeCloseTo((6200 * 3 + 200 * 15) / 1e6, 10);
      expect(h.api.requests.every((r) => r.stream === stream)).toBe(true);
      // The same numbers as remediation_agent_* counters (docs/operations.md "Agent").
      const m = agentMetrics(registry);
      const total = async (c: { get(): Promise<{ values: Array<{ value: number; labels: Record<string, unknown> }> }> }, labels: Record<string, string> = {}) =>
        (await c.get()).values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((n, v) => n + v.value, 0);
      expect(await total(m.turns, { provider: 'anthropic' })).toBe(4);
      for (const tool of ['read_file', 'edit_file', 'report_outcome']) expect(await total(m.toolCalls, { tool, outcome: 'ok' }), tool).toBe(1);
      expect(await total(m.tokens, { type: 'input' })).toBe(6200);
      expect(await total(m.tokens, { type: 'output' })).toBe(200);
      expect(await total(m.cost)).toBeCloseTo(result.usage.costUsd, 10);
      h.api.assertDone();
    });
  }

  it('returns every refused tool call to the model as an is_error tool_result and changes nothing', async () => {
    const calls = [
      toolUse('t_dotdot', 'read_file', { path: '../outside/secret.txt' }),
      toolUse('t_abs', 'read_file', { path: join(outside, 'secret.txt') }),
      toolUse('t_symlink', 'read_file', { path: 'vendor-link/secret.txt' }),
      toolUse('t_symlink_write', 'write_file', { path: 'vendor-link/evil.js', content: 'pwned' }),
      toolUse('t_test', 'edit_file', { path: 'src/app.spec.js', old_string: "test('app'", new_string: "test('app, edited'" }),
      toolUse('t_ci', 'write_file', { path: '.github/workflows/ci.yml', content: 'on: never\n' }),
      toolUse('t_manifest', 'write_file', { path: 'package.json', content: '{}' }),
      toolUse('t_huge', 'read_file', { path: 'assets/huge.txt' }),
      toolUse('t_dup', 'edit_file', { path: 'src/dup.js', old_string: 'call();', new_string: 'other();' }),
      toolUse('t_badinput', 'edit_file', { path: 'src/app.js' }),
      toolUse('t_bump_other', 'bump_version', { package: 'lodash', version: '4.17.21' }),
    ];
    const expected: Record<string, RegExp> = {
      t_dotdot: /^refused: \.\.\/outside\/secret\.txt leaves the workspace/,
      t_abs: /^refused: .* is an absolute path outside the workspace/,
      t_symlink: /^refused: vendor-link\/secret\.txt resolves through a symlink to .* outside the workspace/,
      t_symlink_write: /^refused: vendor-link\/evil\.js resolves through a symlink/,
      t_test: /^refused: src\/app\.spec\.js is a test file/,
      t_ci: /^refused: \.github\/workflows\/ci\.yml is CI configuration/,
      t_manifest: /^refused: package\.json is a package manifest; change dependency versions with the bump_version tool/,
      t_huge: /^refused: assets\/huge\.txt is 1048586 bytes, over the 1048576-byte limit/,
      t_dup: /^old_string occurs 2 times in src\/dup\.js/,
      t_badinput: /^invalid input for edit_file:/,
      t_bump_other: /^refused: bump_version may only change express-jwt, @types\/express-jwt in this execution, not lodash/,
    };
    const h = await harness([
      { content: calls },
      {
        content: [text('Everything I tried was refused.')],
        expect: (req) => {
          const results = resultsOf(req);
          expect(results.map((r) => r.tool_use_id)).toEqual(calls.map((c) => c.id));
          for (const r of results) {
            expect(r.is_error, r.tool_use_id).toBe(true);
            expect(r.content, r.tool_use_id).toMatch(expected[r.tool_use_id]!);
          }
        },
      },
    ]);
    const events: ToolCallEvent[] = [];
    const result = await runAgent(h.options({ onToolCall: (e) => void events.push(e) }));
    expect(result.outcome).toBe('completed');
    expect(events).toHaveLength(calls.length);
    expect(events.every((e) => e.isError)).toBe(true);
    expect(h.workspace.changedPaths()).toEqual([]);
    expect(await readFile(join(root, 'src/app.spec.js'), 'utf8')).toBe("test('app', () => {});\n");
    expect(await readFile(join(root, '.github/workflows/ci.yml'), 'utf8')).toBe('on: push\n');
    expect(await readFile(join(root, 'package.json'), 'utf8')).toBe(PACKAGE_JSON);
    await expect(readFile(join(outside, 'evil.js'))).rejects.toThrow();
    h.api.assertDone();
  });

  it('bumps a companion package through bump_version (the manifest editor), never by writing package.json', async () => {
    const h = await harness([
      { content: [toolUse('t_bump', 'bump_version', { package: '@types/express-jwt', version: '6.0.4' })] },
      {
        content: [text('Bumped the types.')],
        expect: (req) => expect(resultsOf(req)[0]).toMatchObject({ is_error: false, content: 'package.json: dependencies @types/express-jwt ^0.0.42 → ^6.0.4' }),
      },
    ]);
    const result = await runAgent(h.options());
    expect(result.outcome).toBe('completed');
    expect(await readFile(join(root, 'package.json'), 'utf8')).toBe(PACKAGE_JSON.replace('^0.0.42', '^6.0.4'));
    expect(h.workspace.changedPaths()).toEqual(['package.json']);
    h.api.assertDone();
  });

  it('survives a 429 and a 529 mid-run (SDK retries) and retries overloaded errors visibly (our retry)', async () => {
    const h = await harness([
      { content: [toolUse('t1', 'read_file', { path: 'src/app.js' })] },
      { error: 'rate_limit_error', retryAfterSeconds: 0.01 },
      { error: 'overloaded_error', retryAfterSeconds: 0.01 },
      { content: [toolUse('t2', 'list_files', { pattern: 'src/*.js' })], expect: (req) => expect(resultsOf(req)[0]!.tool_use_id).toBe('t1') },
      { error: 'overloaded_error', midStream: true },
      { content: [text('done')], expect: (req) => expect(resultsOf(req)[0]).toMatchObject({ tool_use_id: 't2', content: 'src/app.js\nsrc/app.spec.js\nsrc/dup.js' }) },
    ]);
    const retries: ModelRetryEvent[] = [];
    const result = await runAgent(h.options({ onRetry: (e) => void retries.push(e) }));
    expect(result.outcome).toBe('completed');
    expect(result.turns).toBe(3);
    expect(h.api.requests.map((r) => r.status)).toEqual([200, 429, 529, 200, 200, 200]);
    // The SDK handled the 429 and the HTTP 529 itself; the mid-stream overloaded error is ours.
    expect(retries).toEqual([{ attempt: 1, delayMs: expect.any(Number), status: undefined, type: 'overloaded_error', message: 'Overloaded' }]);
    h.api.assertDone();
  });

  it('retries HTTP 529 itself when the SDK does not, then gives up with AGENT_API_UNAVAILABLE (retryable)', async () => {
    const h = await harness(
      [
        { error: 'overloaded_error' },
        { content: [toolUse('t1', 'read_file', { path: 'src/app.js' })] },
        { error: 'overloaded_error' },
        { error: 'overloaded_error' },
        { error: 'overloaded_error' },
      ],
      { maxRetries: 0 },
    );
    const retries: ModelRetryEvent[] = [];
    const checkpoints: AgentCheckpoint[] = [];
    const error = await runAgent(h.options({ retry: { overloadedRetries: 2, baseDelayMs: 5 }, onRetry: (e) => void retries.push(e), onTurn: (c) => void checkpoints.push(c) })).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'AGENT_API_UNAVAILABLE', retryable: true, details: { status: 529, type: 'overloaded_error', attempts: 3 } });
    expect(retries.map((r) => [r.attempt, r.status])).toEqual([
      [1, 529],
      [1, 529],
      [2, 529],
    ]);
    expect(h.api.requests).toHaveLength(5);
    // What was persisted lets the step resume without re-asking for the first answer.
    expect(checkpoints.at(-1)!.phase).toBe('tool_results');
    expect(checkpoints.at(-1)!.conversation).toHaveLength(3);
    h.api.assertDone();
  });

  it('fails with AGENT_REQUEST_INVALID (not retryable) when the API rejects the request', async () => {
    const h = await harness([{ error: 'invalid_request_error', message: 'model: unknown model claude-nope' }]);
    const error = await runAgent(h.options()).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'AGENT_REQUEST_INVALID', retryable: false, details: { status: 400, apiMessage: 'model: unknown model claude-nope' } });
    expect(h.api.requests).toHaveLength(1);
  });

  it('stops with budget_exhausted when the output budget is spent, after running that turn’s tools, sending nothing more', async () => {
    const h = await harness([
      {
        content: [toolUse('t1', 'edit_file', { path: 'src/dup.js', old_string: 'call();\ncall();', new_string: 'call();' })],
        usage: { input_tokens: 500, output_tokens: 1500 },
        expect: (req) => expect(req.body!.max_tokens).toBe(2000),
      },
      { content: [text('never served')] },
    ]);
    const result = await runAgent(h.options({ budget: { ...budget, maxOutputTokens: 2000 } }));
    expect(result.outcome).toBe('budget_exhausted');
    expect(result.detail).toBe('output token budget: 1500 used of 2000');
    expect(result.usage).toMatchObject({ inputTokens: 500, outputTokens: 1500, requests: 1 });
    expect(await readFile(join(root, 'src/dup.js'), 'utf8')).toBe('call();\n');
    expect(result.conversation.at(-1)!.role).toBe('user');
    expect(h.api.requests).toHaveLength(1);
    expect(h.api.remainingTurns).toBe(1);
  });

  it('stops with budget_exhausted before a request that would pass the input budget', async () => {
    const h = await harness([{ content: [toolUse('t1', 'read_file', { path: 'src/app.js' })], usage: { input_tokens: 4000, output_tokens: 10 } }, { content: [text('never')] }]);
    const result = await runAgent(h.options({ budget: { ...budget, maxInputTokens: 5000 } }));
    expect(result.outcome).toBe('budget_exhausted');
    expect(result.detail).toMatch(/^input token budget: 4000 used of 5000, and the next request needs about 4\d{3} \(estimated\)$/);
    expect(h.api.requests).toHaveLength(1);
  });

  it('clamps max_tokens to what the cost budget still pays for, then stops before overspending', async () => {
    // $0.01 at $3/$15 per MTok; min 50 output tokens a request.
    let secondMaxTokens = 0;
    const h = await harness([
      (req) => {
        expect(req.body!.max_tokens).toBeLessThan(666);
        return { content: [toolUse('t1', 'read_file', { path: 'src/dup.js' })], usage: { input_tokens: 1000, output_tokens: 100 } };
      },
      (req) => {
        // $0.0055 left, minus the estimated input (≥ 1000 tokens × $3/MTok): fewer than 166 output tokens.
        secondMaxTokens = req.body!.max_tokens;
        expect(secondMaxTokens).toBeGreaterThanOrEqual(50);
        expect(secondMaxTokens).toBeLessThan(166);
        return { content: [toolUse('t2', 'read_file', { path: 'src/dup.js' })], usage: { input_tokens: 1050, output_tokens: secondMaxTokens } };
      },
      { content: [text('never served')] },
    ]);
    const result = await runAgent(h.options({ maxTokens: 4096, budget: { ...budget, maxCostUsd: 0.01, minOutputTokensPerRequest: 50 } }));
    expect(result.outcome).toBe('budget_exhausted');
    expect(result.detail).toMatch(/^cost budget: \$0\.0\d+ spent of \$0\.01, not enough for another request of at least 50 output tokens$/);
    expect(result.usage.costUsd).toBeCloseTo((2050 * 3 + (100 + secondMaxTokens) * 15) / 1e6, 10);
    expect(result.usage.costUsd).toBeLessThanOrEqual(0.01);
    expect(h.api.requests).toHaveLength(2);
  });

  it('stops at the turn limit', async () => {
    const h = await harness([
      { content: [toolUse('t1', 'list_files', {})] },
      { content: [toolUse('t2', 'grep', { pattern: 'express' })] },
      { content: [text('never served')] },
    ]);
    const result = await runAgent(h.options({ maxTurns: 2 }));
    expect(result.outcome).toBe('turn_limit');
    expect(result.turns).toBe(2);
    expect(result.toolCalls).toBe(2);
    expect(h.api.requests).toHaveLength(2);
  });

  it('resumes a stored conversation: re-executes unanswered tool calls, then sends the earlier turns', async () => {
    const stored: MessageParam[] = [
      { role: 'user', content: 'Upgrade express-jwt 0.1.3 → 6.1.2 and fix src/app.js.' },
      { role: 'assistant', content: [{ type: 'text', text: 'Reading.' }, { type: 'tool_use', id: 'toolu_old_read', name: 'read_file', input: { path: 'src/app.js' } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_old_read', content: '(earlier read)' }] },
      {
        role: 'assistant',
        content: [
          {
            type: 'tool_use',
            id: 'toolu_old_edit',
            name: 'edit_file',
            input: { path: 'src/app.js', old_string: 'expressJwt({ secret', new_string: 'expressJwt.expressjwt({ algorithms: [\'HS256\'], secret' },
          },
        ],
      },
    ];
    const h = await harness([
      {
        content: [text('Done after the restart.')],
        expect: (req) => {
          const messages = req.body!.messages;
          expect(messages).toHaveLength(5);
          expect(messages.slice(0, 4)).toEqual(stored);
          expect(resultsOf(req)).toEqual([{ tool_use_id: 'toolu_old_edit', content: 'edited src/app.js: 1 replacement', is_error: false }]);
        },
      },
    ]);
    const events: ToolCallEvent[] = [];
    const previousUsage = { inputTokens: 3000, outputTokens: 120, cacheCreationInputTokens: 0, cacheReadInputTokens: 0, costUsd: 0.0108, requests: 2 };
    const result = await runAgent(h.options({ initialMessages: undefined, conversation: stored, usage: previousUsage, onToolCall: (e) => void events.push(e) }));
    expect(result.outcome).toBe('completed');
    expect(result.turns).toBe(3);
    expect(result.usage.requests).toBe(3);
    expect(result.usage.inputTokens).toBeGreaterThan(3000);
    expect(events).toMatchObject([{ name: 'edit_file', resumed: true, turn: 2, isError: false }]);
    expect(await readFile(join(root, 'src/app.js'), 'utf8')).toContain("expressJwt.expressjwt({ algorithms: ['HS256'], secret");
    h.api.assertDone();
  });

  it('resumes from the checkpoint persisted before a crash and finishes the fix', async () => {
    // Run 1: the API goes away after the first answer; the step fails with a retryable error.
    const first = await harness([fixScript(true)[0]!, { error: 'api_error' }], { maxRetries: 0 });
    let saved: AgentCheckpoint | undefined;
    const error = await runAgent(first.options({ retry: { overloadedRetries: 0 }, onTurn: (c) => void (saved = c) })).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'AGENT_API_UNAVAILABLE', retryable: true });
    await first.api.close();
    expect(saved!.phase).toBe('tool_results');

    // Run 2 (a redelivery, maybe on another node): resume from what was stored.
    const rest = fixScript(true).slice(1);
    const second = await harness([
      {
        ...(rest[0] as object),
        expect: (req: RecordedRequest) => {
          expect(req.body!.messages.slice(0, 3)).toEqual(saved!.conversation);
          (fixScript(true)[1] as { expect: (r: RecordedRequest) => void }).expect(req);
        },
      } as ScriptTurn,
      ...rest.slice(1),
    ]);
    const result = await runAgent(second.options({ initialMessages: undefined, conversation: saved!.conversation, usage: saved!.usage }));
    expect(result.outcome).toBe('completed');
    expect(result.turns).toBe(4);
    expect(await readFile(join(root, 'src/app.js'), 'utf8')).toBe(FIXED_APP_JS);
    second.api.assertDone();
  });

  it('a stored conversation that already ends with the final answer completes without a request', async () => {
    const h = await harness([]);
    const result = await runAgent(
      h.options({
        initialMessages: undefined,
        conversation: [
          { role: 'user', content: 'fix' },
          { role: 'assistant', content: [{ type: 'text', text: 'All done.' }] },
        ],
      }),
    );
    expect(result).toMatchObject({ outcome: 'completed', finalText: 'All done.', turns: 1 });
    expect(h.api.requests).toHaveLength(0);
  });

  it('is cancelled by its signal during a model request', async () => {
    const controller = new AbortController();
    const h = await harness([
      async () => {
        controller.abort();
        await new Promise((resolve) => setTimeout(resolve, 50));
        return { content: [text('too late')] };
      },
    ]);
    const result = await runAgent(h.options({ signal: controller.signal }));
    expect(result).toMatchObject({ outcome: 'cancelled', detail: 'cancelled during a model request', turns: 0 });
  });

  it('is cancelled by its signal between tool calls, answering the remaining calls', async () => {
    const h = await harness([{ content: [toolUse('t1', 'read_file', { path: 'src/app.js' }), toolUse('t2', 'read_file', { path: 'src/dup.js' })] }, { content: [text('never')] }]);
    const controller = new AbortController();
    const result = await runAgent(h.options({ signal: controller.signal, onToolCall: () => controller.abort() }));
    expect(result.outcome).toBe('cancelled');
    const last = result.conversation.at(-1)!;
    expect(last.content).toMatchObject([
      { tool_use_id: 't1' },
      { tool_use_id: 't2', is_error: true, content: 'not executed: the run was cancelled' },
    ]);
    expect(h.api.requests).toHaveLength(1);
  });
});
