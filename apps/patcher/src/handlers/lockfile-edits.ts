import { readFile, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { TargetOutcome } from '@remediation/contracts';
import { type Ecosystem, ecosystemFor } from '@remediation/ecosystems';
import { describeError } from '@remediation/errors';
import { type LockfileKind, type NpmResolvingUpdateResult, detectLockfileKind, packumentVersion, readLockfile, updateCargoLockfile, updateNpmLockfileResolving } from '@remediation/lockfiles';
import type { PackumentSource } from '@remediation/registry';
import { type EditTarget, ecosystemOf } from './manifest-edits.js';
import { describeFix, lockfileMove } from './transitive-fixes.js';

/** Registry metadata the lockfile updates read: npm packuments and Cargo index records. */
export interface LockfileRegistry {
  npm: PackumentSource;
  cargo: { indexRecord(name: string, version: string): Promise<unknown> };
}

/** Lockfile names looked for per purl type, most specific first (npm-shrinkwrap.json wins over package-lock.json, as npm reads it). */
const LOCKFILES: Record<string, string[]> = {
  npm: ['npm-shrinkwrap.json', 'package-lock.json', 'yarn.lock', 'pnpm-lock.yaml'],
  cargo: ['Cargo.lock'],
  pypi: ['poetry.lock', 'uv.lock'],
  golang: ['go.sum'],
};

/** The tool of each lockfile kind, whose entry of `Ecosystem.lockfileCommands` regenerates it. */
const TOOL: Record<LockfileKind, string> = {
  'npm-package-lock': 'npm',
  'npm-shrinkwrap': 'npm',
  'yarn-v1': 'yarn',
  'yarn-berry': 'yarn',
  pnpm: 'pnpm',
  poetry: 'poetry',
  uv: 'uv',
  cargo: 'cargo',
  'go-sum': 'go',
};

/**
 * The command that regenerates a lockfile of `kind` for `name`: the ecosystem's
 * `lockfileCommands` entry of the lockfile's tool (`<crate>` replaced by the name), else
 * `<tool> install`.
 */
export function lockfileCommand(ecosystem: Ecosystem, kind: LockfileKind, name: string): string {
  const tool = TOOL[kind];
  const command = ecosystem.lockfileCommands.find((c) => c === tool || c.startsWith(`${tool} `)) ?? `${tool} install`;
  return command.replace('<crate>', name);
}

/** Text of a file, or null when it cannot be read. */
const readText = (path: string) => readFile(path, 'utf8').catch(() => null);

/**
 * The lockfile that may govern a manifest: the first of the ecosystem's lockfile names in the
 * manifest's folder or, for Cargo and npm (a workspace's Cargo.lock or package-lock.json sits at
 * its root), in a parent folder up to the repository root. Repository-relative POSIX path, or
 * null. (An npm lock above a manifest governs it only when it lists the manifest's folder as a
 * workspace member; the update checks that.)
 */
export async function lockfileOf(root: string, manifestPath: string, purlType: string): Promise<string | null> {
  const names = LOCKFILES[purlType] ?? [];
  let dir = posix.dirname(manifestPath);
  for (;;) {
    for (const n of names) {
      const rel = dir === '.' ? n : `${dir}/${n}`;
      if ((await readText(join(root, rel))) !== null) return rel;
    }
    if ((purlType !== 'cargo' && purlType !== 'npm') || dir === '.' || dir === '') return null;
    dir = posix.dirname(dir);
  }
}

/** What {@link syncLockfiles} did for one target. */
export interface LockfileSync {
  /** Lockfiles written with the target's bump. */
  lockfiles: string[];
  /** Sentence for the target's reason: what was updated, or `lockfile needs \`<command>\`` and why. */
  note: string | null;
}

/**
 * Keeps lockfiles in step with the direct bumps of the shipped targets (issue 15), without a
 * package manager: for each target the lockfile next to its manifest ({@link lockfileOf}) is
 * rebuilt from the base snapshot and moved to the target's version — npm package-lock.json /
 * npm-shrinkwrap.json with `updateNpmLockfileResolving` (dependencies the lock lacks resolved from
 * the registry's packuments), Cargo.lock with `updateCargoLockfile` (the index record of the
 * version). Other lockfile kinds (yarn.lock, pnpm-lock.yaml, poetry.lock, uv.lock, go.sum), and
 * updates that are not possible (a dependent's range excludes the version, a dependency cannot be
 * resolved, the registry cannot be read), leave the lockfile as it was and the note says
 * "lockfile needs `<command>`" (the ecosystem's `lockfileCommands`). Lockfiles next to targets
 * that do not ship are put back to the base snapshot's bytes. Idempotent.
 * @param outcomes the targets' outcomes (declared requirement after the edit in `declaredTo`).
 */
export async function syncLockfiles(input: {
  lowerDir: string;
  mergedDir: string;
  targets: EditTarget[];
  outcomes: TargetOutcome[];
  registry: LockfileRegistry | null;
  heartbeat: () => void;
}): Promise<Map<string, LockfileSync>> {
  const result = new Map<string, LockfileSync>();
  const base = new Map<string, string>();
  const texts = new Map<string, string>();
  const shipped = new Set(input.outcomes.filter((o) => o.status === 'success').map((o) => o.name));
  for (const t of input.targets) {
    input.heartbeat();
    const ecosystem = ecosystemFor(ecosystemOf(t));
    if (!ecosystem) continue;
    const file = await lockfileOf(input.lowerDir, t.manifestPath, ecosystem.purlType);
    if (file === null) continue;
    if (!base.has(file)) base.set(file, (await readText(join(input.lowerDir, file)))!);
    if (!shipped.has(t.name)) continue;
    const text = texts.get(file) ?? base.get(file)!;
    let kind: LockfileKind;
    try {
      kind = detectLockfileKind(file, text);
    } catch (err) {
      result.set(t.name, { lockfiles: [], note: `lockfile needs \`${ecosystem.lockfileCommands[0] ?? 'a lockfile update'}\`: ${describeError(err)}` });
      continue;
    }
    const needs = (why: string): LockfileSync => ({ lockfiles: [], note: `lockfile needs \`${lockfileCommand(ecosystem, kind, t.name)}\`: ${why}` });
    const outcome = input.outcomes.find((o) => o.name === t.name)!;
    try {
      const sync = await updateOne({ file, text, kind, target: t, requirement: outcome.declaredTo, registry: input.registry });
      if (sync.status !== 'updated' && t.fix) {
        // A fix that moves nothing in the lock (or cannot) leaves the package where it is: say which option.
        result.set(t.name, sync.status === 'unchanged' ? { lockfiles: [], note: null } : needs(`${describeFix(t.fix)}: ${sync.why}`));
        continue;
      }
      if (sync.status === 'updated') {
        texts.set(file, sync.text);
        result.set(t.name, { lockfiles: [file], note: `${file} updated: ${sync.summary}` });
      } else if (sync.status === 'unchanged') {
        result.set(t.name, { lockfiles: [], note: null });
      } else {
        result.set(t.name, needs(sync.why));
      }
    } catch (err) {
      result.set(t.name, needs(describeError(err)));
    }
  }
  for (const [file, text] of base) {
    const next = texts.get(file) ?? text;
    const current = await readText(join(input.mergedDir, file));
    if (current !== next) await writeFile(join(input.mergedDir, file), next);
  }
  return result;
}

/**
 * Adds each shipped target's lockfile note (from {@link syncLockfiles}) to its reason, once (a
 * later iteration keeps the reason it stored). Mutates and returns `outcomes`.
 */
export function addLockfileNotes(outcomes: TargetOutcome[], synced: ReadonlyMap<string, LockfileSync>): TargetOutcome[] {
  for (const o of outcomes) {
    const note = synced.get(o.name)?.note;
    if (o.status === 'success' && note && !(o.reason ?? '').includes(note)) o.reason = o.reason ? `${o.reason}; ${note}` : note;
  }
  return outcomes;
}

type OneUpdate = { status: 'updated'; text: string; summary: string } | { status: 'unchanged' } | { status: 'not-possible'; why: string };

async function updateOne(input: { file: string; text: string; kind: LockfileKind; target: EditTarget; requirement: string | null; registry: LockfileRegistry | null }): Promise<OneUpdate> {
  const { file, text, kind } = input;
  if (input.target.fix && kind !== 'cargo') return updateFix({ ...input, fix: input.target.fix });
  const t = input.target;
  if (kind !== 'npm-package-lock' && kind !== 'npm-shrinkwrap' && kind !== 'cargo') return { status: 'not-possible', why: `${file} (${kind}) is not updated in place yet` };
  if (input.registry === null) return { status: 'not-possible', why: 'the patcher has no registry access configured' };
  const graph = readLockfile(file, text);
  // The manifest's folder relative to the lockfile's: `.` for the lockfile's own project, else a workspace member.
  const importer = posix.relative(posix.dirname(file), posix.dirname(t.manifestPath)) || '.';
  // A lock above an npm manifest that is not one of its workspace members does not govern it.
  if (kind !== 'cargo' && importer !== '.' && !graph.root.dependencies.some((d) => d.importer === importer)) return { status: 'unchanged' };
  const direct = graph.root.dependencies.find((d) => d.name === t.name && (d.importer === importer || kind === 'cargo'));
  const locked = direct?.to ? graph.packages[direct.to]?.version : undefined;
  if (kind === 'cargo') {
    const record = await input.registry.cargo.indexRecord(t.name, t.toVersion);
    const r = updateCargoLockfile({ file, text, name: t.name, version: t.toVersion, record, ...(locked ? { from: locked } : {}) });
    if (r.status === 'updated') return { status: 'updated', text: r.text, summary: `${t.name} ${r.from} → ${t.toVersion}` };
    if (r.status === 'unchanged') return { status: 'unchanged' };
    if (r.status === 'not-found') return { status: 'not-possible', why: `${file} locks no ${t.name}` };
    if (r.status === 'ambiguous') return { status: 'not-possible', why: `${file} locks ${t.name} at ${r.versions.join(', ')}` };
    return { status: 'not-possible', why: `${t.name} ${t.toVersion} needs ${r.missing.map((m) => `${m.name} ${m.requirement} (locked: ${m.locked.join(', ') || 'none'})`).join(', ')}` };
  }
  const npm = input.registry.npm;
  const metadata = packumentVersion(await npm.packument(t.name), t.name, t.toVersion, `the registry's ${t.name} document`);
  const r = await updateNpmLockfileResolving(
    { file, text, name: t.name, version: t.toVersion, metadata, ...(locked ? { from: locked } : {}), ...(input.requirement ? { requirement: input.requirement } : {}) },
    (name) => npm.packument(name),
  );
  return npmUpdateOutcome(r, t.name, () => `${t.name} ${locked ?? t.fromVersion} → ${t.toVersion}`, `${file} locks no ${t.name}`);
}

/**
 * The lockfile update of a transitive target (npm locks; docs/decisions/0016): the move of
 * `lockfileMove` — the parent to the option's version with its new root requirement, or the
 * vulnerable package's entries (those at the installed version, or all of them under an override,
 * whose dependents' requirements npm replaces) — resolved like a direct bump
 * (`updateNpmLockfileResolving`: dependencies the lock lacks resolved from packuments).
 */
async function updateFix(input: { file: string; text: string; kind: LockfileKind; target: EditTarget; fix: NonNullable<EditTarget['fix']>; requirement: string | null; registry: LockfileRegistry | null }): Promise<OneUpdate> {
  const { file, text, kind, target: t } = input;
  if (kind !== 'npm-package-lock' && kind !== 'npm-shrinkwrap') return { status: 'not-possible', why: `${file} (${kind}) is not updated in place yet` };
  if (input.registry === null) return { status: 'not-possible', why: 'the patcher has no registry access configured' };
  const importer = posix.relative(posix.dirname(file), posix.dirname(t.manifestPath)) || '.';
  if (importer !== '.') return { status: 'not-possible', why: `transitive fixes are applied to the lockfile's root project only, not to the workspace member ${importer}` };
  const move = lockfileMove({ ...t, fix: input.fix }, input.requirement);
  const npm = input.registry.npm;
  const metadata = packumentVersion(await npm.packument(move.name), move.name, move.version, `the registry's ${move.name} document`);
  const r = await updateNpmLockfileResolving({ file, text, metadata, ...move }, (name) => npm.packument(name));
  return npmUpdateOutcome(r, move.name, (locations) => `${describeFix(input.fix)} (${locations.join(', ')})`, `${file} locks no ${move.name}${move.from ? ` at ${move.from}` : ''}`);
}

/**
 * What a result of `updateNpmLockfileResolving` means for the target: the written text with a
 * summary (`head(locations)`, then each entry the resolver added or moved), unchanged, or why it
 * is not possible (`notFound` when the lock has no entry; the dependents that exclude the version
 * and the dependencies that cannot be resolved).
 */
function npmUpdateOutcome(r: NpmResolvingUpdateResult, name: string, head: (locations: string[]) => string, notFound: string): OneUpdate {
  if (r.status === 'updated') {
    const added = r.resolved.map((e) => `${e.name}@${e.version} ${e.change === 'added' ? 'added at' : 'moved at'} ${e.location}`);
    return { status: 'updated', text: r.text, summary: [head(r.locations), ...added].join('; ') };
  }
  if (r.status === 'unchanged') return { status: 'unchanged' };
  if (r.status === 'not-found') return { status: 'not-possible', why: notFound };
  const parts = [
    ...r.conflicts.map((c) => `${c.from || 'the root'} requires ${name} ${c.requirement}`),
    ...r.missing.map((m) => `${m.name} ${m.requirement} (needed by ${m.location}) cannot be resolved`),
  ];
  return { status: 'not-possible', why: parts.join('; ') };
}
