import { posix } from 'node:path';
import { InvalidInputError } from '@remediation/errors';
import { SaxesParser } from 'saxes';
import { applyFloorEdits } from '../pypi/floor-edits.js';
import type { FloorChange } from '../pypi/specifier.js';
import { lineAt } from '../text-position.js';
import type { ManifestContents, ManifestDependency, ManifestEdit, ManifestManager } from '../types.js';
import { compareMavenVersions, isMavenVersion, parseMavenRequirement } from './versioning.js';

/** The text of one leaf element as it sits in the file: its trimmed value and where that value is. */
export interface PomText {
  value: string;
  /** UTF-16 offset of the trimmed value in the file text. */
  offset: number;
  length: number;
  line: number;
  /** False when the raw text holds an entity, a comment or CDATA: the value is not its bytes. */
  editable: boolean;
}

/** One `<dependency>` of a pom (or the `<parent>`), with its coordinates and the place of its `<version>`. */
export interface PomDependency {
  groupId: string;
  artifactId: string;
  version?: PomText;
  scope?: string;
  type?: string;
  /**
   * `dependencies`, `dependencyManagement`, `dependencyManagement.import` (a BOM: scope `import`,
   * type `pom`), `parent`, or the same under a profile: `profiles.<id>.dependencies`, ….
   */
  section: string;
}

/** What {@link parsePom} reads of a pom (https://maven.apache.org/pom.html). */
export interface PomModel {
  groupId?: string;
  artifactId?: string;
  version?: string;
  parent?: PomDependency & { relativePath?: string };
  /** `<properties>` children by name. */
  properties: Map<string, PomText>;
  /** `<modules>` entries as written. */
  modules: string[];
  /** Dependencies of `<dependencies>` and `<dependencyManagement>` (project and profiles), in file order. */
  dependencies: PomDependency[];
}

function localName(name: string): string {
  const i = name.indexOf(':');
  return i === -1 ? name : name.slice(i + 1);
}

/**
 * Read a pom.xml with saxes (which reports source positions as JavaScript string indexes), keeping
 * the place of every version text so edits replace only those bytes.
 * @throws InvalidInputError `MANIFEST_INVALID` when the text is not well-formed XML or its root is not `<project>`.
 */
export function parsePom(file: string, text: string): PomModel {
  const parser = new SaxesParser({ position: true });
  const stack: string[] = [];
  const model: PomModel = { properties: new Map(), modules: [], dependencies: [] };
  let contentStart = 0;
  let hasMarkup = false;
  let textValue = '';
  let current: (Partial<PomDependency> & { relativePath?: string }) | null = null;
  let profileId: string | undefined;
  const site = (raw: string, start: number, value: string): PomText => {
    const lead = raw.length - raw.trimStart().length;
    const offset = start + lead;
    const editable = !hasMarkup && !raw.includes('&');
    return { value, offset, length: editable ? raw.trim().length : raw.length - lead, line: lineAt(text, offset), editable };
  };
  parser.on('opentag', (tag) => {
    stack.push(localName(tag.name));
    contentStart = parser.position;
    hasMarkup = false;
    textValue = '';
    const path = stack.join('/');
    if (/^project(\/profiles\/profile)?(\/dependencyManagement)?\/dependencies\/dependency$/.test(path) || path === 'project/parent') current = {};
  });
  parser.on('text', (t) => {
    textValue += t;
  });
  parser.on('cdata', (t) => {
    textValue += t;
    hasMarkup = true;
  });
  parser.on('comment', () => {
    hasMarkup = true;
  });
  parser.on('closetag', (tag) => {
    const path = stack.join('/');
    const name = stack[stack.length - 1]!;
    if (!tag.isSelfClosing) {
      const end = text.lastIndexOf('<', parser.position - 1);
      const raw = text.slice(contentStart, end);
      const value = textValue.trim();
      const parentPath = stack.slice(0, -1).join('/');
      if (current && (parentPath.endsWith('/dependency') || parentPath === 'project/parent')) {
        if (name === 'version') current.version = site(raw, contentStart, value);
        else if (name === 'groupId' || name === 'artifactId' || name === 'scope' || name === 'type' || name === 'relativePath') current[name] = value;
      } else if (parentPath === 'project/properties') {
        model.properties.set(name, site(raw, contentStart, value));
      } else if (parentPath === 'project/modules' && name === 'module') {
        model.modules.push(value);
      } else if (parentPath === 'project' && (name === 'groupId' || name === 'artifactId' || name === 'version')) {
        model[name] = value;
      } else if (parentPath === 'project/profiles/profile' && name === 'id') {
        profileId = value;
      }
    }
    if (current && (name === 'dependency' || path === 'project/parent')) {
      const profile = path.startsWith('project/profiles/') ? `profiles.${profileId ?? '?'}.` : '';
      const managed = path.includes('/dependencyManagement/');
      const bom = managed && current.scope === 'import' && current.type === 'pom';
      const section = path === 'project/parent' ? 'parent' : `${profile}${managed ? (bom ? 'dependencyManagement.import' : 'dependencyManagement') : 'dependencies'}`;
      const dep = { groupId: current.groupId ?? '', artifactId: current.artifactId ?? '', section, ...(current.version ? { version: current.version } : {}), ...(current.scope ? { scope: current.scope } : {}), ...(current.type ? { type: current.type } : {}) };
      if (section === 'parent') model.parent = { ...dep, ...(current.relativePath !== undefined ? { relativePath: current.relativePath } : {}) };
      else model.dependencies.push(dep);
      current = null;
    }
    if (name === 'profile') profileId = undefined;
    stack.pop();
    hasMarkup = true; // text after a child element belongs to the parent, which is then not a leaf
    textValue = '';
  });
  try {
    parser.write(text).close();
  } catch (err) {
    throw new InvalidInputError('MANIFEST_INVALID', `${file} is not well-formed XML: ${(err as Error).message}`, { details: { file } });
  }
  if (model.artifactId === undefined && model.parent === undefined && model.dependencies.length === 0 && !/<project[\s>]/.test(text)) {
    throw new InvalidInputError('MANIFEST_INVALID', `${file} has no <project> root element`, { details: { file } });
  }
  return model;
}

