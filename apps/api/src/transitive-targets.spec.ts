import { describe, expect, it } from 'vitest';
import type { PlannerOutput, TransitiveFixOption } from '@remediation/contracts';
import { transitiveTargets } from './handlers/remediations.js';

/** The tier decides which of a transitive finding's choices becomes the target's fix (decisions 0016, 0017). */
const option = (to: string, jump: TransitiveFixOption['jump']): TransitiveFixOption => ({
  kind: 'override',
  name: 'cookie',
  from: '0.4.1',
  to,
  jump,
  breakingChangeRisk: jump === 'major' ? 'high' : 'low',
  path: ['express-session', 'cookie'],
  notes: [],
  mechanism: 'overrides',
});
const finding = (choices: Partial<Record<'minimal' | 'moderate' | 'comprehensive', TransitiveFixOption | null>>) =>
  ({
    targets: [],
    transitive: [{ purl: 'pkg:npm/cookie@0.4.1', name: 'cookie', version: '0.4.1', advisories: ['GHSA-pxg6-pf52-xh8x'], via: ['express-session'], ...choices }],
  }) as unknown as PlannerOutput;

describe('transitiveTargets', () => {
  const plan = finding({ minimal: option('0.7.0', 'minor'), moderate: option('0.7.2', 'minor'), comprehensive: option('1.0.2', 'major') });

  it('takes the plan choice of the requested tier', () => {
    expect(transitiveTargets(plan, ['cookie'], new Set(), 'minimal')[0]).toMatchObject({ toVersion: '0.7.0', status: 'pending', needsAgent: false });
    expect(transitiveTargets(plan, ['cookie'], new Set(), 'moderate')[0]).toMatchObject({ toVersion: '0.7.2', status: 'pending' });
    expect(transitiveTargets(plan, ['cookie'], new Set(), 'comprehensive')[0]).toMatchObject({ toVersion: '1.0.2', status: 'pending', needsAgent: true });
  });

  it('a tier without a choice skips the target with the reason; a plan without per-tier choices gives minimal', () => {
    const none = finding({ minimal: option('0.7.0', 'minor'), moderate: option('0.7.0', 'minor'), comprehensive: null });
    expect(transitiveTargets(none, ['cookie'], new Set(), 'comprehensive')[0]).toMatchObject({ status: 'skipped', reason: expect.stringContaining('no fix option in the comprehensive tier') });
    const old = finding({ minimal: option('0.7.0', 'minor') });
    expect(transitiveTargets(old, ['cookie'], new Set(), 'moderate')[0]).toMatchObject({ toVersion: '0.7.0', status: 'pending' });
  });

  it('is never chosen unless named, and a direct target of that name wins', () => {
    expect(transitiveTargets(plan, [], new Set(), 'minimal')).toEqual([]);
    expect(transitiveTargets(plan, ['cookie'], new Set(['cookie']), 'minimal')).toEqual([]);
  });
});
