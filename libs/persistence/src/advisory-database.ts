import {
  mergeRecords,
  normalisePackageName,
  recordIds,
  type AdvisorySeverity,
  type HttpValidators,
  type OsvRecord,
} from '@remediation/advisories';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Database } from './database.js';

/**
 * The advisory database (issue 12; tables of migration 0007): OSV records imported per source,
 * records that alias each other merged into one advisory, looked up by (ecosystem, normalised
 * package name). Every planner replica reads the same tables; {@link syncAdvisorySource} lets one
 * replica at a time sync a source (a PostgreSQL advisory lock per source).
 */

/** Advisory-lock namespace of per-source syncs (`pg_try_advisory_xact_lock(727012, hashtext(source))`). */
const SYNC_LOCK = 727012;
/** Advisory lock serialising the merge writes of all sources (groups can span sources). */
const MERGE_LOCK = 727013;

/** Sync state of one source (`advisory_sync_state`). */
export interface AdvisorySyncState {
  source: string;
  /** HTTP validators of the last downloaded archive (none for a directory). */
  validators: HttpValidators;
  /** Latest OSV `modified` seen in the source (ISO 8601), or null before the first import. */
  maxModified: string | null;
  /** When the last sync completed (ISO 8601), whether or not anything changed. */
  lastSyncedAt: string | null;
  /** When a sync last imported a changed record. */
  lastChangedAt: string | null;
  /** Records of the source in the database (withdrawn ones included). */
  records: number;
}

/** What a source's fetch gives {@link syncAdvisorySource}. */
export type FetchedRecords = { status: 'not-modified' } | { status: 'ok'; records: OsvRecord[]; validators?: HttpValidators };

/** Outcome of one {@link syncAdvisorySource}. */
export interface AdvisorySyncResult {
  source: string;
  /** False when another replica held the source's lock: nothing was done. */
  acquired: boolean;
  /** The source answered "not modified" (HTTP 304): nothing was imported. */
  notModified: boolean;
  /** Records new or with a newer `modified` than stored, imported now (withdrawn ones included). */
  imported: number;
  /** Of those, withdrawn records (removed from their advisory). */
  withdrawn: number;
  /** Records skipped because the stored copy is as new. */
  unchanged: number;
}

type Row = Record<string, unknown>;

function iso(value: unknown): string | null {
  return value === null || value === undefined ? null : new Date(value as string).toISOString();
}

/** The sync state of `source`, or null before its first sync. */
export async function getAdvisorySyncState(db: Database | EntityManager, source: string): Promise<AdvisorySyncState | null> {
  const em = 'em' in db ? db.em() : db;
  const [row] = await em.execute<Row[]>('select * from advisory_sync_state where source = ?', [source]);
  return row ? stateOf(row) : null;
}

function stateOf(row: Row): AdvisorySyncState {
  return {
    source: row.source as string,
    validators: { etag: (row.etag as string | null) ?? undefined, lastModified: (row.last_modified as string | null) ?? undefined },
    maxModified: iso(row.max_modified),
    lastSyncedAt: iso(row.last_synced_at),
    lastChangedAt: iso(row.last_changed_at),
    records: Number(row.records),
  };
}

/**
 * Syncs one source in one transaction: takes the source's advisory lock without waiting (another
 * replica syncing it → `acquired: false`), calls `fetch` with the stored state (for conditional
 * requests), imports only records that are new or whose `modified` is newer than stored (by record
 * id, whichever source stored it), re-merges
 * their alias groups, and records the new state. Readers see the old snapshot until the commit.
 * @param source a stable name, e.g. `dir:/data/osv` or `zip:https://…/PyPI/all.zip`.
 * @throws whatever `fetch` throws (nothing is changed then); InvalidInputError of a record is `fetch`'s.
 */
