import { Migration } from '@mikro-orm/migrations';

/**
 * Version prefilter of the plan look-up (issue 12 benchmark targets; docs/decisions/0012):
 * `advisory_packages.affected_keys`, per (advisory, package), the versions the advisory may affect
 * as a multirange of order keys (`version_key_multirange` over `bigint[]`: `Versioning.orderKey`
 * of `@remediation/ecosystems`, compared element by element; `affectedKeyRanges` of
 * `@remediation/advisories`, a conservative superset of what the OSV evaluation finds affected),
 * written at import. A plan's look-up then reads only the advisories of packages whose installed
 * versions' keys one of them contains (`affected_keys @> key`), instead of every advisory of every
 * package. Null: not known — an ecosystem without an order key, or a row imported before this
 * migration (filled when its advisory is next imported) —, so every advisory of that package is read.
 * Multiranges need PostgreSQL 14 or later (https://www.postgresql.org/docs/current/rangetypes.html).
 */
export class Migration0012AdvisoryKeyRanges extends Migration {
  override name = '0012-advisory-key-ranges';

  override up(): void {
    this.addSql(`
      create type version_key_range as range (subtype = bigint[], multirange_type_name = version_key_multirange);
      alter table advisory_packages add column affected_keys version_key_multirange;
    `);
  }

  override down(): void {
    this.addSql('alter table advisory_packages drop column affected_keys; drop type version_key_range;');
  }
}
