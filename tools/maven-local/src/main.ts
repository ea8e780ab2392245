import { parseArgs } from 'node:util';
import { startMavenLocal } from './server.js';

/**
 * CLI of maven-local: `tsx tools/maven-local/src/main.ts --dir test/fixtures/registry/maven [--port 3906] [--host 127.0.0.1]`.
 * Serves a Maven repository layout at `<url>/` (use `<url>` as an entry of `MAVEN_REPOSITORY_URL`).
 * Flags fall back to env `MAVEN_LOCAL_DIR`, `MAVEN_LOCAL_PORT`, `MAVEN_LOCAL_HOST`; env
 * `MAVEN_LOCAL_AUTHORIZATION` requires that exact `Authorization` header. Prints one line when
 * ready, `maven-local listening on <url>`. Stops on SIGTERM/SIGINT. Exit code 2 on bad arguments,
 * 1 when the server cannot start.
 */
async function main(): Promise<void> {
  const { values } = parseArgs({ options: { dir: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' } }, strict: true });
  const env = process.env;
  const dir = values.dir ?? env['MAVEN_LOCAL_DIR'];
  const port = Number(values.port ?? env['MAVEN_LOCAL_PORT'] ?? '3906');
  if (!dir || !Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write('usage: maven-local --dir <folder in the Maven repository layout> [--port <0-65535>] [--host <addr>]\n');
    process.exitCode = 2;
    return;
  }
  const authorization = env['MAVEN_LOCAL_AUTHORIZATION'];
  const server = await startMavenLocal({ dir, port, host: values.host ?? env['MAVEN_LOCAL_HOST'] ?? '127.0.0.1', ...(authorization ? { authorization } : {}) });
  process.stdout.write(`maven-local listening on ${server.url}\n`);
  const stop = (): void => void server.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`maven-local: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
