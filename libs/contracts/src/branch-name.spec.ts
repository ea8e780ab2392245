import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { baseBranchProblem, branchNameProblem, gitBranchNameProblem } from './branch-name.js';

/** `git check-ref-format --branch <name>` run outside any repository (so `@` is not expanded to the current branch). */
function gitAccepts(name: string): boolean {
  try {
    execFileSync('git', ['check-ref-format', '--branch', name], { cwd: tmpdir(), stdio: 'ignore', env: { ...process.env, GIT_DIR: '/nonexistent', GIT_CEILING_DIRECTORIES: '/' } });
    return true;
  } catch {
    return false;
  }
}

const NAMES = [
  'feature', 'remediation/rem_1/patch.1', 'a/b/c', 'v1.2.3', 'a@b', '@', 'ünïcode', 'a-b_c', 'x/-y', 'HEAD', 'head', 'main',
  '-x', '--force', '', 'a..b', 'a/.b', '.a', 'a.lock', 'a/b.lock/c', 'a.lock/b', 'a.', 'a/', '/a', 'a//b', 'a b', 'a~1', 'a^', 'a:b',
  'a?', 'a*', 'a[', 'a\\b', 'a@{1}', '@{-1}', 'tab\there', 'del\x7f', 'refs/heads/main', 'refs/tags/v1', 'a/.lock', '.lock', 'x.lock.y',
];

describe('gitBranchNameProblem (git-check-ref-format --branch)', () => {
  it.each(NAMES)('%j: same verdict as the real git', (name) => {
    expect(gitBranchNameProblem(name) === null).toBe(gitAccepts(name));
  });
});

describe('branchNameProblem: git rules plus ours', () => {
  it.each([
    ['HEAD', /HEAD/],
    ['ORIG_HEAD', /symbolic ref/],
    ['@', /symbolic ref/],
    ['refs/heads/main', /full ref or a tag/],
    ['refs/tags/v1', /full ref or a tag/],
    ['tags/v1', /full ref or a tag/],
    ['--force', /begin with "-"/],
    ['a..b', /git-check-ref-format/],
  ])('%j is refused naming the rule', (name, rule) => {
    expect(branchNameProblem(name)).toMatch(rule);
  });

  it('accepts ordinary branch names', () => {
    expect(branchNameProblem('remediation/rem_1/patch.1')).toBeNull();
    expect(branchNameProblem('fix/cookie-0.7')).toBeNull();
  });

  it('refuses the base branch: the given one, else the common defaults', () => {
    expect(baseBranchProblem('develop', 'develop')).toMatch(/base branch/);
    expect(baseBranchProblem('main', 'develop')).toBeNull();
    expect(baseBranchProblem('main', undefined)).toMatch(/base branch/);
    expect(baseBranchProblem('master', undefined)).toMatch(/base branch/);
    expect(baseBranchProblem('feature', undefined)).toBeNull();
  });
});
