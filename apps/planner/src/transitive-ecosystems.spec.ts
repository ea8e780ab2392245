import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadOsvDirectory } from '@remediation/advisories';
import type { TransitiveFinding } from '@remediation/contracts';
import { InvalidInputError } from '@remediation/errors';
import { fromIndexFile, escapeModulePath, fromVersionList, PypiSnapshotSource, sparseIndexPath, type RegistrySource } from '@remediation/ecosystems';
import { readLockfile, ROOT_ID, type ResolvedGraph } from '@remediation/lockfiles';
import { SnapshotDirectorySource } from '@remediation/registry';
import { parseCycloneDx, type ParsedScan } from '@remediation/sbom';
import { fixturePath } from '@remediation/testing';
import { describe, expect, it } from 'vitest';
import { computePlan, type PlanDeps } from './plan.js';

/** A file of `__fixtures__/` beside this spec (sources: __fixtures__/PROVENANCE.md). */
const fixture = (path: string): string => fileURLToPath(new URL(`./__fixtures__/${path}`, import.meta.url));
/** A real lockfile of libs/lockfiles (sources: libs/lockfiles/src/__fixtures__/PROVENANCE.md). */
const lockFixture = (path: string): string => readFileSync(fileURLToPath(new URL(`../../../libs/lockfiles/src/__fixtures__/${path}`, import.meta.url)), 'utf8');

/**
 * The CycloneDX scan a generator writes from a lockfile's resolved graph (as cyclonedx-npm,
 * cyclonedx-py and cargo-cyclonedx do): one `pkg:<type>/<name>@<version>` component per locked
 * package (bom-ref = its id), the root depending on the direct dependencies, each package on what
 * its entry resolved to. go.sum has no package edges: its indirect modules hang from nothing.
 */
function scanOfLockfile(graph: ResolvedGraph): ParsedScan {
  const packages = Object.values(graph.packages);
  return parseCycloneDx({
    bomFormat: 'CycloneDX',
    specVersion: '1.6',
    version: 1,
    metadata: { component: { type: 'application', name: graph.root.name ?? 'app', version: graph.root.version ?? '0.0.0', 'bom-ref': 'root' } },
    components: packages.map((p) => ({ type: 'library', name: p.name, version: p.version, purl: `pkg:${p.ecosystem}/${p.name}@${p.version}`, 'bom-ref': p.id })),
    dependencies: [
      { ref: 'root', dependsOn: [...new Set(graph.edges.filter((e) => e.from === ROOT_ID && e.to !== null).map((e) => e.to!))] },
      ...packages.map((p) => ({ ref: p.id, dependsOn: [...new Set(graph.edges.filter((e) => e.from === p.id && e.to !== null).map((e) => e.to!))] })),
    ],
  });
}

/** A scan of `app` depending on `chain[0]`, each package of `chain` (`name@version`) on the next one. */
function chainScan(purlType: string, chain: string[]): ParsedScan {
  const components = chain.map((ref) => {
    const at = ref.lastIndexOf('@');
    return { type: 'library', name: ref.slice(0, at), version: ref.slice(at + 1), purl: `pkg:${purlType}/${ref}`, 'bom-ref': ref };
  });
  return parseCycloneDx({
    bomFormat: 'CycloneDX',
    specVersion: '1.6',
    version: 1,
    metadata: { component: { type: 'application', name: 'app', version: '1.0.0', 'bom-ref': 'app' } },
    components,
    dependencies: [{ ref: 'app', dependsOn: [chain[0]!] }, ...chain.slice(0, -1).map((ref, i) => ({ ref, dependsOn: [chain[i + 1]!] }))],
  });
}

async function transitiveOf(scan: ParsedScan, deps: PlanDeps): Promise<Map<string, TransitiveFinding>> {
  const plan = await computePlan(scan, deps);
  return new Map(plan.transitive.map((t) => [t.name, t]));
}

const brief = (o: { kind: string; name: string; from: string; to: string; jump: string; mechanism?: string } | null | undefined): string | null =>
  o ? `${o.kind}${o.mechanism ? `(${o.mechanism})` : ''} ${o.name} ${o.from}→${o.to} (${o.jump})` : null;

