import { Migration } from '@mikro-orm/migrations';

/**
 * Transitive targets (issue 15; docs/decisions/0016): `execution_targets.fix`, the plan's fix
 * option (`TransitiveFixOption` of @remediation/contracts: kind `override`, `parent_bump` or
 * `lockfile_update`, the package that changes, from → to, the path) the patcher applies to a
 * vulnerable package that is not a direct dependency. Null for a direct dependency's target (and
 * every row made before it existed).
 */
export class Migration0013ExecutionTargetFix extends Migration {
  override name = '0013-execution-target-fix';

  override up(): void {
    this.addSql('alter table execution_targets add column fix jsonb;');
  }

  override down(): void {
    this.addSql('alter table execution_targets drop column fix;');
  }
}
