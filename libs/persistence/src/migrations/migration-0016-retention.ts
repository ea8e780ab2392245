import { Migration } from '@mikro-orm/migrations';

/**
 * Indexes for pruning the operational records past their retention (issue 17 "bounded growth";
 * `pruneExpired` in retention.ts): each prune batch finds its oldest rows by an index instead of
 * scanning the table. Partial indexes cover only the rows that can ever be pruned (published
 * outbox rows, finished step attempts, heartbeat history entries).
 */
export class Migration0016Retention extends Migration {
  override name = '0016-retention';

  override up(): void {
    this.addSql(`
      create index outbox_published_idx on outbox (published_at) where published_at is not null;
      create index processed_messages_processed_idx on processed_messages (processed_at);
      create index step_attempts_finished_idx on step_attempts (finished_at) where finished_at is not null;
      create index history_heartbeat_idx on history (at) where event = 'heartbeat';
      create index webhook_deliveries_received_idx on webhook_deliveries (received_at);
    `);
  }

  override down(): void {
    this.addSql(`
      drop index webhook_deliveries_received_idx;
      drop index history_heartbeat_idx;
      drop index step_attempts_finished_idx;
      drop index processed_messages_processed_idx;
      drop index outbox_published_idx;
    `);
  }
}
