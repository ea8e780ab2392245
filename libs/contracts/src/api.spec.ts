import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { CreateExecutionRequest, ExecutionResponse, IterationReason, PushInstruction } from './index.js';

describe('CreateExecutionRequest: `tier`, and `upgradeOption` as its v1 alias', () => {
  it('accepts either name (or both, agreeing) and means the same: the parsed body has `tier` only', () => {
    const byTier = CreateExecutionRequest.parse({ tier: 'moderate', targets: ['cookie'] });
    const byAlias = CreateExecutionRequest.parse({ upgradeOption: 'moderate', targets: ['cookie'] });
    const both = CreateExecutionRequest.parse({ tier: 'moderate', upgradeOption: 'moderate', targets: ['cookie'] });
    expect(byTier).toEqual({ tier: 'moderate', targets: ['cookie'], asDraft: false, allowEdits: [] });
    expect(byAlias).toEqual(byTier);
    expect(both).toEqual(byTier);
    expect('upgradeOption' in byAlias).toBe(false);
  });

  it('refuses a body without a tier, or whose two names disagree, naming the field', () => {
    const none = CreateExecutionRequest.safeParse({ targets: ['cookie'] });
    expect(none.success).toBe(false);
    expect(none.error!.issues).toEqual([expect.objectContaining({ path: ['tier'], message: expect.stringContaining('tier is required') })]);
    const disagree = CreateExecutionRequest.safeParse({ tier: 'minimal', upgradeOption: 'comprehensive' });
    expect(disagree.success).toBe(false);
    expect(disagree.error!.issues).toEqual([expect.objectContaining({ path: ['upgradeOption'], message: expect.stringContaining('alias of tier') })]);
    expect(CreateExecutionRequest.safeParse({ tier: 'maximal' }).success).toBe(false);
  });

  it('documents the alias in the request and response schemas (what OpenAPI shows)', () => {
    const request = z.toJSONSchema(CreateExecutionRequest, { io: 'input' }) as { properties: Record<string, { description?: string }>; required?: string[] };
    expect(Object.keys(request.properties)).toEqual(expect.arrayContaining(['tier', 'upgradeOption']));
    expect(request.properties['upgradeOption']!.description).toMatch(/Alias of `tier`/);
    expect(request.required ?? []).not.toContain('upgradeOption');
    const response = z.toJSONSchema(ExecutionResponse, { io: 'output' }) as { properties: Record<string, { description?: string }>; required: string[] };
    expect(response.required).toEqual(expect.arrayContaining(['tier', 'upgradeOption', 'iterations']));
    expect(response.properties['upgradeOption']!.description).toMatch(/Alias of `tier`/);
  });
});

describe('iterations and push instructions', () => {
  it('names the three reasons an iteration starts', () => {
    expect(IterationReason.options).toEqual(['review', 'user_feedback', 'rebase_reapply']);
  });

  it('a push instruction names a version and what a conflicting base leads to', () => {
    expect(PushInstruction.parse({ patchVersion: 2, onConflict: 'reapply' })).toEqual({ patchVersion: 2, onConflict: 'reapply' });
    expect(PushInstruction.safeParse({ patchVersion: 0, onConflict: 'fail' }).success).toBe(false);
    expect(PushInstruction.safeParse({ patchVersion: 1, onConflict: 'ignore' }).success).toBe(false);
  });
});
