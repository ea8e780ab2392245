import { PackageURL } from 'packageurl-js';
import type { ScanComponent } from './types.js';

/** A purl's type (lower case), namespace and name, decoded as packageurl-js reads them (https://github.com/package-url/purl-spec). */
export interface PurlParts {
  type: string;
  namespace: string | undefined;
  name: string;
}

/**
 * The purl parts of `c`: those read when its scan was parsed (`ecosystem`, `purlNamespace`,
 * `purlName`), else its `purl` parsed now (a component built without them). Undefined when it
 * has no purl or the purl does not parse (the scan parser reported that: `purlProblem`).
 */
export function purlParts(c: ScanComponent): PurlParts | undefined {
  if (c.ecosystem !== null && c.purlName !== undefined) return { type: c.ecosystem, namespace: c.purlNamespace, name: c.purlName };
  if (!c.purl) return undefined;
  try {
    const parsed = PackageURL.fromString(c.purl);
    return { type: parsed.type.toLowerCase(), namespace: parsed.namespace ?? undefined, name: parsed.name };
  } catch {
    return undefined;
  }
}
