import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { Webhooks } from '@octokit/webhooks';
import type { TestEnvironment } from './environment.js';

const require = createRequire(import.meta.url);
const EXAMPLES = require('@octokit/webhooks-examples') as Array<{ name: string; examples: Array<Record<string, any>> }>;

/**
 * A payload of `event` from @octokit/webhooks-examples (GitHub's documented examples), optionally
 * the one of `action`, deep-copied so a test can change it.
 * @throws Error when there is no such example.
 */
export function webhookExample(event: string, action?: string): Record<string, any> {
  const found = EXAMPLES.find((e) => e.name === event)?.examples.find((x) => action === undefined || x['action'] === action);
  if (!found) throw new Error(`no ${event}/${action ?? '*'} example in @octokit/webhooks-examples`);
  return structuredClone(found);
}

/**
 * Posts `payload` to pr-service's webhook endpoint as GitHub delivers it: JSON body, event and
 * delivery id headers, and `X-Hub-Signature-256` signed with `secret`.
 * @returns the status, the parsed JSON answer and the delivery id used.
 */
export async function deliverWebhook(
  env: TestEnvironment,
  secret: string,
  event: string,
  payload: Record<string, unknown>,
  deliveryId: string = randomUUID(),
): Promise<{ status: number; body: any; deliveryId: string }> {
  const raw = JSON.stringify(payload);
  const res = await fetch(`${env.stack.serviceUrl('pr-service')}/v1/webhooks/github`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-github-event': event,
      'x-github-delivery': deliveryId,
      'x-hub-signature-256': await new Webhooks({ secret }).sign(raw),
    },
    body: raw,
  });
  return { status: res.status, body: await res.json(), deliveryId };
}
