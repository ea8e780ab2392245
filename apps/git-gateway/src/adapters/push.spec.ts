import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { commitChanges } from './commit.js';
import { git, GitInputError } from './git.js';
import { ensureMirror, resolveBranch, type GitProgress } from './mirror.js';
import { pushBranch, PushRejectedError, remoteBranchSha } from './push.js';
import { cleanupTempDirs, makeBare, makeRepo, sh, startGitHttpServer, tempDir, TEST_ENV } from '../../test-support/spec-helpers.js';

afterEach(cleanupTempDirs);

const author = { name: 'Bot', email: 'bot@example.com' };

/** A remote (bare), its mirror, and a gateway commit on top of main. */
async function setup() {
  const src = await makeRepo({ 'package.json': '{"v":1}\n' });
  const remote = await makeBare(src, 'customer');
  const dataRoot = await tempDir('gg-data-');
  const { mirrorPath } = await ensureMirror({ dataRoot, repository: remote });
  const { commit: base } = await resolveBranch({ mirrorPath });
  // Commit without a workspace: a merged dir that is just a plain directory works too.
  const merged = await tempDir('gg-merged-');
  await writeFile(join(merged, 'package.json'), '{"v":2}\n');
  const { sha } = await commitChanges({
    mirrorPath,
    baseCommit: base,
    mergedDir: merged,
    changes: [{ path: 'package.json', kind: 'write' }],
    ref: 'refs/remediations/r/1',
    message: 'bump',
    author,
  });
  return { src, remote, dataRoot, mirrorPath, base, sha, merged };
}

async function remoteBranch(remote: string, branch: string): Promise<string | null> {
  const r = await git(['rev-parse', '-q', '--verify', `refs/heads/${branch}`], { gitDir: remote, acceptExitCodes: [0, 1] });
  return r.exitCode === 0 ? r.stdout : null;
}

