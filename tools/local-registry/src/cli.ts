import { parseArgs } from 'node:util';
import type { LocalRegistry } from './server.js';

/** What one local registry's command line needs to know. */
export interface LocalRegistryCli {
  /** Tool name, e.g. `cargo-local`: the ready line, error prefix and usage name. */
  name: string;
  /** Prefix of the env fallbacks, e.g. `CARGO_LOCAL` for `CARGO_LOCAL_DIR`, `_PORT`, `_HOST`, `_AUTHORIZATION`. */
  envPrefix: string;
  /** Port when neither `--port` nor `<prefix>_PORT` is given. */
  defaultPort: number;
  /** What `--dir` holds, for the usage line (e.g. `folder of index files`). */
  dirHelp: string;
  /** Starts the server on the parsed settings. */
  start(options: { dir: string; port: number; host: string; authorization?: string }): Promise<LocalRegistry>;
}

/**
 * Runs a local registry's CLI: `--dir <folder> [--port <0-65535>] [--host <addr>]`, flags falling
 * back to env `<prefix>_DIR`, `<prefix>_PORT`, `<prefix>_HOST`; env `<prefix>_AUTHORIZATION`
 * requires that exact `Authorization` header. Prints `<name> listening on <url>` when ready and
 * stops on SIGTERM/SIGINT. Exit code 2 on bad arguments (with the usage line on stderr), 1 when
 * the server cannot start.
 */
export function runLocalRegistryCli(cli: LocalRegistryCli): void {
  const main = async (): Promise<void> => {
    const { values } = parseArgs({ options: { dir: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' } }, strict: true });
    const env = process.env;
    const dir = values.dir ?? env[`${cli.envPrefix}_DIR`];
    const port = Number(values.port ?? env[`${cli.envPrefix}_PORT`] ?? String(cli.defaultPort));
    if (!dir || !Number.isInteger(port) || port < 0 || port > 65535) {
      process.stderr.write(`usage: ${cli.name} --dir <${cli.dirHelp}> [--port <0-65535>] [--host <addr>]\n`);
      process.exitCode = 2;
      return;
    }
    const authorization = env[`${cli.envPrefix}_AUTHORIZATION`];
    const server = await cli.start({ dir, port, host: values.host ?? env[`${cli.envPrefix}_HOST`] ?? '127.0.0.1', ...(authorization ? { authorization } : {}) });
    process.stdout.write(`${cli.name} listening on ${server.url}\n`);
    const stop = (): void => void server.close().then(() => process.exit(0));
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  };
  main().catch((error: unknown) => {
    process.stderr.write(`${cli.name}: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
