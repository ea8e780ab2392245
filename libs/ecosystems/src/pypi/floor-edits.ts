import type { ManifestDependency, ManifestEdit } from '../types.js';
import { raisePep440Floor, type FloorChange } from './specifier.js';

/** One requirement to raise; `change` overrides the PEP 440 rule (Poetry constraints). */
export interface FloorTarget {
  dependency: ManifestDependency;
  change?: (requirement: string, fixed: string) => FloorChange;
}

/**
 * Raise every occurrence of a dependency (one per marker / section) and splice the new
 * requirements into `text` by their offsets, from the end so earlier offsets stay valid; every
 * other character is kept. Refuses as a whole when any occurrence cannot be raised.
 */
export function applyFloorEdits(file: string, text: string, name: string, fixed: string, targets: FloorTarget[]): ManifestEdit {
  if (targets.length === 0) return { status: 'refused', reason: 'not-found', message: `${name} is not a direct dependency in ${file}` };
  const edits: Array<{ dependency: ManifestDependency; specifier: string }> = [];
  for (const { dependency, change } of targets) {
    if (dependency.uneditable) {
      return { status: 'refused', reason: 'unsupported-requirement', message: `${name} in ${file} line ${dependency.location.line} cannot be edited: ${dependency.uneditable}` };
    }
    const result = (change ?? raisePep440Floor)(dependency.requirement, fixed);
    if (result.status === 'refused') {
      return { status: 'refused', reason: result.reason, message: `${name} in ${file} line ${dependency.location.line}: ${result.message}` };
    }
    if (result.status === 'edited') edits.push({ dependency, specifier: result.specifier });
  }
  if (edits.length === 0) return { status: 'unchanged', requirement: targets[0]!.dependency.requirement, location: targets[0]!.dependency.location };
  let out = text;
  for (const e of [...edits].sort((a, b) => b.dependency.location.offset - a.dependency.location.offset)) {
    const { offset, length } = e.dependency.location;
    out = out.slice(0, offset) + e.specifier + out.slice(offset + length);
  }
  const first = edits[0]!;
  return { status: 'edited', text: out, before: first.dependency.requirement, after: first.specifier, location: first.dependency.location };
}
