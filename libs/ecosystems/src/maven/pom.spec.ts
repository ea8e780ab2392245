import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { thrownInvalidInput } from '@remediation/testing';
import { findVersionSite, parsePom, pomManager, raiseInMavenProject, raisePomFloor } from './pom.js';

const ROOT = join(import.meta.dirname, '__fixtures__', 'java-goof');
const FILES = ['pom.xml', 'log4shell-goof/pom.xml', 'log4shell-goof/log4shell-client/pom.xml', 'log4shell-goof/log4shell-server/pom.xml', 'todolist-goof/pom.xml', 'todolist-goof/todolist-core/pom.xml', 'todolist-goof/todolist-web-common/pom.xml', 'todolist-goof/todolist-web-struts/pom.xml'];
const POMS = new Map(FILES.map((f) => [f, readFileSync(join(ROOT, f), 'utf8')]));
const pom = (f: string): string => POMS.get(f)!;

/** Asserts `after` is `before` with exactly `from` replaced by `to` once, at `at` (offset), and nothing else. */
function expectOnlyReplaced(before: string, after: string, at: number, from: string, to: string): void {
  expect(before.slice(at, at + from.length)).toBe(from);
  expect(after).toBe(before.slice(0, at) + to + before.slice(at + from.length));
}

describe('pomManager on java-goof', () => {
  it('extracts versions written on dependencies, with their exact places', () => {
    const text = pom('log4shell-goof/log4shell-client/pom.xml');
    const deps = pomManager.extract('log4shell-goof/log4shell-client/pom.xml', text).dependencies;
    const core = deps.find((d) => d.name === 'org.apache.logging.log4j:log4j-core')!;
    expect(core).toMatchObject({ requirement: '2.14.1', style: 'maven', location: { line: 26, section: 'dependencies' } });
    expect(text.slice(core.location.offset, core.location.offset + core.location.length)).toBe('2.14.1');
    const parent = deps.find((d) => d.location.section === 'parent')!;
    expect(parent.name).toBe('io.snyk:log4shell-poc');
    expect(parent.uneditable).toMatch(/parent upgrade/);
  });

  it('raises a version on the dependency, byte-exact (log4shell-client: log4j-core 2.14.1 → 2.17.1, log4j-api untouched)', () => {
    const file = 'log4shell-goof/log4shell-client/pom.xml';
    const text = pom(file);
    const edit = pomManager.raiseFloor(file, text, 'org.apache.logging.log4j:log4j-core', '2.17.1');
    expect(edit.status).toBe('edited');
    if (edit.status !== 'edited') return;
    expect([edit.before, edit.after]).toEqual(['2.14.1', '2.17.1']);
    expectOnlyReplaced(text, edit.text, edit.location.offset, '2.14.1', '2.17.1');
    expect(edit.text).toContain('<artifactId>log4j-api</artifactId>\n      <version>2.14.1</version>');
    expect(pomManager.raiseFloor(file, edit.text, 'org.apache.logging.log4j:log4j-core', '2.17.0')).toMatchObject({ status: 'unchanged', requirement: '2.17.1' });
  });

  it('raises jackson-databind in todolist-web-common (2.6.5 → 2.9.9.1) and leaves jackson-core/annotations alone', () => {
    const file = 'todolist-goof/todolist-web-common/pom.xml';
    const text = pom(file);
    const edit = pomManager.raiseFloor(file, text, 'com.fasterxml.jackson.core:jackson-databind', '2.9.9.1');
    if (edit.status !== 'edited') throw new Error(JSON.stringify(edit));
    expectOnlyReplaced(text, edit.text, edit.location.offset, '2.6.5', '2.9.9.1');
    expect(edit.location.line).toBe(29);
  });

  it('reports a property inherited from the parent pom as uneditable in the child, naming where to edit', () => {
    const file = 'todolist-goof/todolist-web-struts/pom.xml';
    const struts = pomManager.extract(file, pom(file)).dependencies.find((d) => d.name === 'org.apache.struts:struts2-core')!;
    expect(struts.uneditable).toMatch(/\$\{struts2\.version\}, not defined in todolist-goof\/todolist-web-struts\/pom\.xml/);
    expect(pomManager.raiseFloor(file, pom(file), 'org.apache.struts:struts2-core', '2.3.32')).toMatchObject({ status: 'refused', reason: 'unsupported-requirement' });
    expect(pomManager.raiseFloor(file, pom(file), 'org.example:absent', '1.0')).toMatchObject({ status: 'refused', reason: 'not-found' });
  });

  it('refuses to raise a parent POM: that is a parent upgrade', () => {
    const file = 'todolist-goof/todolist-core/pom.xml';
    const edit = pomManager.raiseFloor(file, pom(file), 'io.github.snyk:todolist-mvc', '0.0.2');
    expect(edit).toMatchObject({ status: 'refused' });
    if (edit.status === 'refused') expect(edit.message).toMatch(/parent upgrade/);
  });

  it('rejects text that is not XML', () => {
    expect(thrownInvalidInput(() => parsePom('pom.xml', '<project><dependencies></project>'))?.code).toBe('MANIFEST_INVALID');
  });
});

