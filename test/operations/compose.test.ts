import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { BaseEnv, serviceNodeFlags } from '@remediation/config';
import { bundlePath } from '@remediation/service-bundle';
import { repoRoot } from '@remediation/testing';

/**
 * docker/compose.yaml keeps the layout docs/deployment.md describes (no Docker engine here, so the
 * file is checked by its structure, merge keys resolved as compose does): a 3-server JetStream
 * cluster every service connects to with 3 stream replicas, two worker nodes (a git-gateway +
 * patcher pair each, with its own NODE_ID and node-local LOCAL_ROOT, sharing one DATA_ROOT
 * volume), and Prometheus scraping every service on an interface it can reach.
 */
interface Service {
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  volumes?: Array<string | { type: string; source: string; target: string; bind?: { propagation?: string } }>;
  depends_on?: Record<string, unknown> | string[];
  privileged?: boolean;
}
const compose = parse(readFileSync(join(repoRoot, 'docker/compose.yaml'), 'utf8'), { merge: true }) as { services: Record<string, Service>; volumes: Record<string, unknown> };
const prometheus = parse(readFileSync(join(repoRoot, 'docker/prometheus/prometheus.yml'), 'utf8')) as {
  scrape_configs: Array<{ static_configs: Array<{ targets: string[] }> }>;
};
const services = compose.services;
const built = Object.entries(services).filter(([name, s]) => s.image === 'remediation:local' && name !== 'migrate');
const natsServers = Object.entries(services).filter(([, s]) => s.image?.startsWith('nats:'));

/** The value following `flag` in a command line. */
function flag(command: string[] | undefined, name: string): string | undefined {
  const i = (command ?? []).indexOf(name);
  return i >= 0 ? command![i + 1] : undefined;
}

/** Where a service mounts `target`: the named volume or the host path. */
function mountAt(s: Service, target: string): { source: string; named: boolean; propagation?: string } | undefined {
  for (const v of s.volumes ?? []) {
    if (typeof v === 'string') {
      const [source, at] = v.split(':');
      if (at === target) return { source: source!, named: !source!.startsWith('.') && !source!.startsWith('/') };
    } else if (v.target === target) {
      return { source: v.source, named: v.type === 'volume', ...(v.bind?.propagation ? { propagation: v.bind.propagation } : {}) };
    }
  }
  return undefined;
}

