import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { commitChanges } from './commit.js';
import { git } from './git.js';
import { ensureMirror, resolveBranch } from './mirror.js';
import { ensureBaseSnapshot } from './snapshot.js';
import { cleanupTempDirs, makeRepo, tempDir } from '../../test-support/spec-helpers.js';
import { mountWorkspace, readUpperChanges } from './workspace/index.js';

afterEach(cleanupTempDirs);

describe('commit through the in-process tree edit', () => {
  it('gives the commit git read-tree + update-index + write-tree + commit-tree give', async () => {
    const root = await tempDir('cte-');
    const repo = await makeRepo({ 'package.json': '{"a":1}\n', 'src/x.js': 'x\n', 'src/y.js': 'y\n', 'bin/run': { content: '#!/bin/sh\n', exec: true }, 'link': { symlink: 'src/x.js' } });
    const dataRoot = join(root, 'p');
    const mirror = await ensureMirror({ dataRoot, repository: repo });
    const head = await resolveBranch({ mirrorPath: mirror.mirrorPath });
    const lowerDir = await ensureBaseSnapshot({ dataRoot, repoKey: mirror.repoKey, mirrorPath: mirror.mirrorPath, commit: head.commit });
    const ws = await mountWorkspace({ localRoot: join(root, 'l'), executionId: 'rem_x.patch.1', lowerDir });
    await writeFile(join(ws.mergedDir, 'package.json'), '{"a":2}\n');
    await writeFile(join(ws.mergedDir, 'src', 'new.js'), 'n\n');
    await rm(join(ws.mergedDir, 'src', 'y.js'));
    const scan = await readUpperChanges({ upperDir: ws.upperDir, lowerDir, mergedDir: ws.mergedDir });
    const date = new Date(1700000000000);
    const result = await commitChanges({ mirrorPath: mirror.mirrorPath, baseCommit: head.commit, mergedDir: ws.mergedDir, changes: scan.changes, message: 'm', author: { name: 'a', email: 'a@b' }, date, ref: 'refs/remediations/t/a/v1' });

    const g = (args: string[], extra: Parameters<typeof git>[1] = {}) => git(args, { gitDir: mirror.mirrorPath, ...extra });
    const env = { GIT_INDEX_FILE: join(root, 'index') };
    await g(['read-tree', head.commit], { env });
    const blobs = (await g(['hash-object', '-w', '--no-filters', join(ws.mergedDir, 'package.json'), join(ws.mergedDir, 'src', 'new.js')])).stdout.split('\n');
    await g(['update-index', '--add', '--replace', '-z', '--index-info'], { env, input: `0 ${'0'.repeat(40)}\tsrc/y.js\x00100644 ${blobs[0]}\tpackage.json\x00100644 ${blobs[1]}\tsrc/new.js\0` });
    const tree = (await g(['write-tree'], { env })).stdout;
    const when = '1700000000 +0000';
    const sha = (await g(['commit-tree', tree, '-p', head.commit], { input: 'm\n', env: { GIT_AUTHOR_NAME: 'a', GIT_AUTHOR_EMAIL: 'a@b', GIT_COMMITTER_NAME: 'a', GIT_COMMITTER_EMAIL: 'a@b', GIT_AUTHOR_DATE: when, GIT_COMMITTER_DATE: when } })).stdout;
    expect(result).toEqual({ sha, tree, changedPaths: ['package.json', 'src/new.js', 'src/y.js'], reused: false });
    const names = (await g(['diff-tree', '-r', '--name-status', head.commit, result.sha])).stdout.trim();
    expect(names).toBe('M\tpackage.json\nA\tsrc/new.js\nD\tsrc/y.js');
  });
});
