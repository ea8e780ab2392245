import { InvalidInputError } from '@remediation/errors';
import { parseCycloneDxXml } from './formats/cyclonedx-xml.js';
import { parseGrype } from './formats/grype.js';
import { parseOsvScanner } from './formats/osv-scanner.js';
import { parseSpdx } from './formats/spdx.js';
import { isSpdxTagValue, spdxTagValueToJson } from './formats/spdx-tag-value.js';
import { parseTrivy } from './formats/trivy.js';
import { assertMaxComponents, assertMaxDepth, countListed, DEFAULT_SCAN_LIMITS, type ScanLimits } from './guards.js';
import { DEFAULT_MAX_SCAN_CHARS } from './parse-cyclonedx-text.js';
import { parseCycloneDx } from './parse-cyclonedx.js';
import type { ParsedScan } from './types.js';

/** Limits of {@link parseScan}: those of {@link ScanLimits} and the largest text in characters. */
export type ScanTextLimits = ScanLimits & { maxChars?: number };

/** Formats {@link parseScan} recognises, for messages. */
export const SCAN_FORMATS =
  'CycloneDX 1.4–1.7 (JSON or XML), SPDX 2.2/2.3 (JSON or tag-value), OSV-Scanner JSON results, Trivy JSON, Grype JSON';

/**
 * Reads a scan of any supported format into the normalised {@link ParsedScan}, the format
 * detected from the content:
 * - a JSON object (or text starting with `{`): `bomFormat` → CycloneDX JSON; `spdxVersion` → SPDX;
 *   `SchemaVersion` with `Results`/`ArtifactName` → Trivy; `matches` → Grype; `results` →
 *   OSV-Scanner;
 * - text starting with `<`: CycloneDX XML (`<bom xmlns="http://cyclonedx.org/schema/bom/1.x">`);
 * - text whose first tag is `SPDXVersion:`: SPDX tag-value (errors carry `details.line`).
 * The limits are checked before the format's parser runs: text length (`maxChars`), nesting
 * depth, and the number of components (CycloneDX `components`, SPDX `packages`, Trivy
 * `Packages`, Grype `matches`, OSV-Scanner `packages`).
 * @param input the scan: a parsed JSON value, or the document's text.
 * @throws InvalidInputError `SCAN_FORMAT_UNKNOWN` (none of the formats; `details.formats`),
 *   `SCAN_UNSUPPORTED_VERSION`, `SCAN_INVALID` with `details.pointer` (RFC 6901) or
 *   `details.xpath`, and `details.reason` + `details.limit` when a limit was hit
 *   (`too_large`, `too_deep`, `too_many_components`, `not_json`, `not_xml`).
 */
export function parseScan(input: unknown, limits: ScanTextLimits = {}): ParsedScan {
  if (typeof input === 'string') {
    const maxChars = limits.maxChars ?? DEFAULT_MAX_SCAN_CHARS;
    if (input.length > maxChars) {
      throw new InvalidInputError('SCAN_INVALID', `scan is larger than ${maxChars} characters`, {
        details: { reason: 'too_large', limit: maxChars, size: input.length },
      });
    }
    const text = input.charCodeAt(0) === 0xfeff ? input.slice(1) : input;
    const start = text.trimStart()[0];
    if (start === '<') {
      const scan = parseCycloneDxXml(text, limits);
      assertMaxComponents({ components: new Array(scan.components.length) }, limits.maxComponents ?? DEFAULT_SCAN_LIMITS.maxComponents);
      return scan;
    }
    if (start === '{') {
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (err) {
        throw new InvalidInputError('SCAN_INVALID', `scan is not valid JSON: ${(err as Error).message}`, {
          details: { reason: 'not_json' },
          cause: err,
        });
      }
      return parseScan(json, limits);
    }
    if (isSpdxTagValue(text)) {
      const doc = spdxTagValueToJson(text);
      countListed([doc['packages']], limits.maxComponents ?? DEFAULT_SCAN_LIMITS.maxComponents);
      return parseSpdx(doc, 'tag-value');
    }
    throw unknownFormat('text that is neither JSON, XML nor SPDX tag-value');
  }
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new InvalidInputError('SCAN_INVALID', 'scan must be a JSON object or the text of an XML document', {
      details: { pointer: '', issues: [{ path: '(root)', pointer: '', message: `expected object, received ${input === null ? 'null' : Array.isArray(input) ? 'array' : typeof input}` }] },
    });
  }
  const doc = input as Record<string, unknown>;
  if ('bomFormat' in doc) return parseCycloneDx(doc, limits);
  assertMaxDepth(doc, limits.maxDepth ?? DEFAULT_SCAN_LIMITS.maxDepth);
  const maxComponents = limits.maxComponents ?? DEFAULT_SCAN_LIMITS.maxComponents;
  if ('spdxVersion' in doc) {
    countListed([doc['packages']], maxComponents);
    return parseSpdx(doc);
  }
  if ('SchemaVersion' in doc && ('Results' in doc || 'ArtifactName' in doc)) {
    const results = Array.isArray(doc['Results']) ? (doc['Results'] as unknown[]) : [];
    countListed(results.map((r) => (r !== null && typeof r === 'object' ? (r as Record<string, unknown>)['Packages'] : undefined)), maxComponents);
    return parseTrivy(doc);
  }
  if (Array.isArray(doc['matches'])) {
    countListed([doc['matches']], maxComponents);
    return parseGrype(doc);
  }
  if (Array.isArray(doc['results'])) {
    countListed(
      (doc['results'] as unknown[]).map((r) => (r !== null && typeof r === 'object' ? (r as Record<string, unknown>)['packages'] : undefined)),
      maxComponents,
    );
    return parseOsvScanner(doc);
  }
  throw unknownFormat(`a JSON object with keys ${Object.keys(doc).slice(0, 8).map((k) => JSON.stringify(k)).join(', ') || '(none)'}`);
}

function unknownFormat(what: string): InvalidInputError {
  return new InvalidInputError('SCAN_FORMAT_UNKNOWN', `the scan's format is not recognised (got ${what}); supported: ${SCAN_FORMATS}`, {
    details: { pointer: '', formats: SCAN_FORMATS },
  });
}
