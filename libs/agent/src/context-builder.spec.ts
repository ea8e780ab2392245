import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { bumpNpmDependency } from '@remediation/manifests';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTargetContext, findPackageUsages, manifestDiff, renderPrompt, renderTemplate } from './index.js';

let root: string;

const FILES: Record<string, string> = {
  'server.ts': [
    "import express from 'express';",
    "import { expressjwt, type Request as JWTRequest } from 'express-jwt';",
    "import * as jwtAll from \"express-jwt\";",
    '',
    'export const app = express();',
  ].join('\n'),
  'lib/insecurity.js': [
    "'use strict';",
    "const expressJwt = require('express-jwt');",
    'const other = require("express-jwt-permissions");',
    'module.exports.isAuthorized = () => expressJwt({ secret: publicKey });',
  ].join('\n'),
  'lib/multi.mjs': ['import {', '  expressjwt,', '  UnauthorizedError,', "} from 'express-jwt';", "export { expressjwt as guard } from 'express-jwt/dist/index';"].join('\n'),
  'lib/lazy.cjs': "async function load() { return import('express-jwt'); }\nrequire ( `express-jwt` );\n",
  'lib/side.jsx': "import 'express-jwt';\nimport x from 'not-express-jwt';\n",
  'types/index.d.ts': "import type { Params } from 'express-jwt';\n",
  'README.md': "const jwt = require('express-jwt');\n",
  'node_modules/express-jwt/index.js': "module.exports = require('express-jwt/lib');\n",
  'lib/unrelated.ts': "import jwt from 'jsonwebtoken';\n",
  'scoped.ts': "import { x } from '@types/express-jwt';\nimport y from '@types/express-jwt/sub';\n",
};

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'agent-context-'));
  for (const [rel, content] of Object.entries(FILES)) {
    await mkdir(dirname(join(root, rel)), { recursive: true });
    await writeFile(join(root, rel), content);
  }
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('findPackageUsages', () => {
  it('finds imports, requires, dynamic imports and re-exports with file:line, skipping node_modules and other packages', async () => {
    const search = await findPackageUsages(root, 'express-jwt');
    expect(search.filesScanned).toBe(8);
    expect(search.truncated).toBe(false);
    expect(search.usages.map((u) => [`${u.path}:${u.line}`, u.kind, u.specifier, u.snippet])).toEqual([
      ['lib/insecurity.js:2', 'require', 'express-jwt', "const expressJwt = require('express-jwt');"],
      ['lib/lazy.cjs:1', 'dynamic-import', 'express-jwt', "async function load() { return import('express-jwt'); }"],
      ['lib/lazy.cjs:2', 'require', 'express-jwt', 'require ( `express-jwt` );'],
      ['lib/multi.mjs:4', 'import', 'express-jwt', "import { expressjwt, UnauthorizedError, } from 'express-jwt';"],
      ['lib/multi.mjs:5', 'export', 'express-jwt/dist/index', "export { expressjwt as guard } from 'express-jwt/dist/index';"],
      ['lib/side.jsx:1', 'side-effect-import', 'express-jwt', "import 'express-jwt';"],
      ['server.ts:2', 'import', 'express-jwt', "import { expressjwt, type Request as JWTRequest } from 'express-jwt';"],
      ['server.ts:3', 'import', 'express-jwt', 'import * as jwtAll from "express-jwt";'],
      ['types/index.d.ts:1', 'import', 'express-jwt', "import type { Params } from 'express-jwt';"],
    ]);
  });

  it('handles scoped names and bounds the list', async () => {
    const scoped = await findPackageUsages(root, '@types/express-jwt');
    expect(scoped.usages.map((u) => `${u.path}:${u.line}:${u.specifier}`)).toEqual(['scoped.ts:1:@types/express-jwt', 'scoped.ts:2:@types/express-jwt/sub']);
    const bounded = await findPackageUsages(root, 'express-jwt', { maxUsages: 2 });
    expect(bounded.usages).toHaveLength(2);
    expect(bounded.truncated).toBe(true);
  });
});

describe('buildTargetContext', () => {
  it('renders the per-target prompt for express-jwt 0.1.3 → 6.1.2 with the juice-shop manifest diff and the usages', async () => {
    const manifest = await readFile(new URL('./__fixtures__/manifests/juice-shop-v20.1.1/package.json', import.meta.url), 'utf8');
    const bumped = bumpNpmDependency(manifest, { name: 'express-jwt', to: '6.1.2', advisoryRanges: ['<6.0.0'] });
    expect(bumped.changed).toBe(true);
    const diff = manifestDiff('package.json', manifest, bumped.text);
    expect(diff).toContain('-    "express-jwt": "0.1.3",\n+    "express-jwt": "6.1.2",');
    expect(diff.startsWith('--- a/package.json\n+++ b/package.json\n@@ -111,3 +111,3 @@\n')).toBe(true);

    const context = await buildTargetContext({
      workspaceDir: root,
      manifestDiff: diff,
      target: {
        name: 'express-jwt',
        from: '0.1.3',
        to: '6.1.2',
        jump: 'major',
        advisories: [{ id: 'GHSA-6g6m-m6h5-w9gf', aliases: ['CVE-2020-15084'], severity: 'high', summary: 'Authorization bypass in express-jwt' }],
        breakingChanges: ['6.0.0: `algorithms` option is required', '7.0.0 (not reached): default export replaced by named `expressjwt`'],
      },
    });
    expect(context.usages).toHaveLength(9);
    const text = context.text;
    expect(text).toContain('## Target: express-jwt 0.1.3 → 6.1.2 (major upgrade)');
    expect(text).toContain('- GHSA-6g6m-m6h5-w9gf (CVE-2020-15084) [high]: Authorization bypass in express-jwt');
    expect(text).toContain('- 6.0.0: `algorithms` option is required');
    expect(text).toContain('```diff\n--- a/package.json');
    expect(text).toContain("- lib/insecurity.js:2: const expressJwt = require('express-jwt');");
    expect(text).toContain('9 import/require site(s) found in 8 JavaScript/TypeScript file(s)');
    expect(text).not.toContain('{{');
    expect(text).not.toContain('<!--');
  });
});

describe('prompts', () => {
  it('loads prompt files and fails loudly on a placeholder without a value', async () => {
    const system = await renderPrompt('system');
    expect(system).toMatch(/^You are the code-fix agent/);
    expect(system).toContain('There is no shell');
    expect(() => renderTemplate('Hello {{name}}, {{missing}}', { name: 'x' })).toThrow(/placeholders without a value: missing/);
    expect(renderTemplate('<!-- note -->\nA {{n}}\n\n\n\nB', { n: 1 })).toBe('A 1\n\nB\n');
    const feedback = await renderPrompt('feedback', { feedback: 'Keep the old import style.', targets: '- express-jwt 0.1.3 → 6.1.2', diff: '--- a/x\n+++ b/x' });
    expect(feedback).toContain('Keep the old import style.');
  });
});
