import { readFileSync } from 'node:fs';
import { thrownInvalidInput } from '@remediation/testing';
import { describe, expect, it } from 'vitest';
import { parseScan, type ParsedScan } from './index.js';

/** A real producer output from __fixtures__/scans (sources: __fixtures__/PROVENANCE.md), as uploaded text. */
function fixture(name: string): ParsedScan {
  return parseScan(readFileSync(new URL(`./__fixtures__/scans/${name}`, import.meta.url), 'utf8'));
}

const invalid = thrownInvalidInput;

const purls = (scan: ParsedScan) => scan.components.map((c) => c.purl);
const ecosystems = (scan: ParsedScan) => [...new Set(scan.components.map((c) => c.ecosystem))].sort();
const vuln = (scan: ParsedScan, id: string) => scan.vulnerabilities!.find((v) => v.id === id)!;

describe('parseScan: every producer output in __fixtures__/scans', () => {
  it('express-4.19.2.cdx.json (cyclonedx-npm, CycloneDX 1.6 JSON): 70 npm components, no vulnerabilities', () => {
    const scan = fixture('express-4.19.2.cdx.json');
    expect(scan.format).toEqual({ name: 'cyclonedx', version: '1.6', encoding: 'json' });
    expect(scan.components).toHaveLength(70);
    expect(ecosystems(scan)).toEqual(['npm']);
    expect(purls(scan)).toContain('pkg:npm/body-parser@1.20.2');
    expect(scan.directRefs.size).toBe(31);
    expect(scan.vulnerabilities).toBeNull();
  });

  it('trivy-npm-native.json (Trivy JSON): 12 npm packages with their graph, CVE-2019-11358 fixed in 3.4.0', () => {
    const scan = fixture('trivy-npm-native.json');
    expect(scan.format).toEqual({ name: 'trivy', version: '2', encoding: 'json' });
    expect(scan.components).toHaveLength(12);
    expect(ecosystems(scan)).toEqual(['npm']);
    expect(purls(scan)).toEqual(expect.arrayContaining(['pkg:npm/jquery@3.3.9', 'pkg:npm/loose-envify@1.4.0', 'pkg:npm/js-tokens@4.0.0']));
    expect(scan.hasDependencyGraph).toBe(true);
    // Nothing depends on jquery; js-tokens comes through loose-envify, which react and redux use.
    const ref = (name: string) => scan.components.find((c) => c.name === name)!.bomRef;
    expect(scan.directRefs.has(ref('jquery'))).toBe(true);
    expect(scan.directRefs.has(ref('js-tokens'))).toBe(false);
    expect(scan.via(ref('js-tokens')).map((r) => scan.component(r)!.name)).toEqual(['react', 'redux']);
    expect(scan.vulnerabilities!.map((v) => v.id)).toEqual(['CVE-2019-11358']);
    const v = vuln(scan, 'CVE-2019-11358');
    expect(v.severity).toBe('moderate');
    expect(v.advisoryUrls).toEqual(['https://avd.aquasec.com/nvd/cve-2019-11358']);
    expect(v.affects).toEqual([
      {
        ref: ref('jquery'),
        fixedVersions: ['3.4.0'],
        versions: [
          { version: '3.3.9', status: 'affected' },
          { range: 'vers:npm/<3.4.0', status: 'affected' },
        ],
      },
    ]);
  });

  it('trivy-npm-jquery.cdx.json (Trivy CycloneDX 1.7): 12 npm packages and a lockfile container, CVE-2019-11358', () => {
    const scan = fixture('trivy-npm-jquery.cdx.json');
    expect(scan.format).toEqual({ name: 'cyclonedx', version: '1.7', encoding: 'json' });
    expect(scan.components.filter((c) => c.ecosystem === 'npm')).toHaveLength(12);
    expect(purls(scan)).toContain('pkg:npm/jquery@3.3.9');
    expect(vuln(scan, 'CVE-2019-11358').severity).toBe('moderate');
    expect(vuln(scan, 'CVE-2019-11358').recommendation).toMatch(/3\.4\.0/);
  });

  it('trivy-pom-jackson-databind.cdx.json (Trivy CycloneDX, Maven): maven components kept, two CVEs', () => {
    const scan = fixture('trivy-pom-jackson-databind.cdx.json');
    expect(ecosystems(scan)).toContain('maven');
    expect(purls(scan)).toContain('pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.9.1');
    expect(scan.vulnerabilities!.map((v) => [v.id, v.severity])).toEqual([
      ['CVE-2020-9548', 'critical'],
      ['CVE-2021-20190', 'high'],
    ]);
  });

  it('trivy-fluentd-gems-short.cdx.json (Trivy CycloneDX, image): deb and gem components kept, three CVEs', () => {
    const scan = fixture('trivy-fluentd-gems-short.cdx.json');
    expect(ecosystems(scan)).toEqual(expect.arrayContaining(['deb', 'gem']));
    expect(purls(scan)).toEqual(
      expect.arrayContaining(['pkg:deb/debian/bash@5.0-4?distro=debian-10.2', 'pkg:gem/activesupport@6.0.2.1']),
    );
    expect(scan.vulnerabilities!.map((v) => v.id).sort()).toEqual(['CVE-2019-18224', 'CVE-2019-18276', 'CVE-2020-8165']);
  });

  it('trivy-conda.spdx.json (Trivy SPDX 2.3 JSON): conda packages by purl, no vulnerabilities', () => {
    const scan = fixture('trivy-conda.spdx.json');
    expect(scan.format).toEqual({ name: 'spdx', version: '2.3', encoding: 'json' });
    expect(scan.components).toHaveLength(2);
    expect(ecosystems(scan)).toEqual(['conda']);
    expect(purls(scan)).toContain('pkg:conda/openssl@1.1.1q');
    expect(scan.components.find((c) => c.name === 'openssl')!.version).toBe('1.1.1q');
    expect(scan.vulnerabilities).toBeNull();
  });

  it('osv-scanner-input-only-unimportant.spdx.json (SCALIBR SPDX 2.3): one deb package', () => {
    const scan = fixture('osv-scanner-input-only-unimportant.spdx.json');
    expect(scan.format.name).toBe('spdx');
    expect(scan.components).toHaveLength(1);
    expect(scan.components[0]).toMatchObject({ name: 'libpcre3', version: '2:8.39-12ubuntu0.1', ecosystem: 'deb' });
    expect(scan.components[0]!.purl).toMatch(/^pkg:deb\/ubuntu\/pcre3@/);
  });

  it('grype-dir-native.json (Grype JSON): rpm and deb artifacts, aliases none, fixed versions of CVE-1999-0001', () => {
    const scan = fixture('grype-dir-native.json');
    expect(scan.format).toEqual({ name: 'grype', version: '[not provided]', encoding: 'json' });
    expect(scan.components).toHaveLength(2);
    expect(ecosystems(scan)).toEqual(['deb', 'rpm']);
    // Grype left the rpm's purl empty: one is made from type, name and version.
    expect(purls(scan).sort()).toEqual(['pkg:deb/package-2@2.2.2', 'pkg:rpm/package-1@1.1.1']);
    const one = vuln(scan, 'CVE-1999-0001');
    expect(one.severity).toBe('low');
    expect(one.affects[0]!.fixedVersions).toEqual(['1.2.1', '2.1.3', '3.4.0']);
    expect(one.affects[0]!.versions[0]).toEqual({ version: '1.1.1', status: 'affected' });
    const two = vuln(scan, 'CVE-1999-0002');
    expect(two.severity).toBe('critical');
    expect(two.affects[0]!.fixedVersions).toEqual([]);
    expect(scan.warnings).toContain('scan has no dependency graph: every component is treated as a direct dependency');
  });

  it.each(['grype-dir.cdx.json', 'grype-image.cdx.json'])('%s (Grype CycloneDX 1.7): the deb package and both CVEs', (name) => {
    const scan = fixture(name);
    expect(scan.format).toEqual({ name: 'cyclonedx', version: '1.7', encoding: 'json' });
    expect(scan.components).toHaveLength(2);
    expect(purls(scan)).toContain('pkg:deb/package-2@2.2.2');
    expect(scan.vulnerabilities!.map((v) => [v.id, v.severity])).toEqual([
      ['CVE-1999-0001', 'low'],
      ['CVE-1999-0002', 'critical'],
    ]);
  });

  it('osv-scanner-results-a.json (OSV-Scanner v1): Go and crates.io packages by purl, OSV ranges, aliases and fixed versions', () => {
    const scan = fixture('osv-scanner-results-a.json');
    expect(scan.format).toEqual({ name: 'osv-scanner', version: '1', encoding: 'json' });
    expect(purls(scan)).toEqual(['pkg:golang/github.com/gogo/protobuf@1.3.1', 'pkg:cargo/regex@1.5.1']);
    expect(ecosystems(scan)).toEqual(['cargo', 'golang']);
    const go = vuln(scan, 'GO-2021-0053');
    expect(go.aliases).toEqual(['CVE-2021-3121', 'GHSA-c3h9-896r-86jm']);
    expect(go.affects[0]).toMatchObject({ fixedVersions: ['1.3.2'], versions: [{ version: '1.3.1', status: 'affected' }, { range: 'vers:golang/<1.3.2', status: 'affected' }] });
    const ghsa = vuln(scan, 'GHSA-m5pq-gvj9-9vr8');
    expect(ghsa.aliases).toEqual(expect.arrayContaining(['CVE-2022-24713', 'RUSTSEC-2022-0013']));
    expect(ghsa.severity).toBe('high');
    expect(ghsa.affects[0]!.fixedVersions).toEqual(['1.5.5']);
    expect(vuln(scan, 'RUSTSEC-2022-0013').affects[0]!.fixedVersions).toEqual(['1.5.5']);
  });

  it('osv-scanner-results-c.json (OSV-Scanner v1): the group named by an alias still merges', () => {
    const scan = fixture('osv-scanner-results-c.json');
    expect(scan.components).toHaveLength(1);
    expect(purls(scan)).toEqual(['pkg:golang/github.com/gogo/protobuf@1.3.1']);
    expect(vuln(scan, 'GO-2021-0053').aliases).toEqual(['CVE-2021-3121', 'GHSA-c3h9-896r-86jm']);
    expect(vuln(scan, 'GO-2021-0053').affects[0]!.fixedVersions).toEqual(['1.3.2']);
  });

  it('osv-scanner-results-some.json (OSV-Scanner v2 layout)', () => {
    const scan = fixture('osv-scanner-results-some.json');
    expect(scan.format).toEqual({ name: 'osv-scanner', version: '2', encoding: 'json' });
    expect(purls(scan)).toEqual(['pkg:golang/github.com/gogo/protobuf@1.3.1']);
    expect(scan.vulnerabilities!.map((v) => v.id)).toEqual(['GO-2021-0053']);
  });
});

