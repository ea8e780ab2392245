import { dropDatabase, freshDatabaseUrl } from '@remediation/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, ensureDatabaseExists, migrate, openDatabase } from './database.js';
import { createRemediation } from './remediations.js';
import { DEFAULT_RETENTION, EXECUTION_CHILD_TABLES, pruneExpired, pruneExpiredRemediations } from './retention.js';
import { loadTenant, upsertTenant } from './tenants.js';

/** pruneExpired against a real PostgreSQL: what is past its retention goes, the rest stays. */
const databaseUrl = freshDatabaseUrl('retention');
let db: Database;
const DAY = 24 * 3600_000;
const NOW = new Date('2026-06-01T00:00:00Z');
const ago = (ms: number) => new Date(NOW.getTime() - ms);

async function sql<T = Record<string, unknown>>(text: string, params: unknown[] = []): Promise<T[]> {
  return db.em().getConnection().execute<T[]>(text, params);
}
const count = async (text: string) => Number((await sql<{ n: string }>(`select count(*) as n from ${text}`))[0]!.n);

beforeAll(async () => {
  await ensureDatabaseExists(databaseUrl);
  db = await openDatabase(databaseUrl, { poolMax: 3 });
  await migrate(db);
  await createRemediation(db, { id: 'rem_ret', codebase: { repository: '/srv/acme/app.git', baseBranch: 'main' }, scan: { bomFormat: 'CycloneDX' }, idempotencyKey: null, worker: 'spec:1' });
  const ex = 'rem_ret.plan.1';
  // Outbox: published long ago (expired), published recently, and never published (kept whatever its age).
  await sql(`insert into outbox (msg_id, subject, payload, created_at, published_at) values
    ('old', 's', '{}', ?, ?), ('recent', 's', '{}', ?, ?), ('unpublished', 's', '{}', ?, null)`, [ago(3 * DAY), ago(3 * DAY), ago(3600_000), ago(3600_000), ago(30 * DAY)]);
  for (let i = 0; i < 25; i++) await sql(`insert into processed_messages (consumer, message_id, processed_at) values ('c', ?, ?)`, [`m${i}`, ago(8 * DAY)]);
  await sql(`insert into processed_messages (consumer, message_id, processed_at) values ('c', 'fresh', ?)`, [ago(DAY)]);
  await sql(`insert into step_attempts (execution_id, step, command, lease_attempt, delivery_count, worker, started_at, heartbeat_at, finished_at, outcome) values
    (?, 'planning', 'plan.run', 1, 1, 'w', ?, ?, ?, 'succeeded'), (?, 'planning', 'plan.run', 2, 1, 'w', ?, ?, null, null), (?, 'planning', 'plan.run', 3, 1, 'w', ?, ?, ?, 'failed')`,
    [ex, ago(40 * DAY), ago(40 * DAY), ago(40 * DAY), ex, ago(40 * DAY), ago(40 * DAY), ex, ago(DAY), ago(DAY), ago(DAY)]);
  await sql(`insert into history (execution_id, event, details, at) values (?, 'heartbeat', '{}', ?), (?, 'heartbeat', '{}', ?), (?, 'tool_call', '{}', ?)`,
    [ex, ago(31 * DAY), ex, ago(DAY), ex, ago(31 * DAY)]);
  await sql(`insert into webhook_deliveries (delivery_id, event, received_at) values ('d-old', 'pull_request', ?), ('d-new', 'pull_request', ?)`, [ago(8 * DAY), ago(DAY)]);
}, 60_000);

afterAll(async () => {
  await db?.close();
  await dropDatabase(databaseUrl).catch(() => undefined);
});

