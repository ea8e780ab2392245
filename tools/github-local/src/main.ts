import { parseArgs } from 'node:util';
import { startGithubLocal } from './server.js';

/**
 * CLI of github-local:
 * `tsx tools/github-local/src/main.ts --port 3900 --repos-root <dir> [--host 127.0.0.1] [--public-url <url>] [--log]`.
 * Flags fall back to env `GITHUB_LOCAL_PORT`, `GITHUB_LOCAL_REPOS_ROOT`, `GITHUB_LOCAL_HOST`,
 * `GITHUB_LOCAL_PUBLIC_URL`, `GITHUB_LOCAL_LOG=1`. Prints exactly one line to stdout when ready,
 * `github-local listening on <url>`; logs (with `--log`) go to stderr. Stops on SIGTERM/SIGINT.
 * Exit code 2 on bad arguments, 1 when the server cannot start.
 */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      'repos-root': { type: 'string' },
      host: { type: 'string' },
      'public-url': { type: 'string' },
      log: { type: 'boolean' },
    },
    strict: true,
  });
  const env = process.env;
  const portText = values.port ?? env['GITHUB_LOCAL_PORT'] ?? '3900';
  const port = Number(portText);
  const reposRoot = values['repos-root'] ?? env['GITHUB_LOCAL_REPOS_ROOT'];
  if (!Number.isInteger(port) || port < 0 || port > 65535 || reposRoot === undefined || reposRoot === '') {
    process.stderr.write(
      'usage: github-local --port <0-65535> --repos-root <dir> [--host <addr>] [--public-url <url>] [--log]\n' +
        '       (or env GITHUB_LOCAL_PORT, GITHUB_LOCAL_REPOS_ROOT, GITHUB_LOCAL_HOST, GITHUB_LOCAL_PUBLIC_URL, GITHUB_LOCAL_LOG=1)\n',
    );
    process.exitCode = 2;
    return;
  }
  const publicUrl = values['public-url'] ?? env['GITHUB_LOCAL_PUBLIC_URL'];
  const server = await startGithubLocal({
    port,
    reposRoot,
    host: values.host ?? env['GITHUB_LOCAL_HOST'] ?? '127.0.0.1',
    logger: values.log ?? env['GITHUB_LOCAL_LOG'] === '1',
    ...(publicUrl ? { publicUrl } : {}),
  });
  process.stdout.write(`github-local listening on ${server.url}\n`);
  const stop = (): void => {
    void server.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`github-local: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
