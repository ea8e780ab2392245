import type { ParsedVersion } from './types.js';

/**
 * The `Versioning.orderKey` of a scheme ordered first by epoch, then by release segment with
 * missing segments counting as 0 (PEP 440 §"Release segment", https://peps.python.org/pep-0440/#release-segment;
 * semver's major.minor.patch, https://semver.org/#spec-item-11, with epoch 0): `[epoch, ...release]`
 * without trailing zeros, so `1.0` and `1.0.0` get the same key and `[1]` sorts before `[1, 0, 1]`.
 * @returns null for `null` (an invalid version) or a segment that is not a non-negative safe integer.
 */
export function releaseOrderKey(parsed: ParsedVersion | null): number[] | null {
  if (parsed === null) return null;
  const key = [parsed.epoch, ...parsed.release];
  if (!key.every((n) => Number.isSafeInteger(n) && n >= 0)) return null;
  let end = key.length;
  while (end > 0 && key[end - 1] === 0) end--;
  return key.slice(0, end);
}
