import { createRequire } from 'node:module';
import { Webhooks } from '@octokit/webhooks';
import { describe, expect, it } from 'vitest';
import { createGithubClient } from '@remediation/github';
import { createGithubProvider } from './github.js';
import { githubWebhookEvents } from './github-webhooks.js';

/** GitHub webhook payloads (real ones, from @octokit/webhooks-examples) read into provider events. */
const require = createRequire(import.meta.url);
const EXAMPLES = require('@octokit/webhooks-examples') as Array<{ name: string; examples: Array<Record<string, any>> }>;

function example(event: string, action?: string): Record<string, any> {
  const found = EXAMPLES.find((e) => e.name === event)!.examples.find((x) => action === undefined || x['action'] === action);
  if (!found) throw new Error(`no ${event}/${action} example`);
  return structuredClone(found);
}

describe('githubWebhookEvents', () => {
  it('reads a push to a branch, and nothing from a tag push', () => {
    const p = example('push');
    p['ref'] = 'refs/heads/release/1.x';
    expect(githubWebhookEvents('push', p)).toEqual([{ type: 'branch_pushed', repository: p['repository'].full_name, branch: 'release/1.x' }]);
    p['ref'] = 'refs/tags/v1.0.0';
    expect(githubWebhookEvents('push', p)).toEqual([]);
  });

  it('reads a merged or closed pull request, and a push to its branch; other actions are nothing', () => {
    const closed = example('pull_request', 'closed');
    const repository = closed['repository'].full_name;
    closed['pull_request'].merged = true;
    expect(githubWebhookEvents('pull_request', closed)).toEqual([{ type: 'pull_request_closed', repository, number: closed['pull_request'].number, merged: true }]);
    closed['pull_request'].merged = false;
    expect(githubWebhookEvents('pull_request', closed)[0]).toMatchObject({ merged: false });
    const sync = example('pull_request', 'synchronize');
    expect(githubWebhookEvents('pull_request', sync)).toEqual([
      { type: 'pull_request_pushed', repository: sync['repository'].full_name, number: sync['pull_request'].number, headSha: sync['pull_request'].head.sha },
    ]);
    expect(githubWebhookEvents('pull_request', example('pull_request', 'opened'))).toEqual([]);
  });

  it('reads a submitted review with its state upper-case (as the REST API says it)', () => {
    const p = example('pull_request_review', 'submitted');
    p['review'] = { ...p['review'], id: 7, state: 'changes_requested', body: 'Please add a test.', user: { ...p['review'].user, login: 'alice' } };
    expect(githubWebhookEvents('pull_request_review', p)).toEqual([
      {
        type: 'review_submitted',
        repository: p['repository'].full_name,
        number: p['pull_request'].number,
        review: { kind: 'review', providerId: 7, author: 'alice', body: 'Please add a test.', state: 'CHANGES_REQUESTED' },
      },
    ]);
    expect(githubWebhookEvents('pull_request_review', example('pull_request_review', 'dismissed'))).toEqual([]);
  });

  it('reads review comments and comments on a pull request, not comments on an issue', () => {
    const rc = example('pull_request_review_comment', 'created');
    expect(githubWebhookEvents('pull_request_review_comment', rc)).toEqual([
      {
        type: 'comment_created',
        repository: rc['repository'].full_name,
        number: rc['pull_request'].number,
        comment: { kind: 'review_comment', providerId: rc['comment'].id, author: rc['comment'].user.login, body: rc['comment'].body, path: rc['comment'].path, line: rc['comment'].line ?? null },
      },
    ]);
    const ic = example('issue_comment', 'created');
    ic['issue'] = { ...ic['issue'], pull_request: { url: 'x' } };
    expect(githubWebhookEvents('issue_comment', ic)).toEqual([
      {
        type: 'comment_created',
        repository: ic['repository'].full_name,
        number: ic['issue'].number,
        comment: { kind: 'issue_comment', providerId: ic['comment'].id, author: ic['comment'].user.login, body: ic['comment'].body },
      },
    ]);
    delete ic['issue'].pull_request;
    expect(githubWebhookEvents('issue_comment', ic)).toEqual([]);
  });

  it('reads check run and check suite changes by head commit; other events are nothing', () => {
    const run = example('check_run', 'completed');
    expect(githubWebhookEvents('check_run', run)).toEqual([{ type: 'checks_changed', repository: run['repository'].full_name, headSha: run['check_run'].head_sha }]);
    const suite = example('check_suite', 'completed');
    expect(githubWebhookEvents('check_suite', suite)).toEqual([{ type: 'checks_changed', repository: suite['repository'].full_name, headSha: suite['check_suite'].head_sha }]);
    expect(githubWebhookEvents('ping', example('ping'))).toEqual([]);
  });

  it('refuses a payload lacking a field it uses, naming the field', () => {
    const p = example('pull_request_review', 'submitted');
    delete p['review'].id;
    expect(() => githubWebhookEvents('pull_request_review', p)).toThrow(expect.objectContaining({ code: 'WEBHOOK_INVALID', message: expect.stringContaining('review.id') }));
    const push = example('push');
    delete push['repository'];
    expect(() => githubWebhookEvents('push', push)).toThrow(/push payload: repository/);
  });
});

describe('readWebhook of the GitHub provider', () => {
  it('verifies the signature and reads the delivery', async () => {
    const provider = createGithubProvider(createGithubClient({ apiUrl: 'http://127.0.0.1:9', auth: { kind: 'token', token: 't' } }));
    const p = example('pull_request', 'closed');
    const raw = JSON.stringify(p);
    const headers = { 'x-github-event': 'pull_request', 'x-github-delivery': 'd-1', 'x-hub-signature-256': await new Webhooks({ secret: 'a-secret' }).sign(raw) };
    expect(await provider.readWebhook('a-secret', raw, headers)).toEqual({
      id: 'd-1',
      event: 'pull_request',
      action: 'closed',
      events: [{ type: 'pull_request_closed', repository: p['repository'].full_name, number: p['pull_request'].number, merged: Boolean(p['pull_request'].merged) }],
    });
    await expect(provider.readWebhook('another-secret', raw, headers)).rejects.toMatchObject({ code: 'WEBHOOK_SIGNATURE_INVALID' });
  });
});
