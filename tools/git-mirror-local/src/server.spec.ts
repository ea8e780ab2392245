import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { startGitMirrorLocal, type GitMirrorLocal } from './index.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

const ENV = {
  GIT_AUTHOR_NAME: 'Test',
  GIT_AUTHOR_EMAIL: 'test@example.com',
  GIT_COMMITTER_NAME: 'Test',
  GIT_COMMITTER_EMAIL: 'test@example.com',
  GIT_TERMINAL_PROMPT: '0',
};

async function git(cwd: string, ...args: string[]): Promise<string> {
  return String((await execa('git', args, { cwd, env: ENV })).stdout).trim();
}

async function tmp(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** `<root>/acme/widgets.git` with two commits on main, a tag and a branch; returns root, work repo, bare repo. */
async function fixture(): Promise<{ root: string; work: string; bare: string }> {
  const base = await tmp('gml-');
  const work = join(base, 'work');
  await mkdir(work);
  await git(work, 'init', '-q', '-b', 'main');
  for (const n of [1, 2]) {
    await writeFile(join(work, `f${n}.txt`), `${n}\n`);
    await git(work, 'add', '-A');
    await git(work, 'commit', '-q', '-m', `c${n}`);
  }
  await git(work, 'tag', 'v1');
  await git(work, 'branch', 'feature');
  const root = join(base, 'root');
  const bare = join(root, 'acme', 'widgets.git');
  await execa('git', ['clone', '-q', '--bare', work, bare]);
  return { root, work, bare };
}

async function start(root: string, options: { buildOnStart?: boolean } = {}): Promise<GitMirrorLocal> {
  const server = await startGitMirrorLocal({ root, ...options });
  cleanups.push(() => server.close());
  return server;
}

async function listHeads(bundle: string, cwd: string): Promise<string[]> {
  return (await git(cwd, 'bundle', 'list-heads', bundle)).split('\n').map((l) => l.split(' ')[1]!).sort();
}

describe('git-mirror-local', () => {
  it('serves a pre-built bundle of heads, tags and HEAD, and rebuilds it on POST …/bundle/refresh', async () => {
    const { root, work, bare } = await fixture();
    const server = await start(root);
    const head = await fetch(`${server.url}/acme/widgets.git/bundle`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toBe('application/x-git-bundle');
    const response = await fetch(`${server.url}/acme/widgets.git/bundle`);
    const body = Buffer.from(await response.arrayBuffer());
    expect(Number(response.headers.get('content-length'))).toBe(body.length);
    expect(body.subarray(0, 16).toString()).toBe('# v2 git bundle\n');
    const dir = await tmp('gml-dl-');
    const file = join(dir, 'all.bundle');
    await writeFile(file, body);
    await git(dir, 'init', '-q', '--bare', 'check.git');
    await git(join(dir, 'check.git'), 'bundle', 'verify', file);
    expect(await listHeads(file, dir)).toEqual(['HEAD', 'refs/heads/feature', 'refs/heads/main', 'refs/tags/v1']);

    await writeFile(join(work, 'f3.txt'), '3\n');
    await git(work, 'add', '-A');
    await git(work, 'commit', '-q', '-m', 'c3');
    await git(work, 'push', '-q', bare, 'main');
    const refreshed = await fetch(`${server.url}/acme/widgets.git/bundle/refresh`, { method: 'POST' });
    expect(await refreshed.json()).toMatchObject({ path: 'acme/widgets', built: true });
    const again = Buffer.from(await (await fetch(`${server.url}/acme/widgets.git/bundle`)).arrayBuffer());
    await writeFile(file, again);
    const heads = await git(dir, 'bundle', 'list-heads', file);
    expect(heads).toContain(`${await git(work, 'rev-parse', 'HEAD')} refs/heads/main`);
    expect(server.requests.map((r) => `${r.method} ${r.kind} ${r.status}`)).toEqual([
      'HEAD bundle 200',
      'GET bundle 200',
      'POST bundle-refresh 200',
      'GET bundle 200',
    ]);
  });

  it('answers 404 for unknown repositories, unsafe paths and repositories without a bundle', async () => {
    const { root } = await fixture();
    const server = await start(root, { buildOnStart: false });
    const status = async (path: string, method = 'GET'): Promise<number> => (await fetch(`${server.url}${path}`, { method })).status;
    expect(await status('/acme/widgets.git/bundle')).toBe(404);
    expect(await status('/acme/nope.git/bundle')).toBe(404);
    expect(await status('/acme/nope.git/info/refs?service=git-upload-pack')).toBe(404);
    expect(await status('/acme/%2e%2e/widgets.git/bundle')).toBe(404);
    expect(await status('/.git-mirror-local/x.git/bundle')).toBe(404);
    expect(await status('/acme/widgets.git/bundle', 'POST')).toBe(405);
    // An empty repository has no bundle even after a refresh.
    await execa('git', ['init', '-q', '--bare', join(root, 'acme', 'empty.git')]);
    expect(await (await fetch(`${server.url}/acme/empty.git/bundle/refresh`, { method: 'POST' })).json()).toMatchObject({ built: false });
    expect(await status('/acme/empty.git/bundle')).toBe(404);
    expect(await server.refreshBundle('acme/widgets')).toBeGreaterThan(0);
    expect(await status('/acme/widgets.git/bundle')).toBe(200);
    expect(() => server.bundlePath('../etc')).toThrow(/invalid repository path/);
    await expect(server.refreshBundle('acme/missing')).rejects.toThrow(/does not exist/);
  });

  it('serves git smart HTTP read-only and logs upload-pack facts (full clone: no haves, every object)', async () => {
    const { root, bare } = await fixture();
    const server = await start(root);
    const dir = await tmp('gml-clone-');
    await git(dir, 'clone', '-q', '--bare', `${server.url}/acme/widgets.git`, 'c.git');
    expect(await git(join(dir, 'c.git'), 'for-each-ref', '--format=%(objectname) %(refname)')).toBe(
      await git(bare, 'for-each-ref', '--format=%(objectname) %(refname)'),
    );
    const total = Number(await git(bare, 'rev-list', '--objects', '--all', '--count'));
    const fetches = server.requests.filter((r) => r.kind === 'upload-pack' && r.command === 'fetch');
    expect(fetches).toHaveLength(1);
    expect(fetches[0]).toMatchObject({ haves: 0, packObjects: total, status: 200 });
    expect(fetches[0]!.wants).toBeGreaterThan(0);
    expect(server.requests.some((r) => r.kind === 'info-refs' && r.service === 'git-upload-pack')).toBe(true);

    // receive-pack is refused (no REMOTE_USER for http-backend).
    const push = await execa('git', ['-C', join(dir, 'c.git'), 'push', `${server.url}/acme/widgets.git`, 'main:refs/heads/other'], { reject: false, env: ENV });
    expect(push.exitCode).not.toBe(0);
    expect(await git(bare, 'for-each-ref', 'refs/heads/other')).toBe('');
    await server.close();
    await server.close();
  });
});

describe('git-mirror-local CLI', () => {
  it('prints the ready line, serves, and stops on SIGTERM; exits 2 on bad arguments', async () => {
    const { root } = await fixture();
    const main = resolve(import.meta.dirname, 'main.ts');
    const tsx = resolve(import.meta.dirname, '../../../node_modules/.bin/tsx');
    const child = spawn(tsx, [main, '--root', root, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    cleanups.push(async () => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    const line = await new Promise<string>((ok, fail) => {
      let out = '';
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (chunk: string) => {
        out += chunk;
        if (out.includes('\n')) ok(out.trim());
      });
      child.once('exit', (code) => fail(new Error(`exited ${code}`)));
    });
    expect(line).toMatch(/^git-mirror-local listening on http:\/\/127\.0\.0\.1:\d+$/);
    const url = line.slice('git-mirror-local listening on '.length);
    expect((await fetch(`${url}/acme/widgets.git/bundle`)).status).toBe(200);
    const exited = new Promise<number | null>((ok) => child.once('exit', (code) => ok(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);

    const bad = await execa(tsx, [main, '--port', '0'], { reject: false });
    expect(bad.exitCode).toBe(2);
    expect(String(bad.stderr)).toContain('usage: git-mirror-local');
  }, 60_000);
});
