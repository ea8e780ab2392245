import { randomUUID } from 'node:crypto';
import {
  affectedKeyRanges,
  mergeRecords,
  toAdvisory,
  versionOrderKey,
  type VersionKeyRange,
  type Advisory,
  normalisePackageName,
  recordIds,
  type AdvisorySeverity,
  type HttpValidators,
  type ListedOsvRecord,
  type OsvRecord,
} from '@remediation/advisories';
import type { EntityManager } from '@mikro-orm/postgresql';
import { CompiledQuery, type Transaction } from 'kysely';
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

/**
 * What a source's fetch gives {@link syncAdvisorySource}. `records` are full OSV records (checked
 * already) or listed ones (`ListedOsvRecord`: `id`/`modified` read, schema check deferred to
 * `record()`, called only for records that will be written). `complete`: the source listed every
 * record it holds, so a record stored from this source and not listed was removed from it;
 * `removed`: ids the source says it no longer holds (an incremental listing). `committed` is
 * called once the sync has committed (e.g. to make a directory listing the base of the next).
 */
export type FetchedRecords =
  | { status: 'not-modified' }
  | {
      status: 'ok';
      records: ReadonlyArray<OsvRecord | ListedOsvRecord>;
      validators?: HttpValidators;
      complete?: boolean;
      removed?: readonly string[];
      committed?: () => void;
    };

