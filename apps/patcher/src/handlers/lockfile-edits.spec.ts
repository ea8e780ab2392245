import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PlannerOutput } from '@remediation/contracts';
import { CargoSparseIndexSource, cargoEcosystem, goEcosystem, npmEcosystem, pypiEcosystem } from '@remediation/ecosystems';
import { readLockfile, updateCargoLockfile } from '@remediation/lockfiles';
import { SnapshotDirectorySource } from '@remediation/registry';
import { changedLines, npmCiDryRun } from '@remediation/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type LockfileRegistry, addLockfileNotes, lockfileCommand, lockfileOf, syncLockfiles } from './lockfile-edits.js';
import { applyManifestBumps, type EditTarget, proveTargets } from './manifest-edits.js';

const LOCKFILE_FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../../../../libs/lockfiles/src/__fixtures__');
const CARGO_FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../../../../libs/ecosystems/src/cargo/__fixtures__');
const fixture = (path: string) => readFile(join(LOCKFILE_FIXTURES, path), 'utf8');

function planOf(targets: Array<{ name: string; ecosystem: string; ranges: string[] }>): PlannerOutput {
  return { targets: targets.map((t) => ({ name: t.name, ecosystem: t.ecosystem, advisories: [{ affectedRanges: t.ranges }] })) } as unknown as PlannerOutput;
}

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

/** A workspace: `lower` (the base snapshot) holding `files`, and `merged` a copy of it (as the overlay starts). */
async function workspace(files: Record<string, string>): Promise<{ lower: string; merged: string }> {
  const root = await mkdtemp(join(tmpdir(), 'patcher-locks-'));
  dirs.push(root);
  const lower = join(root, 'lower');
  const merged = join(root, 'merged');
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(lower, path)), { recursive: true });
    await writeFile(join(lower, path), text);
  }
  await cp(lower, merged, { recursive: true });
  return { lower, merged };
}

/** The patcher's editing step as patch-apply runs it: bumps, lockfile sync, proof. */
async function patch(ws: { lower: string; merged: string }, targets: EditTarget[], plan: PlannerOutput, registry: LockfileRegistry | null) {
  const outcomes = await applyManifestBumps({ lowerDir: ws.lower, mergedDir: ws.merged, targets, plan, agentConfigured: true, heartbeat: () => {} });
  const synced = await syncLockfiles({ lowerDir: ws.lower, mergedDir: ws.merged, targets, outcomes, registry, heartbeat: () => {} });
  addLockfileNotes(outcomes, synced);
  const proofs = await proveTargets({ mergedDir: ws.merged, targets, plan, lockfiles: new Map([...synced].map(([n, s]) => [n, s.lockfiles])) });
  return { outcomes, synced, proofs };
}

/** Lines that differ, `[before, after]`. */
const changed = (before: string, after: string) => changedLines(before, after).map(([, b, a]): [string, string] => [b, a]);

// npm packuments of the trimmed registry snapshot, read by the real snapshot source.
const npmRegistry: LockfileRegistry = {
  npm: new SnapshotDirectorySource(join(LOCKFILE_FIXTURES, 'registry')),
  cargo: { indexRecord: () => Promise.reject(new Error('no Cargo index in this test')) },
};

