import { parseArgs } from 'node:util';
import { startOsvLocal } from './server.js';

/**
 * CLI of osv-local: `tsx tools/osv-local/src/main.ts --dir test/fixtures/osv [--port 3902] [--host 127.0.0.1]`.
 * Serves `<url>/<ecosystem>/all.zip` (use `<url>` as the planner's `OSV_ALL_ZIP_URL`) and the OSV API
 * at `<url>/v1/…` (`OSV_API_URL`). Flags fall back to env `OSV_LOCAL_DIR`, `OSV_LOCAL_PORT`,
 * `OSV_LOCAL_HOST`. Prints one line when ready, `osv-local listening on <url>`. Stops on
 * SIGTERM/SIGINT. Exit code 2 on bad arguments, 1 when the server cannot start.
 */
async function main(): Promise<void> {
  const { values } = parseArgs({ options: { dir: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' } }, strict: true });
  const env = process.env;
  const dir = values.dir ?? env['OSV_LOCAL_DIR'];
  const port = Number(values.port ?? env['OSV_LOCAL_PORT'] ?? '3902');
  if (!dir || !Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write('usage: osv-local --dir <folder of ecosystem folders> [--port <0-65535>] [--host <addr>]\n');
    process.exitCode = 2;
    return;
  }
  const server = await startOsvLocal({ dir, port, host: values.host ?? env['OSV_LOCAL_HOST'] ?? '127.0.0.1' });
  process.stdout.write(`osv-local listening on ${server.url}\n`);
  const stop = (): void => void server.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`osv-local: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
