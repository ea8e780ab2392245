import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeLongLivedGit } from './long-lived-git.js';
import { editTree, type TreeEdit } from './tree-edit.js';

const env = { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.invalid', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.invalid' };
const git = (args: string[], options: { cwd?: string; input?: string; env?: Record<string, string> } = {}) =>
  execFileSync('git', args, { cwd: options.cwd, encoding: 'utf8', env: { ...env, ...options.env }, ...(options.input === undefined ? {} : { input: options.input }) }).replace(/\n$/, '');

let dir: string;
let bare: string;
let baseTree: string;
const blob = (text: string) => git(['--git-dir', bare, 'hash-object', '-w', '--stdin'], { input: text });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gg-tree-edit-'));
  const work = join(dir, 'work');
  const files: Record<string, string> = {
    'a.txt': 'a\n',
    'dir/b.txt': 'b\n',
    'dir/sub/c.txt': 'c\n',
    'dir/sub/d.txt': 'd\n',
    x: 'x is a file\n',
    'y/z.txt': 'z\n',
    'y/deep/w.txt': 'w\n',
    'exec.sh': '#!/bin/sh\n',
    'ünï/ç.txt': 'unicode\n',
  };
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(work, path)), { recursive: true });
    await writeFile(join(work, path), content);
  }
  await chmod(join(work, 'exec.sh'), 0o755);
  await symlink('a.txt', join(work, 'link'));
  git(['init', '-q', '-b', 'main'], { cwd: work });
  git(['add', '-A'], { cwd: work });
  git(['commit', '-q', '-m', 'base'], { cwd: work });
  bare = join(dir, 'bare.git');
  git(['clone', '-q', '--bare', work, bare]);
  baseTree = git(['--git-dir', bare, 'rev-parse', 'HEAD^{tree}']);
});

afterAll(async () => {
  closeLongLivedGit();
  await rm(dir, { recursive: true, force: true });
});

/** What the index plumbing gives: read-tree, update-index --add --replace (deletions first), write-tree, diff-tree. */
async function byIndex(edits: TreeEdit[]): Promise<{ tree: string; changedPaths: string[] }> {
  const tmp = await mkdtemp(join(tmpdir(), 'gg-tree-edit-index-'));
  try {
    const indexEnv = { GIT_INDEX_FILE: join(tmp, 'index') };
    git(['--git-dir', bare, 'read-tree', baseTree], { env: indexEnv });
    const zero = '0'.repeat(40);
    const info =
      edits.filter((e) => e.entry === null).map((e) => `0 ${zero}\t${e.path}\0`).join('') +
      edits.filter((e) => e.entry !== null).map((e) => `${e.entry!.mode} ${e.entry!.oid}\t${e.path}\0`).join('');
    git(['--git-dir', bare, 'update-index', '--add', '--replace', '-z', '--index-info'], { env: indexEnv, input: info });
    const tree = git(['--git-dir', bare, 'write-tree'], { env: indexEnv });
    const changedPaths = git(['--git-dir', bare, 'diff-tree', '-r', '-z', '--no-renames', '--name-only', baseTree, tree])
      .split('\0')
      .filter((p) => p.length > 0)
      .sort();
    return { tree, changedPaths };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

describe('editTree', () => {
  const cases: Array<[string, () => TreeEdit[]]> = [
    ['a changed file', () => [{ path: 'a.txt', entry: { mode: '100644', oid: blob('a2\n') } }]],
    ['a new file in a new directory', () => [{ path: 'new/dir/n.txt', entry: { mode: '100644', oid: blob('n\n') } }]],
    ['the last files of a directory deleted (it disappears)', () => [{ path: 'dir/sub/c.txt', entry: null }, { path: 'dir/sub/d.txt', entry: null }]],
    ['a file where a directory must be (replaced)', () => [{ path: 'x/new.txt', entry: { mode: '100644', oid: blob('n\n') } }]],
    ['a file replacing a whole directory', () => [{ path: 'y', entry: { mode: '100644', oid: blob('y\n') } }]],
    ['deletions of a directory, an absent path and a path below a file (no-ops)', () => [{ path: 'dir', entry: null }, { path: 'missing/p', entry: null }, { path: 'a.txt/inner', entry: null }]],
    ['a mode change only, and a symlink', () => [{ path: 'exec.sh', entry: { mode: '100644', oid: blob('#!/bin/sh\n') } }, { path: 'link', entry: { mode: '120000', oid: blob('dir/b.txt') } }]],
    ['a write equal to the base (nothing changes)', () => [{ path: 'a.txt', entry: { mode: '100644', oid: blob('a\n') } }]],
    ['non-ASCII names', () => [{ path: 'ünï/ç.txt', entry: null }, { path: 'ünï/ñ.txt', entry: { mode: '100755', oid: blob('ñ\n') } }]],
    ['every file deleted (the empty tree)', () => ['a.txt', 'dir/b.txt', 'dir/sub/c.txt', 'dir/sub/d.txt', 'x', 'y/z.txt', 'y/deep/w.txt', 'exec.sh', 'ünï/ç.txt', 'link'].map((path) => ({ path, entry: null }))],
    ['a mix', () => [
      { path: 'dir/sub/c.txt', entry: null },
      { path: 'y/deep/w.txt', entry: null },
      { path: 'dir/sub/e.txt', entry: { mode: '100644', oid: blob('e\n') } },
      { path: 'y/deep', entry: { mode: '100644', oid: blob('deep is a file now\n') } },
      { path: 'a.txt', entry: { mode: '100755', oid: blob('a\n') } },
    ]],
  ];
  for (const [name, edits] of cases) {
    it(`gives the tree and changed paths of update-index + write-tree + diff-tree: ${name}`, async () => {
      const e = edits();
      const expected = await byIndex(e);
      expect(await editTree(bare, baseTree, e)).toEqual(expected);
    });
  }

  it('fails with TREE_NOT_FOUND for a base tree that is not there', async () => {
    await expect(editTree(bare, 'f'.repeat(40), [{ path: 'a', entry: null }])).rejects.toMatchObject({ code: 'TREE_NOT_FOUND' });
  });
});
