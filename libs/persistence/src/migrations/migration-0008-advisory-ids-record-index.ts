import { Migration } from '@mikro-orm/migrations';

/**
 * Index of `advisory_ids` by record (issue 12 benchmark, docs/benchmarks.md "planner"): a sync
 * replaces the ids of every record it imports (`delete from advisory_ids where record_id in …`,
 * 1,000 records per statement); without it each statement scans the whole table, so a full
 * import of 200,000 records (400,000 ids) grows quadratically.
 */
export class Migration0008AdvisoryIdsRecordIndex extends Migration {
  override name = '0008-advisory-ids-record-index';

  override up(): void {
    this.addSql('create index advisory_ids_record_idx on advisory_ids (record_id);');
  }

  override down(): void {
    this.addSql('drop index advisory_ids_record_idx;');
  }
}
