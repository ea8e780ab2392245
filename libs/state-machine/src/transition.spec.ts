import { describe, expect, it } from 'vitest';
import { InvalidTransitionError } from '@remediation/errors';
import { type ExecutionSnapshot, type MachineEvent, can, transition } from './transition.js';

const AT = '2026-11-21T00:00:00.000Z';
const plan: ExecutionSnapshot = { tenant: 'acme', remediationId: 'rem_a', executionId: 'rem_a.plan.1', kind: 'plan', state: null, step: null };
const patch: ExecutionSnapshot = { ...plan, executionId: 'rem_a.patch.2', kind: 'patch' };
const sha = 'a'.repeat(40);

function run(start: ExecutionSnapshot, events: MachineEvent[]) {
  let s = start;
  const all = [];
  for (const e of events) {
    const r = transition(s, e, AT);
    s = r.next;
    all.push(...r.effects);
  }
  return { s, effects: all };
}

describe('plan executions', () => {
  it('requested → planner_running with a plan.run command and an event', () => {
    const r = transition(plan, { type: 'plan.requested' }, AT);
    expect(r.next).toMatchObject({ state: 'planner_running', step: 'planning' });
    expect(r.effects.map((e) => e.subject)).toEqual([
      'remediation.cmd.v1.plan.run.rem_a.plan.1',
      'remediation.evt.v1.acme.execution.planner_running',
    ]);
    expect(r.effects[0]!.payload).toMatchObject({ kind: 'plan.run', executionId: 'rem_a.plan.1', remediationId: 'rem_a' });
  });

  it('completes or fails from planner_running only', () => {
    const running = transition(plan, { type: 'plan.requested' }, AT).next;
    expect(transition(running, { type: 'plan.completed' }, AT).next.state).toBe('plan_generated');
    const failed = transition(running, { type: 'plan.failed', error: { code: 'SCAN_INVALID', message: 'bad' } }, AT);
    expect(failed.next.state).toBe('planner_failed');
    expect(failed.effects[0]!.payload).toMatchObject({ error: { code: 'SCAN_INVALID' } });
    const done = transition(running, { type: 'plan.completed' }, AT).next;
    expect(() => transition(done, { type: 'plan.completed' }, AT)).toThrow(InvalidTransitionError);
  });

  it('refuses patch events on a plan execution', () => {
    expect(can(plan, { type: 'patch.requested' })).toBe(false);
  });
});

