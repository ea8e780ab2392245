import { join } from 'node:path';
import { chmod, rm } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidInputError } from '@remediation/errors';
import { git, gitVersion, GitCommandError, parseGitVersion } from './git.js';
import { ensureMirror } from './mirror.js';
import { readCommitAt } from './commit.js';
import { chooseRebaseStrategy, mergeTreeArgs, parseMergeTreeOutput, rebasePatch, type RebaseResult } from './rebase.js';
import { cleanupTempDirs, commitFiles, makeRepo, sh, tempDir, TEST_ENV, type FileSpec, writeFiles } from '../../test-support/spec-helpers.js';

afterEach(cleanupTempDirs);

const bot = { name: 'Remediation Bot', email: 'bot@example.com' };
const date = new Date('2024-05-01T12:00:00Z');

const PACKAGE_JSON = [
  '{',
  '  "name": "app",',
  '  "version": "1.0.0",',
  '  "description": "demo",',
  '  "scripts": {',
  '    "test": "vitest"',
  '  },',
  '  "license": "MIT",',
  '  "private": true,',
  '  "dependencies": {',
  '    "express": "4.18.1",',
  '    "lodash": "4.17.20"',
  '  }',
  '}',
  '',
].join('\n');

const PATCH_MESSAGE = 'fix(deps): bump lodash to 4.17.21\n\nFixes GHSA-35jh-r3h4-6jhm.\n';

interface Scenario {
  mirrorPath: string;
  oldBase: string;
  newBase: string;
  patchCommit: string;
}

/**
 * Source repo: `initial` (oldBase) → patch on branch `patch` (author Dev, fixed dates) → base
 * changes on `main` (newBase); mirrored with ensureMirror (RAW_ATTRIBUTES in place).
 */
async function scenario(opts: {
  files?: Record<string, FileSpec>;
  patch: Record<string, FileSpec> | ((repo: string) => Promise<void>);
  base?: Record<string, FileSpec> | ((repo: string) => Promise<void>);
}): Promise<Scenario & { repo: string }> {
  const repo = await makeRepo(opts.files ?? { 'package.json': PACKAGE_JSON, 'README.md': 'readme\n', 'src/index.js': 'console.log(1);\n' });
  const oldBase = await sh(repo, 'rev-parse', 'HEAD');
  await sh(repo, 'checkout', '-q', '-b', 'patch');
  await applyStep(repo, opts.patch, PATCH_MESSAGE, {
    GIT_AUTHOR_NAME: 'Dev Eloper',
    GIT_AUTHOR_EMAIL: 'dev@example.com',
    GIT_AUTHOR_DATE: '1710000000 +0200',
  });
  const patchCommit = await sh(repo, 'rev-parse', 'HEAD');
  await sh(repo, 'checkout', '-q', 'main');
  if (opts.base !== undefined) await applyStep(repo, opts.base, 'upstream change', {});
  const newBase = await sh(repo, 'rev-parse', 'HEAD');
  const dataRoot = await tempDir('gg-data-');
  const { mirrorPath } = await ensureMirror({ dataRoot, repository: repo });
  return { repo, mirrorPath, oldBase, newBase, patchCommit };
}

async function applyStep(repo: string, step: Record<string, FileSpec> | ((repo: string) => Promise<void>), message: string, env: Record<string, string>): Promise<void> {
  if (typeof step === 'function') await step(repo);
  else await writeFiles(repo, step);
  await git(['add', '-A'], { cwd: repo, env: TEST_ENV });
  await git(['commit', '-q', '-F', '-'], { cwd: repo, env: { ...TEST_ENV, ...env }, input: message });
}

async function g(mirrorPath: string, ...args: string[]): Promise<string> {
  return (await git(args, { gitDir: mirrorPath })).stdout;
}

/** `+`/`-` lines of a diff (hunk contents without positions/context). */
function changedLines(diff: string): string[] {
  return diff.split('\n').filter((l) => /^[+-]/.test(l) && !/^(\+\+\+|---) /.test(l));
}

function expectRebased(result: RebaseResult): Extract<RebaseResult, { kind: 'rebased' }> {
  expect(result.kind).toBe('rebased');
  return result as Extract<RebaseResult, { kind: 'rebased' }>;
}