/** `${name}` when `version` is exactly one property reference, else null. */
export function propertyReference(version: string): string | null {
  const m = /^\$\{([^}]+)\}$/.exec(version);
  return m ? m[1]! : null;
}

/** `groupId:artifactId`, the name OSV and this project use for a Maven artifact. */
export function coordinates(d: { groupId: string; artifactId: string }): string {
  return `${d.groupId}:${d.artifactId}`;
}

/** Properties Maven defines itself (https://maven.apache.org/pom.html#properties): not editable as dependency versions. */
function builtIn(property: string): boolean {
  return property.startsWith('project.') || property.startsWith('pom.') || property.startsWith('env.') || property.startsWith('settings.');
}

/** The other artifacts of a pom whose version is property `property`, as `group:artifact`. */
function otherUsers(model: PomModel, property: string, name: string): string[] {
  return [...new Set(model.dependencies.filter((d) => d.version && propertyReference(d.version.value) === property && coordinates(d) !== name).map(coordinates))];
}

function groupOf(name: string): string {
  return name.split(':')[0]!;
}

/**
 * Manager of Maven `pom.xml` files (https://maven.apache.org/pom.html). Extracts every dependency
 * of `<dependencies>`, `<dependencyManagement>` (a BOM import, scope `import` and type `pom`, gets
 * section `dependencyManagement.import`), the same under `<profiles>`, and the `<parent>`:
 * - name `groupId:artifactId` (as OSV writes Maven packages), normalised unchanged (Maven
 *   coordinates are case-sensitive);
 * - a version written on the dependency: requirement and location are that text (a soft
 *   requirement `2.14.1` or a range `[1.0,2.0)`);
 * - a `${property}` version defined in the same pom's `<properties>`: requirement and location are
 *   the property's text (section `properties.<name>`), so the edit changes the property;
 * - a property defined elsewhere (a parent pom), a Maven built-in (`${project.version}`), a
 *   version mixing text and properties, or a text with entities or comments: `uneditable` with the
 *   reason (for inherited properties see {@link raiseInMavenProject});
 * - no `<version>` (managed by a `<dependencyManagement>` or a BOM): not listed;
 * - the `<parent>`: `uneditable`: raising it is a parent upgrade, reported, never done silently.
 * With `context` (the texts of the parent chain, found with `inherits`), a version inherited from
 * a parent pom in the repository (a property, or a managed version for a dependency without
 * `<version>`) is reported where it is written: `location.file` the parent pom, section
 * `properties.<name>` or `dependencyManagement`; `raiseFloor` then edits that pom
 * ({@link raiseInMavenProject}: the returned edit names it in `file`, and other artifacts sharing
 * the property in `notes`).
 * `includes` is empty. `style` is `maven`. Edits replace only the bytes of the version text.
 */
