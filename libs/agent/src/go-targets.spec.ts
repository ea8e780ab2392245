import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { goEcosystem } from '@remediation/ecosystems';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildTargetContext, createBumpVersionTool, createManifestBumper, executeTool, findEcosystemUsages, Workspace, writeRefusal } from './index.js';

const GO_FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../../ecosystems/src/go/__fixtures__');

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'agent-go-'));
  // spf13/viper v1.6.2's go.mod, byte for byte (see the fixture's PROVENANCE.md).
  await cp(join(GO_FIXTURES, 'viper-v1.6.2/go.mod'), join(root, 'go.mod'));
  await mkdir(join(root, 'remote'), { recursive: true });
  await writeFile(join(root, 'viper.go'), 'package viper\n\nimport (\n\t"bytes"\n\n\tyaml "gopkg.in/yaml.v2"\n)\n\nvar _ = bytes.NewBuffer\nvar _ = yaml.Marshal\n');
  await writeFile(join(root, 'remote/remote.go'), 'package remote\n\nimport "gopkg.in/yaml.v2"\n');
  // Not sources: vendored copies, a file of another language, and a longer module path.
  await mkdir(join(root, 'vendor/gopkg.in/yaml.v2'), { recursive: true });
  await writeFile(join(root, 'vendor/gopkg.in/yaml.v2/yaml.go'), 'package yaml\n\nimport "gopkg.in/yaml.v2/internal"\n');
  await writeFile(join(root, 'README.md'), 'import "gopkg.in/yaml.v2"\n');
  await writeFile(join(root, 'util.go'), 'package viper\n\nimport "gopkg.in/yaml.v3"\n');
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('Go modules and usages for the agent', () => {
  it('finds `.go` imports of a module (grouped and aliased too), skipping vendor/ and other files', async () => {
    const search = await findEcosystemUsages(root, goEcosystem, 'gopkg.in/yaml.v2');
    expect(search.usages.map((u) => `${u.path}:${u.line}: ${u.snippet}`)).toEqual(['remote/remote.go:3: import "gopkg.in/yaml.v2"', 'viper.go:6: yaml "gopkg.in/yaml.v2"']);
    expect(search.filesScanned).toBe(3);
    const context = await buildTargetContext({
      workspaceDir: root,
      target: { name: 'gopkg.in/yaml.v2', ecosystem: 'golang', from: 'v2.2.4', to: 'v2.2.8', jump: 'patch', advisories: [] },
      manifestDiff: '',
    });
    expect(context.text).toContain('Manifest: `go.mod` (golang)');
    expect(context.text).toContain('found in 3 Go file(s)');
    expect(context.text).toContain('.git, vendor, node_modules skipped');
  });

  it('bump_version raises the require line in go.mod byte for byte, proven against the advisory ranges', async () => {
    const before = await readFile(join(root, 'go.mod'), 'utf8');
    const ws = await Workspace.open(root);
    const tool = createBumpVersionTool({
      bump: createManifestBumper(ws, { allowedPackages: ['github.com/gogo/protobuf'], advisoryRanges: () => ['<1.3.2'], ecosystem: goEcosystem }),
      ecosystem: goEcosystem,
    });
    const result = await executeTool(tool, { package: 'github.com/gogo/protobuf', version: 'v1.3.2' }, { toolUseId: 't' });
    expect(result.isError).toBe(false);
    expect(await readFile(join(root, 'go.mod'), 'utf8')).toBe(before.replace('github.com/gogo/protobuf v1.2.1 // indirect', 'github.com/gogo/protobuf v1.3.2 // indirect'));
  });

  it('bump_version refuses a fix in a new module path (/v4) and leaves go.mod alone', async () => {
    const before = await readFile(join(root, 'go.mod'), 'utf8');
    const ws = await Workspace.open(root);
    const tool = createBumpVersionTool({
      bump: createManifestBumper(ws, { allowedPackages: ['github.com/dgrijalva/jwt-go'], advisoryRanges: () => ['*'], ecosystem: goEcosystem }),
      ecosystem: goEcosystem,
    });
    const result = await executeTool(tool, { package: 'github.com/dgrijalva/jwt-go', version: 'v4.0.0' }, { toolUseId: 't' });
    expect(result.isError).toBe(true);
    expect(JSON.stringify(result.content)).toContain('github.com/dgrijalva/jwt-go/v4, a new module path: code changes needed');
    expect(await readFile(join(root, 'go.mod'), 'utf8')).toBe(before);
  });

  it('the agent may not write go.mod or go.sum directly; bump_version may write go.mod', () => {
    expect(writeRefusal('go.mod')).toContain('is a Go module file');
    expect(writeRefusal('tools/go.mod')).toContain('is a Go module file');
    expect(writeRefusal('go.mod', {}, { viaBumpVersion: true })).toBeNull();
    expect(writeRefusal('go.sum', {}, { viaBumpVersion: true })).toContain('go.sum');
    expect(writeRefusal('gomod.go')).toBeNull();
  });
});