describe('docker/compose.yaml', () => {
  it('runs three nats servers forming one JetStream cluster, each routing to the other two with its own store', () => {
    expect(natsServers.map(([name]) => name).sort()).toEqual(['nats-1', 'nats-2', 'nats-3']);
    const clusters = new Set(natsServers.map(([, s]) => flag(s.command, '--cluster_name')));
    expect([...clusters]).toEqual(['remediation']);
    for (const [name, s] of natsServers) {
      expect(flag(s.command, '--name'), name).toBe(name);
      expect(flag(s.command, '--cluster'), name).toBe('nats://0.0.0.0:6222');
      const routes = (flag(s.command, '--routes') ?? '').split(',').sort();
      const others = natsServers.map(([n]) => n).filter((n) => n !== name);
      expect(routes, name).toEqual(others.map((n) => `nats://${n}:6222`));
      expect(s.command?.slice(0, 2), name).toEqual(['-c', '/etc/nats/nats.conf']);
    }
    const stores = natsServers.map(([, s]) => mountAt(s, '/data')?.source);
    expect(new Set(stores).size).toBe(3);
    for (const store of stores) expect(Object.keys(compose.volumes)).toContain(store);
  });

  it('every service lists all three nats servers in NATS_URL and makes its streams with 3 replicas', () => {
    expect(built.length).toBeGreaterThanOrEqual(7);
    for (const [name, s] of built) {
      const env = s.environment ?? {};
      expect((env['NATS_URL'] ?? '').split(',').sort(), name).toEqual(['nats://nats-1:4222', 'nats://nats-2:4222', 'nats://nats-3:4222']);
      expect(env['NATS_REPLICAS'], name).toBe('3');
      // The values pass the services' own environment validation.
      expect(() => BaseEnv.parse(env), name).not.toThrow();
      expect(Object.keys(s.depends_on ?? {}), name).toEqual(expect.arrayContaining(['nats-1', 'nats-2', 'nats-3', 'postgres', 'migrate']));
    }
  });

  it('has two worker nodes: a git-gateway + patcher pair each, with its own NODE_ID and node-local LOCAL_ROOT, sharing one DATA_ROOT volume', () => {
    const bySvc = (svc: string) => built.filter(([, s]) => s.environment?.['SERVICE'] === svc);
    const gateways = bySvc('git-gateway');
    const patchers = bySvc('patcher');
    expect(gateways).toHaveLength(2);
    expect(patchers).toHaveLength(2);
    const nodes = new Set(gateways.map(([, s]) => s.environment?.['NODE_ID']));
    expect([...nodes].sort()).toEqual(['node-a', 'node-b']);
    const localRoots = new Map<string, string>();
    const dataRoots = new Set<string>();
    for (const [name, s] of [...gateways, ...patchers]) {
      const env = s.environment!;
      expect(s.privileged, name).toBe(true);
      const local = mountAt(s, env['LOCAL_ROOT']!);
      expect(local, `${name} mounts LOCAL_ROOT`).toBeDefined();
      // A host directory with rshared propagation: the overlay mounts of the node's git-gateway are visible to its patcher.
      expect(local!.named, name).toBe(false);
      expect(local!.propagation, name).toBe('rshared');
      const node = env['NODE_ID']!;
      if (localRoots.has(node)) expect(local!.source, `${name}: one LOCAL_ROOT per node`).toBe(localRoots.get(node));
      else localRoots.set(node, local!.source);
      const data = mountAt(s, env['DATA_ROOT']!);
      expect(data?.named, `${name} mounts DATA_ROOT from a named volume`).toBe(true);
      dataRoots.add(data!.source);
    }
    // Each node has its pair: one gateway and one patcher per NODE_ID.
    expect(patchers.map(([, s]) => s.environment?.['NODE_ID']).sort()).toEqual(['node-a', 'node-b']);
    expect(new Set(localRoots.values()).size).toBe(2);
    expect([...dataRoots]).toHaveLength(1);
    expect(Object.keys(compose.volumes)).toContain([...dataRoots][0]);
  });

  it('keeps api, planner, pr-service, PostgreSQL, Prometheus and Grafana; Prometheus scrapes every service on a reachable interface', () => {
    for (const svc of ['api', 'planner', 'pr-service']) expect(built.map(([, s]) => s.environment?.['SERVICE']), svc).toContain(svc);
    for (const name of ['postgres', 'migrate', 'prometheus', 'grafana']) expect(Object.keys(services), name).toContain(name);
    const targets = prometheus.scrape_configs.flatMap((c) => c.static_configs.flatMap((sc) => sc.targets)).sort();
    const expected = built
      .map(([name, s]) => {
        const env = s.environment!;
        return `${name}:${env['SERVICE'] === 'api' ? env['API_PORT'] : env['HEALTH_PORT']}`;
      })
      .sort();
    expect(targets).toEqual(expected);
    for (const [name, s] of built) {
      const env = s.environment!;
      const host = env['SERVICE'] === 'api' ? env['API_HOST'] : env['SERVICE'] === 'pr-service' ? env['HTTP_HOST'] : env['HEALTH_HOST'];
      expect(host, `${name} serves /metrics on all interfaces`).toBe('0.0.0.0');
    }
    expect((services['prometheus']!.depends_on as string[]).sort()).toEqual(built.map(([name]) => name).sort());
  });

  it("starts each service with its Node.js flags (SERVICE_NODE_FLAGS), which the image's command passes from NODE_FLAGS", () => {
    const dockerfile = readFileSync(join(repoRoot, 'docker/Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/exec node \$\{NODE_FLAGS\} --import tsx apps\/\$\{SERVICE\}\/src\/main\.ts/);
    // Bundled services (decision 0031): the image builds their bundles and starts them from dist/.
    expect(dockerfile).toMatch(/^RUN node --import tsx libs\/service-bundle\/src\/cli\.ts$/m);
    expect(dockerfile).toMatch(/if \[ -f dist\/\$\{SERVICE\}\/main\.mjs \]; then exec node \$\{NODE_FLAGS\} --enable-source-maps dist\/\$\{SERVICE\}\/main\.mjs;/);
    expect(relative(repoRoot, bundlePath(repoRoot, 'planner'))).toBe('dist/planner/main.mjs');
    expect(serviceNodeFlags('planner').length).toBeGreaterThan(0);
    for (const [name, s] of built) {
      const service = s.environment?.['SERVICE'] ?? name;
      expect((s.environment?.['NODE_FLAGS'] ?? '').split(' ').filter(Boolean), name).toEqual([...serviceNodeFlags(service)]);
    }
  });
});
