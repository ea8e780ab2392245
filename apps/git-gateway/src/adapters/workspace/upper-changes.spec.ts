import { chmod, mkdir, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanupTempDirs, tempDir, writeFiles, type FileSpec } from '../../../test-support/spec-helpers.js';
import type { Workspace } from './layout.js';
import { mountWorkspace } from './overlay-driver.js';
import { readUpperChanges, type UpperChange } from './upper-changes.js';

afterEach(cleanupTempDirs);

const BASE: Record<string, FileSpec> = {
  'package.json': '{"name":"app"}\n',
  'README.md': 'readme\n',
  'scripts/build.sh': { content: '#!/bin/sh\n', exec: true },
  'scripts/plain.sh': '#!/bin/sh\n',
  'src/index.ts': 'export {};\n',
  'src/lib/a.ts': 'a\n',
  'src/lib/b.ts': 'b\n',
  'src/lib/deep/c.ts': 'c\n',
  'docs/guide.md': 'guide\n',
  'docs/img/logo.svg': '<svg/>\n',
  'link': { symlink: 'README.md' },
  'conf': 'file that becomes a dir\n',
  'data/x.json': '{}\n',
};

async function workspace(extraOptions: string[] = []): Promise<Workspace> {
  const lower = join(await tempDir('gg-lower-'), 'snap');
  await mkdir(lower, { recursive: true });
  await writeFiles(lower, BASE);
  await mkdir(join(lower, 'vendor/submodule'), { recursive: true }); // gitlink placeholder
  const localRoot = await tempDir('gg-local-');
  return mountWorkspace({ localRoot, executionId: `x${Math.random().toString(36).slice(2, 8)}`, lowerDir: lower, extraOptions });
}

/** Reads an overlay xattr of an upper entry with python3 (tests only; null when absent). */
async function overlayXattr(path: string, name: string): Promise<string | null> {
  const script = 'import os,sys\ntry:\n  print(os.getxattr(sys.argv[1], sys.argv[2]).decode())\nexcept OSError:\n  print("<none>")';
  const { stdout } = await execa('python3', ['-c', script, path, name]);
  return stdout === '<none>' ? null : stdout;
}

const w = (path: string, mode: UpperChange['mode'] = '100644'): UpperChange => ({ path, kind: 'write', mode });
const d = (path: string): UpperChange => ({ path, kind: 'delete' });

