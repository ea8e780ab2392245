import { Migration } from '@mikro-orm/migrations';

/**
 * Iterations as their own record (issue 10): `iterations` holds why each iteration after the first
 * started (`review`, `user_feedback`, `rebase_reapply`), the feedback it answers (none for a
 * re-application on a moved base), the version it started from and the version it made; feedback
 * keeps only what was said. Existing rows are carried over: each feedback row becomes an iteration,
 * a `rebase` feedback row (a re-application disguised as feedback) becomes an iteration without
 * feedback and is removed. Patch versions name the iteration they deliver instead of a feedback.
 * Commands issued are found by subject (the reconciler re-issues the last one).
 */
export class Migration0005Iterations extends Migration {
  override name = '0005-iterations';

  override up(): void {
    this.addSql(`
      create table iterations (
        execution_id text not null references executions(id),
        number integer not null check (number >= 2),
        reason text not null check (reason in ('review', 'user_feedback', 'rebase_reapply')),
        feedback_id bigint unique references feedback(id),
        base_version integer not null,
        patch_version integer,
        detail text,
        created_at timestamptz not null default now(),
        primary key (execution_id, number),
        check ((reason = 'rebase_reapply') = (feedback_id is null))
      );
      insert into iterations (execution_id, number, reason, feedback_id, base_version, patch_version, created_at)
        select execution_id, iteration,
               case source when 'api' then 'user_feedback' when 'github' then 'review' else 'rebase_reapply' end,
               case when source = 'rebase' then null else id end,
               base_version, patch_version, created_at
          from feedback;
      alter table patch_versions add column iteration integer;
      update patch_versions pv set iteration = f.iteration from feedback f where f.id = pv.feedback_id;
      alter table patch_versions drop column feedback_id;
      alter table patch_versions add constraint patch_versions_iteration_fkey
        foreign key (execution_id, iteration) references iterations (execution_id, number);
      delete from feedback where source = 'rebase';
      alter table feedback drop constraint feedback_source_check;
      alter table feedback add constraint feedback_source_check check (source in ('api', 'github'));
      alter table feedback drop column iteration, drop column base_version, drop column patch_version;
      create index feedback_execution_idx on feedback (execution_id, id);
      create index outbox_subject_idx on outbox (subject, id);
    `);
  }

  override down(): void {
    this.addSql(`
      drop index outbox_subject_idx;
      drop index feedback_execution_idx;
      alter table feedback add column iteration integer, add column base_version integer, add column patch_version integer;
      update feedback f set iteration = i.number, base_version = i.base_version, patch_version = i.patch_version
        from iterations i where i.feedback_id = f.id;
      alter table feedback drop constraint feedback_source_check;
      alter table feedback add constraint feedback_source_check check (source in ('api', 'github', 'rebase'));
      insert into feedback (execution_id, iteration, source, text, comments, base_version, patch_version, created_at)
        select execution_id, number, 'rebase', coalesce(detail, 're-apply the patch on the moved base'), '[]'::jsonb, base_version, patch_version, created_at
          from iterations where reason = 'rebase_reapply';
      alter table feedback alter column iteration set not null, alter column base_version set not null;
      alter table feedback add constraint feedback_execution_id_iteration_key unique (execution_id, iteration);
      alter table patch_versions drop constraint patch_versions_iteration_fkey;
      alter table patch_versions add column feedback_id bigint;
      update patch_versions pv set feedback_id = f.id from feedback f where f.execution_id = pv.execution_id and f.iteration = pv.iteration;
      alter table patch_versions drop column iteration;
      drop table iterations;
    `);
  }
}
