import { parseArgs } from 'node:util';
import { startGoProxyLocal } from './server.js';

/**
 * CLI of go-proxy-local: `tsx tools/go-proxy-local/src/main.ts --dir test/fixtures/registry/go [--port 3905] [--host 127.0.0.1]`.
 * Serves the Go module proxy protocol at `<url>` (use it as GOPROXY). Flags fall back to env
 * `GO_PROXY_LOCAL_DIR`, `GO_PROXY_LOCAL_PORT`, `GO_PROXY_LOCAL_HOST`; env
 * `GO_PROXY_LOCAL_AUTHORIZATION` requires that exact `Authorization` header. Prints one line when
 * ready, `go-proxy-local listening on <url>`. Stops on SIGTERM/SIGINT. Exit code 2 on bad
 * arguments, 1 when the server cannot start.
 */
async function main(): Promise<void> {
  const { values } = parseArgs({ options: { dir: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' } }, strict: true });
  const env = process.env;
  const dir = values.dir ?? env['GO_PROXY_LOCAL_DIR'];
  const port = Number(values.port ?? env['GO_PROXY_LOCAL_PORT'] ?? '3905');
  if (!dir || !Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write('usage: go-proxy-local --dir <folder laid out as a module proxy> [--port <0-65535>] [--host <addr>]\n');
    process.exitCode = 2;
    return;
  }
  const authorization = env['GO_PROXY_LOCAL_AUTHORIZATION'];
  const server = await startGoProxyLocal({ dir, port, host: values.host ?? env['GO_PROXY_LOCAL_HOST'] ?? '127.0.0.1', ...(authorization ? { authorization } : {}) });
  process.stdout.write(`go-proxy-local listening on ${server.url}\n`);
  const stop = (): void => void server.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`go-proxy-local: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
