import { parseArgs } from 'node:util';
import { startCargoLocal } from './server.js';

/**
 * CLI of cargo-local: `tsx tools/cargo-local/src/main.ts --dir test/fixtures/registry/cargo [--port 3904] [--host 127.0.0.1]`.
 * Serves a Cargo sparse index at `<url>/` (use `<url>` as `CARGO_INDEX_URL`, or `sparse+<url>/`
 * as a Cargo registry `index`). Flags fall back to env `CARGO_LOCAL_DIR`, `CARGO_LOCAL_PORT`,
 * `CARGO_LOCAL_HOST`; env `CARGO_LOCAL_AUTHORIZATION` requires that exact `Authorization` header.
 * Prints one line when ready, `cargo-local listening on <url>`. Stops on SIGTERM/SIGINT. Exit code
 * 2 on bad arguments, 1 when the server cannot start.
 */
async function main(): Promise<void> {
  const { values } = parseArgs({ options: { dir: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' } }, strict: true });
  const env = process.env;
  const dir = values.dir ?? env['CARGO_LOCAL_DIR'];
  const port = Number(values.port ?? env['CARGO_LOCAL_PORT'] ?? '3904');
  if (!dir || !Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write('usage: cargo-local --dir <folder of index files> [--port <0-65535>] [--host <addr>]\n');
    process.exitCode = 2;
    return;
  }
  const authorization = env['CARGO_LOCAL_AUTHORIZATION'];
  const server = await startCargoLocal({ dir, port, host: values.host ?? env['CARGO_LOCAL_HOST'] ?? '127.0.0.1', ...(authorization ? { authorization } : {}) });
  process.stdout.write(`cargo-local listening on ${server.url}\n`);
  const stop = (): void => void server.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`cargo-local: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
