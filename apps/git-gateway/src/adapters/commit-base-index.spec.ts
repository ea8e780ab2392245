import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { commitChanges } from './commit.js';
import { git } from './git.js';
import { ensureMirror, resolveBranch } from './mirror.js';
import { ensureBaseSnapshot, snapshotIndexPath } from './snapshot.js';
import { cleanupTempDirs, makeRepo, tempDir } from '../../test-support/spec-helpers.js';
import { mountWorkspace, readUpperChanges } from './workspace/index.js';

afterEach(cleanupTempDirs);

describe('commit from the base snapshot prebuilt index', () => {
  it('gives the same commit as reading the base tree, and falls back when the index is missing', async () => {
    const root = await tempDir('cbi-');
    const repo = await makeRepo({ 'package.json': '{"a":1}\n', 'src/x.js': 'x\n', 'bin/run': { content: '#!/bin/sh\n', exec: true }, 'link': { symlink: 'src/x.js' } });
    const dataRoot = join(root, 'p');
    const mirror = await ensureMirror({ dataRoot, repository: repo });
    const head = await resolveBranch({ mirrorPath: mirror.mirrorPath });
    const lowerDir = await ensureBaseSnapshot({ dataRoot, repoKey: mirror.repoKey, mirrorPath: mirror.mirrorPath, commit: head.commit });
    const ws = await mountWorkspace({ localRoot: join(root, 'l'), executionId: 'rem_x.patch.1', lowerDir });
    await writeFile(join(ws.mergedDir, 'package.json'), '{"a":2}\n');
    const scan = await readUpperChanges({ upperDir: ws.upperDir, lowerDir, mergedDir: ws.mergedDir });
    const common = { mirrorPath: mirror.mirrorPath, baseCommit: head.commit, mergedDir: ws.mergedDir, changes: scan.changes, message: 'm', author: { name: 'a', email: 'a@b' }, date: new Date(1700000000000) };
    const withIndex = await commitChanges({ ...common, baseIndex: snapshotIndexPath(lowerDir), ref: 'refs/remediations/t/a/v1' });
    const withoutIndex = await commitChanges({ ...common, ref: 'refs/remediations/t/b/v1' });
    const missingIndex = await commitChanges({ ...common, baseIndex: join(root, 'nope.index'), ref: 'refs/remediations/t/c/v1' });
    expect(withIndex.sha).toBe(withoutIndex.sha);
    expect(missingIndex.sha).toBe(withoutIndex.sha);
    expect(withIndex.changedPaths).toEqual(['package.json']);
    const names = (await git(['diff-tree', '-r', '--name-status', head.commit, withIndex.sha], { gitDir: mirror.mirrorPath })).stdout.trim();
    expect(names).toBe('M\tpackage.json');
  });
});