describe('transitive fix options of the other ecosystems (issue 15 part 3, docs/decisions/0017), from real lockfiles', () => {
  it("Go, viper v1.6.2's go.mod + go.sum: a go.mod require of the fixed version for each vulnerable // indirect module; go.sum gives no parents", async () => {
    const graph = readLockfile('go.sum', lockFixture('viper-v1.6.2/go.sum'), { goMod: { file: 'go.mod', text: lockFixture('viper-v1.6.2/go.mod') } });
    const goproxy: RegistrySource = {
      label: 'test/fixtures/registry/go',
      releases: async (name) => ({ name, versions: fromVersionList(readFileSync(fixturePath('registry/go', escapeModulePath(name), '@v/list'), 'utf8')), source: 'test/fixtures/registry/go' }),
    };
    const advisories = await loadOsvDirectory(fixturePath('osv-go-cases'), { ecosystem: ['Go'] });
    const found = await transitiveOf(scanOfLockfile(graph), { advisories, registries: new Map([['golang', goproxy]]), lockfile: graph });
    // Every vulnerable module but gopkg.in/yaml.v2 is `// indirect` in go.mod: transitive. One option each, a go.mod require (MVS keeps the highest required version).
    expect([...found.keys()]).toEqual(['github.com/dgrijalva/jwt-go', 'github.com/gogo/protobuf', 'github.com/gorilla/websocket', 'github.com/prometheus/client_golang', 'golang.org/x/net', 'google.golang.org/grpc']);
    expect(Object.fromEntries([...found].map(([name, t]) => [name, t.options!.map(brief)]))).toEqual({
      'github.com/dgrijalva/jwt-go': [],
      'github.com/gogo/protobuf': ['override(require) github.com/gogo/protobuf v1.2.1→v1.3.2 (minor)'],
      'github.com/gorilla/websocket': ['override(require) github.com/gorilla/websocket v1.4.0→v1.4.1 (patch)'],
      'github.com/prometheus/client_golang': ['override(require) github.com/prometheus/client_golang v0.9.3→v1.11.1 (major)'],
      'golang.org/x/net': ['override(require) golang.org/x/net v0.0.0-20190522155817-f3200d17e092→v0.56.0 (major)'],
      'google.golang.org/grpc': ['override(require) google.golang.org/grpc v1.21.0→v1.82.1 (minor)'],
    });
    const net = found.get('golang.org/x/net')!;
    expect(net.via).toEqual([]);
    expect(net.minimal).toEqual(net.options![0]);
    expect(net.minimal!.notes).toEqual(['go.mod require golang.org/x/net v0.56.0 (minimal version selection then picks it)']);
    // The pseudo-version and v0.56.0 are on the same line (v0, goVersioning.sameLine), and v0.56.0 is the newest listed: moderate = comprehensive = minimal.
    expect([net.moderate, net.comprehensive]).toEqual([net.minimal, net.minimal]);
    // client_golang v0.9.3 has no fix on v0: moderate falls back to the minimal require (v1.11.1), noted, as a target's moderate does.
    const prometheus = found.get('github.com/prometheus/client_golang')!;
    expect(prometheus.moderate).toEqual({ ...prometheus.minimal, notes: [...prometheus.minimal!.notes, 'no fixed version within the current major line'] });
    expect(net.reasons).toEqual([
      'no lockfile update: go.sum records hashes, not version choices; the version moves through a go.mod require',
      'go.sum records no package-to-package edges: which direct dependency brings golang.org/x/net is unknown, no parent bump checked',
    ]);
    // GO-2020-0017: jwt-go has no fixed version under its own path: the reason says so instead of an option.
    expect(found.get('github.com/dgrijalva/jwt-go')!).toMatchObject({ options: [], minimal: null, moderate: null, comprehensive: null, reasons: ['no stable version of github.com/dgrijalva/jwt-go newer than v3.2.0+incompatible is free of its advisories'] });
  });

  it('Poetry, a real poetry.lock: importlib-metadata 6.6.0 requires zipp >=0.5, so poetry update zipp reaches the fix 3.19.1; the pin is a pyproject dependency', async () => {
    const graph = readLockfile('poetry.lock', lockFixture('poetry/poetry.lock'));
    const advisories = await loadOsvDirectory(fixture('osv/PyPI'), { ecosystem: ['PyPI'] });
    const found = await transitiveOf(scanOfLockfile(graph), { advisories, registries: new Map([['pypi', new PypiSnapshotSource(fixture('registry/pypi'))]]), lockfile: graph });
    const zipp = found.get('zipp')!;
    expect([...found.keys()]).toEqual(['zipp']);
    expect(zipp).toMatchObject({ version: '3.15.0', advisories: ['GHSA-jfmj-5v4g-7637'], via: ['click'] });
    expect(zipp.options!.map(brief)).toEqual(['lockfile_update zipp 3.15.0→3.19.1 (minor)', 'override(tool.poetry.dependencies) zipp 3.15.0→3.19.1 (minor)']);
    // The requirement comes from poetry.lock itself (PyPI's version list has no dependencies).
    expect(zipp.options![0]!.notes).toEqual(['every parent admits 3.19.1: importlib-metadata@6.6.0 requires zipp >=0.5', 'poetry.lock: poetry update zipp (picks 3.19.1 or newer)']);
    expect(zipp.options![1]!.notes).toEqual(['pyproject.toml [tool.poetry.dependencies] zipp = ">=3.19.1"']);
    expect(zipp.minimal).toEqual(zipp.options![0]);
    expect(zipp.moderate).toEqual(zipp.options![0]);
    expect(zipp.comprehensive).toEqual(zipp.options![0]);
    expect(zipp.reasons).toEqual(["no parent bump computed through click → importlib-metadata → zipp: the pypi registry's version list carries no dependencies of click"]);

    // Without the lockfile (a requirements project): no lockfile update, and the pin is a pip constraint whose parents' requirements are unknown.
    const bare = (await transitiveOf(scanOfLockfile(graph), { advisories, registries: new Map([['pypi', new PypiSnapshotSource(fixture('registry/pypi'))]]) })).get('zipp')!;
    expect(bare.options!.map(brief)).toEqual(['override(constraints) zipp 3.15.0→3.19.1 (minor)']);
    expect(bare.options![0]!.notes).toEqual([
      'constraints file (pip install -c constraints.txt): zipp==3.19.1',
      "valid only inside every parent's requirement on zipp, which the planner does not know for every parent",
    ]);
    expect(bare.reasons).toContain('no lockfile update: no poetry.lock or uv.lock was given (a requirements project pins through a constraint)');
    expect(bare.reasons).toContain("importlib-metadata@6.6.0's requirement on zipp is unknown: the pypi registry's version list carries no dependencies and no lockfile was given");
  });

  it("Cargo, fd 10.3.0's Cargo.lock: crossbeam-epoch 0.9.18 (RUSTSEC-2026-0204) under ignore → crossbeam-deque: a lockfile update when the dependent's index record admits the fix, never an override", async () => {
    const graph = readLockfile('Cargo.lock', readFileSync(fixturePath('manifests/fd-v10.3.0/Cargo.lock'), 'utf8'));
    const index: RegistrySource = {
      label: 'apps/planner/src/__fixtures__/registry/cargo',
      releases: async (name) => {
        const file = fixture(`registry/cargo/${sparseIndexPath(name)}`);
        if (!existsSync(file)) throw new InvalidInputError('PACKAGE_NOT_FOUND', `${name} is not in the fixture index`);
        return { ...fromIndexFile(name, readFileSync(file, 'utf8'), file), source: 'fixture' };
      },
    };
    const advisories = await loadOsvDirectory(fixture('osv/crates.io'), { ecosystem: ['crates.io'] });
    const found = await transitiveOf(scanOfLockfile(graph), { advisories, registries: new Map([['cargo', index]]), lockfile: graph });
    const epoch = found.get('crossbeam-epoch')!;
    expect(epoch).toMatchObject({ version: '0.9.18', advisories: ['RUSTSEC-2026-0204'], via: ['ignore'], options: [], minimal: null });
    // The index snapshot holds crossbeam-deque 0.8.5, not the locked 0.8.6, nor ignore: each missing fact is named; Cargo has no override.
    expect(epoch.reasons).toEqual([
      'crossbeam-deque@0.8.6 is not listed by the registry: its requirement on crossbeam-epoch is unknown',
      'versions of ignore could not be listed (PACKAGE_NOT_FOUND)',
      "Cargo has no override: [patch] replaces a crate's source, not its version, so only the lockfile update or a parent bump can move it",
    ]);

    // The same crate under crossbeam-deque 0.8.5 (its real index record requires crossbeam-epoch ^0.9.17): cargo update --precise to 0.9.20.
    const scan = chainScan('cargo', ['crossbeam-deque@0.8.5', 'crossbeam-epoch@0.9.18']);
    const under085 = (await transitiveOf(scan, { advisories, registries: new Map([['cargo', index]]), lockfile: graph })).get('crossbeam-epoch')!;
    expect(under085.options!.map(brief)).toEqual(['lockfile_update crossbeam-epoch 0.9.18→0.9.20 (patch)']);
    expect(under085.options![0]!.notes).toEqual(['every parent admits 0.9.20: crossbeam-deque@0.8.5 requires crossbeam-epoch ^0.9.17', 'Cargo.lock: cargo update -p crossbeam-epoch --precise 0.9.20']);
    expect([under085.minimal, under085.moderate, under085.comprehensive]).toEqual([under085.options![0], under085.options![0], under085.options![0]]);
    expect(under085.reasons).toEqual([
      'no parent bump through crossbeam-deque → crossbeam-epoch: none of the 0 newer stable version(s) of crossbeam-deque leads to a fixed crossbeam-epoch',
      "Cargo has no override: [patch] replaces a crate's source, not its version, so only the lockfile update or a parent bump can move it",
    ]);
  });

  it('npm projects: the override is written where the lockfile\'s package manager reads it (yarn.lock → resolutions, pnpm-lock.yaml → pnpm.overrides)', async () => {
    // express 4.17.1 pins body-parser 1.19.0 (GHSA-qwcr-r2fm-qrc7, fixed 1.20.3); the lockfile given tells the package manager.
    const scan = chainScan('npm', ['express@4.17.1', 'body-parser@1.19.0']);
    const advisories = await loadOsvDirectory(fixture('osv/npm'), { ecosystem: 'npm' });
    const versions = new SnapshotDirectorySource(fixture('registry/npm'));
    const overrideWith = async (lockfile: ResolvedGraph) => (await transitiveOf(scan, { advisories, versions, lockfile })).get('body-parser')!.options!.find((o) => o.kind === 'override')!;
    const yarn = await overrideWith(readLockfile('yarn.lock', lockFixture('yarn-v1/yarn.lock')));
    expect([yarn.mechanism, yarn.to, yarn.notes]).toEqual(['resolutions', '1.20.3', ['package.json "resolutions": { "body-parser": "1.20.3" }', "outside express@4.17.1's requirement 1.19.0: the override forces it"]]);
    const berry = await overrideWith(readLockfile('yarn.lock', lockFixture('yarn-berry/yarn.lock')));
    expect(berry.mechanism).toBe('resolutions');
    const pnpm = await overrideWith(readLockfile('pnpm-lock.yaml', lockFixture('pnpm-9/pnpm-lock.yaml')));
    expect([pnpm.mechanism, pnpm.notes[0]]).toEqual(['pnpm.overrides', 'package.json "pnpm": { "overrides": { "body-parser": "1.20.3" } }']);
    // A lockfile of another ecosystem (Cargo.lock) does not change an npm finding: npm's own `overrides`.
    expect((await overrideWith(readLockfile('Cargo.lock', lockFixture('cargo/Cargo.lock')))).mechanism).toBe('overrides');
  });
});
