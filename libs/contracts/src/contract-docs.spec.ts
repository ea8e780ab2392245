import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '@remediation/testing';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { ExecutionEvent, ExecutionState } from './index.js';

/**
 * The published contract docs (docs/schemas/*.schema.json, docs/events.md) match the zod
 * contracts: the generator's check mode passes, and real-shaped events validate against the
 * committed JSON Schema.
 */

const schemaPath = join(repoRoot, 'docs/schemas/remediation.execution.v1.schema.json');
const eventsDocPath = join(repoRoot, 'docs/events.md');

function compileEventSchema() {
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  addFormatsModule.default(ajv);
  return ajv.compile(JSON.parse(readFileSync(schemaPath, 'utf8')) as object);
}

/** The example payload of docs/events.md (the JSON block after `<!-- example-event -->`). */
function docExample(): unknown {
  const m = /<!-- example-event -->\s*```json\n([\s\S]*?)```/.exec(readFileSync(eventsDocPath, 'utf8'));
  if (!m) throw new Error('docs/events.md has no ```json block after <!-- example-event -->');
  return JSON.parse(m[1]!);
}

const patchGenerated = {
  schema: 'remediation.execution.v1',
  remediationId: 'rem_0mwqipoezi2w3g9j',
  executionId: 'rem_0mwqipoezi2w3g9j.patch.2',
  kind: 'patch',
  from: 'patch_running',
  to: 'patch_generated',
  step: null,
  at: '2026-11-21T14:43:19.145Z',
  patchVersion: { version: 1, ref: 'refs/remediations/rem_0mwqipoezi2w3g9j/patch.2/v1', sha: '3d923205a88389ae1d42eec3c3185de344498f3a' },
};

describe('contract docs', () => {
  it('docs/schemas is what scripts/generate-contract-docs.ts generates (--check exits 0)', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/generate-contract-docs.ts', '--check'], {
      cwd: repoRoot,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.error).toBeUndefined();
    expect(r.status, `generator --check failed:\n${r.stderr}${r.stdout}`).toBe(0);
  });

  it('an ExecutionEvent validates against the generated JSON Schema, as with zod', () => {
    const validate = compileEventSchema();
    expect(ExecutionEvent.parse(patchGenerated)).toEqual(patchGenerated);
    expect(validate(patchGenerated), JSON.stringify(validate.errors)).toBe(true);

    const { patchVersion: _patchVersion, ...base } = patchGenerated;
    const created = { ...base, from: null, to: 'patch_running', step: 'workspace' };
    expect(validate(created), JSON.stringify(validate.errors)).toBe(true);
    const failed = { ...created, from: 'patch_running', to: 'patch_failed', step: null, error: { code: 'NO_TARGET_PATCHED', message: 'no target could be patched' } };
    expect(validate(failed), JSON.stringify(validate.errors)).toBe(true);
  });

  it('the schema rejects what the contract rejects and allows additive fields', () => {
    const validate = compileEventSchema();
    const { to: _to, ...withoutTo } = patchGenerated;
    expect(validate(withoutTo)).toBe(false);
    expect(validate({ ...patchGenerated, to: 'not_a_state' })).toBe(false);
    expect(validate({ ...patchGenerated, schema: 'remediation.execution.v2' })).toBe(false);
    expect(validate({ ...patchGenerated, patchVersion: { ...patchGenerated.patchVersion, sha: 'abc' } })).toBe(false);
    // v1 may gain optional fields: consumers validating with this schema must keep accepting events.
    expect(validate({ ...patchGenerated, someFutureField: { x: 1 } })).toBe(true);
    expect(ExecutionEvent.safeParse({ ...patchGenerated, someFutureField: 1 }).success).toBe(true);
  });

  it('the example payload in docs/events.md is a valid ExecutionEvent', () => {
    const example = docExample();
    expect(ExecutionEvent.safeParse(example).error).toBeUndefined();
    const validate = compileEventSchema();
    expect(validate(example), JSON.stringify(validate.errors)).toBe(true);
  });

  it('docs/events.md documents the subject of every ExecutionState', () => {
    const doc = readFileSync(eventsDocPath, 'utf8');
    const undocumented = ExecutionState.options.filter((s) => !new RegExp(`^\\| \`${s}\` \\|`, 'm').test(doc));
    expect(undocumented, 'add a row to the subjects table of docs/events.md').toEqual([]);
  });
});
