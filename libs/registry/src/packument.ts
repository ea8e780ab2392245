import { InvalidInputError } from '@remediation/errors';
import { LRUCache } from 'lru-cache';
import { type Registry, countCacheHit, timeLookup } from '@remediation/metrics';
import semver from 'semver';
import { z } from 'zod';
import type { PackageVersions } from './types.js';

/**
 * The fields of an npm packument (full or abbreviated "corgi" document,
 * https://github.com/npm/registry/blob/main/docs/responses/package-metadata.md) that are read:
 * `dist-tags` and the keys of `versions` with each version's `deprecated` and `dependencies`. `time` is
 * deliberately not read.
 */
export const Packument = z.looseObject({
  name: z.string().optional(),
  'dist-tags': z.record(z.string(), z.string()).optional(),
  versions: z.record(z.string(), z.unknown()),
});
export type Packument = z.infer<typeof Packument>;

const NAME = /^(?:@[a-z0-9~-][a-z0-9._~-]*\/)?[a-z0-9~-][a-z0-9._~-]*$/i;

/**
 * Checks an npm package name: optional `@scope/`, URL-safe characters, not starting with `.` or
 * `_`, at most 214 characters (rules of validate-npm-package-name; upper case is accepted for
 * old packages). Also keeps names usable as file names (no `/` besides the scope, no `..`).
 * @throws InvalidInputError `PACKAGE_NAME_INVALID`.
 */
export function assertPackageName(name: string): void {
  if (name.length === 0 || name.length > 214 || !NAME.test(name)) {
    throw new InvalidInputError('PACKAGE_NAME_INVALID', `${JSON.stringify(name)} is not a valid npm package name`, {
      details: { name },
    });
  }
}

/** Whether a version's `deprecated` marks it deprecated (a non-empty message, or `true`). */
function isDeprecated(manifest: unknown): boolean {
  if (manifest === null || typeof manifest !== 'object') return false;
  const value = (manifest as Record<string, unknown>)['deprecated'];
  return value === true || (typeof value === 'string' && value.trim().length > 0);
}

/**
 * A version document's `dependencies` when it is an object of strings (entries of other types
 * dropped, and an own `__proto__` key, as zod's records drop it), else undefined. A plain object
 * (see {@link isPlainRecord}) whose values are all strings, what a registry publishes, is returned
 * as it is, not copied: a large plan reads tens of thousands of packuments, and copying every
 * version's dependencies was most of the time spent reducing them (decision 0032). Read-only.
 */
function dependenciesOf(manifest: unknown): Readonly<Record<string, string>> | undefined {
  if (manifest === null || typeof manifest !== 'object') return undefined;
  const value = (manifest as Record<string, unknown>)['dependencies'];
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const entries = value as Record<string, unknown>;
  if (isPlainRecord(entries) && Object.values(entries).every((range) => typeof range === 'string')) return entries as Readonly<Record<string, string>>;
  const out: Record<string, string> = {};
  for (const [key, range] of Object.entries(entries)) if (typeof range === 'string' && key !== '__proto__') out[key] = range;
  return out;
}

/**
 * A plain object (prototype `Object.prototype` or null, as zod's records require) without an own
 * `__proto__` key (which `JSON.parse` can make and zod's records drop).
 */
function isPlainRecord(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value) as unknown;
  return (prototype === Object.prototype || prototype === null) && !Object.hasOwn(value, '__proto__');
}

/**
 * Whether `document` meets {@link Packument} as it is: a plain object whose `name` is absent or a
 * string, whose `dist-tags` is absent or a plain object of strings, and whose `versions` is a plain
 * object. At least as strict as the schema, so a document it accepts is one zod accepts (and reads
 * the same); anything else goes through zod.
 */
function meetsPackument(document: unknown): document is Packument {
  if (!isPlainRecord(document)) return false;
  const name = document['name'];
  if (name !== undefined && typeof name !== 'string') return false;
  const tags = document['dist-tags'];
  if (tags !== undefined && !(isPlainRecord(tags) && Object.values(tags).every((tag) => typeof tag === 'string'))) return false;
  return isPlainRecord(document['versions']);
}

/**
 * Reduces a packument to {@link PackageVersions}: strict-semver versions only (e.g. `1.0.0rc3`
 * is dropped), sorted by semver precedence; deprecated versions and each version's
 * `dependencies` (when its document has them) collected.
 * @param where what to name in errors (URL or file).
 * @throws InvalidInputError `REGISTRY_DOCUMENT_INVALID` when the document lacks `versions`.
 */