describe('pruneExpired', () => {
  it('deletes only what is past its retention, in batches, and keeps the rest', async () => {
    const transitionsBefore = await count(`history where event <> 'heartbeat'`);
    const counts = await pruneExpired(db, DEFAULT_RETENTION, { batchSize: 10, now: NOW });
    expect(counts).toEqual({ outbox: 1, processed_messages: 25, step_attempts: 1, heartbeats: 1, webhook_deliveries: 1, remediations: 0, executions: 0 });
    expect((await sql<{ msg_id: string }>(`select msg_id from outbox where msg_id in ('old', 'recent', 'unpublished') order by msg_id`)).map((r) => r.msg_id)).toEqual(['recent', 'unpublished']);
    expect((await sql<{ message_id: string }>('select message_id from processed_messages')).map((r) => r.message_id)).toEqual(['fresh']);
    // The unfinished attempt stays however old; the recent finished one too.
    expect((await sql<{ lease_attempt: number }>('select lease_attempt from step_attempts order by lease_attempt')).map((r) => r.lease_attempt)).toEqual([2, 3]);
    expect(await count(`history where event = 'heartbeat'`)).toBe(1);
    expect(await count(`history where event <> 'heartbeat'`)).toBe(transitionsBefore); // transitions and named events stay
    expect((await sql<{ delivery_id: string }>('select delivery_id from webhook_deliveries')).map((r) => r.delivery_id)).toEqual(['d-new']);
    // Nothing left to prune: a second sweep deletes nothing.
    expect(Object.values(await pruneExpired(db, DEFAULT_RETENTION, { now: NOW })).every((n) => n === 0)).toBe(true);
  });

  it('a retention of 0 keeps that table forever; another process holding the lock makes the sweep skip', async () => {
    await sql(`insert into outbox (msg_id, subject, payload, created_at, published_at) values ('old2', 's', '{}', ?, ?)`, [ago(3 * DAY), ago(3 * DAY)]);
    expect((await pruneExpired(db, { ...DEFAULT_RETENTION, outboxMs: 0 }, { now: NOW })).outbox).toBe(0);
    const holder = await db.em().transactional(async (tx) => {
      await tx.execute('select pg_advisory_xact_lock(?)', [0x7072756e]);
      return pruneExpired(db, DEFAULT_RETENTION, { now: NOW });
    });
    expect(holder.outbox).toBe(0);
    expect((await pruneExpired(db, DEFAULT_RETENTION, { now: NOW })).outbox).toBe(1);
  });
});

/**
 * A remediation of `tenant` created `createdAgo` before NOW, with executions (`<id>.<kind>.<n>`)
 * in the given states, completed `completedAgo` before NOW (null: not completed), and optionally a
 * pull request in `pr` state on the execution.
 */
async function remediation(id: string, tenant: string, createdAgo: number, executions: Array<{ kind: 'plan' | 'patch'; state: string; completedAgo: number | null; pr?: string }>) {
  await sql(`insert into remediations (id, tenant_id, codebase, scan, execution_seq, created_at) values (?, ?, '{"repository":"/r"}', '{}', ?, ?)`, [id, tenant, executions.length, ago(createdAgo)]);
  const ids: string[] = [];
  for (const [i, e] of executions.entries()) {
    const ex = `${id}.${e.kind}.${i + 1}`;
    ids.push(ex);
    await sql(`insert into executions (id, remediation_id, tenant_id, kind, state, started_at, completed_at) values (?, ?, ?, ?, ?, ?, ?)`, [
      ex, id, tenant, e.kind, e.state, ago(createdAgo), e.completedAgo === null ? null : ago(e.completedAgo),
    ]);
    await sql(`insert into history (execution_id, event, to_state, at) values (?, 'transition', ?, ?)`, [ex, e.state, ago(createdAgo)]);
    if (e.pr) {
      await sql(`insert into pull_requests (id, execution_id, patch_version, provider, repository, state, draft, head_branch, base_branch) values (?, ?, 1, 'github', 'acme/app', ?, false, 'fix', 'main')`, [`pr_${ex}`, ex, e.pr]);
    }
  }
  return ids;
}

