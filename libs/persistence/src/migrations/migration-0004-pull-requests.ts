import { Migration } from '@mikro-orm/migrations';

/**
 * Pull requests that stay mergeable and answer reviewers (issue 6): check runs and maintenance
 * state on the PR record, feedback read from the provider with its triage, webhook deliveries
 * (a redelivered webhook has no second effect), `rebase` feedback (re-apply on a moved base).
 */
export class Migration0004PullRequests extends Migration {
  override name = '0004-pull-requests';

  override up(): void {
    this.addSql(`
      alter table feedback drop constraint feedback_source_check;
      alter table feedback add constraint feedback_source_check check (source in ('api', 'github', 'rebase'));
      alter table pull_requests
        add column checks jsonb not null default '[]'::jsonb,
        add column rebase_stopped text,
        add column rebase_head text,
        add column last_error jsonb;
      create index pull_requests_open_idx on pull_requests (repository, base_branch) where state in ('open', 'rebase_failed');
      create table review_feedback (
        id bigserial primary key,
        pull_request_id text not null references pull_requests(id),
        execution_id text not null references executions(id),
        kind text not null check (kind in ('review', 'review_comment', 'issue_comment', 'check_run')),
        provider_id bigint not null,
        author text not null,
        body text not null,
        state text,
        path text,
        line integer,
        actionable boolean,
        reasoning text,
        triaged_by text,
        triage_claimed_at timestamptz,
        feedback_id bigint references feedback(id),
        created_at timestamptz not null default now(),
        unique (kind, provider_id)
      );
      create table webhook_deliveries (
        delivery_id text primary key,
        event text not null,
        action text,
        received_at timestamptz not null default now()
      );
    `);
  }

  override down(): void {
    this.addSql(`
      drop table webhook_deliveries;
      drop table review_feedback;
      drop index pull_requests_open_idx;
      alter table pull_requests drop column checks, drop column rebase_stopped, drop column last_error;
      alter table feedback drop constraint feedback_source_check;
      alter table feedback add constraint feedback_source_check check (source in ('api', 'github'));
    `);
  }
}
