import { cargoEcosystem } from './cargo/ecosystem.js';
import { goEcosystem } from './go/ecosystem.js';
import { mavenEcosystem } from './maven/ecosystem.js';
import { npmEcosystem } from './npm/ecosystem.js';
import { pypiEcosystem } from './pypi/ecosystem.js';
import type { Ecosystem } from './types.js';

/**
 * Every supported ecosystem, keyed by purl type (https://github.com/package-url/purl-spec/blob/main/PURL-TYPES.rst).
 * The planner and the patcher dispatch through this map; a purl type missing here is reported
 * per target as `not supported yet: <type>`.
 */
export const ECOSYSTEMS: ReadonlyMap<string, Ecosystem> = new Map([npmEcosystem, pypiEcosystem, cargoEcosystem, goEcosystem, mavenEcosystem].map((e) => [e.purlType, e]));

/** The ecosystem of purl type `purlType` (case-insensitive), or undefined when not supported yet. */
export function ecosystemFor(purlType: string): Ecosystem | undefined {
  return ECOSYSTEMS.get(purlType.toLowerCase());
}

/** The ecosystem whose OSV ecosystem name is `osvEcosystem` (e.g. `PyPI`, `npm`; exact, as OSV spells it), or undefined. */
export function ecosystemForOsv(osvEcosystem: string): Ecosystem | undefined {
  for (const e of ECOSYSTEMS.values()) if (e.osvEcosystem === osvEcosystem) return e;
  return undefined;
}
