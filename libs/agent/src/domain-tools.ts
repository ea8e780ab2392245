import { basename } from 'node:path';
import type { MessageParam } from '@anthropic-ai/sdk/resources/messages';
import { type Ecosystem, type ManifestManager, readInherited } from '@remediation/ecosystems';
import { bumpNpmDependency } from '@remediation/manifests';
import { z } from 'zod';
import { ToolError } from './errors.js';
import { defineTool, type AgentTool } from './tool.js';
import type { Workspace } from './workspace.js';
import { MAX_PACKAGE_NAME_CHARS, MAX_PATH_CHARS, MAX_VERSION_CHARS } from './limits.js';

/** A version bump the model asked for through `bump_version`. */
export interface BumpVersionRequest {
  /** Package name as declared, e.g. `express-jwt`. */
  name: string;
  /** Version the declared requirement's floor must become, valid in the ecosystem's scheme (npm: full semver `6.1.2`; PyPI: PEP 440 `4.2.14`). */
  version: string;
  /** Repository-relative manifest path, e.g. `package.json`, `packages/api/package.json`, `requirements.txt`. */
  manifestPath: string;
}

/**
 * Performs a bump and returns a one-line summary for the model. Throw to refuse (the message
 * goes back to the model as an `is_error` result); the patcher's implementation uses the
 * deterministic manifest editor (see {@link createManifestBumper}).
 */
export type BumpVersionFn = (request: BumpVersionRequest) => Promise<string>;

const SEMVER = /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/;

const isNpm = (ecosystem: Ecosystem | undefined): boolean => ecosystem === undefined || ecosystem.purlType === 'npm';

/**
 * `bump_version { package, version, manifest_path? }`: changes a dependency's declared version
 * through `bump` (never by editing manifest text directly, which the edit policy refuses).
 * For npm (no `ecosystem`, or npm's) `version` must be a full semver version; for another
 * ecosystem it must be valid in that ecosystem's versioning (`ecosystem.versioning.isValid`,
 * e.g. PEP 440 for PyPI).
 * @param options.defaultManifestPath used when the model omits `manifest_path`; default the
 *   ecosystem's `defaultManifestPath` (`package.json` for npm).
 */
export function createBumpVersionTool(options: { bump: BumpVersionFn; defaultManifestPath?: string; ecosystem?: Ecosystem }): AgentTool {
  const { ecosystem } = options;
  const fallbackPath = options.defaultManifestPath ?? ecosystem?.defaultManifestPath ?? 'package.json';
  if (!isNpm(ecosystem)) return createEcosystemBumpVersionTool(options.bump, fallbackPath, ecosystem!);
  return defineTool({
    name: 'bump_version',
    description:
      'Change the declared version of a dependency in a package.json with the deterministic manifest editor (the only way to change package.json). ' +
      'The declared range keeps its style (^, ~, exact) with its floor raised to version. No install runs; lockfiles are not regenerated.',
    inputSchema: z.strictObject({
      package: z.string().min(1).max(MAX_PACKAGE_NAME_CHARS).describe('Package name, e.g. express-jwt or @types/express-jwt'),
      version: z.string().max(MAX_VERSION_CHARS).regex(SEMVER, 'must be a full semver version such as 6.1.2').describe('Full semver version, e.g. 6.1.2'),
      manifest_path: z.string().min(1).max(MAX_PATH_CHARS).optional().describe(`Manifest path relative to the workspace root (default ${fallbackPath})`),
    }),
    async run(input) {
      return options.bump({ name: input.package, version: input.version, manifestPath: input.manifest_path ?? fallbackPath });
    },
  });
}

/** `bump_version` of an ecosystem other than npm: the version is checked with its versioning. */
function createEcosystemBumpVersionTool(bump: BumpVersionFn, defaultManifestPath: string, ecosystem: Ecosystem): AgentTool {
  const { scheme } = ecosystem.versioning;
  return defineTool({
    name: 'bump_version',
    description:
      `Change the declared version of a ${ecosystem.purlType} dependency in one of its manifests (${ecosystem.managers.map((m) => m.name).join(', ')}) ` +
      'with the deterministic manifest editor (the only way to change those manifests). The requirement keeps its style (==, >=, ~=, ^, ~) ' +
      `with its floor raised to version. No install runs; lockfiles are not regenerated (${ecosystem.lockfileCommands.join(', ')}).`,
    inputSchema: z.strictObject({
      package: z.string().min(1).max(MAX_PACKAGE_NAME_CHARS).describe('Package name as in the manifest, e.g. Django'),
      version: z
        .string()
        .min(1)
        .max(MAX_VERSION_CHARS)
        .refine((v) => ecosystem.versioning.isValid(v), `must be a ${scheme} version of ${ecosystem.purlType}, such as 4.2.14`)
        .describe(`Version (${scheme}), e.g. 4.2.14`),
      manifest_path: z.string().min(1).max(MAX_PATH_CHARS).optional().describe(`Manifest path relative to the workspace root (default ${defaultManifestPath})`),
    }),
    async run(input) {
      return bump({ name: input.package, version: input.version, manifestPath: input.manifest_path ?? defaultManifestPath });
    },
  });
}

