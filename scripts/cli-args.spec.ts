import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { scriptUsage } from './cli-args.js';

/** The benchmark scripts' command lines: usage on `--help`, a clear error on a bad option. */
const run = (args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'scripts/bench-retention.ts', ...args], { cwd: new URL('..', import.meta.url), encoding: 'utf8', timeout: 60_000 });

describe('parseScriptArgs', () => {
  it('prints the script usage for --help and exits 0', () => {
    const usage = scriptUsage(new URL('./bench-retention.ts', import.meta.url).href);
    expect(usage.length).toBeGreaterThan(40);
    const r = run(['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(usage);
  });

  it('names an unknown option and exits 2 without a stack trace', () => {
    const r = run(['--no-such-option']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^Unknown option '--no-such-option'/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