describe('readUpperChanges', () => {
  it('reports nothing for an untouched workspace', async () => {
    const ws = await workspace();
    expect(await readUpperChanges(ws)).toEqual({ changes: [], forbidden: [], unsupported: [] });
  });

  it('add, modify, delete (whiteout), nested new dirs', async () => {
    const ws = await workspace();
    const m = ws.mergedDir;
    await writeFile(join(m, 'package.json'), '{"name":"app","v":2}\n');
    await writeFile(join(m, 'NEW.md'), 'new\n');
    await unlink(join(m, 'README.md'));
    await mkdir(join(m, 'a/b/c'), { recursive: true });
    await writeFile(join(m, 'a/b/c/deep.txt'), 'deep\n');
    await writeFile(join(m, 'src/lib/deep/d.ts'), 'd\n');
    const scan = await readUpperChanges(ws);
    expect(scan.changes).toEqual([w('NEW.md'), d('README.md'), w('a/b/c/deep.txt'), w('package.json'), w('src/lib/deep/d.ts')]);
    expect(scan.forbidden).toEqual([]);
  });

  it('deleting a directory deletes every lower path under it', async () => {
    const ws = await workspace();
    await rm(join(ws.mergedDir, 'src/lib'), { recursive: true });
    await rm(join(ws.mergedDir, 'vendor/submodule'), { recursive: true });
    const { changes } = await readUpperChanges(ws);
    expect(changes).toEqual([d('src/lib/a.ts'), d('src/lib/b.ts'), d('src/lib/deep/c.ts'), d('vendor/submodule')]);
  });

  it('rm -rf a dir then recreate it with other files (opaque dir)', async () => {
    const ws = await workspace();
    const m = ws.mergedDir;
    await rm(join(m, 'docs'), { recursive: true });
    await mkdir(join(m, 'docs/img'), { recursive: true });
    await writeFile(join(m, 'docs/new.md'), 'new\n');
    await writeFile(join(m, 'docs/img/logo.svg'), '<svg/>\n'); // same name, same content: still written
    const { changes } = await readUpperChanges(ws);
    expect(await overlayXattr(join(ws.upperDir, 'docs'), 'trusted.overlay.opaque')).toBe('y');
    expect(changes).toEqual([d('docs/guide.md'), w('docs/img/logo.svg'), w('docs/new.md')]);
  });

  it('rename = delete + add; symlink add and change; chmod +x only', async () => {
    const ws = await workspace();
    const m = ws.mergedDir;
    await rename(join(m, 'src/index.ts'), join(m, 'src/main.ts'));
    await symlink('src/main.ts', join(m, 'entry'));
    await unlink(join(m, 'link'));
    await symlink('package.json', join(m, 'link'));
    await chmod(join(m, 'scripts/plain.sh'), 0o755);
    await chmod(join(m, 'scripts/build.sh'), 0o644);
    const { changes } = await readUpperChanges(ws);
    expect(changes).toEqual([
      w('entry', '120000'),
      w('link', '120000'),
      w('scripts/build.sh', '100644'),
      w('scripts/plain.sh', '100755'),
      d('src/index.ts'),
      w('src/main.ts'),
    ]);
  });

  it('file replaced by a directory and directory replaced by a file', async () => {
    const ws = await workspace();
    const m = ws.mergedDir;
    await unlink(join(m, 'conf'));
    await mkdir(join(m, 'conf'));
    await writeFile(join(m, 'conf/settings.json'), '{}\n');
    await rm(join(m, 'data'), { recursive: true });
    await writeFile(join(m, 'data'), 'now a file\n');
    const { changes } = await readUpperChanges(ws);
    expect(changes).toEqual([d('conf'), w('conf/settings.json'), w('data'), d('data/x.json')]);
  });

  it('renamed directory with redirect_dir=on: old paths deleted, new paths written from merged', async () => {
    const ws = await workspace(['redirect_dir=on']);
    const m = ws.mergedDir;
    await rename(join(m, 'src/lib'), join(m, 'src/library'));
    await writeFile(join(m, 'src/library/b.ts'), 'b2\n');
    expect(await overlayXattr(join(ws.upperDir, 'src/library'), 'trusted.overlay.redirect')).toMatch(/lib$/);
    const { changes } = await readUpperChanges(ws);
    expect(changes).toEqual([
      d('src/lib/a.ts'),
      d('src/lib/b.ts'),
      d('src/lib/deep/c.ts'),
      w('src/library/a.ts'),
      w('src/library/b.ts'),
      w('src/library/deep/c.ts'),
    ]);
  });

  it('renaming a lower directory without redirect_dir falls back to copy + delete (mv) with the same result', async () => {
    const ws = await workspace();
    const m = ws.mergedDir;
    await execa('mv', [join(m, 'docs'), join(m, 'documentation')]);
    const { changes } = await readUpperChanges(ws);
    expect(changes).toEqual([
      w('documentation/guide.md'),
      w('documentation/img/logo.svg'),
      d('docs/guide.md'),
      d('docs/img/logo.svg'),
    ].sort((a, b) => (a.path < b.path ? -1 : 1)));
  });

  it('never reports .git paths as changes: they go to forbidden; special files to unsupported', async () => {
    const ws = await workspace();
    const m = ws.mergedDir;
    await mkdir(join(m, '.git/hooks'), { recursive: true });
    await writeFile(join(m, '.git/hooks/pre-commit'), 'evil\n');
    await mkdir(join(m, 'src/.GIT'), { recursive: true });
    await writeFile(join(m, 'src/.GIT/config'), 'x\n');
    await writeFile(join(m, 'ok.txt'), 'ok\n');
    await execa('mkfifo', [join(m, 'pipe')]);
    const scan = await readUpperChanges(ws);
    expect(scan.changes).toEqual([w('ok.txt')]);
    expect(scan.forbidden).toEqual(['.git', 'src/.GIT']);
    expect(scan.unsupported).toEqual([{ path: 'pipe', type: 'fifo' }]);
  });
});