/**
 * A {@link BumpVersionFn} over `workspace` with `bumpNpmDependency` of `@remediation/manifests`:
 * reads the manifest through the jail, raises the range floor, writes it back (recorded as a
 * changed path).
 * @param options.allowedPackages when given, bumps of other packages are refused.
 * @param options.advisoryRanges affected ranges per package (npm syntax); when given, the bump
 *   must prove the advisories no longer match (REMEDIATION_NOT_PROVEN otherwise).
 * @returns summaries such as `package.json: dependencies express-jwt 0.1.3 → 6.1.2`.
 * Manifest editor errors (e.g. UNSUPPORTED_SPECIFIER, DEPENDENCY_NOT_DECLARED) reach the model
 * as `is_error` results with their code.
 */
export function createManifestBumper(
  workspace: Workspace,
  options: { allowedPackages?: readonly string[]; advisoryRanges?: (name: string) => string[]; ecosystem?: Ecosystem } = {},
): BumpVersionFn {
  if (!isNpm(options.ecosystem)) return createEcosystemBumper(workspace, options.ecosystem!, options);
  return async ({ name, version, manifestPath }) => {
    if (options.allowedPackages && !options.allowedPackages.includes(name)) {
      throw new ToolError(`refused: bump_version may only change ${options.allowedPackages.join(', ')} in this execution, not ${name}`);
    }
    const { path, text } = await workspace.readText(manifestPath);
    if (basename(path.realRel) !== 'package.json') throw new ToolError(`refused: ${manifestPath} is not a package.json`);
    const advisoryRanges = options.advisoryRanges?.(name);
    const result = bumpNpmDependency(text, { name, to: version, ...(advisoryRanges ? { advisoryRanges } : {}) });
    if (result.changed) await workspace.writeText(path, result.text, { viaBumpVersion: true });
    const edits = result.edits.map((e) => `${e.section} ${name} ${e.from} → ${e.to}`);
    const notes = result.notes.length ? ` (${result.notes.join('; ')})` : '';
    return result.changed ? `${path.rel}: ${edits.join(', ')}${notes}` : `${path.rel}: unchanged${notes}`;
  };
}

/**
 * A {@link BumpVersionFn} for an ecosystem other than npm: the manifest must be one a manager of
 * the ecosystem matches (else refused); every matching manager raises the requirement's floor
 * (`ManifestManager.raiseFloor`; pyproject.toml is read by the PEP 621 and the Poetry managers),
 * then every declaration of the package must pass `ecosystem.proveRemediated` with the advisory
 * ranges. Refusals reach the model as `is_error` results: not declared, a `--hash` pin (naming
 * the lockfile command), an upper bound below the version, an uneditable requirement, a failed
 * proof. Package names are compared after the ecosystem's normalisation (PyPI: PEP 503). A
 * manager with `inherits` (Maven) gets the manifests the file inherits from as context, so a
 * version written in a parent pom's property is raised there (that pom is written too).
 */
