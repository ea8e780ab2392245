import { InvalidInputError } from '@remediation/errors';
import type { LockfileKind } from './types.js';

/**
 * A lockfile that cannot be read: not the format its name or content says, or an entry without
 * what the format requires. Code `LOCKFILE_INVALID`, not retryable; `details` carry `file`,
 * `kind` (when known), and `where` (line number or key path) when the problem has a place.
 */
export class LockfileInvalidError extends InvalidInputError {
  readonly file: string;

  constructor(
    file: string,
    kind: LockfileKind | null,
    what: string,
    options: { where?: string | number; cause?: unknown } = {},
  ) {
    const at = options.where === undefined ? '' : typeof options.where === 'number' ? ` line ${options.where}` : ` at ${options.where}`;
    super('LOCKFILE_INVALID', `${file}${at} is not a valid ${kind ?? 'lockfile'}: ${what}`, {
      cause: options.cause,
      details: { file, kind, ...(options.where === undefined ? {} : { where: options.where }) },
    });
    this.name = 'LockfileInvalidError';
    this.file = file;
  }
}

/** Whether a value is a plain JSON/YAML/TOML object (not null, not an array). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The string values of a record (other values dropped): a dependency map as written. */
export function stringMap(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isRecord(value)) return out;
  for (const [k, v] of Object.entries(value)) if (typeof v === 'string') out[k] = v;
  return out;
}

/**
 * A project manifest given beside a lockfile (package.json), parsed.
 * @throws LockfileInvalidError naming the lockfile when the text is not a JSON object.
 */
export function parseManifestJson(file: string, text: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new LockfileInvalidError(file, null, `its package.json is not JSON (${(err as Error).message})`, { cause: err });
  }
  if (!isRecord(doc)) throw new LockfileInvalidError(file, null, 'its package.json is not a JSON object');
  return doc;
}