/** Every row below a patch execution: targets, attempts, versions, iterations, feedback, conversations, PR, review feedback, plan packages. */
async function fillBelow(ex: string) {
  const hex = (c: string) => c.repeat(40);
  await sql(`insert into execution_targets (execution_id, name, manifest_path, from_version, to_version, status) values (?, 'lodash', 'package.json', '4.17.0', '4.17.21', 'success')`, [ex]);
  await sql(`insert into step_attempts (execution_id, step, command, lease_attempt, delivery_count, worker, finished_at, outcome) values (?, 'editing', 'patch.apply', 1, 1, 'w', now(), 'succeeded')`, [ex]);
  await sql(`insert into plan_packages (execution_id, ecosystem, name) values (?, 'npm', 'lodash')`, [ex]);
  const [fb] = await sql<{ id: string }>(`insert into feedback (execution_id, source, text) values (?, 'github', 'add a test') returning id`, [ex]);
  await sql(`insert into iterations (execution_id, number, reason, feedback_id, base_version, patch_version) values (?, 2, 'review', ?, 1, 2)`, [ex, fb!.id]);
  await sql(`insert into patch_versions (execution_id, version, ref, sha, base_commit, changed_paths, iteration) values (?, 1, 'r1', ?, ?, '[]', null), (?, 2, 'r2', ?, ?, '[]', 2)`, [ex, hex('a'), hex('b'), ex, hex('c'), hex('b')]);
  await sql(`insert into agent_conversations (execution_id, iteration, conversation, usage) values (?, 2, '[]', '{}')`, [ex]);
  await sql(`insert into review_feedback (pull_request_id, execution_id, kind, provider_id, author, body, feedback_id) values (?, ?, 'review', ?, 'alice', 'add a test', ?)`, [`pr_${ex}`, ex, Math.floor(Math.random() * 1e9), fb!.id]);
}

