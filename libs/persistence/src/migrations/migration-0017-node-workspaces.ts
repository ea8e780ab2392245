import { Migration } from '@mikro-orm/migrations';

/**
 * Node-affine workspaces (issue 17, docs/decisions/0021): each worker node's liveness lease
 * (`node_leases`, renewed by every git-gateway and patcher process of the node) and the node that
 * holds each execution's workspace (`workspace_owners`). An owner whose node lease has expired may
 * be replaced by another node (a takeover); `redirects` counts deliveries of the execution's
 * current command (`redirect_message_id`) that reached another node and were sent back, so they do
 * not count as failed tries.
 */
export class Migration0017NodeWorkspaces extends Migration {
  override name = '0017-node-workspaces';

  override up(): void {
    this.addSql(`
      create table node_leases (
        node_id text primary key,
        started_at timestamptz not null default now(),
        renewed_at timestamptz not null default now(),
        expires_at timestamptz not null
      );
      create table workspace_owners (
        execution_id text primary key references executions(id) on delete cascade,
        node_id text not null,
        claimed_at timestamptz not null default now(),
        takeovers integer not null default 0,
        redirect_message_id text,
        redirects integer not null default 0
      );
      create index workspace_owners_node_idx on workspace_owners (node_id);
    `);
  }

  override down(): void {
    this.addSql(`
      drop table workspace_owners;
      drop table node_leases;
    `);
  }
}
