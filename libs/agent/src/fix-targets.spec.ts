import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { startMessagesApiLocal, type MessagesApiLocal, type ScriptTurn } from '@remediation/messages-api-local';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fixTargets, manifestDiff, renderPrompt, type AgentCheckpoint, type FixTarget, type FixTargetsOptions } from './index.js';

const BEFORE = '{\n  "dependencies": {\n    "express-jwt": "0.1.3",\n    "lodash": "4.17.15"\n  },\n  "devDependencies": {\n    "@types/express-jwt": "^0.0.42"\n  }\n}\n';
const AFTER = BEFORE.replace('"0.1.3"', '"6.1.2"').replace('"4.17.15"', '"4.17.21"');

let root: string;
let api: MessagesApiLocal | undefined;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'agent-fix-'));
  await mkdir(join(root, 'lib'));
  await writeFile(join(root, 'package.json'), AFTER);
  await writeFile(join(root, 'lib/insecurity.js'), "const expressJwt = require('express-jwt');\nexports.guard = () => expressJwt({ secret: key });\n");
  await writeFile(join(root, 'lib/utils.js'), "const _ = require('lodash');\n");
});
afterEach(async () => {
  await api?.close();
  api = undefined;
  await rm(root, { recursive: true, force: true });
});

const targets: FixTarget[] = [
  {
    name: 'express-jwt',
    from: '0.1.3',
    to: '6.1.2',
    jump: 'major',
    manifestPath: 'package.json',
    manifestDiff: manifestDiff('package.json', BEFORE, BEFORE.replace('"0.1.3"', '"6.1.2"')),
    advisories: [{ id: 'GHSA-6g6m-m6h5-w9gf', severity: 'high' }],
    breakingChanges: ['6.0.0: the `algorithms` option is required'],
  },
  {
    name: 'lodash',
    from: '4.17.15',
    to: '4.17.21',
    jump: 'patch',
    manifestPath: 'package.json',
    manifestDiff: manifestDiff('package.json', BEFORE, BEFORE.replace('"4.17.15"', '"4.17.21"')),
    advisories: [{ id: 'GHSA-35jh-r3h4-6jhm', severity: 'high' }],
  },
];

async function options(script: ScriptTurn[], extra: Partial<FixTargetsOptions> = {}): Promise<FixTargetsOptions> {
  api = await startMessagesApiLocal({ script });
  return {
    client: new Anthropic({ apiKey: 'k', baseURL: api.url, maxRetries: 0 }),
    model: 'claude-test',
    maxTokens: 4096,
    maxTurns: 10,
    budget: { maxInputTokens: 1e6, maxOutputTokens: 1e5, maxCostUsd: 5, pricing: { inputUsdPerMTok: 3, outputUsdPerMTok: 15 } },
    workspaceDir: root,
    targets,
    retry: { overloadedRetries: 0 },
    ...extra,
  };
}

const use = (id: string, name: string, input: Record<string, unknown>) => ({ type: 'tool_use' as const, id, name, input });

describe('fixTargets', () => {
  it('runs one conversation over all targets with the prompt files and reports every target', async () => {
    const system = await renderPrompt('system');
    const opts = await options([
      {
        content: [
          use('e1', 'edit_file', { path: 'lib/insecurity.js', old_string: 'expressJwt({ secret: key })', new_string: "expressJwt({ secret: key, algorithms: ['HS256'] })" }),
          use('b1', 'bump_version', { package: '@types/express-jwt', version: '6.0.4' }),
          use('r1', 'report_outcome', { target: 'express-jwt', status: 'success', reason: 'added algorithms' }),
        ],
        expect: (req) => {
          expect(req.body!.system).toEqual([{ type: 'text', text: system, cache_control: { type: 'ephemeral' } }]);
          const first = String(req.body!.messages[0]!.content);
          expect(first).toContain('## Target: express-jwt 0.1.3 → 6.1.2 (major upgrade)');
          expect(first).toContain("- lib/insecurity.js:1: const expressJwt = require('express-jwt');");
          expect(first).toContain('## Target: lodash 4.17.15 → 4.17.21 (patch upgrade)');
          expect(first).toContain("- lib/utils.js:1: const _ = require('lodash');");
        },
      },
      { content: [{ type: 'text', text: 'Fixed express-jwt.' }] },
    ]);
    const result = await fixTargets(opts);
    expect(result.run.outcome).toBe('completed');
    expect(result.outcomes).toEqual([
      { target: 'express-jwt', status: 'success', reason: 'added algorithms' },
      { target: 'lodash', status: 'failed', reason: 'the agent reported no outcome (run completed: model ended its turn (end_turn))' },
    ]);
    expect(result.changedPaths).toEqual(['lib/insecurity.js', 'package.json']);
    expect(await readFile(join(root, 'package.json'), 'utf8')).toBe(AFTER.replace('^0.0.42', '^6.0.4'));
    api!.assertDone();
  });

  it('keeps the reports made before a crash when resuming', async () => {
    let saved: AgentCheckpoint | undefined;
    const first = await options([{ content: [use('r1', 'report_outcome', { target: 'lodash', status: 'success', reason: 'no code change needed' })] }, { error: 'api_error' }], {
      onTurn: (c) => void (saved = c),
    });
    await expect(fixTargets(first)).rejects.toMatchObject({ code: 'AGENT_API_UNAVAILABLE' });
    await api!.close();

    const second = await options(
      [
        { content: [use('r2', 'report_outcome', { target: 'express-jwt', status: 'failed', reason: 'needs a test change' })] },
        { content: [{ type: 'text', text: 'done' }] },
      ],
      { resume: { conversation: saved!.conversation, usage: saved!.usage } },
    );
    const result = await fixTargets(second);
    expect(result.outcomes).toEqual([
      { target: 'express-jwt', status: 'failed', reason: 'needs a test change' },
      { target: 'lodash', status: 'success', reason: 'no code change needed' },
    ]);
    api!.assertDone();
  });
});
