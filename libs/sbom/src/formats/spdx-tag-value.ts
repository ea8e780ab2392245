import { InvalidInputError } from '@remediation/errors';

/** A tag-value line's position, for errors. */
interface Located {
  tag: string;
  value: string;
  /** 1-based line of the tag. */
  line: number;
}

function invalid(line: number, message: string, extra: Record<string, unknown> = {}): InvalidInputError {
  return new InvalidInputError('SCAN_INVALID', `SPDX tag-value line ${line}: ${message}`, { details: { line, ...extra } });
}

/**
 * Splits an SPDX tag-value document into `Tag: value` pairs (SPDX 2.3 §"Tag-value format",
 * https://spdx.github.io/spdx-spec/v2.3/conformance/ and Annex "SPDX tag-value format": one
 * `Tag: Value` per line, a value wrapped in `<text>…</text>` may span lines, `#` starts a
 * comment line, blank lines separate nothing).
 * @throws InvalidInputError `SCAN_INVALID` with `details.line` for a line that is not
 *   `Tag: value` or a `<text>` never closed.
 */
export function tagValuePairs(text: string): Located[] {
  const lines = text.split(/\r\n|\n|\r/);
  const pairs: Located[] = [];
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const colon = raw.indexOf(':');
    if (colon <= 0 || !/^[A-Za-z][A-Za-z0-9]*$/.test(raw.slice(0, colon).trim())) {
      throw invalid(i + 1, `expected "Tag: value", got ${JSON.stringify(trimmed.length > 80 ? `${trimmed.slice(0, 79)}…` : trimmed)}`);
    }
    const tag = raw.slice(0, colon).trim();
    let value = raw.slice(colon + 1).trim();
    const line = i + 1;
    if (value.startsWith('<text>')) {
      let body = value.slice('<text>'.length);
      while (!body.includes('</text>')) {
        i++;
        if (i >= lines.length) throw invalid(line, `the <text> value of ${tag} is never closed with </text>`, { tag });
        body += `\n${lines[i]!}`;
      }
      value = body.slice(0, body.indexOf('</text>'));
    }
    pairs.push({ tag, value, line });
  }
  return pairs;
}

/**
 * Reads an SPDX 2.2/2.3 tag-value document into the shape of the SPDX JSON document
 * (`spdxVersion`, `SPDXID`, `name`, `packages[]` with `SPDXID`, `name`, `versionInfo`,
 * `externalRefs[]`, and `relationships[]`), the fields {@link parseSpdx} reads, so both
 * encodings share one reader. Sections follow the spec's ordering rules: the document's fields
 * come first, `PackageName` starts a package (its fields follow until the next section),
 * `FileName`, `SnippetSPDXID`, `LicenseID` and `Annotator` start sections whose fields are not
 * needed here; `Relationship: <id> <TYPE> <id>` and `ExternalRef: <category> <type> <locator>`
 * (§7.21) may appear anywhere they are allowed.
 * @throws InvalidInputError `SCAN_INVALID` with `details.line` (and `details.tag`) for a missing
 *   `SPDXVersion`, a package without `SPDXID`, a malformed `Relationship` or `ExternalRef`.
 */
export function spdxTagValueToJson(text: string): Record<string, unknown> {
  const pairs = tagValuePairs(text);
  const doc: Record<string, unknown> = {};
  const packages: Array<Record<string, unknown> & { line: number }> = [];
  const relationships: Array<Record<string, string>> = [];
  let section: 'document' | 'package' | 'other' = 'document';
  let current: (Record<string, unknown> & { line: number }) | null = null;
  for (const { tag, value, line } of pairs) {
    switch (tag) {
      case 'PackageName':
        current = { name: value, line };
        packages.push(current);
        section = 'package';
        continue;
      case 'FileName':
      case 'SnippetSPDXID':
      case 'LicenseID':
      case 'Annotator':
        section = 'other';
        current = null;
        continue;
      case 'Relationship': {
        const parts = value.split(/\s+/);
        if (parts.length !== 3) throw invalid(line, `Relationship must be "<SPDX id> <TYPE> <SPDX id>", got ${JSON.stringify(value)}`, { tag });
        relationships.push({ spdxElementId: parts[0]!, relationshipType: parts[1]!, relatedSpdxElement: parts[2]! });
        continue;
      }
      default:
    }
    if (section === 'document') {
      if (tag === 'SPDXVersion') doc['spdxVersion'] = value;
      else if (tag === 'SPDXID') doc['SPDXID'] = value;
      else if (tag === 'DocumentName') doc['name'] = value;
    } else if (section === 'package' && current !== null) {
      if (tag === 'SPDXID') current['SPDXID'] = value;
      else if (tag === 'PackageVersion') current['versionInfo'] = value;
      else if (tag === 'ExternalRef') {
        const parts = value.split(/\s+/);
        if (parts.length < 3) throw invalid(line, `ExternalRef must be "<category> <type> <locator>", got ${JSON.stringify(value)}`, { tag });
        const refs = (current['externalRefs'] as unknown[] | undefined) ?? [];
        refs.push({ referenceCategory: parts[0], referenceType: parts[1], referenceLocator: parts.slice(2).join(' ') });
        current['externalRefs'] = refs;
      }
    }
  }
  if (doc['spdxVersion'] === undefined) throw invalid(1, 'the document has no SPDXVersion', { tag: 'SPDXVersion' });
  for (const p of packages) {
    if (p['SPDXID'] === undefined) throw invalid(p.line, `package ${JSON.stringify(p['name'])} has no SPDXID`, { tag: 'SPDXID' });
  }
  doc['packages'] = packages.map(({ line: _line, ...p }) => p);
  doc['relationships'] = relationships;
  return doc;
}

/** Whether `text` looks like an SPDX tag-value document: its first tag (after comments and blank lines) is `SPDXVersion`. */
export function isSpdxTagValue(text: string): boolean {
  return /^(?:\s*(?:#[^\n]*)?\n)*\s*SPDXVersion\s*:/.test(text);
}