export async function syncAdvisorySource(
  db: Database,
  source: string,
  fetch: (state: AdvisorySyncState | null) => Promise<FetchedRecords>,
): Promise<AdvisorySyncResult> {
  return db.em().transactional(async (tx) => {
    const result: AdvisorySyncResult = { source, acquired: false, notModified: false, imported: 0, withdrawn: 0, unchanged: 0 };
    const [lock] = await tx.execute<Row[]>('select pg_try_advisory_xact_lock(?, hashtext(?)) as ok', [SYNC_LOCK, source]);
    if (!lock?.ok) return result;
    result.acquired = true;
    const state = await getAdvisorySyncState(tx, source);
    const fetched = await fetch(state);
    if (fetched.status === 'not-modified') {
      result.notModified = true;
      await saveState(tx, source, state?.validators ?? {}, false);
      return result;
    }
    const stored = new Map<string, number>();
    // By record id whatever the source: a record served by two sources is imported once.
    for (const row of await tx.execute<Row[]>('select id, modified from advisory_records')) {
      stored.set(row.id as string, new Date(row.modified as string).getTime());
    }
    const changed = fetched.records.filter((r) => {
      const known = stored.get(r.id);
      if (known !== undefined && Date.parse(r.modified) <= known) return false;
      stored.set(r.id, Date.parse(r.modified));
      return true;
    });
    result.unchanged = fetched.records.length - changed.length;
    if (changed.length > 0) await tx.execute('select pg_advisory_xact_lock(?)', [MERGE_LOCK]);
    for (const record of changed) {
      await importRecord(tx, source, record);
      result.imported++;
      if (record.withdrawn !== undefined) result.withdrawn++;
    }
    await saveState(tx, source, fetched.validators ?? {}, changed.length > 0);
    return result;
  });
}

async function saveState(tx: EntityManager, source: string, validators: HttpValidators, changed: boolean): Promise<void> {
  await tx.execute(
    `insert into advisory_sync_state (source, etag, last_modified, max_modified, last_synced_at, last_changed_at, records)
     select ?, ?, ?, (select max(modified) from advisory_records where source = ?), now(), case when ? then now() end,
            (select count(*) from advisory_records where source = ?)
     on conflict (source) do update set etag = excluded.etag, last_modified = excluded.last_modified,
       max_modified = excluded.max_modified, last_synced_at = excluded.last_synced_at,
       last_changed_at = coalesce(excluded.last_changed_at, advisory_sync_state.last_changed_at), records = excluded.records`,
    [source, validators.etag ?? null, validators.lastModified ?? null, source, changed, source],
  );
}

/** Stores one record and re-merges every alias group it was or is part of. */
async function importRecord(tx: EntityManager, source: string, record: OsvRecord): Promise<void> {
  const [previous] = await tx.execute<Row[]>('select advisory_id from advisory_records where id = ?', [record.id]);
  await tx.execute(
    `insert into advisory_records (id, source, modified, withdrawn, ids, osv)
     values (?, ?, ?, ?, array(select jsonb_array_elements_text(?::jsonb)), ?::jsonb)
     on conflict (id) do update set source = excluded.source, modified = excluded.modified, withdrawn = excluded.withdrawn,
       ids = excluded.ids, osv = excluded.osv`,
    [record.id, source, record.modified, record.withdrawn ?? null, JSON.stringify(recordIds(record)), JSON.stringify(record)],
  );
  // Records of the advisory this record belonged to may form other groups now.
  const seeds = new Set<string>([record.id]);
  const oldAdvisory = previous?.advisory_id as string | null | undefined;
  if (oldAdvisory) {
    for (const row of await tx.execute<Row[]>('select id from advisory_records where advisory_id = ?', [oldAdvisory])) seeds.add(row.id as string);
    await tx.execute('delete from advisories where id = ?', [oldAdvisory]);
    await tx.execute('update advisory_records set advisory_id = null where advisory_id = ?', [oldAdvisory]);
  }
  const done = new Set<string>();
  for (const seed of seeds) {
    if (done.has(seed)) continue;
    const group = await aliasGroup(tx, seed);
    for (const r of group) done.add(r.id);
    await writeGroup(tx, group);
  }
}

