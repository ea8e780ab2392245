import { parseArgs } from 'node:util';
import { startPypiLocal } from './server.js';

/**
 * CLI of pypi-local: `tsx tools/pypi-local/src/main.ts --dir test/fixtures/registry/pypi [--port 3903] [--host 127.0.0.1]`.
 * Serves PyPI's JSON API at `<url>/pypi/<name>/json` and the Simple API JSON at `<url>/simple/`
 * (use `<url>` as `PYPI_URL`). Flags fall back to env `PYPI_LOCAL_DIR`, `PYPI_LOCAL_PORT`,
 * `PYPI_LOCAL_HOST`; env `PYPI_LOCAL_AUTHORIZATION` requires that exact `Authorization` header.
 * Prints one line when ready, `pypi-local listening on <url>`. Stops on SIGTERM/SIGINT. Exit code
 * 2 on bad arguments, 1 when the server cannot start.
 */
async function main(): Promise<void> {
  const { values } = parseArgs({ options: { dir: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' } }, strict: true });
  const env = process.env;
  const dir = values.dir ?? env['PYPI_LOCAL_DIR'];
  const port = Number(values.port ?? env['PYPI_LOCAL_PORT'] ?? '3903');
  if (!dir || !Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write('usage: pypi-local --dir <folder of package files> [--port <0-65535>] [--host <addr>]\n');
    process.exitCode = 2;
    return;
  }
  const authorization = env['PYPI_LOCAL_AUTHORIZATION'];
  const server = await startPypiLocal({ dir, port, host: values.host ?? env['PYPI_LOCAL_HOST'] ?? '127.0.0.1', ...(authorization ? { authorization } : {}) });
  process.stdout.write(`pypi-local listening on ${server.url}\n`);
  const stop = (): void => void server.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`pypi-local: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
