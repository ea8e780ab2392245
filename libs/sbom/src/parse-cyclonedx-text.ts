import { InvalidInputError } from '@remediation/errors';
import type { ScanLimits } from './guards.js';
import { parseCycloneDx } from './parse-cyclonedx.js';
import type { ParsedScan } from './types.js';

/** Largest scan text accepted by {@link parseCycloneDxText}, in UTF-16 code units (~256 MiB of ASCII). */
export const DEFAULT_MAX_SCAN_CHARS = 256 * 1024 * 1024;

/**
 * Parses CycloneDX JSON text (e.g. an uploaded file) and validates it with {@link parseCycloneDx}.
 * @param text the document; a leading UTF-8 byte-order mark is ignored.
 * @param limits hostile-input limits; `maxChars` defaults to {@link DEFAULT_MAX_SCAN_CHARS}.
 * @throws InvalidInputError `SCAN_INVALID` when the text is too long or is not JSON
 *   (`details.reason` = `too_large` / `not_json`), plus everything {@link parseCycloneDx} throws.
 */
export function parseCycloneDxText(text: string, limits: ScanLimits & { maxChars?: number } = {}): ParsedScan {
  const maxChars = limits.maxChars ?? DEFAULT_MAX_SCAN_CHARS;
  if (text.length > maxChars) {
    throw new InvalidInputError('SCAN_INVALID', `scan is larger than ${maxChars} characters`, {
      details: { reason: 'too_large', limit: maxChars },
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (err) {
    throw new InvalidInputError('SCAN_INVALID', `scan is not valid JSON: ${(err as Error).message}`, {
      details: { reason: 'not_json' },
      cause: err,
    });
  }
  return parseCycloneDx(json, limits);
}