describe('patch executions', () => {
  const happy: MachineEvent[] = [
    { type: 'patch.requested' },
    { type: 'workspace.ready', baseCommit: sha },
    { type: 'patch.applied', changedTargets: 3 },
    { type: 'patch.committed', patchVersion: { version: 1, ref: 'refs/remediations/rem_a/patch.2/v1', sha } },
  ];

  it('walks workspace → editing → committing → patch_generated, one command per step', () => {
    const { s, effects } = run(patch, happy);
    expect(s).toMatchObject({ state: 'patch_generated', step: null });
    expect(effects.filter((e) => e.type === 'command').map((e) => e.subject)).toEqual([
      'remediation.cmd.v1.workspace.prepare.rem_a.patch.2',
      'remediation.cmd.v1.patch.apply.rem_a.patch.2',
      'remediation.cmd.v1.patch.commit.rem_a.patch.2',
    ]);
    // Events only when the state changes, not on step changes.
    expect(effects.filter((e) => e.type === 'event').map((e) => e.subject)).toEqual([
      'remediation.evt.v1.acme.execution.patch_running',
      'remediation.evt.v1.acme.execution.patch_generated',
    ]);
    const last = effects.at(-1)!;
    expect(last.payload).toMatchObject({ patchVersion: { version: 1, sha } });
  });

  it('fails the patch when no target changed', () => {
    const { s, effects } = run(patch, [...happy.slice(0, 2), { type: 'patch.applied', changedTargets: 0 }]);
    expect(s.state).toBe('patch_failed');
    expect(effects.at(-1)!.payload).toMatchObject({ error: { code: 'NO_TARGET_PATCHED' } });
    const declined = run(patch, [...happy.slice(0, 2), { type: 'patch.applied', changedTargets: 0, reason: { code: 'PARTIAL_SUCCESS_DECLINED', message: 'nothing shipped: x' } }]);
    expect(declined.effects.at(-1)!.payload).toMatchObject({ error: { code: 'PARTIAL_SUCCESS_DECLINED', message: 'nothing shipped: x' } });
  });

  it('refuses out-of-order steps (a stale redelivery cannot apply twice)', () => {
    const { s } = run(patch, happy.slice(0, 2));
    expect(() => transition(s, { type: 'workspace.ready', baseCommit: sha }, AT)).toThrow(/not allowed.*step editing/);
    expect(() => transition(s, happy[3]!, AT)).toThrow(InvalidTransitionError);
  });

  it('opens a pull request: push then open, and can retry after pr_failed', () => {
    const generated = run(patch, happy).s;
    const { s, effects } = run(generated, [
      { type: 'pull_request.requested', pullRequestId: 'pr1', patchVersion: 1 },
      { type: 'branch.pushed', pullRequestId: 'pr1' },
      { type: 'pull_request.failed', pullRequestId: 'pr1', error: { code: 'X', message: 'y' } },
      { type: 'pull_request.requested', pullRequestId: 'pr2', patchVersion: 1 },
      { type: 'branch.pushed', pullRequestId: 'pr2' },
      { type: 'pull_request.opened', pullRequestId: 'pr2', number: 7, url: 'http://x/pull/7' },
    ]);
    expect(s.state).toBe('pr_opened');
    const commands = effects.filter((e) => e.type === 'command').map((e) => [e.subject, e.payload.pullRequestId]);
    expect(commands).toEqual([
      ['remediation.cmd.v1.branch.push.rem_a.patch.2', 'pr1'],
      ['remediation.cmd.v1.pull_request.open.rem_a.patch.2', 'pr1'],
      ['remediation.cmd.v1.branch.push.rem_a.patch.2', 'pr2'],
      ['remediation.cmd.v1.pull_request.open.rem_a.patch.2', 'pr2'],
    ]);
    expect(effects.at(-1)!.payload).toMatchObject({ to: 'pr_opened', pullRequest: { number: 7 } });
    // The push is an instruction: the approved version, and a conflicting base fails the step.
    expect(effects.find((e) => e.type === 'command')!.payload).toMatchObject({ kind: 'branch.push', push: { patchVersion: 1, onConflict: 'fail' } });
    expect(can(s, { type: 'pull_request.requested', pullRequestId: 'pr3', patchVersion: 1 })).toBe(false);
  });

  it('cannot request a PR before the patch exists', () => {
    const running = transition(patch, { type: 'patch.requested' }, AT).next;
    expect(can(running, { type: 'pull_request.requested', pullRequestId: 'p', patchVersion: 1 })).toBe(false);
  });
});

