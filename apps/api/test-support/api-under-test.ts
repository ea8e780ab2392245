import pino from 'pino';
import type { NatsHandles } from '@remediation/messaging';
import { type Database, createApiKey, ensureDatabaseExists, migrate, openDatabase, upsertTenant } from '@remediation/persistence';
import { dropDatabase, freshDatabaseUrl } from '@remediation/testing';
import { type ApiContext, type ApiOptions, buildApi } from '../src/server.js';

/** The API built over a fresh, migrated database (no NATS: routes that publish are not for these specs). */
export interface ApiUnderTest {
  app: Awaited<ReturnType<typeof buildApi>>;
  db: Database;
  /** Headers that authenticate as `tenant` (an `admin` API key of it). */
  as(tenant?: string): Record<string, string>;
  close(): Promise<void>;
}

/**
 * Builds the API for a spec: a fresh database (`freshDatabaseUrl(label)`), the given tenants each
 * with an admin-scoped API key, and stand-ins for service-runtime's `/healthz`, `/readyz` and
 * `/metrics` (added after buildApi, as there). `context` adds the API's optional settings (codebase
 * policy, JWT verification).
 */
export async function apiUnderTest(
  label: string,
  options: ApiOptions = {},
  tenants: string[] = ['default'],
  context: Pick<ApiContext, 'repositoryPolicy' | 'jwt'> = {},
): Promise<ApiUnderTest> {
  const url = freshDatabaseUrl(label);
  await ensureDatabaseExists(url);
  const db = await openDatabase(url, { poolMax: 4 });
  await migrate(db);
  const keys = new Map<string, string>();
  for (const tenant of tenants) {
    if (tenant !== 'default') await upsertTenant(db, { id: tenant });
    keys.set(tenant, (await createApiKey(db, { tenant, name: 'spec', scopes: ['admin'] })).key);
  }
  const app = await buildApi({ db, nats: {} as NatsHandles, worker: 'spec:1', logger: pino({ level: 'silent' }), ...context }, options);
  for (const path of ['/healthz', '/readyz', '/metrics']) app.get(path, async () => ({ status: 'ok' }));
  await app.ready();
  return {
    app,
    db,
    as: (tenant = tenants[0]!) => ({ 'x-api-key': keys.get(tenant)! }),
    async close() {
      await app.close();
      await db.close();
      await dropDatabase(url).catch(() => undefined);
    },
  };
}
