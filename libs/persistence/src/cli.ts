import { ensureDatabaseExists, migrate, openDatabase } from './database.js';

/** `tsx libs/persistence/src/cli.ts migrate`: creates the database if needed and migrates it. */
const url = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/remediation';
const command = process.argv[2];
if (command !== 'migrate') {
  console.error('usage: cli.ts migrate   (DATABASE_URL selects the database)');
  process.exit(2);
}
await ensureDatabaseExists(url);
const db = await openDatabase(url);
try {
  const applied = await migrate(db);
  console.error(applied.length ? `applied migrations: ${applied.join(', ')}` : 'database is up to date');
} finally {
  await db.close();
}
