import { setTimeout as sleep } from 'node:timers/promises';
import {
  type Advisory,
  fetchOsvArchive,
  fetchOsvModifiedSince,
  isAffected,
  normalisePackageName,
  OsvAdvisoryIndex,
  OsvDirectoryLister,
  osvPackageOfPurl,
  type OsvApiClient,
  type OsvRecord,
} from '@remediation/advisories';
import {
  findAdvisoriesByIds,
  findPlanAdvisories,
  getAdvisorySyncState,
  syncAdvisorySource,
  type AdvisorySyncResult,
  type Database,
  type FetchedRecords,
} from '@remediation/persistence';
import { ECOSYSTEMS, ecosystemForOsv } from '@remediation/ecosystems';
import { purlParts, type ParsedScan, type ScanComponent } from '@remediation/sbom';
import type { Logger } from 'pino';

/** One configured advisory source: a stable name and how to fetch it (conditionally where it can). */
export interface ConfiguredSource {
  /** `dir:<path>`, `zip:<url>` or `api:<url>`: the `advisory_sync_state` key and the name plans record. */
  name: string;
  fetch: Parameters<typeof syncAdvisorySource>[2];
  /** Releases what the source holds between syncs (a folder watch); called by `AdvisorySync.stop`. */
  close?(): void;
}

/**
 * An OSV directory (flat or one folder per ecosystem). The first sync in a process reads every
 * file (and deletes records of this source whose file is gone); later syncs read only new or
 * changed files (size or mtime), deleting the records of removed files. Which files a later sync
 * stats: on Linux with a local file system only those the kernel's inotify named since the last
 * sync (decision 0030), otherwise, and at least every `fullListingMs`, every file, reading a folder's names again
 * only when the folder changed (decision 0026) (`OsvDirectoryLister`). Only records new or newer
 * than stored are schema-checked and imported. Each listing is logged (`advisories.listed`: files
 * stat'ed and read, and `scope`, why every file was stat'ed when it was). `watch: false` turns the
 * folder watch off (every later sync stats every file); `fullListingMs` as `OsvDirectoryLister`'s
 * (the planner's `OSV_DIR_FULL_LISTING_MS`).
 */
export function directorySource(
  dir: string,
  options: { logger?: Pick<Logger, 'info'>; watch?: boolean; fullListingMs?: number } = {},
): ConfiguredSource {
  const lister = new OsvDirectoryLister(dir, {
    ...(options.watch === undefined ? {} : { watch: options.watch }),
    ...(options.fullListingMs === undefined ? {} : { fullListingMs: options.fullListingMs }),
  });
  const name = `dir:${dir}`;
  return {
    name,
    fetch: async (): Promise<FetchedRecords> => {
      const listing = await lister.list();
      options.logger?.info(
        { event: 'advisories.listed', source: name, scope: listing.scope, files: listing.files, folders: listing.folders, ...(listing.watchError ? { watchError: listing.watchError } : {}) },
        'advisory folder listed',
      );
      return { status: 'ok', records: listing.records, complete: listing.complete, removed: listing.removed, committed: listing.commit };
    },
    close: () => lister.close(),
  };
}

/**
 * OSV's `<base>/<ecosystem>/all.zip`, fetched with If-None-Match / If-Modified-Since, outside the
 * database transaction, at most `options.maxBytes` (default `DEFAULT_ARCHIVE_MAX_BYTES`, 512 MiB;
 * the planner's `ADVISORY_ARCHIVE_MAX_BYTES`). The archive lists every record of the ecosystem:
 * records of this source it no longer holds are deleted. With `options.changeList` (the planner's
 * `OSV_CHANGE_LIST`), syncs after the first read OSV's `<base>/<ecosystem>/modified_id.csv` up to
 * the source's latest stored `modified` and fetch only the records listed since
 * (`fetchOsvModifiedSince`); without a change list (404) or with more than 5,000 changes, the
 * archive is read as above.
 */
