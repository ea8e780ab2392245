import { Migration } from '@mikro-orm/migrations';

/** Initial schema: remediations, executions, targets, patch versions, pull requests, history, outbox. */
export class Migration0001Initial extends Migration {
  override name = '0001-initial';

  override up(): void {
    this.addSql(`
      create table remediations (
        id text primary key,
        codebase jsonb not null,
        scan jsonb not null,
        idempotency_key text unique,
        execution_seq integer not null default 0,
        created_at timestamptz not null default now()
      );
      create table executions (
        id text primary key,
        remediation_id text not null references remediations(id),
        kind text not null check (kind in ('plan','patch')),
        state text not null,
        step text,
        version integer not null default 0,
        tier text check (tier in ('minimal','moderate','comprehensive')),
        selected_targets jsonb,
        branch_name text,
        as_draft boolean not null default false,
        base_branch text,
        base_commit text,
        plan jsonb,
        error_code text,
        error_message text,
        started_at timestamptz not null default now(),
        completed_at timestamptz,
        updated_at timestamptz not null default now()
      );
      create index executions_remediation_idx on executions (remediation_id, started_at);
      create table execution_targets (
        execution_id text not null references executions(id),
        name text not null,
        manifest_path text not null,
        from_version text not null,
        to_version text not null,
        declared_from text,
        declared_to text,
        status text not null check (status in ('pending','running','success','failed','skipped')),
        reason text,
        advisories jsonb not null default '[]',
        needs_agent boolean not null default false,
        primary key (execution_id, name)
      );
      create table patch_versions (
        execution_id text not null references executions(id),
        version integer not null,
        ref text not null,
        sha text not null,
        base_commit text not null,
        changed_paths jsonb not null,
        created_at timestamptz not null default now(),
        primary key (execution_id, version)
      );
      create table pull_requests (
        id text primary key,
        execution_id text not null references executions(id),
        patch_version integer not null,
        provider text not null,
        repository text not null,
        number integer,
        url text,
        state text not null,
        draft boolean not null,
        head_branch text not null,
        base_branch text not null,
        head_sha text,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now()
      );
      create index pull_requests_execution_idx on pull_requests (execution_id);
      create table history (
        id bigserial primary key,
        execution_id text not null references executions(id),
        event text not null,
        from_state text,
        to_state text,
        step text,
        worker text,
        details jsonb not null default '{}',
        at timestamptz not null default now()
      );
      create index history_execution_idx on history (execution_id, id);
      create table outbox (
        id bigserial primary key,
        msg_id text not null unique,
        subject text not null,
        payload jsonb not null,
        created_at timestamptz not null default now(),
        published_at timestamptz
      );
      create index outbox_unpublished_idx on outbox (id) where published_at is null;
    `);
  }

  override down(): void {
    this.addSql('drop table outbox, history, pull_requests, patch_versions, execution_targets, executions, remediations;');
  }
}