export const pomManager: ManifestManager = {
  name: 'maven',
  matches: (path) => /(^|\/)pom\.xml$/.test(path),
  inherits(file, text): string[] {
    const parent = parsePom(file, text).parent;
    const path = parent ? parentPath(file, parent.relativePath) : null;
    return path === null ? [] : [path];
  },
  extract(file, text, context): ManifestContents {
    const model = parsePom(file, text);
    const dependencies: ManifestDependency[] = [];
    const poms = context ? new Map(context).set(file, text) : null;
    if (poms) {
      // Versions inherited from a parent pom of the repository, reported where they are written.
      for (const d of model.dependencies) {
        const name = coordinates(d);
        const property = d.version ? propertyReference(d.version.value) : null;
        const inherited = d.version ? property !== null && !builtIn(property) && !model.properties.has(property) : !d.section.includes('dependencyManagement');
        if (!inherited || dependencies.some((x) => x.name === name)) continue;
        const site = findVersionSite(poms, file, name);
        if (!site || site.file === file) continue;
        const section = site.kind === 'property' ? `properties.${site.property}` : 'dependencyManagement';
        dependencies.push({
          name,
          normalisedName: name,
          style: 'maven',
          extras: [],
          hashes: false,
          requirement: site.text.value,
          location: { file: site.file, line: site.text.line, offset: site.text.offset, length: site.text.length, section },
          ...(site.text.editable ? {} : { uneditable: 'the version text holds an entity, a comment or CDATA' }),
        });
      }
    }
    const all = [...(model.parent ? [model.parent] : []), ...model.dependencies];
    for (const d of all) {
      if (!d.version) continue;
      const name = coordinates(d);
      if (dependencies.some((x) => x.name === name && x.location.file !== file)) continue;
      const common = { name, normalisedName: name, style: 'maven' as const, extras: [], hashes: false };
      const at = (t: PomText, section: string) => ({ file, line: t.line, offset: t.offset, length: t.length, section });
      const property = propertyReference(d.version.value);
      const definition = property !== null && !builtIn(property) ? model.properties.get(property) : undefined;
      let uneditable: string | undefined;
      if (d.section === 'parent') uneditable = `the parent POM ${name} ${d.version.value}: raising it is a parent upgrade (it changes every version the parent manages), not a dependency bump`;
      else if (property !== null && builtIn(property)) uneditable = `the version is Maven's built-in \${${property}}`;
      else if (property !== null && !definition) uneditable = `the version is \${${property}}, not defined in ${file}: it comes from a parent pom (edit it there)`;
      else if (property === null && d.version.value.includes('${')) uneditable = `the version ${JSON.stringify(d.version.value)} mixes text and properties`;
      const t = definition ?? d.version;
      if (!uneditable && !t.editable) uneditable = 'the version text holds an entity, a comment or CDATA';
      dependencies.push({ ...common, requirement: t.value, location: at(t, definition ? `properties.${property}` : d.section), ...(uneditable ? { uneditable } : {}) });
    }
    return { dependencies, includes: [], hashChecking: false };
  },
  raiseFloor(file, text, name, fixedVersion, context): ManifestEdit {
    const inherited = context ? pomManager.extract(file, text, context).dependencies.find((d) => d.normalisedName === name && d.location.file !== file) : undefined;
    if (!context || !inherited) return raisePomFloor(file, text, name, fixedVersion);
    const edit = raiseInMavenProject(new Map(context).set(file, text), file, name, fixedVersion);
    if (edit.status === 'refused') return { status: 'refused', reason: 'unsupported-requirement', message: edit.message };
    if (edit.status === 'unchanged') return { status: 'unchanged', requirement: inherited.requirement, location: inherited.location };
    return { status: 'edited', file: edit.file, text: edit.text, before: edit.before, after: edit.after, location: inherited.location, ...(edit.notes.length ? { notes: edit.notes } : {}) };
  },
};

/** Options of {@link raisePomFloor}. */
export interface PomFloorOptions {
  /**
   * Other artifacts being raised to the same version in the same change: a property that also
   * versions them may be edited. Artifacts of the target's own groupId always may (one project
   * releasing its modules in lockstep under one property, e.g. `spring.version`, `struts2.version`).
   */
  alsoTargets?: readonly string[];
}

/**
 * Raise Maven version text `requirement` so `fixed` is the version Maven resolves: a soft
 * requirement (a plain version) becomes `fixed`; `unchanged` when it is already `fixed` or newer by
 * ComparableVersion; a version range (`[1.0,2.0)`) is refused (`unsupported-requirement`), as Maven
 * resolves it against the repository, not by this text alone.
 */
