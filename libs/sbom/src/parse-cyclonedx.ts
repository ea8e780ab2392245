import { InvalidInputError } from '@remediation/errors';
import { PackageURL } from 'packageurl-js';
import type { z } from 'zod';
import {
  type CdxBom,
  type CdxComponent,
  type CdxRating,
  type CdxVulnerability,
  safeParseBom,
  SUPPORTED_SPEC_VERSIONS,
} from './cyclonedx-schema.js';
import { assertMaxComponents, assertMaxDepth, DEFAULT_SCAN_LIMITS, type ScanLimits } from './guards.js';
import type { ParsedScan, ScanComponent, ScanFormat, ScanSeverity, ScanVulnerability } from './types.js';

const MAX_ISSUES_IN_DETAILS = 20;

/**
 * Parses and validates a CycloneDX JSON scan (spec versions 1.4–1.7; field meanings per
 * https://cyclonedx.org/docs/1.6/json/).
 *
 * Checks, in order: the input is a JSON object; nesting depth and component count are within
 * `limits` (defaults: 100 levels, 100,000 components); `bomFormat` is `CycloneDX`; `specVersion`
 * is supported; then the whole document against the zod schema {@link CdxBom} (`safeParseBom`:
 * components and dependencies checked without copies when they meet it, else by zod).
 *
 * Components nested in `components[].components` are flattened. Names of npm components carry
 * their scope (`@scope/name`). Direct dependencies are the root's `dependsOn` (see
 * {@link ParsedScan.directRefs}); without a dependency graph every component is treated as direct
 * and a warning says so.
 *
 * @param json the parsed JSON document (e.g. `JSON.parse` of the upload).
 * @param limits optional hostile-input limits.
 * @throws InvalidInputError `SCAN_INVALID` naming the offending field path (e.g.
 *   `components[2].name: Invalid input: expected string, received number`); `details.issues`
 *   lists up to 20 `{ path, message }`; limit violations carry `details.reason`
 *   (`too_deep` / `too_many_components`) and `details.limit`.
 * @throws InvalidInputError `SCAN_UNSUPPORTED_VERSION` when `specVersion` is not 1.4–1.7.
 */
export function parseCycloneDx(json: unknown, limits: ScanLimits = {}): ParsedScan {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new InvalidInputError('SCAN_INVALID', 'scan must be a JSON object (a CycloneDX BOM)', {
      details: { issues: [{ path: '(root)', message: `expected object, received ${describeType(json)}` }] },
    });
  }
  assertMaxDepth(json, limits.maxDepth ?? DEFAULT_SCAN_LIMITS.maxDepth);
  const doc = json as Record<string, unknown>;
  assertMaxComponents(doc, limits.maxComponents ?? DEFAULT_SCAN_LIMITS.maxComponents);

  if (doc['bomFormat'] !== 'CycloneDX') {
    const got = doc['bomFormat'] === undefined ? 'missing' : JSON.stringify(doc['bomFormat']);
    throw new InvalidInputError('SCAN_INVALID', `bomFormat: expected "CycloneDX", got ${got}`, {
      details: { issues: [{ path: 'bomFormat', message: `expected "CycloneDX", got ${got}` }] },
    });
  }
  const specVersion = doc['specVersion'];
  if (typeof specVersion !== 'string') {
    const message = `expected a string such as "1.6", got ${specVersion === undefined ? 'missing' : describeType(specVersion)}`;
    throw new InvalidInputError('SCAN_INVALID', `specVersion: ${message}`, {
      details: { issues: [{ path: 'specVersion', message }] },
    });
  }
  if (!(SUPPORTED_SPEC_VERSIONS as readonly string[]).includes(specVersion)) {
    throw new InvalidInputError(
      'SCAN_UNSUPPORTED_VERSION',
      `CycloneDX specVersion ${JSON.stringify(specVersion)} is not supported (supported: ${SUPPORTED_SPEC_VERSIONS.join(', ')})`,
      { details: { specVersion, supported: [...SUPPORTED_SPEC_VERSIONS] } },
    );
  }

  const result = safeParseBom(doc);
  if (!result.success) throw schemaError(result.error, 'CycloneDX');
  return buildScan(result.data, { name: 'cyclonedx', version: specVersion, encoding: 'json' });
}

