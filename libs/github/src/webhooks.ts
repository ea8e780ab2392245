import { Webhooks } from '@octokit/webhooks';
import { InvalidInputError } from '@remediation/errors';

/** A webhook delivery whose signature checked out. */
export interface VerifiedWebhook {
  /** `X-GitHub-Delivery`: unique per delivery, the same on a redelivery. */
  deliveryId: string;
  /** `X-GitHub-Event`, e.g. `pull_request_review`. */
  event: string;
  payload: Record<string, unknown>;
}

/**
 * Verifies a GitHub webhook delivery: `X-Hub-Signature-256` must be the HMAC-SHA256 of the raw
 * body under `secret` (GitHub docs "Validating webhook deliveries"; compared in constant time by
 * @octokit/webhooks), and the body must be a JSON object.
 * @param headers lower-cased request headers.
 * @throws InvalidInputError `WEBHOOK_SIGNATURE_INVALID` (missing or wrong signature),
 *   `WEBHOOK_INVALID` (missing event/delivery headers, body not a JSON object).
 */
export async function verifyWebhook(secret: string, rawBody: string, headers: Record<string, string | string[] | undefined>): Promise<VerifiedWebhook> {
  const header = (name: string) => {
    const v = headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  const signature = header('x-hub-signature-256');
  if (!signature || !(await new Webhooks({ secret }).verify(rawBody, signature).catch(() => false))) {
    throw new InvalidInputError('WEBHOOK_SIGNATURE_INVALID', 'x-hub-signature-256 is missing or does not match the body');
  }
  const event = header('x-github-event');
  const deliveryId = header('x-github-delivery');
  if (!event || !deliveryId) throw new InvalidInputError('WEBHOOK_INVALID', 'x-github-event and x-github-delivery headers are required');
  let payload: unknown;
  try {
    payload = JSON.parse(rawBody);
  } catch {
    throw new InvalidInputError('WEBHOOK_INVALID', 'the body is not JSON');
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) throw new InvalidInputError('WEBHOOK_INVALID', 'the body is not a JSON object');
  return { deliveryId, event, payload: payload as Record<string, unknown> };
}
