import { parseArgs } from 'node:util';
import { startGitMirrorLocal } from './server.js';

/**
 * CLI of git-mirror-local:
 * `tsx tools/git-mirror-local/src/main.ts --root <dir> [--port 3901] [--host 127.0.0.1] [--no-build] [--log]`.
 * Flags fall back to env `GIT_MIRROR_LOCAL_ROOT`, `GIT_MIRROR_LOCAL_PORT`, `GIT_MIRROR_LOCAL_HOST`,
 * `GIT_MIRROR_LOCAL_LOG=1`. Prints exactly one line to stdout when ready (after the bundles are
 * built), `git-mirror-local listening on <url>`; request logs (with `--log`) go to stderr. Stops
 * on SIGTERM/SIGINT. Exit code 2 on bad arguments, 1 when the server cannot start.
 */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      root: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      'no-build': { type: 'boolean' },
      log: { type: 'boolean' },
    },
    strict: true,
  });
  const env = process.env;
  const port = Number(values.port ?? env['GIT_MIRROR_LOCAL_PORT'] ?? '3901');
  const root = values.root ?? env['GIT_MIRROR_LOCAL_ROOT'];
  if (!Number.isInteger(port) || port < 0 || port > 65535 || root === undefined || root === '') {
    process.stderr.write(
      'usage: git-mirror-local --root <dir> [--port <0-65535>] [--host <addr>] [--no-build] [--log]\n' +
        '       (or env GIT_MIRROR_LOCAL_ROOT, GIT_MIRROR_LOCAL_PORT, GIT_MIRROR_LOCAL_HOST, GIT_MIRROR_LOCAL_LOG=1)\n',
    );
    process.exitCode = 2;
    return;
  }
  const log = values.log ?? env['GIT_MIRROR_LOCAL_LOG'] === '1';
  const server = await startGitMirrorLocal({
    root,
    port,
    host: values.host ?? env['GIT_MIRROR_LOCAL_HOST'] ?? '127.0.0.1',
    buildOnStart: values['no-build'] !== true,
    ...(log ? { log: (line: string) => process.stderr.write(`${line}\n`) } : {}),
  });
  process.stdout.write(`git-mirror-local listening on ${server.url}\n`);
  const stop = (): void => {
    void server.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`git-mirror-local: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