/** The non-withdrawn records connected to `seed` through shared ids (transitive closure). */
async function aliasGroup(tx: EntityManager, seed: string): Promise<OsvRecord[]> {
  const records = new Map<string, OsvRecord>();
  const [first] = await tx.execute<Row[]>('select osv, withdrawn from advisory_records where id = ?', [seed]);
  if (!first) return [];
  if (first.withdrawn !== null) return [];
  const ids = new Set(recordIds(first.osv as OsvRecord));
  records.set(seed, first.osv as OsvRecord);
  let frontier = [...ids];
  while (frontier.length > 0) {
    const rows = await tx.execute<Row[]>(
      `select id, osv from advisory_records where withdrawn is null and ids && array(select jsonb_array_elements_text(?::jsonb))`,
      [JSON.stringify(frontier)],
    );
    frontier = [];
    for (const row of rows) {
      if (records.has(row.id as string)) continue;
      const r = row.osv as OsvRecord;
      records.set(r.id, r);
      for (const id of recordIds(r)) {
        if (ids.has(id)) continue;
        ids.add(id);
        frontier.push(id);
      }
    }
  }
  return [...records.values()];
}

/** Replaces the advisories of `group`'s records with one merged advisory (none for an empty group). */
async function writeGroup(tx: EntityManager, group: OsvRecord[]): Promise<void> {
  if (group.length === 0) return;
  const ids = JSON.stringify(group.map((r) => r.id));
  await tx.execute(
    `delete from advisories where id in (select advisory_id from advisory_records where id in (select jsonb_array_elements_text(?::jsonb)) and advisory_id is not null)`,
    [ids],
  );
  const merged = mergeRecords(group);
  await tx.execute(
    `insert into advisories (id, modified, published, aliases, summary, severity, osv, sources, updated_at)
     values (?, ?, ?, array(select jsonb_array_elements_text(?::jsonb)), ?, ?, ?::jsonb,
       array(select distinct source from advisory_records where id in (select jsonb_array_elements_text(?::jsonb)) order by source), now())
     on conflict (id) do update set modified = excluded.modified, published = excluded.published, aliases = excluded.aliases,
       summary = excluded.summary, severity = excluded.severity, osv = excluded.osv, sources = excluded.sources, updated_at = now()`,
    [merged.id, merged.modified, merged.published ?? null, JSON.stringify(merged.aliases), merged.summary ?? null, merged.severity, JSON.stringify(merged.osv), ids],
  );
  await tx.execute('delete from advisory_packages where advisory_id = ?', [merged.id]);
  await tx.execute(
    `insert into advisory_packages (advisory_id, ecosystem, name)
     select ?, ecosystem, name from jsonb_to_recordset(?::jsonb) as p(ecosystem text, name text) on conflict do nothing`,
    [merged.id, JSON.stringify(merged.packages)],
  );
  await tx.execute('update advisory_records set advisory_id = ? where id in (select jsonb_array_elements_text(?::jsonb))', [merged.id, ids]);
}

/** An advisory as stored: the merged OSV record and its computed severity. */
export interface StoredAdvisory {
  id: string;
  aliases: string[];
  severity: AdvisorySeverity;
  modified: string;
  published: string | null;
  /** The merged OSV record (see `mergeRecords` of `@remediation/advisories`). */
  osv: OsvRecord;
}

function storedOf(row: Row): StoredAdvisory {
  return {
    id: row.id as string,
    aliases: row.aliases as string[],
    severity: row.severity as AdvisorySeverity,
    modified: iso(row.modified)!,
    published: iso(row.published),
    osv: row.osv as OsvRecord,
  };
}

/**
 * Every advisory affecting one of `packages`, whatever the version: one indexed query on
 * `advisory_packages` (names are normalised per ecosystem, see `normalisePackageName`). Sorted by id.
 */
export async function findAdvisoriesForPackages(
  db: Database,
  packages: ReadonlyArray<{ ecosystem: string; name: string }>,
): Promise<StoredAdvisory[]> {
  if (packages.length === 0) return [];
  const keys = packages.map((p) => ({ ecosystem: p.ecosystem, name: normalisePackageName(p.ecosystem, p.name) }));
  const rows = await db.em().execute<Row[]>(
    `select a.* from advisories a where a.id in (
       select p.advisory_id from advisory_packages p join jsonb_to_recordset(?::jsonb) as k(ecosystem text, name text)
         on p.ecosystem = k.ecosystem and p.name = k.name)
     order by a.id`,
    [JSON.stringify(keys)],
  );
  return rows.map(storedOf);
}

