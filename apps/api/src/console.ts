import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { stateGraph } from '@remediation/state-machine';

/**
 * The operator console (issue 16; docs/decisions/0020-operator-console-stack.md): static ES
 * modules served by the API under `/console/`, no build step. Preact + htm render the page,
 * highlight.js colours diffs, eventsource-parser reads the live event stream; the page's import
 * map (console/index.html) points at `/console/vendor/…`, served straight from node_modules.
 * Nothing here holds tenant data, so none of it needs credentials: the page asks for an API key
 * and every data call goes to the authenticated `/v1/` routes.
 */

/** The console's own files (index.html, app.js, style.css). */
export const CONSOLE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'console');

/** Vendor files the console may load (paths under node_modules); anything else there is 404. */
const VENDOR_PATHS = [
  '/preact/dist/preact.mjs',
  '/preact/hooks/dist/hooks.mjs',
  '/htm/dist/htm.mjs',
  '/htm/preact/index.mjs',
  '/highlight.js/es/languages/diff.js',
  '/highlight.js/styles/github.css',
  '/eventsource-parser/dist/',
] as const;

/**
 * The node_modules folder holding every vendor package the console loads.
 * @throws Error naming the package when one is missing or installed elsewhere (not hoisted).
 */
function vendorRoot(): string {
  const require = createRequire(import.meta.url);
  // Node's lookup folders for a bare name; htm does not export its package.json, so look for the file.
  const roots = ['preact', 'htm', 'highlight.js', 'eventsource-parser'].map((name) => {
    const root = (require.resolve.paths(name) ?? []).find((dir) => existsSync(join(dir, name, 'package.json')));
    if (!root) throw new Error(`the operator console needs the npm package ${name} (npm ci)`);
    return { name, root };
  });
  const root = roots[0]!.root;
  const elsewhere = roots.find((r) => r.root !== root);
  if (elsewhere) throw new Error(`the operator console expects ${elsewhere.name} in ${root}, found it in ${elsewhere.root}`);
  return root;
}

/**
 * Registers `/console` (the page), `/console/*` (its files), `/console/vendor/*` (the allowed
 * vendor modules), `/console/vendor/highlight.js/core.mjs` (highlight.js's core, which npm ships as
 * CommonJS only, wrapped as an ES module) and `/console/state-machine.json` (the graphs of
 * `stateGraph` for both execution kinds, which the page draws).
 */
export async function installConsole(app: FastifyInstance<any, any, any, any, any>): Promise<void> {
  const modules = vendorRoot();
  const graphs = { plan: stateGraph('plan'), patch: stateGraph('patch') };
  const hljsCore = await readFile(join(modules, 'highlight.js', 'lib', 'core.js'), 'utf8');
  const hljsModule = `const module = { exports: {} };\n${hljsCore}\nexport default module.exports;\n`;

  app.get('/console', { schema: { hide: true } }, (_req, reply) => reply.redirect('/console/', 302));
  app.get('/console/state-machine.json', { schema: { hide: true } }, () => graphs);
  app.get('/console/vendor/highlight.js/core.mjs', { schema: { hide: true } }, (_req, reply) =>
    reply.type('text/javascript; charset=utf-8').header('cache-control', 'public, max-age=3600').send(hljsModule),
  );
  await app.register(fastifyStatic, {
    root: modules,
    prefix: '/console/vendor/',
    decorateReply: false,
    index: false,
    maxAge: 3_600_000,
    allowedPath: (path) => !path.includes('..') && VENDOR_PATHS.some((p) => (p.endsWith('/') ? path.startsWith(p) : path === p)),
  });
  await app.register(fastifyStatic, { root: CONSOLE_DIR, prefix: '/console/', decorateReply: false, index: ['index.html'] });
}