export function toPackageVersions(name: string, document: unknown, where: string): PackageVersions {
  // A document that meets the schema is read as it is (zod would copy every version's entry);
  // anything else goes through zod, which names the problem.
  const parsed: ReturnType<typeof Packument.safeParse> = meetsPackument(document) ? { success: true, data: document } : Packument.safeParse(document);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InvalidInputError(
      'REGISTRY_DOCUMENT_INVALID',
      `package document for ${name} from ${where} is invalid: ${issue ? issue.path.map(String).join('.') || '(root)' : '(root)'}: ${issue?.message ?? 'invalid'}`,
      { details: { name, where }, cause: parsed.error },
    );
  }
  const parsedVersions: semver.SemVer[] = [];
  const deprecated = new Set<string>();
  const dependencies = new Map<string, Readonly<Record<string, string>>>();
  for (const [version, manifest] of Object.entries(parsed.data.versions)) {
    // Each version parsed once (sorting by `semver.compare` on strings would parse at every comparison).
    const v = semver.parse(version);
    if (v === null || v.version !== version) continue;
    parsedVersions.push(v);
    if (isDeprecated(manifest)) deprecated.add(version);
    const deps = dependenciesOf(manifest);
    if (deps !== undefined) dependencies.set(version, deps);
  }
  const versions = parsedVersions.sort((a, b) => a.compare(b)).map((v) => v.version);
  return { name, versions, distTags: { ...(parsed.data['dist-tags'] ?? {}) }, deprecated, dependencies };
}

/** Options of {@link LookupCache}. */
export interface LookupCacheOptions {
  /** Successful lookups kept; the least recently used is evicted beyond it. Default 500. */
  maxEntries?: number;
  /** How long a successful lookup is kept, ms (0: until evicted). Default 0. */
  ttlMs?: number;
  /**
   * How long a `PACKAGE_NOT_FOUND` answer is remembered, ms (0: not at all). Default 300,000:
   * a plan asks for every parent of every vulnerable transitive package, most of which a snapshot
   * or a private registry does not hold, and the next plans ask again.
   */
  notFoundTtlMs?: number;
  /** `PACKAGE_NOT_FOUND` answers kept (least recently used evicted beyond it). Default 20,000 (a few MB). */
  maxNotFound?: number;
  /** Clock for the time-to-live, ms (lru-cache's `perf`; tests inject one). Default `performance`. */
  clock?: { now(): number };
  /** The `ecosystem` label (purl type) of the lookups reported to the metrics. Default `npm`. */
  ecosystem?: string;
}

/**
 * Cache of in-flight or settled lookups (of `T`, by default npm's {@link PackageVersions}), one per
 * source instance: a least-recently-used cache
 * (lru-cache) of promises, so concurrent lookups of one package share a request. Failed lookups
 * are dropped so the next call tries again — except `PACKAGE_NOT_FOUND` (an InvalidInputError),
 * which is remembered for `notFoundTtlMs` in a second, bounded LRU and thrown again without a
 * lookup (a negative cache, like a resolver's).
 */
export class LookupCache<T = PackageVersions> {
  private readonly entries: LRUCache<string, Promise<T>>;
  private readonly notFound: LRUCache<string, InvalidInputError> | null;
  private readonly ecosystem: string;

  /**
   * @param options sizes, the not-found time-to-live and the ecosystem label; a number is `maxEntries` (the old signature).
   * @param metrics where lookups are reported as registry lookups of `options.ecosystem`
   *   (`remediation_lookup_*{source="registry",ecosystem}`: hits, misses with their timed loads); none when absent.
   */
  constructor(
    options: LookupCacheOptions | number = {},
    private readonly metrics?: Registry,
  ) {
    const o: LookupCacheOptions = typeof options === 'number' ? { maxEntries: options } : options;
    this.ecosystem = o.ecosystem ?? 'npm';
    const perf = o.clock ? { perf: o.clock } : {};
    this.entries = new LRUCache({ max: o.maxEntries ?? 500, ...(o.ttlMs ? { ttl: o.ttlMs } : {}), ...perf });
    const ttl = o.notFoundTtlMs ?? 300_000;
    this.notFound = ttl > 0 ? new LRUCache({ max: o.maxNotFound ?? 20_000, ttl, ...perf }) : null;
  }

  /**
   * The cached promise for `key`, or the result of `load()` (cached while it succeeds; a
   * `PACKAGE_NOT_FOUND` rejection is remembered for the time-to-live and returned again).
   */
  get(key: string, load: () => Promise<T>): Promise<T> {
    const hit = this.entries.get(key);
    if (hit) {
      countCacheHit(this.metrics, 'registry', this.ecosystem);
      return hit;
    }
    const missing = this.notFound?.get(key);
    if (missing) {
      countCacheHit(this.metrics, 'registry', this.ecosystem);
      return Promise.reject(missing);
    }
    const promise = timeLookup(this.metrics, 'registry', this.ecosystem, load);
    this.entries.set(key, promise);
    promise.catch((err: unknown) => {
      if (this.entries.peek(key) === promise) this.entries.delete(key);
      if (err instanceof InvalidInputError && err.code === 'PACKAGE_NOT_FOUND') this.notFound?.set(key, err);
    });
    return promise;
  }
}
