import { existsSync } from 'node:fs';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ensureMirror, resolveBranch } from './mirror.js';
import { ensureBaseSnapshot } from './snapshot.js';
import { cleanupTempDirs, makeRepo, sh, tempDir } from '../../test-support/spec-helpers.js';

afterEach(cleanupTempDirs);

async function setup(files: Parameters<typeof makeRepo>[0]) {
  const src = await makeRepo(files);
  const dataRoot = await tempDir('gg-data-');
  const { mirrorPath, repoKey } = await ensureMirror({ dataRoot, repository: src });
  const { commit } = await resolveBranch({ mirrorPath });
  return { src, dataRoot, mirrorPath, repoKey, commit };
}

describe('ensureBaseSnapshot', () => {
  it('extracts a commit keeping symlinks, exec bits and raw bytes, with no .git', async () => {
    const { dataRoot, mirrorPath, repoKey, commit } = await setup({
      'package.json': '{"name":"app"}\n',
      'bin/run.sh': { content: '#!/bin/sh\necho hi\n', exec: true },
      'lib/deep/nested/file.txt': 'nested\n',
      'link-to-pkg': { symlink: 'package.json' },
      'dangling': { symlink: '../outside/nowhere' },
      '.gitattributes': '*.txt text eol=crlf\n*.bin filter=lfs\n',
      'crlf.txt': 'line1\nline2\n',
    });
    const dir = await ensureBaseSnapshot({ dataRoot, repoKey, mirrorPath, commit });
    expect(dir).toBe(join(dataRoot, 'snapshots', repoKey, commit));
    expect(await readFile(join(dir, 'package.json'), 'utf8')).toBe('{"name":"app"}\n');
    expect((await lstat(join(dir, 'bin/run.sh'))).mode & 0o111).toBe(0o111);
    expect((await lstat(join(dir, 'package.json'))).mode & 0o111).toBe(0);
    expect((await lstat(join(dir, 'link-to-pkg'))).isSymbolicLink()).toBe(true);
    expect(await readlink(join(dir, 'link-to-pkg'))).toBe('package.json');
    expect(await readlink(join(dir, 'dangling'))).toBe('../outside/nowhere');
    expect(await readFile(join(dir, 'lib/deep/nested/file.txt'), 'utf8')).toBe('nested\n');
    // Blob bytes verbatim: the eol=crlf attribute is not applied.
    expect(await readFile(join(dir, 'crlf.txt'), 'utf8')).toBe('line1\nline2\n');
    expect(existsSync(join(dir, '.git'))).toBe(false);
    expect((await readdir(join(dataRoot, 'snapshots', repoKey))).sort()).toEqual([commit]); // the snapshot, no leftovers (no index: commits edit trees, decision 0024)
  });

  it('is idempotent and concurrency-safe', async () => {
    const { dataRoot, mirrorPath, repoKey, commit } = await setup({ 'a.txt': 'a\n' });
    const results = await Promise.all(Array.from({ length: 5 }, () => ensureBaseSnapshot({ dataRoot, repoKey, mirrorPath, commit })));
    expect(new Set(results).size).toBe(1);
    const again = await ensureBaseSnapshot({ dataRoot, repoKey, mirrorPath, commit });
    expect(again).toBe(results[0]);
    expect(await readdir(join(dataRoot, 'snapshots', repoKey))).toEqual([commit]);
  });

  it('keeps older commits as separate snapshots and keeps submodules as empty dirs', async () => {
    const { src, dataRoot, mirrorPath, repoKey, commit } = await setup({ 'a.txt': 'a\n' });
    await sh(src, 'update-index', '--add', '--cacheinfo', `160000,${commit},vendor/sub`);
    await sh(src, 'commit', '-q', '-m', 'add gitlink');
    await ensureMirror({ dataRoot, repository: src });
    const head = (await resolveBranch({ mirrorPath })).commit;
    const dir = await ensureBaseSnapshot({ dataRoot, repoKey, mirrorPath, commit: head });
    expect((await lstat(join(dir, 'vendor/sub'))).isDirectory()).toBe(true);
    expect(await readdir(join(dir, 'vendor/sub'))).toEqual([]);
    const old = await ensureBaseSnapshot({ dataRoot, repoKey, mirrorPath, commit });
    expect(existsSync(join(old, 'vendor'))).toBe(false);
  });

  it('rejects unknown commits and unsafe inputs', async () => {
    const { dataRoot, mirrorPath, repoKey } = await setup({ 'a.txt': 'a\n' });
    await expect(ensureBaseSnapshot({ dataRoot, repoKey, mirrorPath, commit: 'a'.repeat(40) })).rejects.toMatchObject({ code: 'COMMIT_NOT_FOUND' });
    await expect(ensureBaseSnapshot({ dataRoot, repoKey: '../x', mirrorPath, commit: 'a'.repeat(40) })).rejects.toMatchObject({ code: 'SNAPSHOT_INVALID_INPUT' });
    await expect(ensureBaseSnapshot({ dataRoot, repoKey, mirrorPath, commit: 'HEAD' })).rejects.toMatchObject({ code: 'SNAPSHOT_INVALID_INPUT' });
    expect(existsSync(join(dataRoot, 'snapshots', repoKey))).toBe(false);
  });
});
