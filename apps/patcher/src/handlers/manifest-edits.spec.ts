import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PlannerOutput } from '@remediation/contracts';
import { afterEach, describe, expect, it } from 'vitest';
import { type ManifestDependency, pypiEcosystem } from '@remediation/ecosystems';
import { applyManifestBumps, type EditTarget, proveTargets, restoreUnshipped, versionFor } from './manifest-edits.js';

const PYPI_FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../../../../libs/ecosystems/src/pypi/__fixtures__');
const GO_FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../../../../libs/ecosystems/src/go/__fixtures__');
const JAVA_GOOF = join(dirname(fileURLToPath(import.meta.url)), '../../../../libs/ecosystems/src/maven/__fixtures__/java-goof');

/** A plan with the targets' advisories' affected ranges (PEP 440 specifier sets for PyPI). */
function planOf(targets: Array<{ name: string; ecosystem: string; ranges: string[] }>): PlannerOutput {
  return { targets: targets.map((t) => ({ name: t.name, ecosystem: t.ecosystem, advisories: [{ affectedRanges: t.ranges }] })) } as unknown as PlannerOutput;
}

function target(name: string, toVersion: string, extra: Partial<EditTarget> = {}): EditTarget {
  return { name, ecosystem: 'pypi', manifestPath: 'requirements.txt', fromVersion: '0', toVersion, status: 'pending', needsAgent: false, ...extra };
}

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

/** A workspace: `lower` (the base snapshot) filled by `fill`, and `merged` a copy of it (as the overlay starts). */
async function workspace(fill: (lower: string) => Promise<void>): Promise<{ root: string; lower: string; merged: string }> {
  const root = await mkdtemp(join(tmpdir(), 'patcher-edits-'));
  dirs.push(root);
  const lower = join(root, 'lower');
  const merged = join(root, 'merged');
  await mkdir(lower);
  await fill(lower);
  await cp(lower, merged, { recursive: true });
  return { root, lower, merged };
}

const pygoat = () => workspace((lower) => cp(join(PYPI_FIXTURES, 'pygoat'), lower, { recursive: true }));

async function bump(ws: { lower: string; merged: string }, targets: EditTarget[], plan: PlannerOutput) {
  return applyManifestBumps({ lowerDir: ws.lower, mergedDir: ws.merged, targets, plan, agentConfigured: true, heartbeat: () => {} });
}

