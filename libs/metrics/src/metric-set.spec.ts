import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { cachedRead, executionMetrics, messagingMetrics, timeGit, timeLookup } from './index.js';

describe('metric sets', () => {
  it('are defined once per registry and kept apart between registries', async () => {
    const a = new Registry();
    const b = new Registry();
    expect(messagingMetrics(a)).toBe(messagingMetrics(a));
    messagingMetrics(a).redeliveries.inc({ consumer: 'cmd-plan-run' });
    expect(messagingMetrics(b)).not.toBe(messagingMetrics(a));
    expect((await messagingMetrics(b).redeliveries.get()).values).toEqual([]);
    expect((await messagingMetrics(a).redeliveries.get()).values[0]?.value).toBe(1);
  });

  it('scrape-time gauges report only once given a source, and a failed read does not fail the scrape', async () => {
    const registry = new Registry();
    const m = executionMetrics(registry);
    expect(await registry.metrics()).not.toMatch(/^remediation_executions\{/m);
    let fail = false;
    m.readFrom({
      executions: async () => {
        if (fail) throw new Error('database down');
        return [{ kind: 'patch', state: 'patch_running', count: 3, oldestHeartbeatAgeSeconds: 12 }];
      },
      outbox: async () => ({ messages: 2, oldestAgeSeconds: 1.5 }),
    });
    const text = await registry.metrics();
    expect(text).toContain('remediation_executions{kind="patch",state="patch_running"} 3');
    expect(text).toContain('remediation_execution_heartbeat_age_seconds{kind="patch",state="patch_running"} 12');
    expect(text).toContain('remediation_outbox_backlog_messages 2');
    fail = true;
    await expect(registry.metrics()).resolves.toContain('remediation_outbox_oldest_age_seconds 1.5');
    expect(() => m.readFrom({ executions: async () => [], outbox: async () => ({ messages: 0, oldestAgeSeconds: 0 }) })).toThrow(/already given/);
  });

  it('cachedRead reuses a read within its time to live and retries after a failure', async () => {
    let reads = 0;
    const read = cachedRead(async () => {
      reads++;
      if (reads === 2) throw new Error('transient');
      return reads;
    }, 60_000);
    expect(await read()).toBe(1);
    expect(await read()).toBe(1);
    expect(reads).toBe(1);
    const expired = cachedRead(async () => ++reads, 0);
    await expired();
    await new Promise((r) => setTimeout(r, 5));
    await expired();
    expect(reads).toBe(3);
  });

  it('timers record ok and error outcomes and re-throw', async () => {
    const registry = new Registry();
    await timeGit(registry, 'commit', async () => 'sha');
    await expect(timeGit(registry, 'push', async () => Promise.reject(new Error('rejected')))).rejects.toThrow('rejected');
    await expect(timeLookup(registry, 'registry', 'npm', async () => Promise.reject(new Error('404')))).rejects.toThrow('404');
    const text = await registry.metrics();
    expect(text).toContain('remediation_git_operation_duration_seconds_count{operation="commit",outcome="ok"} 1');
    expect(text).toContain('remediation_git_operation_duration_seconds_count{operation="push",outcome="error"} 1');
    expect(text).toContain('remediation_lookup_duration_seconds_count{source="registry",ecosystem="npm",outcome="error"} 1');
    expect(text).toContain('remediation_lookup_cache_requests_total{source="registry",ecosystem="npm",outcome="miss"} 1');
    expect(await timeGit(undefined, 'commit', async () => 42)).toBe(42);
  });
});
