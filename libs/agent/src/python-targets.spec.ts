import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { npmEcosystem, pypiEcosystem } from '@remediation/ecosystems';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildTargetContext, createBumpVersionTool, createFileTools, createManifestBumper, executeTool, findEcosystemUsages, Workspace, writeRefusal } from './index.js';

const PYPI_FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../../ecosystems/src/pypi/__fixtures__');

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'agent-py-'));
  await cp(join(PYPI_FIXTURES, 'pygoat'), root, { recursive: true });
  await cp(join(PYPI_FIXTURES, 'requirements-hashes.txt'), join(root, 'requirements-lock.txt'));
  await cp(join(PYPI_FIXTURES, 'pyproject-poetry.toml'), join(root, 'pyproject.toml'));
  await mkdir(join(root, 'app'));
  await writeFile(join(root, 'app/views.py'), 'import os\nfrom django.http import HttpResponse\nimport yaml\n\ndef load(s):\n    return yaml.load(s)\n');
  await mkdir(join(root, '.venv/lib'), { recursive: true });
  await writeFile(join(root, '.venv/lib/site.py'), 'import yaml\n');
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function bumpTool(ranges: Record<string, string[]> = {}) {
  const ws = await Workspace.open(root);
  const tool = createBumpVersionTool({
    bump: createManifestBumper(ws, { allowedPackages: ['django', 'requests'], advisoryRanges: (n) => ranges[pypiEcosystem.normaliseName(n)] ?? [], ecosystem: pypiEcosystem }),
    ecosystem: pypiEcosystem,
  });
  return { ws, call: (input: unknown) => executeTool(tool, input, { toolUseId: 't' }) };
}

describe('bump_version for PyPI', () => {
  it('raises a pin in requirements.txt (the default manifest), byte for byte, and records the path', async () => {
    const before = await readFile(join(root, 'requirements.txt'), 'utf8');
    const { ws, call } = await bumpTool({ django: ['>=4.2,<4.2.14'] });
    expect(await call({ package: 'Django', version: '4.2.14' })).toEqual({ isError: false, content: 'requirements.txt: requirements Django ==4.2 → ==4.2.14' });
    expect(await readFile(join(root, 'requirements.txt'), 'utf8')).toBe(before.replace('Django==4.2\n', 'Django==4.2.14\n'));
    expect(ws.changedPaths()).toEqual(['requirements.txt']);
  });

  it('validates the version with PEP 440, not semver', async () => {
    const { call } = await bumpTool();
    expect((await call({ package: 'requests', version: '2.31' })).isError).toBe(false); // not semver, valid PEP 440
    const bad = await call({ package: 'requests', version: '2.31.0-oops!' });
    expect(bad.isError).toBe(true);
    expect(bad.content).toContain('must be a pep440 version of pypi');
  });

  it('edits a Poetry pyproject in its own style', async () => {
    const { call } = await bumpTool({ django: ['<3.2.25'] });
    const before = await readFile(join(root, 'pyproject.toml'), 'utf8');
    expect(await call({ package: 'django', version: '3.2.25', manifest_path: 'pyproject.toml' })).toEqual({
      isError: false,
      content: 'pyproject.toml: tool.poetry.dependencies django ^3.2.18 → ^3.2.25',
    });
    expect(await readFile(join(root, 'pyproject.toml'), 'utf8')).toBe(before.replace('Django = "^3.2.18"', 'Django = "^3.2.25"'));
  });

  it('refuses other files, hashed pins (naming the lockfile command), unproven floors and other packages', async () => {
    const { call } = await bumpTool({ django: ['>=4.2,<4.2.14'] });
    expect((await call({ package: 'django', version: '4.2.14', manifest_path: 'app/views.py' })).content).toMatch(/refused: app\/views\.py is not a pypi manifest/);
    const hashed = await call({ package: 'requests', version: '2.31.0', manifest_path: 'requirements-lock.txt' });
    expect(hashed).toMatchObject({ isError: true });
    expect(hashed.content).toContain('pip-compile --generate-hashes');
    expect((await call({ package: 'django', version: '4.2.10' })).content).toMatch(/^REMEDIATION_NOT_PROVEN: requirements\.txt line 11/);
    expect((await call({ package: 'flask', version: '3.0.1', manifest_path: 'dockerized_labs/insec_des_lab/requirements.txt' })).content).toMatch(/refused: bump_version may only change/);
    expect(await readFile(join(root, 'requirements.txt'), 'utf8')).toContain('Django==4.2\n');
  });
});

describe('Python manifests and usages for the agent', () => {
  it('refuses direct writes of Python manifests and lockfiles, unless bump_version writes them', async () => {
    for (const path of ['requirements.txt', 'dockerized_labs/x/requirements-dev.txt', 'requirements/base.in', 'pyproject.toml']) {
      expect(writeRefusal(path)).toMatch(/Python package manifest; change dependency versions with the bump_version tool/);
      expect(writeRefusal(path, {}, { viaBumpVersion: true })).toBeNull();
    }
    for (const path of ['poetry.lock', 'uv.lock']) expect(writeRefusal(path, {}, { viaBumpVersion: true })).toMatch(/is a lockfile/);
    const ws = await Workspace.open(root);
    const write = createFileTools(ws).find((t) => t.name === 'write_file')!;
    expect(await executeTool(write, { path: 'requirements.txt', content: 'Django==9\n' }, { toolUseId: 't' })).toMatchObject({ isError: true });
  });

  it('finds imports with the ecosystem usage patterns, skipping virtual environments', async () => {
    const search = await findEcosystemUsages(root, pypiEcosystem, 'PyYAML');
    expect(search.usages.map((u) => `${u.path}:${u.line}: ${u.snippet}`)).toEqual(['app/views.py:3: import yaml']);
    const context = await buildTargetContext({
      workspaceDir: root,
      target: { name: 'django', ecosystem: 'pypi', from: '4.2', to: '4.2.14', jump: 'patch', advisories: [] },
      manifestDiff: '',
    });
    expect(context.usages.map((u) => u.path)).toEqual(['app/views.py']);
    expect(context.text).toContain('Manifest: `requirements.txt` (pypi)');
    expect(context.text).toContain('1 import site(s) found in 1 Python file(s)\n(.git, .venv, venv, __pycache__, node_modules, site-packages skipped');
    expect(npmEcosystem.managers.some((m) => m.matches('requirements.txt'))).toBe(false);
  });
});
