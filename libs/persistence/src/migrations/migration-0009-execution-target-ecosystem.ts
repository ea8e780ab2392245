import { Migration } from '@mikro-orm/migrations';

/**
 * The ecosystem of each patch target (issue 13): `execution_targets.ecosystem`, the purl type the
 * patcher dispatches on (`npm`, `pypi`, …; https://github.com/package-url/purl-spec/blob/main/PURL-TYPES.rst).
 * Rows made before it are npm targets. A name may exist in two ecosystems (an npm and a PyPI
 * package both called `requests`), so the key becomes (execution_id, ecosystem, name).
 * `versions` holds, for a package the plan targets at several installed versions (pygoat pins
 * django 4.2 in one requirements file and 3.2.18 in another), each installed version and the
 * version chosen for it (`[{ from, to }]`); null for a package installed at one version.
 */
export class Migration0009ExecutionTargetEcosystem extends Migration {
  override name = '0009-execution-target-ecosystem';

  override up(): void {
    this.addSql(`
      alter table execution_targets add column ecosystem text not null default 'npm';
      alter table execution_targets add column versions jsonb;
      alter table execution_targets drop constraint execution_targets_pkey;
      alter table execution_targets add primary key (execution_id, ecosystem, name);
    `);
  }

  override down(): void {
    this.addSql(`
      delete from execution_targets where ecosystem <> 'npm';
      alter table execution_targets drop constraint execution_targets_pkey;
      alter table execution_targets add primary key (execution_id, name);
      alter table execution_targets drop column ecosystem;
      alter table execution_targets drop column versions;
    `);
  }
}
