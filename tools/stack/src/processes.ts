import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';

/** A free TCP port on 127.0.0.1 (bound then released; good enough for local stacks). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
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