describe('rebasePatch (git 2.39 path: merge-tree --write-tree on a fast-forwarded base)', () => {
  it('rebases over unrelated base changes: parent newBase, identical diff, author and message kept', async () => {
    const s = await scenario({
      patch: { 'package.json': PACKAGE_JSON.replace('4.17.20', '4.17.21') },
      base: { 'README.md': 'readme v2\n', 'docs/guide.md': 'guide\n' },
    });
    const result = expectRebased(await rebasePatch({ ...s, author: bot, date }));
    expect(result.strategy).toBe('computed-merge-base');
    expect(result.reused).toBe(false);
    expect(result.changedPaths).toEqual(['package.json']);

    const [tree, parents] = (await g(s.mirrorPath, 'show', '-s', '--format=%T %P', result.sha)).split(' ');
    expect(tree).toBe(result.tree);
    expect(parents).toBe(s.newBase);
    // Same paths, same hunks: the PR diff is byte-identical to the original patch's diff.
    const original = await g(s.mirrorPath, 'diff', '--no-color', '--no-ext-diff', s.oldBase, s.patchCommit);
    const rebased = await g(s.mirrorPath, 'diff', '--no-color', '--no-ext-diff', s.newBase, result.sha);
    expect(rebased).toBe(original);
    expect(rebased).toContain('+    "lodash": "4.17.21"');
    // The base's changes are kept, not reverted.
    expect(await g(s.mirrorPath, 'show', `${result.sha}:README.md`)).toBe('readme v2');

    const fmt = '%an <%ae> %ad%n%cn <%ce> %cd%n%B';
    const meta = await g(s.mirrorPath, 'log', '-1', '--date=raw', `--format=${fmt}`, result.sha);
    expect(meta).toBe(`Dev Eloper <dev@example.com> 1710000000 +0200\nRemediation Bot <bot@example.com> ${date.getTime() / 1000} +0000\n${PATCH_MESSAGE}`);
    // Deterministic with a fixed date: a second run yields the same commit id.
    expect(expectRebased(await rebasePatch({ ...s, author: bot, date })).sha).toBe(result.sha);
  });

  it('keeps the original committer when no author is given', async () => {
    const s = await scenario({ patch: { 'package.json': PACKAGE_JSON.replace('4.17.20', '4.17.21') }, base: { 'README.md': 'x\n' } });
    const result = expectRebased(await rebasePatch({ ...s, date }));
    expect(await g(s.mirrorPath, 'log', '-1', '--format=%cn <%ce>', result.sha)).toBe('Test <test@example.com>');
  });

  it('reports a conflict listing package.json when the base changed the same lines', async () => {
    const s = await scenario({
      patch: { 'package.json': PACKAGE_JSON.replace('4.17.20', '4.17.21') },
      base: { 'package.json': PACKAGE_JSON.replace('4.17.20', '4.17.19'), 'README.md': 'other\n' },
    });
    const ref = 'refs/remediations/rem-1/exec-1/v2';
    const result = await rebasePatch({ ...s, author: bot, date, ref });
    expect(result.kind).toBe('conflict');
    if (result.kind !== 'conflict') return;
    expect(result.paths).toEqual(['package.json']);
    expect(result.details.reason).toBe('merge-conflict');
    expect(result.details.strategy).toBe('computed-merge-base');
    expect(result.details.messages.some((m) => m.type === 'CONFLICT (contents)' && m.paths.includes('package.json'))).toBe(true);
    // No commit is anchored for a conflict.
    expect(await readCommitAt(s.mirrorPath, ref)).toBeNull();
  });

  it('merges cleanly when the base changed other lines of the same file', async () => {
    const s = await scenario({
      patch: { 'package.json': PACKAGE_JSON.replace('4.17.20', '4.17.21') },
      base: { 'package.json': PACKAGE_JSON.replace('"version": "1.0.0"', '"version": "1.1.0"') },
    });
    const result = expectRebased(await rebasePatch({ ...s, author: bot, date }));
    expect(result.changedPaths).toEqual(['package.json']);
    const merged = await g(s.mirrorPath, 'show', `${result.sha}:package.json`);
    expect(merged).toContain('"version": "1.1.0"');
    expect(merged).toContain('"lodash": "4.17.21"');
    const original = await g(s.mirrorPath, 'diff', '--no-color', s.oldBase, s.patchCommit);
    const rebased = await g(s.mirrorPath, 'diff', '--no-color', s.newBase, result.sha);
    expect(changedLines(rebased)).toEqual(changedLines(original));
    expect(changedLines(rebased)).toEqual(['-    "lodash": "4.17.20"', '+    "lodash": "4.17.21"']);
  });

  it('returns up-to-date when the base has not moved or the patch already sits on newBase', async () => {
    const s = await scenario({ patch: { 'package.json': PACKAGE_JSON.replace('4.17.20', '4.17.21') } });
    expect(s.newBase).toBe(s.oldBase);
    expect(await rebasePatch({ ...s })).toEqual({ kind: 'up-to-date', sha: s.patchCommit });
    // Branch names resolve too; parent already is newBase (oldBase given as something older).
    const older = await scenario({ patch: { 'package.json': 'x\n' } });
    expect(await rebasePatch({ mirrorPath: older.mirrorPath, patchCommit: 'patch', oldBase: 'main', newBase: older.oldBase })).toEqual({
      kind: 'up-to-date',
      sha: older.patchCommit,
    });
  });

  it('returns rewritten (no merge) when newBase does not descend from oldBase (amended commit)', async () => {
    const repo = await makeRepo({ 'package.json': PACKAGE_JSON, 'README.md': 'r\n' });
    const oldBase = await commitFiles(repo, { 'README.md': 'r2\n' }, 'base tip');
    await sh(repo, 'checkout', '-q', '-b', 'patch');
    const patchCommit = await commitFiles(repo, { 'package.json': PACKAGE_JSON.replace('4.17.20', '4.17.21') }, 'patch');
    await sh(repo, 'checkout', '-q', 'main');
    await git(['commit', '-q', '--amend', '-m', 'base tip (amended)'], { cwd: repo, env: { ...TEST_ENV, GIT_COMMITTER_DATE: '1700000100 +0000' } });
    const newBase = await sh(repo, 'rev-parse', 'HEAD');
    const { mirrorPath } = await ensureMirror({ dataRoot: await tempDir('gg-data-'), repository: repo });
    const result = await rebasePatch({ mirrorPath, patchCommit, oldBase, newBase, author: bot, date, ref: 'refs/remediations/r/e/v2' });
    expect(result.kind).toBe('rewritten');
    if (result.kind === 'rewritten') expect(result.reason).toMatch(/not an ancestor/);
    expect(await readCommitAt(mirrorPath, 'refs/remediations/r/e/v2')).toBeNull();
  });

  it('carries added/deleted files, an exec-bit change and a symlink exactly', async () => {
    const s = await scenario({
      files: { 'package.json': PACKAGE_JSON, 'old.txt': 'old\n', 'scripts/run.sh': '#!/bin/sh\necho hi\n', 'README.md': 'r\n' },
      patch: async (repo) => {
        await rm(join(repo, 'old.txt'));
        await chmod(join(repo, 'scripts/run.sh'), 0o755);
        await writeFiles(repo, { 'new/added.txt': 'added\n', 'latest': { symlink: 'new/added.txt' } });
      },
      base: { 'README.md': 'r2\n', 'other/file.txt': 'o\n' },
    });
    const result = expectRebased(await rebasePatch({ ...s, author: bot, date }));
    expect(result.changedPaths).toEqual(['latest', 'new/added.txt', 'old.txt', 'scripts/run.sh']);
    const raw = (a: string, b: string) => g(s.mirrorPath, 'diff-tree', '-r', '--no-renames', '--raw', a, b);
    const original = await raw(s.oldBase, s.patchCommit);
    expect(original).toContain(':100644 100755');
    expect(original).toMatch(/:000000 120000 .*\tlatest/);
    expect(await raw(s.newBase, result.sha)).toBe(original);
  });

  it('refuses a clean merge that changes other paths than the patch (rename on the base)', async () => {
    const config = Array.from({ length: 30 }, (_, i) => `line ${i}`).join('\n') + '\n';
    const s = await scenario({
      files: { 'config.txt': config, 'README.md': 'r\n' },
      patch: { 'config.txt': config.replace('line 5\n', 'line five\n') },
      base: async (repo) => {
        await sh(repo, 'mv', 'config.txt', 'settings.txt');
      },
    });
    const result = await rebasePatch({ ...s, author: bot, date });
    expect(result.kind).toBe('conflict');
    if (result.kind !== 'conflict') return;
    expect(result.details.reason).toBe('paths-mismatch');
    expect(result.details.extraPaths).toEqual(['settings.txt']);
    expect(result.details.missingPaths).toEqual(['config.txt']);
    expect(result.paths).toEqual(['config.txt', 'settings.txt']);
  });

  it('reports already-applied when the base already contains the same change', async () => {
    const bumped = PACKAGE_JSON.replace('4.17.20', '4.17.21');
    const s = await scenario({ patch: { 'package.json': bumped }, base: { 'package.json': bumped, 'README.md': 'r2\n' } });
    const result = await rebasePatch({ ...s, author: bot, date });
    expect(result.kind).toBe('conflict');
    if (result.kind !== 'conflict') return;
    expect(result.details.reason).toBe('already-applied');
    expect(result.paths).toEqual(['package.json']);
  });

  it('anchors the commit with a new ref and is idempotent on retry', async () => {
    const s = await scenario({ patch: { 'package.json': PACKAGE_JSON.replace('4.17.20', '4.17.21') }, base: { 'README.md': 'r2\n' } });
    const ref = 'refs/remediations/rem-1/exec-1/v2';
    const first = expectRebased(await rebasePatch({ ...s, author: bot, ref }));
    expect((await readCommitAt(s.mirrorPath, ref))?.sha).toBe(first.sha);
    // A retry (different committer date → would be a different id) returns the anchored commit.
    const retry = expectRebased(await rebasePatch({ ...s, author: bot, ref, date: new Date('2030-01-01T00:00:00Z') }));
    expect(retry).toMatchObject({ sha: first.sha, tree: first.tree, reused: true });
    expect((await readCommitAt(s.mirrorPath, ref))?.sha).toBe(first.sha);
    // The ref pointing elsewhere is a conflict, never overwritten.
    await g(s.mirrorPath, 'update-ref', 'refs/remediations/rem-1/exec-1/v3', s.newBase);
    const err = await rebasePatch({ ...s, ref: 'refs/remediations/rem-1/exec-1/v3' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidInputError);
    expect((err as InvalidInputError).code).toBe('REF_CONFLICT');
    expect((await readCommitAt(s.mirrorPath, 'refs/remediations/rem-1/exec-1/v3'))?.sha).toBe(s.newBase);
    // An invalid ref is bad input.
    const bad = await rebasePatch({ ...s, ref: 'heads/no spaces' }).catch((e: unknown) => e);
    expect((bad as InvalidInputError).code).toBe('REBASE_INVALID_INPUT');
  });

  it('throws REBASE_INVALID_INPUT naming an unknown or non-commit input', async () => {
    const s = await scenario({ patch: { 'package.json': 'x\n' }, base: { 'README.md': 'r2\n' } });
    const unknown = 'deadbeef'.repeat(5);
    const cases: Array<[Partial<Scenario>, string, string]> = [
      [{ patchCommit: unknown }, 'patchCommit', unknown],
      [{ newBase: 'no-such-branch' }, 'newBase', 'no-such-branch'],
      [{ oldBase: await g(s.mirrorPath, 'rev-parse', `${s.oldBase}^{tree}`) }, 'oldBase', ''],
      [{ oldBase: '--output=/tmp/x' }, 'oldBase', '--output=/tmp/x'],
      [{ oldBase: s.newBase }, 'oldBase', s.newBase], // not the patch's parent
    ];
    for (const [override, field, named] of cases) {
      const err = await rebasePatch({ ...s, ...override }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidInputError);
      const e = err as InvalidInputError;
      expect(e.code).toBe('REBASE_INVALID_INPUT');
      expect(e.retryable).toBe(false);
      expect(e.details?.['field']).toBe(field);
      if (named !== '') expect(e.message).toContain(named);
    }
    // A merge commit is not a single-commit patch.
    await sh(s.repo, 'merge', '-q', '--no-ff', '-m', 'merge', 'patch');
    const merge = await sh(s.repo, 'rev-parse', 'HEAD');
    await git(['fetch', '-q', s.repo, '+refs/heads/*:refs/heads/*'], { gitDir: s.mirrorPath });
    const err = await rebasePatch({ ...s, patchCommit: merge }).catch((e: unknown) => e);
    expect((err as InvalidInputError).code).toBe('REBASE_INVALID_INPUT');
    expect((err as InvalidInputError).message).toMatch(/2 parents/);
  });

  it('surfaces git failures as GitCommandError (aborted)', async () => {
    const s = await scenario({ patch: { 'package.json': 'x\n' }, base: { 'README.md': 'r2\n' } });
    const controller = new AbortController();
    controller.abort();
    const err = await rebasePatch({ ...s, signal: controller.signal }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GitCommandError);
    expect((err as GitCommandError).code).toBe('GIT_ABORTED');
  });
});

describe('rebase strategy selection (git >= 2.40: merge-tree --merge-base)', () => {
  it('chooses the explicit merge base from 2.40 on', () => {
    expect(chooseRebaseStrategy(parseGitVersion('git version 2.39.5'))).toBe('computed-merge-base');
    expect(chooseRebaseStrategy(parseGitVersion('git version 2.38.1'))).toBe('computed-merge-base');
    expect(chooseRebaseStrategy(parseGitVersion('git version 2.40.0'))).toBe('explicit-merge-base');
    expect(chooseRebaseStrategy(parseGitVersion('git version 2.45.1.windows.1'))).toBe('explicit-merge-base');
    expect(chooseRebaseStrategy(parseGitVersion('git version 3.0.0'))).toBe('explicit-merge-base');
    const commits = { oldBase: 'o'.repeat(40), newBase: 'n'.repeat(40), patchCommit: 'p'.repeat(40) };
    expect(mergeTreeArgs('explicit-merge-base', commits)).toEqual([
      'merge-tree', '--write-tree', '-z', '--name-only', '--messages', `--merge-base=${commits.oldBase}`, commits.newBase, commits.patchCommit,
    ]);
    expect(mergeTreeArgs('computed-merge-base', commits)).toEqual(['merge-tree', '--write-tree', '-z', '--name-only', '--messages', commits.newBase, commits.patchCommit]);
  });

  it('with an injected >= 2.40 version, merges with --merge-base even for rewritten history', async () => {
    const repo = await makeRepo({ 'package.json': PACKAGE_JSON, 'README.md': 'r\n' });
    const oldBase = await commitFiles(repo, { 'README.md': 'r2\n' }, 'base tip');
    await sh(repo, 'checkout', '-q', '-b', 'patch');
    const patchCommit = await commitFiles(repo, { 'package.json': PACKAGE_JSON.replace('4.17.20', '4.17.21') }, 'patch');
    await sh(repo, 'checkout', '-q', 'main');
    await git(['commit', '-q', '--amend', '-m', 'amended'], { cwd: repo, env: { ...TEST_ENV, GIT_COMMITTER_DATE: '1700000100 +0000' } });
    const newBase = await sh(repo, 'rev-parse', 'HEAD');
    const { mirrorPath } = await ensureMirror({ dataRoot: await tempDir('gg-data-'), repository: repo });
    const input = { mirrorPath, patchCommit, oldBase, newBase, author: bot, date };
    // Injected 2.39 → rewritten, no merge attempted.
    expect((await rebasePatch({ ...input, gitVersion: { supportsMergeBase: false } })).kind).toBe('rewritten');
    const installed = await gitVersion();
    const attempt = rebasePatch({ ...input, gitVersion: { supportsMergeBase: true } });
    if (installed.supportsMergeBase) {
      const result = expectRebased(await attempt);
      expect(result.strategy).toBe('explicit-merge-base');
      expect(result.changedPaths).toEqual(['package.json']);
    } else {
      // This machine's git (2.39) rejects the option: proof that the >= 2.40 command was chosen.
      const err = await attempt.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(GitCommandError);
      expect((err as GitCommandError).git.args).toContain(`--merge-base=${oldBase}`);
      expect((err as GitCommandError).git.stderr).toMatch(/unknown option .merge-base/);
    }
  });
});

describe('parseMergeTreeOutput', () => {
  it('parses tree, conflicted files and message records (-z --name-only --messages)', () => {
    const tree = 'a'.repeat(40);
    const out =
      `${tree}\0package.json\0src/new.js\0\0` +
      '1\0package.json\0Auto-merging\0Auto-merging package.json\n\0' +
      '1\0package.json\0CONFLICT (contents)\0CONFLICT (content): Merge conflict in package.json\n\0' +
      '2\0src/new.js\0lib/new.js\0CONFLICT (directory rename suggested)\0CONFLICT (file location): lib/new.js added\n\0';
    const parsed = parseMergeTreeOutput(out, true);
    expect(parsed.tree).toBe(tree);
    expect(parsed.conflictedPaths).toEqual(['package.json', 'src/new.js']);
    expect(parsed.messages).toEqual([
      { type: 'Auto-merging', paths: ['package.json'], message: 'Auto-merging package.json' },
      { type: 'CONFLICT (contents)', paths: ['package.json'], message: 'CONFLICT (content): Merge conflict in package.json' },
      { type: 'CONFLICT (directory rename suggested)', paths: ['src/new.js', 'lib/new.js'], message: 'CONFLICT (file location): lib/new.js added' },
    ]);
    expect(parseMergeTreeOutput(`${tree}\0`, false)).toEqual({ tree, conflictedPaths: [], messages: [] });
    expect(parseMergeTreeOutput(`${tree}\0\x001\0a.txt\0Auto-merging\0Auto-merging a.txt\n\0`, false).messages).toHaveLength(1);
  });
});
