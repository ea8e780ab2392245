import { Migration } from '@mikro-orm/migrations';

/**
 * Durable execution: leases (fencing), heartbeats, the failed step (for retry), re-issue counts,
 * idempotency of executions; step attempts, processed messages (inbox) and dead letters.
 */
export class Migration0002Durability extends Migration {
  override name = '0002-durability';

  override up(): void {
    this.addSql(`
      alter table executions
        add column lease_owner text,
        add column lease_attempt integer not null default 0,
        add column heartbeat_at timestamptz,
        add column failed_step text,
        add column pull_request_id text,
        add column reissue_count integer not null default 0,
        add column idempotency_key text unique;
      create index executions_active_idx on executions (heartbeat_at)
        where state in ('planner_running', 'patch_running', 'pr_opening');
      create table step_attempts (
        id bigserial primary key,
        execution_id text not null references executions(id),
        step text not null,
        command text not null,
        lease_attempt integer not null,
        delivery_count integer not null,
        worker text not null,
        started_at timestamptz not null default now(),
        heartbeat_at timestamptz not null default now(),
        finished_at timestamptz,
        outcome text check (outcome in ('succeeded', 'retrying', 'failed', 'fenced', 'cancelled', 'abandoned')),
        error_code text,
        error_message text
      );
      create index step_attempts_execution_idx on step_attempts (execution_id, id);
      create table processed_messages (
        consumer text not null,
        message_id text not null,
        processed_at timestamptz not null default now(),
        primary key (consumer, message_id)
      );
      create table dead_letters (
        id bigserial primary key,
        stream text not null,
        stream_seq bigint,
        subject text not null,
        message_id text,
        payload jsonb,
        deliveries integer not null,
        execution_id text,
        error_code text not null,
        error_message text not null,
        created_at timestamptz not null default now(),
        unique (stream, stream_seq)
      );
    `);
  }

  override down(): void {
    this.addSql(`
      drop table dead_letters, processed_messages, step_attempts;
      alter table executions drop column lease_owner, drop column lease_attempt, drop column heartbeat_at,
        drop column failed_step, drop column pull_request_id, drop column reissue_count, drop column idempotency_key;
    `);
  }
}