describe('pruneExpiredRemediations (per-tenant retention of finished remediations)', () => {
  it('every foreign key to executions is one of the tables it prunes', async () => {
    const referencing = await sql<{ t: string }>(`select distinct conrelid::regclass::text as t from pg_constraint where contype = 'f' and confrelid = 'executions'::regclass order by 1`);
    expect(referencing.map((r) => r.t).sort()).toEqual([...EXECUTION_CHILD_TABLES].sort());
    const toRemediations = await sql<{ t: string }>(`select distinct conrelid::regclass::text as t from pg_constraint where contype = 'f' and confrelid = 'remediations'::regclass`);
    expect(toRemediations.map((r) => r.t)).toEqual(['executions']);
  });

  it('prunes finished remediations past their tenant retention with everything below them; keeps running, open-PR, recent and other tenants\' ones', async () => {
    expect((await upsertTenant(db, { id: 'keep30', executionRetentionDays: 30 })).executionRetentionDays).toBe(30);
    await upsertTenant(db, { id: 'forever' });
    // Pruned: merged PR (with every row below it), failed plan, cancelled plan.
    const [, merged] = await remediation('rem_merged', 'keep30', 60 * DAY, [
      { kind: 'plan', state: 'plan_generated', completedAgo: 59 * DAY },
      { kind: 'patch', state: 'pr_merged', completedAgo: 40 * DAY, pr: 'merged' },
    ]);
    await fillBelow(merged!);
    await remediation('rem_failed', 'keep30', 50 * DAY, [{ kind: 'plan', state: 'planner_failed', completedAgo: 50 * DAY }]);
    await remediation('rem_cancelled', 'keep30', 45 * DAY, [{ kind: 'plan', state: 'planner_cancelled', completedAgo: 45 * DAY }]);
    // Kept: a PR still open (pr_opened is terminal), a running patch, a recent patch, a recent remediation, a tenant keeping forever.
    const [, open] = await remediation('rem_open_pr', 'keep30', 60 * DAY, [
      { kind: 'plan', state: 'plan_generated', completedAgo: 59 * DAY },
      { kind: 'patch', state: 'pr_opened', completedAgo: 58 * DAY, pr: 'open' },
    ]);
    await fillBelow(open!);
    await remediation('rem_rebase_failed', 'keep30', 60 * DAY, [{ kind: 'patch', state: 'pr_opened', completedAgo: 58 * DAY, pr: 'rebase_failed' }]);
    await remediation('rem_running', 'keep30', 60 * DAY, [
      { kind: 'plan', state: 'plan_generated', completedAgo: 59 * DAY },
      { kind: 'patch', state: 'patch_running', completedAgo: null },
    ]);
    await remediation('rem_maintaining', 'keep30', 60 * DAY, [{ kind: 'patch', state: 'changes_requested', completedAgo: 58 * DAY, pr: 'open' }]);
    await remediation('rem_recent_patch', 'keep30', 60 * DAY, [
      { kind: 'plan', state: 'plan_generated', completedAgo: 59 * DAY },
      { kind: 'patch', state: 'patch_failed', completedAgo: 5 * DAY },
    ]);
    await remediation('rem_recent', 'keep30', 2 * DAY, [{ kind: 'plan', state: 'plan_generated', completedAgo: DAY }]);
    await remediation('rem_forever', 'forever', 400 * DAY, [{ kind: 'plan', state: 'plan_generated', completedAgo: 400 * DAY }]);
    await remediation('rem_default', 'default', 400 * DAY, [{ kind: 'plan', state: 'planner_failed', completedAgo: 400 * DAY }]);

    const kept = ['rem_default', 'rem_forever', 'rem_maintaining', 'rem_open_pr', 'rem_rebase_failed', 'rem_recent', 'rem_recent_patch', 'rem_ret', 'rem_running'];
    const before = Object.fromEntries(await Promise.all(EXECUTION_CHILD_TABLES.map(async (t) => [t, await count(`${t} where execution_id like 'rem_open_pr.%'`)] as const)));
    // Batches of 2 remediations: two full batches then a short one.
    expect(await pruneExpiredRemediations(db, { batchSize: 2, now: NOW })).toEqual({ remediations: 3, executions: 4 });
    expect((await sql<{ id: string }>('select id from remediations')).map((r) => r.id).sort()).toEqual(kept);
    for (const table of EXECUTION_CHILD_TABLES) {
      expect(await count(`${table} where execution_id like 'rem_merged.%' or execution_id like 'rem_failed.%' or execution_id like 'rem_cancelled.%'`), table).toBe(0);
      expect(await count(`${table} where execution_id like 'rem_open_pr.%'`), table).toBe(before[table]);
    }
    expect(before['review_feedback']).toBe(1);
    expect(await count(`executions where remediation_id in ('rem_merged', 'rem_failed', 'rem_cancelled')`)).toBe(0);
    // Nothing left to prune: a second sweep deletes nothing.
    expect(await pruneExpiredRemediations(db, { now: NOW })).toEqual({ remediations: 0, executions: 0 });

    // The PR closes: its remediation goes at the next sweep (after the retention counted from its completion).
    await sql(`update pull_requests set state = 'closed' where execution_id = 'rem_open_pr.patch.2'`);
    await sql(`update executions set state = 'pr_closed' where id = 'rem_open_pr.patch.2'`);
    expect(await pruneExpiredRemediations(db, { now: NOW })).toEqual({ remediations: 1, executions: 2 });
    // Another tenant's retention, later set, applies to its own rows only; the sweep runs it through pruneExpired too.
    await upsertTenant(db, { id: 'forever', executionRetentionDays: 365 });
    expect(await loadTenant(db, 'forever')).toMatchObject({ executionRetentionDays: 365 });
    const counts = await pruneExpired(db, DEFAULT_RETENTION, { now: NOW });
    expect([counts.remediations, counts.executions]).toEqual([1, 1]);
    expect(await count(`remediations where tenant_id = 'default'`)).toBe(2);
  });

  it('leaves a remediation whose rows another transaction holds for the next sweep, and refuses a bad retention', async () => {
    await remediation('rem_busy', 'keep30', 60 * DAY, [{ kind: 'plan', state: 'planner_failed', completedAgo: 60 * DAY }]);
    const during = await db.em().transactional(async (tx) => {
      await tx.execute(`select id from executions where id = 'rem_busy.plan.1' for update`);
      return pruneExpiredRemediations(db, { now: NOW });
    });
    expect(during).toEqual({ remediations: 0, executions: 0 });
    expect(await pruneExpiredRemediations(db, { now: NOW })).toEqual({ remediations: 1, executions: 1 });
    await expect(upsertTenant(db, { id: 'keep30', executionRetentionDays: 0 })).rejects.toMatchObject({ code: 'RETENTION_INVALID' });
    await expect(upsertTenant(db, { id: 'keep30', executionRetentionDays: 1.5 })).rejects.toMatchObject({ code: 'RETENTION_INVALID' });
    // Left out, the retention stays; null keeps forever.
    expect((await upsertTenant(db, { id: 'keep30', name: 'Keep 30' })).executionRetentionDays).toBe(30);
    expect((await upsertTenant(db, { id: 'keep30', executionRetentionDays: null })).executionRetentionDays).toBeNull();
  });
});