describe('manifest edits of PyPI targets (pygoat)', () => {
  const plan = planOf([
    { name: 'django', ecosystem: 'pypi', ranges: ['>=4.2,<4.2.14'] },
    { name: 'pyyaml', ecosystem: 'pypi', ranges: ['<5.4'] },
    { name: 'requests', ecosystem: 'pypi', ranges: ['<2.31.0'] },
  ]);
  const targets = [target('django', '4.2.14'), target('pyyaml', '5.4'), target('requests', '2.31.0')];

  it('raises the pins of the plan manifest only, byte for byte, idempotently', async () => {
    const ws = await pygoat();
    const original = await readFile(join(ws.lower, 'requirements.txt'), 'utf8');
    const expected = original.replace('Django==4.2\n', 'Django==4.2.14\n').replace('PyYAML==5.1\n', 'PyYAML==5.4\n').replace('requests==2.28.2\n', 'requests==2.31.0\n');
    expect(expected).not.toBe(original);

    const outcomes = await bump(ws, targets, plan);
    expect(outcomes).toEqual([
      { name: 'django', status: 'success', reason: null, declaredFrom: '==4.2', declaredTo: '==4.2.14' },
      { name: 'pyyaml', status: 'success', reason: null, declaredFrom: '==5.1', declaredTo: '==5.4' },
      { name: 'requests', status: 'success', reason: null, declaredFrom: '==2.28.2', declaredTo: '==2.31.0' },
    ]);
    expect(await readFile(join(ws.merged, 'requirements.txt'), 'utf8')).toBe(expected);
    // django==3.2.18 and requests==2.28.1 of a lab's own requirements are another project's pins.
    const lab = 'dockerized_labs/sensitive_data_exposure/requirements.txt';
    expect(await readFile(join(ws.merged, lab), 'utf8')).toBe(await readFile(join(ws.lower, lab), 'utf8'));

    await bump(ws, targets, plan); // a redelivery rebuilds from the base snapshot
    expect(await readFile(join(ws.merged, 'requirements.txt'), 'utf8')).toBe(expected);
  });

  it('records the proof of remediation and puts unshipped bumps back', async () => {
    const ws = await pygoat();
    const original = await readFile(join(ws.lower, 'requirements.txt'), 'utf8');
    await bump(ws, targets, plan);
    const restored = await restoreUnshipped({ lowerDir: ws.lower, mergedDir: ws.merged, targets, shipped: new Set(['django']) });
    expect(restored).toEqual(['pyyaml', 'requests']);
    expect(await readFile(join(ws.merged, 'requirements.txt'), 'utf8')).toBe(original.replace('Django==4.2\n', 'Django==4.2.14\n'));

    const [django, pyyaml] = await proveTargets({ mergedDir: ws.merged, targets: targets.slice(0, 2), plan });
    expect(django).toMatchObject({ target: 'django', remediated: true, declared: ['requirements.txt requirements: ==4.2.14'], lowestAdmissible: '4.2.14' });
    expect(pyyaml).toMatchObject({ target: 'pyyaml', remediated: false, declared: ['requirements.txt requirements: ==5.1'], lowestAdmissible: '5.1' });
    expect(pyyaml!.reason).toContain('5.1');
  });

  it('finds a dependency the plan manifest does not declare in every manifest of the repository', async () => {
    const ws = await pygoat();
    const outcomes = await bump(ws, [target('flask', '3.0.1')], planOf([{ name: 'flask', ecosystem: 'pypi', ranges: ['<3.0.1'] }]));
    expect(outcomes).toEqual([
      {
        name: 'flask',
        status: 'success',
        reason: 'declared in dockerized_labs/broken_auth_lab/requirements.txt, dockerized_labs/insec_des_lab/requirements.txt',
        declaredFrom: '==2.3.3',
        declaredTo: '==3.0.1',
      },
    ]);
    for (const lab of ['broken_auth_lab', 'insec_des_lab']) {
      const file = `dockerized_labs/${lab}/requirements.txt`;
      const before = await readFile(join(ws.lower, file), 'utf8');
      expect(await readFile(join(ws.merged, file), 'utf8')).toBe(before.replace(/^Flask==\S+/m, 'Flask==3.0.1'));
    }
    expect(await readFile(join(ws.merged, 'requirements.txt'), 'utf8')).toBe(await readFile(join(ws.lower, 'requirements.txt'), 'utf8'));
  });

  it('skips a dependency no manifest declares, and an ecosystem that is not supported', async () => {
    const ws = await pygoat();
    const outcomes = await bump(
      ws,
      [target('numpy', '1.22.0'), target('serde', '1.0.0', { ecosystem: 'cargo', manifestPath: 'Cargo.toml' }), target('rack', '2.0.0', { ecosystem: 'gem', manifestPath: 'Gemfile' })],
      plan,
    );
    expect(outcomes).toEqual([
      { name: 'numpy', status: 'skipped', reason: 'numpy is not declared in requirements.txt or any other pypi manifest of the repository', declaredFrom: null, declaredTo: null },
      // Cargo is supported: pygoat has no Cargo.toml declaring serde.
      { name: 'serde', status: 'skipped', reason: 'serde is not declared in Cargo.toml or any other cargo manifest of the repository', declaredFrom: null, declaredTo: null },
      { name: 'rack', status: 'skipped', reason: 'not supported yet: gem', declaredFrom: null, declaredTo: null },
    ]);
  });

  it('fails a bump whose result the plan does not prove remediated, editing nothing', async () => {
    const ws = await pygoat();
    const outcomes = await bump(ws, [target('django', '4.2.10')], planOf([{ name: 'django', ecosystem: 'pypi', ranges: ['>=4.2,<4.2.14'] }]));
    expect(outcomes[0]).toMatchObject({ name: 'django', status: 'failed' });
    expect(outcomes[0]!.reason).toMatch(/^requirements\.txt line 11: .*4\.2\.10/);
    expect(await readFile(join(ws.merged, 'requirements.txt'), 'utf8')).toBe(await readFile(join(ws.lower, 'requirements.txt'), 'utf8'));
  });
});

