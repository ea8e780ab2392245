import { createHash, randomBytes } from 'node:crypto';
import { InvalidInputError, NotFoundError } from '@remediation/errors';
import type { Database } from './database.js';
import { ApiKeyEntity, TenantEntity } from './entities.js';

/**
 * A tenant id: a NATS subject token of its public events (`remediation.evt.v1.<tenant>.…`), so
 * lower-case letters, digits and `-`, 1–63 characters, starting with a letter or digit. The same
 * rule is a CHECK constraint of `tenants.id` (migration 0006).
 */
export const TENANT_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** The scopes a credential may carry (issue 11); `admin` implies every other. */
export const SCOPES = ['remediations:read', 'remediations:write', 'executions:approve', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/** The tenant of rows made before tenancy (migration 0006) and of callers that name none (specs, tools). */
export const DEFAULT_TENANT = 'default';

/** Prefix of every API key: tells an API key from a JWT in `Authorization: Bearer …`. */
export const API_KEY_PREFIX = 'rk_';

/** A tenant's configuration. Empty lists allow any host / owner (that the operator allows). */
export interface Tenant {
  id: string;
  name: string;
  allowedHosts: string[];
  allowedOwners: string[];
  /**
   * Days a finished remediation (every execution terminal, no pull request open) is kept after its
   * last execution completed, then pruned with its executions and their history
   * (`pruneExpiredRemediations`); null keeps them forever.
   */
  executionRetentionDays: number | null;
}

/** The identity an API key stands for. */
export interface ApiKeyIdentity {
  keyId: string;
  tenant: string;
  name: string;
  scopes: string[];
}

/** A `text[]` from a JSON array parameter (the driver would expand a JS array into a list). */
const TEXT_ARRAY = 'array(select jsonb_array_elements_text(?::jsonb))';

/**
 * Hex SHA-256 of an API key. Keys are 32 random bytes (256 bits), so a fast unsalted hash is
 * enough: nobody can guess a key from its hash, and a lookup by hash is one index probe (a slow
 * password hash such as scrypt protects low-entropy secrets, which these are not).
 */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/**
 * Creates a tenant (or updates its name and allow-lists when it exists). `executionRetentionDays`
 * left out keeps the tenant's current retention (null, keep forever, for a new tenant).
 * @throws InvalidInputError `TENANT_INVALID` when the id does not match TENANT_ID_PATTERN;
 *   `RETENTION_INVALID` when `executionRetentionDays` is not a positive whole number or null.
 */
export async function upsertTenant(
  db: Database,
  tenant: { id: string; name?: string; allowedHosts?: string[]; allowedOwners?: string[]; executionRetentionDays?: number | null },
): Promise<Tenant> {
  if (!TENANT_ID_PATTERN.test(tenant.id)) {
    throw new InvalidInputError('TENANT_INVALID', `tenant id ${JSON.stringify(tenant.id)} must match ${TENANT_ID_PATTERN.source} (it is a NATS subject token)`);
  }
  const days = tenant.executionRetentionDays;
  if (days !== undefined && days !== null && !(Number.isInteger(days) && days > 0)) {
    throw new InvalidInputError('RETENTION_INVALID', `executionRetentionDays must be a positive whole number of days or null (keep forever); got ${JSON.stringify(days)}`);
  }
  const rows = await db.em().execute<Array<{ execution_retention_days: number | null }>>(
    `insert into tenants (id, name, allowed_hosts, allowed_owners, execution_retention_days) values (?, ?, ${TEXT_ARRAY}, ${TEXT_ARRAY}, ?)
     on conflict (id) do update set name = excluded.name, allowed_hosts = excluded.allowed_hosts, allowed_owners = excluded.allowed_owners,
       execution_retention_days = case when ? then excluded.execution_retention_days else tenants.execution_retention_days end
     returning execution_retention_days`,
    [tenant.id, tenant.name ?? tenant.id, JSON.stringify(tenant.allowedHosts ?? []), JSON.stringify(tenant.allowedOwners ?? []), days ?? null, days !== undefined],
  );
  return {
    id: tenant.id,
    name: tenant.name ?? tenant.id,
    allowedHosts: tenant.allowedHosts ?? [],
    allowedOwners: tenant.allowedOwners ?? [],
    executionRetentionDays: rows[0]?.execution_retention_days ?? null,
  };
}

/**
 * A tenant's configuration.
 * @throws NotFoundError when the tenant does not exist.
 */
export async function loadTenant(db: Database, id: string): Promise<Tenant> {
  const row = await db.em().findOne(TenantEntity, { id });
  if (!row) throw new NotFoundError('tenant', id);
  return { id: row.id, name: row.name, allowedHosts: [...row.allowedHosts], allowedOwners: [...row.allowedOwners], executionRetentionDays: row.executionRetentionDays ?? null };
}

/**
 * Creates an API key for a tenant's service account and returns it: the key itself is shown only
 * here (`rk_` + 43 base64url characters = 256 random bits); the database keeps its hash.
 * @throws InvalidInputError `SCOPE_INVALID` for an unknown scope; NotFoundError when the tenant does not exist.
 */
export async function createApiKey(db: Database, input: { tenant: string; name: string; scopes: string[] }): Promise<{ id: string; key: string }> {
  const unknown = input.scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
  if (unknown.length || input.scopes.length === 0) {
    throw new InvalidInputError('SCOPE_INVALID', `scopes must be some of ${SCOPES.join(', ')}; got ${JSON.stringify(input.scopes)}`);
  }
  await loadTenant(db, input.tenant);
  const key = `${API_KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
  const id = `key_${randomBytes(8).toString('hex')}`;
  await db.em().execute(`insert into api_keys (id, tenant_id, name, key_hash, scopes) values (?, ?, ?, ?, ${TEXT_ARRAY})`, [
    id,
    input.tenant,
    input.name,
    hashApiKey(key),
    JSON.stringify(input.scopes),
  ]);
  return { id, key };
}

/** The identity of an API key that exists and is not revoked, or null. */
export async function findApiKey(db: Database, key: string): Promise<ApiKeyIdentity | null> {
  const row = await db.em().findOne(ApiKeyEntity, { keyHash: hashApiKey(key), revokedAt: null });
  return row ? { keyId: row.id, tenant: row.tenantId, name: row.name, scopes: [...row.scopes] } : null;
}

/**
 * Revokes an API key (it is refused from now on; the row stays for the audit).
 * @throws NotFoundError when no key has that id.
 */
export async function revokeApiKey(db: Database, id: string): Promise<void> {
  const n = await db.em().nativeUpdate(ApiKeyEntity, { id, revokedAt: null }, { revokedAt: new Date() });
  if (n === 0 && !(await db.em().findOne(ApiKeyEntity, { id }))) throw new NotFoundError('api key', id);
}
