import { type AgentRunSummary, type ExecutionTarget, type PlannerOutput, describeTransitiveFix } from '@remediation/contracts';
import { ECOSYSTEMS, ecosystemFor } from '@remediation/ecosystems';

/** What the default pull-request body is made of. */
export interface PullRequestBodyInput {
  remediationId: string;
  executionId: string;
  tier: string;
  targets: ExecutionTarget[];
  plan: PlannerOutput | null;
  /** The agent run that made the version's code changes, if any. */
  agent?: AgentRunSummary | null;
  /** Paths the version changes against its base commit (repository-relative); manifests included. */
  changedPaths?: readonly string[];
}

/** Manifest and lockfile names: files the deterministic editor owns, not code. */
const MANIFEST_NAMES = new Set(['package.json', 'package-lock.json', 'npm-shrinkwrap.json', 'yarn.lock', 'pnpm-lock.yaml', 'poetry.lock', 'uv.lock', 'Pipfile.lock', 'Cargo.lock', 'go.sum']);

/** Whether `path` is a manifest or lockfile: by name, or matched by a manifest manager of a supported ecosystem (`requirements*.txt`, `pyproject.toml`, …). */
function isManifest(path: string): boolean {
  return MANIFEST_NAMES.has(path.split('/').at(-1) ?? path) || [...ECOSYSTEMS.values()].some((e) => e.managers.some((m) => m.matches(path)));
}

/** The shipped targets' ecosystems (purl types, lowercase), npm first, then by name. */
function shippedTypes(shipped: readonly ExecutionTarget[]): string[] {
  return [...new Set(shipped.map((t) => (t.ecosystem ?? 'npm').toLowerCase()))].sort((a, b) => (a === 'npm' ? -1 : b === 'npm' ? 1 : a < b ? -1 : 1));
}

/**
 * One lockfile command with `<crate>` (the seam's placeholder, see `Ecosystem.lockfileCommands`)
 * filled in: the option before it repeated per upgraded package, e.g. `cargo update -p <crate>` →
 * `cargo update -p openssl -p tar` (https://doc.rust-lang.org/cargo/commands/cargo-update.html:
 * `-p` may be given several times).
 */
function fillPackages(command: string, names: readonly string[]): string {
  const m = /(\S+) <crate>/.exec(command);
  if (!m || names.length === 0) return command;
  return command.replace(m[0], names.map((n) => `${m[1]} ${n}`).join(' '));
}

/**
 * The lockfile step of the test guidance: npm's sentence when every shipped target is an npm
 * package (or has no ecosystem recorded); otherwise one clause per ecosystem naming its
 * `lockfileCommands` (PyPI: `poetry lock`, `uv lock`, `pip-compile --generate-hashes`; Cargo:
 * `cargo update -p <crate>` with the upgraded crates' names); ecosystems without a lockfile (Maven:
 * no `lockfileCommands`) get no clause, and a sentence saying so when they are all that shipped.
 */
function lockfileGuidance(shipped: readonly ExecutionTarget[], edits: string): string {
  const types = shippedTypes(shipped);
  if (types.every((t) => t === 'npm')) {
    return `1. Regenerate the lockfile: this change edits ${edits} and never runs package managers, so the lockfile is not updated. Run \`npm install\` (or your package manager's equivalent) and commit the updated lockfile.`;
  }
  const lockless = (type: string): boolean => type !== 'npm' && ecosystemFor(type)?.lockfileCommands.length === 0;
  if (types.every(lockless)) {
    return `1. No lockfile to regenerate: this change edits ${edits}; ${types.join(', ')} ${types.length > 1 ? 'have' : 'has'} no lockfile, the build resolves the edited versions itself.`;
  }
  const clauses = types.filter((type) => !lockless(type)).map((type) => {
    const names = [...new Set(shipped.filter((t) => (t.ecosystem ?? 'npm').toLowerCase() === type).map((t) => t.name))].sort();
    const commands = (ecosystemFor(type)?.lockfileCommands ?? []).map((c) => fillPackages(c, names));
    if (type === 'npm') return 'npm: run `npm install` (or your package manager\'s equivalent)';
    if (commands.length === 0) return `${type}: run its package manager's lock command`;
    const listed = commands.map((c) => `\`${c}\``).join(', ').replace(/, ([^,]*)$/, ' or $1');
    return commands.length > 1 ? `${type}: run ${listed} (whichever manages the project's lockfile or hashes, if any)` : `${type}: run ${listed}`;
  });
  return `1. Regenerate the lockfiles: this change edits ${edits} and never runs package managers, so lockfiles (and pinned hashes) are not updated. ${clauses.join('; ')}; commit the updated lockfiles.`;
}

