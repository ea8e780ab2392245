import { Migration } from '@mikro-orm/migrations';

/**
 * The patch agent (issue 5): stored agent conversations (resume after a lost patcher), review
 * feedback and its iterations, per-target proof of remediation, the partial-success decision,
 * and per-version proof/approvability.
 */
export class Migration0003Agent extends Migration {
  override name = '0003-agent';

  override up(): void {
    this.addSql(`
      alter table execution_targets
        add column proof jsonb;
      alter table executions
        add column decision jsonb,
        add column allow_edits jsonb not null default '[]'::jsonb;
      alter table patch_versions
        add column proof jsonb not null default '[]'::jsonb,
        add column proof_passed boolean not null default true,
        add column feedback_id bigint,
        add column agent jsonb;
      create table feedback (
        id bigserial primary key,
        execution_id text not null references executions(id),
        iteration integer not null,
        source text not null check (source in ('api', 'github')),
        text text not null,
        comments jsonb not null default '[]'::jsonb,
        base_version integer not null,
        patch_version integer,
        created_at timestamptz not null default now(),
        unique (execution_id, iteration)
      );
      create table agent_conversations (
        execution_id text not null references executions(id),
        iteration integer not null,
        conversation jsonb not null,
        usage jsonb not null,
        turns integer not null default 0,
        resumes integer not null default 0,
        changed_paths jsonb not null default '[]'::jsonb,
        deterministic jsonb not null default '[]'::jsonb,
        result jsonb,
        updated_at timestamptz not null default now(),
        primary key (execution_id, iteration)
      );
    `);
  }

  override down(): void {
    this.addSql(`
      drop table agent_conversations;
      drop table feedback;
      alter table patch_versions drop column proof, drop column proof_passed, drop column feedback_id, drop column agent;
      alter table executions drop column decision, drop column allow_edits;
      alter table execution_targets drop column proof;
    `);
  }
}