/** The advisories known by one of `ids` (canonical id or alias, case as written). Sorted by id. */
export async function findAdvisoriesByIds(db: Database, ids: readonly string[]): Promise<StoredAdvisory[]> {
  if (ids.length === 0) return [];
  const list = JSON.stringify([...new Set(ids.flatMap((id) => [id, id.toUpperCase()]))]);
  const rows = await db.em().execute<Row[]>(
    `select * from advisories where id in (select jsonb_array_elements_text(?::jsonb))
       or aliases && array(select jsonb_array_elements_text(?::jsonb)) order by id`,
    [list, list],
  );
  return rows.map(storedOf);
}

/** What a plan records about the advisory database it used (`PlannerOutput.advisoryDatabase`). */
export interface AdvisoryDatabaseSnapshot {
  /** Latest `modified` of any advisory (ISO 8601): the database knows nothing changed after it. Null when empty. */
  snapshotAt: string | null;
  /** Each synced source with its last completed sync and record count, sorted by name. */
  sources: Array<{ source: string; syncedAt: string | null; records: number }>;
}

/** The current snapshot of the advisory database (see {@link AdvisoryDatabaseSnapshot}). */
export async function advisoryDatabaseSnapshot(db: Database): Promise<AdvisoryDatabaseSnapshot> {
  const em = db.em();
  const [max] = await em.execute<Row[]>('select max(modified) as max from advisories');
  const rows = await em.execute<Row[]>('select * from advisory_sync_state order by source');
  return {
    snapshotAt: iso(max?.max),
    sources: rows.map((r) => ({ source: r.source as string, syncedAt: iso(r.last_synced_at), records: Number(r.records) })),
  };
}

/**
 * Records the packages (OSV ecosystem, name; normalised here) of the components a plan execution
 * saw, in the caller's transaction (with `plan.completed`), for {@link advisoriesChangedSince}.
 */
export async function recordPlanPackages(
  tx: EntityManager,
  executionId: string,
  packages: ReadonlyArray<{ ecosystem: string; name: string }>,
): Promise<void> {
  const keys = [...new Map(packages.map((p) => {
    const name = normalisePackageName(p.ecosystem, p.name);
    return [`${p.ecosystem}\u0000${name}`, { ecosystem: p.ecosystem, name }];
  })).values()];
  await tx.execute('delete from plan_packages where execution_id = ?', [executionId]);
  if (keys.length === 0) return;
  await tx.execute(
    `insert into plan_packages (execution_id, ecosystem, name)
     select ?, ecosystem, name from jsonb_to_recordset(?::jsonb) as p(ecosystem text, name text) on conflict do nothing`,
    [executionId, JSON.stringify(keys)],
  );
}

/**
 * Staleness of a plan: advisories published or modified after `since` (the plan's
 * `advisoryDatabase.snapshotAt`) naming one of the plan's packages, any version (a new advisory
 * may affect a component that was clean). The packages are `packages` (names normalised here) or
 * those recorded for `executionId` by {@link recordPlanPackages}. Withdrawn records are not in
 * `advisories`, so never listed. Sorted by id.
 * @param query.since ISO 8601 time.
 */
export async function advisoriesChangedSince(
  db: Database,
  query: { since: string } & ({ packages: ReadonlyArray<{ ecosystem: string; name: string }> } | { executionId: string }),
): Promise<StoredAdvisory[]> {
  const packagesSql =
    'packages' in query
      ? 'select ecosystem, name from jsonb_to_recordset(?::jsonb) as k(ecosystem text, name text)'
      : 'select ecosystem, name from plan_packages where execution_id = ?';
  const param =
    'packages' in query
      ? JSON.stringify(query.packages.map((p) => ({ ecosystem: p.ecosystem, name: normalisePackageName(p.ecosystem, p.name) })))
      : query.executionId;
  const rows = await db.em().execute<Row[]>(
    `select a.* from advisories a where (a.modified > ?::timestamptz or a.published > ?::timestamptz) and a.id in (
       select p.advisory_id from advisory_packages p join (${packagesSql}) k on p.ecosystem = k.ecosystem and p.name = k.name)
     order by a.id`,
    [query.since, query.since, param],
  );
  return rows.map(storedOf);
}