const XML = `<?xml version="1.0" encoding="UTF-8"?>
<bom xmlns="http://cyclonedx.org/schema/bom/1.5" serialNumber="urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79" version="1">
  <metadata><component type="application" bom-ref="app"><name>app</name><version>1.0.0</version></component></metadata>
  <components>
    <component type="library" bom-ref="pkg:npm/body-parser@1.20.2"><name>body-parser</name><version>1.20.2</version><purl>pkg:npm/body-parser@1.20.2</purl></component>
    <component type="library" bom-ref="pkg:npm/qs@6.11.0"><name>qs</name><version>6.11.0</version><purl>pkg:npm/qs@6.11.0</purl></component>
    <component type="library" bom-ref="pkg:pypi/requests@2.0.0"><name>requests</name><version>2.0.0</version><purl>pkg:pypi/requests@2.0.0</purl></component>
  </components>
  <dependencies>
    <dependency ref="app"><dependency ref="pkg:npm/body-parser@1.20.2"/><dependency ref="pkg:pypi/requests@2.0.0"/></dependency>
    <dependency ref="pkg:npm/body-parser@1.20.2"><dependency ref="pkg:npm/qs@6.11.0"/></dependency>
  </dependencies>
  <vulnerabilities>
    <vulnerability bom-ref="v1">
      <id>GHSA-qwcr-r2fm-qrc7</id>
      <source><name>GitHub</name><url>https://github.com/advisories/GHSA-qwcr-r2fm-qrc7</url></source>
      <references><reference><id>CVE-2024-45590</id><source><name>NVD</name></source></reference></references>
      <ratings><rating><score>7.5</score><severity>high</severity><method>CVSSv31</method></rating></ratings>
      <affects><target><ref>pkg:npm/body-parser@1.20.2</ref><versions><version><range>vers:npm/&lt;1.20.3</range><status>affected</status></version></versions></target></affects>
    </vulnerability>
  </vulnerabilities>
</bom>`;