/**
 * Turns zod issues into `SCAN_INVALID` with `path: message` of the first issue in the message.
 * Each of `details.issues` (at most 20) has `path` (`components[2].name`), `pointer` (the same
 * location as an RFC 6901 JSON pointer, `/components/2/name`) and `message`; `details.pointer`
 * is the first issue's. `locate` replaces the JSON pointer by another locator (the XML path of a
 * CycloneDX XML scan, in `details.xpath`).
 * @param formatLabel the format named in the message, e.g. `CycloneDX`, `Trivy`.
 */
export function schemaError(
  error: z.ZodError,
  formatLabel: string,
  locate?: { key: 'xpath'; of: (path: readonly PropertyKey[]) => string },
): InvalidInputError {
  const key = locate?.key ?? 'pointer';
  const issues = error.issues.slice(0, MAX_ISSUES_IN_DETAILS).map((issue) => ({
    path: formatPath(issue.path),
    [key]: locate ? locate.of(issue.path) : jsonPointer(issue.path),
    message: issue.message,
  }));
  const first = issues[0] ?? { path: '(root)', [key]: locate ? '/' : '', message: 'invalid scan' };
  const more = error.issues.length > 1 ? ` (and ${error.issues.length - 1} more issue(s))` : '';
  const where = locate ? String(first[key]) : first.path;
  return new InvalidInputError('SCAN_INVALID', `invalid ${formatLabel} scan: ${where}: ${first.message}${more}`, {
    details: { issues, [key]: first[key] },
    cause: error,
  });
}