export function raiseMavenVersion(requirement: string, fixed: string): FloorChange {
  if (!isMavenVersion(fixed)) throw new InvalidInputError('VERSION_INVALID', `not a Maven version: ${JSON.stringify(fixed)}`, { details: { version: fixed } });
  if (!isMavenVersion(requirement)) {
    const kind = parseMavenRequirement(requirement) !== null ? 'the version range' : 'the version';
    return { status: 'refused', reason: 'unsupported-requirement', message: `${kind} ${JSON.stringify(requirement)} is not raised automatically` };
  }
  if (compareMavenVersions(requirement, fixed) >= 0) return { status: 'unchanged' };
  return { status: 'edited', specifier: fixed };
}

/**
 * Raise every declaration of `name` in one pom to `fixed` (see {@link pomManager}), keeping every
 * other byte. When the version is a property that also versions other artifacts of another
 * groupId that are not in `options.alsoTargets`, refuses (`unsupported-requirement`) naming them:
 * raising them silently could break the build. Refuses the parent (a parent upgrade) and
 * inherited properties, each with its reason; `not-found` when the pom does not declare `name`.
 */
export function raisePomFloor(file: string, text: string, name: string, fixed: string, options: PomFloorOptions = {}): ManifestEdit {
  const model = parsePom(file, text);
  const also = new Set(options.alsoTargets ?? []);
  const seen = new Set<number>();
  const declarations = pomManager.extract(file, text).dependencies.filter((d) => d.normalisedName === name);
  for (const d of declarations) {
    const property = d.location.section.startsWith('properties.') ? d.location.section.slice('properties.'.length) : null;
    if (property === null) continue;
    const blocked = otherUsers(model, property, name).filter((o) => groupOf(o) !== groupOf(name) && !also.has(o));
    if (blocked.length > 0) {
      return { status: 'refused', reason: 'unsupported-requirement', message: `${name} in ${file} line ${d.location.line} is versioned by \${${property}}, which also versions ${blocked.join(', ')}: raise them together or give ${name} its own version` };
    }
  }
  const targets = declarations.filter((d) => d.uneditable || (!seen.has(d.location.offset) && seen.add(d.location.offset))).map((dependency) => ({ dependency, change: raiseMavenVersion }));
  return applyFloorEdits(file, text, name, fixed, targets);
}

/** Where, in the poms of a repository, the version of a dependency is written. */
export interface PomVersionSite {
  /** Repository-relative path of the pom holding the version text. */
  file: string;
  /** `version` (on the dependency), `property` (`<properties>`), `managed` (a `<dependencyManagement>` entry). */
  kind: 'version' | 'property' | 'managed';
  /** The property's name when `kind` is `property`. */
  property?: string;
  text: PomText;
  /** The pom (repository-relative) whose dependency uses it. */
  usedBy: string;
}

/** Repository-relative path of `parent`'s pom as `<relativePath>` gives it (default `../pom.xml`), or null when it leaves the repository. */
function parentPath(file: string, relativePath: string | undefined): string | null {
  if (relativePath !== undefined && relativePath.trim() === '') return null; // empty: look the parent up in repositories only
  let rel = posix.normalize(posix.join(posix.dirname(file), relativePath ?? '../pom.xml'));
  if (!rel.endsWith('.xml')) rel = posix.join(rel, 'pom.xml');
  return rel.startsWith('..') ? null : rel;
}

/**
 * The chain of poms `file` inherits from inside the repository: `file` first, then each parent
 * found at its `<relativePath>` (default `../pom.xml`) whose coordinates match the `<parent>`
 * element (https://maven.apache.org/pom.html#inheritance). Stops at a parent that is not in
 * `poms` (published in a repository) or does not match.
 */
export function pomChain(poms: ReadonlyMap<string, string>, file: string): Array<{ file: string; model: PomModel }> {
  const chain: Array<{ file: string; model: PomModel }> = [];
  let at: string | null = file;
  while (at !== null && poms.has(at) && !chain.some((c) => c.file === at)) {
    const model = parsePom(at, poms.get(at)!);
    chain.push({ file: at, model });
    const parent = model.parent;
    if (!parent) break;
    const next = parentPath(at, parent.relativePath);
    if (next === null || !poms.has(next)) break;
    const p = parsePom(next, poms.get(next)!);
    const group = p.groupId ?? p.parent?.groupId;
    if (p.artifactId !== parent.artifactId || group !== parent.groupId) break;
    at = next;
  }
  return chain;
}