describe('manifest edits of Go targets (viper v1.6.2 go.mod)', () => {
  const goTarget = (name: string, toVersion: string): EditTarget => target(name, toVersion, { ecosystem: 'golang', manifestPath: 'go.mod' });
  /** viper's go.mod, with `extra` directives appended (the repository's own exclude/replace lines). */
  const viper = (extra = '') => workspace(async (lower) => writeFile(join(lower, 'go.mod'), (await readFile(join(GO_FIXTURES, 'viper-v1.6.2/go.mod'), 'utf8')) + extra));

  it('raises direct and // indirect require lines byte for byte, proves them, and puts unshipped ones back', async () => {
    const ws = await viper();
    const original = await readFile(join(ws.lower, 'go.mod'), 'utf8');
    const plan = planOf([
      { name: 'gopkg.in/yaml.v2', ecosystem: 'golang', ranges: ['<2.2.8'] },
      { name: 'github.com/gogo/protobuf', ecosystem: 'golang', ranges: ['<1.3.2'] },
    ]);
    const targets = [goTarget('gopkg.in/yaml.v2', 'v2.2.8'), goTarget('github.com/gogo/protobuf', 'v1.3.2')];
    expect(await bump(ws, targets, plan)).toEqual([
      { name: 'gopkg.in/yaml.v2', status: 'success', reason: null, declaredFrom: 'v2.2.4', declaredTo: 'v2.2.8' },
      { name: 'github.com/gogo/protobuf', status: 'success', reason: null, declaredFrom: 'v1.2.1', declaredTo: 'v1.3.2' },
    ]);
    const expected = original.replace('\tgopkg.in/yaml.v2 v2.2.4\n', '\tgopkg.in/yaml.v2 v2.2.8\n').replace('github.com/gogo/protobuf v1.2.1 // indirect', 'github.com/gogo/protobuf v1.3.2 // indirect');
    expect(expected).not.toBe(original);
    expect(await readFile(join(ws.merged, 'go.mod'), 'utf8')).toBe(expected);
    const [yaml] = await proveTargets({ mergedDir: ws.merged, targets: targets.slice(0, 1), plan });
    expect(yaml).toMatchObject({ target: 'gopkg.in/yaml.v2', remediated: true, lowestAdmissible: 'v2.2.8' });
    expect(await restoreUnshipped({ lowerDir: ws.lower, mergedDir: ws.merged, targets, shipped: new Set(['gopkg.in/yaml.v2']) })).toEqual(['github.com/gogo/protobuf']);
    expect(await readFile(join(ws.merged, 'go.mod'), 'utf8')).toBe(original.replace('\tgopkg.in/yaml.v2 v2.2.4\n', '\tgopkg.in/yaml.v2 v2.2.8\n'));
  });

  it('refuses an excluded fixed version, a replaced module and a fix in a new module path, each with its reason, editing nothing', async () => {
    const ws = await viper('\nexclude github.com/gorilla/websocket v1.4.1\n\nreplace github.com/gogo/protobuf => ./third_party/protobuf\n');
    const plan = planOf([
      { name: 'github.com/gorilla/websocket', ecosystem: 'golang', ranges: ['<1.4.1'] },
      { name: 'github.com/gogo/protobuf', ecosystem: 'golang', ranges: ['<1.3.2'] },
      { name: 'github.com/dgrijalva/jwt-go', ecosystem: 'golang', ranges: ['*'] },
    ]);
    const outcomes = await bump(ws, [goTarget('github.com/gorilla/websocket', 'v1.4.1'), goTarget('github.com/gogo/protobuf', 'v1.3.2'), goTarget('github.com/dgrijalva/jwt-go', 'v4.0.0')], plan);
    expect(outcomes.map((o) => o.status)).toEqual(['failed', 'failed', 'failed']);
    expect(outcomes[0]!.reason).toMatch(/^github\.com\/gorilla\/websocket v1\.4\.1 is excluded by go\.mod \(exclude directive on line \d+\)/);
    expect(outcomes[1]!.reason).toContain('replaced by ./third_party/protobuf');
    expect(outcomes[2]!.reason).toContain('is in github.com/dgrijalva/jwt-go/v4, a new module path: code changes needed');
    expect(outcomes[2]!.reason).toContain('(lockfile command: go mod tidy)');
    expect(await readFile(join(ws.merged, 'go.mod'), 'utf8')).toBe(await readFile(join(ws.lower, 'go.mod'), 'utf8'));
  });
});

