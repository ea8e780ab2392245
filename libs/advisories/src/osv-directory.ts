import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidInputError } from '@remediation/errors';
import { isAffected } from './osv-evaluation.js';
import { normalisePackageName } from './package-names.js';
import { OsvRecord } from './osv-schema.js';
import type { Advisory, AdvisorySeverity, AdvisorySource } from './types.js';

/** Options of {@link loadOsvDirectory}. */
export interface LoadOsvOptions {
  /** OSV ecosystem(s) to keep (`affected[].package.ecosystem`, exact match), e.g. `npm` or `['npm', 'PyPI']`. */
  ecosystem: string | readonly string[];
}

/**
 * GHSA `database_specific.severity` → planner scale. GitHub uses LOW/MODERATE/HIGH/CRITICAL;
 * MEDIUM is accepted as MODERATE. Anything else is `unknown`.
 */
export function normaliseSeverity(value: string | undefined): AdvisorySeverity {
  switch (value?.toUpperCase()) {
    case 'CRITICAL':
      return 'critical';
    case 'HIGH':
      return 'high';
    case 'MODERATE':
    case 'MEDIUM':
      return 'moderate';
    case 'LOW':
      return 'low';
    default:
      return 'unknown';
  }
}

/**
 * The advisory's link: an ADVISORY reference naming its own id (e.g. the GHSA page) first,
 * then the first ADVISORY reference, then the first WEB reference
 * (reference types: https://ossf.github.io/osv-schema/#references-field).
 */
export function advisoryUrl(record: OsvRecord): string | undefined {
  const refs = record.references ?? [];
  const advisories = refs.filter((r) => r.type.toUpperCase() === 'ADVISORY');
  return (
    advisories.find((r) => r.url.includes(record.id))?.url ??
    advisories[0]?.url ??
    refs.find((r) => r.type.toUpperCase() === 'WEB')?.url
  );
}

/**
 * Reduces an OSV record to an {@link Advisory} holding only the `affected[]` entries of
 * `ecosystem` (one OSV ecosystem or several); undefined when no entry is of one of them.
 */
export function toAdvisory(record: OsvRecord, ecosystem: string | readonly string[]): Advisory | undefined {
  const wanted = new Set(typeof ecosystem === 'string' ? [ecosystem] : ecosystem);
  const affected = (record.affected ?? [])
    .filter((a) => wanted.has(a.package.ecosystem))
    .map((a) => {
      const informational = a.database_specific?.['informational'];
      return {
        ecosystem: a.package.ecosystem,
        name: a.package.name,
        ranges: a.ranges ?? [],
        versions: a.versions ?? [],
        ...(typeof informational === 'string' && informational !== '' ? { informational } : {}),
      };
    });
  if (affected.length === 0) return undefined;
  return {
    id: record.id,
    aliases: [...new Set(record.aliases ?? [])].filter((a) => a !== record.id),
    summary: record.summary,
    details: record.details,
    severity: normaliseSeverity(record.database_specific?.severity),
    url: advisoryUrl(record),
    published: record.published,
    modified: record.modified,
    affected,
  };
}

/**
 * In-memory advisory index for one or more OSV ecosystems: by (ecosystem, package name as
 * `normalisePackageName` stores it: PEP 503 for PyPI, lower case for npm) and by id/alias
 * (uppercase). Implements {@link AdvisorySource}. Look-ups by package take the OSV ecosystem;
 * without it, the first ecosystem the index was built for (so an npm-only index answers as before).
 */
export class OsvAdvisoryIndex implements AdvisorySource {
  readonly ecosystem: string;
  readonly ecosystems: readonly string[];
  private readonly byPackage = new Map<string, Advisory[]>();
  private readonly byId = new Map<string, Advisory>();
  private readonly byAlias = new Map<string, Advisory>();
  private count = 0;

  /**
   * @param ecosystem the OSV ecosystem(s) of `advisories` (e.g. `npm`, or `['npm', 'PyPI']`);
   *   the first is the default of the package look-ups.
   * @param advisories advisories of those ecosystems (withdrawn ones should already be left out).
   * @throws InvalidInputError `ADVISORY_DUPLICATE` when two advisories share an id.
   */
  constructor(ecosystem: string | readonly string[], advisories: Iterable<Advisory>) {
    this.ecosystems = typeof ecosystem === 'string' ? [ecosystem] : [...ecosystem];
    if (this.ecosystems.length === 0) throw new TypeError('OsvAdvisoryIndex needs at least one ecosystem');
    this.ecosystem = this.ecosystems[0]!;
    const sorted = [...advisories].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    for (const advisory of sorted) {
      const key = advisory.id.toUpperCase();
      if (this.byId.has(key)) {
        throw new InvalidInputError('ADVISORY_DUPLICATE', `advisory ${advisory.id} is present twice`, {
          details: { id: advisory.id },
        });
      }
      this.byId.set(key, advisory);
      this.count++;
      for (const alias of advisory.aliases) {
        const aliasKey = alias.toUpperCase();
        if (!this.byAlias.has(aliasKey)) this.byAlias.set(aliasKey, advisory);
      }
      for (const packageKey of new Set(advisory.affected.map((a) => this.key(a.ecosystem, a.name)))) {
        const list = this.byPackage.get(packageKey) ?? [];
        list.push(advisory);
        this.byPackage.set(packageKey, list);
      }
    }
  }

