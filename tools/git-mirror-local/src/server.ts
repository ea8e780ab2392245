import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { execa } from 'execa';

/**
 * git-mirror-local: a local implementation of the internal git mirror protocol that
 * git-gateway's `httpMirrorSource` speaks (apps/git-gateway/src/adapters/mirror-source.ts),
 * over a directory of bare repositories `<root>/<owner>/<repo>.git`:
 *  - `GET|HEAD /<owner>/<repo>.git/bundle` → the pre-built bundle (git-bundle(1): heads, tags
 *    and HEAD, full history), `Content-Type: application/x-git-bundle`, `Content-Length`;
 *    404 when the repository or its bundle does not exist.
 *  - `POST /<owner>/<repo>.git/bundle/refresh` → rebuilds that bundle; 200 JSON
 *    `{ path, built, bytes }` (`built: false` for a repository without refs), 404 unknown repo.
 *  - everything else under `/<owner>/<repo>.git/` → git smart HTTP (gitprotocol-http(5)) by
 *    running `git http-backend` as a CGI (read-only: no REMOTE_USER, so receive-pack is refused).
 * Bundles live apart from the repositories, in `<root>/.git-mirror-local/bundles/<owner>/<repo>.bundle`
 * (written to a temp file then renamed, so a download never sees a half bundle). The same root
 * can be github-local's `reposRoot` (same layout).
 */

/** Options of {@link startGitMirrorLocal}. */
export interface GitMirrorLocalOptions {
  /** Folder of bare repositories `<root>/<owner>/<repo>.git`. */
  root: string;
  /** TCP port; 0 (the default) picks a free one (read it back from `url`). */
  port?: number;
  /** Interface to bind; default `127.0.0.1`. */
  host?: string;
  /** Build a bundle for every repository before listening. Default true. */
  buildOnStart?: boolean;
  /** Called with one line per request (method, path, status, bytes, upload-pack facts). */
  log?: (line: string) => void;
}

/** What the server saw of one request (for tests and `--log`). */
export interface MirrorRequest {
  method: string;
  /** URL path without the query, e.g. `/acme/widgets.git/git-upload-pack`. */
  path: string;
  /** `service=` query of `info/refs` requests. */
  service?: string;
  kind: 'bundle' | 'bundle-refresh' | 'info-refs' | 'upload-pack' | 'receive-pack' | 'other';
  status: number;
  /** Response body bytes sent. */
  bytesSent: number;
  /** upload-pack: protocol v2 `command=` (`ls-refs`, `fetch`), absent for protocol v0/v1. */
  command?: string;
  /** upload-pack: number of `want` lines in the request. */
  wants?: number;
  /** upload-pack: number of `have` lines in the request (0 for a full clone). */
  haves?: number;
  /** upload-pack: object count from the PACK header of the response (absent when no pack was sent). */
  packObjects?: number;
}

/** A running git-mirror-local. */
export interface GitMirrorLocal {
  /** Base URL without trailing slash, e.g. `http://127.0.0.1:39211`; the remote of `acme/widgets` is `<url>/acme/widgets.git`. */
  url: string;
  /** Absolute root of the repositories. */
  root: string;
  /** Every request served so far, oldest first (live array). */
  requests: MirrorRequest[];
  /** Absolute bundle file path of `owner/repo` (`.git` optional). @throws Error for an invalid path. */
  bundlePath(path: string): string;
  /**
   * Rebuilds the bundle of `owner/repo` now (serialised with other builds of the same repo).
   * @returns the bundle size in bytes, or null when the repository has no refs (no bundle then).
   * @throws Error when the repository does not exist or the path is invalid.
   */
  refreshBundle(path: string): Promise<number | null>;
  /** Stops listening (open connections are closed). Safe to call twice. */
  close(): Promise<void>;
}

const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
const STATE_DIR = '.git-mirror-local';

/** `owner/repo(.git)` → `{ owner, repo }` (repo without `.git`), or undefined if not a safe two-segment path. */
function parseRepoPath(path: string): { owner: string; repo: string } | undefined {
  const parts = path.replace(/^\/+|\/+$/g, '').split('/');
  if (parts.length !== 2) return undefined;
  const owner = parts[0]!;
  const repo = parts[1]!.replace(/\.git$/, '');
  if (!SEGMENT.test(owner) || !SEGMENT.test(repo) || owner.startsWith('.') || repo === '.' || repo === '..') return undefined;
  return { owner, repo };
}

async function isDir(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isDirectory() === true;
}

/**
 * Starts git-mirror-local (see the module comment for the routes).
 * @returns the running server; bundles of existing repositories are built before it resolves
 *   unless `buildOnStart: false`.
 * @throws when the root does not exist or the port cannot be bound.
 */
