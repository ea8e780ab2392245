/**
 * Fault injection for the fault suite (test/faults): `FAULT_INJECT` lists points at which a
 * service kills itself or pauses, e.g.
 * `after-commit-before-ack@patch.commit=kill;relay-after-publish=kill;before-handle@plan.run=sleep:5000`.
 * Points: `before-handle@<command>`, `after-commit-before-ack@<command>`, `relay-after-publish`.
 * Each fault fires once per process, except `hold:<ms>`, a sleep at every pass (e.g. to keep every
 * `patch.commit` of one node mid-step until the node is killed). `block:<ms>` stalls the whole
 * process (its event loop, timers and NATS keepalives) for that long, as a long GC pause or CPU
 * starvation would. Unset in production: the hook is
 * then a no-op.
 */
export type FaultPoint = (point: string, kind?: string) => Promise<void>;

/**
 * Parses `FAULT_INJECT`.
 * @throws Error naming the bad entry when the syntax is wrong.
 */
export function faultsFromEnv(spec: string | undefined, log: (msg: string) => void): FaultPoint {
  if (!spec) return async () => undefined;
  const faults = new Map<string, { action: 'kill' | 'sleep' | 'exit' | 'block'; ms: number; fired: boolean; every: boolean }>();
  for (const entry of spec.split(';').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([a-z-]+(?:@[a-z._]+)?)=(kill|exit|(sleep|hold|block):(\d+))$/.exec(entry);
    if (!m) throw new Error(`FAULT_INJECT: cannot parse ${JSON.stringify(entry)} (expected point[@command]=kill|exit|sleep:<ms>|hold:<ms>|block:<ms>)`);
    const action = m[3] === 'block' ? 'block' : m[3] ? 'sleep' : (m[2] as 'kill' | 'exit');
    faults.set(m[1]!, { action, ms: Number(m[4] ?? 0), fired: false, every: m[3] === 'hold' });
  }
  return async (point, kind) => {
    const f = faults.get(kind ? `${point}@${kind}` : point) ?? faults.get(point);
    if (!f || (f.fired && !f.every)) return;
    f.fired = true;
    log(`FAULT_INJECT: ${point}${kind ? '@' + kind : ''} → ${f.action}${f.action === 'sleep' || f.action === 'block' ? ' ' + f.ms + ' ms' : ''}`);
    if (f.action === 'kill') process.kill(process.pid, 'SIGKILL');
    if (f.action === 'exit') process.exit(75);
    if (f.action === 'sleep') await new Promise((r) => setTimeout(r, f.ms));
    if (f.action === 'block') Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, f.ms);
  };
}
