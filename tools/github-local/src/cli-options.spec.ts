import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCliOptions, parseInstallation } from './cli-options.js';

let dir: string;
let keyFile: string;
let publicKey: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'github-local-cli-'));
  publicKey = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  }).publicKey;
  keyFile = join(dir, 'app.pem');
  await writeFile(keyFile, publicKey);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('github-local CLI options', () => {
  it('keeps the existing flags and env fallbacks', () => {
    expect(parseCliOptions(['--port', '0', '--repos-root', '/r', '--log'], {})).toEqual({
      ok: true,
      options: { port: 0, reposRoot: '/r', host: '127.0.0.1', logger: true },
    });
    expect(
      parseCliOptions([], { GITHUB_LOCAL_REPOS_ROOT: '/e', GITHUB_LOCAL_PUBLIC_URL: 'http://gh:1', GITHUB_LOCAL_HOST: '0.0.0.0' }),
    ).toEqual({ ok: true, options: { port: 3900, reposRoot: '/e', host: '0.0.0.0', logger: false, publicUrl: 'http://gh:1' } });
    expect(parseCliOptions(['--port', '99999', '--repos-root', '/r'], {}).ok).toBe(false);
    expect(parseCliOptions(['--port', '1'], {}).ok).toBe(false);
    expect(parseCliOptions(['--repos-root', '/r', '--bogus'], {}).ok).toBe(false);
  });

  it('reads webhook and GitHub App flags', () => {
    const parsed = parseCliOptions(
      [
        '--repos-root', '/r',
        '--webhook-url', 'http://127.0.0.1:9000/hooks',
        '--webhook-secret', 's3cret',
        '--app-id', '12',
        '--app-public-key', keyFile,
        '--installation', '101:acme',
        '--installation', '102:other:one,two',
        '--token-ttl', '60',
      ],
      {},
    );
    expect(parsed).toEqual({
      ok: true,
      options: expect.objectContaining({
        webhook: { url: 'http://127.0.0.1:9000/hooks', secret: 's3cret' },
        app: {
          appId: 12,
          publicKeyPem: publicKey,
          installations: [{ id: 101, owner: 'acme' }, { id: 102, owner: 'other', repos: ['one', 'two'] }],
          tokenTtlSeconds: 60,
        },
      }),
    });
    const fromEnv = parseCliOptions(['--repos-root', '/r'], {
      GITHUB_LOCAL_APP_ID: '12',
      GITHUB_LOCAL_APP_PUBLIC_KEY: keyFile,
      GITHUB_LOCAL_INSTALLATIONS: '1:a 2:b:c',
      GITHUB_LOCAL_WEBHOOK_URL: 'http://x/y',
    });
    expect(fromEnv.ok && fromEnv.options.app?.installations).toEqual([{ id: 1, owner: 'a' }, { id: 2, owner: 'b', repos: ['c'] }]);
    expect(fromEnv.ok && fromEnv.options.webhook).toEqual({ url: 'http://x/y', secret: '' });
  });

  it('rejects incomplete or malformed app and webhook flags', () => {
    const bad = (...args: string[]) => parseCliOptions(['--repos-root', '/r', ...args], {});
    expect(bad('--app-id', '12', '--installation', '1:a')).toMatchObject({ ok: false, error: expect.stringContaining('--app-public-key') });
    expect(bad('--app-id', '12', '--app-public-key', keyFile)).toMatchObject({ ok: false, error: expect.stringContaining('--installation') });
    expect(bad('--installation', '1:a')).toMatchObject({ ok: false });
    expect(bad('--app-id', 'x', '--app-public-key', keyFile, '--installation', '1:a')).toMatchObject({ ok: false });
    expect(bad('--app-id', '1', '--app-public-key', join(dir, 'missing.pem'), '--installation', '1:a')).toMatchObject({ ok: false });
    expect(bad('--webhook-secret', 's')).toMatchObject({ ok: false });
    expect(bad('--webhook-url', 'not a url')).toMatchObject({ ok: false });
    expect(() => parseInstallation('acme')).toThrow(/expected <id>:<owner>/);
    expect(parseInstallation('1:*')).toEqual({ id: 1, owner: '*' });
  });

  it('starts the server from the CLI with app and webhook flags', async () => {
    const main = fileURLToPath(new URL('./main.ts', import.meta.url));
    const child = execa(
      process.execPath,
      ['--import', 'tsx', main, '--port', '0', '--repos-root', join(dir, 'remotes'), '--webhook-url', 'http://127.0.0.1:1/hooks',
        '--webhook-secret', 's', '--app-id', '5', '--app-public-key', keyFile, '--installation', '1:*'],
      { reject: false },
    );
    try {
      const line = await new Promise<string>((resolve, reject) => {
        child.stdout!.on('data', (chunk: Buffer) => resolve(chunk.toString()));
        void child.then((r) => reject(new Error(`exited ${r.exitCode}: ${String(r.stderr)}`)));
      });
      expect(line).toMatch(/^github-local listening on http:\/\/127\.0\.0\.1:\d+\n$/);
      const url = line.trim().split(' ').at(-1)!;
      // With an app configured, plain tokens are refused.
      const response = await fetch(`${url}/repos/acme/x`, { headers: { authorization: 'token plain' } });
      expect(response.status).toBe(401);
    } finally {
      child.kill('SIGTERM');
      await child;
    }
  });
});