describe('parseScan: CycloneDX XML', () => {
  it('reads components, graph and vulnerabilities like the JSON encoding', () => {
    const scan = parseScan(XML);
    expect(scan.format).toEqual({ name: 'cyclonedx', version: '1.5', encoding: 'xml' });
    expect(scan.root?.bomRef).toBe('app');
    expect(purls(scan)).toEqual(['pkg:npm/body-parser@1.20.2', 'pkg:npm/qs@6.11.0', 'pkg:pypi/requests@2.0.0']);
    expect([...scan.directRefs].sort()).toEqual(['pkg:npm/body-parser@1.20.2', 'pkg:pypi/requests@2.0.0']);
    expect(scan.via('pkg:npm/qs@6.11.0')).toEqual(['pkg:npm/body-parser@1.20.2']);
    expect(scan.vulnerabilities).toEqual([
      expect.objectContaining({
        id: 'GHSA-qwcr-r2fm-qrc7',
        aliases: ['CVE-2024-45590'],
        severity: 'high',
        affects: [{ ref: 'pkg:npm/body-parser@1.20.2', fixedVersions: [], versions: [{ range: 'vers:npm/<1.20.3', status: 'affected' }] }],
      }),
    ]);
  });

  it('a schema error names the XML path', () => {
    const err = invalid(() => parseScan(XML.replace('<name>qs</name>', '')));
    expect(err.code).toBe('SCAN_INVALID');
    expect(err.details).toMatchObject({ xpath: '/bom/components/component[2]/name' });
    expect(err.message).toContain('/bom/components/component[2]/name');
  });

  it('not well-formed XML: SCAN_INVALID with line and column', () => {
    const err = invalid(() => parseScan('<bom xmlns="http://cyclonedx.org/schema/bom/1.6"><components></bom>'));
    expect(err.code).toBe('SCAN_INVALID');
    expect(err.details).toMatchObject({ reason: 'not_xml', line: 1 });
  });

  it('an unsupported namespace: SCAN_UNSUPPORTED_VERSION', () => {
    const err = invalid(() => parseScan(XML.replace('bom/1.5', 'bom/1.2')));
    expect(err.code).toBe('SCAN_UNSUPPORTED_VERSION');
    expect(err.details).toMatchObject({ xpath: '/bom/@xmlns' });
  });
});