/** `lockfile needs \`<command>\`: <why>` in a target's reason (set by the patcher when a lockfile could not be updated), or null. */
export function lockfileNeed(reason: string | null | undefined): { command: string; why: string } | null {
  const m = /lockfile needs `([^`]+)`(?:: ([^;]*))?/.exec(reason ?? '');
  return m ? { command: m[1]!, why: m[2]?.trim() ?? '' } : null;
}

/**
 * The "Lockfiles" section (issue 15): the lockfiles this change updated with the bumps (from the
 * proof's `lockfiles`), and each target whose lockfile could not be updated with the command it
 * needs (from its reason). Empty when neither applies.
 */
function lockfileSection(shipped: readonly ExecutionTarget[]): string[] {
  const updated = shipped.filter((t) => t.proof?.lockfiles?.length);
  const needing = shipped.flatMap((t) => {
    const need = lockfileNeed(t.reason);
    return need ? [{ t, need }] : [];
  });
  if (updated.length === 0 && needing.length === 0) return [];
  const lines = ['', '### Lockfiles', ''];
  for (const t of updated) {
    const what = t.fix ? `the ${describeTransitiveFix(t.fix)} (transitive \`${t.name}\`)` : `\`${t.name}\` ${t.to}`;
    lines.push(`- ${t.proof!.lockfiles!.map((f) => `\`${f}\``).join(', ')} updated with ${what}, computed from registry metadata (no package manager ran)`);
  }
  for (const { t, need } of needing) lines.push(`- \`${t.name}\`: lockfile needs \`${need.command}\`${need.why ? ` (${need.why})` : ''}`);
  return lines;
}

/**
 * The "Transitive fixes" section (issue 15, docs/decisions/0016): per shipped transitive target,
 * the vulnerable package at its installed version(s) and paths, the option applied with its from →
 * to, the package.json change and the versions the updated lockfile now locks (from the proof).
 */
function transitiveSection(shipped: readonly ExecutionTarget[], plan: PlannerOutput | null): string[] {
  const fixes = shipped.filter((t) => t.fix);
  if (fixes.length === 0) return [];
  const lines = ['', '### Transitive fixes', ''];
  for (const t of fixes) {
    const fix = t.fix!;
    const findings = plan?.transitive.filter((f) => f.name === t.name) ?? [];
    const installed = findings.map((f) => `${f.version}${f.via.length ? ` via ${f.via.join(', ')}` : ''}`).join('; ');
    const manifest =
      fix.kind === 'override'
        ? `\`${t.manifestPath}\` \`"overrides": { "${fix.name}": "${fix.to}" }\``
        : fix.kind === 'parent_bump'
          ? `\`${t.manifestPath}\` ${t.declaredFrom && t.declaredTo ? `\`${fix.name}\` \`${t.declaredFrom}\` → \`${t.declaredTo}\`` : `\`${fix.name}\` ${fix.to}`}`
          : 'no manifest change';
    const locked = (t.proof?.locked ?? []).map((l) => l.split(':')[0]).join(', ');
    lines.push(`- \`${t.name}\`${installed ? ` ${installed}` : ''}: **${describeTransitiveFix(fix)}** (${manifest}${locked ? `; now locked: ${locked}` : ''})`);
  }
  return lines;
}

