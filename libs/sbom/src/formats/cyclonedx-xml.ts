import { InvalidInputError } from '@remediation/errors';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { SUPPORTED_SPEC_VERSIONS } from '../cyclonedx-schema.js';
import { parseCycloneDx } from '../parse-cyclonedx.js';
import type { ScanLimits } from '../guards.js';
import type { ParsedScan } from '../types.js';

type Xml = Record<string, unknown>;

/** Elements that repeat in CycloneDX XML (https://cyclonedx.org/docs/1.6/xml/): always arrays. */
const REPEATED = new Set(['component', 'dependency', 'vulnerability', 'rating', 'target', 'reference', 'advisory']);

/** Attributes of the CycloneDX XML elements read here (for XML paths of schema errors). */
const ATTRIBUTES = new Set(['type', 'bom-ref', 'serialNumber']);

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '',
  removeNSPrefix: true,
  parseTagValue: false,
  parseAttributeValue: false,
  processEntities: true,
  // `<version>` repeats only as an item of `<versions>` (elsewhere it is a component's version).
  isArray: (name, jpath, _leaf, isAttribute) =>
    !isAttribute && (REPEATED.has(name) || (name === 'version' && String(jpath).endsWith('versions.version'))),
});

/**
 * Reads a CycloneDX XML document (1.4–1.7, namespace `http://cyclonedx.org/schema/bom/<version>`)
 * with fast-xml-parser, converts it to the JSON shape of the same spec version and validates it
 * like CycloneDX JSON ({@link parseCycloneDx}). Schema errors name the XML path
 * (`details.xpath`, e.g. `/bom/components/component[3]/name`) instead of a JSON pointer.
 * @throws InvalidInputError `SCAN_INVALID` (not well-formed XML: `details.reason = 'not_xml'`
 *   with `line`/`column`; not a `<bom>`; schema errors), `SCAN_UNSUPPORTED_VERSION`.
 */
export function parseCycloneDxXml(text: string, limits: ScanLimits = {}): ParsedScan {
  const valid = XMLValidator.validate(text);
  if (valid !== true) {
    const { msg, line, col } = valid.err;
    throw new InvalidInputError('SCAN_INVALID', `scan is not well-formed XML: ${msg} (line ${line}, column ${col})`, {
      details: { reason: 'not_xml', line, column: col },
    });
  }
  let doc: Xml;
  try {
    doc = parser.parse(text) as Xml;
  } catch (err) {
    // fast-xml-parser refuses some documents with plain errors (element names such as __proto__ or
    // constructor, entity expansion past its limit): a bad scan, not a server fault.
    throw new InvalidInputError('SCAN_INVALID', `XML scan refused by the parser: ${(err as Error).message}`, { details: { reason: 'not_xml' } });
  }
  const bom = doc['bom'];
  if (bom === undefined || typeof bom !== 'object' || bom === null) {
    throw new InvalidInputError('SCAN_INVALID', 'XML scan has no <bom> root element (a CycloneDX XML document starts with <bom xmlns="http://cyclonedx.org/schema/bom/1.6">)', {
      details: { xpath: '/', issues: [{ xpath: '/', message: 'expected a <bom> root element' }] },
    });
  }
  const xml = bom as Xml;
  // The default namespace of <bom> (fast-xml-parser drops namespace declarations with their prefixes).
  const namespace = /<(?:[\w.-]+:)?bom\b[^>]*?\sxmlns(?::[\w.-]+)?\s*=\s*["']([^"']*)["']/.exec(text)?.[1] ?? '';
  const specVersion = /^http:\/\/cyclonedx\.org\/schema\/bom\/(\d+\.\d+)$/.exec(namespace)?.[1];
  if (specVersion === undefined || !(SUPPORTED_SPEC_VERSIONS as readonly string[]).includes(specVersion)) {
    throw new InvalidInputError(
      'SCAN_UNSUPPORTED_VERSION',
      `CycloneDX XML namespace ${JSON.stringify(namespace)} is not supported (supported: ${SUPPORTED_SPEC_VERSIONS.map((v) => `http://cyclonedx.org/schema/bom/${v}`).join(', ')})`,
      { details: { xpath: '/bom/@xmlns', namespace, supported: [...SUPPORTED_SPEC_VERSIONS] } },
    );
  }
  const json = toJson(xml, specVersion);
  try {
    const scan = parseCycloneDx(json, limits);
    return { ...scan, format: { name: 'cyclonedx', version: specVersion, encoding: 'xml' } };
  } catch (err) {
    throw withXmlPaths(err);
  }
}

/** The JSON-shaped BOM of a parsed `<bom>` element. */
function toJson(bom: Xml, specVersion: string): Xml {
  const metadata = asObject(bom['metadata']);
  const rootComponent = metadata ? asObject(metadata['component']) : undefined;
  const out: Xml = {
    bomFormat: 'CycloneDX',
    specVersion,
    ...(bom['serialNumber'] !== undefined ? { serialNumber: bom['serialNumber'] } : {}),
    ...(bom['version'] !== undefined && /^\d+$/.test(String(bom['version'])) ? { version: Number(bom['version']) } : {}),
  };
  if (metadata) out['metadata'] = rootComponent ? { component: component(rootComponent) } : {};
  if (bom['components'] !== undefined) out['components'] = list(bom['components'], 'component').map(component);
  if (bom['dependencies'] !== undefined) {
    out['dependencies'] = list(bom['dependencies'], 'dependency').map((d) => ({
      ref: d['ref'],
      dependsOn: (Array.isArray(d['dependency']) ? (d['dependency'] as Xml[]) : []).map((x) => x['ref']),
    }));
  }
  if (bom['vulnerabilities'] !== undefined) out['vulnerabilities'] = list(bom['vulnerabilities'], 'vulnerability').map(vulnerability);
  return out;
}

