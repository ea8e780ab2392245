import { describe, expect, it } from 'vitest';
import type { ProgressEvent } from '@remediation/contracts';
import { ProgressLines, describeProgress } from './progress.js';

const event = (step: ProgressEvent['step'], name: string, details: Record<string, unknown>): ProgressEvent => ({
  schema: 'remediation.progress.v1',
  remediationId: 'rem_x',
  executionId: 'rem_x.patch.1',
  step,
  event: name,
  details,
  attempt: 1,
  at: '2026-12-03T20:00:00.000Z',
});

describe('describeProgress', () => {
  it('says what each recorded heartbeat of docs/events.md means', () => {
    expect(describeProgress(event('workspace', 'workspace.progress', { operation: 'clone', phase: 'receiving objects', received: 450, total: 1000 }))).toBe(
      'clone 450/1000 objects (receiving objects)',
    );
    expect(describeProgress(event('workspace', 'workspace.progress', { operation: 'bundle', phase: 'downloading bundle', received: 2048, total: 0 }))).toBe(
      'bundle 2048 bytes (downloading bundle)',
    );
    expect(describeProgress(event('workspace', 'workspace.progress', { operation: 'bundle', phase: 'bundle fallback', received: 0, total: 0, detail: 'no bundle' }))).toBe(
      'bundle 0 objects (bundle fallback): no bundle',
    );
    expect(describeProgress(event('editing', 'tool_call', { tool: 'read_file', turn: 2, isError: false }))).toBe('agent tool read_file');
    expect(describeProgress(event('editing', 'tool_call', { tool: 'edit_file', turn: 3, isError: true }))).toBe('agent tool edit_file (error)');
    expect(describeProgress(event('editing', 'agent_resumed', { iteration: 2 }))).toBe('agent resumed (iteration 2)');
    expect(describeProgress(event('planning', 'plan.lookup', { package: 'express' }))).toBe('lookup express');
    expect(describeProgress(event('editing', 'something_new', {}))).toBe('something_new');
  });
});

describe('ProgressLines', () => {
  const sink = (isTTY: boolean) => {
    const out: string[] = [];
    return { out, sink: { isTTY, write: (t: string) => out.push(t) } };
  };

  it('on a terminal rewrites one line per step in place and ends it when the step changes', () => {
    const { out, sink: s } = sink(true);
    const lines = new ProgressLines(s, '[x]');
    lines.progress(event('workspace', 'workspace.progress', { operation: 'clone', phase: 'receiving objects', received: 1, total: 2 }));
    lines.progress(event('workspace', 'workspace.progress', { operation: 'clone', phase: 'receiving objects', received: 2, total: 2 }));
    lines.progress(event('editing', 'tool_call', { tool: 'read_file' }));
    lines.end();
    expect(out.join('')).toBe(
      '\r\x1b[K[x]  workspace: clone 1/2 objects (receiving objects)\r\x1b[K[x]  workspace: clone 2/2 objects (receiving objects)\n\r\x1b[K[x]  editing: agent tool read_file\n',
    );
  });

  it('in a log prints a step at most once per interval, and its last text when the step ends', () => {
    const { out, sink: s } = sink(false);
    const lines = new ProgressLines(s, '[x]', 5_000);
    const clone = (n: number) => event('workspace', 'workspace.progress', { operation: 'clone', phase: 'receiving objects', received: n, total: 10 });
    lines.progress(clone(1), 1_000_000);
    lines.progress(clone(2), 1_001_000); // within 5 s: not printed
    lines.progress(clone(9), 1_006_000); // 6 s later: printed
    lines.progress(clone(10), 1_006_500);
    lines.progress(event('committing', 'heartbeat', {}), 1_007_000); // step changed: workspace's last text first
    lines.end();
    expect(out).toEqual([
      '[x]  workspace: clone 1/10 objects (receiving objects)\n',
      '[x]  workspace: clone 9/10 objects (receiving objects)\n',
      '[x]  workspace: clone 10/10 objects (receiving objects)\n',
      '[x]  committing: heartbeat\n',
    ]);
  });
});
