import type { ManifestManager } from './types.js';

/**
 * Puts the requirements of `name` in `text` back to what they are in `originalText` (the base
 * commit's version of the same manifest), splicing only the requirement texts by the manager's
 * offsets; every other byte of `text` is kept. The declarations are paired in file order; when
 * the two texts declare `name` a different number of times, nothing is restored (the manifest
 * was restructured, not just bumped). The generic counterpart of `restoreNpmDependency`.
 * @param normalise the ecosystem's name normalisation (PyPI: PEP 503), applied to `name`.
 * @returns the new text and how many requirements were put back.
 * @throws InvalidInputError `MANIFEST_INVALID` when either text cannot be read by `manager`.
 */
export function restoreRequirement(
  manager: ManifestManager,
  file: string,
  text: string,
  originalText: string,
  name: string,
  normalise: (name: string) => string,
): { text: string; restored: number } {
  const wanted = normalise(name);
  const now = manager.extract(file, text).dependencies.filter((d) => d.normalisedName === wanted);
  const before = manager.extract(file, originalText).dependencies.filter((d) => d.normalisedName === wanted);
  if (now.length !== before.length) return { text, restored: 0 };
  const replacements = now
    .map((d, i) => ({ at: d.location, raw: originalText.slice(before[i]!.location.offset, before[i]!.location.offset + before[i]!.location.length) }))
    .filter((r) => text.slice(r.at.offset, r.at.offset + r.at.length) !== r.raw)
    .sort((a, b) => b.at.offset - a.at.offset);
  let out = text;
  for (const r of replacements) out = out.slice(0, r.at.offset) + r.raw + out.slice(r.at.offset + r.at.length);
  return { text: out, restored: replacements.length };
}