describe('lockfile kept in step with npm direct bumps (nodejs-goof, real package.json and package-lock.json)', () => {
  const npmTarget = (name: string, fromVersion: string, toVersion: string): EditTarget => ({ name, ecosystem: 'npm', manifestPath: 'package.json', fromVersion, toVersion, status: 'pending', needsAgent: false });

  it('adm-zip 0.4.7 → 0.4.11: package.json and package-lock.json change together, npm ci accepts the result', async () => {
    const pkg = await fixture('nodejs-goof/package.json');
    const lock = await fixture('nodejs-goof/package-lock.json');
    const ws = await workspace({ 'package.json': pkg, 'package-lock.json': lock });
    const { outcomes, proofs } = await patch(ws, [npmTarget('adm-zip', '0.4.7', '0.4.11')], planOf([{ name: 'adm-zip', ecosystem: 'npm', ranges: ['<0.4.11'] }]), npmRegistry);
    expect(outcomes).toMatchObject([{ name: 'adm-zip', status: 'success', declaredFrom: '0.4.7', declaredTo: '0.4.11' }]);
    expect(outcomes[0]!.reason).toContain('package-lock.json updated: adm-zip 0.4.7 → 0.4.11');
    const pkgAfter = await readFile(join(ws.merged, 'package.json'), 'utf8');
    const lockAfter = await readFile(join(ws.merged, 'package-lock.json'), 'utf8');
    expect(changed(pkg, pkgAfter)).toEqual([['    "adm-zip": "0.4.7",', '    "adm-zip": "0.4.11",']]);
    // The root requirement, then the entry in `packages` and in the legacy mirror: nothing else.
    expect(changed(lock, lockAfter).map(([before, after]) => [before.trim(), after.trim()])).toEqual([
      ['"adm-zip": "0.4.7",', '"adm-zip": "0.4.11",'],
      ['"version": "0.4.7",', '"version": "0.4.11",'],
      ['"resolved": "https://npm-registry.invalid/adm-zip/-/adm-zip-0.4.7.tgz",', '"resolved": "https://npm-registry.invalid/adm-zip/-/adm-zip-0.4.11.tgz",'],
      [expect.stringMatching(/^"integrity": "sha1-/), expect.stringMatching(/^"integrity": "sha512-L8vcjDTCOIJk7wFvmlEUN7AsSb8T\+2JrdP7KINBjzr24TJ5Mwj590sLu3BC7zNZowvJWa\/JtPmD8eJCzdtDWjA==",?$/)],
      ['"version": "0.4.7",', '"version": "0.4.11",'],
      ['"resolved": "https://npm-registry.invalid/adm-zip/-/adm-zip-0.4.7.tgz",', '"resolved": "https://npm-registry.invalid/adm-zip/-/adm-zip-0.4.11.tgz",'],
      [expect.stringMatching(/^"integrity": "sha1-/), expect.stringMatching(/^"integrity": "sha512-L8vcjDTCOIJk7wFvmlEUN7AsSb8T\+2JrdP7KINBjzr24TJ5Mwj590sLu3BC7zNZowvJWa\/JtPmD8eJCzdtDWjA==",?$/)],
    ]);
    // The proof reads the updated lock: the only locked adm-zip is 0.4.11; the commit may touch the lockfile.
    expect(proofs).toMatchObject([{ target: 'adm-zip', remediated: true, lockfiles: ['package-lock.json'], locked: [expect.stringMatching(/^package-lock\.json 0\.4\.11: /)] }]);
    const ci = await npmCiDryRun(pkgAfter, lockAfter);
    expect(ci.output).toMatch(/added \d+ packages/);
    expect(ci.exitCode).toBe(0);
    // The control: the bumped package.json with the old lock is out of sync.
    expect((await npmCiDryRun(pkgAfter, lock)).exitCode).not.toBe(0);
  }, 180_000);

  it('express-session 1.17.2 → 1.18.1 resolves the cookie 0.7.2 and cookie-signature 1.0.7 it needs; npm ci accepts the result', async () => {
    const pkg = await fixture('nodejs-goof/package.json');
    const lock = await fixture('nodejs-goof/package-lock.json');
    const ws = await workspace({ 'package.json': pkg, 'package-lock.json': lock });
    const { outcomes, proofs } = await patch(ws, [npmTarget('express-session', '1.17.2', '1.18.1')], planOf([{ name: 'express-session', ecosystem: 'npm', ranges: ['<1.18.1'] }]), npmRegistry);
    expect(outcomes).toMatchObject([{ name: 'express-session', status: 'success', declaredFrom: '^1.17.2', declaredTo: '^1.18.1' }]);
    expect(outcomes[0]!.reason).toContain(
      'package-lock.json updated: express-session 1.17.2 → 1.18.1; cookie-signature@1.0.7 moved at node_modules/cookie-signature; cookie@0.7.2 moved at node_modules/express-session/node_modules/cookie',
    );
    const pkgAfter = await readFile(join(ws.merged, 'package.json'), 'utf8');
    const lockAfter = await readFile(join(ws.merged, 'package-lock.json'), 'utf8');
    const graph = readLockfile('package-lock.json', lockAfter);
    expect(graph.packages['node_modules/express-session/node_modules/cookie']?.version).toBe('0.7.2');
    expect(graph.root.dependencies.find((d) => d.name === 'express-session')).toMatchObject({ requirement: '^1.18.1', to: 'node_modules/express-session' });
    expect(proofs).toMatchObject([{ target: 'express-session', remediated: true, lockfiles: ['package-lock.json'] }]);
    const ci = await npmCiDryRun(pkgAfter, lockAfter);
    expect(ci.exitCode).toBe(0);
  }, 180_000);

  it('a yarn.lock, or a lock whose update is not possible, leaves the lockfile alone and the reason names the command', async () => {
    const pkg = await fixture('nodejs-goof/package.json');
    const yarn = await fixture('yarn-v1/yarn.lock');
    const ws = await workspace({ 'package.json': pkg, 'yarn.lock': yarn });
    const { outcomes, proofs } = await patch(ws, [npmTarget('adm-zip', '0.4.7', '0.4.11')], planOf([{ name: 'adm-zip', ecosystem: 'npm', ranges: ['<0.4.11'] }]), npmRegistry);
    expect(outcomes[0]!.reason).toBe('lockfile needs `yarn install`: yarn.lock (yarn-v1) is not updated in place yet');
    expect(await readFile(join(ws.merged, 'yarn.lock'), 'utf8')).toBe(yarn);
    expect(proofs[0]).not.toHaveProperty('lockfiles');

    // package-lock.json without registry access: unchanged, and the reason says so.
    const lock = await fixture('nodejs-goof/package-lock.json');
    const ws2 = await workspace({ 'package.json': pkg, 'package-lock.json': lock });
    const second = await patch(ws2, [npmTarget('adm-zip', '0.4.7', '0.4.11')], planOf([{ name: 'adm-zip', ecosystem: 'npm', ranges: ['<0.4.11'] }]), null);
    expect(second.outcomes[0]!.reason).toBe('lockfile needs `npm install`: the patcher has no registry access configured');
    expect(await readFile(join(ws2.merged, 'package-lock.json'), 'utf8')).toBe(lock);

    // A package.json in a sub-folder that the root's lock does not list as a workspace member: no lockfile governs it.
    const ws3 = await workspace({ 'package-lock.json': lock, 'tools/package.json': pkg });
    const third = await patch(ws3, [{ ...npmTarget('adm-zip', '0.4.7', '0.4.11'), manifestPath: 'tools/package.json' }], planOf([{ name: 'adm-zip', ecosystem: 'npm', ranges: ['<0.4.11'] }]), npmRegistry);
    expect(third.outcomes[0]).toMatchObject({ status: 'success', reason: null });
    expect(await readFile(join(ws3.merged, 'package-lock.json'), 'utf8')).toBe(lock);
  });
});

describe('lockfile kept in step with Cargo direct bumps (fd’s Cargo.toml and Cargo.lock)', () => {
  // The real crates.io index lines of regex, served over the sparse protocol to the real source.
  let server: Server;
  let indexUrl: string;
  beforeAll(async () => {
    const regexIndex = await fixture('registry/cargo-regex.index');
    server = createServer((req, res) => {
      if (req.url === '/re/ge/regex') res.writeHead(200, { 'content-type': 'text/plain' }).end(regexIndex);
      else res.writeHead(404).end();
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    indexUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((ok) => server.close(() => ok())));

  it('regex 1.11.1 → 1.11.2: Cargo.toml and Cargo.lock (version, checksum = the index cksum) change together, byte-exact elsewhere', async () => {
    const toml = (await readFile(join(CARGO_FIXTURES, 'fd/Cargo.toml'), 'utf8')).replace('regex = "1.11.2"', 'regex = "1.11.1"');
    const realLock = await fixture('cargo/Cargo.lock');
    // The repository state before fd's bump to 1.11.2: its lock with regex at 1.11.1 (record from the real index).
    const source = new CargoSparseIndexSource({ url: indexUrl, retries: 0 });
    const before = updateCargoLockfile({ file: 'Cargo.lock', text: realLock, name: 'regex', version: '1.11.1', record: await source.indexRecord('regex', '1.11.1') });
    if (before.status !== 'updated') throw new Error(before.status);
    const ws = await workspace({ 'Cargo.toml': toml, 'Cargo.lock': before.text });
    const target: EditTarget = { name: 'regex', ecosystem: 'cargo', manifestPath: 'Cargo.toml', fromVersion: '1.11.1', toVersion: '1.11.2', status: 'pending', needsAgent: false };
    const { outcomes, proofs } = await patch(ws, [target], planOf([{ name: 'regex', ecosystem: 'cargo', ranges: ['<1.11.2'] }]), { npm: npmRegistry.npm, cargo: source });
    expect(outcomes).toMatchObject([{ name: 'regex', status: 'success', reason: 'Cargo.lock updated: regex 1.11.1 → 1.11.2' }]);
    expect(changed(toml, await readFile(join(ws.merged, 'Cargo.toml'), 'utf8'))).toEqual([['regex = "1.11.1"', 'regex = "1.11.2"']]);
    // The lock is fd's real one again, byte for byte.
    expect(await readFile(join(ws.merged, 'Cargo.lock'), 'utf8')).toBe(realLock);
    expect(proofs).toMatchObject([{ target: 'regex', remediated: true, lockfiles: ['Cargo.lock'], locked: [expect.stringMatching(/^Cargo\.lock 1\.11\.2: /)] }]);
  });

  it('a version whose dependencies are not locked leaves Cargo.lock alone: the reason names cargo update', async () => {
    const toml = (await readFile(join(CARGO_FIXTURES, 'fd/Cargo.toml'), 'utf8')).replace('regex = "1.11.2"', 'regex = "1.5.4"');
    const lock = await fixture('cargo/Cargo.lock');
    const ws = await workspace({ 'Cargo.toml': toml, 'Cargo.lock': lock });
    const source = new CargoSparseIndexSource({ url: indexUrl, retries: 0 });
    const target: EditTarget = { name: 'regex', ecosystem: 'cargo', manifestPath: 'Cargo.toml', fromVersion: '1.5.4', toVersion: '1.5.5', status: 'pending', needsAgent: false };
    const { outcomes, proofs } = await patch(ws, [target], planOf([{ name: 'regex', ecosystem: 'cargo', ranges: ['<1.5.5'] }]), { npm: npmRegistry.npm, cargo: source });
    expect(outcomes[0]!.reason).toBe(
      'lockfile needs `cargo update -p regex`: regex 1.5.5 needs aho-corasick ^0.7.18 (locked: 1.1.3), regex-syntax ^0.6.25 (locked: 0.8.6)',
    );
    expect(await readFile(join(ws.merged, 'Cargo.lock'), 'utf8')).toBe(lock);
    // No lockfile was updated, so the proof is the manifest's only.
    expect(proofs[0]).not.toHaveProperty('locked');
  });
});

describe('which lockfile, and which command it needs', () => {
  it('names the ecosystem’s lockfile command of the lockfile’s tool (the crate filled in), else `<tool> install`', () => {
    expect(lockfileCommand(npmEcosystem, 'npm-package-lock', 'x')).toBe('npm install');
    expect(lockfileCommand(npmEcosystem, 'pnpm', 'x')).toBe('pnpm install');
    expect(lockfileCommand(pypiEcosystem, 'poetry', 'x')).toBe('poetry lock');
    expect(lockfileCommand(pypiEcosystem, 'uv', 'x')).toBe('uv lock');
    expect(lockfileCommand(cargoEcosystem, 'cargo', 'openssl')).toBe('cargo update -p openssl');
    expect(lockfileCommand(goEcosystem, 'go-sum', 'x')).toBe('go mod tidy');
  });

  it('finds the lockfile beside the manifest; for Cargo and npm also a workspace root’s above it', async () => {
    const ws = await workspace({ 'package.json': '{}', 'package-lock.json': '{}', 'web/package.json': '{}', 'Cargo.lock': '', 'crates/a/Cargo.toml': '', 'py/requirements.txt': '' });
    expect(await lockfileOf(ws.lower, 'package.json', 'npm')).toBe('package-lock.json');
    // A sub-folder's package.json may be a workspace member of the root's lock (the update checks it).
    expect(await lockfileOf(ws.lower, 'web/package.json', 'npm')).toBe('package-lock.json');
    expect(await lockfileOf(ws.lower, 'crates/a/Cargo.toml', 'cargo')).toBe('Cargo.lock');
    expect(await lockfileOf(ws.lower, 'py/requirements.txt', 'pypi')).toBeNull();
  });
});
