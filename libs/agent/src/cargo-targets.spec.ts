import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cargoEcosystem } from '@remediation/ecosystems';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildTargetContext, createBumpVersionTool, createManifestBumper, executeTool, findEcosystemUsages, Workspace, writeRefusal } from './index.js';

const CARGO_FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../../ecosystems/src/cargo/__fixtures__');

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'agent-rs-'));
  await cp(join(CARGO_FIXTURES, 'cargo-0.32.0/Cargo.toml'), join(root, 'Cargo.toml'));
  await mkdir(join(root, 'src/cargo/core'), { recursive: true });
  await writeFile(join(root, 'src/cargo/lib.rs'), 'extern crate openssl;\nextern crate serde_json;\n\npub mod core;\n');
  await writeFile(join(root, 'src/cargo/core/source.rs'), 'use std::fs;\nuse openssl::ssl::SslConnector;\n\nfn f() { let _ = openssl::version::version(); }\n');
  // Not sources: Cargo's build output, and a file of another language mentioning the crate.
  await mkdir(join(root, 'target/debug/build'), { recursive: true });
  await writeFile(join(root, 'target/debug/build/out.rs'), 'use openssl::x509;\n');
  await writeFile(join(root, 'README.md'), 'use openssl::ssl;\n');
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('Cargo manifests and usages for the agent', () => {
  it('finds `.rs` uses of a crate (use, extern crate, paths), skipping target/ and other files', async () => {
    const search = await findEcosystemUsages(root, cargoEcosystem, 'openssl');
    expect(search.usages.map((u) => `${u.path}:${u.line}`)).toEqual(['src/cargo/core/source.rs:2', 'src/cargo/core/source.rs:4', 'src/cargo/lib.rs:1']);
    expect(search.filesScanned).toBe(2);
    // `-` in a crate name is `_` in Rust source.
    expect((await findEcosystemUsages(root, cargoEcosystem, 'serde-json')).usages.map((u) => u.snippet)).toEqual(['extern crate serde_json;']);
    const context = await buildTargetContext({
      workspaceDir: root,
      target: { name: 'openssl', ecosystem: 'cargo', from: '0.10.11', to: '0.10.72', jump: 'patch', advisories: [] },
      manifestDiff: '',
    });
    expect(context.text).toContain('Manifest: `Cargo.toml` (cargo)');
    expect(context.text).toContain('found in 2 Rust file(s)');
    expect(context.text).toContain('.git, target, node_modules skipped');
  });

  it('bump_version raises the requirement in Cargo.toml in its own style, proven against the advisory ranges', async () => {
    const before = await readFile(join(root, 'Cargo.toml'), 'utf8');
    const ws = await Workspace.open(root);
    const tool = createBumpVersionTool({
      bump: createManifestBumper(ws, { allowedPackages: ['openssl'], advisoryRanges: () => ['<0.10.55'], ecosystem: cargoEcosystem }),
      ecosystem: cargoEcosystem,
    });
    const result = await executeTool(tool, { package: 'openssl', version: '0.10.55' }, { toolUseId: 't' });
    expect(result.isError).toBe(false);
    expect(await readFile(join(root, 'Cargo.toml'), 'utf8')).toBe(before.replace("openssl = { version = '0.10.11'", "openssl = { version = '0.10.55'"));
  });

  it('the agent may not write Cargo.toml or Cargo.lock directly; bump_version may write Cargo.toml', () => {
    expect(writeRefusal('Cargo.toml')).toContain('is a Cargo manifest');
    expect(writeRefusal('crates/core/Cargo.toml')).toContain('is a Cargo manifest');
    expect(writeRefusal('Cargo.toml', {}, { viaBumpVersion: true })).toBeNull();
    expect(writeRefusal('Cargo.lock', {}, { viaBumpVersion: true })).toContain('is a lockfile');
    expect(writeRefusal('src/cargo_toml.rs')).toBeNull();
  });
});