/** RFC 6901 JSON pointer of a path: `['components', 2, 'a/b']` → `/components/2/a~1b`; `''` for the root. */
export function jsonPointer(path: readonly PropertyKey[]): string {
  return path.map((key) => `/${String(key).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

/** `['components', 2, 'name']` → `components[2].name`. */
function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(root)';
  return path
    .map((key, i) => (typeof key === 'number' ? `[${key}]` : `${i === 0 ? '' : '.'}${String(key)}`))
    .join('');
}

const MAX_LISTED = 20;
const MAX_TEXT = 120;

/** Shortens scan-supplied text for messages (hostile scans may carry huge strings). */
function clip(text: string): string {
  return text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT - 1)}…` : text;
}

/** `a, b, c` with at most {@link MAX_LISTED} items, then `… and N more`. */
function listSome(items: readonly string[]): string {
  const shown = items.slice(0, MAX_LISTED).join(', ');
  return items.length > MAX_LISTED ? `${shown} … and ${items.length - MAX_LISTED} more` : shown;
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/**
 * Builds the normalised {@link ParsedScan} out of a schema-valid BOM. Every format is converted
 * to this CycloneDX shape first (./formats/*), so one set of rules flattens components, restricts
 * the graph to known refs and finds the direct dependencies.
 * @param format what the scan was read from.
 * @param fixedOf fixed versions a scanner named for an `affects[]` entry (Trivy, Grype, OSV-Scanner).
 */
export function buildScan(bom: CdxBom, format: ScanFormat, fixedOf?: ReadonlyMap<object, readonly string[]>): ParsedScan {
  const warnings: string[] = [];
  const byRef = new Map<string, ScanComponent>();
  const components: ScanComponent[] = [];
  let invalidPurls = 0;
  let duplicateRefs = 0;
  const renamed: string[] = [];

  /** `location`, or (the scan itself uses it as a bom-ref) `location#2`, `#3`, …: the first one unused. */
  const unusedRef = (location: string): string => {
    let ref = location;
    for (let n = 2; byRef.has(ref); n++) ref = `${location}#${n}`;
    return ref;
  };
  /**
   * `list` and `index` say where the component is (`components` and 3: `components[3]`; the root:
   * `metadata.component`, no index), for a synthetic bom-ref: that text is built only when one is
   * needed (a missing or duplicate bom-ref without a usable purl).
   */
  const toComponent = (raw: CdxComponent, list: string, index: number | undefined, parentRef: string | undefined): ScanComponent => {
    let ecosystem: string | null = null;
    let purlNamespace: string | undefined;
    let purlName: string | undefined;
    let purlIdentity: string | undefined;
    let purlVersion: string | undefined;
    let purl: string | undefined;
    let purlProblem: string | undefined;
    if (raw.purl !== undefined) {
      try {
        const parsed = PackageURL.fromString(raw.purl);
        ecosystem = parsed.type.toLowerCase();
        purlNamespace = parsed.namespace ?? undefined;
        purlName = parsed.name;
        purlIdentity = purlNamespace ? `${purlNamespace}/${purlName}` : purlName;
        purlVersion = parsed.version;
        purl = raw.purl;
      } catch (err) {
        invalidPurls++;
        purlProblem = `purl ${JSON.stringify(clip(raw.purl))} could not be parsed: ${clip((err as Error).message)}`;
      }
    }
    let declaredName = raw.name;
    if (ecosystem === 'npm') {
      if (raw.group) declaredName = `${raw.group.startsWith('@') ? raw.group : `@${raw.group}`}/${raw.name}`;
      else if (purlIdentity !== undefined && purlIdentity.startsWith('@') && purlIdentity.endsWith(`/${raw.name}`)) declaredName = purlIdentity;
    }
    // npm: the purl is the package identity; a different `name` is a label (e.g. a renamed component).
    const name = ecosystem === 'npm' && purlIdentity !== undefined ? purlIdentity : declaredName;
    let bomRef = raw['bom-ref'];
    // `byRef` holds every bom-ref given so far (each component is added right after this).
    if (bomRef === undefined || byRef.has(bomRef)) {
      if (bomRef !== undefined) duplicateRefs++;
      bomRef = purl !== undefined && !byRef.has(purl) ? purl : unusedRef(`#${index === undefined ? list : `${list}[${index}]`}`);
    }
    if (name !== declaredName) renamed.push(`${bomRef} ("${clip(declaredName)}" is ${name})`);
    return {
      bomRef,
      type: raw.type,
      name,
      declaredName,
      group: raw.group,
      version: raw.version ?? purlVersion,
      purl,
      purlProblem,
      ecosystem,
      purlNamespace,
      purlName,
      parentRef,
    };
  };

  const rawRoot = bom.metadata?.component;
  const root = rawRoot ? toComponent(rawRoot, 'metadata.component', undefined, undefined) : null;
  if (root) byRef.set(root.bomRef, root);

  // Flatten components in document order, depth-first (a component, then its nested ones), without
  // recursion. A list's components are read in a loop; only nested lists wait on the stack.
  const nested: { list: readonly CdxComponent[]; base: string; next: number; parentRef: string | undefined }[] = [];
  const flatten = (list: readonly CdxComponent[] | undefined, base: string, parentRef: string | undefined): void => {
    if (list && list.length > 0) nested.push({ list, base, next: 0, parentRef });
    while (nested.length > 0) {
      const top = nested[nested.length - 1]!;
      if (top.next >= top.list.length) {
        nested.pop();
        continue;
      }
      const i = top.next++;
      const raw = top.list[i]!;
      const component = toComponent(raw, top.base, i, top.parentRef);
      components.push(component);
      byRef.set(component.bomRef, component);
      if (raw.components && raw.components.length > 0) nested.push({ list: raw.components, base: `${top.base}[${i}].components`, next: 0, parentRef: component.bomRef });
    }
  };
  // The root's nested components first, then `components` (the order this builder has always read them in).
  if (rawRoot && root) flatten(rawRoot.components, 'metadata.component.components', root.bomRef);
  flatten(bom.components, 'components', undefined);
  if (invalidPurls > 0) warnings.push(`${invalidPurls} component purl(s) could not be parsed; their ecosystem is unknown`);
  if (duplicateRefs > 0) warnings.push(`${duplicateRefs} duplicate bom-ref(s); later duplicates were given synthetic refs`);
  if (renamed.length > 0) {
    warnings.push(
      `${renamed.length} npm component(s) named differently from their purl, matched by the purl: ${listSome(renamed)}`,
    );
  }

  // Dependency graph, restricted to known refs; a ref listed twice gets the union, each target once.
  const dependencies = new Map<string, string[]>();
  // The graph reversed (bom-ref → the bom-refs that depend on it), in the same pass. While an entry
  // is read, a target it already listed ends its list of dependents with the entry's ref: that is
  // the duplicate check, without a set per entry.
  const reverse = new Map<string, string[]>();
  let unknownRefs = 0;
  for (const dep of bom.dependencies ?? []) {
    const from = dep.ref;
    if (!byRef.has(from)) {
      unknownRefs++;
      continue;
    }
    let targets = dependencies.get(from);
    // A ref listed again (rare): its targets so far, once, so that each check stays constant-time.
    const earlier = targets === undefined ? undefined : new Set(targets);
    if (targets === undefined) dependencies.set(from, (targets = []));
    for (const target of dep.dependsOn ?? []) {
      if (!byRef.has(target)) {
        unknownRefs++;
        continue;
      }
      const parents = reverse.get(target);
      if (parents === undefined) reverse.set(target, [from]);
      else if (parents[parents.length - 1] === from || earlier?.has(target)) continue;
      else parents.push(from);
      targets.push(target);
    }
  }
  if (unknownRefs > 0) warnings.push(`${unknownRefs} dependency reference(s) name bom-refs that are not in the scan; ignored`);
  const hasDependencyGraph = dependencies.size > 0;

  const directRefs = computeDirectRefs(root, components, byRef, dependencies, hasDependencyGraph, warnings);
  const vulnerabilities = bom.vulnerabilities ? convertVulnerabilities(bom.vulnerabilities, byRef, warnings, fixedOf) : null;

  // Each target's dependents sorted, on first use.
  let sorted = false;
  const NO_DEPENDENTS: readonly string[] = [];
  const dependents = (bomRef: string): readonly string[] => {
    if (!sorted) {
      for (const parents of reverse.values()) if (parents.length > 1) parents.sort();
      sorted = true;
    }
    return reverse.get(bomRef) ?? NO_DEPENDENTS;
  };
  // Answers by bom-ref: a plan asks for each vulnerable component more than once (its fix options, its listing).
  const viaOf = new Map<string, readonly string[]>();
  const via = (bomRef: string): string[] => {
    let known = viaOf.get(bomRef);
    if (known === undefined) viaOf.set(bomRef, (known = directsAbove(bomRef)));
    return [...known];
  };
  const directsAbove = (bomRef: string): string[] => {
    if (!byRef.has(bomRef)) return [];
    if (!hasDependencyGraph) return directRefs.has(bomRef) ? [bomRef] : [];
    const found: string[] = [];
    const seen = new Set<string>([bomRef]);
    const queue = [bomRef];
    while (queue.length > 0) {
      const ref = queue.pop()!;
      if (directRefs.has(ref)) found.push(ref);
      for (const parent of dependents(ref)) {
        if (!seen.has(parent)) {
          seen.add(parent);
          queue.push(parent);
        }
      }
    }
    return found.sort();
  };

  return {
    format,
    serialNumber: bom.serialNumber,
    root,
    components,
    dependencies,
    hasDependencyGraph,
    directRefs,
    vulnerabilities,
    warnings,
    component: (bomRef) => byRef.get(bomRef),
    via,
    dependents,
  };
}

/** See {@link ParsedScan.directRefs} for the rules. */
function computeDirectRefs(
  root: ScanComponent | null,
  components: readonly ScanComponent[],
  byRef: ReadonlyMap<string, ScanComponent>,
  dependencies: ReadonlyMap<string, readonly string[]>,
  hasDependencyGraph: boolean,
  warnings: string[],
): Set<string> {
  const direct = new Set<string>();
  if (!hasDependencyGraph) {
    for (const c of components) direct.add(c.bomRef);
    if (components.length > 0) {
      warnings.push('scan has no dependency graph: every component is treated as a direct dependency');
    }
    return direct;
  }
  let starts: readonly string[] | undefined = root ? dependencies.get(root.bomRef) : undefined;
  if (starts === undefined) {
    const dependedOn = new Set<string>();
    for (const tos of dependencies.values()) for (const to of tos) dependedOn.add(to);
    starts = components.filter((c) => !dependedOn.has(c.bomRef)).map((c) => c.bomRef);
    warnings.push(
      root
        ? `the root component ${root.bomRef} has no entry in the dependency graph: components nobody depends on are treated as direct`
        : 'scan has no metadata.component: components nobody depends on are treated as direct',
    );
  }
  // Look through purl-less containers (e.g. a lockfile "application" between root and packages).
  const seen = new Set<string>();
  const queue = [...starts];
  for (let next = 0; next < queue.length; next++) {
    const ref = queue[next]!;
    if (seen.has(ref) || ref === root?.bomRef) continue;
    seen.add(ref);
    const component = byRef.get(ref);
    if (!component) continue;
    if (component.purl === undefined && component.version === undefined) {
      for (const child of dependencies.get(ref) ?? []) queue.push(child);
    } else {
      direct.add(ref);
    }
  }
  return direct;
}

const SEVERITY_RANK: Record<ScanSeverity, number> = { unknown: 0, low: 1, moderate: 2, high: 3, critical: 4 };

/** CycloneDX severity word → planner scale. */
function normaliseSeverity(word: string | undefined): ScanSeverity {
  switch (word?.toLowerCase()) {
    case 'critical':
      return 'critical';
    case 'high':
      return 'high';
    case 'medium':
    case 'moderate':
      return 'moderate';
    case 'low':
    case 'info':
      return 'low';
    default:
      return 'unknown';
  }
}

/** CVSS v3 qualitative bands (https://www.first.org/cvss/v3.1/specification-document §5). */
function severityFromScore(score: number | undefined): ScanSeverity {
  if (score === undefined || !Number.isFinite(score) || score <= 0) return 'unknown';
  if (score >= 9) return 'critical';
  if (score >= 7) return 'high';
  if (score >= 4) return 'moderate';
  return 'low';
}

/** Highest severity over the ratings; a rating without a usable word falls back to its score. */
function severityOfRatings(ratings: readonly CdxRating[] | undefined): ScanSeverity {
  let best: ScanSeverity = 'unknown';
  for (const rating of ratings ?? []) {
    let s = normaliseSeverity(rating.severity);
    if (s === 'unknown') s = severityFromScore(rating.score);
    if (SEVERITY_RANK[s] > SEVERITY_RANK[best]) best = s;
  }
  return best;
}

function convertVulnerabilities(
  list: readonly CdxVulnerability[],
  byRef: ReadonlyMap<string, ScanComponent>,
  warnings: string[],
  fixedOf: ReadonlyMap<object, readonly string[]> | undefined,
): ScanVulnerability[] {
  const out: ScanVulnerability[] = [];
  let withoutId = 0;
  const unknownAffects: string[] = [];
  for (const v of list) {
    const id = v.id;
    if (!id) {
      withoutId++;
      continue;
    }
    const aliases = [...new Set((v.references ?? []).map((ref) => ref.id))].filter((id) => id !== v.id);
    const affects = (v.affects ?? []).map((a) => {
      if (!byRef.has(a.ref)) unknownAffects.push(`${clip(id)} → "${clip(a.ref)}"`);
      return {
        ref: a.ref,
        fixedVersions: [...(fixedOf?.get(a) ?? [])],
        versions: (a.versions ?? []).map((entry) => ({
          ...(entry.version !== undefined ? { version: entry.version } : {}),
          ...(entry.range !== undefined ? { range: entry.range } : {}),
          status: entry.status ?? ('affected' as const),
        })),
      };
    });
    out.push({
      id,
      source: v.source ? { ...(v.source.name ? { name: v.source.name } : {}), ...(v.source.url ? { url: v.source.url } : {}) } : undefined,
      aliases,
      severity: severityOfRatings(v.ratings),
      description: v.description,
      recommendation: v.recommendation,
      advisoryUrls: (v.advisories ?? []).map((a) => a.url),
      affects,
    });
  }
  if (withoutId > 0) warnings.push(`${withoutId} vulnerability entr(ies) without an id were skipped`);
  if (unknownAffects.length > 0) {
    warnings.push(
      `${unknownAffects.length} vulnerability affects-reference(s) name bom-refs that are not in the scan: ${listSome(unknownAffects)}`,
    );
  }
  return out;
}
