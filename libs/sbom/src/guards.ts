import { InvalidInputError } from '@remediation/errors';

/** Default limits applied to a scan before it is validated (hostile-input guard). */
export const DEFAULT_SCAN_LIMITS = {
  /** Most components (including nested ones) a scan may carry. */
  maxComponents: 100_000,
  /** Deepest nesting of JSON objects/arrays, the top-level object being depth 1. */
  maxDepth: 100,
} as const;

/** Limits for {@link parseCycloneDx}; each defaults to {@link DEFAULT_SCAN_LIMITS}. */
export interface ScanLimits {
  maxComponents?: number;
  maxDepth?: number;
}

interface Frame {
  value: object;
  depth: number;
  parent: Frame | null;
  key: string | number;
}

/** Renders the path of a frame as `components[3].components[0]` (at most 12 trailing segments). */
function framePath(frame: Frame): string {
  const keys: (string | number)[] = [];
  for (let f: Frame | null = frame; f !== null && f.parent !== null; f = f.parent) keys.push(f.key);
  keys.reverse();
  const shown = keys.length > 12 ? keys.slice(-12) : keys;
  const text = shown.map((k, i) => (typeof k === 'number' ? `[${k}]` : i === 0 ? k : `.${k}`)).join('');
  return keys.length > 12 ? `…${text}` : text || '(root)';
}

/**
 * Rejects JSON nested deeper than `maxDepth`, without recursion (so a hostile document cannot
 * overflow the stack of this check or of the schema validation that follows).
 * @throws InvalidInputError `SCAN_INVALID` with `details.reason = 'too_deep'`, `details.limit`
 *   and `details.path` (the first over-deep location).
 */
export function assertMaxDepth(json: unknown, maxDepth: number): void {
  if (json === null || typeof json !== 'object') return;
  const stack: Frame[] = [{ value: json, depth: 1, parent: null, key: '' }];
  while (stack.length > 0) {
    const frame = stack.pop()!;
    if (frame.depth > maxDepth) {
      const path = framePath(frame);
      throw new InvalidInputError('SCAN_INVALID', `scan is nested deeper than ${maxDepth} levels (at ${path})`, {
        details: { reason: 'too_deep', limit: maxDepth, path },
      });
    }
    // Only object children get a frame (a scan is mostly strings): no per-value allocation.
    if (Array.isArray(frame.value)) {
      const list = frame.value as unknown[];
      for (let i = 0; i < list.length; i++) {
        const child = list[i];
        if (child !== null && typeof child === 'object') stack.push({ value: child, depth: frame.depth + 1, parent: frame, key: i });
      }
    } else {
      const record = frame.value as Record<string, unknown>;
      for (const key in record) {
        if (!Object.hasOwn(record, key)) continue;
        const child = record[key];
        if (child !== null && typeof child === 'object') stack.push({ value: child, depth: frame.depth + 1, parent: frame, key });
      }
    }
  }
}

/**
 * Counts `components` (top level, nested, and those nested under `metadata.component`) and rejects
 * the scan when there are more than `maxComponents`. Non-array `components` are left for the
 * schema to report.
 * @throws InvalidInputError `SCAN_INVALID` with `details.reason = 'too_many_components'`.
 */
export function assertMaxComponents(json: Record<string, unknown>, maxComponents: number): void {
  const lists: unknown[] = [json['components']];
  const metadata = json['metadata'];
  if (metadata !== null && typeof metadata === 'object' && !Array.isArray(metadata)) {
    const root = (metadata as Record<string, unknown>)['component'];
    if (root !== null && typeof root === 'object') lists.push((root as Record<string, unknown>)['components']);
  }
  let count = 0;
  while (lists.length > 0) {
    const list = lists.pop();
    if (!Array.isArray(list)) continue;
    count += list.length;
    if (count > maxComponents) {
      throw new InvalidInputError(
        'SCAN_INVALID',
        `scan has more than ${maxComponents} components; split the scan or raise the limit`,
        { details: { reason: 'too_many_components', limit: maxComponents } },
      );
    }
    for (const item of list) {
      if (item !== null && typeof item === 'object' && !Array.isArray(item)) {
        lists.push((item as Record<string, unknown>)['components']);
      }
    }
  }
}

/**
 * Rejects a scan whose lists of components (arrays among `lists`; other values are left for the
 * format's schema) hold more than `maxComponents` entries together.
 * @throws InvalidInputError `SCAN_INVALID` with `details.reason = 'too_many_components'`.
 */
export function countListed(lists: readonly unknown[], maxComponents: number): void {
  const count = lists.reduce<number>((n, list) => n + (Array.isArray(list) ? list.length : 0), 0);
  if (count > maxComponents) {
    throw new InvalidInputError('SCAN_INVALID', `scan has more than ${maxComponents} components; split the scan or raise the limit`, {
      details: { reason: 'too_many_components', limit: maxComponents, count },
    });
  }
}
