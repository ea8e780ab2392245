import { parseCliOptions, USAGE } from './cli-options.js';
import { startGithubLocal } from './server.js';

/**
 * CLI of github-local:
 * `tsx tools/github-local/src/main.ts --port 3900 --repos-root <dir> [--host 127.0.0.1] [--public-url <url>]
 *  [--actor <login>] [--log] [--webhook-url <url> [--webhook-secret <secret>]]
 *  [--app-id <id> --app-public-key <pem file> --installation <id>:<owner>[:<repo>,...] ... [--app-slug <slug>] [--token-ttl <s>]]`.
 * Flags fall back to env `GITHUB_LOCAL_PORT`, `GITHUB_LOCAL_REPOS_ROOT`, `GITHUB_LOCAL_HOST`,
 * `GITHUB_LOCAL_PUBLIC_URL`, `GITHUB_LOCAL_ACTOR`, `GITHUB_LOCAL_LOG=1`, `GITHUB_LOCAL_WEBHOOK_URL`,
 * `GITHUB_LOCAL_WEBHOOK_SECRET`, `GITHUB_LOCAL_APP_ID`, `GITHUB_LOCAL_APP_PUBLIC_KEY` (a file),
 * `GITHUB_LOCAL_INSTALLATIONS` (space-separated `<id>:<owner>[:<repos>]`), `GITHUB_LOCAL_APP_SLUG`,
 * `GITHUB_LOCAL_TOKEN_TTL` (see `parseCliOptions`). Prints exactly one line to stdout when ready,
 * `github-local listening on <url>`; logs (with `--log`) go to stderr. Stops on SIGTERM/SIGINT.
 * Exit code 2 on bad arguments, 1 when the server cannot start.
 */
async function main(): Promise<void> {
  const parsed = parseCliOptions(process.argv.slice(2), process.env);
  if (!parsed.ok) {
    process.stderr.write(`github-local: ${parsed.error}\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  const server = await startGithubLocal(parsed.options);
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
