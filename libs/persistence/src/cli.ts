import { parseArgs } from 'node:util';
import { ensureDatabaseExists, migrate, openDatabase } from './database.js';
import { createApiKey, revokeApiKey, upsertTenant } from './tenants.js';

/**
 * The database's command line (`./run migrate`, `./run admin …`); DATABASE_URL selects the database.
 *   migrate                                  create the database if needed and migrate it
 *   tenant-create --id <id> [--name <name>] [--allowed-hosts h1,h2] [--allowed-owners o1,o2]
 *                 [--execution-retention-days <days>|forever]
 *                                            create (or update) a tenant; empty lists allow any;
 *                                            finished remediations are pruned <days> after their
 *                                            last execution completed (left out: unchanged, a new
 *                                            tenant keeps them forever)
 *   api-key-create --tenant <id> --name <name> --scopes s1,s2
 *                                            create an API key and print it once (stdout)
 *   api-key-revoke --id <key id>             revoke an API key
 * Exit codes: 0 done, 2 usage, 1 failure (the message names what was wrong).
 */
const USAGE = `usage: cli.ts migrate
       cli.ts tenant-create --id <id> [--name <name>] [--allowed-hosts h1,h2] [--allowed-owners o1,o2] [--execution-retention-days <days>|forever]
       cli.ts api-key-create --tenant <id> --name <name> --scopes remediations:read,remediations:write,executions:approve,admin
       cli.ts api-key-revoke --id <key id>
(DATABASE_URL selects the database)`;

const url = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/remediation';
const [command, ...rest] = process.argv.slice(2);
const list = (v: string | undefined) => (v ? v.split(',').map((s) => s.trim()).filter(Boolean) : []);

/** `--execution-retention-days`: a whole number of days, or `forever` (null); left out, nothing (unchanged). */
function retentionDays(value: string | undefined): { executionRetentionDays?: number | null } {
  if (value === undefined) return {};
  if (value === 'forever') return { executionRetentionDays: null };
  if (!/^[1-9][0-9]*$/.test(value)) usage(`--execution-retention-days must be a positive whole number of days or "forever"; got ${JSON.stringify(value)}`);
  return { executionRetentionDays: Number(value) };
}

function usage(message?: string): never {
  if (message) console.error(message);
  console.error(USAGE);
  process.exit(2);
}

let values: Record<string, string | undefined>;
try {
  values = parseArgs({
    args: rest,
    options: {
      id: { type: 'string' },
      name: { type: 'string' },
      tenant: { type: 'string' },
      scopes: { type: 'string' },
      'allowed-hosts': { type: 'string' },
      'allowed-owners': { type: 'string' },
      'execution-retention-days': { type: 'string' },
    },
    strict: true,
  }).values as Record<string, string | undefined>;
} catch (err) {
  usage((err as Error).message);
}
if (!['migrate', 'tenant-create', 'api-key-create', 'api-key-revoke'].includes(command ?? '')) usage();

await ensureDatabaseExists(url);
const db = await openDatabase(url);
try {
  const applied = await migrate(db);
  if (command === 'migrate') {
    console.error(applied.length ? `applied migrations: ${applied.join(', ')}` : 'database is up to date');
  } else if (command === 'tenant-create') {
    if (!values['id']) usage('--id is required');
    const tenant = await upsertTenant(db, {
      id: values['id'],
      ...(values['name'] ? { name: values['name'] } : {}),
      allowedHosts: list(values['allowed-hosts']),
      allowedOwners: list(values['allowed-owners']),
      ...retentionDays(values['execution-retention-days']),
    });
    console.log(JSON.stringify(tenant));
  } else if (command === 'api-key-create') {
    if (!values['tenant'] || !values['name'] || !values['scopes']) usage('--tenant, --name and --scopes are required');
    const { id, key } = await createApiKey(db, { tenant: values['tenant'], name: values['name'], scopes: list(values['scopes']) });
    console.error(`created API key ${id} for tenant ${values['tenant']}; it is shown only now:`);
    console.log(key);
  } else {
    if (!values['id']) usage('--id is required');
    await revokeApiKey(db, values['id']);
    console.error(`revoked API key ${values['id']}`);
  }
} catch (err) {
  console.error(`${command}: ${(err as Error).message}`);
  process.exitCode = 1;
} finally {
  await db.close();
}