export function archiveSource(
  baseUrl: string,
  ecosystem: string,
  options: { timeoutMs?: number; maxBytes?: number; changeList?: boolean } = {},
): ConfiguredSource {
  const url = `${baseUrl.replace(/\/+$/, '')}/${encodeURIComponent(ecosystem)}/all.zip`;
  const timeout = options.timeoutMs ? { timeoutMs: options.timeoutMs } : {};
  return {
    name: `zip:${url}`,
    fetch: async (state): Promise<FetchedRecords> => {
      if (options.changeList && state?.maxModified) {
        const changed = await fetchOsvModifiedSince(baseUrl, ecosystem, state.maxModified, timeout);
        if (changed.status === 'ok') return { status: 'ok', records: changed.records, validators: state.validators };
      }
      return fetchOsvArchive(url, state?.validators ?? {}, {
        ...timeout,
        ...(options.maxBytes ? { maxBytes: options.maxBytes } : {}),
        limitName: 'ADVISORY_ARCHIVE_MAX_BYTES',
      });
    },
  };
}

/**
 * Keeps the advisory database fresh: syncs every source at start and then every `intervalMs`
 * (0: only at start). Replicas share the tables; a source another replica is syncing is skipped
 * (`acquired: false`). A failing source is logged and retried at the next interval.
 */
export class AdvisorySync {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  /**
   * Resolves once every source has been synced once here, or (held by another replica) has a
   * completed sync recorded; see `waitForOthers`.
   */
  readonly ready: Promise<void>;
  private markReady!: () => void;

  constructor(
    private readonly db: Database,
    private readonly sources: readonly ConfiguredSource[],
    private readonly options: { intervalMs: number; readyTimeoutMs?: number; logger: Pick<Logger, 'info' | 'warn'> },
  ) {
    this.ready = new Promise((resolve) => (this.markReady = resolve));
  }

  /** Starts the first sync and the schedule. */
  start(): void {
    this.running = this.syncAll().then((results) =>
      this.waitForOthers(results.filter((r) => 'acquired' in r && !r.acquired).map((r) => r.source)),
    ).catch((err: unknown) => {
      this.options.logger.warn({ event: 'advisories.sync_failed', err }, 'advisory database not ready; plans use what is stored');
      this.markReady();
    });
    if (this.options.intervalMs > 0) {
      this.timer = setInterval(() => {
        if (this.running) return;
        this.running = this.syncAll()
          .then(() => undefined)
          .finally(() => (this.running = undefined));
      }, this.options.intervalMs);
      this.timer.unref();
    }
    void this.running.finally(() => (this.running = undefined));
  }

  /** One pass over every source, in order. @returns each source's outcome (or error). */
  async syncAll(): Promise<Array<AdvisorySyncResult | { source: string; error: string }>> {
    const results: Array<AdvisorySyncResult | { source: string; error: string }> = [];
    for (const source of this.sources) {
      if (this.stopped) break;
      const started = Date.now();
      try {
        const result = await syncAdvisorySource(this.db, source.name, source.fetch);
        results.push(result);
        this.options.logger.info({ event: 'advisories.synced', ...result, durationMs: Date.now() - started }, 'advisory source synced');
      } catch (err) {
        results.push({ source: source.name, error: (err as Error).message });
        this.options.logger.warn({ event: 'advisories.sync_failed', source: source.name, err }, 'advisory source sync failed');
      }
    }
    return results;
  }

  /**
   * Sources another replica was syncing at start: wait until one completed sync is recorded
   * (at most `readyTimeoutMs`, default 10 min, then plans go on with what is stored). Sources that
   * failed here do not hold plans back: they use what is stored, and the failure is logged.
   */
  private async waitForOthers(sources: readonly string[]): Promise<void> {
    const deadline = Date.now() + (this.options.readyTimeoutMs ?? 600_000);
    for (const source of sources) {
      while (!this.stopped && Date.now() < deadline && (await getAdvisorySyncState(this.db, source))?.lastSyncedAt == null) await sleep(250);
    }
    this.markReady();
  }