describe('multi-module builds (java-goof todolist-goof)', () => {
  it('finds the parent property that versions struts2-core and edits only its bytes, raising the same-group plugin with it', () => {
    const site = findVersionSite(POMS, 'todolist-goof/todolist-web-struts/pom.xml', 'org.apache.struts:struts2-core');
    expect(site).toMatchObject({ file: 'todolist-goof/pom.xml', kind: 'property', property: 'struts2.version', text: { value: '2.3.20' } });
    const edit = raiseInMavenProject(POMS, 'todolist-goof/todolist-web-struts/pom.xml', 'org.apache.struts:struts2-core', '2.3.32');
    if (edit.status !== 'edited') throw new Error(JSON.stringify(edit));
    expect(edit.file).toBe('todolist-goof/pom.xml');
    expectOnlyReplaced(pom('todolist-goof/pom.xml'), edit.text, site!.text.offset, '2.3.20', '2.3.32');
    expect(edit.notes.join()).toContain('org.apache.struts:struts2-spring-plugin');
  });

  it('with the parent chain as context (inherits), the manager reports and edits the inherited property where it is written', () => {
    const file = 'todolist-goof/todolist-web-struts/pom.xml';
    expect(pomManager.inherits!(file, pom(file))).toEqual(['todolist-goof/pom.xml']);
    expect(pomManager.inherits!('todolist-goof/pom.xml', pom('todolist-goof/pom.xml'))).toEqual([]);
    const context = new Map([['todolist-goof/pom.xml', pom('todolist-goof/pom.xml')]]);
    const struts = pomManager.extract(file, pom(file), context).dependencies.filter((d) => d.name === 'org.apache.struts:struts2-core');
    expect(struts).toHaveLength(1);
    expect(struts[0]).toMatchObject({ requirement: '2.3.20', location: { file: 'todolist-goof/pom.xml', section: 'properties.struts2.version' } });
    expect(struts[0]!.uneditable).toBeUndefined();
    const edit = pomManager.raiseFloor(file, pom(file), 'org.apache.struts:struts2-core', '2.3.32', context);
    if (edit.status !== 'edited') throw new Error(JSON.stringify(edit));
    expect(edit.file).toBe('todolist-goof/pom.xml');
    expectOnlyReplaced(pom('todolist-goof/pom.xml'), edit.text, struts[0]!.location.offset, '2.3.20', '2.3.32');
    expect(edit.notes?.join()).toContain('struts2-spring-plugin');
    // A version on the module itself is still edited in the module.
    expect(pomManager.raiseFloor(file, pom(file), 'org.apache.logging.log4j:log4j-core', '2.12.4', context)).toMatchObject({ status: 'edited', before: '2.7', after: '2.12.4' });
  });

  it('refuses a shared property that versions artifacts of another group unless they are targets too', () => {
    const file = 'todolist-goof/todolist-web-struts/pom.xml';
    const text = pom(file).replace('<artifactId>zt-zip</artifactId>\n            <version>1.12</version>', '<artifactId>zt-zip</artifactId>\n            <version>${struts2.version}</version>');
    const poms = new Map(POMS).set(file, text);
    const refused = raiseInMavenProject(poms, file, 'org.apache.struts:struts2-core', '2.3.32');
    expect(refused).toMatchObject({ status: 'refused' });
    if (refused.status === 'refused') expect(refused.message).toContain('org.zeroturnaround:zt-zip');
    expect(raiseInMavenProject(poms, file, 'org.apache.struts:struts2-core', '2.3.32', { alsoTargets: ['org.zeroturnaround:zt-zip'] }).status).toBe('edited');
  });

  it('follows the parent chain only through matching parents in the repository', () => {
    expect(findVersionSite(POMS, 'log4shell-goof/log4shell-server/pom.xml', 'org.apache.logging.log4j:log4j-core')).toMatchObject({ file: 'log4shell-goof/log4shell-server/pom.xml', kind: 'version' });
    expect(findVersionSite(POMS, 'todolist-goof/todolist-core/pom.xml', 'org.apache.struts:struts2-core')).toBeNull();
  });
});

