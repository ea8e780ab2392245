/**
 * Retention benchmark (issue 17 "bounded growth"; docs/benchmarks.md "retention"): simulates a
 * long run of `--executions` executions (default 20,000) spread evenly over `--days` simulated days
 * (default 90) in a fresh PostgreSQL database, writing per execution the operational records a
 * real deterministic patch execution writes (measured on the express example: 6 outbox rows, 6
 * processed-message records, 6 step attempts, 12 heartbeat history rows, 1 webhook delivery id),
 * with timestamps on the simulated clock, and per execution a finished remediation of a tenant
 * whose `execution_retention_days` is `--execution-retention-days` (default 30; `0`: keep forever):
 * a generated plan, a merged patch execution with 2 targets, 1 patch version, its merged pull
 * request and 4 transition history rows each. Runs the retention sweep (`pruneExpired` with the
 * default policy, which prunes the tenant's finished remediations too) once per simulated hour, as
 * the API does every `PRUNE_INTERVAL_MS`. Prints the row count of each table every `--report-days`
 * simulated days and the sweep's time: with pruning, the counts level off once the longest
 * retention (30 days) has passed; without (`--no-prune`), they grow with the run.
 *
 *   node --import tsx scripts/bench-retention.ts [--executions 20000] [--days 90] [--report-days 10] [--execution-retention-days 30] [--no-prune]
 */
import { DEFAULT_RETENTION, createRemediation, ensureDatabaseExists, migrate, openDatabase, pruneExpired, upsertTenant } from '@remediation/persistence';
import { dropDatabase, freshDatabaseUrl } from '@remediation/testing';
import { parseScriptArgs } from './cli-args.js';

const { values } = parseScriptArgs(import.meta.url, {
  options: {
    executions: { type: 'string', default: '20000' },
    days: { type: 'string', default: '90' },
    'report-days': { type: 'string', default: '10' },
    'execution-retention-days': { type: 'string', default: '30' },
    'no-prune': { type: 'boolean', default: false },
  },
});
const executions = Number(values.executions);
const days = Number(values.days);
const reportDays = Number(values['report-days']);
const executionRetentionDays = Number(values['execution-retention-days']);
const HOUR = 3600_000;
const start = new Date('2026-01-01T00:00:00Z').getTime();
const perHour = executions / (days * 24);

