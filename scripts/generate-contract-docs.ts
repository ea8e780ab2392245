/**
 * Generates the JSON Schemas of the message contracts for other teams, from the zod schemas of
 * `@remediation/contracts` (zod 4's `z.toJSONSchema`, JSON Schema draft 2020-12):
 *
 *   docs/schemas/remediation.execution.v1.schema.json      ExecutionEvent (public events)
 *   docs/schemas/remediation.feedback-triaged.v1.schema.json FeedbackTriagedEvent (public events)
 *   docs/schemas/remediation.progress.v1.schema.json       ProgressEvent (public events, best-effort)
 *   docs/schemas/remediation.command.v1.schema.json        CommandPayload (internal, versioned)
 *   docs/schemas/remediation.planner-output.v1.schema.json PlannerOutput
 *
 * Usage:
 *   node --import tsx scripts/generate-contract-docs.ts           write the files
 *   node --import tsx scripts/generate-contract-docs.ts --check   exit 1 when the files on disk
 *                                                                 differ from what would be generated
 *
 * Output is deterministic: JSON keywords in a fixed order (`$schema`, `$id`, `title`,
 * `description`, `type`, then alphabetical), property names in the contract's declaration order,
 * 2-space indentation, trailing newline. Objects that zod parses by stripping unknown keys are
 * emitted without `additionalProperties: false`: v1 payloads may gain additive fields, so a
 * consumer validating with this schema must accept them.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { CommandPayload, ExecutionEvent, FeedbackTriagedEvent, PlannerOutput, ProgressEvent } from '@remediation/contracts';
import { z } from 'zod';

const repoRoot = resolve(import.meta.dirname, '..');
const schemaDir = join(repoRoot, 'docs/schemas');
const SCHEMA_BASE_URI = 'https://remediation.local/schemas/';
const SUFFIX = '.schema.json';
const REGENERATE = 'node --import tsx scripts/generate-contract-docs.ts';

interface ContractDoc {
  /** File stem and `$id` stem, e.g. `remediation.execution.v1`. */
  name: string;
  title: string;
  description: string;
  schema: z.ZodType;
}

/** The documented contracts. Names follow the payload's own version marker where it has one. */
const CONTRACTS: readonly ContractDoc[] = [
  {
    name: ExecutionEvent.shape.schema.value,
    title: 'ExecutionEvent',
    description:
      'Public event published on `remediation.evt.v1.<tenant>.execution.<to>` in the JetStream stream REMEDIATION_EVENTS, ' +
      'one per execution state change. Additive fields may appear within v1; a breaking change gets new subjects ' +
      'and a new `schema` value. See docs/events.md.',
    schema: ExecutionEvent,
  },
  {
    name: FeedbackTriagedEvent.shape.schema.value,
    title: 'FeedbackTriagedEvent',
    description:
      'Public event published on `remediation.evt.v1.<tenant>.feedback.triaged` in the JetStream stream REMEDIATION_EVENTS, ' +
      'once per review, review comment, PR comment or failing check stored from an open pull request, with the ' +
      'triage (actionable or not, and why). Additive fields may appear within v1. See docs/events.md.',
    schema: FeedbackTriagedEvent,
  },
  {
    name: ProgressEvent.shape.schema.value,
    title: 'ProgressEvent',
    description:
      'Public event published best-effort on `remediation.evt.v1.<tenant>.progress.<step>` in the JetStream stream ' +
      'REMEDIATION_EVENTS: a heartbeat of a running step that the history records (clone progress, agent tool calls), ' +
      'at most once a second per step attempt plus every named event. Not transactional: one may be missing. ' +
      'Additive fields may appear within v1. See docs/events.md.',
    schema: ProgressEvent,
  },
  {
    name: 'remediation.command.v1',
    title: 'CommandPayload',
    description:
      'Command published on `remediation.cmd.v1.<kind>` in the work-queue stream REMEDIATION_COMMANDS (internal to ' +
      'the remediation services; versioned like the events). Carries ids only, never patch contents.',
    schema: CommandPayload,
  },
  {
    name: `remediation.planner-output.v${PlannerOutput.shape.schemaVersion.value}`,
    title: 'PlannerOutput',
    description:
      "The planner's structured output (targets, upgrade tiers, transitive findings), stored when a plan " +
      'execution reaches `plan_generated`; returned as `plan` by `GET /v1/remediations/:id`.',
    schema: PlannerOutput,
  },
];

/** Leading keywords, in this order; all other keys follow alphabetically. */
const LEADING_KEYS = ['$schema', '$id', 'title', 'description', 'type'];
/** Keywords whose members are names chosen by the contract: keep their declaration order. */
const NAME_MAPS = new Set(['properties', 'patternProperties', '$defs', 'definitions']);

