import Anthropic from '@anthropic-ai/sdk';
import { startMessagesApiLocal, type MessagesApiLocal } from '@remediation/messages-api-local';
import { afterEach, describe, expect, it } from 'vitest';
import { triageFeedback, type FeedbackItem } from './index.js';

let api: MessagesApiLocal | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

const pr = 'acme/app#7: upgrades express-jwt 0.1.3 → 6.0.0';

describe('triageFeedback', () => {
  it('asks the model through a forced tool call and returns its verdict and the restated request', async () => {
    api = await startMessagesApiLocal({
      script: [
        {
          expect: (r) => {
            expect(r.body!.tool_choice).toEqual({ type: 'tool', name: 'triage_feedback' });
            const system = String(r.body!.system);
            expect(system).toContain('kind: review_comment');
            expect(system).toContain('on: lib/insecurity.js:5');
            expect(system).toContain('Please use HS256');
          },
          content: [{ type: 'tool_use', name: 'triage_feedback', input: { actionable: true, reasoning: 'Asks for a different algorithm.', request: 'Use HS256 in isAuthorized.' } }],
        },
      ],
    });
    const client = new Anthropic({ apiKey: 'k', baseURL: api.url, maxRetries: 0 });
    const item: FeedbackItem = { kind: 'review_comment', author: 'alice', body: 'Please use HS256 here.', path: 'lib/insecurity.js', line: 5 };
    expect(await triageFeedback({ client, model: 'm', item, pullRequest: pr })).toEqual({
      actionable: true,
      reasoning: 'Asks for a different algorithm.',
      request: 'Use HS256 in isAuthorized.',
      decidedBy: 'model',
    });
    api.assertDone();
  });

  it('decides bot noise, approvals, passing checks and empty text by rule, without a model call', async () => {
    api = await startMessagesApiLocal({ script: [] });
    const client = new Anthropic({ apiKey: 'k', baseURL: api.url, maxRetries: 0 });
    const cases: FeedbackItem[] = [
      { kind: 'issue_comment', author: 'codecov[bot]', body: 'Coverage decreased by 0.1%' },
      { kind: 'issue_comment', author: 'remediation-bot', body: 'Addressed in v2' },
      { kind: 'review', author: 'alice', body: 'LGTM', state: 'APPROVED' },
      { kind: 'check_run', author: 'ci', body: 'tests', state: 'success' },
      { kind: 'review', author: 'alice', body: '   ', state: 'COMMENTED' },
    ];
    for (const item of cases) {
      const t = await triageFeedback({ client, model: 'm', item, pullRequest: pr, ignoredAuthors: ['remediation-bot'] });
      expect(t).toMatchObject({ actionable: false, decidedBy: 'policy' });
    }
    expect(api.requests).toHaveLength(0);
  });

  it('without a model, what the rules leave is stored as not actionable with that reason', async () => {
    const t = await triageFeedback({ client: null, model: 'none', item: { kind: 'review', author: 'alice', body: 'Use HS256', state: 'CHANGES_REQUESTED' }, pullRequest: pr });
    expect(t).toMatchObject({ actionable: false, decidedBy: 'policy' });
    expect(t.reasoning).toMatch(/no code-fix agent/);
  });
});
