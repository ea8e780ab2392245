import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { closeLongLivedGit, hashFiles, longLivedProcessInfo, objectInfo, readCommitHeader, readObject, updateRefs } from './long-lived-git.js';

const env = { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.invalid', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.invalid' };
const git = (args: string[], cwd: string, input?: string) => execFileSync('git', args, { cwd, encoding: 'utf8', env, ...(input === undefined ? {} : { input }) }).trim();

let dir: string;
let bare: string;
let first: string;
let second: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gg-long-lived-'));
  const work = join(dir, 'work');
  git(['init', '-q', '-b', 'main', work], dir);
  await writeFile(join(work, 'a.txt'), 'one\n');
  git(['add', '.'], work);
  git(['commit', '-q', '-m', 'first'], work);
  first = git(['rev-parse', 'HEAD'], work);
  await writeFile(join(work, 'a.txt'), 'two\n');
  git(['commit', '-q', '-am', 'second'], work);
  second = git(['rev-parse', 'HEAD'], work);
  bare = join(dir, 'bare.git');
  git(['clone', '-q', '--bare', work, bare], dir);
});

afterEach(() => closeLongLivedGit());

afterAll(async () => {
  closeLongLivedGit();
  await rm(dir, { recursive: true, force: true });
});

describe('readObject / readCommitHeader (cat-file --batch-command)', () => {
  it('returns the bytes git cat-file gives, and null for missing names', async () => {
    const blob = await readObject(bare, `${second}:a.txt`);
    expect(blob?.type).toBe('blob');
    expect(blob?.content.toString()).toBe('two\n');
    expect(blob?.oid).toBe(git(['rev-parse', `${second}:a.txt`], bare));
    const commit = await readObject(bare, second);
    expect(commit?.content.toString()).toBe(git(['cat-file', 'commit', second], bare) + '\n');
    expect(await readObject(bare, 'refs/heads/nope')).toBeNull();
    expect(await readObject(bare, '0'.repeat(40))).toBeNull();
    expect(await objectInfo(bare, 'refs/heads/main')).toEqual({ oid: second, type: 'commit', size: commit!.size });
    // One process answered all of it.
    expect(longLivedProcessInfo('cat-file', bare)?.starts).toBe(1);
  });

  it('reads tree and parents as git show does', async () => {
    const header = await readCommitHeader(bare, 'refs/heads/main');
    expect(header).toEqual({ sha: second, tree: git(['rev-parse', `${second}^{tree}`], bare), parents: [first] });
    expect(await readCommitHeader(bare, first)).toMatchObject({ sha: first, parents: [] });
    // A tree is not a commit.
    expect(await readCommitHeader(bare, git(['rev-parse', `${second}^{tree}`], bare))).toBeNull();
  });

  it('sees refs moved, refs packed and objects written by other processes after it started', async () => {
    expect((await objectInfo(bare, 'refs/heads/main'))?.oid).toBe(second);
    git(['update-ref', 'refs/heads/main', first], bare);
    expect((await objectInfo(bare, 'refs/heads/main'))?.oid).toBe(first);
    git(['update-ref', 'refs/remediations/x', second], bare);
    git(['pack-refs', '--all'], bare);
    expect((await objectInfo(bare, 'refs/remediations/x'))?.oid).toBe(second);
    git(['update-ref', '-d', 'refs/remediations/x'], bare);
    expect(await objectInfo(bare, 'refs/remediations/x')).toBeNull();
    const fresh = git(['hash-object', '-w', '--stdin'], bare, 'written later\n');
    expect((await readObject(bare, fresh))?.content.toString()).toBe('written later\n');
    git(['update-ref', 'refs/heads/main', second], bare);
  });

  it('answers pipelined requests in order', async () => {
    const names = [second, first, 'refs/heads/nope', `${first}:a.txt`, `${second}:a.txt`];
    const answers = await Promise.all(names.map((n) => readObject(bare, n)));
    expect(answers.map((a) => a?.oid ?? null)).toEqual(names.map((n) => (n === 'refs/heads/nope' ? null : git(['rev-parse', n], bare))));
  });

  it('survives a killed child: the next request starts a new process', async () => {
    expect(await objectInfo(bare, second)).not.toBeNull();
    const before = longLivedProcessInfo('cat-file', bare)!;
    process.kill(before.pid!, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 100));
    expect((await objectInfo(bare, second))?.oid).toBe(second);
    const after = longLivedProcessInfo('cat-file', bare)!;
    expect(after.starts).toBe(before.starts + 1);
    expect(after.pid).not.toBe(before.pid);
  });

  it('kills a child that does not answer within the timeout and fails the request', async () => {
    await objectInfo(bare, second);
    const { pid } = longLivedProcessInfo('cat-file', bare)!;
    process.kill(pid!, 'SIGSTOP'); // hung
    await expect(objectInfo(bare, second, 300)).rejects.toMatchObject({ code: 'GIT_TIMEOUT' });
    expect((await objectInfo(bare, second))?.oid).toBe(second);
    expect(longLivedProcessInfo('cat-file', bare)!.pid).not.toBe(pid);
  });

  it('refuses names that would break the line protocol', async () => {
    await expect(readObject(bare, 'refs/heads/main\ninfo HEAD')).rejects.toMatchObject({ code: 'GIT_NAME_INVALID' });
  });
});

