import { mkdir, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:net';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect as connectNats } from '@nats-io/transport-node';
import { type StackProcess, freePort, spawnLogged, stopProcess } from './processes.js';

/** Finds the nats-server binary: $NATS_SERVER_BIN, PATH, or /usr/sbin/nats-server (Debian). */
export function natsServerBinary(): string {
  const fromEnv = process.env['NATS_SERVER_BIN'];
  if (fromEnv) return fromEnv;
  for (const dir of (process.env['PATH'] ?? '').split(':').concat(['/usr/sbin', '/usr/local/bin'])) {
    if (dir && existsSync(join(dir, 'nats-server'))) return join(dir, 'nats-server');
  }
  throw new Error('nats-server not found: install Debian package nats-server or set NATS_SERVER_BIN');
}

/** A private nats-server with JetStream for tests. */
export interface OwnNatsServer {
  url: string;
  port: number;
  process: StackProcess;
  /** Stops it (SIGTERM, or SIGKILL with `hard`). */
  stop(hard?: boolean): Promise<void>;
  /**
   * Stops and starts it again on the same port. `hard`: SIGKILL; `wipe`: delete the store first
   * (simulates a server that lost its recent writes).
   */
  restart(options?: { hard?: boolean; wipe?: boolean; downMs?: number }): Promise<void>;
}

/**
 * Starts a private `nats-server -js` on a free port with its own store dir (never the
 * machine's shared server), waiting until it accepts TCP connections.
 */
export async function startNatsServer(dir: string, port?: number): Promise<OwnNatsServer> {
  return ownServer(dir, port ?? (await freePort()), []);
}

/** A private JetStream cluster of nats-servers on loopback ports, for tests. */
export interface OwnNatsCluster {
  /** The servers, named `n1`, `n2`, … (`server_name`, as stream info's `cluster.leader` names them). */
  servers: Array<OwnNatsServer & { name: string }>;
  /** Every client URL, comma-separated (the services' `NATS_URL`). */
  url: string;
  /** The server named `name` (e.g. a stream's leader). @throws Error for an unknown name. */
  server(name: string): OwnNatsServer & { name: string };
  stop(hard?: boolean): Promise<void>;
}

/**
 * Starts `size` nats-servers forming one JetStream cluster (`--cluster_name remediation-test`,
 * routes to each other on loopback), each with its own store under `dir/<name>`, and waits until
 * JetStream has a meta leader (a stream can be created). Source of the flags: nats-server
 * `--help` (2.9): `-n/--name` sets `server_name`, required for JetStream clustering.
 * @throws Error naming the server's log when one does not start.
 */
export async function startNatsCluster(dir: string, size = 3): Promise<OwnNatsCluster> {
  const ports = await Promise.all(Array.from({ length: size }, async () => ({ client: await freePort(), route: await freePort() })));
  const routes = ports.map((p) => `nats://127.0.0.1:${p.route}`);
  const servers = await Promise.all(
    ports.map(async (p, i) => {
      const name = `n${i + 1}`;
      const others = routes.filter((_, j) => j !== i).join(',');
      const args = ['-n', name, '--cluster_name', 'remediation-test', '--cluster', routes[i]!, '--routes', others];
      return Object.assign(await ownServer(join(dir, name), p.client, args), { name });
    }),
  );
  await waitForMetaLeader(servers.map((s) => s.url));
  const cluster: OwnNatsCluster = {
    servers,
    url: servers.map((s) => s.url).join(','),
    server(name) {
      const found = servers.find((s) => s.name === name);
      if (!found) throw new Error(`no server ${name} in the cluster (have ${servers.map((s) => s.name).join(', ')})`);
      return found;
    },
    async stop(hard = false) {
      await Promise.all(servers.map((s) => s.stop(hard)));
    },
  };
  return cluster;
}

/** Waits (≤ 30 s) until the cluster's JetStream answers an account info request (it has a meta leader). */
async function waitForMetaLeader(urls: string[]): Promise<void> {
  const nc = await connectNats({ servers: urls, maxReconnectAttempts: -1 });
  try {
    const jsm = await jetstreamManager(nc, { checkAPI: false });
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await jsm.getAccountInfo();
        return;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`JetStream cluster ${urls.join(',')} has no meta leader after 30 s: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  } finally {
    await nc.close();
  }
}

async function ownServer(dir: string, p: number, extraArgs: string[]): Promise<OwnNatsServer> {
  const store = join(dir, 'store');
  let proc = await spawnNats(dir, store, p, extraArgs);
  let stopped = false;
  const server: OwnNatsServer = {
    url: `nats://127.0.0.1:${p}`,
    port: p,
    get process() {
      return proc;
    },
    async stop(hard = false) {
      if (stopped) return;
      stopped = true;
      if (hard) {
        proc.child.kill('SIGKILL');
        await proc.exited;
      } else await stopProcess(proc);
    },
    async restart(options = {}) {
      await server.stop(options.hard ?? false);
      if (options.wipe) await rm(store, { recursive: true, force: true });
      if (options.downMs) await new Promise((r) => setTimeout(r, options.downMs));
      proc = await spawnNats(dir, store, p, extraArgs);
      stopped = false;
    },
  };
  return server;
}

async function spawnNats(dir: string, store: string, p: number, extraArgs: string[]): Promise<StackProcess> {
  await mkdir(store, { recursive: true });
  const proc = await spawnLogged('nats-server', natsServerBinary(), ['-a', '127.0.0.1', '-p', String(p), '-js', '-sd', store, ...extraArgs], {
    cwd: dir,
    env: process.env,
    logDir: dir,
  });
  const deadline = Date.now() + 15_000;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(p, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return proc;
    if (Date.now() > deadline) throw new Error(`nats-server did not start on port ${p}; see ${proc.logFile}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
