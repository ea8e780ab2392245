import { createRequire } from 'node:module';
import { Webhooks } from '@octokit/webhooks';
import { describe, expect, it } from 'vitest';
import { verifyWebhook } from './index.js';

const require = createRequire(import.meta.url);
const examples = require('@octokit/webhooks-examples') as Array<{ name: string; examples: Array<Record<string, unknown>> }>;
const secret = 'it-is-a-secret';

describe('verifyWebhook', () => {
  const payload = examples.find((e) => e.name === 'pull_request_review')!.examples.find((x) => x['action'] === 'submitted')!;
  const raw = JSON.stringify(payload);

  it('accepts a delivery signed with the secret (a real payload from @octokit/webhooks-examples)', async () => {
    const signature = await new Webhooks({ secret }).sign(raw);
    const hook = await verifyWebhook(secret, raw, { 'x-hub-signature-256': signature, 'x-github-event': 'pull_request_review', 'x-github-delivery': 'd-1' });
    expect(hook).toMatchObject({ deliveryId: 'd-1', event: 'pull_request_review' });
    expect((hook.payload['review'] as { state: string }).state).toBe((payload['review'] as { state: string }).state);
  });

  it('refuses a wrong secret, a changed body and a missing signature, naming what was wrong', async () => {
    const signature = await new Webhooks({ secret: 'another' }).sign(raw);
    const headers = { 'x-github-event': 'pull_request_review', 'x-github-delivery': 'd-1' };
    await expect(verifyWebhook(secret, raw, { ...headers, 'x-hub-signature-256': signature })).rejects.toMatchObject({ code: 'WEBHOOK_SIGNATURE_INVALID' });
    const good = await new Webhooks({ secret }).sign(raw);
    await expect(verifyWebhook(secret, raw.replace('submitted', 'dismissed'), { ...headers, 'x-hub-signature-256': good })).rejects.toMatchObject({ code: 'WEBHOOK_SIGNATURE_INVALID' });
    await expect(verifyWebhook(secret, raw, headers)).rejects.toThrow(/x-hub-signature-256/);
    await expect(verifyWebhook(secret, raw, { 'x-hub-signature-256': good })).rejects.toMatchObject({ code: 'WEBHOOK_INVALID' });
    const notObject = '[1]';
    await expect(verifyWebhook(secret, notObject, { ...headers, 'x-hub-signature-256': await new Webhooks({ secret }).sign(notObject) })).rejects.toThrow(/not a JSON object/);
  });
});
