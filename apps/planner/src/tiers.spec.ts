import { describe, expect, it } from 'vitest';
import { breakingChangeRisk, chooseTiers, jumpNotes, jumpSize } from './tiers.js';

describe('jumpSize (contracts JumpSize: semver + caret rules)', () => {
  it.each([
    ['1.20.2', '1.20.3', 'patch'],
    ['1.15.0', '1.16.0', 'minor'],
    ['1.15.0', '2.0.0', 'major'],
    ['0.1.7', '0.1.10', 'patch'],
    ['0.6.0', '0.7.0', 'major'],
    ['0.18.0', '1.2.1', 'major'],
    ['0.0.3', '0.0.4', 'minor'],
    ['1.0.0-beta.1', '1.0.0', 'patch'],
  ] as const)('%s → %s is %s', (from, to, expected) => {
    expect(jumpSize(from, to)).toBe(expected);
  });
});

describe('breakingChangeRisk', () => {
  it('is high for major, medium for a 0.0.z minor, low otherwise', () => {
    expect(breakingChangeRisk('major', '1.0.0')).toBe('high');
    expect(breakingChangeRisk('minor', '0.0.3')).toBe('medium');
    expect(breakingChangeRisk('minor', '1.15.0')).toBe('low');
    expect(breakingChangeRisk('patch', '1.20.2')).toBe('low');
  });
});

describe('jumpNotes', () => {
  it('notes crossing the 0.x major line only', () => {
    expect(jumpNotes('0.6.0', '0.7.0')).toEqual(['crosses the 0.x major line (0.6.x → 0.7.x)']);
    expect(jumpNotes('1.0.0', '2.0.0')).toEqual([]);
  });
});

describe('chooseTiers', () => {
  const versions = {
    name: 'pkg',
    versions: ['1.0.0', '1.0.1', '1.1.0', '1.2.0', '1.3.0', '2.0.0-rc.1', '2.0.0', '2.1.0'],
    distTags: { latest: '2.1.0' },
    deprecated: new Set(['1.3.0']),
  };

  it('skips prereleases and deprecated versions; moderate stays on the caret line', () => {
    // Affected below 1.1.0 and on exactly 2.0.0.
    const choice = chooseTiers('1.0.0', versions, (v) => v !== '1.0.0' && v !== '1.0.1' && v !== '2.0.0');
    expect(choice.candidates).toEqual(['1.0.1', '1.1.0', '1.2.0', '2.0.0', '2.1.0']);
    expect(choice).toMatchObject({ minimal: '1.1.0', moderate: '1.2.0', moderateFellBack: false, comprehensive: '2.1.0' });
  });

  it('falls back to minimal when the line has no fix, and drops comprehensive when the newest is affected', () => {
    const choice = chooseTiers('1.0.0', versions, (v) => v === '2.0.0');
    expect(choice).toMatchObject({ minimal: '2.0.0', moderate: '2.0.0', moderateFellBack: true, comprehensive: null });
  });

  it('has nothing when no candidate is fixed', () => {
    expect(chooseTiers('1.0.0', versions, () => false)).toMatchObject({ minimal: null, moderate: null, comprehensive: null });
  });
});
