import { chmod, mkdir, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { commitChanges, readCommitAt } from './commit.js';
import { git } from './git.js';
import { ensureMirror, resolveBranch } from './mirror.js';
import { ensureBaseSnapshot } from './snapshot.js';
import { cleanupTempDirs, makeRepo, tempDir } from '../../test-support/spec-helpers.js';
import { mountWorkspace, readUpperChanges } from './workspace/index.js';

afterEach(cleanupTempDirs);

const author = { name: 'Remediation Bot', email: 'bot@example.com' };
const date = new Date('2024-05-01T12:00:00Z');

async function setup() {
  const src = await makeRepo({
    'package.json': '{"name":"app","dependencies":{"lodash":"4.17.20"}}\n',
    'package-lock.json': '{"lockfileVersion":3}\n',
    'README.md': 'readme\n',
    'scripts/run.sh': '#!/bin/sh\n',
    'old/one.txt': '1\n',
    'old/two.txt': '2\n',
    'link': { symlink: 'README.md' },
    '.gitattributes': '*.json text eol=crlf\n',
  });
  const dataRoot = await tempDir('gg-data-');
  const localRoot = await tempDir('gg-local-');
  const { mirrorPath, repoKey } = await ensureMirror({ dataRoot, repository: src });
  const { commit } = await resolveBranch({ mirrorPath });
  const lowerDir = await ensureBaseSnapshot({ dataRoot, repoKey, mirrorPath, commit });
  const ws = await mountWorkspace({ localRoot, executionId: 'exec-c', lowerDir });
  return { src, mirrorPath, commit, ws };
}

async function nameStatus(mirrorPath: string, a: string, b: string): Promise<string[]> {
  const { stdout } = await git(['diff-tree', '-r', '--no-renames', '--name-status', a, b], { gitDir: mirrorPath });
  return stdout.split('\n').filter((l) => l.length > 0);
}

describe('commitChanges', () => {
  it('commits exactly the workspace changes, anchored by a ref, idempotently', async () => {
    const { mirrorPath, commit, ws } = await setup();
    const m = ws.mergedDir;
    await writeFile(join(m, 'package.json'), '{"name":"app","dependencies":{"lodash":"4.17.21"}}\n');
    await writeFile(join(m, 'package-lock.json'), '{"lockfileVersion":3,"x":1}\n');
    await unlink(join(m, 'README.md'));
    await rm(join(m, 'old'), { recursive: true });
    await mkdir(join(m, 'new/nested'), { recursive: true });
    await writeFile(join(m, 'new/nested/file.txt'), 'n\n');
    await chmod(join(m, 'scripts/run.sh'), 0o755);
    await unlink(join(m, 'link'));
    await symlink('package.json', join(m, 'link'));
    await symlink('new/nested', join(m, 'dirlink'));

    const scan = await readUpperChanges(ws);
    const ref = 'refs/remediations/run-1/npm';
    const result = await commitChanges({ mirrorPath, baseCommit: commit, mergedDir: m, changes: scan.changes, ref, message: 'fix(deps): bump lodash', author, date });

    expect(await nameStatus(mirrorPath, commit, result.sha)).toEqual([
      'D\tREADME.md',
      'A\tdirlink',
      'M\tlink',
      'A\tnew/nested/file.txt',
      'D\told/one.txt',
      'D\told/two.txt',
      'M\tpackage-lock.json',
      'M\tpackage.json',
      'M\tscripts/run.sh',
    ]);
    expect(result.changedPaths).toEqual(['README.md', 'dirlink', 'link', 'new/nested/file.txt', 'old/one.txt', 'old/two.txt', 'package-lock.json', 'package.json', 'scripts/run.sh']);
    expect(result.reused).toBe(false);

    // Modes, symlink blobs and raw bytes (no CRLF conversion despite eol=crlf).
    const { stdout: lsTree } = await git(['ls-tree', '-r', result.sha], { gitDir: mirrorPath });
    expect(lsTree).toMatch(/^100755 blob \w+\tscripts\/run\.sh$/m);
    expect(lsTree).toMatch(/^120000 blob \w+\tlink$/m);
    expect(lsTree).toMatch(/^120000 blob \w+\tdirlink$/m);
    expect((await git(['cat-file', '-p', `${result.sha}:link`], { gitDir: mirrorPath })).stdout).toBe('package.json');
    expect((await git(['cat-file', '-p', `${result.sha}:package.json`], { gitDir: mirrorPath })).stdout).toBe('{"name":"app","dependencies":{"lodash":"4.17.21"}}');

    // Anchored by the ref; commit metadata as asked.
    expect(await readCommitAt(mirrorPath, ref)).toEqual({ sha: result.sha, tree: result.tree, parents: [commit] });
    const { stdout: meta } = await git(['show', '-s', '--format=%an <%ae>|%cn|%at|%s', result.sha], { gitDir: mirrorPath });
    expect(meta).toBe(`Remediation Bot <bot@example.com>|Remediation Bot|${date.getTime() / 1000}|fix(deps): bump lodash`);

    // Idempotent retry (even without a date, the existing commit is returned).
    const retry = await commitChanges({ mirrorPath, baseCommit: commit, mergedDir: m, changes: scan.changes, ref, message: 'fix(deps): bump lodash', author });
    expect(retry).toEqual({ ...result, reused: true });

    // The same ref with different content is a conflict unless the old value is expected.
    await writeFile(join(m, 'package.json'), '{"changed":"again"}\n');
    const again = [...scan.changes];
    await expect(commitChanges({ mirrorPath, baseCommit: commit, mergedDir: m, changes: again, ref, message: 'x', author })).rejects.toMatchObject({ code: 'REF_CONFLICT' });
    const moved = await commitChanges({ mirrorPath, baseCommit: commit, mergedDir: m, changes: again, ref, message: 'checkpoint', author, expectedOldSha: result.sha });
    expect(moved.sha).not.toBe(result.sha);
    expect((await readCommitAt(mirrorPath, ref))?.sha).toBe(moved.sha);
  });

  it('survives a mirror gc: the anchored commit is kept', async () => {
    const { mirrorPath, commit, ws } = await setup();
    await writeFile(join(ws.mergedDir, 'README.md'), 'changed\n');
    const { changes } = await readUpperChanges(ws);
    const result = await commitChanges({ mirrorPath, baseCommit: commit, mergedDir: ws.mergedDir, changes, ref: 'refs/remediations/gc/test', message: 'm', author, date });
    await git(['gc', '--prune=now', '--quiet'], { gitDir: mirrorPath });
    expect((await git(['cat-file', '-t', result.sha], { gitDir: mirrorPath })).stdout).toBe('commit');
  });

  it('refuses empty change sets (PATCH_EMPTY), bad paths and bad refs', async () => {
    const { mirrorPath, commit, ws } = await setup();
    const base = { mirrorPath, baseCommit: commit, mergedDir: ws.mergedDir, message: 'm', author, ref: 'refs/remediations/e/1' };
    await expect(commitChanges({ ...base, changes: [] })).rejects.toMatchObject({ code: 'PATCH_EMPTY', retryable: false });
    // A write whose content equals the base: the tree is unchanged.
    await expect(commitChanges({ ...base, changes: [{ path: 'README.md', kind: 'write', mode: '100644' }] })).rejects.toMatchObject({ code: 'PATCH_EMPTY' });
    await expect(commitChanges({ ...base, changes: [{ path: '.git/config', kind: 'write' }] })).rejects.toMatchObject({ code: 'PATCH_FORBIDDEN_PATH' });
    await expect(commitChanges({ ...base, changes: [{ path: '../x', kind: 'write' }] })).rejects.toMatchObject({ code: 'PATCH_INVALID_PATH' });
    await expect(commitChanges({ ...base, changes: [{ path: 'missing.txt', kind: 'write' }] })).rejects.toMatchObject({ code: 'PATCH_PATH_MISSING' });
    await expect(commitChanges({ ...base, ref: 'main', changes: [{ path: 'README.md', kind: 'delete' }] })).rejects.toMatchObject({ code: 'REF_INVALID' });
    await expect(commitChanges({ ...base, baseCommit: 'f'.repeat(40), changes: [{ path: 'README.md', kind: 'delete' }] })).rejects.toMatchObject({ code: 'COMMIT_NOT_FOUND' });
    const { stdout } = await git(['for-each-ref', 'refs/remediations'], { gitDir: mirrorPath });
    expect(stdout).toBe('');
  });

  it('handles a file replaced by a directory (D/F conflict) in the index', async () => {
    const { mirrorPath, commit, ws } = await setup();
    await unlink(join(ws.mergedDir, 'README.md'));
    await mkdir(join(ws.mergedDir, 'README.md'));
    await writeFile(join(ws.mergedDir, 'README.md/index.md'), 'now a dir\n');
    const { changes } = await readUpperChanges(ws);
    const result = await commitChanges({ mirrorPath, baseCommit: commit, mergedDir: ws.mergedDir, changes, ref: 'refs/remediations/df/1', message: 'm', author, date });
    expect(await nameStatus(mirrorPath, commit, result.sha)).toEqual(['D\tREADME.md', 'A\tREADME.md/index.md']);
  });
});