describe('retry, cancel and abandon', () => {
  const sha2 = 'b'.repeat(40);
  const failAt = (events: MachineEvent[]) => run(patch, events).s;

  it('retry resumes a failed patch at the step that failed, with that step\'s command', () => {
    const failed = failAt([
      { type: 'patch.requested' },
      { type: 'workspace.ready', baseCommit: sha2 },
      { type: 'patch.applied', changedTargets: 2 },
      { type: 'patch.failed', error: { code: 'GIT', message: 'disk full' } },
    ]);
    expect(failed).toMatchObject({ state: 'patch_failed', failedStep: 'committing' });
    const r = transition(failed, { type: 'retry.requested' }, AT);
    expect(r.next).toMatchObject({ state: 'patch_running', step: 'committing', failedStep: null });
    expect(r.effects.map((e) => e.subject)).toEqual(['remediation.cmd.v1.patch.commit.rem_a.patch.2', 'remediation.evt.v1.acme.execution.patch_running']);
  });

  it('retry of a failed pull request resumes pushing or opening with the same pull request', () => {
    const generated = run(patch, [
      { type: 'patch.requested' },
      { type: 'workspace.ready', baseCommit: sha2 },
      { type: 'patch.applied', changedTargets: 1 },
      { type: 'patch.committed', patchVersion: { version: 1, ref: 'r', sha: sha2 } },
    ]).s;
    const failed = run(generated, [
      { type: 'pull_request.requested', pullRequestId: 'pr1', patchVersion: 1 },
      { type: 'branch.pushed', pullRequestId: 'pr1' },
      { type: 'pull_request.failed', pullRequestId: 'pr1', error: { code: 'X', message: 'y' } },
    ]).s;
    expect(failed).toMatchObject({ state: 'pr_failed', failedStep: 'opening' });
    const r = transition({ ...failed, pullRequestId: 'pr1' }, { type: 'retry.requested' }, AT);
    expect(r.next).toMatchObject({ state: 'pr_opening', step: 'opening' });
    expect(r.effects[0]).toMatchObject({ subject: 'remediation.cmd.v1.pull_request.open.rem_a.patch.2', payload: { pullRequestId: 'pr1' } });
  });

  it('retry of a failed push pushes the version the pull request was requested with', () => {
    const failed = run(patch, [
      { type: 'patch.requested' },
      { type: 'workspace.ready', baseCommit: sha2 },
      { type: 'patch.applied', changedTargets: 1 },
      { type: 'patch.committed', patchVersion: { version: 1, ref: 'r', sha: sha2 } },
      { type: 'pull_request.requested', pullRequestId: 'pr1', patchVersion: 1 },
      { type: 'pull_request.failed', pullRequestId: 'pr1', error: { code: 'BRANCH_NOT_OURS', message: 'y' } },
    ]).s;
    expect(failed).toMatchObject({ state: 'pr_failed', failedStep: 'pushing' });
    const r = transition({ ...failed, pullRequestId: 'pr1', pullRequestVersion: 1 }, { type: 'retry.requested' }, AT);
    expect(r.next).toMatchObject({ state: 'pr_opening', step: 'pushing' });
    expect(r.effects[0]).toMatchObject({ subject: 'remediation.cmd.v1.branch.push.rem_a.patch.2', payload: { pullRequestId: 'pr1', push: { patchVersion: 1, onConflict: 'fail' } } });
    // Without the pull request's version there is nothing explicit to push: refused.
    expect(can({ ...failed, pullRequestId: 'pr1' }, { type: 'retry.requested' })).toBe(false);
  });

  it('retry of a plan restarts planning; retry is refused unless failed', () => {
    const failed = run(plan, [{ type: 'plan.requested' }, { type: 'plan.failed', error: { code: 'R', message: 'x' } }]).s;
    expect(transition(failed, { type: 'retry.requested' }, AT).next).toMatchObject({ state: 'planner_running', step: 'planning' });
    const running = transition(plan, { type: 'plan.requested' }, AT).next;
    expect(can(running, { type: 'retry.requested' })).toBe(false);
  });

  it('cancel stops running executions only; a cancelled patch releases its workspace', () => {
    const running = transition(patch, { type: 'patch.requested' }, AT).next;
    const r = transition(running, { type: 'cancel.requested', reason: 'no longer needed' }, AT);
    expect(r.next.state).toBe('patch_cancelled');
    expect(r.effects.map((e) => e.subject)).toEqual(['remediation.cmd.v1.workspace.release.rem_a.patch.2', 'remediation.evt.v1.acme.execution.patch_cancelled']);
    expect(r.effects[1]!.payload).toMatchObject({ error: { code: 'CANCELLED', message: 'no longer needed' } });
    const planRunning = transition(plan, { type: 'plan.requested' }, AT).next;
    expect(transition(planRunning, { type: 'cancel.requested', reason: 'x' }, AT).next.state).toBe('planner_cancelled');
    expect(can(r.next, { type: 'cancel.requested', reason: 'again' })).toBe(false);
  });

  it('an abandoned step fails the run where it was, so retry can resume there', () => {
    const editing = run(patch, [{ type: 'patch.requested' }, { type: 'workspace.ready', baseCommit: sha2 }]).s;
    const r = transition(editing, { type: 'step.abandoned', error: { code: 'STALE_STEP', message: 'no heartbeat' } }, AT);
    expect(r.next).toMatchObject({ state: 'patch_failed', failedStep: 'editing' });
    expect(can(r.next, { type: 'step.abandoned', error: { code: 'X', message: 'y' } })).toBe(false);
  });
});

