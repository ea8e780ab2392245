import { mkdir, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:net';
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
  const p = port ?? (await freePort());
  const store = join(dir, 'store');
  let proc = await spawnNats(dir, store, p);
  const server: OwnNatsServer = {
    url: `nats://127.0.0.1:${p}`,
    port: p,
    get process() {
      return proc;
    },
    async stop(hard = false) {
      if (hard) {
        proc.child.kill('SIGKILL');
        await proc.exited;
      } else await stopProcess(proc);
    },
    async restart(options = {}) {
      await server.stop(options.hard ?? false);
      if (options.wipe) await rm(store, { recursive: true, force: true });
      if (options.downMs) await new Promise((r) => setTimeout(r, options.downMs));
      proc = await spawnNats(dir, store, p);
    },
  };
  return server;
}

async function spawnNats(dir: string, store: string, p: number): Promise<StackProcess> {
  await mkdir(store, { recursive: true });
  const proc = await spawnLogged('nats-server', natsServerBinary(), ['-a', '127.0.0.1', '-p', String(p), '-js', '-sd', store], {
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
