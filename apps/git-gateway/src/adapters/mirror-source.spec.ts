import { existsSync } from 'node:fs';
import { readdir, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startGitMirrorLocal, type GitMirrorLocal, type MirrorRequest } from '@remediation/git-mirror-local';
import { git } from './git.js';
import { ensureMirror, normalizeRepository, RAW_ATTRIBUTES, type GitProgress } from './mirror.js';
import { downloadBundle, httpMirrorSource, mirrorPathOf, noBundleSource, type MirrorSource } from './mirror-source.js';
import { cleanupTempDirs, commitFiles, makeRepo, sh, tempDir } from '../../test-support/spec-helpers.js';

const servers: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  while (servers.length > 0) await servers.pop()!.close();
  await cleanupTempDirs();
});

/** A work repo (history + tag + extra branch) published as `<root>/acme/widgets.git`, served by git-mirror-local. */
async function setup(options: { files?: number; buildOnStart?: boolean } = {}): Promise<{ work: string; bare: string; mirror: GitMirrorLocal; root: string }> {
  const files: Record<string, string> = {};
  for (let i = 0; i < (options.files ?? 40); i++) files[`src/f${i}.txt`] = `file ${i}\n`;
  const work = await makeRepo(files);
  await commitFiles(work, { 'src/f1.txt': 'changed\n', 'README.md': '# widgets\n' }, 'second');
  await sh(work, 'tag', 'v1');
  await sh(work, 'branch', 'feature');
  const root = await tempDir('gg-mirror-root-');
  const bare = join(root, 'acme', 'widgets.git');
  await git(['clone', '-q', '--bare', work, bare]);
  const mirror = await startGitMirrorLocal({ root, buildOnStart: options.buildOnStart ?? true });
  servers.push(mirror);
  return { work, bare, mirror, root };
}

/** Commits in the work repo and publishes it to the served bare repo (heads and tags, with deletions). */
async function publish(work: string, bare: string, files: Record<string, string>, message: string): Promise<string> {
  const sha = await commitFiles(work, files, message);
  await sh(work, 'push', '-q', '--prune', bare, '+refs/heads/*:refs/heads/*', '+refs/tags/*:refs/tags/*');
  return sha;
}

async function refsOf(gitDir: string): Promise<string> {
  return (await git(['for-each-ref', '--format=%(objectname) %(refname)', 'refs/heads/', 'refs/tags/'], { gitDir })).stdout;
}

const bundleGets = (reqs: MirrorRequest[]): MirrorRequest[] => reqs.filter((r) => r.kind === 'bundle' && r.method === 'GET');
const fetches = (reqs: MirrorRequest[]): MirrorRequest[] => reqs.filter((r) => r.kind === 'upload-pack' && r.command === 'fetch');

async function leftovers(dataRoot: string): Promise<string[]> {
  return (await readdir(join(dataRoot, 'mirrors'))).filter((e) => e.startsWith('.tmp-'));
}

describe('mirrorPathOf / httpMirrorSource', () => {
  it('maps repository locations to mirror paths and remotes', async () => {
    expect(mirrorPathOf(await normalizeRepository('https://GitHub.com/Acme/Widgets.git'))).toBe('Acme/Widgets');
    expect(mirrorPathOf(await normalizeRepository('git@gitlab.example.com:group/sub/repo.git'))).toBe('group/sub/repo');
    const local = await makeRepo({ 'a.txt': 'a\n' });
    expect(mirrorPathOf(await normalizeRepository(local))).toMatch(/^[^/]+\/repo$/);
    const source = httpMirrorSource({ baseUrl: 'http://mirror.internal:8080/' });
    expect(source.remoteFor(await normalizeRepository('https://github.com/acme/widgets'))).toBe('http://mirror.internal:8080/acme/widgets.git');
    expect(() => mirrorPathOf({ location: 'https://h/a/b c', remote: '', repoKey: 'x' })).toThrow(expect.objectContaining({ code: 'MIRROR_PATH_INVALID' }));
    expect(noBundleSource.remoteFor(await normalizeRepository('https://github.com/acme/widgets.git'))).toBe('https://github.com/acme/widgets.git');
  });
});

