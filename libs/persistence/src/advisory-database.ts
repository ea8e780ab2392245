import {
  mergeRecords,
  normalisePackageName,
  recordIds,
  type AdvisorySeverity,
  type HttpValidators,
  type OsvRecord,
} from '@remediation/advisories';
import type { EntityManager } from '@mikro-orm/postgresql';
import { InvalidInputError } from '@remediation/errors';
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
 * @throws whatever `fetch` throws (nothing is changed then); InvalidInputError `ADVISORY_INVALID` for a
 *   record whose `modified`/`published`/`withdrawn` is not a time (nothing of the source is imported then).
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
    for (const r of fetched.records) {
      const unreadable = (t: string | undefined): boolean => t !== undefined && Number.isNaN(Date.parse(t));
      if (unreadable(r.modified) || unreadable(r.published) || unreadable(r.withdrawn)) {
        throw new InvalidInputError('ADVISORY_INVALID', `${source}: record ${r.id}: modified/published/withdrawn is not an RFC 3339 time`, {
          details: { source, id: r.id, modified: r.modified, published: r.published, withdrawn: r.withdrawn },
        });
      }
    }
    // Serialised with every other source's import from here: what is stored cannot change underneath.
    await tx.execute('select pg_advisory_xact_lock(?)', [MERGE_LOCK]);
    const stored = new Map<string, number>();
    // By record id whatever the source: a record served by two sources is imported once.
    for (const row of await tx.execute<Row[]>('select id, modified from advisory_records')) {
      stored.set(row.id as string, new Date(row.modified as string).getTime());
    }
    // A source that serves one id twice (two files of a directory) contributes its newest copy once:
    // one statement may not write a row twice.
    const newest = new Map<string, (typeof fetched.records)[number]>();
    for (const r of fetched.records) {
      const seen = newest.get(r.id);
      if (!seen || Date.parse(r.modified) > Date.parse(seen.modified)) newest.set(r.id, r);
    }
    const changed = [...newest.values()].filter((r) => {
      const known = stored.get(r.id);
      return known === undefined || Date.parse(r.modified) > known;
    });
    result.unchanged = fetched.records.length - changed.length;
    await importRecords(tx, source, changed);
    result.imported = changed.length;
    result.withdrawn = changed.filter((r) => r.withdrawn !== undefined).length;
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

/** Rows per statement of the bulk writes (each statement takes one jsonb parameter). */
const CHUNK = 1000;

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
}

/**
 * Stores `records` (new or newer) and rebuilds every alias group they were or are part of, in bulk:
 * (1) upsert the records; (2) drop the advisories they belonged to; (3) load every non-withdrawn
 * record connected to them through shared ids (transitive closure, index on `advisory_ids`); (4) group
 * them (union-find over ids), merge each group (`mergeRecords`) and write advisories, packages and
 * each record's advisory id.
 */
