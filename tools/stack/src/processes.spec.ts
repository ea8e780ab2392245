import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort } from './processes.js';

const ephemeralStart = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);

function listen(port: number): Promise<() => Promise<void>> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(port, '127.0.0.1', () => resolve(() => new Promise((r) => srv.close(() => r()))));
  });
}

describe('freePort', () => {
  it("gives ports of this worker's block below the kernel's ephemeral range, each once, each one a service can listen on", async () => {
    const worker = Number(process.env['VITEST_POOL_ID']);
    expect(worker).toBeGreaterThanOrEqual(1);
    const ports = await Promise.all(Array.from({ length: 50 }, () => freePort()));
    expect(new Set(ports).size).toBe(50);
    for (const port of ports) {
      expect(port).toBeLessThan(ephemeralStart);
      expect(port).toBeGreaterThanOrEqual(10_000 + (worker - 1) * 1_000);
      expect(port).toBeLessThan(10_000 + worker * 1_000);
    }
    const closers = await Promise.all(ports.map((p) => listen(p)));
    await Promise.all(closers.map((close) => close()));
  });

  it('never gives a port another process is listening on', async () => {
    // Occupy most of the block, then ask: what comes back must be free.
    const worker = Number(process.env['VITEST_POOL_ID']);
    const held: Array<() => Promise<void>> = [];
    for (let port = 10_000 + (worker - 1) * 1_000; port < 10_000 + worker * 1_000 - 20; port++) {
      held.push(await listen(port).catch(() => async () => undefined));
    }
    try {
      const port = await freePort();
      const close = await listen(port);
      await close();
    } finally {
      await Promise.all(held.map((close) => close()));
    }
  });
});