// The java-goof poms have no <dependencyManagement> or BOM import: these are built from
// todolist-goof/pom.xml by inserting the sections Maven documents
// (https://maven.apache.org/guides/introduction/introduction-to-dependency-mechanism.html).
const MANAGED = pom('todolist-goof/pom.xml').replace(
  '    <dependencies>\n',
  `    <dependencyManagement>
        <dependencies>
            <dependency>
                <groupId>com.fasterxml.jackson</groupId>
                <artifactId>jackson-bom</artifactId>
                <version>2.9.8</version>
                <type>pom</type>
                <scope>import</scope>
            </dependency>
            <dependency>
                <groupId>org.apache.logging.log4j</groupId>
                <artifactId>log4j-core</artifactId>
                <version>\${log4j.version}</version>
            </dependency>
        </dependencies>
    </dependencyManagement>
    <dependencies>
`,
).replace('<struts2.version>2.3.20</struts2.version>', '<struts2.version>2.3.20</struts2.version>\n        <log4j.version>2.7</log4j.version>');

describe('dependencyManagement and BOM imports', () => {
  it('extracts a BOM import and a managed property version with their sections', () => {
    const deps = pomManager.extract('todolist-goof/pom.xml', MANAGED).dependencies;
    expect(deps.find((d) => d.name === 'com.fasterxml.jackson:jackson-bom')).toMatchObject({ requirement: '2.9.8', location: { section: 'dependencyManagement.import' } });
    expect(deps.find((d) => d.name === 'org.apache.logging.log4j:log4j-core')).toMatchObject({ requirement: '2.7', location: { section: 'properties.log4j.version' } });
  });

  it('raises a BOM import and a managed version byte-exact', () => {
    const bom = raisePomFloor('todolist-goof/pom.xml', MANAGED, 'com.fasterxml.jackson:jackson-bom', '2.9.9.1');
    if (bom.status !== 'edited') throw new Error(JSON.stringify(bom));
    expectOnlyReplaced(MANAGED, bom.text, bom.location.offset, '2.9.8', '2.9.9.1');
    const log4j = raisePomFloor('todolist-goof/pom.xml', MANAGED, 'org.apache.logging.log4j:log4j-core', '2.17.1');
    if (log4j.status !== 'edited') throw new Error(JSON.stringify(log4j));
    expectOnlyReplaced(MANAGED, log4j.text, log4j.location.offset, '2.7', '2.17.1');
    expect(log4j.text).toContain('<log4j.version>2.17.1</log4j.version>');
  });

  it('resolves a child without <version> to the parent’s managed entry', () => {
    const child = 'todolist-goof/todolist-web-struts/pom.xml';
    const poms = new Map(POMS).set('todolist-goof/pom.xml', MANAGED).set(child, pom(child).replace('<artifactId>log4j-core</artifactId>\n            <version>2.7</version>', '<artifactId>log4j-core</artifactId>'));
    expect(findVersionSite(poms, child, 'org.apache.logging.log4j:log4j-core')).toMatchObject({ file: 'todolist-goof/pom.xml', kind: 'property', property: 'log4j.version' });
    const edit = raiseInMavenProject(poms, child, 'org.apache.logging.log4j:log4j-core', '2.17.1');
    expect(edit).toMatchObject({ status: 'edited', file: 'todolist-goof/pom.xml', before: '2.7', after: '2.17.1' });
  });

  it('refuses version ranges and keeps a same-file property shared with another group', () => {
    const ranged = MANAGED.replace('<version>2.9.8</version>', '<version>[2.9,3.0)</version>');
    expect(raisePomFloor('todolist-goof/pom.xml', ranged, 'com.fasterxml.jackson:jackson-bom', '2.9.9.1')).toMatchObject({ status: 'refused', reason: 'unsupported-requirement' });
    const shared = MANAGED.replace('<artifactId>jaxb-api</artifactId>\n            <version>2.3.0</version>', '<artifactId>jaxb-api</artifactId>\n            <version>${log4j.version}</version>');
    const refused = raisePomFloor('todolist-goof/pom.xml', shared, 'org.apache.logging.log4j:log4j-core', '2.17.1');
    expect(refused).toMatchObject({ status: 'refused' });
    if (refused.status === 'refused') expect(refused.message).toContain('javax.xml.bind:jaxb-api');
  });
});