  private key(ecosystem: string, name: string): string {
    return `${ecosystem}\u0000${normalisePackageName(ecosystem, name).toLowerCase()}`;
  }

  /** Number of advisories in the index. */
  get size(): number {
    return this.count;
  }

  /** Every advisory naming `name` in OSV ecosystem `ecosystem` (default: the index's first), sorted by id. */
  forPackage(name: string, ecosystem: string = this.ecosystem): Advisory[] {
    return [...(this.byPackage.get(this.key(ecosystem, name)) ?? [])];
  }

  /** Advisories affecting `version` of `name` in `ecosystem` (OSV evaluation, see {@link isAffected}), sorted by id. */
  matchAdvisories(name: string, version: string, ecosystem: string = this.ecosystem): Advisory[] {
    return this.forPackage(name, ecosystem).filter((a) => isAffected(a, name, version, ecosystem));
  }

  /** By id first, then by alias; case-insensitive. */
  findById(idOrAlias: string): Advisory | undefined {
    const key = idOrAlias.trim().toUpperCase();
    return this.byId.get(key) ?? this.byAlias.get(key);
  }

  /** See {@link isAffected}; `ecosystem` defaults to the index's first. */
  isAffected(advisory: Advisory, name: string, version: string, ecosystem: string = this.ecosystem): boolean {
    return isAffected(advisory, name, version, ecosystem);
  }
}

/**
 * Loads every `*.json` OSV file of `dir` (not recursive), keeps advisories with at least one
 * `affected[]` entry of `options.ecosystem` (one or several), and skips withdrawn ones (OSV `withdrawn` field,
 * https://ossf.github.io/osv-schema/#withdrawn-field).
 * @returns an {@link OsvAdvisoryIndex}; `withdrawn` lists the ids that were skipped.
 * @throws InvalidInputError `ADVISORY_SOURCE_UNREADABLE` when the directory cannot be read;
 *   `ADVISORY_INVALID` naming the file and field when a file is not JSON or not an OSV record
 *   (a silently skipped advisory would hide a vulnerability); `ADVISORY_DUPLICATE` for repeated ids.
 */
export async function loadOsvDirectory(
  dir: string,
  options: LoadOsvOptions,
): Promise<OsvAdvisoryIndex & { readonly withdrawn: readonly string[] }> {
  let names: string[];
  try {
    names = (await readdir(dir, { withFileTypes: true }))
      .filter((e) => e.isFile() && e.name.endsWith('.json'))
      .map((e) => e.name)
      .sort();
  } catch (err) {
    throw new InvalidInputError('ADVISORY_SOURCE_UNREADABLE', `cannot read OSV directory ${dir}: ${(err as Error).message}`, {
      cause: err,
      details: { dir },
    });
  }
  const advisories: Advisory[] = [];
  const withdrawn: string[] = [];
  for (const name of names) {
    const file = join(dir, name);
    const record = parseOsvRecord(await readFile(file, 'utf8'), file);
    if (record.withdrawn !== undefined) {
      withdrawn.push(record.id);
      continue;
    }
    const advisory = toAdvisory(record, options.ecosystem);
    if (advisory) advisories.push(advisory);
  }
  const index = new OsvAdvisoryIndex(options.ecosystem, advisories);
  return Object.assign(index, { withdrawn: withdrawn as readonly string[] });
}

/**
 * Parses one OSV record from JSON text.
 * @param where the file or archive entry, named in errors.
 * @throws InvalidInputError `ADVISORY_INVALID` naming `where` and the field when the text is not
 *   JSON or not an OSV record (a silently skipped advisory would hide a vulnerability).
 */
export function parseOsvRecord(text: string, where: string): OsvRecord {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new InvalidInputError('ADVISORY_INVALID', `${where} is not valid JSON: ${(err as Error).message}`, {
      cause: err,
      details: { file: where },
    });
  }
  return checkOsvRecord(json, where);
}

/**
 * Schema-checks one parsed OSV record (OSV schema 1.x, https://ossf.github.io/osv-schema/).
 * @param where the file or archive entry, named in errors.
 * @throws InvalidInputError `ADVISORY_INVALID` naming `where` and the field when `json` is not an OSV record.
 */
export function checkOsvRecord(json: unknown, where: string): OsvRecord {
  const parsed = OsvRecord.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue ? issue.path.map(String).join('.') || '(root)' : '(root)';
    throw new InvalidInputError('ADVISORY_INVALID', `${where} is not an OSV record: ${path}: ${issue?.message ?? 'invalid'}`, {
      cause: parsed.error,
      details: { file: where, path },
    });
  }
  return parsed.data;
}
