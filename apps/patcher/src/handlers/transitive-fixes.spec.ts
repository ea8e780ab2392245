import { mkdir, mkdtemp, readFile, rm, writeFile, cp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PlannerOutput, TransitiveFixOption } from '@remediation/contracts';
import { SnapshotDirectorySource } from '@remediation/registry';
import { npmCiDryRun } from '@remediation/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { type LockfileRegistry, addLockfileNotes, syncLockfiles } from './lockfile-edits.js';
import { applyManifestBumps, type EditTarget, proveTargets, restoreUnshipped } from './manifest-edits.js';

// nodejs-goof's real package.json and package-lock.json, and trimmed real packuments (cookie 0.4.2,
// 0.7.2, 2.0.2; express-session 1.18.1, 1.19.0; cookie-signature): libs/lockfiles/src/__fixtures__/PROVENANCE.md.
const LOCKFILE_FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../../../../libs/lockfiles/src/__fixtures__');
const registry: LockfileRegistry = {
  npm: new SnapshotDirectorySource(join(LOCKFILE_FIXTURES, 'registry')),
  cargo: { indexRecord: () => Promise.reject(new Error('no Cargo index in this test')) },
};
/** GHSA-pxg6-pf52-xh8x (cookie, CVE-2024-47764): affected below 0.7.0, as the plan carries it. */
const plan = { targets: [], transitive: [{ name: 'cookie', version: '0.4.1', affectedRanges: ['<0.7.0'] }] } as unknown as PlannerOutput;

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function goof(): Promise<{ lower: string; merged: string; pkg: string; lock: string }> {
  const root = await mkdtemp(join(tmpdir(), 'patcher-transitive-'));
  dirs.push(root);
  const pkg = await readFile(join(LOCKFILE_FIXTURES, 'nodejs-goof/package.json'), 'utf8');
  const lock = await readFile(join(LOCKFILE_FIXTURES, 'nodejs-goof/package-lock.json'), 'utf8');
  const lower = join(root, 'lower');
  await mkdir(lower, { recursive: true });
  await writeFile(join(lower, 'package.json'), pkg);
  await writeFile(join(lower, 'package-lock.json'), lock);
  await cp(lower, join(root, 'merged'), { recursive: true });
  return { lower, merged: join(root, 'merged'), pkg, lock };
}

const target = (fix: Omit<TransitiveFixOption, 'jump' | 'breakingChangeRisk' | 'notes'>): EditTarget => ({
  name: 'cookie',
  manifestPath: 'package.json',
  fromVersion: fix.from,
  toVersion: fix.to,
  status: 'pending',
  needsAgent: false,
  fix: { ...fix, jump: 'minor', breakingChangeRisk: 'low', notes: [] },
});

/** The editing step as patch-apply runs it: edits, lockfile sync, proof. */
async function patch(ws: { lower: string; merged: string }, targets: EditTarget[]) {
  const outcomes = await applyManifestBumps({ lowerDir: ws.lower, mergedDir: ws.merged, targets, plan, agentConfigured: false, heartbeat: () => {} });
  const synced = await syncLockfiles({ lowerDir: ws.lower, mergedDir: ws.merged, targets, outcomes, registry, heartbeat: () => {} });
  addLockfileNotes(outcomes, synced);
  const proofs = await proveTargets({ mergedDir: ws.merged, targets, plan, lockfiles: new Map([...synced].map(([n, s]) => [n, s.lockfiles])) });
  return { outcomes, proofs, pkg: await readFile(join(ws.merged, 'package.json'), 'utf8'), lock: await readFile(join(ws.merged, 'package-lock.json'), 'utf8') };
}

const cookies = (text: string) =>
  Object.fromEntries(Object.entries(JSON.parse(text).packages as Record<string, { version: string }>).filter(([k]) => /(^|\/)node_modules\/cookie$/.test(k)).map(([k, v]) => [k, v.version]));