function orderKeys(value: unknown, keepOrder = false): unknown {
  if (Array.isArray(value)) return value.map((v) => orderKeys(v));
  if (value === null || typeof value !== 'object') return value;
  const keys = Object.keys(value);
  if (!keepOrder) {
    keys.sort((a, b) => {
      const ia = LEADING_KEYS.indexOf(a);
      const ib = LEADING_KEYS.indexOf(b);
      if (ia !== -1 || ib !== -1) return (ia === -1 ? Infinity : ia) - (ib === -1 ? Infinity : ib);
      return a < b ? -1 : a > b ? 1 : 0;
    });
  }
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    const child = (value as Record<string, unknown>)[k];
    // Under a name map the members are schemas (sorted keywords); the map itself keeps its order.
    out[k] = keepOrder ? orderKeys(child) : orderKeys(child, NAME_MAPS.has(k));
  }
  return out;
}

/** The JSON Schema document of one contract. */
function buildSchema(doc: ContractDoc): Record<string, unknown> {
  const generated = z.toJSONSchema(doc.schema, {
    target: 'draft-2020-12',
    io: 'output',
    unrepresentable: 'throw',
    override: ({ zodSchema, jsonSchema }) => {
      const def = zodSchema._zod.def as { type: string; catchall?: unknown };
      // zod strips unknown keys of a plain z.object(): they are allowed, not an error.
      if (def.type === 'object' && def.catchall === undefined && jsonSchema.additionalProperties === false) {
        delete jsonSchema.additionalProperties;
      }
    },
  }) as Record<string, unknown>;
  return orderKeys({
    ...generated,
    $id: `${SCHEMA_BASE_URI}${doc.name}.json`,
    title: doc.title,
    description: doc.description,
  }) as Record<string, unknown>;
}

/** File name (inside docs/schemas) → exact file content. */
function generateContractDocs(): Map<string, string> {
  const files = new Map<string, string>();
  for (const doc of CONTRACTS) {
    const file = `${doc.name}${SUFFIX}`;
    if (files.has(file)) throw new Error(`two contracts map to ${file}`);
    files.set(file, `${JSON.stringify(buildSchema(doc), null, 2)}\n`);
  }
  return files;
}

function existingSchemaFiles(): string[] {
  if (!existsSync(schemaDir)) return [];
  return readdirSync(schemaDir)
    .filter((f) => f.endsWith(SUFFIX))
    .sort();
}

function firstDifference(a: string, b: string): string {
  const la = a.split('\n');
  const lb = b.split('\n');
  for (let i = 0; i < Math.max(la.length, lb.length); i++) {
    if (la[i] !== lb[i]) {
      return `line ${i + 1}: committed ${JSON.stringify(la[i] ?? '<end of file>')}, generated ${JSON.stringify(lb[i] ?? '<end of file>')}`;
    }
  }
  return 'identical';
}

function check(files: Map<string, string>): number {
  const problems: string[] = [];
  for (const [file, content] of files) {
    const path = join(schemaDir, file);
    const rel = relative(repoRoot, path);
    if (!existsSync(path)) {
      problems.push(`${rel}: missing`);
      continue;
    }
    const current = readFileSync(path, 'utf8');
    if (current !== content) problems.push(`${rel}: out of date (${firstDifference(current, content)})`);
  }
  for (const file of existingSchemaFiles()) {
    if (!files.has(file)) problems.push(`${relative(repoRoot, join(schemaDir, file))}: not generated from any contract (stale)`);
  }
  if (problems.length > 0) {
    process.stderr.write(
      `generate-contract-docs --check: the JSON Schemas in docs/schemas do not match the zod contracts in libs/contracts:\n` +
        problems.map((p) => `  - ${p}\n`).join('') +
        `Run \`${REGENERATE}\` and commit docs/schemas (and review docs/events.md).\n`,
    );
    return 1;
  }
  process.stdout.write(`generate-contract-docs --check: ${files.size} schema(s) up to date\n`);
  return 0;
}

function write(files: Map<string, string>): number {
  mkdirSync(schemaDir, { recursive: true });
  for (const [file, content] of files) {
    const path = join(schemaDir, file);
    const rel = relative(repoRoot, path);
    if (existsSync(path) && readFileSync(path, 'utf8') === content) {
      process.stdout.write(`unchanged ${rel}\n`);
    } else {
      writeFileSync(path, content);
      process.stdout.write(`wrote     ${rel}\n`);
    }
  }
  for (const file of existingSchemaFiles()) {
    if (!files.has(file)) {
      rmSync(join(schemaDir, file));
      process.stdout.write(`removed   ${relative(repoRoot, join(schemaDir, file))} (stale)\n`);
    }
  }
  return 0;
}

function main(argv: string[]): number {
  const unknown = argv.filter((a) => a !== '--check');
  if (unknown.length > 0) {
    process.stderr.write(`generate-contract-docs: unknown argument(s) ${unknown.join(' ')}; usage: ${REGENERATE} [--check]\n`);
    return 2;
  }
  const files = generateContractDocs();
  return argv.includes('--check') ? check(files) : write(files);
}

process.exitCode = main(process.argv.slice(2));
