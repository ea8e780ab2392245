import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFileTools, executeTool, Workspace, writeRefusal, type AgentTool } from './index.js';

let base: string;
let root: string;
let outside: string;

async function put(rel: string, content: string | Buffer): Promise<void> {
  await mkdir(dirname(join(root, rel)), { recursive: true });
  await writeFile(join(root, rel), content);
}

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'agent-tools-'));
  root = join(base, 'ws');
  outside = join(base, 'outside');
  await mkdir(root);
  await mkdir(outside);
  await writeFile(join(outside, 'secret.txt'), 'top secret\n');
  await put('src/app.js', "const jwt = require('express-jwt');\napp.use(jwt({ secret: 'x' }));\n");
  await put('src/dup.js', 'a();\na();\n');
  await put('src/crlf.js', 'one();\r\ntwo();\r\n');
  await put('node_modules/express-jwt/index.js', 'module.exports = 1;\n');
  await symlink(outside, join(root, 'link-dir'));
  await symlink(join(outside, 'secret.txt'), join(root, 'link-file'));
  await symlink(join(outside, 'not-there.txt'), join(root, 'dangling'));
  await symlink(join(root, 'src/app.js'), join(root, 'inner-link.js'));
});
afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

async function tools(policy = {}): Promise<{ ws: Workspace; call: (name: string, input: unknown) => Promise<{ content: string; isError: boolean }> }> {
  const ws = await Workspace.open(root, { policy });
  const list = createFileTools(ws);
  const byName = new Map<string, AgentTool>(list.map((t) => [t.name, t]));
  return { ws, call: (name, input) => executeTool(byName.get(name)!, input, { toolUseId: 't' }) };
}

describe('Workspace jail', () => {
  it('refuses .. escapes, absolute paths outside, symlinks leaving the root and dangling symlinks', async () => {
    const ws = await Workspace.open(root);
    await expect(ws.resolve('../outside/secret.txt')).rejects.toThrow(/leaves the workspace/);
    await expect(ws.resolve('src/../../outside/secret.txt')).rejects.toThrow(/leaves the workspace/);
    await expect(ws.resolve(join(outside, 'secret.txt'))).rejects.toThrow(/absolute path outside the workspace/);
    await expect(ws.resolve('link-dir/secret.txt')).rejects.toThrow(/symlink .* outside the workspace/);
    await expect(ws.resolve('link-dir/new/deeper.txt')).rejects.toThrow(/symlink .* outside the workspace/);
    await expect(ws.resolve('link-file')).rejects.toThrow(/symlink .* outside the workspace/);
    await expect(ws.resolve('dangling')).rejects.toThrow(/dangling symlink/);
    const inner = await ws.resolve('inner-link.js');
    expect(inner.realRel).toBe('src/app.js');
    const abs = await ws.resolve(join(root, 'src/app.js'));
    expect(abs.rel).toBe('src/app.js');
    const fresh = await ws.resolve('src/new/dir/file.js');
    expect(fresh.exists).toBe(false);
    expect(fresh.rel).toBe('src/new/dir/file.js');
  });

  it('applies the edit policy to writes', () => {
    expect(writeRefusal('src/app.js')).toBeNull();
    expect(writeRefusal('src/app.spec.ts')).toMatch(/test file/);
    expect(writeRefusal('lib/foo.test.js')).toMatch(/test file/);
    expect(writeRefusal('test/helpers.js')).toMatch(/test directory/);
    expect(writeRefusal('src/__tests__/a.js')).toMatch(/test directory/);
    expect(writeRefusal('.github/workflows/ci.yml')).toMatch(/CI configuration/);
    expect(writeRefusal('.gitlab-ci.yml')).toMatch(/CI configuration/);
    expect(writeRefusal('.env.production')).toMatch(/environment/);
    expect(writeRefusal('package-lock.json')).toMatch(/lockfile/);
    expect(writeRefusal('packages/a/yarn.lock')).toMatch(/lockfile/);
    expect(writeRefusal('package.json')).toMatch(/bump_version/);
    expect(writeRefusal('package.json', {}, { viaBumpVersion: true })).toBeNull();
    expect(writeRefusal('.git/config')).toMatch(/\.git/);
    expect(writeRefusal('node_modules/x/index.js')).toMatch(/node_modules/);
    expect(writeRefusal('test/helpers.js', { allow: ['test/**'] })).toBeNull();
    expect(writeRefusal('.github/workflows/ci.yml', { allow: ['.github/**'] })).toBeNull();
    expect(writeRefusal('.git/config', { allow: ['**', '.git/**'] })).toMatch(/\.git/);
  });
});

