import { Migration } from '@mikro-orm/migrations';

/**
 * Authentication and tenancy (issue 11, docs/decisions/0010-authentication-and-tenancy.md):
 * `tenants` (id safe as a NATS subject token, the repository hosts and owners the tenant may use;
 * an empty list allows any), `api_keys` (SHA-256 of a random key, never the key; scopes; revocation),
 * and the tenant of every remediation, execution and dead letter. Rows below an execution (targets,
 * patch versions, iterations, feedback, pull requests, history, …) belong to their execution's
 * tenant through its foreign key. Existing rows go to the `default` tenant. Idempotency keys become
 * unique per tenant.
 */
export class Migration0006Tenancy extends Migration {
  override name = '0006-tenancy';

  override up(): void {
    this.addSql(`
      create table tenants (
        id text primary key check (id ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
        name text not null,
        allowed_hosts text[] not null default '{}',
        allowed_owners text[] not null default '{}',
        created_at timestamptz not null default now()
      );
      insert into tenants (id, name) values ('default', 'Default tenant');
      create table api_keys (
        id text primary key,
        tenant_id text not null references tenants(id),
        name text not null,
        key_hash text not null unique,
        scopes text[] not null,
        created_at timestamptz not null default now(),
        revoked_at timestamptz
      );
      create index api_keys_tenant_idx on api_keys (tenant_id);
      alter table remediations add column tenant_id text not null default 'default' references tenants(id);
      alter table remediations alter column tenant_id drop default;
      alter table remediations drop constraint remediations_idempotency_key_key;
      alter table remediations add constraint remediations_tenant_idempotency_key_key unique (tenant_id, idempotency_key);
      create index remediations_tenant_idx on remediations (tenant_id, created_at);
      alter table executions add column tenant_id text not null default 'default' references tenants(id);
      alter table executions alter column tenant_id drop default;
      alter table executions drop constraint executions_idempotency_key_key;
      alter table executions add constraint executions_tenant_idempotency_key_key unique (tenant_id, idempotency_key);
      alter table dead_letters add column tenant_id text references tenants(id);
      update dead_letters d set tenant_id = e.tenant_id from executions e where e.id = d.execution_id;
      create index dead_letters_tenant_idx on dead_letters (tenant_id, id);
    `);
  }

  override down(): void {
    this.addSql(`
      drop index dead_letters_tenant_idx;
      alter table dead_letters drop column tenant_id;
      alter table executions drop constraint executions_tenant_idempotency_key_key;
      alter table executions add constraint executions_idempotency_key_key unique (idempotency_key);
      alter table executions drop column tenant_id;
      drop index remediations_tenant_idx;
      alter table remediations drop constraint remediations_tenant_idempotency_key_key;
      alter table remediations add constraint remediations_idempotency_key_key unique (idempotency_key);
      alter table remediations drop column tenant_id;
      drop table api_keys;
      drop table tenants;
    `);
  }
}