describe('manifest edits of other PyPI manifests', () => {
  it('refuses a pin with --hash and names the lockfile command', async () => {
    const ws = await workspace((lower) => cp(join(PYPI_FIXTURES, 'requirements-hashes.txt'), join(lower, 'requirements.txt')));
    const outcomes = await bump(ws, [target('requests', '2.31.0')], planOf([{ name: 'requests', ecosystem: 'pypi', ranges: ['<2.31.0'] }]));
    expect(outcomes[0]).toMatchObject({ name: 'requests', status: 'failed' });
    expect(outcomes[0]!.reason).toContain('pip-compile --generate-hashes');
    expect(await readFile(join(ws.merged, 'requirements.txt'), 'utf8')).toBe(await readFile(join(ws.lower, 'requirements.txt'), 'utf8'));
  });

  it("raises a Poetry caret constraint in the constraint's own style and proves it", async () => {
    const ws = await workspace((lower) => cp(join(PYPI_FIXTURES, 'pyproject-poetry.toml'), join(lower, 'pyproject.toml')));
    const plan = planOf([{ name: 'django', ecosystem: 'pypi', ranges: ['>=3.2,<3.2.25'] }]);
    const t = target('django', '3.2.25', { manifestPath: 'pyproject.toml' });
    const outcomes = await bump(ws, [t], plan);
    expect(outcomes).toEqual([{ name: 'django', status: 'success', reason: null, declaredFrom: '^3.2.18', declaredTo: '^3.2.25' }]);
    const before = await readFile(join(ws.lower, 'pyproject.toml'), 'utf8');
    expect(await readFile(join(ws.merged, 'pyproject.toml'), 'utf8')).toBe(before.replace('Django = "^3.2.18"', 'Django = "^3.2.25"'));
    const [proof] = await proveTargets({ mergedDir: ws.merged, targets: [t], plan });
    expect(proof).toMatchObject({ remediated: true, declared: ['pyproject.toml tool.poetry.dependencies: ^3.2.25'], lowestAdmissible: '3.2.25', manifests: ['pyproject.toml'] });
  });

  it('follows -r/-c includes inside the repository and never outside it', async () => {
    const ws = await workspace(async (lower) => {
      await mkdir(join(lower, 'requirements'));
      await writeFile(join(lower, 'requirements.txt'), '-r requirements/base.txt\n-c ../outside.txt\nflask==2.0.0\n');
      await writeFile(join(lower, 'requirements', 'base.txt'), '# base\nDjango>=4.2,<5  # web\n');
    });
    await writeFile(join(ws.root, 'outside.txt'), 'Django==4.2\n');
    const outcomes = await bump(ws, [target('Django', '4.2.14')], planOf([{ name: 'django', ecosystem: 'pypi', ranges: ['>=4.2,<4.2.14'] }]));
    expect(outcomes).toEqual([{ name: 'Django', status: 'success', reason: null, declaredFrom: '>=4.2,<5', declaredTo: '>=4.2.14,<5' }]);
    expect(await readFile(join(ws.merged, 'requirements', 'base.txt'), 'utf8')).toBe('# base\nDjango>=4.2.14,<5  # web\n');
    expect(await readFile(join(ws.root, 'outside.txt'), 'utf8')).toBe('Django==4.2\n');
  });
});

