import { afterEach, describe, expect, it } from 'vitest';
import { TransientError, InvalidInputError } from '@remediation/errors';
import { git, gitVersion, GitCommandError, GitInputError, isGitError, parseGitVersion, redactSecrets } from './git.js';
import { cleanupTempDirs, makeRepo, tempDir } from '../../test-support/spec-helpers.js';

afterEach(cleanupTempDirs);

describe('gitVersion', () => {
  it('parses the installed git and flags capabilities', async () => {
    const v = await gitVersion();
    expect(v.major).toBe(2);
    expect(v.supportsWriteTree).toBe(true);
    expect(v.raw).toMatch(/^\d+\.\d+/);
  });

  it('parses version strings', () => {
    expect(parseGitVersion('git version 2.39.5')).toMatchObject({ major: 2, minor: 39, patch: 5, raw: '2.39.5', supportsMergeBase: false, supportsWriteTree: true });
    expect(parseGitVersion('git version 2.45.1.windows.1')).toMatchObject({ minor: 45, raw: '2.45.1.windows.1', supportsMergeBase: true });
    expect(parseGitVersion('git version 2.37.1 (Apple Git-137.1)')).toMatchObject({ minor: 37, supportsWriteTree: false });
    expect(() => parseGitVersion('nope')).toThrow(GitCommandError);
  });
});

describe('git wrapper', () => {
  it('returns stdout and honours acceptExitCodes', async () => {
    const repo = await makeRepo({ 'a.txt': 'a\n' });
    expect((await git(['rev-parse', '--abbrev-ref', 'HEAD'], { cwd: repo })).stdout).toBe('main');
    const missing = await git(['cat-file', '-e', 'deadbeef'.repeat(5)], { cwd: repo, acceptExitCodes: [0, 1, 128] });
    expect(missing.exitCode).not.toBe(0);
  });

  it('uses gitDir and ignores an inherited GIT_DIR', async () => {
    const repo = await makeRepo({ 'a.txt': 'a\n' });
    const saved = process.env['GIT_DIR'];
    process.env['GIT_DIR'] = '/nonexistent';
    try {
      const { stdout } = await git(['rev-parse', '--is-bare-repository'], { gitDir: `${repo}/.git` });
      expect(stdout).toBe('false');
    } finally {
      if (saved === undefined) delete process.env['GIT_DIR'];
      else process.env['GIT_DIR'] = saved;
    }
  });

  it('throws GitInputError for a bad revision, with args and stderr in details', async () => {
    const repo = await makeRepo({ 'a.txt': 'a\n' });
    const err = await git(['rev-parse', '--verify', 'no-such-branch'], { cwd: repo }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GitInputError);
    expect(err).toBeInstanceOf(InvalidInputError);
    expect(isGitError(err)).toBe(true);
    const e = err as GitInputError;
    expect(e.code).toBe('GIT_BAD_REVISION');
    expect(e.retryable).toBe(false);
    expect(e.git.args).toEqual(['rev-parse', '--verify', 'no-such-branch']);
    expect(e.git.stderr).toMatch(/Needed a single revision/);
  });

  it('throws GitInputError GIT_NOT_A_REPOSITORY outside a repository', async () => {
    const dir = await tempDir();
    const err = await git(['log'], { cwd: dir, env: { GIT_CEILING_DIRECTORIES: dir } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GitInputError);
    expect((err as GitInputError).code).toBe('GIT_NOT_A_REPOSITORY');
  });

  it.each([
    ['a host starting with "-" (strange hostname … blocked)', ['ls-remote', 'ssh://-oProxyCommand=touch%20/tmp/x/repo'], {}],
    ['an scp-like host starting with "-"', ['ls-remote', 'git@-oProxyCommand=x:repo'], {}],
    ['a remote helper (ext::) git does not allow', ['ls-remote', 'ext::sh -c true'], {}],
    ['a protocol outside GIT_ALLOW_PROTOCOL', ['ls-remote', '/tmp'], { GIT_ALLOW_PROTOCOL: 'https' }],
  ])('classifies git refusing %s as permanent (GIT_REMOTE_REFUSED, not retryable)', async (_what, args, env) => {
    const err = await git(args, { env, timeoutMs: 20_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GitInputError);
    expect(err).toMatchObject({ code: 'GIT_REMOTE_REFUSED', retryable: false });
  });

  it('throws a retryable GitCommandError for unrecognised failures', async () => {
    const repo = await makeRepo({ 'a.txt': 'a\n' });
    const err = await git(['config', '--no-such-option'], { cwd: repo }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GitCommandError);
    expect(err).toBeInstanceOf(TransientError);
    expect((err as GitCommandError).retryable).toBe(true);
    expect((err as GitCommandError).code).toBe('GIT_COMMAND_FAILED');
  });

  it('redacts URL userinfo and listed secrets from error details', async () => {
    const err = await git(['ls-remote', 'http://user:s3cret-token@127.0.0.1:9/repo.git'], { redact: ['s3cret-token'], timeoutMs: 20_000 }).catch((e: unknown) => e);
    expect(isGitError(err)).toBe(true);
    const text = JSON.stringify((err as GitCommandError).details) + (err as Error).message;
    expect(text).not.toContain('s3cret-token');
    expect(text).toContain('***@127.0.0.1');
    expect(redactSecrets('https://a:b@host/x and tok123', ['tok123'])).toBe('https://***@host/x and ***');
  });

  it('reports timeouts as GIT_TIMEOUT and aborts as GIT_ABORTED', async () => {
    const hang = ['-c', 'protocol.ext.allow=always', 'ls-remote', 'ext::sh -c sleep% 10'];
    const timedOut = await git(hang, { timeoutMs: 300 }).catch((e: unknown) => e);
    expect((timedOut as GitCommandError).code).toBe('GIT_TIMEOUT');
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    const aborted = await git(hang, { signal: controller.signal }).catch((e: unknown) => e);
    expect((aborted as GitCommandError).code).toBe('GIT_ABORTED');
  });

  it('gives commands without input an empty stdin (never hangs)', async () => {
    const { stdout } = await git(['hash-object', '--stdin']);
    expect(stdout).toBe('e69de29bb2d1d6434b8b29ae775ad8c2e48c5391');
  });
});
