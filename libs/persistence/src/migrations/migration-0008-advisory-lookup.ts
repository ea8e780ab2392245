import { Migration } from '@mikro-orm/migrations';

/**
 * Advisory database, faster import and light look-ups (issue 12 benchmark targets; docs/decisions/0011):
 * - `advisory_ids (record_id)` index: the bulk `delete from advisory_ids where record_id …` of a
 *   re-imported record and the cascade of a removed record are index scans (the primary key
 *   `(id, record_id)` serves only look-ups by id);
 * - `advisories.url`: the advisory's link (`advisoryUrl` of the merged record), and
 *   `advisory_packages.affected`: the merged record's `affected[]` entries of that package as
 *   `[{ i, name, ranges, versions }]` (`i` the entry's index in the merged record), both written at
 *   import time, so a plan's look-up reads a few small columns instead of each advisory's whole
 *   merged OSV record. Rows imported before this migration have them null and are looked up from
 *   the merged record as before until their next re-import;
 * - `advisory_sync_leases`: one replica syncs a source at a time while the source is fetched
 *   outside any transaction (a lease with an expiry instead of a transaction-scoped lock).
 */
export class Migration0008AdvisoryLookup extends Migration {
  override name = '0008-advisory-lookup';

  override up(): void {
    this.addSql(`
      create index advisory_ids_record_idx on advisory_ids (record_id);
      alter table advisories add column url text;
      alter table advisory_packages add column affected jsonb;
      create table advisory_sync_leases (
        source text primary key,
        holder text not null,
        expires_at timestamptz not null
      );
    `);
  }

  override down(): void {
    this.addSql(
      'drop table advisory_sync_leases; alter table advisory_packages drop column affected; alter table advisories drop column url; drop index advisory_ids_record_idx;',
    );
  }
}
