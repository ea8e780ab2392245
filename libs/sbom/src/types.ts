/**
 * What a scan was read from: `name` is the format (the producer for scanner reports), `version`
 * the version the document declares (CycloneDX `specVersion` such as `1.6`, SPDX `2.3`, Trivy
 * `SchemaVersion` `2`, Grype's `descriptor.version`, OSV-Scanner layout `1` or `2`), `encoding`
 * how it was written.
 */
export interface ScanFormat {
  name: 'cyclonedx' | 'spdx' | 'trivy' | 'grype' | 'osv-scanner';
  version: string;
  encoding: 'json' | 'xml' | 'tag-value';
}

/**
 * Severity normalised to the planner's scale (same values as `Severity` in
 * `@remediation/contracts`): CycloneDX `medium` becomes `moderate`, `info` becomes `low`,
 * `none`/`unknown`/absent become `unknown`.
 */
export type ScanSeverity = 'critical' | 'high' | 'moderate' | 'low' | 'unknown';

/** One component of the scan, flattened out of any nesting. */
export interface ScanComponent {
  /**
   * The component's `bom-ref`; when the scan gives none (or one an earlier component has), a
   * stable synthetic one: its purl if unused, else its JSON location such as `#components[3]`
   * (`#components[3]#2`, `#3`, … when the scan itself uses that as a bom-ref). Unique in a scan.
   */
  bomRef: string;
  /** CycloneDX component type, e.g. `library`, `application`. */
  type: string;
  /**
   * Package name as its ecosystem spells it. For npm with a parsed purl, the purl's identity
   * (`@scope/name` or `name`), since the purl names the package and `name` is only a label
   * (a component renamed in the scan is still the package its purl names); for npm without a
   * purl, `name` with its `group` scope joined as `@scope/name`; for other ecosystems the
   * CycloneDX `name` as written.
   */
  name: string;
  /** The CycloneDX `name` as written (with its npm scope joined), for messages. */
  declaredName: string;
  /** CycloneDX `group` as written (npm scope, Maven groupId, …). */
  group: string | undefined;
  /** Installed version: the component's `version`, else the purl's version. */
  version: string | undefined;
  /** The purl as written in the scan (qualifiers kept), when it parsed. */
  purl: string | undefined;
  /**
   * Why the scan's purl could not be read, e.g. `purl "not-a-purl" could not be parsed: …`;
   * undefined when the component has no purl or it parsed.
   */
  purlProblem: string | undefined;
  /** The purl type (`npm`, `maven`, `pypi`, `golang`, …), or null without a usable purl. */
  ecosystem: string | null;
  /**
   * The purl's namespace and name, decoded (packageurl-js; e.g. `org.apache.commons` and
   * `commons-lang3`, `github.com/spf13` and `viper`), read once when the scan is parsed so that
   * later steps need not parse the purl again (see {@link purlParts}); undefined without a parsed purl.
   */
  purlNamespace?: string | undefined;
  purlName?: string | undefined;
  /** bom-ref of the enclosing component when this one was nested in `components[].components`. */
  parentRef: string | undefined;
}

/** One entry of `affects[].versions[]`. `status` defaults to `affected` as in the spec. */
export interface ScanAffectedVersion {
  version?: string;
  /** Range in `vers` syntax as written, e.g. `vers:npm/<1.20.3`. */
  range?: string;
  status: 'affected' | 'unaffected' | 'unknown';
}

/** One `affects[]` entry: the bom-ref of an affected component and what the scan says of versions. */
export interface ScanAffects {
  ref: string;
  versions: ScanAffectedVersion[];
  /**
   * Versions the scanner names as fixing this vulnerability for this component (Trivy
   * `FixedVersion`, Grype `fix.versions`, OSV `fixed` events), ascending as written; empty when the
   * format has none (CycloneDX states fixes only as ranges and free text).
   */
  fixedVersions: string[];
}

/**
 * A vulnerability carried by the scan (CycloneDX `vulnerabilities[]`, Trivy `Vulnerabilities[]`,
 * Grype `matches[]`, OSV-Scanner `packages[].vulnerabilities[]`), one per id.
 */
export interface ScanVulnerability {
  /** Id as written, e.g. `CVE-2019-11358` or `GHSA-6c3j-c64m-qhgq`. */
  id: string;
  /** `source` of the id (name, url) when given. */
  source: { name?: string; url?: string } | undefined;
  /** Ids of the same vulnerability from `references[].id`, without `id` itself. */
  aliases: string[];
  /** Highest severity among `ratings` (severity, else CVSS score band); `unknown` without any. */
  severity: ScanSeverity;
  description: string | undefined;
  /** Free-text `recommendation`, e.g. "Upgrade jquery to version 3.4.0". */
  recommendation: string | undefined;
  /** `advisories[].url`, in scan order. */
  advisoryUrls: string[];
  affects: ScanAffects[];
}

/**
 * The normalised scan: what `parseScan` reads out of any supported format (and
 * `parseCycloneDx` out of CycloneDX JSON): components by purl (every ecosystem kept, `ecosystem`
 * being the purl type), the dependency graph where the format has one, and the vulnerabilities
 * the scan reports, with the graph questions the planner asks.
 */
export interface ParsedScan {
  format: ScanFormat;
  serialNumber: string | undefined;
  /** `metadata.component`: the project that was scanned, or null when absent. */
  root: ScanComponent | null;
  /** Every component except the root, nested ones flattened after their parent (depth first): the root's nested components, then `components`, each list in document order. */
  components: readonly ScanComponent[];
  /** Dependency graph: bom-ref → bom-refs it depends on (only refs that exist in the scan). */
  dependencies: ReadonlyMap<string, readonly string[]>;
  /** Whether the scan carried a non-empty `dependencies` graph. */
  hasDependencyGraph: boolean;
  /**
   * bom-refs of the direct dependencies: the root's `dependsOn`, looking through container
   * components that have neither purl nor version (e.g. Trivy's `package-lock.json` application). Without a graph every
   * component is direct; with a graph but no usable root, every component nobody depends on.
   */
  directRefs: ReadonlySet<string>;
  /** The scan's `vulnerabilities`, or null when the scan has no such key. */
  vulnerabilities: readonly ScanVulnerability[] | null;
  /** Non-fatal remarks: missing graph, duplicate bom-refs, unparsable purls, … */
  warnings: readonly string[];
  /** The component with this bom-ref (the root included), if any. */
  component(bomRef: string): ScanComponent | undefined;
  /**
   * bom-refs of the direct dependencies through which the component is installed: every direct
   * dependency whose dependency closure contains it (a direct dependency lists itself).
   * Sorted; empty when the component is unknown or unreachable from any direct dependency.
   */
  via(bomRef: string): string[];
  /**
   * bom-refs of the components whose `dependsOn` holds this one (the graph reversed, built with
   * the graph when the scan is parsed; each list sorted on first use), sorted; empty when none
   * does or the component is unknown.
   */
  dependents(bomRef: string): readonly string[];
}