describe('ensureMirror with a mirror source', () => {
  it('clones from the bundle, fetches only what is newer, and later fetches incrementally', async () => {
    const { work, bare, mirror } = await setup();
    const source = httpMirrorSource({ baseUrl: mirror.url });
    // The bundle was built at start; upstream moves on (new commit, a deleted branch).
    const newer = await publish(work, bare, { 'src/f2.txt': 'newer\n' }, 'after bundle');
    await git(['branch', '-D', 'feature'], { gitDir: bare });
    await sh(work, 'branch', '-D', 'feature');
    const totalObjects = Number((await git(['rev-list', '--objects', '--all', '--count'], { gitDir: bare })).stdout);

    const dataRoot = await tempDir('gg-data-');
    const seen: GitProgress[] = [];
    const { mirrorPath } = await ensureMirror({ dataRoot, repository: 'https://github.com/acme/widgets.git', source, onProgress: (p) => seen.push(p) });

    // One bundle download; the only pack came from an incremental fetch (haves sent, 3 new objects:
    // commit, root tree, src tree + blob = 4), never a full clone.
    expect(bundleGets(mirror.requests)).toHaveLength(1);
    const [fetch] = fetches(mirror.requests);
    expect(fetches(mirror.requests)).toHaveLength(1);
    expect(fetch!.haves).toBeGreaterThan(0);
    expect(fetch!.packObjects).toBe(4);
    expect(fetch!.packObjects).toBeLessThan(totalObjects);

    // Same result as a plain clone: heads and tags (feature pruned), HEAD, config, attributes.
    expect(await refsOf(mirrorPath)).toBe(await refsOf(bare));
    expect((await git(['rev-parse', 'refs/heads/main'], { gitDir: mirrorPath })).stdout).toBe(newer);
    expect((await git(['symbolic-ref', 'HEAD'], { gitDir: mirrorPath })).stdout).toBe('refs/heads/main');
    expect((await git(['config', 'remote.origin.url'], { gitDir: mirrorPath })).stdout).toBe(`${mirror.url}/acme/widgets.git`);
    expect((await git(['config', '--get-all', 'remote.origin.fetch'], { gitDir: mirrorPath })).stdout).toBe('+refs/heads/*:refs/heads/*\n+refs/tags/*:refs/tags/*');
    expect(await readFile(join(mirrorPath, 'info', 'attributes'), 'utf8')).toBe(RAW_ATTRIBUTES);
    expect((await git(['fsck', '--connectivity-only'], { gitDir: mirrorPath })).exitCode).toBe(0);
    expect(await leftovers(dataRoot)).toEqual([]);

    // Heartbeats: bundle bytes (ending at the full size), unbundling, then the incremental fetch.
    const size = (await stat(mirror.bundlePath('acme/widgets'))).size;
    const download = seen.filter((p) => p.operation === 'bundle' && p.phase === 'downloading bundle');
    expect(download.length).toBeGreaterThan(0);
    expect(download.at(-1)).toMatchObject({ received: size, total: size, percent: 100 });
    expect(seen.some((p) => p.operation === 'bundle' && p.phase === 'receiving objects')).toBe(true);
    // Small fetches are unpacked without a local progress meter: the remote's phases show.
    expect(seen.some((p) => p.operation === 'fetch' && p.phase === 'counting objects')).toBe(true);
    expect(seen.some((p) => p.phase === 'bundle fallback')).toBe(false);
    expect(seen.findIndex((p) => p.operation === 'fetch')).toBeGreaterThan(seen.findIndex((p) => p.operation === 'bundle'));

    // Later: a gateway ref, a new upstream commit and a fresh bundle. No second bundle download;
    // the fetch is incremental and the gateway ref survives.
    await git(['update-ref', 'refs/remediations/run-1/target', newer], { gitDir: mirrorPath });
    const latest = await publish(work, bare, { 'src/f3.txt': 'latest\n' }, 'latest');
    await mirror.refreshBundle('acme/widgets');
    const later: GitProgress[] = [];
    await ensureMirror({ dataRoot, repository: 'https://github.com/acme/widgets', source, onProgress: (p) => later.push(p) });
    expect(bundleGets(mirror.requests)).toHaveLength(1);
    expect(fetches(mirror.requests)).toHaveLength(2);
    expect(fetches(mirror.requests)[1]).toMatchObject({ packObjects: 4 });
    expect(fetches(mirror.requests)[1]!.haves).toBeGreaterThan(0);
    expect(later.every((p) => p.operation === 'fetch')).toBe(true);
    expect((await git(['rev-parse', 'refs/heads/main'], { gitDir: mirrorPath })).stdout).toBe(latest);
    expect((await git(['rev-parse', 'refs/remediations/run-1/target'], { gitDir: mirrorPath })).stdout).toBe(newer);
  });

  it('falls back to a plain clone when the mirror has no bundle', async () => {
    const { bare, mirror } = await setup({ buildOnStart: false });
    const dataRoot = await tempDir('gg-data-');
    const seen: GitProgress[] = [];
    const { mirrorPath } = await ensureMirror({ dataRoot, repository: 'https://github.com/acme/widgets', source: httpMirrorSource({ baseUrl: mirror.url }), onProgress: (p) => seen.push(p) });
    expect(seen.filter((p) => p.phase === 'bundle fallback').map((p) => p.detail)).toEqual([expect.stringMatching(/offers no bundle/)]);
    expect(mirror.requests.filter((r) => r.kind === 'bundle').map((r) => `${r.method} ${r.status}`)).toEqual(['HEAD 404']);
    expect(fetches(mirror.requests)).toHaveLength(1);
    expect(fetches(mirror.requests)[0]).toMatchObject({ haves: 0 });
    expect(seen.some((p) => p.operation === 'clone' && p.phase === 'receiving objects')).toBe(true);
    expect(await refsOf(mirrorPath)).toBe(await refsOf(bare));
    expect((await git(['symbolic-ref', 'HEAD'], { gitDir: mirrorPath })).stdout).toBe('refs/heads/main');
    expect(await leftovers(dataRoot)).toEqual([]);
  });

  it.each([
    ['garbage', /invalid bundle/],
    ['truncated pack', /bundle unusable/],
  ])('falls back to a plain clone when the bundle is corrupt (%s)', async (kind, detail) => {
    const { bare, mirror } = await setup();
    const file = mirror.bundlePath('acme/widgets');
    if (kind === 'garbage') await writeFile(file, 'this is not a bundle\n');
    else await truncate(file, (await stat(file)).size - 40);
    const dataRoot = await tempDir('gg-data-');
    const seen: GitProgress[] = [];
    const { mirrorPath } = await ensureMirror({ dataRoot, repository: 'https://github.com/acme/widgets', source: httpMirrorSource({ baseUrl: mirror.url }), onProgress: (p) => seen.push(p) });
    expect(bundleGets(mirror.requests)).toHaveLength(1);
    expect(seen.filter((p) => p.phase === 'bundle fallback').map((p) => p.detail)).toEqual([expect.stringMatching(detail)]);
    expect(fetches(mirror.requests)).toHaveLength(1);
    expect(fetches(mirror.requests)[0]).toMatchObject({ haves: 0 });
    expect(await refsOf(mirrorPath)).toBe(await refsOf(bare));
    expect(await leftovers(dataRoot)).toEqual([]);
  });

  it('falls back when the download ends short of Content-Length, and reports BUNDLE_TRUNCATED from downloadBundle', async () => {
    const { bare, mirror } = await setup();
    const real = await readFile(mirror.bundlePath('acme/widgets'));
    // A bundle server that announces the full length, sends half and hangs up.
    const liar = createServer((_req, res) => {
      res.writeHead(200, { 'content-length': String(real.length), 'content-type': 'application/x-git-bundle' });
      res.write(real.subarray(0, Math.floor(real.length / 2)), () => res.socket?.destroy());
    });
    await new Promise<void>((ok) => liar.listen(0, '127.0.0.1', ok));
    servers.push({ close: () => new Promise<void>((ok) => liar.close(() => ok())) });
    const bundleUrl = `http://127.0.0.1:${(liar.address() as AddressInfo).port}/widgets.bundle`;
    const source: MirrorSource = { name: 'liar', bundleFor: async () => ({ url: bundleUrl }), remoteFor: () => `${mirror.url}/acme/widgets.git` };

    const dir = await tempDir('gg-dl-');
    await expect(downloadBundle({ offer: { url: bundleUrl }, file: join(dir, 'b.bundle') })).rejects.toMatchObject({
      code: expect.stringMatching(/^BUNDLE_(TRUNCATED|DOWNLOAD_FAILED)$/),
      retryable: true,
    });

    const dataRoot = await tempDir('gg-data-');
    const seen: GitProgress[] = [];
    const { mirrorPath } = await ensureMirror({ dataRoot, repository: 'https://github.com/acme/widgets', source, onProgress: (p) => seen.push(p) });
    expect(seen.filter((p) => p.phase === 'bundle fallback').map((p) => p.detail)).toEqual([expect.stringMatching(/truncated|failed after/)]);
    expect(seen.some((p) => p.phase === 'downloading bundle' && p.received > 0 && p.received < real.length)).toBe(true);
    expect(await refsOf(mirrorPath)).toBe(await refsOf(bare));
    expect(await leftovers(dataRoot)).toEqual([]);
  });

  it('shares one clone (one bundle download) between concurrent calls', async () => {
    const { bare, mirror } = await setup({ files: 300 });
    const source = httpMirrorSource({ baseUrl: mirror.url });
    const dataRoot = await tempDir('gg-data-');
    const seenA: GitProgress[] = [];
    const seenB: GitProgress[] = [];
    const [a, b] = await Promise.all([
      ensureMirror({ dataRoot, repository: 'https://github.com/acme/widgets', source, onProgress: (p) => seenA.push(p) }),
      ensureMirror({ dataRoot, repository: 'https://github.com/acme/widgets.git', source, onProgress: (p) => seenB.push(p) }),
    ]);
    expect(a).toEqual(b);
    expect(bundleGets(mirror.requests)).toHaveLength(1);
    expect(mirror.requests.filter((r) => r.kind === 'upload-pack' && r.haves === 0 && r.command === 'fetch')).toHaveLength(0);
    expect(seenA.length).toBeGreaterThan(0);
    expect(seenB).toEqual(seenA);
    expect(await refsOf(a.mirrorPath)).toBe(await refsOf(bare));
  });

  it('with noBundleSource behaves like a plain clone', async () => {
    const src = await makeRepo({ 'a.txt': 'a\n' });
    const dataRoot = await tempDir('gg-data-');
    const seen: GitProgress[] = [];
    const { mirrorPath } = await ensureMirror({ dataRoot, repository: `file://${src}`, source: noBundleSource, onProgress: (p) => seen.push(p) });
    expect(seen.every((p) => p.operation === 'clone' || (p.operation === 'bundle' && p.phase === 'bundle fallback'))).toBe(true);
    expect((await git(['rev-parse', 'refs/heads/main'], { gitDir: mirrorPath })).stdout).toBe(await sh(src, 'rev-parse', 'HEAD'));
  });

  it('an abort during the bundle step leaves nothing behind', async () => {
    const { mirror } = await setup();
    const dataRoot = await tempDir('gg-data-');
    const controller = new AbortController();
    controller.abort();
    await expect(
      ensureMirror({ dataRoot, repository: 'https://github.com/acme/widgets', source: httpMirrorSource({ baseUrl: mirror.url }), signal: controller.signal }),
    ).rejects.toMatchObject({ code: 'GIT_ABORTED' });
    expect((await readdir(join(dataRoot, 'mirrors'))).filter((e) => !e.endsWith('.lock'))).toEqual([]);
    expect(existsSync(join(dataRoot, 'mirrors'))).toBe(true);
  });
});
