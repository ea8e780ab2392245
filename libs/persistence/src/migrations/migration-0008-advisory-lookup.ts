import { Migration } from '@mikro-orm/migrations';

/**
 * Advisory database, faster import and light look-ups (issue 12 benchmark targets; docs/decisions/0011):
 * - `advisory_ids (record_id)` index: the bulk `delete from advisory_ids where record_id …` of a
 *   re-imported record and the cascade of a removed record are index scans (the primary key
 *   `(id, record_id)` serves only look-ups by id);
 * - `advisory_views`: per advisory and OSV ecosystem of its `affected[]` entries, the advisory as a
 *   plan uses it (`Advisory` of `@remediation/advisories`: id, aliases, summary, severity, link,
 *   times, the entries of that ecosystem; no `details`), written at import time, so a plan's
 *   look-up returns these small JSON values as they are instead of each advisory's whole merged
 *   OSV record. Advisories imported before this migration have none and are looked up from the
 *   merged record as before until their next re-import;
 * - `advisories.osv` null for an advisory of one record (most): its merged record is
 *   `mergeRecords([that record])`, computed when read, so a bulk import does not write (and
 *   PostgreSQL does not parse) every record's JSON twice. (`down` copies the record back, unmerged.)
 * - `advisories.osv` and `advisory_records.osv` as `json` (text, checked on input) instead of
 *   `jsonb`: they are only ever written and read back whole, and PostgreSQL takes half the time
 *   to store `json` (no binary tree to build);
 * - `advisory_sync_leases`: one replica syncs a source at a time while the source is fetched
 *   outside any transaction (a lease with an expiry instead of a transaction-scoped lock).
 */
export class Migration0008AdvisoryLookup extends Migration {
  override name = '0008-advisory-lookup';

  override up(): void {
    this.addSql(`
      create index advisory_ids_record_idx on advisory_ids (record_id);
      alter table advisories alter column osv drop not null;
      alter table advisories alter column osv type json using osv::json;
      alter table advisory_records alter column osv type json using osv::json;
      create table advisory_views (
        advisory_id text not null references advisories(id) on delete cascade,
        ecosystem text not null,
        view json not null,
        primary key (advisory_id, ecosystem)
      );
      create table advisory_sync_leases (
        source text primary key,
        holder text not null,
        expires_at timestamptz not null
      );
    `);
  }

  override down(): void {
    this.addSql(`
      drop table advisory_sync_leases; drop table advisory_views; drop index advisory_ids_record_idx;
      update advisories a set osv = (select r.osv from advisory_records r where r.advisory_id = a.id limit 1) where a.osv is null;
      alter table advisories alter column osv set not null;
      alter table advisories alter column osv type jsonb using osv::jsonb;
      alter table advisory_records alter column osv type jsonb using osv::jsonb;
    `);
  }
}