function createEcosystemBumper(
  workspace: Workspace,
  ecosystem: Ecosystem,
  options: { allowedPackages?: readonly string[]; advisoryRanges?: (name: string) => string[] },
): BumpVersionFn {
  return async ({ name, version, manifestPath }) => {
    const wanted = ecosystem.normaliseName(name);
    if (options.allowedPackages && !options.allowedPackages.some((p) => ecosystem.normaliseName(p) === wanted)) {
      throw new ToolError(`refused: bump_version may only change ${options.allowedPackages.join(', ')} in this execution, not ${name}`);
    }
    const { path, text } = await workspace.readText(manifestPath);
    const managers: ManifestManager[] = ecosystem.managers.filter((m) => m.matches(path.realRel));
    if (managers.length === 0) throw new ToolError(`refused: ${manifestPath} is not a ${ecosystem.purlType} manifest (${ecosystem.managers.map((m) => m.name).join(', ')})`);
    let next = text;
    const changes: string[] = [];
    const notes: string[] = [];
    /** Other manifests an edit wrote (a Maven parent pom holding the version's property). */
    const inherited = new Map<string, string>();
    let declared = false;
    for (const manager of managers) {
      const context = manager.inherits
        ? await readInherited(manager, path.rel, next, async (p) => inherited.get(p) ?? (await workspace.readText(p).catch(() => null))?.text ?? null)
        : undefined;
      const edit = manager.raiseFloor(path.rel, next, name, version, context);
      if (edit.status === 'refused') {
        if (edit.reason === 'not-found') continue;
        throw new ToolError(`${edit.reason}: ${edit.message}${edit.lockfileCommand ? ` (lockfile command: ${edit.lockfileCommand})` : ''}`);
      }
      declared = true;
      if (edit.status === 'edited') {
        if (edit.file !== undefined && edit.file !== path.rel) {
          inherited.set(edit.file, edit.text);
          context!.set(edit.file, edit.text);
        } else {
          next = edit.text;
        }
        changes.push(`${edit.location.file === path.rel ? '' : `${edit.location.file} `}${edit.location.section} ${name} ${edit.before || '(any)'} → ${edit.after}`);
        notes.push(...(edit.notes ?? []));
      } else {
        notes.push(`${edit.location.section}: "${edit.requirement}" already admits no version below ${version}`);
      }
      const ranges = options.advisoryRanges?.(name);
      if (ranges) {
        for (const d of manager.extract(path.rel, next, context).dependencies.filter((x) => x.normalisedName === wanted)) {
          const proof = ecosystem.proveRemediated(d.requirement, d.style, ranges);
          if (!proof.remediated) throw new ToolError(`REMEDIATION_NOT_PROVEN: ${path.rel} line ${d.location.line}: ${proof.reason}`);
        }
      }
    }
    if (!declared) throw new ToolError(`DEPENDENCY_NOT_DECLARED: ${name} is not a direct dependency in ${path.rel}`);
    if (next !== text) await workspace.writeText(path, next, { viaBumpVersion: true });
    for (const [file, edited] of inherited) await workspace.writeText(file, edited, { viaBumpVersion: true });
    const suffix = notes.length ? ` (${notes.join('; ')})` : '';
    return changes.length ? `${path.rel}: ${changes.join(', ')}${suffix}` : `${path.rel}: unchanged${suffix}`;
  };
}

/** Status a target can be reported with (the per-target states of docs/mission.md). */
export type ReportedStatus = 'success' | 'failed' | 'skipped';

/** One `report_outcome` call. */
export interface OutcomeReport {
  target: string;
  status: ReportedStatus;
  reason: string;
}

/**
 * `report_outcome { target, status, reason }`: the model's verdict per target (the last report
 * per target wins). `reports()` returns them in first-report order.
 * @param options.targets known target names; reports of other names are refused.
 * @param options.onReport called after each accepted report (e.g. a heartbeat).
 */
export function createReportOutcomeTool(options: { targets?: readonly string[]; onReport?: (report: OutcomeReport) => void | Promise<void> } = {}): {
  tool: AgentTool;
  reports(): OutcomeReport[];
  /**
   * Re-records the accepted `report_outcome` calls of a stored conversation (tool_use blocks
   * answered by a non-error tool_result), so a resumed run keeps the reports made before.
   */
  replay(conversation: readonly MessageParam[]): void;
} {
  const reports = new Map<string, OutcomeReport>();
  const tool = defineTool({
    name: 'report_outcome',
    description:
      'Record the outcome for one target package once you are done with it: success (code works with the new version), ' +
      'failed (you could not make it work; say why), or skipped (nothing to do; say why). Call it once per target before finishing.',
    inputSchema: z.strictObject({
      target: z.string().min(1).max(MAX_PACKAGE_NAME_CHARS).describe('Target package name'),
      status: z.enum(['success', 'failed', 'skipped']),
      reason: z.string().min(1).max(2000).describe('Short explanation: what changed, or why it failed or was skipped'),
    }),
    async run(input) {
      if (options.targets && !options.targets.includes(input.target)) {
        throw new ToolError(`unknown target ${input.target}; targets of this execution: ${options.targets.join(', ')}`);
      }
      const report: OutcomeReport = { target: input.target, status: input.status, reason: input.reason };
      reports.set(report.target, report);
      await options.onReport?.(report);
      return `recorded ${input.target}: ${input.status}`;
    },
  });
  const replay = (conversation: readonly MessageParam[]): void => {
    const accepted = new Set<string>();
    for (const m of conversation) {
      if (m.role !== 'user' || typeof m.content === 'string') continue;
      for (const b of m.content) if (b.type === 'tool_result' && b.is_error !== true) accepted.add(b.tool_use_id);
    }
    for (const m of conversation) {
      if (m.role !== 'assistant' || typeof m.content === 'string') continue;
      for (const b of m.content) {
        if (b.type !== 'tool_use' || b.name !== tool.name || !accepted.has(b.id)) continue;
        const parsed = tool.inputSchema.safeParse(b.input);
        if (parsed.success) reports.set(parsed.data.target, { target: parsed.data.target, status: parsed.data.status, reason: parsed.data.reason });
      }
    }
  };
  return { tool, reports: () => [...reports.values()], replay };
}
