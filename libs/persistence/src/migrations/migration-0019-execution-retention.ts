import { Migration } from '@mikro-orm/migrations';

/**
 * Per-tenant retention of finished remediations (issue 17 item 5; `pruneExpiredRemediations` in
 * retention.ts): `tenants.execution_retention_days` (null keeps them forever), and an index on
 * `review_feedback (execution_id)` so the prune deletes an execution's review feedback by an index
 * probe (the other tables below an execution lead their primary key or an index with it).
 */
export class Migration0019ExecutionRetention extends Migration {
  override name = '0019-execution-retention';

  override up(): void {
    this.addSql(`
      alter table tenants add column execution_retention_days integer check (execution_retention_days > 0);
      create index review_feedback_execution_idx on review_feedback (execution_id);
    `);
  }

  override down(): void {
    this.addSql(`
      drop index review_feedback_execution_idx;
      alter table tenants drop column execution_retention_days;
    `);
  }
}
