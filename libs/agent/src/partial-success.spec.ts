import Anthropic from '@anthropic-ai/sdk';
import { startMessagesApiLocal, type MessagesApiLocal, type ScriptTurn } from '@remediation/messages-api-local';
import { afterEach, describe, expect, it } from 'vitest';
import { decidePartialSuccess, type DecisionTarget, type PartialSuccessPolicy } from './index.js';

let api: MessagesApiLocal | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

const targets: DecisionTarget[] = [
  { name: 'express-jwt', status: 'success', reason: null, advisories: [{ id: 'GHSA-6g6m-m6h5-w9gf', severity: 'high' }] },
  { name: 'jsonwebtoken', status: 'failed', reason: 'verify() API changed; code could not be adapted', advisories: [{ id: 'GHSA-27h2-hvpr-p74q', severity: 'high' }] },
  { name: 'lodash', status: 'success', reason: null, advisories: [{ id: 'GHSA-35jh-r3h4-6jhm', severity: 'high' }] },
  { name: 'left-pad', status: 'skipped', reason: 'not declared in package.json', advisories: [{ id: 'GHSA-xxxx-low', severity: 'low' }] },
];

async function decide(script: ScriptTurn[], policy: PartialSuccessPolicy, list: DecisionTarget[] = targets, stream = true) {
  api = await startMessagesApiLocal({ script });
  const client = new Anthropic({ apiKey: 'k', baseURL: api.url, maxRetries: 0 });
  return decidePartialSuccess({ client, model: 'claude-test', targets: list, policy, stream });
}

const decision = (input: Record<string, unknown>): ScriptTurn => ({
  content: [{ type: 'tool_use', name: 'decide_partial_success', input }],
  expect: (req) => {
    expect(req.body!.tool_choice).toEqual({ type: 'tool', name: 'decide_partial_success' });
    expect(req.body!.tools!.map((t) => t.name)).toEqual(['decide_partial_success']);
    expect(req.body!.tools![0]!.input_schema).toMatchObject({ required: ['ship', 'targets', 'reasoning'], additionalProperties: false });
    const system = String(req.body!.system);
    expect(system).toContain('- jsonwebtoken: failed (verify() API changed; code could not be adapted); advisories: GHSA-27h2-hvpr-p74q [high]');
    expect(system).toContain('you may ship only these targets, in any\nsubset: express-jwt, lodash.');
  },
});

describe('decidePartialSuccess', () => {
  it('lets the model decide within the policy, through a forced tool call', async () => {
    const result = await decide([decision({ ship: true, targets: ['lodash'], reasoning: 'lodash fix is independent; express-jwt waits for jsonwebtoken.' })], { neverShipLeavingCritical: true });
    expect(result).toEqual({
      ship: true,
      targets: ['lodash'],
      reasoning: 'lodash fix is independent; express-jwt waits for jsonwebtoken.',
      decidedBy: 'model',
      overrides: [],
    });
    api!.assertDone();
  });

  it('overrides the model: drops targets that did not succeed and refuses to ship nothing', async () => {
    const widened = await decide(
      [decision({ ship: true, targets: ['express-jwt', 'jsonwebtoken', 'left-pad'], reasoning: 'Ship everything.' })],
      { neverShipLeavingCritical: true },
      targets,
      false,
    );
    expect(widened.ship).toBe(true);
    expect(widened.targets).toEqual(['express-jwt']);
    expect(widened.overrides).toEqual(['dropped targets that did not succeed: jsonwebtoken, left-pad']);
    expect(widened.reasoning).toBe('Ship everything.\n[policy: dropped targets that did not succeed: jsonwebtoken, left-pad]');
    await api!.close();

    const empty = await decide([decision({ ship: true, targets: ['jsonwebtoken'], reasoning: 'Ship the failure.' })], { neverShipLeavingCritical: false });
    expect(empty).toMatchObject({ ship: false, targets: [], decidedBy: 'model' });
    expect(empty.overrides).toEqual(['dropped targets that did not succeed: jsonwebtoken', 'no allowed target left to ship: not shipping']);
    await api!.close();

    const required = await decide([decision({ ship: true, targets: ['lodash'], reasoning: 'Only lodash.' })], { neverShipLeavingCritical: false, requiredTargets: ['express-jwt'] });
    expect(required.targets).toEqual(['express-jwt', 'lodash']);
    expect(required.overrides).toEqual(['added required targets: express-jwt']);
  });

  it('never asks the model when the policy forbids shipping (a critical advisory left open)', async () => {
    const withCritical = targets.map((t) => (t.name === 'jsonwebtoken' ? { ...t, advisories: [{ id: 'GHSA-crit', severity: 'critical' as const }] } : t));
    const result = await decide([], { neverShipLeavingCritical: true }, withCritical);
    expect(result).toEqual({
      ship: false,
      targets: [],
      reasoning: 'policy neverShipLeavingCritical: critical advisories would stay open: jsonwebtoken (GHSA-crit)',
      decidedBy: 'policy',
      overrides: [],
    });
    expect(api!.requests).toHaveLength(0);
  });

  it('decides by policy alone for other rules and when nothing is partial', async () => {
    expect(await decide([], { neverShipLeavingCritical: true, minSuccessRatio: 0.75 })).toMatchObject({
      ship: false,
      decidedBy: 'policy',
      reasoning: 'policy minSuccessRatio: 2/3 succeeded, below 0.75',
    });
    await api!.close();
    expect(await decide([], { neverShipLeavingCritical: true, requiredTargets: ['jsonwebtoken'] })).toMatchObject({ ship: false, decidedBy: 'policy' });
    await api!.close();
    const allGood = targets.filter((t) => t.name !== 'jsonwebtoken');
    expect(await decide([], { neverShipLeavingCritical: true }, allGood)).toEqual({
      ship: true,
      targets: ['express-jwt', 'lodash'],
      reasoning: 'policy: every target that applies succeeded; nothing partial to decide',
      decidedBy: 'policy',
      overrides: [],
    });
    await api!.close();
    expect(await decide([], { neverShipLeavingCritical: false }, targets.map((t) => ({ ...t, status: 'failed' as const })))).toMatchObject({ ship: false, decidedBy: 'policy' });
    expect(api!.requests).toHaveLength(0);
  });

  it('fails with AGENT_RESPONSE_INVALID when the decision tool input is invalid', async () => {
    const error = await decide([{ content: [{ type: 'tool_use', name: 'decide_partial_success', input: { ship: 'yes' } }] }], { neverShipLeavingCritical: true }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'AGENT_RESPONSE_INVALID', retryable: true });
  });
});