  /** Stops the schedule and waits for a running sync. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.markReady();
    await this.running?.catch(() => undefined);
    for (const source of this.sources) source.close?.();
  }
}

/** (OSV ecosystem, name) of every component of a scan whose purl type OSV knows; npm by the scan's name. */
export function scanPackages(scan: ParsedScan): Array<{ ecosystem: string; name: string }> {
  return [...scanPackageVersions(scan).values()].map(({ ecosystem, name }) => ({ ecosystem, name }));
}

/** A package of a scan with its installed versions (`versions` undefined when a component of it gives no version). */
interface ScanPackage {
  ecosystem: string;
  name: string;
  /** Distinct installed versions, in scan order. */
  versions: string[] | undefined;
  /** `versions` as a set, once the package has more than a few (a scan may list thousands of one package). */
  seen?: Set<string>;
}

/** Versions of one package compared one by one up to this many; a set beyond. */
const FEW_VERSIONS = 8;

/** {@link scanPackageVersions} per parsed scan: a plan asks twice (its look-up, then the packages it records). */
const PACKAGES_OF = new WeakMap<ParsedScan, ReadonlyMap<string, ScanPackage>>();

/**
 * The scan's packages (root included) by `<OSV ecosystem>\0<normalised name>`, with every
 * installed version; a component without a version makes its package's `versions` undefined
 * (every advisory of it may apply), as does one its ecosystem's versioning cannot read. Computed
 * once per scan (a parsed scan does not change).
 */
function scanPackageVersions(scan: ParsedScan): ReadonlyMap<string, ScanPackage> {
  let known = PACKAGES_OF.get(scan);
  if (known === undefined) PACKAGES_OF.set(scan, (known = collectPackageVersions(scan)));
  return known;
}

function collectPackageVersions(scan: ParsedScan): Map<string, ScanPackage> {
  const out = new Map<string, ScanPackage>();
  const add = (c: ScanComponent): void => {
    let ecosystem: string;
    let name: string;
    if (c.ecosystem === 'npm') {
      ecosystem = 'npm';
      name = c.name;
    } else {
      const purl = purlParts(c);
      const pkg = purl === undefined ? undefined : osvPackageOfPurl(purl);
      if (!pkg) return;
      ({ ecosystem, name } = pkg);
    }
    const key = `${ecosystem}\u0000${normalisePackageName(ecosystem, name)}`;
    let known = out.get(key);
    if (known === undefined) out.set(key, (known = { ecosystem, name, versions: [] }));
    if (known.versions === undefined) return;
    // A version the ecosystem cannot read is unknown too (the plan asks a person about every advisory of it).
    const versioning = ecosystemForOsv(ecosystem)?.versioning;
    if (c.version === undefined || c.version.trim() === '' || (versioning !== undefined && !versioning.isValid(c.version))) known.versions = undefined;
    else if (known.seen !== undefined ? !known.seen.has(c.version) : !known.versions.includes(c.version)) {
      known.versions.push(c.version);
      if (known.seen !== undefined) known.seen.add(c.version);
      else if (known.versions.length > FEW_VERSIONS) known.seen = new Set(known.versions);
    }
  };
  if (scan.root) add(scan.root);
  for (const c of scan.components) add(c);
  return out;
}

/**
 * The advisories of one look-up statement worth keeping for a plan without scan vulnerabilities
 * (OSV mode): every advisory of a package one of whose installed versions some advisory of this
 * statement affects (or whose version is unknown) — all of that package's advisories, because the
 * tiers avoid every one of them — and none of a package nothing affects. A package's advisories
 * all come in one statement (`findPlanAdvisories` splits by package).
 */
function relevantTo(packages: ReadonlyMap<string, ScanPackage>): (advisories: Advisory[]) => Advisory[] {
  return (advisories) => {
    const hit = new Set<string>();
    // Each advisory's package keys, computed once for both passes.
    const keys = advisories.map((advisory) =>
      advisory.affected.map((entry) => {
        const key = `${entry.ecosystem}\u0000${normalisePackageName(entry.ecosystem, entry.name)}`;
        const pkg = packages.get(key);
        if (pkg !== undefined && !hit.has(key) && (pkg.versions === undefined || pkg.versions.some((v) => isAffected(advisory, entry.name, v, entry.ecosystem)))) hit.add(key);
        return key;
      }),
    );
    return advisories.filter((_, i) => keys[i]!.some((key) => hit.has(key)));
  };
}

/** OSV ecosystems the planner plans (`ECOSYSTEMS` of @remediation/ecosystems), npm first. */
const PLANNED_OSV_ECOSYSTEMS = [...ECOSYSTEMS.values()].map((e) => e.osvEcosystem);

/**
 * The advisories a plan of `scan` needs, from the advisory database: every advisory of the scan's
 * packages of planned ecosystems (npm, PyPI, crates.io) and every advisory the scan's
 * vulnerabilities name (by id or alias), reduced to their entries of those ecosystems
 * (`findPlanAdvisories`: small columns, no merged OSV record), as an in-memory index (the
 * planner's `AdvisorySource`). Without scan vulnerabilities, only the advisories of packages some
 * advisory affects at an installed version are kept (all of theirs): PostgreSQL reads only packages
 * whose installed versions' order keys fall in an advisory's stored key ranges (a superset;
 * `versions` of `findPlanAdvisories`, docs/decisions/0012), and {@link relevantTo} keeps, statement
 * by statement, exactly the affected ones, so a large scan neither ships nor holds every advisory
 * of its packages. With an OSV API client, the scan's packages are first queried there
 * and new or changed records imported (source `api:<url>`).
 */
export async function loadPlanAdvisories(
  db: Database,
  scan: ParsedScan,
  options: { api?: { client: OsvApiClient; name: string } } = {},
): Promise<OsvAdvisoryIndex> {
  const versions = scanPackageVersions(scan);
  const packages = [...versions.values()].map(({ ecosystem, name }) => ({ ecosystem, name }));
  if (options.api) await syncFromApi(db, options.api, packages);
  const ids = (scan.vulnerabilities ?? []).flatMap((v) => [v.id, ...v.aliases]);
  // Without scan vulnerabilities the plan only needs the advisories of affected packages: PostgreSQL
  // leaves out packages no advisory may affect at an installed version (order keys, a superset),
  // `relevantTo` then keeps exactly the affected ones. A scan that reports vulnerabilities may name
  // packages the database does not find affected: keep all.
  const affectedOnly = scan.vulnerabilities === null;
  const planned = [...versions.values()].filter((p) => PLANNED_OSV_ECOSYSTEMS.includes(p.ecosystem));
  const advisories = await findPlanAdvisories(db, {
    ecosystem: PLANNED_OSV_ECOSYSTEMS,
    packages: planned.map(({ ecosystem, name, versions: installed }) => (affectedOnly && installed ? { ecosystem, name, versions: installed } : { ecosystem, name })),
    ids,
    ...(affectedOnly ? { keep: relevantTo(versions) } : {}),
  });
  return new OsvAdvisoryIndex(PLANNED_OSV_ECOSYSTEMS, advisories);
}

/** Imports from the OSV API the records of `packages` that are new or changed (by `modified`). */
async function syncFromApi(
  db: Database,
  api: { client: OsvApiClient; name: string },
  packages: ReadonlyArray<{ ecosystem: string; name: string }>,
): Promise<void> {
  if (packages.length === 0) return;
  const listed = (await api.client.queryBatch(packages.map((p) => ({ package: p })))).flat();
  const known = new Map((await findAdvisoriesByIds(db, listed.map((v) => v.id))).flatMap((a) => [a.id, ...a.aliases].map((id) => [id, a.modified] as const)));
  const wanted = [...new Map(listed.filter((v) => {
    const m = known.get(v.id);
    return m === undefined || Date.parse(v.modified) > Date.parse(m);
  }).map((v) => [v.id, v])).keys()];
  if (wanted.length === 0) return;
  const records: OsvRecord[] = [];
  for (const id of wanted) records.push(await api.client.vuln(id));
  // Another replica importing the same source at this moment: its import covers other packages, so retry once it is done.
  for (let attempt = 0; attempt < 40; attempt++) {
    const result = await syncAdvisorySource(db, api.name, async () => ({ status: 'ok', records }));
    if (result.acquired) return;
    await sleep(250);
  }
}
