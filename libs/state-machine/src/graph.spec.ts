import { describe, expect, it } from 'vitest';
import { PatchState, PlanState } from '@remediation/contracts';
import { stateGraph } from './graph.js';

describe('stateGraph: the moves of transition(), for drawing', () => {
  it('derives the plan machine exactly', () => {
    const g = stateGraph('plan');
    expect(g.initial).toBe('planner_running');
    expect(g.states).toEqual(PlanState.options);
    expect(g.edges).toEqual([
      { from: 'planner_running', to: 'plan_generated', events: ['plan.completed'] },
      { from: 'planner_running', to: 'planner_failed', events: ['plan.failed', 'step.abandoned'] },
      { from: 'planner_running', to: 'planner_cancelled', events: ['cancel.requested'] },
      { from: 'planner_failed', to: 'planner_running', events: ['retry.requested'] },
    ]);
  });

  it('reaches every patch state from patch_running, and ends nowhere from merged, closed or cancelled', () => {
    const g = stateGraph('patch');
    expect(g.initial).toBe('patch_running');
    expect(g.states).toEqual(PatchState.options);
    const reached = new Set([g.initial]);
    for (let grew = true; grew; ) {
      grew = false;
      for (const e of g.edges) {
        if (e.from && reached.has(e.from) && !reached.has(e.to)) {
          reached.add(e.to);
          grew = true;
        }
      }
    }
    expect([...reached].sort()).toEqual([...PatchState.options].sort());
    for (const end of ['pr_merged', 'pr_closed', 'patch_cancelled']) expect(g.edges.filter((e) => e.from === end)).toEqual([]);
    expect(g.edges).toContainEqual({ from: 'pr_opened', to: 'changes_requested', events: ['feedback.received'] });
    expect(g.edges).toContainEqual({ from: 'pr_opened', to: 'pr_merged', events: ['pull_request.closed'] });
    // Step changes inside a state are not moves between states.
    expect(g.edges.some((e) => e.from === e.to)).toBe(false);
  });
});