/** The test step of the guidance, naming the shipped ecosystems' `testCommands` (Cargo: `cargo test`; Go: `go mod tidy && go test ./...`) when they have any. */
function testGuidance(shipped: readonly ExecutionTarget[]): string {
  const commands = [...new Set(shippedTypes(shipped).flatMap((type) => ecosystemFor(type)?.testCommands ?? []))];
  const run = commands.length ? `Run the test suite (${commands.map((c) => `\`${c}\``).join(', ')})` : 'Run the test suite';
  return `2. ${run} and exercise the code paths that use the upgraded packages.`;
}

const SEVERITY_ORDER = ['critical', 'high', 'moderate', 'low', 'unknown'];

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/** Prefix of a target's reason when the agent reported its outcome (set by the patcher). */
const AGENT_REASON = 'agent: ';

/**
 * The agent's note per target it reported on, as Markdown list items
 * (`- \`cookie\`: only cookie.serialize is used`); targets without a note are left out.
 */
export function agentNotes(targets: readonly ExecutionTarget[]): string[] {
  return targets.filter((t) => t.reason?.startsWith(AGENT_REASON)).map((t) => `- \`${t.name}\`: ${t.reason!.slice(AGENT_REASON.length)}`);
}

/** Title of the pull request, e.g. `fix(deps): upgrade 5 vulnerable dependencies (minimal)`. */
export function pullRequestTitle(input: PullRequestBodyInput): string {
  const shipped = input.targets.filter((t) => t.status === 'success');
  const fix = shipped[0]?.fix;
  if (shipped.length === 1 && fix) return `fix(deps): ${describeTransitiveFix(fix)} (transitive ${shipped[0]!.name})`;
  if (shipped.length === 1) return `fix(deps): upgrade ${shipped[0]!.name} to ${shipped[0]!.to}`;
  return `fix(deps): upgrade ${shipped.length} vulnerable dependencies (${input.tier})`;
}

/**
 * The built-in default body (docs/mission.md "Pull request"): advisory summary (ids, severity,
 * affected → fixed, links), the changes, and test guidance including lockfile regeneration,
 * which the service never does itself.
 */
