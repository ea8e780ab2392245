import { existsSync } from 'node:fs';
import { mkdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { collectMirrors, collectSnapshots, collectWorkspaces, touchSnapshot } from './gc.js';
import { git } from './git.js';
import { ensureMirror, resolveBranch } from './mirror.js';
import { ensureBaseSnapshot } from './snapshot.js';
import { cleanupTempDirs, commitFiles, makeRepo, tempDir } from '../../test-support/spec-helpers.js';
import { findMount, mountWorkspace } from './workspace/index.js';

afterEach(cleanupTempDirs);

const DAY = 24 * 3600 * 1000;

async function setup() {
  const root = await tempDir('gc-');
  const repo = await makeRepo({ 'package.json': '{}\n', 'src/a.js': 'a\n' });
  const dataRoot = join(root, 'persistent');
  const localRoot = join(root, 'local');
  const mirror = await ensureMirror({ dataRoot, repository: repo });
  const head = await resolveBranch({ mirrorPath: mirror.mirrorPath });
  const lowerDir = await ensureBaseSnapshot({ dataRoot, repoKey: mirror.repoKey, mirrorPath: mirror.mirrorPath, commit: head.commit });
  return { root, repo, dataRoot, localRoot, mirror, head, lowerDir };
}

describe('git-gateway GC', () => {
  it('releases workspaces of executions that ended before the retention period, keeps the others', async () => {
    const s = await setup();
    const old = await mountWorkspace({ localRoot: s.localRoot, executionId: 'rem_a.patch.1', lowerDir: s.lowerDir });
    const recent = await mountWorkspace({ localRoot: s.localRoot, executionId: 'rem_a.patch.2', lowerDir: s.lowerDir });
    const running = await mountWorkspace({ localRoot: s.localRoot, executionId: 'rem_a.patch.3', lowerDir: s.lowerDir });
    await writeFile(join(old.mergedDir, 'package.json'), '{"x":1}\n');
    const now = new Date();
    const ended: Record<string, Date | null> = {
      'rem_a.patch.1': new Date(now.getTime() - 2 * DAY),
      'rem_a.patch.2': new Date(now.getTime() - 1000),
      'rem_a.patch.3': null,
    };
    const released = await collectWorkspaces({ localRoot: s.localRoot, retentionMs: DAY, endedAt: async (id) => ended[id] ?? null, now });
    expect(released).toEqual(['rem_a.patch.1']);
    expect(await findMount(old.mergedDir)).toBeNull();
    expect(existsSync(join(s.localRoot, 'workspaces', 'rem_a.patch.1'))).toBe(false);
    expect(await findMount(recent.mergedDir)).not.toBeNull();
    expect(await findMount(running.mergedDir)).not.toBeNull();
  });

  it('removes snapshots unused for the period unless a workspace still uses them', async () => {
    const s = await setup();
    // A second commit gives a second snapshot; the first is the lower of a live workspace.
    await commitFiles(s.repo, { 'src/a.js': 'b\n' }, 'second');
    await ensureMirror({ dataRoot: s.dataRoot, repository: s.repo });
    const second = await resolveBranch({ mirrorPath: s.mirror.mirrorPath });
    const unused = await ensureBaseSnapshot({ dataRoot: s.dataRoot, repoKey: s.mirror.repoKey, mirrorPath: s.mirror.mirrorPath, commit: second.commit });
    const ws = await mountWorkspace({ localRoot: s.localRoot, executionId: 'rem_b.patch.1', lowerDir: s.lowerDir });
    await mkdir(ws.mergedDir, { recursive: true });
    await writeFile(join(s.localRoot, 'workspaces', 'rem_b.patch.1', 'workspace.json'), JSON.stringify({ lowerDir: s.lowerDir }));
    const old = new Date(Date.now() - 10 * DAY);
    await touchSnapshot(s.lowerDir);
    await touchSnapshot(unused);
    await utimes(`${s.lowerDir}.used`, old, old);
    await utimes(`${unused}.used`, old, old);
    const removed = await collectSnapshots({ dataRoot: s.dataRoot, localRoot: s.localRoot, unusedForMs: 7 * DAY });
    expect(removed).toEqual([`${s.mirror.repoKey}/${second.commit}`]);
    expect(existsSync(unused)).toBe(false);
    expect(existsSync(join(s.lowerDir, 'package.json'))).toBe(true);
    await touchSnapshot(s.lowerDir);
    expect(await collectSnapshots({ dataRoot: s.dataRoot, localRoot: s.localRoot, unusedForMs: 7 * DAY })).toEqual([]);
  });

  it('never loses objects a ref still needs when mirrors are collected', async () => {
    const s = await setup();
    const tree = (await git(['rev-parse', `${s.head.commit}^{tree}`], { gitDir: s.mirror.mirrorPath })).stdout.trim();
    const anchored = (await git(['commit-tree', tree, '-p', s.head.commit, '-m', 'anchored patch'], { gitDir: s.mirror.mirrorPath, env: { GIT_AUTHOR_NAME: 'a', GIT_AUTHOR_EMAIL: 'a@b', GIT_COMMITTER_NAME: 'a', GIT_COMMITTER_EMAIL: 'a@b' } })).stdout.trim();
    await git(['update-ref', 'refs/remediations/rem_c/patch.1/v1', anchored], { gitDir: s.mirror.mirrorPath });
    expect(await collectMirrors({ dataRoot: s.dataRoot })).toHaveLength(1);
    await git(['gc', '--prune=now', '--quiet'], { gitDir: s.mirror.mirrorPath }); // the harshest prune
    expect((await git(['cat-file', '-t', anchored], { gitDir: s.mirror.mirrorPath })).stdout.trim()).toBe('commit');
  });
});