describe('hashFiles (hash-object --stdin-paths)', () => {
  it('writes blobs verbatim that other processes can read at once', async () => {
    const a = join(dir, 'h1.txt');
    const b = join(dir, 'h2.txt');
    await writeFile(a, 'alpha\r\n');
    await writeFile(b, 'beta\n');
    const oids = await hashFiles(bare, [a, b]);
    expect(oids).toEqual([git(['hash-object', '--no-filters', a], dir), git(['hash-object', '--no-filters', b], dir)]);
    expect(git(['cat-file', '-p', oids[0]!], bare)).toBe('alpha');
    expect(await hashFiles(bare, [b])).toEqual([oids[1]]);
    expect(longLivedProcessInfo('hash-object', bare)?.starts).toBe(1);
  });

  it('fails for an unreadable path, and the next request still works', async () => {
    await expect(hashFiles(bare, [join(dir, 'missing.txt')])).rejects.toMatchObject({ code: 'GIT_PROCESS_EXITED' });
    const ok = join(dir, 'h3.txt');
    await writeFile(ok, 'gamma\n');
    expect(await hashFiles(bare, [ok])).toEqual([git(['hash-object', '--no-filters', ok], dir)]);
  });
});

describe('updateRefs (update-ref --stdin transactions)', () => {
  it('creates, moves and deletes refs with compare-and-set, refusing a stale expectation', async () => {
    const ref = 'refs/remediations/t/checkpoint';
    expect(await updateRefs(bare, [{ op: 'create', ref, newSha: first }])).toEqual({ ok: true });
    expect(git(['rev-parse', ref], bare)).toBe(first);
    // Create when it exists: refused; the process is replaced and the ref unchanged.
    const refused = await updateRefs(bare, [{ op: 'create', ref, newSha: second }]);
    expect(refused.ok).toBe(false);
    expect(git(['rev-parse', ref], bare)).toBe(first);
    expect(await updateRefs(bare, [{ op: 'update', ref, newSha: second, oldSha: second }])).toMatchObject({ ok: false });
    expect(await updateRefs(bare, [{ op: 'update', ref, newSha: second, oldSha: first }])).toEqual({ ok: true });
    expect(git(['rev-parse', ref], bare)).toBe(second);
    expect(await updateRefs(bare, [{ op: 'delete', ref, oldSha: first }])).toMatchObject({ ok: false });
    expect(await updateRefs(bare, [{ op: 'delete', ref, oldSha: second }])).toEqual({ ok: true });
    expect(git(['for-each-ref', '--format=%(refname)', ref], bare)).toBe('');
  });

  it('runs concurrent transactions one at a time: a refused one does not fail the next', async () => {
    const results = await Promise.all([
      updateRefs(bare, [{ op: 'create', ref: 'refs/remediations/c/1', newSha: first }]),
      updateRefs(bare, [{ op: 'create', ref: 'refs/remediations/c/1', newSha: second }]),
      updateRefs(bare, [{ op: 'create', ref: 'refs/remediations/c/2', newSha: second }]),
      updateRefs(bare, [
        { op: 'create', ref: 'refs/remediations/c/3', newSha: first },
        { op: 'delete', ref: 'refs/remediations/c/absent', oldSha: first },
      ]),
    ]);
    expect(results.map((r) => r.ok)).toEqual([true, false, true, false]);
    expect(git(['rev-parse', 'refs/remediations/c/1', 'refs/remediations/c/2'], bare).split('\n')).toEqual([first, second]);
    // All or none: the refused transaction did not create c/3.
    expect(git(['for-each-ref', '--format=%(refname)', 'refs/remediations/c/3'], bare)).toBe('');
  });
});

describe('the pool', () => {
  it('closes the processes of a repository on request; they start again on use', async () => {
    await objectInfo(bare, second);
    const { pid } = longLivedProcessInfo('cat-file', bare)!;
    closeLongLivedGit(bare);
    expect(longLivedProcessInfo('cat-file', bare)).toBeNull();
    await new Promise((r) => setTimeout(r, 200));
    expect(() => process.kill(pid!, 0)).toThrow(); // exited on end of stdin
    expect((await objectInfo(bare, second))?.oid).toBe(second);
  });
});