function component(c: Xml): Xml {
  return defined({
    type: c['type'],
    'bom-ref': c['bom-ref'],
    group: text(c['group']),
    name: text(c['name']),
    version: text(c['version']),
    purl: text(c['purl']),
    components: c['components'] !== undefined ? list(c['components'], 'component').map(component) : undefined,
  });
}

function vulnerability(v: Xml): Xml {
  const source = asObject(v['source']);
  return defined({
    'bom-ref': v['bom-ref'],
    id: text(v['id']),
    source: source ? defined({ name: text(source['name']), url: text(source['url']) }) : undefined,
    references:
      v['references'] !== undefined
        ? list(v['references'], 'reference').map((r) => defined({ id: text(r['id']), source: asObject(r['source']) }))
        : undefined,
    ratings:
      v['ratings'] !== undefined
        ? list(v['ratings'], 'rating').map((r) =>
            defined({
              score: text(r['score']) !== undefined ? Number(text(r['score'])) : undefined,
              severity: text(r['severity']),
              method: text(r['method']),
              vector: text(r['vector']),
            }),
          )
        : undefined,
    description: text(v['description']),
    detail: text(v['detail']),
    recommendation: text(v['recommendation']),
    advisories: v['advisories'] !== undefined ? list(v['advisories'], 'advisory').map((a) => defined({ title: text(a['title']), url: text(a['url']) })) : undefined,
    affects:
      v['affects'] !== undefined
        ? list(v['affects'], 'target').map((t) =>
            defined({
              ref: text(t['ref']),
              versions:
                t['versions'] !== undefined
                  ? list(t['versions'], 'version').map((x) => defined({ version: text(x['version']), range: text(x['range']), status: text(x['status']) }))
                  : undefined,
            }),
          )
        : undefined,
  });
}

/** Children `name` of a container element (`<components><component/>…</components>`). */
function list(container: unknown, name: string): Xml[] {
  const obj = asObject(container);
  const items = obj?.[name];
  if (items === undefined) return [];
  return (Array.isArray(items) ? items : [items]).map((i) => asObject(i) ?? { '#text': i });
}

function asObject(value: unknown): Xml | undefined {
  if (Array.isArray(value)) return asObject(value[0]);
  return value !== null && typeof value === 'object' ? (value as Xml) : undefined;
}

/** Element text (`<name>x</name>` or `<name a="…">x</name>`), undefined when absent. */
function text(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (Array.isArray(value)) return text(value[0]);
  if (typeof value === 'object') {
    const t = (value as Xml)['#text'];
    return t === undefined ? '' : String(t);
  }
  return String(value);
}

function defined(obj: Xml): Xml {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined));
}

/** JSON key of a list → XML container and item element names. */
const CONTAINERS: Record<string, string> = {
  components: 'component',
  dependencies: 'dependency',
  dependsOn: 'dependency',
  vulnerabilities: 'vulnerability',
  ratings: 'rating',
  references: 'reference',
  advisories: 'advisory',
  affects: 'target',
  versions: 'version',
};

/**
 * The XML path of a JSON path of the converted BOM: `components[2].name` →
 * `/bom/components/component[3]/name`, `dependencies[0].ref` → `/bom/dependencies/dependency[1]/@ref`.
 */
export function xmlPath(path: readonly PropertyKey[]): string {
  const parts: string[] = ['bom'];
  for (let i = 0; i < path.length; i++) {
    const key = String(path[i]);
    const next = path[i + 1];
    if (key === 'dependsOn' && typeof next === 'number') {
      parts.push(`dependency[${next + 1}]`, '@ref');
      i++;
    } else if (CONTAINERS[key] !== undefined && typeof next === 'number') {
      parts.push(key, `${CONTAINERS[key]}[${next + 1}]`);
      i++;
    } else if (ATTRIBUTES.has(key) || (key === 'ref' && parts[parts.length - 2] === 'dependencies')) {
      parts.push(`@${key}`);
    } else {
      parts.push(key);
    }
  }
  return `/${parts.join('/')}`;
}

/** Rewrites the JSON locations of a `SCAN_INVALID` from the converted BOM into XML paths. */
function withXmlPaths(err: unknown): unknown {
  if (!(err instanceof InvalidInputError) || err.code !== 'SCAN_INVALID') return err;
  const issues = err.details?.['issues'];
  if (!Array.isArray(issues)) return err;
  const converted = issues.map((issue: { pointer?: string; path?: string; message: string }) => {
    const keys = (issue.pointer ?? '')
      .split('/')
      .slice(1)
      .map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~'))
      .map((k) => (/^\d+$/.test(k) ? Number(k) : k));
    return { xpath: xmlPath(keys), message: issue.message };
  });
  const firstIssue = converted[0]!;
  const more = converted.length > 1 ? ` (and ${converted.length - 1} more issue(s))` : '';
  return new InvalidInputError('SCAN_INVALID', `invalid CycloneDX XML scan: ${firstIssue.xpath}: ${firstIssue.message}${more}`, {
    details: { issues: converted, xpath: firstIssue.xpath },
    cause: err,
  });
}
