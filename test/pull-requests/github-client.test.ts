import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidInputError } from '@remediation/errors';
import { type GithubLocal, startGithubLocal } from '@remediation/github-local';
import { createGithubClient } from '@remediation/github';

/**
 * The GitHub client against the local GitHub-compatible server acting as a GitHub App host:
 * installation tokens are minted for each operation (never cached or stored), scoped to the
 * repository, and a repository without the App installed is a clear, non-retryable error.
 */
const appId = 4242;
let root: string;
let server: GithubLocal;
let privateKey: string;

function bareRepo(owner: string, repo: string): void {
  const dir = join(root, owner, `${repo}.git`);
  mkdirSync(join(root, owner), { recursive: true });
  execFileSync('git', ['init', '-q', '--bare', '-b', 'main', dir]);
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'rem-github-client-'));
  bareRepo('acme', 'shop');
  bareRepo('acme', 'other');
  bareRepo('stranger', 'repo');
  const keys = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  privateKey = keys.privateKey;
  server = await startGithubLocal({ reposRoot: root, app: { appId, publicKeyPem: keys.publicKey, installations: [{ id: 7, owner: 'acme' }] } });
});

afterAll(async () => {
  await server?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('createGithubClient with a GitHub App', () => {
  it('mints a new repository-scoped installation token for every operation', async () => {
    const github = createGithubClient({ apiUrl: server.url, auth: { kind: 'app', appId, privateKey } });
    const before = server.tokensIssued();
    const shop = await github.forRepository('acme', 'shop');
    expect((await shop.rest.repos.get({ owner: 'acme', repo: 'shop' })).data.full_name).toBe('acme/shop');
    await github.forRepository('acme', 'shop');
    const push = await github.gitCredentials('acme', 'shop');
    expect(push.username).toBe('x-access-token');
    expect(push.password).toMatch(/^ghs_/);
    expect(server.tokensIssued() - before).toBe(3);
    // Scoped to the repository it was minted for: another repository of the same installation is refused.
    await expect(shop.rest.repos.get({ owner: 'acme', repo: 'other' })).rejects.toMatchObject({ status: 403 });
  });

  it('refuses a repository the App is not installed on with GITHUB_APP_NOT_INSTALLED', async () => {
    const github = createGithubClient({ apiUrl: server.url, auth: { kind: 'app', appId, privateKey } });
    const err = await github.forRepository('stranger', 'repo').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidInputError);
    expect(err).toMatchObject({ code: 'GITHUB_APP_NOT_INSTALLED' });
  });

  it('uses a configured token as it is, without minting', async () => {
    const before = server.tokensIssued();
    const github = createGithubClient({ apiUrl: server.url, auth: { kind: 'token', token: 'ghp_static' } });
    expect(await github.gitCredentials('acme', 'shop')).toEqual({ username: 'x-access-token', password: 'ghp_static' });
    expect(server.tokensIssued()).toBe(before);
  });
});