/** Outcome of one {@link syncAdvisorySource}. */
export interface AdvisorySyncResult {
  source: string;
  /** False when another replica held the source's lease or lock: nothing was done. */
  acquired: boolean;
  /** The source answered "not modified" (HTTP 304): nothing was imported. */
  notModified: boolean;
  /** Records new or with a newer `modified` than stored, imported now (withdrawn ones included). */
  imported: number;
  /** Of those, withdrawn records (removed from their advisory). */
  withdrawn: number;
  /** Records skipped because the stored copy is as new. */
  unchanged: number;
  /** Records stored from this source that the source no longer holds, deleted now (their advisories re-merged). */
  removed: number;
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

/** Records imported or removed by one sync from which the advisory tables are analysed right after it. */
const ANALYZE_AFTER = 10_000;

/** Default lease of one source's sync (fetch and import), ms: a crashed replica's lease expires after it. */
const DEFAULT_LEASE_MS = 20 * 60_000;

const isListed = (r: OsvRecord | ListedOsvRecord): r is ListedOsvRecord => typeof (r as ListedOsvRecord).record === 'function';

/**
 * Syncs one source: takes the source's lease (`advisory_sync_leases`, without waiting: another
 * replica syncing it → `acquired: false`), calls `fetch` with the stored state (for conditional
 * requests) outside any transaction, then in one transaction (the source's advisory lock, then
 * the merge lock) imports only records that are new or whose `modified` is newer than stored (by
 * record id, whichever source stored it; compared before the schema check of listed records),
 * deletes records the source no longer holds (`complete`/`removed`, see {@link FetchedRecords}),
 * re-merges their alias groups, and records the new state. Readers see the old snapshot until
 * the commit.
 * @param source a stable name, e.g. `dir:/data/osv` or `zip:https://…/PyPI/all.zip`.
 * @param options.leaseMs how long the lease holds without the sync ending (default 20 min).
 * @throws whatever `fetch` throws (nothing is changed then); InvalidInputError `ADVISORY_INVALID` for a
 *   changed record that is not an OSV record or whose `modified`/`published`/`withdrawn` is not a time
 *   (nothing of the source is imported then).
 */
export async function syncAdvisorySource(
  db: Database,
  source: string,
  fetch: (state: AdvisorySyncState | null) => Promise<FetchedRecords>,
  options: { leaseMs?: number } = {},
): Promise<AdvisorySyncResult> {
  const skipped: AdvisorySyncResult = { source, acquired: false, notModified: false, imported: 0, withdrawn: 0, unchanged: 0, removed: 0 };
  const holder = randomUUID();
  const claimed = await db.em().execute<Row[]>(
    `insert into advisory_sync_leases (source, holder, expires_at) values (?, ?, now() + ? * interval '1 millisecond')
     on conflict (source) do update set holder = excluded.holder, expires_at = excluded.expires_at
       where advisory_sync_leases.expires_at < now()
     returning holder`,
    [source, holder, options.leaseMs ?? DEFAULT_LEASE_MS],
  );
  if (claimed.length === 0) return skipped;
  try {
    const state = await getAdvisorySyncState(db, source);
    const fetched = await fetch(state);
    const result = await db.em().transactional((tx) => importFetched(tx, source, state, fetched));
    if (result.acquired && fetched.status === 'ok') fetched.committed?.();
    // Fresh statistics after a bulk change: the look-ups' plans depend on them (autovacuum would get
    // there later; right after a first import PostgreSQL has none).
    if (result.imported + result.removed >= ANALYZE_AFTER) {
      await db.em().execute('analyze advisories, advisory_packages, advisory_views, advisory_ids, advisory_records');
    }
    return result;
  } finally {
    await db.em().execute('delete from advisory_sync_leases where source = ? and holder = ?', [source, holder]);
  }
}

async function importFetched(tx: EntityManager, source: string, state: AdvisorySyncState | null, fetched: FetchedRecords): Promise<AdvisorySyncResult> {
  const result: AdvisorySyncResult = { source, acquired: false, notModified: false, imported: 0, withdrawn: 0, unchanged: 0, removed: 0 };
  const [lock] = await tx.execute<Row[]>('select pg_try_advisory_xact_lock(?, hashtext(?)) as ok', [SYNC_LOCK, source]);
  if (!lock?.ok) return result;
  result.acquired = true;
  if (fetched.status === 'not-modified') {
    result.notModified = true;
    await saveState(tx, source, state?.validators ?? {}, false);
    return result;
  }
  // A source that serves one id twice (two files of a directory) contributes its newest copy once:
  // one statement may not write a row twice.
  const newest = new Map<string, OsvRecord | ListedOsvRecord>();
  for (const r of fetched.records) {
    const seen = newest.get(r.id);
    if (!seen || Date.parse(r.modified) > Date.parse(seen.modified)) newest.set(r.id, r);
  }
  // Serialised with every other source's import from here: what is stored cannot change underneath.
  await tx.execute('select pg_advisory_xact_lock(?)', [MERGE_LOCK]);
  // By record id whatever the source: a record served by two sources is imported once.
  const stored = new Map<string, { modified: number; source: string }>();
  for (const part of chunks([...newest.keys()], LIST_CHUNK)) {
    const rows = await executeBound(
      tx,
      'select r.id, r.modified, r.source from jsonb_array_elements_text($1::jsonb) as k(id) join advisory_records r on r.id = k.id',
      [JSON.stringify(part)],
    );
    for (const row of rows) stored.set(row.id as string, { modified: new Date(row.modified as string).getTime(), source: row.source as string });
  }
  const changed: OsvRecord[] = [];
  for (const r of newest.values()) {
    const known = stored.get(r.id);
    const modified = Date.parse(r.modified);
    // An unreadable `modified` (NaN) is never "as new": the record is checked, and refused below.
    if (known !== undefined && !Number.isNaN(modified) && modified <= known.modified) continue;
    changed.push(isListed(r) ? r.record() : r);
  }
  for (const r of changed) {
    const unreadable = (t: string | undefined): boolean => t !== undefined && Number.isNaN(Date.parse(t));
    if (unreadable(r.modified) || unreadable(r.published) || unreadable(r.withdrawn)) {
      throw new InvalidInputError('ADVISORY_INVALID', `${source}: record ${r.id}: modified/published/withdrawn is not an RFC 3339 time`, {
        details: { source, id: r.id, modified: r.modified, published: r.published, withdrawn: r.withdrawn },
      });
    }
  }
  // Removed from the source: stored from this source and not listed (complete listing) or named as removed.
  const removed: string[] = [];
  if (fetched.complete) {
    for (const row of await tx.execute<Row[]>('select id from advisory_records where source = ?', [source])) {
      if (!newest.has(row.id as string)) removed.push(row.id as string);
    }
  } else if (fetched.removed?.length) {
    const named = fetched.removed.filter((id) => !newest.has(id));
    for (const part of chunks(named, LIST_CHUNK)) {
      const rows = await executeBound(
        tx,
        'select r.id from jsonb_array_elements_text($1::jsonb) as k(id) join advisory_records r on r.id = k.id where r.source = $2',
        [JSON.stringify(part), source],
      );
      for (const row of rows) removed.push(row.id as string);
    }
  }
  result.unchanged = fetched.records.length - changed.length;
  await importRecords(tx, source, changed, removed, new Set(changed.filter((r) => stored.has(r.id)).map((r) => r.id)));
  result.imported = changed.length;
  result.withdrawn = changed.filter((r) => r.withdrawn !== undefined).length;
  result.removed = removed.length;
  await saveState(tx, source, fetched.validators ?? {}, changed.length > 0 || removed.length > 0);
  return result;
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

/**
 * Rows per statement of the bulk writes. Each statement takes one JSON parameter, read with
 * `json_to_recordset` into `json` columns: half the server time of `jsonb_to_recordset` into
 * `jsonb` (21 vs 42 ms for 2,000 records; migration 0008 made the stored OSV records `json`).
 */
const WRITE_CHUNK = 2000;
/** Ids per statement of the look-ups driven by an id list. */
const LIST_CHUNK = 20000;

/**
 * Runs one statement per part in order, building the next part's parameter while the database
 * executes the current statement (JSON.stringify in this process overlaps PostgreSQL's work).
 */
async function pipelined<T>(parts: readonly T[], payload: (part: T) => string, run: (json: string) => Promise<unknown>): Promise<void> {
  let pending: Promise<unknown> | undefined;
  for (const part of parts) {
    const json = payload(part);
    await pending;
    pending = run(json);
  }
  await pending;
}

/**
 * Runs `sql` with bound parameters (`$1`, `$2`, …) in `em`'s transaction, or on the pool outside
 * one, and returns its rows. MikroORM's `execute` quotes every parameter into the SQL text in
 * JavaScript (`escapeLiteral`, one character at a time) and PostgreSQL then lexes that text: for
 * the megabytes of JSON an import writes, or a plan's look-up sends, per statement, a bound
 * parameter is sent as it is. Every statement here with a JSON parameter goes through it.
 */
async function executeBound(em: EntityManager, sql: string, params: readonly unknown[]): Promise<Row[]> {
  const client = em.getTransactionContext<Transaction<unknown>>() ?? em.getConnection().getClient();
  return (await client.executeQuery<Row>(CompiledQuery.raw(sql, [...params]))).rows;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** A live (not withdrawn) record of an alias group being rebuilt. */
interface Member {
  ids: string[];
  source: string;
  /** Its advisory before this import (null: new, withdrawn before, or imported now). */
  advisoryId: string | null;
}

/**
 * Stores `records` (new or newer), deletes `removed`, and rebuilds every alias group they were or
 * are part of, in bulk. Everything is read before anything is written: (1) the members of the
 * advisories the touched records belong to now; (2) the transitive closure through shared ids
 * (`advisory_ids`, driven by the id list; rows of touched records are their old versions and are
 * skipped: their new versions are in memory) — ids that only the imported records carry find
 * nothing, so an import into an empty database issues only the first, empty, round; (3) the OSV
 * JSON of the members not imported now. Then: union-find over ids, `mergeRecords` per group, and
 * the writes (old advisories deleted, removed records deleted, records upserted with their
 * advisory id and their ids, advisories (the merged record only for groups of several records)
 * with their packages — each with the order keys of the versions it may affect, migration 0012 —
 * and per-ecosystem views).
 * @param existing ids of `records` already stored (their old `advisory_ids` rows are replaced).
 */
async function importRecords(tx: EntityManager, source: string, records: readonly OsvRecord[], removed: readonly string[], existing: ReadonlySet<string>): Promise<void> {
  if (records.length === 0 && removed.length === 0) return;
  const batch = new Map(records.map((r) => [r.id, r]));
  const gone = new Set(removed);
  const live = new Map<string, Member>();
  const seenIds = new Set<string>();
  let frontier: string[] = [];
  const addLive = (id: string, member: Member): void => {
    live.set(id, member);
    for (const alias of member.ids) {
      if (seenIds.has(alias)) continue;
      seenIds.add(alias);
      frontier.push(alias);
    }
  };
  for (const r of records) if (r.withdrawn === undefined) addLive(r.id, { ids: recordIds(r), source, advisoryId: null });
  const oldAdvisories = new Set<string>();
  // (1) Every member of the advisories the touched (stored) records belong to.
  const touchedStored = [...records.filter((r) => existing.has(r.id)).map((r) => r.id), ...removed];
  for (const part of chunks(touchedStored, LIST_CHUNK)) {
    const rows = await executeBound(
      tx,
      `select m.id, m.ids, m.source, m.advisory_id, m.withdrawn from jsonb_array_elements_text($1::jsonb) as k(id)
         join advisory_records r on r.id = k.id join advisory_records m on m.advisory_id = r.advisory_id`,
      [JSON.stringify(part)],
    );
    for (const row of rows) {
      oldAdvisories.add(row.advisory_id as string);
      const id = row.id as string;
      if (batch.has(id) || gone.has(id) || live.has(id) || row.withdrawn !== null) continue;
      addLive(id, { ids: row.ids as string[], source: row.source as string, advisoryId: row.advisory_id as string });
    }
  }
  // (2) Closure: every live stored record sharing an id with a member, and so on.
  while (frontier.length > 0) {
    const current = frontier;
    frontier = [];
    for (const part of chunks(current, LIST_CHUNK)) {
      const rows = await executeBound(
        tx,
        `select r.id, r.ids, r.source, r.advisory_id
         from (select distinct i.record_id from jsonb_array_elements_text($1::jsonb) as k(id) join advisory_ids i on i.id = k.id) m
         join advisory_records r on r.id = m.record_id
         where r.withdrawn is null`,
        [JSON.stringify(part)],
      );
      for (const row of rows) {
        const id = row.id as string;
        if (batch.has(id) || gone.has(id) || live.has(id)) continue;
        const advisoryId = row.advisory_id as string | null;
        if (advisoryId) oldAdvisories.add(advisoryId);
        addLive(id, { ids: row.ids as string[], source: row.source as string, advisoryId });
      }
    }
  }
  // (3) The OSV JSON of members not imported now.
  const osv = new Map<string, OsvRecord>(records.map((r) => [r.id, r]));
  const missing = [...live.keys()].filter((id) => !osv.has(id));
  for (const part of chunks(missing, LIST_CHUNK)) {
    const rows = await executeBound(
      tx,
      'select r.id, r.osv from jsonb_array_elements_text($1::jsonb) as k(id) join advisory_records r on r.id = k.id',
      [JSON.stringify(part)],
    );
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
    const group = groups.get(root);
    if (group) group.push(id);
    else groups.set(root, [id]);
  }
  const advisories: Row[] = [];
  const advisoryOf = new Map<string, string>();
  for (const ids of groups.values()) {
    const merged = mergeRecords(ids.map((id) => osv.get(id)!));
    advisories.push({
      id: merged.id,
      modified: merged.modified,
      published: merged.published ?? null,
      aliases: merged.aliases,
      summary: merged.summary ?? null,
      severity: merged.severity,
      // A group of one record: its merged record is `mergeRecords([record])`, computed when read (see STORED_COLUMNS).
      osv: ids.length === 1 ? null : merged.osv,
      sources: [...new Set(ids.map((id) => live.get(id)!.source))].sort(),
    });
    // The plan's view per ecosystem (what `toAdvisory` gives, without `details`; see findPlanAdvisories).
    const ecosystems = [...new Set((merged.osv.affected ?? []).map((a) => a.package.ecosystem))];
    const views = new Map(ecosystems.map((ecosystem) => [ecosystem, toAdvisory(merged.osv, ecosystem)!]));
    advisories.at(-1)!.views = [...views].map(([ecosystem, { details: _details, ...view }]) => ({ ecosystem, view: { ...view, severity: merged.severity } }));
    // Per package, the order keys of the versions it may affect (the look-up's prefilter; migration 0012).
    advisories.at(-1)!.packages = merged.packages.map((p) => {
      const view = views.get(p.ecosystem);
      return { ...p, affected_keys: view ? keyRangesLiteral(affectedKeyRanges(view, p.name, p.ecosystem)) : null };
    });
    for (const id of ids) advisoryOf.set(id, merged.id);
  }
  // Writes. Old advisories first (their packages go with them: on delete cascade).
  for (const part of chunks([...oldAdvisories], LIST_CHUNK)) {
    await executeBound(tx, 'delete from advisories a using jsonb_array_elements_text($1::jsonb) as k(id) where a.id = k.id', [JSON.stringify(part)]);
  }
  for (const part of chunks(removed, LIST_CHUNK)) {
    // Their advisory_ids rows go with them (on delete cascade).
    await executeBound(tx, 'delete from advisory_records r using jsonb_array_elements_text($1::jsonb) as k(id) where r.id = k.id', [JSON.stringify(part)]);
  }
  const replaced = records.filter((r) => existing.has(r.id)).map((r) => r.id);
  for (const part of chunks(replaced, LIST_CHUNK)) {
    await executeBound(tx, 'delete from advisory_ids i using jsonb_array_elements_text($1::jsonb) as k(id) where i.record_id = k.id', [JSON.stringify(part)]);
  }
  // Records and their ids, one statement per chunk (the ids rows come from the same parameter).
  await pipelined(
    chunks(records, WRITE_CHUNK),
    (part) =>
      JSON.stringify(part.map((r) => ({ id: r.id, modified: r.modified, withdrawn: r.withdrawn ?? null, ids: recordIds(r), osv: r, advisory_id: advisoryOf.get(r.id) ?? null }))),
    (json) =>
      executeBound(
        tx,
        `with r as (select * from json_to_recordset($1::json) as r(id text, modified timestamptz, withdrawn timestamptz, ids text[], osv json, advisory_id text)),
         w as (insert into advisory_records (id, source, modified, withdrawn, ids, osv, advisory_id)
               select r.id, $2, r.modified, r.withdrawn, r.ids, r.osv, r.advisory_id from r
               on conflict (id) do update set source = excluded.source, modified = excluded.modified, withdrawn = excluded.withdrawn,
                 ids = excluded.ids, osv = excluded.osv, advisory_id = excluded.advisory_id)
         insert into advisory_ids (id, record_id) select distinct unnest(r.ids), r.id from r on conflict do nothing`,
        [json, source],
      ),
  );
  // Advisories and their packages, one statement per chunk. Every advisory a member belonged to
  // was deleted above, so no id should exist; should one (`updated`), its packages are rewritten below.
  const updated: string[] = [];
  await pipelined(
    chunks(advisories, WRITE_CHUNK),
    (part) => JSON.stringify(part),
    async (json) => {
      const rows = await executeBound(
        tx,
        `with a as (select * from json_to_recordset($1::json) as a(id text, modified timestamptz, published timestamptz, aliases text[], summary text,
                      severity text, osv json, sources text[], packages json, views json)),
         w as (insert into advisories (id, modified, published, aliases, summary, severity, osv, sources, updated_at)
               select a.id, a.modified, a.published, a.aliases, a.summary, a.severity, a.osv, a.sources, now() from a
               on conflict (id) do update set modified = excluded.modified, published = excluded.published, aliases = excluded.aliases,
                 summary = excluded.summary, severity = excluded.severity, osv = excluded.osv, sources = excluded.sources, updated_at = now()
               returning id, (xmax <> 0) as updated),
         p as (insert into advisory_packages (advisory_id, ecosystem, name, affected_keys)
               select a.id, p.ecosystem, p.name, p.affected_keys::version_key_multirange
               from a, json_to_recordset(a.packages) as p(ecosystem text, name text, affected_keys text)
               on conflict do nothing),
         v as (insert into advisory_views (advisory_id, ecosystem, view)
               select a.id, v.ecosystem, v.view from a, json_to_recordset(a.views) as v(ecosystem text, view json)
               on conflict (advisory_id, ecosystem) do update set view = excluded.view)
         select id from w where updated`,
        [json],
      );
      updated.push(...rows.map((r) => r.id as string));
    },
  );
  if (updated.length > 0) {
    const again = new Set(updated);
    for (const table of ['advisory_packages', 'advisory_views']) {
      await executeBound(tx, `delete from ${table} t using jsonb_array_elements_text($1::jsonb) as k(id) where t.advisory_id = k.id`, [JSON.stringify(updated)]);
    }
    await executeBound(
      tx,
      `with a as (select * from jsonb_to_recordset($1::jsonb) as a(id text, packages jsonb, views jsonb)),
       p as (insert into advisory_packages (advisory_id, ecosystem, name, affected_keys)
             select a.id, p.ecosystem, p.name, p.affected_keys::version_key_multirange
             from a, jsonb_to_recordset(a.packages) as p(ecosystem text, name text, affected_keys text) on conflict do nothing)
       insert into advisory_views (advisory_id, ecosystem, view)
       select a.id, v.ecosystem, v.view from a, jsonb_to_recordset(a.views) as v(ecosystem text, view json) on conflict do nothing`,
      [JSON.stringify(advisories.filter((a) => again.has(a.id as string)).map((a) => ({ id: a.id, packages: a.packages, views: a.views })))],
    );
  }
  // Stored members not imported now: their (possibly new) advisory id.
  const moved = [...live].filter(([id, m]) => !batch.has(id) && m.advisoryId !== advisoryOf.get(id)).map(([id]) => ({ id, advisory_id: advisoryOf.get(id)! }));
  for (const part of chunks(moved, WRITE_CHUNK)) {
    await executeBound(
      tx,
      `update advisory_records r set advisory_id = m.advisory_id
       from jsonb_to_recordset($1::jsonb) as m(id text, advisory_id text) where r.id = m.id`,
      [JSON.stringify(part)],
    );
  }
}

/**
 * `ranges` as a `version_key_multirange` literal (migration 0012): `{["{0,9}","{0,9,1}"],(,"{2}"]}`,
 * closed bounds, `(`/`)` where unbounded; `{}` for none. Null stays null (not known: any version).
 */
function keyRangesLiteral(ranges: readonly VersionKeyRange[] | null): string | null {
  if (ranges === null) return null;
  const bound = (key: readonly number[]): string => `"{${key.join(',')}}"`;
  return `{${ranges.map((r) => `${r.lower ? `[${bound(r.lower)}` : '('},${r.upper ? `${bound(r.upper)}]` : ')'}`).join(',')}}`;
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

/**
 * Columns of a stored advisory `a`: its merged record, or (a group of one record, `osv` null: see
 * importRecords) that record's JSON as `member_osv`, merged on read.
 */
const STORED_COLUMNS = `a.id, a.aliases, a.severity, a.modified, a.published, a.osv,
  case when a.osv is null then (select r.osv from advisory_records r where r.advisory_id = a.id limit 1) end as member_osv`;

function storedOf(row: Row): StoredAdvisory {
  return {
    id: row.id as string,
    aliases: row.aliases as string[],
    severity: row.severity as AdvisorySeverity,
    modified: iso(row.modified)!,
    published: iso(row.published),
    osv: (row.osv as OsvRecord | null) ?? mergeRecords([row.member_osv as OsvRecord]).osv,
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
  const rows = await executeBound(
    db.em(),
    `select ${STORED_COLUMNS} from advisories a where a.id in (
       select p.advisory_id from advisory_packages p join jsonb_to_recordset($1::jsonb) as k(ecosystem text, name text)
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
  const rows = await executeBound(
    db.em(),
    `select ${STORED_COLUMNS} from advisories a where a.id in (
       select r.advisory_id from advisory_ids i join advisory_records r on r.id = i.record_id
       where i.id in (select jsonb_array_elements_text($1::jsonb)) and r.advisory_id is not null)
     order by a.id`,
    [list],
  );
  return rows.map(storedOf);
}

/**
 * A statement of {@link findPlanAdvisories}: the views (`advisory_views`) of the advisories whose
 * ids `matching` selects (column `advisory_id`; `$1` is its JSON parameter), in the ecosystems of
 * `$2` (a JSON array), as one JSON array `views`, and the ids without such a view as `missing`.
 */
function viewsOf(matching: string): string {
  return `with w as (${matching})
    select coalesce(json_agg(v.view) filter (where v.view is not null), '[]') as views,
           coalesce(json_agg(w.advisory_id) filter (where v.view is null), '[]') as missing
    from w left join advisory_views v on v.advisory_id = w.advisory_id and v.ecosystem in (select jsonb_array_elements_text($2::jsonb))`;
}

/**
 * The advisories of the packages of `$1` (JSON `[{ecosystem, name, key}]`, names normalised; see
 * {@link packageKeys}): a package is kept when it has no order key to test (`key` null) or one of
 * its advisories may affect its key (`affected_keys`, migration 0012).
 */
const PACKAGE_MATCHING = `select distinct p.advisory_id
  from (select distinct k.ecosystem, k.name from jsonb_to_recordset($1::jsonb) as k(ecosystem text, name text, key bigint[])
        where k.key is null or exists (select from advisory_packages a where a.ecosystem = k.ecosystem and a.name = k.name
                                         and (a.affected_keys is null or a.affected_keys @> k.key))) h
  join advisory_packages p on p.ecosystem = h.ecosystem and p.name = h.name`;

/** Packages or ids per statement of {@link findPlanAdvisories}: the rows of one statement are converted, then dropped. */
const LOOKUP_CHUNK = 5000;
/**
 * Statements of {@link findPlanAdvisories} in flight at once, each on its own pooled connection:
 * a planner keeps this many connections open (`openDatabase`'s `poolMin`).
 */
export const ADVISORY_LOOKUP_CONNECTIONS = 3;

/**
 * The advisories a plan needs for one or more ecosystems, reduced to what matching and the plan use
 * (`Advisory` of `@remediation/advisories`): every advisory naming one of `packages` (of those
 * given with installed `versions`, only packages one of whose advisories may affect one of them:
 * see `versions` below) and every advisory known by one of `ids` (canonical id or alias). Reads the views written at import time
 * (`advisory_views`, migration 0008: what `toAdvisory(merged record, ecosystem)` gives, with the
 * stored severity) as one JSON value per statement of 5,000 packages or ids (3 statements at
 * once), never the merged OSV
 * record — except for advisories imported before migration 0008, converted from it as before.
 * `details` is not loaded (undefined: plans do not use it). Advisories without an entry of
 * one of `ecosystem` (an OSV ecosystem name or a list) are left out; an advisory with entries of
 * several gets them all. Sorted by id.
 */
export async function findPlanAdvisories(
  db: Database,
  query: {
    ecosystem: string | readonly string[];
    /**
     * `versions`: the package's installed versions. When given, the package's advisories are read
     * only if the stored order keys of one of them (`affected_keys`, migration 0012: a superset of
     * the versions each advisory affects, see `affectedKeyRanges`) contain the order key of one of
     * these versions (`versionOrderKey`) — then all of them, as without `versions`. A version
     * without an order key, or an advisory of the package whose keys are not known (an ecosystem
     * without an order key, an advisory imported before migration 0012), keeps the package. A
     * conservative prefilter: every package one of whose advisories affects an installed version
     * (OSV evaluation) is kept; others may be kept too.
     */
    packages: ReadonlyArray<{ ecosystem: string; name: string; versions?: readonly string[] }>;
    ids: readonly string[];
    /**
     * Applied to the advisories one package statement returns (every advisory naming one of its
     * packages, each package's advisories all in the same statement): returns those to keep. Lets
     * the caller drop, statement by statement, the advisories of packages nothing in the scan is
     * affected by, so they are never all held at once. Not applied to advisories found by id.
     */
    keep?: (advisories: Advisory[]) => Advisory[];
  },
): Promise<Advisory[]> {
  const em = db.em();
  const ecosystems = typeof query.ecosystem === 'string' ? [query.ecosystem] : [...query.ecosystem];
  const out = new Map<string, Advisory>();
  const legacy = new Set<string>();
  // One view per (advisory, ecosystem): an advisory of several asked ecosystems gets their entries together.
  const add = (view: Advisory): void => {
    const known = out.get(view.id);
    if (!known) out.set(view.id, view);
    else if (!known.affected.some((a) => view.affected.some((b) => a.ecosystem === b.ecosystem))) out.set(view.id, { ...known, affected: [...known.affected, ...view.affected] });
  };
  const select = async (matching: string, param: string, byPackage = false): Promise<void> => {
    const [row] = await executeBound(em, viewsOf(matching), [param, JSON.stringify(ecosystems)]);
    const parse = <T>(value: unknown): T => (typeof value === 'string' ? JSON.parse(value) : value) as T;
    const views = parse<Advisory[]>(row?.views);
    for (const view of byPackage && query.keep ? query.keep(views) : views) add(view);
    for (const id of parse<string[]>(row?.missing)) legacy.add(id);
  };
  const ids = [...new Set(query.ids.flatMap((id) => [id, id.toUpperCase()]))];
  const statements = [
    // A package is kept when it has no order key to test (`key` null) or one of its advisories may affect one of its keys.
    ...chunks(query.packages, LOOKUP_CHUNK).map((part) => (): Promise<void> =>
      select(
        PACKAGE_MATCHING,
        JSON.stringify(part.flatMap(packageKeys)),
        true,
      ),
    ),
    ...chunks(ids, LOOKUP_CHUNK).map((part) => (): Promise<void> =>
      select(
        `select distinct r.advisory_id from jsonb_array_elements_text($1::jsonb) as k(id)
           join advisory_ids i on i.id = k.id join advisory_records r on r.id = i.record_id
         where r.advisory_id is not null`,
        JSON.stringify(part),
      ),
    ),
  ];
  // A few statements at once (each on its own pooled connection): PostgreSQL works on one while this process parses another's answer.
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(ADVISORY_LOOKUP_CONNECTIONS, statements.length) }, async () => {
      while (next < statements.length) await statements[next++]!();
    }),
  );
  // Advisories without a view: imported before migration 0008 (or, found by id, without an entry of `ecosystem`).
  const before = [...legacy].filter((id) => !out.has(id));
  for (const part of chunks(before, LOOKUP_CHUNK)) {
    const rows = await executeBound(em, `select ${STORED_COLUMNS} from jsonb_array_elements_text($1::jsonb) as k(id) join advisories a on a.id = k.id`, [JSON.stringify(part)]);
    for (const row of rows) {
      const stored = storedOf(row);
      const advisory = toAdvisory(stored.osv, ecosystems);
      if (advisory) out.set(advisory.id, { ...advisory, severity: stored.severity });
    }
  }
  return [...out.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * Readies the connections a plan's look-up uses, before the first plan: runs
 * {@link findPlanAdvisories}' package statement on {@link ADVISORY_LOOKUP_CONNECTIONS} pooled
 * connections at once, each over up to 5,000 stored packages (an equal share of them when fewer
 * are stored; every advisory of each, as for a package without an order key), and drops the answers. A PostgreSQL backend runs its first such
 * statement ≈ 2–3× slower than later ones (measured: 126–209 ms against 45–75 ms for 5,000
 * packages), whatever packages the later ones name, and a planner's first plan would otherwise pay
 * that on every connection (docs/decisions/0029). Open the pool with `poolMin`
 * {@link ADVISORY_LOOKUP_CONNECTIONS} so these connections stay open.
 * @returns the statements run and the packages they named (0 and 0 when no advisory is stored).
 * @throws what the queries throw (the database unreachable).
 */
export async function warmAdvisoryLookup(db: Database): Promise<{ statements: number; packages: number }> {
  const em = db.em();
  const stored = await em.execute<Row[]>('select ecosystem, name from advisory_packages group by ecosystem, name limit ?', [ADVISORY_LOOKUP_CONNECTIONS * LOOKUP_CHUNK]);
  // One statement per connection (fewer only when fewer packages are stored than connections).
  const size = Math.max(1, Math.ceil(stored.length / ADVISORY_LOOKUP_CONNECTIONS));
  const parts = chunks(stored.map((r) => ({ ecosystem: r.ecosystem as string, name: r.name as string, key: null })), size);
  const ecosystems = JSON.stringify([...new Set(stored.map((r) => r.ecosystem as string))]);
  // At once, so that the pool hands each statement its own connection.
  await Promise.all(parts.map((part) => executeBound(em, viewsOf(PACKAGE_MATCHING), [JSON.stringify(part), ecosystems])));
  return { statements: parts.length, packages: stored.length };
}

/**
 * The rows of one package in {@link findPlanAdvisories}' package statement: its normalised name
 * with each distinct order key of its `versions`, or one row with key null (keep every advisory:
 * no versions given, or one without an order key).
 */
function packageKeys(p: { ecosystem: string; name: string; versions?: readonly string[] }): Array<{ ecosystem: string; name: string; key: readonly number[] | null }> {
  const name = normalisePackageName(p.ecosystem, p.name);
  if (p.versions?.length === 1) {
    // Most packages are installed at one version: no de-duplication needed.
    const key = versionOrderKey(p.ecosystem, p.versions[0]!);
    return [{ ecosystem: p.ecosystem, name, key }];
  }
  const keys = new Map<string, readonly number[]>();
  for (const version of p.versions ?? []) {
    const key = versionOrderKey(p.ecosystem, version);
    if (key === null) return [{ ecosystem: p.ecosystem, name, key: null }];
    keys.set(key.join('.'), key);
  }
  if (p.versions === undefined || keys.size === 0) return [{ ecosystem: p.ecosystem, name, key: null }];
  return [...keys.values()].map((key) => ({ ecosystem: p.ecosystem, name, key }));
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
  await executeBound(
    tx,
    `insert into plan_packages (execution_id, ecosystem, name)
     select $1, ecosystem, name from jsonb_to_recordset($2::jsonb) as p(ecosystem text, name text) on conflict do nothing`,
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
      ? 'select ecosystem, name from jsonb_to_recordset($2::jsonb) as k(ecosystem text, name text)'
      : 'select ecosystem, name from plan_packages where execution_id = $2';
  const param =
    'packages' in query
      ? JSON.stringify(query.packages.map((p) => ({ ecosystem: p.ecosystem, name: normalisePackageName(p.ecosystem, p.name) })))
      : query.executionId;
  const rows = await executeBound(
    db.em(),
    `select ${STORED_COLUMNS} from advisories a where (a.modified > $1::timestamptz or a.published > $1::timestamptz) and a.id in (
       select p.advisory_id from advisory_packages p join (${packagesSql}) k on p.ecosystem = k.ecosystem and p.name = k.name)
     order by a.id`,
    [query.since, param],
  );
  return rows.map(storedOf);
}