describe('feedback iterations', () => {
  const generated = run(patch, [
    { type: 'patch.requested' },
    { type: 'workspace.ready', baseCommit: sha },
    { type: 'patch.applied', changedTargets: 1 },
    { type: 'patch.committed', patchVersion: { version: 1, ref: 'r', sha } },
  ]).s;

  it('feedback on a generated patch re-enters editing with a patch.apply command', () => {
    const r = transition(generated, { type: 'feedback.received', iteration: 2 }, AT);
    expect(r.next).toMatchObject({ state: 'patch_running', step: 'editing' });
    expect(r.effects.map((e) => e.subject)).toEqual(['remediation.cmd.v1.patch.apply.rem_a.patch.2', 'remediation.evt.v1.acme.execution.patch_running']);
    // The iteration then commits the next version like the first one.
    const next = run(r.next, [{ type: 'patch.applied', changedTargets: 1 }, { type: 'patch.committed', patchVersion: { version: 2, ref: 'r2', sha } }]).s;
    expect(next.state).toBe('patch_generated');
  });

  it('refuses feedback while running or before any version exists', () => {
    const running = transition(patch, { type: 'patch.requested' }, AT).next;
    expect(can(running, { type: 'feedback.received', iteration: 2 })).toBe(false);
    expect(can(patch, { type: 'feedback.received', iteration: 2 })).toBe(false);
  });
});