export async function startGitMirrorLocal(options: GitMirrorLocalOptions): Promise<GitMirrorLocal> {
  const root = resolve(options.root);
  if (!(await isDir(root))) throw new Error(`root ${root} is not a directory`);
  const requests: MirrorRequest[] = [];
  const builds = new Map<string, Promise<number | null>>();

  const repoDir = (owner: string, repo: string): string => join(root, owner, `${repo}.git`);
  const bundleFile = (owner: string, repo: string): string => join(root, STATE_DIR, 'bundles', owner, `${repo}.bundle`);

  const build = async (owner: string, repo: string): Promise<number | null> => {
    const gitDir = repoDir(owner, repo);
    if (!(await isDir(gitDir))) throw new Error(`repository ${owner}/${repo} does not exist`);
    const file = bundleFile(owner, repo);
    await mkdir(dirname(file), { recursive: true });
    const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
    const env = { GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' };
    const head = await execa('git', ['--git-dir', gitDir, 'rev-parse', '-q', '--verify', 'HEAD'], { reject: false, env });
    const refs = await execa('git', ['--git-dir', gitDir, 'for-each-ref', '--count=1', 'refs/heads/', 'refs/tags/'], { reject: false, env });
    if (String(refs.stdout).trim() === '') {
      await rm(file, { force: true });
      return null;
    }
    const args = ['--git-dir', gitDir, 'bundle', 'create', '-q', tmp, ...(head.exitCode === 0 ? ['HEAD'] : []), '--branches', '--tags'];
    const result = await execa('git', args, { reject: false, env });
    if (result.exitCode !== 0) {
      await rm(tmp, { force: true });
      throw new Error(`git bundle create for ${owner}/${repo} failed: ${String(result.stderr).trim()}`);
    }
    await rename(tmp, file);
    return (await stat(file)).size;
  };

  /** Serialises builds per repository; a refresh requested during a build runs after it. */
  const refresh = (owner: string, repo: string): Promise<number | null> => {
    const key = `${owner}/${repo}`;
    const previous = builds.get(key) ?? Promise.resolve(null);
    const next = previous.catch(() => null).then(() => build(owner, repo));
    builds.set(key, next);
    void next.finally(() => {
      if (builds.get(key) === next) builds.delete(key);
    }).catch(() => undefined);
    return next;
  };

  if (options.buildOnStart ?? true) {
    for (const owner of await readdir(root)) {
      if (owner.startsWith('.') || !SEGMENT.test(owner) || !(await isDir(join(root, owner)))) continue;
      for (const entry of await readdir(join(root, owner))) {
        const parsed = entry.endsWith('.git') ? parseRepoPath(`${owner}/${entry}`) : undefined;
        if (parsed === undefined || !(await isDir(join(root, owner, entry)))) continue;
        await refresh(parsed.owner, parsed.repo);
      }
    }
  }

  const record = (entry: MirrorRequest): void => {
    requests.push(entry);
    if (options.log !== undefined) {
      const extra = entry.kind === 'upload-pack' ? ` command=${entry.command ?? 'v0'} wants=${entry.wants} haves=${entry.haves} packObjects=${entry.packObjects ?? '-'}` : '';
      options.log(`${entry.method} ${entry.path}${entry.service === undefined ? '' : `?service=${entry.service}`} ${entry.status} ${entry.bytesSent}B${extra}`);
    }
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`git-mirror-local: ${err instanceof Error ? err.message : String(err)}\n`);
      } else {
        res.destroy();
      }
    });
  });

  const simple = (req: IncomingMessage, res: ServerResponse, entry: Omit<MirrorRequest, 'status' | 'bytesSent'>, status: number, body: string, type = 'text/plain'): void => {
    const bytes = Buffer.from(body);
    res.writeHead(status, { 'content-type': type, 'content-length': String(bytes.length) });
    res.end(req.method === 'HEAD' ? undefined : bytes);
    record({ ...entry, status, bytesSent: req.method === 'HEAD' ? 0 : bytes.length });
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = decodeURIComponent(url.pathname);
    const method = req.method ?? 'GET';
    const match = /^\/(.+?\.git)(\/.*)?$/.exec(path);
    const parsed = match === null ? undefined : parseRepoPath(match[1]!);
    const rest = match?.[2] ?? '';
    const service = url.searchParams.get('service') ?? undefined;
    const kind: MirrorRequest['kind'] =
      rest === '/bundle'
        ? 'bundle'
        : rest === '/bundle/refresh'
          ? 'bundle-refresh'
          : rest === '/info/refs'
            ? 'info-refs'
            : rest === '/git-upload-pack'
              ? 'upload-pack'
              : rest === '/git-receive-pack'
                ? 'receive-pack'
                : 'other';
    const base = { method, path, kind, ...(service === undefined ? {} : { service }) };
    if (parsed === undefined || !(await isDir(repoDir(parsed.owner, parsed.repo)))) {
      simple(req, res, base, 404, 'repository not found\n');
      return;
    }
    if (kind === 'bundle') {
      if (method !== 'GET' && method !== 'HEAD') return simple(req, res, base, 405, 'method not allowed\n');
      const file = bundleFile(parsed.owner, parsed.repo);
      const info = await stat(file).catch(() => undefined);
      if (info === undefined) return simple(req, res, base, 404, 'no bundle\n');
      // Open before answering: a concurrent rebuild renames a new file over the path, and this
      // stream keeps reading the old one (consistent with the Content-Length sent).
      const stream = createReadStream(file);
      await new Promise<void>((ok, fail) => stream.once('open', () => ok()).once('error', fail));
      res.writeHead(200, {
        'content-type': 'application/x-git-bundle',
        'content-length': String(info.size),
        etag: `"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`,
        'last-modified': info.mtime.toUTCString(),
        'cache-control': 'no-cache',
      });
      if (method === 'HEAD') {
        stream.destroy();
        res.end();
        record({ ...base, status: 200, bytesSent: 0 });
        return;
      }
      let sent = 0;
      stream.on('data', (chunk) => {
        sent += chunk.length;
      });
      stream.pipe(res);
      await new Promise<void>((ok) => res.once('close', ok));
      record({ ...base, status: 200, bytesSent: sent });
      return;
    }
    if (kind === 'bundle-refresh') {
      if (method !== 'POST') return simple(req, res, base, 405, 'method not allowed\n');
      req.resume();
      const bytes = await refresh(parsed.owner, parsed.repo);
      simple(req, res, base, 200, `${JSON.stringify({ path: `${parsed.owner}/${parsed.repo}`, built: bytes !== null, bytes: bytes ?? 0 })}\n`, 'application/json');
      return;
    }
    await serveCgi(req, res, url, path, base);
  }

  /** Runs `git http-backend` (CGI/1.1, RFC 3875) for one smart-HTTP request. */
  async function serveCgi(req: IncomingMessage, res: ServerResponse, url: URL, path: string, base: Omit<MirrorRequest, 'status' | 'bytesSent'>): Promise<void> {
    const child = spawn('git', ['http-backend'], {
      env: {
        PATH: process.env['PATH'] ?? '/usr/bin:/bin',
        GIT_PROJECT_ROOT: root,
        GIT_HTTP_EXPORT_ALL: '1',
        PATH_INFO: path,
        QUERY_STRING: url.search.replace(/^\?/, ''),
        REQUEST_METHOD: req.method ?? 'GET',
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        HTTP_CONTENT_ENCODING: String(req.headers['content-encoding'] ?? ''),
        GIT_PROTOCOL: String(req.headers['git-protocol'] ?? ''),
        REMOTE_ADDR: req.socket.remoteAddress ?? '127.0.0.1',
        LC_ALL: 'C',
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const inspect = base.kind === 'upload-pack';
    const body: Buffer[] = [];
    let bodyBytes = 0;
    req.on('data', (chunk: Buffer) => {
      if (inspect && bodyBytes < 8 * 1024 * 1024) {
        body.push(chunk);
        bodyBytes += chunk.length;
      }
    });
    req.pipe(child.stdin);
    child.stdin.on('error', () => undefined);
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-4000);
    });
    res.on('close', () => {
      if (child.exitCode === null) child.kill('SIGTERM');
    });
    const packScanner = inspect ? createPackHeaderScanner() : undefined;
    let head = Buffer.alloc(0);
    let headersDone = false;
    let status = 200;
    let sent = 0;
    const write = (chunk: Buffer): void => {
      sent += chunk.length;
      packScanner?.push(chunk);
      if (!res.write(chunk)) {
        child.stdout.pause();
        res.once('drain', () => child.stdout.resume());
      }
    };
    child.stdout.on('data', (chunk: Buffer) => {
      if (headersDone) return write(chunk);
      head = Buffer.concat([head, chunk]);
      const text = head.toString('latin1');
      const cgi = parseCgiHead(text);
      if (cgi === null) return;
      status = cgi.status;
      res.writeHead(status, cgi.headers);
      headersDone = true;
      const rest = head.subarray(cgi.bodyOffset);
      if (rest.length > 0) write(rest);
    });
    const exitCode = await new Promise<number | null>((ok) => {
      child.on('error', () => ok(null));
      child.on('close', (code) => ok(code));
    });
    if (!headersDone) {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`git http-backend failed (${exitCode}): ${stderr}\n`);
      status = 500;
    } else {
      res.end();
    }
    const entry: MirrorRequest = { ...base, status, bytesSent: sent };
    if (inspect) {
      Object.assign(entry, describeUploadPackRequest(Buffer.concat(body), String(req.headers['content-encoding'] ?? '')));
      const objects = packScanner?.objects();
      if (objects !== undefined) entry.packObjects = objects;
    }
    record(entry);
  }

  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => ok());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const shownHost = host === '0.0.0.0' ? '127.0.0.1' : host === '[::]' ? '[::1]' : host;
  let closed: Promise<void> | undefined;
  const resolvePath = (path: string): { owner: string; repo: string } => {
    const parsed = parseRepoPath(path);
    if (parsed === undefined) throw new Error(`invalid repository path ${JSON.stringify(path)} (expected owner/repo)`);
    return parsed;
  };
  return {
    url: `http://${shownHost}:${address.port}`,
    root,
    requests,
    bundlePath: (path) => {
      const { owner, repo } = resolvePath(path);
      return bundleFile(owner, repo);
    },
    refreshBundle: async (path) => {
      const { owner, repo } = resolvePath(path);
      return refresh(owner, repo);
    },
    close: () => {
      closed ??= new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

/** Splits pkt-lines (gitprotocol-common(5)): `0000` flush, `0001` delim, `0002` response-end. */
function pktLines(data: Buffer): string[] {
  const lines: string[] = [];
  let at = 0;
  while (at + 4 <= data.length) {
    const len = Number.parseInt(data.subarray(at, at + 4).toString('latin1'), 16);
    if (!Number.isFinite(len)) break;
    if (len < 4) {
      at += 4;
      continue;
    }
    lines.push(data.subarray(at + 4, at + len).toString('latin1'));
    at += len;
  }
  return lines;
}

/** `command=`, `want` and `have` counts of an upload-pack request body (gitprotocol-v2(5), gitprotocol-pack(5)). */
function describeUploadPackRequest(raw: Buffer, encoding: string): Pick<MirrorRequest, 'command' | 'wants' | 'haves'> {
  let data = raw;
  if (/gzip/i.test(encoding)) {
    try {
      data = gunzipSync(raw);
    } catch {
      return {};
    }
  }
  const lines = pktLines(data);
  const command = lines.find((l) => l.startsWith('command='))?.slice('command='.length).trim();
  return {
    ...(command === undefined ? {} : { command }),
    wants: lines.filter((l) => l.startsWith('want ')).length,
    haves: lines.filter((l) => l.startsWith('have ')).length,
  };
}

/**
 * Watches an upload-pack response for the pack header (`PACK`, version, object count: 4-byte
 * big-endian, gitformat-pack(5)) inside side-band channel 1 pkt-lines.
 */
function createPackHeaderScanner(): { push(chunk: Buffer): void; objects(): number | undefined } {
  let buffer = Buffer.alloc(0);
  let packHead = Buffer.alloc(0);
  let objects: number | undefined;
  let done = false;
  return {
    push(chunk) {
      if (done) return;
      buffer = Buffer.concat([buffer, chunk]);
      while (!done && buffer.length >= 4) {
        const len = Number.parseInt(buffer.subarray(0, 4).toString('latin1'), 16);
        if (!Number.isFinite(len)) {
          done = true;
          return;
        }
        if (len < 4) {
          buffer = buffer.subarray(4);
          continue;
        }
        if (buffer.length < len) return;
        const payload = buffer.subarray(4, len);
        buffer = buffer.subarray(len);
        if (payload[0] === 1) {
          packHead = Buffer.concat([packHead, payload.subarray(1)]);
          if (packHead.length >= 12) {
            if (packHead.subarray(0, 4).toString('latin1') === 'PACK') objects = packHead.readUInt32BE(8);
            done = true;
          }
        }
      }
    },
    objects: () => objects,
  };
}

/**
 * The head of a CGI response (RFC 3875 §6.2: header lines, a blank line, then the body), as
 * `git http-backend` writes it: the `Status` header gives the HTTP status (default 200), the other
 * headers pass through. `text` is the output so far, read as latin1 (one character per byte).
 * @returns null while the blank line has not arrived yet; else the status, the headers and the
 *   byte offset at which the body starts.
 */
export function parseCgiHead(text: string): { status: number; headers: Record<string, string>; bodyOffset: number } | null {
  const sep = /\r?\n\r?\n/.exec(text);
  if (sep === null) return null;
  let status = 200;
  const headers: Record<string, string> = {};
  for (const line of text.slice(0, sep.index).split(/\r?\n/)) {
    const idx = line.indexOf(':');
    if (idx === -1) continue;
    const name = line.slice(0, idx).trim();
    const value = line.slice(idx + 1).trim();
    if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10);
    else headers[name] = value;
  }
  return { status, headers, bodyOffset: sep.index + sep[0].length };
}