async function importRecords(tx: EntityManager, source: string, records: readonly OsvRecord[]): Promise<void> {
  const changedIds = records.map((r) => r.id);
  const seeds = new Set<string>(changedIds);
  const oldAdvisories = new Set<string>();
  for (const part of chunks(changedIds)) {
    const rows = await tx.execute<Row[]>(
      'select id, advisory_id from advisory_records where advisory_id in (select advisory_id from advisory_records where id in (select jsonb_array_elements_text(?::jsonb)))',
      [JSON.stringify(part)],
    );
    for (const row of rows) {
      seeds.add(row.id as string);
      oldAdvisories.add(row.advisory_id as string);
    }
  }
  for (const part of chunks(records)) {
    await tx.execute(
      `insert into advisory_records (id, source, modified, withdrawn, ids, osv)
       select r.id, ?, r.modified, r.withdrawn, array(select jsonb_array_elements_text(r.ids)), r.osv
       from jsonb_to_recordset(?::jsonb) as r(id text, modified timestamptz, withdrawn timestamptz, ids jsonb, osv jsonb)
       on conflict (id) do update set source = excluded.source, modified = excluded.modified, withdrawn = excluded.withdrawn,
         ids = excluded.ids, osv = excluded.osv, advisory_id = null`,
      [source, JSON.stringify(part.map((r) => ({ id: r.id, modified: r.modified, withdrawn: r.withdrawn ?? null, ids: recordIds(r), osv: r })))],
    );
    await tx.execute('delete from advisory_ids where record_id in (select jsonb_array_elements_text(?::jsonb))', [JSON.stringify(part.map((r) => r.id))]);
    await tx.execute(
      `insert into advisory_ids (id, record_id) select x.id, x.record_id from jsonb_to_recordset(?::jsonb) as x(id text, record_id text) on conflict do nothing`,
      [JSON.stringify(part.flatMap((r) => recordIds(r).map((id) => ({ id, record_id: r.id }))))],
    );
  }
  // Closure: every live record sharing an id with a seed, and so on.
  const live = new Map<string, { ids: string[]; source: string; advisoryId: string | null }>();
  const seenIds = new Set<string>();
  let frontier: string[] = [];
  for (const part of chunks([...seeds])) {
    const rows = await tx.execute<Row[]>(
      'select id, ids, source, advisory_id from advisory_records where withdrawn is null and id in (select jsonb_array_elements_text(?::jsonb))',
      [JSON.stringify(part)],
    );
    for (const row of rows) {
      live.set(row.id as string, { ids: row.ids as string[], source: row.source as string, advisoryId: row.advisory_id as string | null });
      for (const id of row.ids as string[]) {
        if (seenIds.has(id)) continue;
        seenIds.add(id);
        frontier.push(id);
      }
    }
  }
  while (frontier.length > 0) {
    const next: string[] = [];
    for (const part of chunks(frontier)) {
      const rows = await tx.execute<Row[]>(
        `select distinct r.id, r.ids, r.source, r.advisory_id from advisory_ids i join advisory_records r on r.id = i.record_id
         where r.withdrawn is null and i.id in (select jsonb_array_elements_text(?::jsonb))`,
        [JSON.stringify(part)],
      );
      for (const row of rows) {
        if (live.has(row.id as string)) continue;
        live.set(row.id as string, { ids: row.ids as string[], source: row.source as string, advisoryId: row.advisory_id as string | null });
        for (const id of row.ids as string[]) {
          if (seenIds.has(id)) continue;
          seenIds.add(id);
          next.push(id);
        }
      }
    }
    frontier = next;
  }
  for (const r of live.values()) if (r.advisoryId) oldAdvisories.add(r.advisoryId);
  for (const part of chunks([...oldAdvisories])) {
    await tx.execute('delete from advisories where id in (select jsonb_array_elements_text(?::jsonb))', [JSON.stringify(part)]);
  }
  // The OSV JSON of connected records not in `records`.
  const osv = new Map<string, OsvRecord>(records.map((r) => [r.id, r]));
  const missing = [...live.keys()].filter((id) => !osv.has(id));
  for (const part of chunks(missing)) {
    const rows = await tx.execute<Row[]>('select id, osv from advisory_records where id in (select jsonb_array_elements_text(?::jsonb))', [JSON.stringify(part)]);
    for (const row of rows) osv.set(row.id as string, row.osv as OsvRecord);
  }
  // Union-find over shared ids.
  const parent = new Map<string, string>();
  const find = (x: string): string => {
    let root = x;
    while (parent.get(root) !== root) root = parent.get(root)!;
    let cur = x;
    while (cur !== root) {
      const up = parent.get(cur)!;
      parent.set(cur, root);
      cur = up;
    }
    return root;
  };
  const ownerOfId = new Map<string, string>();
  for (const [id, r] of live) {
    parent.set(id, id);
    for (const alias of r.ids) {
      const other = ownerOfId.get(alias);
      if (other === undefined) ownerOfId.set(alias, id);
      else parent.set(find(id), find(other));
    }
  }
  const groups = new Map<string, string[]>();
  for (const id of live.keys()) {
    const root = find(id);
    groups.set(root, [...(groups.get(root) ?? []), id]);
  }
  const advisories: Row[] = [];
  const packages: Row[] = [];
  const members: Row[] = [];
  for (const ids of groups.values()) {
    const merged = mergeRecords(ids.map((id) => osv.get(id)!));
    advisories.push({
      id: merged.id,
      modified: merged.modified,
      published: merged.published ?? null,
      aliases: merged.aliases,
      summary: merged.summary ?? null,
      severity: merged.severity,
      osv: merged.osv,
      sources: [...new Set(ids.map((id) => live.get(id)!.source))].sort(),
    });
    for (const p of merged.packages) packages.push({ advisory_id: merged.id, ecosystem: p.ecosystem, name: p.name });
    for (const id of ids) members.push({ id, advisory_id: merged.id });
  }
  for (const part of chunks(advisories)) {
    await tx.execute(
      `insert into advisories (id, modified, published, aliases, summary, severity, osv, sources, updated_at)
       select a.id, a.modified, a.published, array(select jsonb_array_elements_text(a.aliases)), a.summary, a.severity, a.osv,
              array(select jsonb_array_elements_text(a.sources)), now()
       from jsonb_to_recordset(?::jsonb) as a(id text, modified timestamptz, published timestamptz, aliases jsonb, summary text, severity text, osv jsonb, sources jsonb)
       on conflict (id) do update set modified = excluded.modified, published = excluded.published, aliases = excluded.aliases,
         summary = excluded.summary, severity = excluded.severity, osv = excluded.osv, sources = excluded.sources, updated_at = now()`,
      [JSON.stringify(part)],
    );
    // The ids only: `part` carries every merged OSV record, which need not be sent twice.
    await tx.execute('delete from advisory_packages where advisory_id in (select jsonb_array_elements_text(?::jsonb))', [JSON.stringify(part.map((a) => a.id))]);
  }
  for (const part of chunks(packages)) {
    await tx.execute(
      `insert into advisory_packages (advisory_id, ecosystem, name)
       select advisory_id, ecosystem, name from jsonb_to_recordset(?::jsonb) as p(advisory_id text, ecosystem text, name text) on conflict do nothing`,
      [JSON.stringify(part)],
    );
  }
  for (const part of chunks(members)) {
    await tx.execute(
      `update advisory_records r set advisory_id = m.advisory_id
       from jsonb_to_recordset(?::jsonb) as m(id text, advisory_id text) where r.id = m.id`,
      [JSON.stringify(part)],
    );
  }
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
    `select * from advisories where id in (
       select r.advisory_id from advisory_ids i join advisory_records r on r.id = i.record_id
       where i.id in (select jsonb_array_elements_text(?::jsonb)) and r.advisory_id is not null)
     order by id`,
    [list],
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