export function pullRequestBody(input: PullRequestBodyInput): string {
  const shipped = input.targets.filter((t) => t.status === 'success');
  const lines: string[] = [];
  lines.push('## Security fixes', '');
  lines.push(`This pull request upgrades ${shipped.length} vulnerable ${shipped.length === 1 ? 'dependency' : 'dependencies'} using the **${input.tier}** tier.`, '');
  lines.push('### Advisories', '', '| Advisory | Severity | Package | Affected | Fixed in this PR |', '|---|---|---|---|---|');
  const rows: Array<{ sev: number; line: string }> = [];
  for (const t of shipped) {
    // A package installed at several versions is several plan targets (one execution target with `versions`).
    const planned = input.plan?.targets.filter((p) => p.name === t.name && (t.ecosystem === undefined || p.ecosystem.toLowerCase() === t.ecosystem.toLowerCase())) ?? [];
    const seen = new Set<string>();
    for (const p of planned) {
      const to = t.versions?.find((v) => v.from === p.currentVersion)?.to ?? t.to;
      for (const a of p.advisories) {
        if (seen.has(`${a.id}\u0000${to}`)) continue;
        seen.add(`${a.id}\u0000${to}`);
        const id = a.url ? `[${a.id}](${a.url})` : a.id;
        const aliases = a.aliases.length ? ` (${a.aliases.join(', ')})` : '';
        rows.push({
          sev: SEVERITY_ORDER.indexOf(a.severity),
          line: `| ${id}${cell(aliases)} | ${a.severity}${a.kind ? ` (${cell(a.kind)})` : ''} | \`${t.name}\` | \`${cell(a.affectedRanges.join(' || '))}\` | ${to} |`,
        });
      }
    }
  }
  for (const t of shipped.filter((s) => s.fix)) {
    // A transitive target: its advisories are the plan's transitive findings' (ids and ranges).
    const findings = input.plan?.transitive.filter((f) => f.name === t.name) ?? [];
    const ranges = [...new Set(findings.flatMap((f) => f.affectedRanges ?? []))].join(' || ');
    for (const id of t.advisories) {
      rows.push({ sev: SEVERITY_ORDER.indexOf('unknown'), line: `| ${id} | see advisory | \`${t.name}\` (transitive) | \`${cell(ranges)}\` | ${cell(describeTransitiveFix(t.fix!))} |` });
    }
  }
  rows.sort((x, y) => x.sev - y.sev);
  lines.push(...rows.map((r) => r.line), '');
  lines.push('### Changes', '', '| Package | Manifest | From | To | Declared requirement |', '|---|---|---|---|---|');
  for (const t of shipped) {
    if (t.fix) continue; // listed under "Transitive fixes"
    const declared = t.declaredFrom && t.declaredTo ? `\`${t.declaredFrom}\` → \`${t.declaredTo}\`` : '';
    if (t.versions && t.versions.length > 1) {
      const manifests = t.proof?.manifests?.length ? t.proof.manifests.map((m) => `\`${m}\``).join(', ') : `\`${t.manifestPath}\``;
      for (const v of t.versions) lines.push(`| \`${t.name}\` | ${manifests} | ${v.from} | ${v.to} | |`);
    } else {
      lines.push(`| \`${t.name}\` | \`${t.manifestPath}\` | ${t.from} | ${t.to} | ${declared} |`);
    }
  }
  lines.push(...transitiveSection(shipped, input.plan));
  const notShipped = input.targets.filter((t) => t.status !== 'success');
  if (notShipped.length) {
    lines.push('', '**Not included:**', '');
    for (const t of notShipped) lines.push(`- \`${t.name}\` (${t.status}): ${t.reason ?? 'no reason recorded'}`);
  }
  lines.push(...lockfileSection(shipped));
  const notes = agentNotes(shipped);
  const codeFiles = (input.changedPaths ?? []).filter((p) => !isManifest(p));
  if (notes.length || codeFiles.length) {
    lines.push('', '### Code changes by the agent', '');
    lines.push(codeFiles.length ? `Files changed beyond the manifests: ${codeFiles.map((p) => `\`${p}\``).join(', ')}.` : 'No files beyond the manifests: the agent found no code that needs changing.', '');
    lines.push(...notes);
    if (input.agent) lines.push('', `<sub>${input.agent.model}, ${input.agent.turns} turns, ${input.agent.inputTokens + input.agent.outputTokens} tokens. Review these changes like any other code.</sub>`);
  }
  const needsAgent = shipped.filter((t) => t.needsAgent && !t.reason?.startsWith(AGENT_REASON));
  if (needsAgent.length) {
    lines.push('', '**Major upgrades** (code may need changes; review carefully):', '');
    for (const t of needsAgent) lines.push(`- \`${t.name}\` ${t.from} → ${t.to}`);
  }
  lines.push(
    '',
    '### Test guidance',
    '',
    // Targets whose lockfile this change updated need no regeneration step.
    shipped.every((t) => t.proof?.lockfiles?.length)
      ? '1. The lockfiles were updated with the manifests (see "Lockfiles"); `npm ci` / `cargo build --locked` should accept them as they are.'
      : lockfileGuidance(
          shipped.filter((t) => !t.proof?.lockfiles?.length),
          codeFiles.length ? 'manifests and code' : 'manifests only',
        ),
    testGuidance(shipped),
    ...(needsAgent.length ? ['3. Check the release notes of the major upgrades listed above for breaking changes.'] : []),
    '',
    `<sub>Remediation \`${input.remediationId}\`, execution \`${input.executionId}\`.</sub>`,
  );
  return lines.join('\n');
}
