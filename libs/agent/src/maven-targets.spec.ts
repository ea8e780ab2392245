import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mavenEcosystem } from '@remediation/ecosystems';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildTargetContext, createBumpVersionTool, createManifestBumper, executeTool, findEcosystemUsages, Workspace, writeRefusal } from './index.js';

const JAVA_GOOF = join(dirname(fileURLToPath(import.meta.url)), '../../ecosystems/src/maven/__fixtures__/java-goof');
const LOG4J = 'org.apache.logging.log4j:log4j-core';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'agent-java-'));
  await cp(join(JAVA_GOOF, 'log4shell-goof/log4shell-server/pom.xml'), join(root, 'pom.xml'));
  await mkdir(join(root, 'src/main/java'), { recursive: true });
  await writeFile(join(root, 'src/main/java/Server.java'), 'import org.apache.logging.log4j.LogManager;\nimport org.apache.logging.log4j.Logger;\n\npublic class Server {\n  static final Logger log = LogManager.getLogger(Server.class);\n}\n');
  await mkdir(join(root, 'src/main/kotlin'), { recursive: true });
  await writeFile(join(root, 'src/main/kotlin/Util.kt'), 'import org.apache.logging.log4j.ThreadContext\n');
  // Not sources: Maven's build output, and a file of another language mentioning the package.
  await mkdir(join(root, 'target/generated-sources'), { recursive: true });
  await writeFile(join(root, 'target/generated-sources/Gen.java'), 'import org.apache.logging.log4j.Logger;\n');
  await writeFile(join(root, 'README.md'), 'import org.apache.logging.log4j.Logger;\n');
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('Maven poms and usages for the agent', () => {
  it('finds `.java` and `.kt` imports of an artifact by its package, skipping target/ and other files', async () => {
    const search = await findEcosystemUsages(root, mavenEcosystem, LOG4J);
    expect(search.usages.map((u) => `${u.path}:${u.line}`)).toEqual(['src/main/java/Server.java:1', 'src/main/java/Server.java:2', 'src/main/kotlin/Util.kt:1']);
    expect(search.filesScanned).toBe(2);
    const context = await buildTargetContext({
      workspaceDir: root,
      target: { name: LOG4J, ecosystem: 'maven', from: '2.15.0', to: '2.17.1', jump: 'minor', advisories: [] },
      manifestDiff: '',
    });
    expect(context.text).toContain('Manifest: `pom.xml` (maven)');
    expect(context.text).toContain('found in 2 Java/Kotlin file(s)');
    expect(context.text).toContain('.git, target, node_modules, .mvn skipped');
  });

  it('bump_version raises the <version> in pom.xml, byte-exact, proven against the advisory ranges', async () => {
    const before = await readFile(join(root, 'pom.xml'), 'utf8');
    const ws = await Workspace.open(root);
    const tool = createBumpVersionTool({
      bump: createManifestBumper(ws, { allowedPackages: [LOG4J], advisoryRanges: () => ['>=2.13.0,<2.17.1'], ecosystem: mavenEcosystem }),
      ecosystem: mavenEcosystem,
    });
    const low = await executeTool(tool, { package: LOG4J, version: '2.17.0' }, { toolUseId: 't1' });
    expect(low.isError).toBe(true);
    expect(await readFile(join(root, 'pom.xml'), 'utf8')).toBe(before);
    const result = await executeTool(tool, { package: LOG4J, version: '2.17.1' }, { toolUseId: 't2' });
    expect(result.isError).toBe(false);
    expect(await readFile(join(root, 'pom.xml'), 'utf8')).toBe(before.replace('<artifactId>log4j-core</artifactId>\n      <version>2.15.0</version>', '<artifactId>log4j-core</artifactId>\n      <version>2.17.1</version>'));
  });

  it('bump_version raises a version a module inherits from its parent pom, in the parent, and says what else the property versions', async () => {
    await mkdir(join(root, 'todolist-goof/todolist-web-struts'), { recursive: true });
    await cp(join(JAVA_GOOF, 'todolist-goof/pom.xml'), join(root, 'todolist-goof/pom.xml'));
    await cp(join(JAVA_GOOF, 'todolist-goof/todolist-web-struts/pom.xml'), join(root, 'todolist-goof/todolist-web-struts/pom.xml'));
    const parent = await readFile(join(root, 'todolist-goof/pom.xml'), 'utf8');
    const child = await readFile(join(root, 'todolist-goof/todolist-web-struts/pom.xml'), 'utf8');
    const ws = await Workspace.open(root);
    const STRUTS = 'org.apache.struts:struts2-core';
    const tool = createBumpVersionTool({
      bump: createManifestBumper(ws, { allowedPackages: [STRUTS], advisoryRanges: () => ['>=2.3.0,<2.3.32'], ecosystem: mavenEcosystem }),
      ecosystem: mavenEcosystem,
    });
    const result = await executeTool(tool, { package: STRUTS, version: '2.3.32', manifest_path: 'todolist-goof/todolist-web-struts/pom.xml' }, { toolUseId: 't3' });
    expect(result.isError, JSON.stringify(result)).toBe(false);
    expect(JSON.stringify(result)).toContain('struts2-spring-plugin');
    expect(await readFile(join(root, 'todolist-goof/pom.xml'), 'utf8')).toBe(parent.replace('<struts2.version>2.3.20</struts2.version>', '<struts2.version>2.3.32</struts2.version>'));
    expect(await readFile(join(root, 'todolist-goof/todolist-web-struts/pom.xml'), 'utf8')).toBe(child);
  });

  it('the agent may not write pom.xml directly; bump_version may', () => {
    expect(writeRefusal('pom.xml')).toContain('is a Maven project file');
    expect(writeRefusal('todolist-goof/todolist-web-struts/pom.xml')).toContain('is a Maven project file');
    expect(writeRefusal('pom.xml', {}, { viaBumpVersion: true })).toBeNull();
    expect(writeRefusal('src/main/resources/pom.xml.template')).toBeNull();
  });
});