describe('file tools', () => {
  it('read_file numbers lines, pages with offset/limit, refuses big and binary files and directories', async () => {
    const { call } = await tools();
    const read = await call('read_file', { path: 'src/app.js' });
    expect(read).toEqual({ isError: false, content: "     1\tconst jwt = require('express-jwt');\n     2\tapp.use(jwt({ secret: 'x' }));" });
    const paged = await call('read_file', { path: 'src/dup.js', offset: 2, limit: 1 });
    expect(paged.content).toBe('     2\ta();');
    await put('big.txt', 'x'.repeat(1024 * 1024 + 1));
    expect(await call('read_file', { path: 'big.txt' })).toMatchObject({ isError: true, content: expect.stringMatching(/over the 1048576-byte limit/) });
    await put('image.png', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x01]));
    expect(await call('read_file', { path: 'image.png' })).toMatchObject({ isError: true, content: expect.stringMatching(/binary/) });
    expect(await call('read_file', { path: 'src' })).toMatchObject({ isError: true, content: expect.stringMatching(/is a directory/) });
    expect(await call('read_file', { path: 'nope.js' })).toMatchObject({ isError: true, content: expect.stringMatching(/does not exist/) });
    expect(await call('read_file', { path: 'link-file' })).toMatchObject({ isError: true, content: expect.stringMatching(/outside the workspace/) });
    expect(await call('read_file', {})).toMatchObject({ isError: true, content: expect.stringMatching(/invalid input for read_file/) });
  });

  it('edit_file replaces exactly one occurrence, or all with replace_all, literally', async () => {
    const { call, ws } = await tools();
    expect(await call('edit_file', { path: 'src/dup.js', old_string: 'a();', new_string: 'b();' })).toMatchObject({
      isError: true,
      content: expect.stringMatching(/occurs 2 times/),
    });
    expect(await call('edit_file', { path: 'src/dup.js', old_string: 'zzz', new_string: 'b();' })).toMatchObject({ isError: true, content: expect.stringMatching(/not found/) });
    expect(await call('edit_file', { path: 'src/dup.js', old_string: 'a();', new_string: '$&$1', replace_all: true })).toEqual({ isError: false, content: 'edited src/dup.js: 2 replacements' });
    expect(await readFile(join(root, 'src/dup.js'), 'utf8')).toBe('$&$1\n$&$1\n');
    expect(await call('edit_file', { path: 'src/crlf.js', old_string: 'one();\ntwo();', new_string: 'one();\nthree();' })).toMatchObject({ isError: false });
    expect(await readFile(join(root, 'src/crlf.js'), 'utf8')).toBe('one();\r\nthree();\r\n');
    expect(ws.changedPaths()).toEqual(['src/crlf.js', 'src/dup.js']);
  });

  it('write_file creates files and refuses protected paths and writes through outside symlinks', async () => {
    const { call, ws } = await tools();
    expect(await call('write_file', { path: 'src/lib/new.js', content: 'x\n' })).toEqual({ isError: false, content: 'created src/lib/new.js (2 bytes)' });
    for (const path of ['src/app.spec.js', '.github/workflows/ci.yml', 'package.json', 'package-lock.json', '.env', 'link-file', 'link-dir/evil.txt', 'dangling', '../evil.txt']) {
      const r = await call('write_file', { path, content: 'pwned' });
      expect(r.isError, path).toBe(true);
      expect(r.content, path).toMatch(/^refused: /);
    }
    expect(await readFile(join(outside, 'secret.txt'), 'utf8')).toBe('top secret\n');
    await expect(readFile(join(outside, 'not-there.txt'))).rejects.toThrow();
    expect(ws.changedPaths()).toEqual(['src/lib/new.js']);
  });

  it('list_files and grep skip node_modules, hide escaping symlinks and bound their output', async () => {
    const { call } = await tools();
    const listed = await call('list_files', { pattern: '**/*.js' });
    expect(listed.content.split('\n')).toEqual(['inner-link.js', 'src/app.js', 'src/crlf.js', 'src/dup.js']);
    expect(await call('list_files', { pattern: '../**' })).toMatchObject({ isError: true, content: expect.stringMatching(/refused/) });
    expect(await call('list_files', { path: 'link-dir' })).toMatchObject({ isError: true, content: expect.stringMatching(/outside the workspace/) });
    const grep = await call('grep', { pattern: "require\\(['\"]express-jwt" });
    expect(grep.content.split('\n')).toEqual(["inner-link.js:1: const jwt = require('express-jwt');", "src/app.js:1: const jwt = require('express-jwt');"]);
    const limited = await call('grep', { pattern: 'a\\(\\)|\\(', max_results: 1 });
    expect(limited.content).toMatch(/results cut at 1/);
    expect(await call('grep', { pattern: '(' })).toMatchObject({ isError: true, content: expect.stringMatching(/invalid regular expression/) });
  });
});
