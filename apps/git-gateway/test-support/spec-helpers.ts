/**
 * Test-only helpers for git-gateway's specs (imported by `*.spec.ts` only; kept out of `src/`):
 * temp dirs that are
 * unmounted and removed after each test, real git repositories built with the git CLI, and a
 * tiny smart-HTTP git server (git-http-backend as CGI) with basic auth for credential tests.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile, chmod } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { parseCgiHead } from '@remediation/git-mirror-local';
import { git } from '../src/adapters/git.js';
import { readMountInfo } from '../src/adapters/workspace/index.js';

/** Identity and date for test commits (deterministic ids). */
export const TEST_ENV: Record<string, string> = {
  GIT_AUTHOR_NAME: 'Test',
  GIT_AUTHOR_EMAIL: 'test@example.com',
  GIT_COMMITTER_NAME: 'Test',
  GIT_COMMITTER_EMAIL: 'test@example.com',
  GIT_AUTHOR_DATE: '1700000000 +0000',
  GIT_COMMITTER_DATE: '1700000000 +0000',
};

const created: string[] = [];

/** A fresh temp dir, removed (after unmounting anything under it) by {@link cleanupTempDirs}. */
export async function tempDir(prefix = 'gg-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  created.push(dir);
  return dir;
}

/** Unmounts every mount under `dir` (deepest first). */
export async function unmountAllUnder(dir: string): Promise<void> {
  const mounts = (await readMountInfo()).map((m) => m.mountPoint).filter((p) => p === dir || p.startsWith(`${dir}/`));
  for (const mountPoint of mounts.reverse()) {
    await execa('umount', [mountPoint], { reject: false });
  }
  const left = (await readMountInfo()).map((m) => m.mountPoint).filter((p) => p === dir || p.startsWith(`${dir}/`));
  for (const mountPoint of left.reverse()) await execa('umount', ['-l', mountPoint], { reject: false });
}

/** afterEach hook: unmount and delete every temp dir created by {@link tempDir}. */
export async function cleanupTempDirs(): Promise<void> {
  while (created.length > 0) {
    const dir = created.pop()!;
    await unmountAllUnder(dir);
    await rm(dir, { recursive: true, force: true });
  }
}

/** Runs git in `cwd` with the test identity; returns trimmed stdout. */
export async function sh(cwd: string, ...args: string[]): Promise<string> {
  return (await git(args, { cwd, env: TEST_ENV })).stdout.trim();
}

/** A file spec: text content, or an object for exec bit / symlink. */
export type FileSpec = string | { content: string; exec?: boolean } | { symlink: string };

/** Writes files (creating parent dirs) into a directory. */
export async function writeFiles(dir: string, files: Record<string, FileSpec>): Promise<void> {
  for (const [path, spec] of Object.entries(files)) {
    const abs = join(dir, path);
    await mkdir(dirname(abs), { recursive: true });
    await rm(abs, { force: true, recursive: true });
    if (typeof spec === 'string') {
      await writeFile(abs, spec);
    } else if ('symlink' in spec) {
      await symlink(spec.symlink, abs);
    } else {
      await writeFile(abs, spec.content);
      await chmod(abs, spec.exec === true ? 0o755 : 0o644);
    }
  }
}

/** Creates a non-bare repo on branch `main` with one commit of `files`; returns its path. */
export async function makeRepo(files: Record<string, FileSpec>, dir?: string): Promise<string> {
  const repo = dir ?? join(await tempDir('gg-src-'), 'repo');
  await mkdir(repo, { recursive: true });
  await sh(repo, 'init', '-q', '-b', 'main');
  await writeFiles(repo, files);
  await sh(repo, 'add', '-A');
  await sh(repo, 'commit', '-q', '-m', 'initial');
  return repo;
}

/** Writes files and commits them in a non-bare repo; returns the new commit id. */
export async function commitFiles(repo: string, files: Record<string, FileSpec>, message = 'change'): Promise<string> {
  await writeFiles(repo, files);
  await sh(repo, 'add', '-A');
  await sh(repo, 'commit', '-q', '-m', message);
  return sh(repo, 'rev-parse', 'HEAD');
}

/** A bare clone of `source` at `<dir>/<name>.git`; returns its path. */
export async function makeBare(source: string, name = 'remote'): Promise<string> {
  const dir = await tempDir('gg-bare-');
  const bare = join(dir, `${name}.git`);
  await git(['clone', '-q', '--bare', source, bare]);
  return bare;
}

/** A running smart-HTTP git server with basic auth. */
export interface GitHttpServer {
  /** `http://127.0.0.1:<port>/` — append `<name>.git`. */
  baseUrl: string;
  /** Authorization headers received (to assert credentials were sent). */
  authHeaders: string[];
  close(): Promise<void>;
}

/**
 * Serves the bare repositories under `projectRoot` over smart HTTP (git-http-backend CGI),
 * requiring basic auth `username:password` for every request; receive-pack is enabled.
 */
export async function startGitHttpServer(projectRoot: string, username: string, password: string): Promise<GitHttpServer> {
  const authHeaders: string[] = [];
  const expected = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  const server: Server = createServer((req, res) => {
    const auth = req.headers.authorization ?? '';
    authHeaders.push(auth);
    if (auth !== expected) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="git"' });
      res.end('unauthorized');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    const child = spawn('/usr/lib/git-core/git-http-backend', [], {
      env: {
        PATH: process.env['PATH'] ?? '/usr/bin:/bin',
        GIT_PROJECT_ROOT: projectRoot,
        GIT_HTTP_EXPORT_ALL: '1',
        PATH_INFO: decodeURIComponent(url.pathname),
        QUERY_STRING: url.search.replace(/^\?/, ''),
        REQUEST_METHOD: req.method ?? 'GET',
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        HTTP_CONTENT_ENCODING: String(req.headers['content-encoding'] ?? ''),
        GIT_PROTOCOL: String(req.headers['git-protocol'] ?? ''),
        REMOTE_USER: username,
        REMOTE_ADDR: '127.0.0.1',
      },
    });
    req.pipe(child.stdin);
    let head = Buffer.alloc(0);
    let headersDone = false;
    child.stdout.on('data', (chunk: Buffer) => {
      if (headersDone) {
        res.write(chunk);
        return;
      }
      head = Buffer.concat([head, chunk]);
      const text = head.toString('latin1');
      const cgi = parseCgiHead(text);
      if (cgi === null) return;
      res.writeHead(cgi.status, cgi.headers);
      headersDone = true;
      res.write(head.subarray(cgi.bodyOffset));
    });
    child.stdout.on('end', () => res.end());
    child.on('error', () => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    baseUrl: `http://127.0.0.1:${port}/`,
    authHeaders,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
