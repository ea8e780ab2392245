import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './service.js';
import { REDACTED } from './redaction.js';

/** A logger writing into an array of parsed lines. */
function capture(): { lines: Array<Record<string, any>>; logger: ReturnType<typeof createLogger> } {
  const lines: Array<Record<string, any>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, logger: createLogger('spec', 'info', stream) };
}

describe('service logger redaction', () => {
  it('censors authorization headers, API keys and cookies of requests and of Octokit errors', () => {
    const { lines, logger } = capture();
    logger.info({
      req: { headers: { authorization: 'Bearer jwt-secret', 'x-api-key': 'rk_secret', cookie: 'sid=secret' } },
      headers: { authorization: 'token ghs_secret' },
      err: { request: { headers: { authorization: 'token ghs_nested' } } },
    }, 'request');
    const text = JSON.stringify(lines);
    for (const secret of ['jwt-secret', 'rk_secret', 'sid=secret', 'ghs_secret', 'ghs_nested']) expect(text).not.toContain(secret);
    expect(lines[0]!['req'].headers).toEqual({ authorization: REDACTED, 'x-api-key': REDACTED, cookie: REDACTED });
    expect(lines[0]!['err'].request.headers.authorization).toBe(REDACTED);
  });

  it('censors tokens, private keys, webhook secrets and model API keys at any depth up to four', () => {
    const { lines, logger } = capture();
    logger.info({
      token: 't0',
      auth: { installationToken: 't1', accessToken: 't2' },
      app: { privateKey: '-----BEGIN PRIVATE KEY-----' },
      env: { GITHUB_TOKEN: 't3', GITHUB_APP_PRIVATE_KEY: 'k1', GITHUB_WEBHOOK_SECRET: 'w1', ANTHROPIC_API_KEY: 'a1' },
      a: { b: { c: { d: { apiKey: 'a2', webhookSecret: 'w2' } } } },
      'x-api-key': 'top-level-key',
    });
    const text = JSON.stringify(lines);
    for (const secret of ['t0', 't1', 't2', 't3', 'k1', 'w1', 'w2', 'a1', 'a2', 'BEGIN PRIVATE KEY', 'top-level-key']) expect(text).not.toContain(`"${secret}`);
    expect(lines[0]!['auth']).toEqual({ installationToken: REDACTED, accessToken: REDACTED });
  });

  it('keeps everything else', () => {
    const { lines, logger } = capture();
    logger.info({ executionId: 'e1', headers: { 'content-type': 'application/json' } }, 'kept');
    expect(lines[0]).toMatchObject({ executionId: 'e1', headers: { 'content-type': 'application/json' }, msg: 'kept', service: 'spec' });
  });
});
