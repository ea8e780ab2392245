import { Migration } from '@mikro-orm/migrations';

/**
 * The advisory database (issue 12): `advisory_records` holds every OSV record as imported, by source
 * (withdrawn ones too, so a later sync knows it has seen them), `advisory_ids` each id and alias of
 * a record (b-tree: alias closure and look-up by id are index joins); `advisories` one row per group of
 * live (not withdrawn) records that alias each other (canonical id, the other ids as aliases, the merged OSV record as
 * jsonb, highest severity); `advisory_packages` (ecosystem, normalised name) → advisory, indexed so a
 * look-up by package is one index scan; `advisory_sync_state` per source: HTTP validators, last
 * `modified` seen, last completed sync; `plan_packages` the (ecosystem, normalised name) of every
 * component a plan execution saw, so staleness (advisories changed since the plan's snapshot) is
 * one indexed join.
 */
export class Migration0007AdvisoryDatabase extends Migration {
  override name = '0007-advisory-database';

  override up(): void {
    this.addSql(`
      create table advisories (
        id text primary key,
        modified timestamptz not null,
        published timestamptz,
        aliases text[] not null default '{}',
        summary text,
        severity text not null,
        osv jsonb not null,
        sources text[] not null default '{}',
        updated_at timestamptz not null default now()
      );
      create index advisories_modified_idx on advisories (modified);
      create table advisory_records (
        id text primary key,
        source text not null,
        modified timestamptz not null,
        withdrawn timestamptz,
        ids text[] not null,
        osv jsonb not null,
        advisory_id text
      );
      create index advisory_records_source_idx on advisory_records (source);
      create index advisory_records_advisory_idx on advisory_records (advisory_id);
      create table advisory_ids (
        id text not null,
        record_id text not null references advisory_records(id) on delete cascade,
        primary key (id, record_id)
      );
      create table advisory_packages (
        advisory_id text not null references advisories(id) on delete cascade,
        ecosystem text not null,
        name text not null,
        primary key (ecosystem, name, advisory_id)
      );
      create index advisory_packages_advisory_idx on advisory_packages (advisory_id);
      create table advisory_sync_state (
        source text primary key,
        etag text,
        last_modified text,
        max_modified timestamptz,
        last_synced_at timestamptz,
        last_changed_at timestamptz,
        records integer not null default 0
      );
      create table plan_packages (
        execution_id text not null references executions(id) on delete cascade,
        ecosystem text not null,
        name text not null,
        primary key (execution_id, ecosystem, name)
      );
    `);
  }

  override down(): void {
    this.addSql('drop table plan_packages; drop table advisory_sync_state; drop table advisory_packages; drop table advisory_ids; drop table advisory_records; drop table advisories;');
  }
}