describe('parseScan: SPDX tag-value', () => {
  it('trivy-knowds-trimmed.spdx (Trivy 0.67 SPDX 2.3 tag-value): packages by purl, the graph from CONTAINS, the described filesystem as root', () => {
    const scan = fixture('trivy-knowds-trimmed.spdx');
    expect(scan.format).toEqual({ name: 'spdx', version: '2.3', encoding: 'tag-value' });
    expect(scan.root).toMatchObject({ name: 'C:/Users/nkape/knowds', bomRef: 'SPDXRef-Filesystem-f54db3e980940b8e' });
    expect(purls(scan)).toEqual([
      undefined, // the operating system: no purl, a container of packages
      'pkg:deb/debian/libcbor0.10@0.10.2-2?arch=amd64&distro=debian-13.1',
      'pkg:deb/debian/libdav1d7@1.5.1-1?arch=amd64&distro=debian-13.1',
      'pkg:pypi/idna@3.11',
      'pkg:deb/debian/tk@8.6.16?arch=amd64&distro=debian-13.1',
    ]);
    expect(scan.components.find((c) => c.name === 'idna')).toMatchObject({ version: '3.11', ecosystem: 'pypi' });
    expect(ecosystems(scan)).toEqual(['deb', 'pypi', null].sort());
    // Relationships to elements the document does not list (trimmed away, or files) are not edges.
    expect(scan.dependencies.get('SPDXRef-Filesystem-f54db3e980940b8e')).toEqual([
      'SPDXRef-OperatingSystem-66f528a14441fd24',
      'SPDXRef-Package-124dc99680f6057e',
    ]);
    expect(scan.directRefs.has('SPDXRef-Package-124dc99680f6057e')).toBe(true);
    expect(scan.vulnerabilities).toBeNull();
  });

  it('trivy-vocabulary-hub.spdx (Trivy 0.65, whole document): a repository with no packages, <text> values, annotations', () => {
    const scan = fixture('trivy-vocabulary-hub.spdx');
    expect(scan.format.encoding).toBe('tag-value');
    expect(scan.root).toMatchObject({ name: 'vocabulary-hub-edc' });
    expect(scan.components).toHaveLength(0);
  });

  it('reads the same scan from the tag-value and the JSON encoding of one document', () => {
    const tagValue = [
      '# a comment line',
      'SPDXVersion: SPDX-2.2',
      'SPDXID: SPDXRef-DOCUMENT',
      'DocumentName: app',
      'DocumentComment: <text>first line',
      'PackageName: not a package: inside <text>',
      '</text>',
      'PackageName: app',
      'SPDXID: SPDXRef-app',
      'PackageVersion: 1.0.0',
      'PackageName: requests',
      'SPDXID: SPDXRef-requests',
      'PackageVersion: 2.28.1',
      'ExternalRef: PACKAGE-MANAGER purl pkg:pypi/requests@2.28.1',
      'Relationship: SPDXRef-DOCUMENT DESCRIBES SPDXRef-app',
      'Relationship: SPDXRef-app DEPENDS_ON SPDXRef-requests',
    ].join('\r\n');
    const json = {
      spdxVersion: 'SPDX-2.2',
      SPDXID: 'SPDXRef-DOCUMENT',
      name: 'app',
      packages: [
        { SPDXID: 'SPDXRef-app', name: 'app', versionInfo: '1.0.0' },
        {
          SPDXID: 'SPDXRef-requests',
          name: 'requests',
          versionInfo: '2.28.1',
          externalRefs: [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: 'pkg:pypi/requests@2.28.1' }],
        },
      ],
      relationships: [
        { spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: 'SPDXRef-app' },
        { spdxElementId: 'SPDXRef-app', relationshipType: 'DEPENDS_ON', relatedSpdxElement: 'SPDXRef-requests' },
      ],
    };
    const a = parseScan(tagValue);
    const b = parseScan(json);
    expect(a.format.encoding).toBe('tag-value');
    expect(a.components).toEqual(b.components);
    expect(a.root).toEqual(b.root);
    expect([...a.dependencies]).toEqual([...b.dependencies]);
    expect([...a.directRefs]).toEqual(['SPDXRef-requests']);
  });

  it('bad tag-value documents: SCAN_INVALID naming the line', () => {
    const bad = (text: string) => invalid(() => parseScan(text));
    expect(bad('SPDXVersion: SPDX-2.3\nthis line has no tag\n')).toMatchObject({ code: 'SCAN_INVALID', details: { line: 2 } });
    expect(bad('SPDXVersion: SPDX-2.3\nPackageName: a\nPackageVersion: 1\n').message).toBe('SPDX tag-value line 2: package "a" has no SPDXID');
    expect(bad('SPDXVersion: SPDX-2.3\nDocumentComment: <text>never closed\n')).toMatchObject({ details: { line: 2, tag: 'DocumentComment' } });
    expect(bad('SPDXVersion: SPDX-2.3\nRelationship: SPDXRef-a DEPENDS_ON\n').details).toMatchObject({ line: 2, tag: 'Relationship' });
    expect(bad('SPDXVersion: SPDX-2.1\n').code).toBe('SCAN_UNSUPPORTED_VERSION');
    const tooMany = ['SPDXVersion: SPDX-2.3', ...Array.from({ length: 3 }, (_, i) => `PackageName: p${i}\nSPDXID: SPDXRef-p${i}`)].join('\n');
    expect(invalid(() => parseScan(tooMany, { maxComponents: 2 })).details).toMatchObject({ reason: 'too_many_components', limit: 2 });
  });
});

