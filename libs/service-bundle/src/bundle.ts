import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { serviceNodeFlags } from '@remediation/config';
import { build } from 'esbuild';

/**
 * Services that run from a bundle of their code instead of through tsx (decision 0031): the
 * planner, whose resident-memory budget (issue 12: ≤ 300 MB while planning 20,000 components)
 * tsx's loader and transformed sources took ≈ 60 MiB of, room its young generation now uses.
 */
export const BUNDLED_SERVICES: readonly string[] = ['planner'];

/** Where a service's bundle is written: `<repoRoot>/dist/<service>/main.mjs`, absolute (its source map beside it). */
export function bundlePath(repoRoot: string, service: string): string {
  return resolve(repoRoot, 'dist', service, 'main.mjs');
}

/**
 * Bundles `apps/<service>/src/main.ts` and the workspace libraries it imports
 * (`@remediation/*`, resolved through tsconfig.base.json's `paths`) into one ES module with a
 * linked source map (run with `--enable-source-maps` for stack traces that name the TypeScript
 * files); npm packages stay imports, resolved from `<repoRoot>/node_modules` — which is why the
 * bundle is written inside the repository (`dist/`, ignored by git). See {@link bundleEntry}.
 * @returns the bundle's path ({@link bundlePath}).
 * @throws as {@link bundleEntry}.
 */
export async function bundleService(repoRoot: string, service: string): Promise<string> {
  const out = bundlePath(repoRoot, service);
  await bundleEntry(repoRoot, join('apps', service, 'src', 'main.ts'), out);
  return out;
}

/**
 * Bundles the TypeScript module `entry` (relative to `repoRoot`) as {@link bundleService} bundles
 * a service, into `out` (absolute, or relative to `repoRoot`; inside the repository, so that npm
 * packages resolve): the benchmark that runs the planner's code as the planner runs
 * (scripts/bench-planner.ts) uses it. Each file is written atomically (a temporary file renamed
 * over the old one; the map first), so a process starting from it while another build of the same
 * sources runs reads one whole bundle; a file is left as it is when its content is unchanged. esbuild's bundler: https://esbuild.github.io/api/#bundle
 * (`packages: 'external'`, `tsconfig`).
 * @throws Error from esbuild (a syntax error, an import that does not resolve) naming the file.
 */
export async function bundleEntry(repoRoot: string, entry: string, out: string): Promise<void> {
  const outfile = resolve(repoRoot, out);
  const result = await build({
    entryPoints: [resolve(repoRoot, entry)],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    packages: 'external',
    tsconfig: resolve(repoRoot, 'tsconfig.base.json'),
    outfile,
    sourcemap: 'linked',
    write: false,
    logLevel: 'silent',
  });
  await mkdir(dirname(outfile), { recursive: true });
  // The map first: a process that starts from the new bundle finds the map it names.
  const files = [...result.outputFiles].sort((a, b) => (a.path.endsWith('.map') ? -1 : b.path.endsWith('.map') ? 1 : 0));
  for (const file of files) {
    const current = await readFile(file.path).catch(() => null);
    if (current !== null && Buffer.compare(current, file.contents) === 0) continue;
    const temporary = join(dirname(file.path), `.${basename(file.path)}.${randomUUID()}.tmp`);
    try {
      await writeFile(temporary, file.contents);
      await rename(temporary, file.path);
    } finally {
      await rm(temporary, { force: true });
    }
  }
}

/**
 * The `node` arguments that start `service` from `repoRoot` (the working directory): its
 * Node.js flags (`serviceNodeFlags` of @remediation/config), then for a bundled service
 * `--enable-source-maps` and its bundle (built first, {@link bundleService}), else
 * `--import tsx apps/<service>/src/main.ts`.
 * @throws as {@link bundleService}.
 */
export async function serviceArgs(repoRoot: string, service: string): Promise<string[]> {
  const flags = [...serviceNodeFlags(service)];
  if (BUNDLED_SERVICES.includes(service)) return [...flags, '--enable-source-maps', await bundleService(repoRoot, service)];
  return [...flags, '--import', 'tsx', `apps/${service}/src/main.ts`];
}