describe('pushBranch', () => {
  it('pushes a new branch (lease: must not exist) and is idempotent on retry', async () => {
    const { remote, mirrorPath, sha } = await setup();
    const progress: GitProgress[] = [];
    const result = await pushBranch({ mirrorPath, remote, sha, branch: 'remediation/lodash', expectedRemoteSha: null, onProgress: (p) => progress.push(p) });
    expect(result).toEqual({ remoteSha: sha });
    expect(await remoteBranch(remote, 'remediation/lodash')).toBe(sha);
    expect(progress.some((p) => p.operation === 'push')).toBe(true);
    // Retry after a push that already landed: the lease "must not exist" fails but the remote is at sha.
    expect(await pushBranch({ mirrorPath, remote, sha, branch: 'remediation/lodash', expectedRemoteSha: null })).toEqual({ remoteSha: sha });
  });

  it('rejects with PUSH_REJECTED when the remote branch moved since the lease', async () => {
    const { src, remote, mirrorPath, base, sha } = await setup();
    await pushBranch({ mirrorPath, remote, sha: base, branch: 'fix', expectedRemoteSha: null });
    // Someone else pushes to the branch.
    await sh(src, 'remote', 'add', 'origin', remote);
    await sh(src, 'checkout', '-q', '-b', 'fix');
    await writeFile(join(src, 'other.txt'), 'other\n');
    await sh(src, 'add', '-A');
    await sh(src, 'commit', '-q', '-m', 'someone else');
    await sh(src, 'push', '-q', 'origin', 'fix');
    const theirs = await sh(src, 'rev-parse', 'HEAD');

    const err = await pushBranch({ mirrorPath, remote, sha, branch: 'fix', expectedRemoteSha: base }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PushRejectedError);
    const e = err as PushRejectedError;
    expect(e.code).toBe('PUSH_REJECTED');
    expect(e.retryable).toBe(false);
    expect(e.details).toMatchObject({ branch: 'fix', expectedRemoteSha: base, remoteSha: theirs });
    expect(String(e.details?.['reason'])).toMatch(/stale info/);
    expect(await remoteBranch(remote, 'fix')).toBe(theirs);

    // "must not exist" also rejects an existing branch; no lease = fast-forward only.
    await expect(pushBranch({ mirrorPath, remote, sha, branch: 'fix', expectedRemoteSha: null })).rejects.toMatchObject({ code: 'PUSH_REJECTED' });
    await expect(pushBranch({ mirrorPath, remote, sha, branch: 'fix' })).rejects.toMatchObject({ code: 'PUSH_REJECTED' });

    // With the right lease the branch is rewritten.
    expect(await pushBranch({ mirrorPath, remote, sha, branch: 'fix', expectedRemoteSha: theirs })).toEqual({ remoteSha: sha });
    expect(await remoteBranch(remote, 'fix')).toBe(sha);
  });

  it('validates its input', async () => {
    const { remote, mirrorPath, sha } = await setup();
    await expect(pushBranch({ mirrorPath, remote, sha: 'abc', branch: 'x' })).rejects.toMatchObject({ code: 'PUSH_INVALID_INPUT' });
    await expect(pushBranch({ mirrorPath, remote, sha, branch: 'bad..branch' })).rejects.toMatchObject({ code: 'PUSH_INVALID_INPUT' });
    for (const branch of ['HEAD', 'refs/heads/main', 'refs/tags/v1', '--force']) {
      await expect(pushBranch({ mirrorPath, remote, sha, branch })).rejects.toMatchObject({ code: 'PUSH_INVALID_INPUT', retryable: false });
    }
    await expect(pushBranch({ mirrorPath, remote, sha: 'e'.repeat(40), branch: 'x' })).rejects.toMatchObject({ code: 'PUSH_INVALID_INPUT' });
    await expect(pushBranch({ mirrorPath, remote: 'https://u:pw@example.com/r.git', sha, branch: 'x' })).rejects.toMatchObject({ code: 'PUSH_INVALID_INPUT' });
  });

  it('uses per-operation credentials over HTTP without storing them anywhere', async () => {
    const { remote, mirrorPath, sha } = await setup();
    const root = join(remote, '..');
    const password = 'tok-3f9a1c77e0';
    const server = await startGitHttpServer(root, 'x-access-token', password);
    try {
      const url = `${server.baseUrl}customer.git`;
      const credentials = { username: 'x-access-token', password };

      // Without credentials: a non-retryable auth failure that does not leak anything.
      const denied = await pushBranch({ mirrorPath, remote: url, sha, branch: 'http-branch', expectedRemoteSha: null }).catch((e: unknown) => e);
      expect(denied).toBeInstanceOf(GitInputError);
      expect((denied as GitInputError).code).toBe('GIT_AUTH_FAILED');
      expect((denied as Error).message).toMatch(/^git push failed: /);

      const wrong = await pushBranch({ mirrorPath, remote: url, sha, branch: 'http-branch', expectedRemoteSha: null, credentials: { username: 'x-access-token', password: 'wrong-pw-123' } }).catch((e: unknown) => e);
      expect((wrong as GitInputError).code).toBe('GIT_AUTH_FAILED');
      expect(JSON.stringify((wrong as GitInputError).details) + (wrong as Error).message).not.toContain('wrong-pw-123');

      expect(await pushBranch({ mirrorPath, remote: url, sha, branch: 'http-branch', expectedRemoteSha: null, credentials })).toEqual({ remoteSha: sha });
      expect(await remoteBranch(remote, 'http-branch')).toBe(sha);
      // Reading the branch back over HTTP takes the same per-operation credentials.
      expect(await remoteBranchSha({ remote: url, branch: 'http-branch', credentials })).toBe(sha);
      expect(await remoteBranchSha({ remote: url, branch: 'no-such-branch', credentials })).toBeNull();
      expect(((await remoteBranchSha({ remote: url, branch: 'http-branch' }).catch((e: unknown) => e)) as GitInputError).code).toBe('GIT_AUTH_FAILED');
      expect(server.authHeaders).toContain(`Basic ${Buffer.from(`x-access-token:${password}`).toString('base64')}`);

      // Clone + fetch through the same server with credentials.
      const dataRoot = await tempDir('gg-data-http-');
      const mirror = await ensureMirror({ dataRoot, repository: url, credentials });
      expect((await resolveBranch({ mirrorPath: mirror.mirrorPath, branch: 'http-branch' })).commit).toBe(sha);
      await ensureMirror({ dataRoot, repository: url, credentials });

      // Nothing persisted: not in either mirror's config, and no askpass helper left behind.
      for (const m of [mirrorPath, mirror.mirrorPath]) {
        expect(await readFile(join(m, 'config'), 'utf8')).not.toContain(password);
      }
      const { stdout } = await git(['config', '--show-origin', '--get-regexp', 'credential'], { env: TEST_ENV, acceptExitCodes: [0, 1] });
      expect(stdout).not.toContain(password);
    } finally {
      await server.close();
    }
  });
});
