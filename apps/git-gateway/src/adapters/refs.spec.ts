import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isValidRefName, listRefs, readHeadFile, refPresence } from './refs.js';

const git = (args: string[], cwd?: string) => execFileSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.invalid', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.invalid' } }).trim();

describe('isValidRefName', () => {
  // Each name is also given to `git check-ref-format`: the two must agree.
  const names = [
    'refs/heads/main',
    'refs/remediations/rem_1/patch.2/v1',
    'refs/remediations/rem_1/patch.2/checkpoint',
    'main',
    'refs/heads/a..b',
    'refs/heads/.hidden',
    'refs/heads/x.lock',
    'refs/heads/x.lock/y',
    'refs/heads/a b',
    'refs/heads/a~1',
    'refs/heads/a^',
    'refs/heads/a:b',
    'refs/heads/a?',
    'refs/heads/a*',
    'refs/heads/a[',
    'refs/heads/a\\b',
    'refs/heads/a@{1}',
    'refs/heads/a@b',
    '@',
    'refs/heads/',
    '/refs/heads/a',
    'refs//heads/a',
    'refs/heads/a.',
    'refs/heads/a\tb',
    'refs/heads/ünïcode',
    '',
  ];
  for (const name of names) {
    it(`agrees with git check-ref-format on ${JSON.stringify(name)}`, () => {
      const r = spawnSync('git', ['check-ref-format', name]);
      expect(isValidRefName(name)).toBe(r.status === 0);
    });
  }
});

describe('refPresence', () => {
  let dir: string;
  let repo: string;
  let sha: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'refs-spec-'));
    const work = join(dir, 'work');
    git(['init', '-q', '-b', 'main', work]);
    git(['commit', '-q', '--allow-empty', '-m', 'one'], work);
    repo = join(dir, 'mirror.git');
    git(['clone', '-q', '--bare', work, repo]);
    sha = git(['rev-parse', 'HEAD'], work);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('answers absent for a ref that does not exist, present for a loose one, and follows git after pack-refs and deletion', async () => {
    const ref = 'refs/remediations/rem_1/patch.1/checkpoint';
    expect(await refPresence(repo, ref)).toBe('absent');
    git(['--git-dir', repo, 'update-ref', ref, sha]);
    expect(await refPresence(repo, ref)).toBe('present');
    // A name with refs below it is not itself a ref.
    expect(await refPresence(repo, 'refs/remediations/rem_1')).toBe('absent');
    git(['--git-dir', repo, 'pack-refs', '--all']);
    expect(await refPresence(repo, ref)).toBe('present');
    git(['--git-dir', repo, 'update-ref', '-d', ref]);
    expect(await refPresence(repo, ref)).toBe('absent');
    // Branches cloned into the mirror are packed: found in packed-refs.
    expect(await refPresence(repo, 'refs/heads/main')).toBe('present');
  });

  it('leaves symbolic refs and names that are not full refs to git', async () => {
    git(['--git-dir', repo, 'symbolic-ref', 'refs/heads/alias', 'refs/heads/main']);
    expect(await refPresence(repo, 'refs/heads/alias')).toBe('unknown');
    expect(await refPresence(repo, 'HEAD')).toBe('unknown');
    expect(await refPresence(repo, sha)).toBe('unknown');
    expect(await refPresence(repo, 'refs/heads/a..b')).toBe('unknown');
  });
});

describe('readHeadFile', () => {
  it('reads what HEAD points at, null when detached, as git symbolic-ref does', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'refs-head-'));
    try {
      const repo = join(dir, 'r.git');
      git(['init', '-q', '--bare', '-b', 'trunk', repo]);
      expect(await readHeadFile(repo)).toBe(git(['--git-dir', repo, 'symbolic-ref', 'HEAD']));
      const work = join(dir, 'w');
      git(['clone', '-q', repo, work]);
      git(['commit', '-q', '--allow-empty', '-m', 'one'], work);
      const sha = git(['rev-parse', 'HEAD'], work);
      git(['push', '-q', 'origin', 'HEAD:refs/heads/trunk'], work);
      git(['--git-dir', repo, 'update-ref', '--no-deref', 'HEAD', sha]);
      expect(await readHeadFile(repo)).toBeNull();
      expect(await readHeadFile(join(dir, 'missing.git'))).toBe('unknown');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('listRefs', () => {
  it('lists heads and tags as git for-each-ref does: loose over packed, symbolic refs unknown', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gg-listrefs-'));
    try {
      const work = join(dir, 'work');
      git(['init', '-q', '-b', 'main', work]);
      git(['commit', '-q', '--allow-empty', '-m', 'one'], work);
      git(['tag', '-a', '-m', 'annotated', 'v1'], work);
      git(['branch', 'feature/x'], work);
      const bare = join(dir, 'bare.git');
      git(['clone', '-q', '--bare', work, bare]);
      const forEachRef = () =>
        new Map(
          git(['--git-dir', bare, 'for-each-ref', '--format=%(refname) %(objectname)', 'refs/heads/', 'refs/tags/'])
            .split('\n')
            .map((l) => l.split(' ') as [string, string]),
        );
      expect(await listRefs(bare, ['refs/heads/', 'refs/tags/'])).toEqual(forEachRef());
      git(['--git-dir', bare, 'pack-refs', '--all']);
      const moved = git(['--git-dir', bare, 'commit-tree', '-m', 'two', '-p', 'main', 'main^{tree}']);
      git(['--git-dir', bare, 'update-ref', 'refs/heads/main', moved]); // loose again, stale packed line
      expect(await listRefs(bare, ['refs/heads/', 'refs/tags/'])).toEqual(forEachRef());
      expect((await listRefs(bare, ['refs/heads/']) as Map<string, string>).get('refs/heads/main')).toBe(moved);
      git(['--git-dir', bare, 'symbolic-ref', 'refs/heads/alias', 'refs/heads/main']);
      expect(await listRefs(bare, ['refs/heads/'])).toBe('unknown');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
