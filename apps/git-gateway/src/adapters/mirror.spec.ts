import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { git } from './git.js';
import { assertRepositoryAllowed, createProgressParser, ensureMirror, normalizeRepository, resolveBranch, RAW_ATTRIBUTES, type GitProgress } from './mirror.js';
import { processStartTime } from './lock-file.js';
import { cleanupTempDirs, commitFiles, makeBare, makeRepo, sh, tempDir } from '../../test-support/spec-helpers.js';

afterEach(cleanupTempDirs);

async function manyFilesRepo(count: number): Promise<string> {
  const files: Record<string, string> = {};
  for (let i = 0; i < count; i++) files[`dir${i % 10}/file-${i}.txt`] = `content ${i}\n${'x'.repeat(i % 97)}\n`;
  return makeRepo(files);
}

describe('assertRepositoryAllowed (the codebase policy, re-checked before git runs)', () => {
  const policy = { allowedHosts: ['github.com'], allowLocal: false };
  it.each([
    ['/srv/git/acme/app.git', 'local-disabled'],
    ['file:///srv/git/acme/app.git', 'local-disabled'],
    ['https://u:secret@github.com/a/b.git', 'credentials'],
    ['ssh://-oProxyCommand=x/a/b', 'option-like'],
    ['https://evil.example.com/a/b.git', 'host-not-allowed'],
    ['ext::sh -c id', 'scheme'],
  ])('refuses %s as a permanent REPOSITORY_NOT_ALLOWED (%s)', (repository, rule) => {
    let thrown: unknown;
    try {
      assertRepositoryAllowed(repository, policy);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toMatchObject({ code: 'REPOSITORY_NOT_ALLOWED', retryable: false, details: { rule } });
    expect((thrown as Error).message).not.toContain('secret');
  });

  it('accepts allowed locations, and local ones when enabled', () => {
    expect(() => assertRepositoryAllowed('git@github.com:acme/app.git', policy)).not.toThrow();
    expect(() => assertRepositoryAllowed('/srv/git/acme/app.git', { ...policy, allowLocal: true })).not.toThrow();
  });
});

describe('normalizeRepository', () => {
  it('normalises URLs and derives readable, stable keys', async () => {
    const a = await normalizeRepository('https://GitHub.com/Acme/Widgets.git/');
    const b = await normalizeRepository('https://github.com/Acme/Widgets');
    const c = await normalizeRepository('https://x-access@github.com:443/Acme/Widgets.git');
    expect(a.location).toBe('https://github.com/Acme/Widgets');
    expect(b.repoKey).toBe(a.repoKey);
    expect(c.location).toBe('https://github.com/Acme/Widgets');
    expect(a.repoKey).toMatch(/^acme-widgets-[0-9a-f]{12}$/);
    const scp = await normalizeRepository('git@github.com:Acme/Widgets.git');
    expect(scp.location).toBe('ssh://github.com/Acme/Widgets');
    expect(scp.repoKey).not.toBe(a.repoKey);
    await expect(normalizeRepository('https://u:secret@github.com/a/b.git')).rejects.toMatchObject({ code: 'REPOSITORY_URL_HAS_CREDENTIALS' });
    await expect(normalizeRepository('/definitely/not/here')).rejects.toMatchObject({ code: 'REPOSITORY_NOT_FOUND' });
  });

  it('gives a non-bare repo, its .git dir and its file:// URL the same key', async () => {
    const repo = await makeRepo({ 'a.txt': 'a\n' });
    const plain = await normalizeRepository(repo);
    expect((await normalizeRepository(`${repo}/.git`)).repoKey).toBe(plain.repoKey);
    expect((await normalizeRepository(`file://${repo}`)).repoKey).toBe(plain.repoKey);
    expect(plain.repoKey).toMatch(/^[a-z0-9._-]+-[0-9a-f]{12}$/);
  });
});

describe('createProgressParser', () => {
  it('parses \\r-separated progress lines across chunks and skips duplicates', () => {
    const seen: GitProgress[] = [];
    const parse = createProgressParser('clone', (p) => seen.push(p));
    parse('remote: Counting objects:  50% (1/2)\rremote: Counting objects: 100% (2/2), done.\nReceiving objects:  45');
    parse('% (450/1000)\rReceiving objects:  45% (450/1000)\rReceiving objects: 100% (1000/1000), 1.2 MiB | 3 MiB/s, done.\n');
    parse('Resolving deltas: 100% (3/3), done.\n');
    expect(seen.map((p) => `${p.phase} ${p.received}/${p.total} ${p.percent}`)).toEqual([
      'counting objects 1/2 50',
      'counting objects 2/2 100',
      'receiving objects 450/1000 45',
      'receiving objects 1000/1000 100',
      'resolving deltas 3/3 100',
    ]);
  });
});

describe('ensureMirror', () => {
  it('mirrors a local non-bare repo, then fetch picks up a new commit and keeps gateway refs', async () => {
    const src = await makeRepo({ 'package.json': '{}\n' });
    const dataRoot = await tempDir('gg-data-');
    const { mirrorPath, repoKey } = await ensureMirror({ dataRoot, repository: src });
    expect(mirrorPath).toBe(join(dataRoot, 'mirrors', `${repoKey}.git`));
    expect((await git(['rev-parse', '--is-bare-repository'], { gitDir: mirrorPath })).stdout).toBe('true');
    expect(await readFile(join(mirrorPath, 'info', 'attributes'), 'utf8')).toBe(RAW_ATTRIBUTES);
    const first = await resolveBranch({ mirrorPath });
    expect(first).toEqual({ branch: 'main', commit: await sh(src, 'rev-parse', 'HEAD') });

    // A gateway ref and a branch deleted upstream.
    await git(['update-ref', 'refs/remediations/run-1/target', first.commit], { gitDir: mirrorPath });
    await sh(src, 'branch', 'feature');
    await ensureMirror({ dataRoot, repository: src });
    expect((await resolveBranch({ mirrorPath, branch: 'feature' })).commit).toBe(first.commit);
    await sh(src, 'branch', '-D', 'feature');
    const next = await commitFiles(src, { 'package.json': '{"name":"x"}\n' });
    await sh(src, 'tag', 'v1');

    const again = await ensureMirror({ dataRoot, repository: src });
    expect(again.mirrorPath).toBe(mirrorPath);
    expect((await resolveBranch({ mirrorPath })).commit).toBe(next);
    await expect(resolveBranch({ mirrorPath, branch: 'feature' })).rejects.toMatchObject({ code: 'BRANCH_NOT_FOUND' });
    expect((await git(['rev-parse', 'refs/remediations/run-1/target'], { gitDir: mirrorPath })).stdout).toBe(first.commit);
    expect((await git(['rev-parse', 'refs/tags/v1'], { gitDir: mirrorPath })).stdout).toBe(next);
    expect((await readdir(join(dataRoot, 'mirrors'))).sort()).toEqual([`${repoKey}.git`]);
  });

  it('skips the fetch when the mirror already holds exactly the remote heads and tags (loose or packed), fetches otherwise', async () => {
    const src = await makeRepo({ 'a.txt': 'a\n' });
    await sh(src, 'tag', '-a', '-m', 'annotated', 'v0');
    await sh(src, 'branch', 'feature');
    const dataRoot = await tempDir('gg-data-');
    const { mirrorPath } = await ensureMirror({ dataRoot, repository: src });
    const trace = join(await tempDir('gg-trace-'), 'trace.log');
    const fetches = async (): Promise<number> => ((await readFile(trace, 'utf8').catch(() => '')).match(/built-in: git fetch /g) ?? []).length;
    const previous = process.env['GIT_TRACE'];
    process.env['GIT_TRACE'] = trace;
    try {
      await ensureMirror({ dataRoot, repository: src });
      expect(await fetches()).toBe(0);
      await git(['pack-refs', '--all'], { gitDir: mirrorPath });
      await ensureMirror({ dataRoot, repository: src });
      expect(await fetches()).toBe(0);
      // A new commit upstream: fetched.
      const next = await commitFiles(src, { 'a.txt': 'b\n' });
      await ensureMirror({ dataRoot, repository: src });
      expect(await fetches()).toBe(1);
      expect((await resolveBranch({ mirrorPath })).commit).toBe(next);
      // A branch deleted upstream: fetched (and pruned).
      await sh(src, 'branch', '-D', 'feature');
      await ensureMirror({ dataRoot, repository: src });
      expect(await fetches()).toBe(2);
      await expect(resolveBranch({ mirrorPath, branch: 'feature' })).rejects.toMatchObject({ code: 'BRANCH_NOT_FOUND' });
      // A local head the remote does not have (not pruned yet): fetched.
      await git(['update-ref', 'refs/heads/stray', next], { gitDir: mirrorPath });
      await ensureMirror({ dataRoot, repository: src });
      expect(await fetches()).toBe(3);
      await expect(resolveBranch({ mirrorPath, branch: 'stray' })).rejects.toMatchObject({ code: 'BRANCH_NOT_FOUND' });
      await ensureMirror({ dataRoot, repository: src });
      expect(await fetches()).toBe(3);
    } finally {
      if (previous === undefined) delete process.env['GIT_TRACE'];
      else process.env['GIT_TRACE'] = previous;
    }
  });

  it('mirrors a bare repo and follows a change of its default branch', async () => {
    const src = await makeRepo({ 'a.txt': 'a\n' });
    const bare = await makeBare(src);
    const dataRoot = await tempDir('gg-data-');
    const { mirrorPath } = await ensureMirror({ dataRoot, repository: bare });
    expect((await resolveBranch({ mirrorPath })).branch).toBe('main');
    await git(['branch', 'develop', 'main'], { gitDir: bare });
    await git(['symbolic-ref', 'HEAD', 'refs/heads/develop'], { gitDir: bare });
    await ensureMirror({ dataRoot, repository: bare });
    expect((await resolveBranch({ mirrorPath })).branch).toBe('develop');
    await expect(resolveBranch({ mirrorPath, branch: 'bad..name' })).rejects.toMatchObject({ code: 'BRANCH_INVALID' });
  });

  it('shares one in-flight clone between concurrent calls and reports progress heartbeats', async () => {
    const src = await manyFilesRepo(600);
    const dataRoot = await tempDir('gg-data-');
    const seenA: GitProgress[] = [];
    const seenB: GitProgress[] = [];
    const url = `file://${src}`;
    const [a, b] = await Promise.all([
      ensureMirror({ dataRoot, repository: url, onProgress: (p) => seenA.push(p) }),
      ensureMirror({ dataRoot, repository: url, onProgress: (p) => seenB.push(p) }),
    ]);
    expect(a).toEqual(b);
    // One clone: both listeners saw the same clone heartbeats and no fetch (a second, serialised
    // call would have fetched).
    expect(seenA.length).toBeGreaterThan(0);
    expect(seenA.every((p) => p.operation === 'clone')).toBe(true);
    expect(seenB).toEqual(seenA);
    const receiving = seenA.filter((p) => p.phase === 'receiving objects');
    expect(receiving.length).toBeGreaterThan(0);
    expect(receiving.at(-1)).toMatchObject({ received: receiving.at(-1)!.total, percent: 100 });
    expect(receiving[0]!.total).toBeGreaterThan(600);
    expect((await readdir(join(dataRoot, 'mirrors'))).filter((e) => !e.endsWith('.lock'))).toEqual([`${a.repoKey}.git`]);
  });

  it('leaves no half mirror when a clone is aborted, and cleans leftovers of killed clones', async () => {
    const src = await manyFilesRepo(300);
    const dataRoot = await tempDir('gg-data-');
    const key = (await normalizeRepository(src)).repoKey;
    const leftover = join(dataRoot, 'mirrors', `.tmp-${key}-999999-dead.git`);
    await mkdir(leftover, { recursive: true });
    const controller = new AbortController();
    controller.abort();
    await expect(ensureMirror({ dataRoot, repository: `file://${src}`, signal: controller.signal })).rejects.toMatchObject({ code: 'GIT_ABORTED' });
    expect((await readdir(join(dataRoot, 'mirrors'))).filter((e) => e.endsWith('.git') && !e.startsWith('.tmp-') ).length).toBe(0);
    const { mirrorPath } = await ensureMirror({ dataRoot, repository: src });
    expect(existsSync(leftover)).toBe(false);
    expect(existsSync(join(mirrorPath, 'HEAD'))).toBe(true);
    expect(existsSync(`${mirrorPath}.lock`)).toBe(false);
  });

  it('breaks a stale lock (dead pid) and waits for a live one', async () => {
    const src = await makeRepo({ 'a.txt': 'a\n' });
    const dataRoot = await tempDir('gg-data-');
    const key = (await normalizeRepository(src)).repoKey;
    const lockPath = join(dataRoot, 'mirrors', `${key}.git.lock`);
    await mkdir(join(dataRoot, 'mirrors'), { recursive: true });

    const dead = spawn('true');
    await new Promise((r) => dead.on('exit', r));
    await writeFile(lockPath, JSON.stringify({ pid: dead.pid, startTime: null, host: hostname(), token: 'dead', acquiredAt: '' }));
    await ensureMirror({ dataRoot, repository: src });
    expect(existsSync(lockPath)).toBe(false);

    const live = spawn('sleep', ['30']);
    try {
      await new Promise((r) => setTimeout(r, 50));
      await writeFile(lockPath, JSON.stringify({ pid: live.pid, startTime: processStartTime(live.pid!), host: hostname(), token: 'live', acquiredAt: '' }));
      await expect(ensureMirror({ dataRoot, repository: src, lockWaitMs: 300 })).rejects.toMatchObject({ code: 'MIRROR_LOCKED', retryable: true });
      // The holder finishes: a waiting caller proceeds.
      const waiting = ensureMirror({ dataRoot, repository: src, lockWaitMs: 10_000 });
      setTimeout(() => live.kill(), 300);
      await expect(waiting).resolves.toMatchObject({ repoKey: key });
    } finally {
      live.kill();
    }
  });

  it('fails with a non-retryable error for a missing repository', async () => {
    const dataRoot = await tempDir('gg-data-');
    const empty = await tempDir('gg-empty-');
    await expect(ensureMirror({ dataRoot, repository: empty })).rejects.toMatchObject({ retryable: false });
    expect((await readdir(join(dataRoot, 'mirrors'))).filter((e) => !e.endsWith('.lock'))).toEqual([]);
  });
});