describe('keeping an open pull request up to date', () => {
  const opened = run(patch, [
    { type: 'patch.requested' },
    { type: 'workspace.ready', baseCommit: sha },
    { type: 'patch.applied', changedTargets: 1 },
    { type: 'patch.committed', patchVersion: { version: 1, ref: 'r', sha } },
    { type: 'pull_request.requested', pullRequestId: 'pr1', patchVersion: 1 },
    { type: 'branch.pushed', pullRequestId: 'pr1' },
    { type: 'pull_request.opened', pullRequestId: 'pr1', number: 7, url: 'u' },
  ]).s;
  const at = { ...opened, pullRequestId: 'pr1', pullRequestVersion: 1 };
  const commands = (effects: readonly { type: string; subject: string }[]) => effects.filter((e) => e.type === 'command').map((e) => e.subject.split('.').slice(3, 5).join('.'));

  it('actionable feedback: changes_requested → edit, commit, push, update → pr_opened', () => {
    const { s, effects } = run(at, [
      { type: 'feedback.received', iteration: 2 },
      { type: 'patch.applied', changedTargets: 1 },
      { type: 'patch.committed', patchVersion: { version: 2, ref: 'r2', sha } },
      { type: 'branch.pushed', pullRequestId: 'pr1' },
      { type: 'pull_request.updated', pullRequestId: 'pr1' },
    ]);
    expect(s).toMatchObject({ state: 'pr_opened', step: null });
    expect(commands(effects)).toEqual(['patch.apply', 'patch.commit', 'branch.push', 'pull_request.update']);
    expect(effects.filter((e) => e.type === 'command').slice(2).every((e) => e.payload.pullRequestId === 'pr1')).toBe(true);
    // The review's version is pushed; a conflicting base fails the update (the PR keeps its version).
    expect(effects.find((e) => e.subject.includes('branch.push'))!.payload).toMatchObject({ push: { patchVersion: 2, onConflict: 'fail' } });
    expect(effects.filter((e) => e.type === 'event').map((e) => e.payload.to)).toEqual(['changes_requested', 'pr_opened']);
  });

  it('base moved: pr_updating pushes the rebased version; a conflict re-applies the patch from a fresh workspace', () => {
    const rebased = run(at, [{ type: 'rebase.requested', reason: 'main moved' }, { type: 'branch.pushed', pullRequestId: 'pr1' }, { type: 'pull_request.updated', pullRequestId: 'pr1' }]);
    expect(rebased.s.state).toBe('pr_opened');
    expect(commands(rebased.effects)).toEqual(['branch.push', 'pull_request.update']);
    const conflicted = run(at, [
      { type: 'rebase.requested', reason: 'main moved' },
      { type: 'rebase.conflicted', error: { code: 'REBASE_CONFLICT', message: 'package.json' }, iteration: 2 },
      { type: 'workspace.ready', baseCommit: 'c'.repeat(40) },
      { type: 'patch.applied', changedTargets: 1 },
      { type: 'patch.committed', patchVersion: { version: 2, ref: 'r2', sha } },
      { type: 'branch.pushed', pullRequestId: 'pr1' },
      { type: 'pull_request.updated', pullRequestId: 'pr1' },
    ]);
    expect(conflicted.s.state).toBe('pr_opened');
    expect(commands(conflicted.effects)).toEqual(['branch.push', 'workspace.prepare', 'patch.apply', 'patch.commit', 'branch.push', 'pull_request.update']);
    // pr_updating pushes the PR's version, then the re-applied one; a conflict there re-applies.
    const pushes = conflicted.effects.filter((e) => e.subject.includes('branch.push')).map((e) => (e.payload as { push?: unknown }).push);
    expect(pushes).toEqual([{ patchVersion: 1, onConflict: 'reapply' }, { patchVersion: 2, onConflict: 'reapply' }]);
    // Without the PR's version the machine cannot say what to push: the rebase is refused.
    expect(can({ ...at, pullRequestVersion: null }, { type: 'rebase.requested', reason: 'main moved' })).toBe(false);
  });

  it('a failed update leaves the PR open with a comment saying why (rebase_failed for a rebase)', () => {
    const r = run(at, [{ type: 'rebase.requested', reason: 'x' }, { type: 'rebase.conflicted', error: { code: 'REBASE_CONFLICT', message: 'c' }, iteration: 2 }]).s;
    const failed = transition(r, { type: 'patch.failed', error: { code: 'NO_TARGET_PATCHED', message: 'nothing to re-apply' } }, AT);
    expect(failed.next).toMatchObject({ state: 'pr_opened', step: null });
    expect(failed.effects[0]).toMatchObject({ subject: 'remediation.cmd.v1.pull_request.comment.rem_a.patch.2', payload: { pullRequestId: 'pr1', note: { code: 'NO_TARGET_PATCHED', rebaseFailed: true } } });
  });

  it('merged or closed on the provider ends the execution; nothing else moves a closed one', () => {
    expect(transition(at, { type: 'pull_request.closed', merged: true }, AT).next.state).toBe('pr_merged');
    const busy = transition(at, { type: 'feedback.received', iteration: 2 }, AT).next;
    const closed = transition(busy, { type: 'pull_request.closed', merged: false }, AT);
    expect(closed.next.state).toBe('pr_closed');
    expect(closed.effects.at(-1)!.payload).toMatchObject({ reason: 'closed' });
    expect(can(closed.next, { type: 'feedback.received', iteration: 3 })).toBe(false);
    expect(can(closed.next, { type: 'rebase.requested', reason: 'x' })).toBe(false);
  });
});