describe('a package pinned at several versions (one target, `versions`)', () => {
  it('raises each manifest to the fixed version of the installed version it pins, leaves other pins alone, and proves them', async () => {
    const ws = await workspace(async (lower) => {
      await mkdir(join(lower, 'lab'));
      await mkdir(join(lower, 'other'));
      await writeFile(join(lower, 'requirements.txt'), 'Django==4.2\nrequests==2.28.1\n');
      await writeFile(join(lower, 'lab', 'requirements.txt'), 'django==3.2.18  # lab\n');
      await writeFile(join(lower, 'other', 'requirements.txt'), 'django==2.2\n');
    });
    const plan = planOf([
      { name: 'django', ecosystem: 'pypi', ranges: ['>=4.2,<4.2.16'] },
      { name: 'django', ecosystem: 'pypi', ranges: ['>=3.2,<3.2.25'] },
    ]);
    const t = target('django', '4.2.16', { fromVersion: '4.2', versions: [{ from: '3.2.18', to: '3.2.25' }, { from: '4.2', to: '4.2.16' }] });
    const outcomes = await bump(ws, [t], plan);
    expect(outcomes[0]).toMatchObject({ name: 'django', status: 'success' });
    expect(outcomes[0]!.reason).toContain('other/requirements.txt: "==2.2" is none of the installed versions the plan targets (3.2.18, 4.2); left alone');
    expect(await readFile(join(ws.merged, 'requirements.txt'), 'utf8')).toBe('Django==4.2.16\nrequests==2.28.1\n');
    expect(await readFile(join(ws.merged, 'lab', 'requirements.txt'), 'utf8')).toBe('django==3.2.25  # lab\n');
    expect(await readFile(join(ws.merged, 'other', 'requirements.txt'), 'utf8')).toBe('django==2.2\n');
    const [proof] = await proveTargets({ mergedDir: ws.merged, targets: [t], plan });
    expect(proof).toMatchObject({ remediated: true, manifests: ['lab/requirements.txt', 'requirements.txt'] });
  });

  it('picks the version by the installed version the requirement stands for', () => {
    const t = target('django', '4.2.16', { versions: [{ from: '3.2.18', to: '3.2.25' }, { from: '4.2', to: '4.2.16' }] });
    const decl = (requirement: string, style: 'pep440' | 'poetry' = 'pep440') => ({ requirement, style }) as unknown as ManifestDependency;
    expect(versionFor(t, pypiEcosystem, decl('==3.2.18'))).toBe('3.2.25');
    expect(versionFor(t, pypiEcosystem, decl('>=4.2,<5'))).toBe('4.2.16');
    expect(versionFor(t, pypiEcosystem, decl('^4.2.0', 'poetry'))).toBe('4.2.16');
    expect(versionFor(t, pypiEcosystem, decl('==2.2'))).toBeNull();
    expect(versionFor(t, pypiEcosystem, decl('<5'))).toBeNull();
    expect(versionFor(target('django', '4.2.16'), pypiEcosystem, decl('==2.2'))).toBe('4.2.16');
  });
});

describe('manifest edits of npm targets', () => {
  it('keep bumping package.json through @remediation/manifests, with or without an ecosystem on the row', async () => {
    const text = '{\n  "dependencies": {\n    "lodash": "^4.17.15"\n  },\n  "devDependencies": {\n    "jest": "^29.0.0"\n  }\n}\n';
    const ws = await workspace((lower) => writeFile(join(lower, 'package.json'), text));
    const plan = { targets: [{ name: 'lodash', ecosystem: 'npm', advisories: [{ affectedRanges: ['<4.17.21'] }] }] } as unknown as PlannerOutput;
    const npmTarget = (name: string, ecosystem?: string): EditTarget => ({
      name,
      manifestPath: 'package.json',
      fromVersion: '4.17.15',
      toVersion: '4.17.21',
      status: 'pending',
      needsAgent: false,
      ...(ecosystem ? { ecosystem } : {}),
    });
    const outcomes = await bump(ws, [npmTarget('lodash', 'npm'), npmTarget('left-pad')], plan);
    expect(outcomes).toEqual([
      { name: 'lodash', status: 'success', reason: null, declaredFrom: '^4.17.15', declaredTo: '^4.17.21' },
      { name: 'left-pad', status: 'skipped', reason: expect.stringContaining('left-pad is not declared'), declaredFrom: null, declaredTo: null },
    ]);
    expect(await readFile(join(ws.merged, 'package.json'), 'utf8')).toBe(text.replace('^4.17.15', '^4.17.21'));
  });
});