/**
 * Where the version of `name` used by pom `file` is written, following Maven's inheritance inside
 * the repository: the dependency's own `<version>`; a `${property}` resolved through `file`'s
 * properties, then its parents'; no `<version>`: the `<dependencyManagement>` entry of `file` or a
 * parent (itself possibly a property). Null when `file` does not use `name` or the version comes
 * from outside the repository (a published parent or a BOM).
 */
export function findVersionSite(poms: ReadonlyMap<string, string>, file: string, name: string): PomVersionSite | null {
  const chain = pomChain(poms, file);
  if (chain.length === 0) return null;
  const resolve = (t: PomText, from: number): PomVersionSite | null => {
    const property = propertyReference(t.value);
    if (property === null) return { file: chain[from]!.file, kind: 'version', text: t, usedBy: file };
    if (builtIn(property)) return null;
    // A property is resolved in the inheriting pom first (a child may override), then up the chain.
    for (const c of chain) {
      const def = c.model.properties.get(property);
      if (def) return { file: c.file, kind: 'property', property, text: def, usedBy: file };
    }
    return null;
  };
  const own = chain[0]!.model.dependencies.find((d) => coordinates(d) === name && !d.section.includes('dependencyManagement'));
  if (own?.version) return resolve(own.version, 0);
  if (!own && !chain[0]!.model.dependencies.some((d) => coordinates(d) === name)) return null;
  for (let i = 0; i < chain.length; i++) {
    const managed = chain[i]!.model.dependencies.find((d) => coordinates(d) === name && d.section.endsWith('dependencyManagement') && d.version);
    if (managed) {
      const site = resolve(managed.version!, i);
      return site && site.kind === 'version' ? { ...site, kind: 'managed' } : site;
    }
  }
  return null;
}

/** Result of {@link raiseInMavenProject}. */
export type MavenProjectEdit =
  | { status: 'edited'; file: string; text: string; before: string; after: string; site: PomVersionSite; notes: string[] }
  | { status: 'unchanged'; site: PomVersionSite }
  | { status: 'refused'; message: string };

/**
 * Raise `name` as pom `file` of a multi-module build uses it to `fixed`, editing the pom that
 * declares the version ({@link findVersionSite}): the child's own `<version>`, a property of the
 * child or of a parent in the repository, or a parent's `<dependencyManagement>`. A property also
 * versioning other artifacts (in any pom inheriting it) follows the policy of
 * {@link raisePomFloor}: other artifacts of the same groupId or in `alsoTargets` are raised with it
 * and named in `notes`; others make it refuse, naming them.
 */
export function raiseInMavenProject(poms: ReadonlyMap<string, string>, file: string, name: string, fixed: string, options: PomFloorOptions = {}): MavenProjectEdit {
  const site = findVersionSite(poms, file, name);
  if (!site) return { status: 'refused', message: `${name}'s version in ${file} is not written in a pom of the repository` };
  if (!site.text.editable) return { status: 'refused', message: `${site.file} line ${site.text.line}: the version text holds an entity, a comment or CDATA` };
  const notes: string[] = [];
  if (site.kind === 'property') {
    const others = new Set<string>();
    for (const [path] of poms) {
      if (!pomChain(poms, path).some((c) => c.file === site.file)) continue;
      for (const d of parsePom(path, poms.get(path)!).dependencies) {
        if (d.version && propertyReference(d.version.value) === site.property && coordinates(d) !== name && findVersionSite(poms, path, coordinates(d))?.file === site.file) others.add(coordinates(d));
      }
    }
    const also = new Set(options.alsoTargets ?? []);
    const blocked = [...others].filter((o) => groupOf(o) !== groupOf(name) && !also.has(o));
    if (blocked.length > 0) return { status: 'refused', message: `${name} is versioned by \${${site.property}} (${site.file} line ${site.text.line}), which also versions ${blocked.join(', ')}: raise them together or give ${name} its own version` };
    if (others.size > 0) notes.push(`\${${site.property}} in ${site.file} also versions ${[...others].sort().join(', ')}, raised with it`);
  }
  const change = raiseMavenVersion(site.text.value, fixed);
  if (change.status === 'refused') return { status: 'refused', message: `${site.file} line ${site.text.line}: ${change.message}` };
  if (change.status === 'unchanged') return { status: 'unchanged', site };
  const text = poms.get(site.file)!;
  const next = text.slice(0, site.text.offset) + change.specifier + text.slice(site.text.offset + site.text.length);
  return { status: 'edited', file: site.file, text: next, before: site.text.value, after: change.specifier, site, notes };
}