const url = freshDatabaseUrl('bench_retention');
await ensureDatabaseExists(url);
const db = await openDatabase(url, { poolMax: 3 });
const sql = <T = Record<string, unknown>>(text: string, params: unknown[] = []) => db.em().getConnection().execute<T[]>(text, params);
try {
  await migrate(db);
  // One remediation's execution owns the step attempts and history rows (foreign keys).
  await createRemediation(db, { id: 'rem_bench', codebase: { repository: '/srv/bench.git', baseBranch: 'main' }, scan: { bomFormat: 'CycloneDX' }, idempotencyKey: null, worker: 'bench:1' });
  await upsertTenant(db, { id: 'bench', executionRetentionDays: executionRetentionDays > 0 ? executionRetentionDays : null });
  const columns = ['outbox', 'processed_messages', 'step_attempts', `history`, 'webhook_deliveries', 'remediations', 'executions', 'execution_targets', 'pull_requests'];
  let written = 0;
  let seq = 0;
  let sweepMs = 0;
  let sweeps = 0;
  console.log(`retention benchmark: ${executions} executions over ${days} simulated days (${perHour.toFixed(1)} an hour), pruning ${values['no-prune'] ? 'off' : 'every simulated hour'}`);
  console.log(['day', ...columns, 'sweep ms (mean)'].join('\t'));
  for (let hour = 0; hour < days * 24; hour++) {
    const now = new Date(start + (hour + 1) * HOUR);
    const due = Math.round((hour + 1) * perHour) - written;
    if (due > 0) {
      const at = new Date(start + hour * HOUR + HOUR / 2);
      const n = due;
      const ids = JSON.stringify(Array.from({ length: n }, () => `b${++seq}`));
      await sql(`insert into outbox (msg_id, subject, payload, created_at, published_at) select m || ':' || k, 'remediation.cmd.v1.bench', '{}', ?, ? from jsonb_array_elements_text(?::jsonb) m, generate_series(1, 6) k`, [at, at, ids]);
      await sql(`insert into processed_messages (consumer, message_id, processed_at) select 'cmd-' || k, m, ? from jsonb_array_elements_text(?::jsonb) m, generate_series(1, 6) k`, [at, ids]);
      await sql(
        `insert into step_attempts (execution_id, step, command, lease_attempt, delivery_count, worker, started_at, heartbeat_at, finished_at, outcome)
         select 'rem_bench.plan.1', 'editing', 'patch.apply', k, 1, 'bench', ?, ?, ?, 'succeeded' from jsonb_array_elements_text(?::jsonb) m, generate_series(1, 6) k`,
        [at, at, at, ids],
      );
      await sql(`insert into history (execution_id, event, details, at) select 'rem_bench.plan.1', 'heartbeat', '{}', ? from jsonb_array_elements_text(?::jsonb) m, generate_series(1, 12) k`, [at, ids]);
      await sql(`insert into webhook_deliveries (delivery_id, event, received_at) select m, 'pull_request', ? from jsonb_array_elements_text(?::jsonb) m`, [at, ids]);
      // The finished remediation of each execution: plan + merged patch, with the rows below them.
      await sql(`insert into remediations (id, tenant_id, codebase, scan, execution_seq, created_at) select 'rem_' || m, 'bench', '{"repository":"/srv/bench.git"}', '{}', 2, ? from jsonb_array_elements_text(?::jsonb) m`, [at, ids]);
      await sql(
        `insert into executions (id, remediation_id, tenant_id, kind, state, started_at, completed_at)
         select 'rem_' || m || '.' || k || '.' || n, 'rem_' || m, 'bench', k, s, ?, ? from jsonb_array_elements_text(?::jsonb) m,
           (values ('plan', 1, 'plan_generated'), ('patch', 2, 'pr_merged')) as v(k, n, s)`,
        [at, at, ids],
      );
      await sql(`insert into history (execution_id, event, to_state, at) select 'rem_' || m || '.patch.2', 'transition', 'pr_merged', ? from jsonb_array_elements_text(?::jsonb) m, generate_series(1, 4) k`, [at, ids]);
      await sql(
        `insert into execution_targets (execution_id, name, manifest_path, from_version, to_version, status)
         select 'rem_' || m || '.patch.2', 'pkg' || k, 'package.json', '1.0.0', '1.0.1', 'success' from jsonb_array_elements_text(?::jsonb) m, generate_series(1, 2) k`,
        [ids],
      );
      await sql(`insert into patch_versions (execution_id, version, ref, sha, base_commit, changed_paths) select 'rem_' || m || '.patch.2', 1, 'r', repeat('a', 40), repeat('b', 40), '[]' from jsonb_array_elements_text(?::jsonb) m`, [ids]);
      await sql(
        `insert into pull_requests (id, execution_id, patch_version, provider, repository, state, draft, head_branch, base_branch)
         select 'pr_' || m, 'rem_' || m || '.patch.2', 1, 'github', 'bench/app', 'merged', false, 'fix', 'main' from jsonb_array_elements_text(?::jsonb) m`,
        [ids],
      );
      written += n;
    }
    if (!values['no-prune']) {
      const t0 = performance.now();
      await pruneExpired(db, DEFAULT_RETENTION, { now });
      sweepMs += performance.now() - t0;
      sweeps++;
    }
    if ((hour + 1) % (reportDays * 24) === 0) {
      const counts = [];
      for (const table of columns) counts.push(Number((await sql<{ n: string }>(`select count(*) as n from ${table}`))[0]!.n));
      const line = [String((hour + 1) / 24), ...counts.map(String), sweeps ? (sweepMs / sweeps).toFixed(1) : '-'].join('\t');
      console.log(line);
    }
  }
  console.log(`${written} executions' records written`);
} finally {
  await db.close();
  await dropDatabase(url).catch(() => undefined);
}