describe('manifest edits of Maven targets (java-goof)', () => {
  const JACKSON = 'com.fasterxml.jackson.core:jackson-databind';
  const STRUTS = 'org.apache.struts:struts2-core';
  const COMMON = 'todolist-goof/todolist-web-common/pom.xml';
  const PARENT = 'todolist-goof/pom.xml';
  const STRUTS_POM = 'todolist-goof/todolist-web-struts/pom.xml';
  const plan = planOf([
    { name: JACKSON, ecosystem: 'maven', ranges: ['<2.9.9.1', '>=2.0.0,<2.7.9.4'] },
    { name: STRUTS, ecosystem: 'maven', ranges: ['>=2.3.0,<2.3.32'] },
  ]);
  const mavenTarget = (name: string, from: string, to: string, manifestPath: string) => target(name, to, { ecosystem: 'maven', manifestPath, fromVersion: from });

  it('raises a <version> byte for byte and a property of the parent pom a module inherits, proves both, and restores unshipped bumps', async () => {
    const ws = await workspace((lower) => cp(JAVA_GOOF, lower, { recursive: true }));
    const original = await readFile(join(ws.lower, COMMON), 'utf8');
    const parent = await readFile(join(ws.lower, PARENT), 'utf8');
    const targets = [mavenTarget(JACKSON, '2.6.5', '2.9.9.1', COMMON), mavenTarget(STRUTS, '2.3.20', '2.3.32', STRUTS_POM)];
    const outcomes = await bump(ws, targets, plan);
    expect(outcomes[0]).toEqual({ name: JACKSON, status: 'success', reason: null, declaredFrom: '2.6.5', declaredTo: '2.9.9.1' });
    // struts2-core's ${struts2.version} lives in todolist-goof/pom.xml; it also versions the same
    // group's struts2-spring-plugin, raised with it and named.
    expect(outcomes[1]).toMatchObject({ name: STRUTS, status: 'success', declaredFrom: '2.3.20', declaredTo: '2.3.32' });
    expect(outcomes[1]!.reason).toContain('org.apache.struts:struts2-spring-plugin');
    const edited = original.replace('<artifactId>jackson-databind</artifactId>\n            <version>2.6.5</version>', '<artifactId>jackson-databind</artifactId>\n            <version>2.9.9.1</version>');
    expect(edited).not.toBe(original);
    expect(await readFile(join(ws.merged, COMMON), 'utf8')).toBe(edited);
    expect(await readFile(join(ws.merged, PARENT), 'utf8')).toBe(parent.replace('<struts2.version>2.3.20</struts2.version>', '<struts2.version>2.3.32</struts2.version>'));
    expect(await readFile(join(ws.merged, STRUTS_POM), 'utf8')).toBe(await readFile(join(ws.lower, STRUTS_POM), 'utf8'));
    const [jackson, struts] = await proveTargets({ mergedDir: ws.merged, targets, plan });
    expect(jackson).toMatchObject({ remediated: true, lowestAdmissible: '2.9.9.1' });
    expect(struts).toMatchObject({ remediated: true, lowestAdmissible: '2.3.32', manifests: [PARENT], declared: [`${PARENT} properties.struts2.version: 2.3.32`] });
    expect(await restoreUnshipped({ lowerDir: ws.lower, mergedDir: ws.merged, targets, shipped: new Set() })).toEqual([JACKSON, STRUTS]);
    expect(await readFile(join(ws.merged, COMMON), 'utf8')).toBe(original);
    expect(await readFile(join(ws.merged, PARENT), 'utf8')).toBe(parent);
  });

  it('refuses a parent property shared with another group, naming it, and leaves every pom alone', async () => {
    const ws = await workspace(async (lower) => {
      await cp(JAVA_GOOF, lower, { recursive: true });
      const pom = await readFile(join(lower, STRUTS_POM), 'utf8');
      await writeFile(join(lower, STRUTS_POM), pom.replace('<artifactId>zt-zip</artifactId>\n            <version>1.12</version>', '<artifactId>zt-zip</artifactId>\n            <version>${struts2.version}</version>'));
    });
    const [outcome] = await bump(ws, [mavenTarget(STRUTS, '2.3.20', '2.3.32', STRUTS_POM)], plan);
    expect(outcome).toMatchObject({ name: STRUTS, status: 'failed' });
    expect(outcome!.reason).toContain('org.zeroturnaround:zt-zip');
    expect(await readFile(join(ws.merged, PARENT), 'utf8')).toBe(await readFile(join(ws.lower, PARENT), 'utf8'));
  });
});