describe('parseScan: bad scans', () => {
  it('an unknown format: SCAN_FORMAT_UNKNOWN naming the supported formats', () => {
    const err = invalid(() => parseScan({ hello: 'world' }));
    expect(err.code).toBe('SCAN_FORMAT_UNKNOWN');
    expect(err.message).toContain('"hello"');
    expect(err.message).toContain('Trivy JSON');
    expect(invalid(() => parseScan('hello: world\n')).code).toBe('SCAN_FORMAT_UNKNOWN');
  });

  it('a schema error carries an RFC 6901 JSON pointer', () => {
    const err = invalid(() => parseScan({ SchemaVersion: 2, Results: [{ Target: 'x', Packages: [{ Name: 'a' }, { Name: 7 }] }] }));
    expect(err.code).toBe('SCAN_INVALID');
    expect(err.details).toMatchObject({ pointer: '/Results/0/Packages/1/Name' });
    expect(err.message).toMatch(/^invalid Trivy scan: Results\[0\]\.Packages\[1\]\.Name: /);
    const cdx = invalid(() => parseScan({ bomFormat: 'CycloneDX', specVersion: '1.6', components: [{ type: 'library', name: 3 }] }));
    expect(cdx.details).toMatchObject({ pointer: '/components/0/name' });
  });

  it('unsupported versions: SCAN_UNSUPPORTED_VERSION', () => {
    expect(invalid(() => parseScan({ SchemaVersion: 1, Results: [] })).code).toBe('SCAN_UNSUPPORTED_VERSION');
    expect(invalid(() => parseScan({ spdxVersion: 'SPDX-2.1', packages: [] })).details).toMatchObject({ pointer: '/spdxVersion' });
  });

  it('limits apply to every format and are named in the error', () => {
    const grype = { matches: [1, 2, 3].map((i) => ({ vulnerability: { id: `CVE-${i}` }, artifact: { name: `p${i}` } })) };
    expect(invalid(() => parseScan(grype, { maxComponents: 2 })).details).toMatchObject({ reason: 'too_many_components', limit: 2, count: 3 });
    expect(invalid(() => parseScan({ results: [{ packages: [{ package: { a: { b: { c: {} } } } }] }] }, { maxDepth: 4 })).details).toMatchObject({
      reason: 'too_deep',
      limit: 4,
    });
    expect(invalid(() => parseScan(XML, { maxChars: 100 })).details).toMatchObject({ reason: 'too_large', limit: 100 });
    expect(invalid(() => parseScan(XML, { maxComponents: 2 })).details).toMatchObject({ reason: 'too_many_components', limit: 2 });
    expect(invalid(() => parseScan('{"results": ')).details).toMatchObject({ reason: 'not_json' });
  });
});

describe('XML the parser itself refuses', () => {
  it.each([
    ['an element named __proto__', '<?xml version="1.0"?><bom xmlns="http://cyclonedx.org/schema/bom/1.6" version="1"><components><__proto__/></components></bom>'],
    ['an element named constructor', '<?xml version="1.0"?><bom xmlns="http://cyclonedx.org/schema/bom/1.6" version="1"><constructor/></bom>'],
  ])('%s: 400 SCAN_INVALID (not_xml), never a server error', (_why, xml) => {
    expect(invalid(() => parseScan(xml))).toMatchObject({ code: 'SCAN_INVALID', details: { reason: 'not_xml' } });
  });
});