describe('transitive fixes on nodejs-goof (cookie 0.1.2 under express, 0.4.1 under express-session)', () => {
  it('override: package.json gains "overrides", every locked cookie moves, the proof covers each; npm ci accepts the pair', async () => {
    const ws = await goof();
    const r = await patch(ws, [target({ kind: 'override', name: 'cookie', from: '0.4.1', to: '0.7.2', path: [] })]);
    expect(r.outcomes).toEqual([expect.objectContaining({ name: 'cookie', status: 'success', declaredFrom: null, declaredTo: '0.7.2' })]);
    expect(r.outcomes[0]!.reason).toContain('override cookie → 0.7.2 (fixes transitive cookie); package-lock.json updated: override cookie → 0.7.2 (node_modules/cookie, node_modules/express-session/node_modules/cookie)');
    expect(JSON.parse(r.pkg)).toEqual({ ...JSON.parse(ws.pkg), overrides: { cookie: '0.7.2' } });
    expect(cookies(r.lock)).toEqual({ 'node_modules/cookie': '0.7.2', 'node_modules/express-session/node_modules/cookie': '0.7.2' });
    expect(r.proofs[0]).toMatchObject({ target: 'cookie', remediated: true, declared: ['overrides: 0.7.2'], lockfiles: ['package-lock.json'] });
    expect(r.proofs[0]!.locked).toHaveLength(1);
    expect(r.proofs[0]!.locked![0]).toMatch(/^package-lock\.json 0\.7\.2: /);
    const ok = await npmCiDryRun(r.pkg, r.lock);
    expect(ok.exitCode, ok.output).toBe(0);
  }, 120_000);

  it('parent bump: express-session moves to 1.18.1 in package.json and the lock, which resolves its cookie 0.7.2; express\'s cookie is not this fix\'s', async () => {
    const ws = await goof();
    const r = await patch(ws, [target({ kind: 'parent_bump', name: 'express-session', from: '1.17.2', to: '1.18.1', path: ['express-session', 'cookie'] })]);
    expect(r.outcomes[0]).toMatchObject({ status: 'success', declaredFrom: '^1.17.2', declaredTo: '^1.18.1' });
    expect(r.outcomes[0]!.reason).toContain('parent bump express-session 1.17.2 → 1.18.1 (fixes transitive cookie via express-session → cookie)');
    expect(r.pkg).toBe(ws.pkg.replace('"express-session": "^1.17.2"', '"express-session": "^1.18.1"'));
    expect(cookies(r.lock)).toEqual({ 'node_modules/cookie': '0.1.2', 'node_modules/express-session/node_modules/cookie': '0.7.2' });
    expect(r.proofs[0]).toMatchObject({ remediated: true, declared: ['dependencies: ^1.18.1'], lockfiles: ['package-lock.json'] });
    expect(r.proofs[0]!.locked).toHaveLength(1);
    expect(r.proofs[0]!.locked![0]).toMatch(/^package-lock\.json 0\.7\.2: /);
    const ok = await npmCiDryRun(r.pkg, r.lock);
    expect(ok.exitCode, ok.output).toBe(0);
  }, 120_000);

  it('a lockfile update a parent excludes leaves the lock, says which command it needs and fails the proof', async () => {
    const ws = await goof();
    const r = await patch(ws, [target({ kind: 'lockfile_update', name: 'cookie', from: '0.4.1', to: '0.4.2', path: [] })]);
    expect(r.outcomes[0]!.reason).toContain('lockfile needs `npm install`: lockfile update cookie 0.4.1 → 0.4.2: node_modules/express-session requires cookie 0.4.1');
    expect(r.lock).toBe(ws.lock);
    expect(r.pkg).toBe(ws.pkg);
    expect(r.proofs[0]).toMatchObject({ remediated: false });
    expect(r.proofs[0]!.reason).toContain('no lockfile was updated');
  });

  it('a fix that does not ship is put back in package.json', async () => {
    const ws = await goof();
    const t = target({ kind: 'override', name: 'cookie', from: '0.4.1', to: '0.7.2', path: [] });
    await applyManifestBumps({ lowerDir: ws.lower, mergedDir: ws.merged, targets: [t], plan, agentConfigured: false, heartbeat: () => {} });
    expect(await readFile(join(ws.merged, 'package.json'), 'utf8')).not.toBe(ws.pkg);
    expect(await restoreUnshipped({ lowerDir: ws.lower, mergedDir: ws.merged, targets: [t], shipped: new Set() })).toEqual(['cookie']);
    expect(await readFile(join(ws.merged, 'package.json'), 'utf8')).toBe(ws.pkg);
  });
});
