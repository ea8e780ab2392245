import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { defineDomainMetrics } from '@remediation/metrics';
import { repoRoot } from '@remediation/testing';

/**
 * The operations files stay true: promtool accepts and unit-tests the alert rules
 * (docker/prometheus/alerts.test.yml), and every metric name the dashboard and the rules use is
 * one the code defines (libs/metrics), so neither can drift from the code.
 * promtool: Debian's `prometheus` package (scripts/ensure-test-tools.sh installs it).
 */
const PROMTOOL = process.env['PROMTOOL'] ?? '/usr/bin/promtool';
const dir = join(repoRoot, 'docker/prometheus');

function promtool(args: string[]): string {
  try {
    return execFileSync(PROMTOOL, args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`promtool ${args.join(' ')} failed:\n${e.stdout ?? ''}${e.stderr ?? e.message}`);
  }
}

/** Every sample name the code's metrics expose: histogram families also as `_bucket`, `_sum`, `_count`. */
async function definedNames(): Promise<Set<string>> {
  const registry = new Registry();
  defineDomainMetrics(registry);
  const names = new Set<string>();
  for (const m of await registry.getMetricsAsJSON()) {
    names.add(m.name);
    if (String(m.type) === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${m.name}${suffix}`);
  }
  return names;
}

/** `remediation_*` names in PromQL text. */
const usedNames = (text: string): string[] => [...new Set(text.match(/\bremediation_[a-z0-9_]+\b/g) ?? [])];

const alertsYaml = readFileSync(join(dir, 'alerts.yml'), 'utf8');
const dashboard = JSON.parse(readFileSync(join(repoRoot, 'docker/grafana/dashboards/remediation.json'), 'utf8')) as {
  panels: Array<{ title: string; type: string; targets?: Array<{ expr: string }> }>;
};
const operations = readFileSync(join(repoRoot, 'docs/operations.md'), 'utf8');
const alertNames = [...alertsYaml.matchAll(/^\s+- alert: (\S+)$/gm)].map((m) => m[1]!);

describe('alert rules', () => {
  it('promtool accepts the rules and the scrape configuration', () => {
    expect(promtool(['check', 'rules', 'alerts.yml'])).toContain(`SUCCESS: ${alertNames.length} rules found`);
    expect(promtool(['check', 'config', 'prometheus.yml'])).toContain('SUCCESS');
  });

  it('promtool unit tests pass, and every alert is tested firing', () => {
    expect(promtool(['test', 'rules', 'alerts.test.yml'])).toContain('SUCCESS');
    const tests = readFileSync(join(dir, 'alerts.test.yml'), 'utf8');
    for (const alert of alertNames) expect(tests, alert).toMatch(new RegExp(`alertname: ${alert}\\n\\s+exp_alerts:\\n\\s+- exp_labels`));
  });

  it('covers what on-call asked for, each with a runbook in docs/operations.md', () => {
    expect(alertNames.sort()).toEqual(
      [
        'RemediationAgentCostBurn',
        'RemediationConsumerBacklogGrowing',
        'RemediationDeadLetters',
        'RemediationExecutionStuck',
        'RemediationOutboxLag',
        'RemediationProviderRateLimitLow',
        'RemediationStepFailureRate',
      ].sort(),
    );
    for (const alert of alertNames) {
      expect(alertsYaml, alert).toContain(`runbook_url: "docs/operations.md#${alert.toLowerCase()}"`);
      expect(operations, alert).toMatch(new RegExp(`^### ${alert}$`, 'm'));
    }
  });
});

describe('names cannot drift from the code', () => {
  it('every metric the alert rules use is defined in libs/metrics', async () => {
    const defined = await definedNames();
    const used = usedNames(alertsYaml);
    expect(used.length).toBeGreaterThan(5);
    expect(used.filter((n) => !defined.has(n))).toEqual([]);
  });

  it('every metric the dashboard uses is defined in libs/metrics', async () => {
    const defined = await definedNames();
    const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
    const used = usedNames(exprs.join('\n'));
    expect(used.length).toBeGreaterThan(20);
    expect(used.filter((n) => !defined.has(n))).toEqual([]);
  });

  it('every defined metric is documented in docs/operations.md and shown on the dashboard', async () => {
    const registry = new Registry();
    defineDomainMetrics(registry);
    const families = (await registry.getMetricsAsJSON()).map((m) => m.name);
    const shown = usedNames(dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)).join('\n')).map((n) => n.replace(/_(bucket|sum|count)$/, ''));
    for (const name of families) {
      expect(operations, name).toContain(`\`${name}\``);
      expect(shown, name).toContain(name);
    }
  });
});
