import { execFile } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { promisify } from 'node:util';
import { serviceNodeFlags } from '@remediation/config';
import { repoRoot } from '@remediation/testing';
import { describe, expect, it } from 'vitest';
import { BUNDLED_SERVICES, bundlePath, bundleService, serviceArgs } from './index.js';

const run = promisify(execFile);

describe('service bundles (decision 0031)', () => {
  it('bundles the planner into dist/ with a source map; the bundle loads and its stack traces name the TypeScript files', async () => {
    expect(BUNDLED_SERVICES).toContain('planner');
    const out = await bundleService(repoRoot, 'planner');
    expect(out).toBe(bundlePath(repoRoot, 'planner'));
    const code = await readFile(out, 'utf8');
    // Code that finds files relative to itself would look next to the bundle instead.
    expect(code).not.toMatch(/import\.meta\.(url|dirname|filename)/);
    expect(code).toMatch(/\/\/# sourceMappingURL=main\.mjs\.map\s*$/);
    expect((await stat(`${out}.map`)).size).toBeGreaterThan(0);
    // Without an advisory source the planner's env check fails at start: every module of the bundle was loaded by then.
    const failed = await run(process.execPath, ['--enable-source-maps', out], { cwd: repoRoot, env: { PATH: process.env['PATH'] ?? '' } }).then(
      () => null,
      (err: { code: number; stderr: string }) => err,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stderr).toContain('set at least one advisory source: OSV_DIR, OSV_ALL_ZIP_URL or OSV_API_URL');
    expect(failed?.stderr).toMatch(/apps\/planner\/src\/main\.ts:\d+/);
  }, 60_000);

  it('two builds at once leave one whole bundle', async () => {
    const [a, b] = await Promise.all([bundleService(repoRoot, 'planner'), bundleService(repoRoot, 'planner')]);
    expect(a).toBe(b);
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', `await import(${JSON.stringify(`${a}?check`)}).catch((e) => console.log(e.message))`], {
      cwd: repoRoot,
      env: { PATH: process.env['PATH'] ?? '' },
    });
    expect(stdout).toContain('invalid environment');
  }, 60_000);

  it('starts a bundled service from its bundle and the others through tsx, each with its Node.js flags', async () => {
    expect(await serviceArgs(repoRoot, 'planner')).toEqual([...serviceNodeFlags('planner'), '--enable-source-maps', bundlePath(repoRoot, 'planner')]);
    expect(await serviceArgs(repoRoot, 'api')).toEqual([...serviceNodeFlags('api'), '--import', 'tsx', 'apps/api/src/main.ts']);
  }, 60_000);
});
