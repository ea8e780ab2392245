import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';

/** Lowest port of the stacks' range: below it are well-known and commonly configured ports. */
const FIRST_PORT = 10_000;
/** Ports per test worker (`VITEST_POOL_ID` 1, 2, …); processes outside vitest share the range above the workers'. */
const PORTS_PER_WORKER = 1_000;
/** Ports this process handed out, never handed out again by it. */
const handedOut = new Set<number>();

/** {@link ephemeralStart}, read once per process. */
let ephemeralStartCache: number | undefined;

/**
 * The first port of the kernel's ephemeral range (`/proc/sys/net/ipv4/ip_local_port_range`;
 * 32768 when unreadable, Linux's default): the ports outgoing connections and `listen(0)` get.
 */
function ephemeralStart(): number {
  ephemeralStartCache ??= readEphemeralStart();
  return ephemeralStartCache;
}

function readEphemeralStart(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > FIRST_PORT ? low : 32_768;
  } catch {
    return 32_768;
  }
}

/** Whether 127.0.0.1:`port` can be listened on now. */
function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/**
 * A free TCP port on 127.0.0.1 for a process the stack starts later (a service's `HEALTH_PORT`,
 * the API, a nats-server), checked by listening on it once. Taken below the kernel's ephemeral
 * range, which outgoing connections use: a port from `listen(0)` (ephemeral) was taken by some
 * connection of another test in the seconds before the service bound it (EADDRINUSE), and a
 * restarted service binds its port again after its predecessor released it. Test workers draw
 * from disjoint blocks (`VITEST_POOL_ID`), so two workers' stacks never pick the same port; other
 * processes (`./run example`, the benchmark scripts) draw from the rest of the range.
 * @throws Error when no port of the process's block can be listened on.
 */
export async function freePort(): Promise<number> {
  const end = ephemeralStart();
  const worker = Number(process.env['VITEST_POOL_ID']);
  const workers = Math.floor((end - FIRST_PORT) / PORTS_PER_WORKER) - 1;
  const [low, high] =
    Number.isInteger(worker) && worker >= 1 && worker <= workers
      ? [FIRST_PORT + (worker - 1) * PORTS_PER_WORKER, FIRST_PORT + worker * PORTS_PER_WORKER]
      : [FIRST_PORT + workers * PORTS_PER_WORKER, end];
  const size = high - low;
  const start = Math.floor(Math.random() * size);
  for (let i = 0; i < size; i++) {
    const port = low + ((start + i) % size);
    if (handedOut.has(port)) continue;
    // Reserved before the check: concurrent callers (Promise.all) must not test and take the same port.
    handedOut.add(port);
    if (await bindable(port)) return port;
    handedOut.delete(port);
  }
  throw new Error(`no free port in 127.0.0.1:${low}-${high - 1}`);
}

/** A child process of the stack, with its log file. */
export interface StackProcess {
  name: string;
  child: ChildProcess;
  logFile: string;
  /** Resolves with the exit code (or signal name) when the process ends. */
  exited: Promise<number | string>;
}

/**
 * Spawns `command args` with stdout and stderr appended to `<logDir>/<name>.log`.
 * `onStdoutLine` sees stdout lines (e.g. to read a "listening on" line).
 */
export async function spawnLogged(
  name: string,
  command: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; logDir: string; onStdoutLine?: (line: string) => void },
): Promise<StackProcess> {
  await mkdir(options.logDir, { recursive: true });
  const logFile = join(options.logDir, `${name}.log`);
  const log = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let buf = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    log.write(chunk);
    if (!options.onStdoutLine) return;
    buf += chunk.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      options.onStdoutLine(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => log.write(chunk));
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      log.end();
      resolve(code ?? signal ?? 'unknown');
    });
  });
  return { name, child, logFile, exited };
}

/** Sends SIGTERM, then SIGKILL after `graceMs` (default 10 000 ms), and waits for the exit. */
export async function stopProcess(p: StackProcess, graceMs = 10_000): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill('SIGTERM');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), graceMs);
  await p.exited;
  clearTimeout(timer);
}

/**
 * Polls `url` until it answers 2xx, the process exits, or `timeoutMs` passes (default 120 s, or
 * `STACK_READY_TIMEOUT_MS` when set: a loaded machine starts five tsx processes slowly: at load ≈ 20 on 2 cores the API took over 60 s to answer).
 * @throws Error naming the process and pointing at its log when it is not ready in time.
 */
export async function waitReady(p: StackProcess, url: string, timeoutMs = Number(process.env['STACK_READY_TIMEOUT_MS'] ?? 120_000)): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited: number | string | null = null;
  void p.exited.then((c) => (exited = c));
  for (;;) {
    if (exited !== null) throw new Error(`${p.name} exited (${exited}) before it was ready; see ${p.logFile}`);
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${p.name} not ready at ${url} after ${timeoutMs} ms; see ${p.logFile}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
