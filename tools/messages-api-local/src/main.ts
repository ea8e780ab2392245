import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { startMessagesApiLocal } from './server.js';
import type { ScriptTurn } from './script.js';

/**
 * CLI of messages-api-local, for local runs of the patcher against a scripted model:
 * `tsx tools/messages-api-local/src/main.ts --script turns.json [--port 3901] [--host 127.0.0.1]`.
 * `turns.json` is a JSON array of script turns (responses or errors; assertion callbacks and
 * computed turns are for tests only). Flags fall back to env `MESSAGES_API_LOCAL_SCRIPT`,
 * `MESSAGES_API_LOCAL_PORT`, `MESSAGES_API_LOCAL_HOST`. Prints exactly one line to stdout when
 * ready, `messages-api-local listening on <url>` (use it as `ANTHROPIC_BASE_URL`). Stops on
 * SIGTERM/SIGINT. Exit code 2 on bad arguments, 1 when the server cannot start.
 */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { script: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' } },
    strict: true,
  });
  const env = process.env;
  const scriptPath = values.script ?? env['MESSAGES_API_LOCAL_SCRIPT'];
  const port = Number(values.port ?? env['MESSAGES_API_LOCAL_PORT'] ?? '3901');
  if (!scriptPath || !Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write('usage: messages-api-local --script <turns.json> [--port <0-65535>] [--host <addr>]\n');
    process.exitCode = 2;
    return;
  }
  const script = JSON.parse(await readFile(scriptPath, 'utf8')) as unknown;
  if (!Array.isArray(script)) {
    process.stderr.write(`messages-api-local: ${scriptPath} is not a JSON array of turns\n`);
    process.exitCode = 2;
    return;
  }
  const server = await startMessagesApiLocal({ script: script as ScriptTurn[], port, host: values.host ?? env['MESSAGES_API_LOCAL_HOST'] ?? '127.0.0.1' });
  process.stdout.write(`messages-api-local listening on ${server.url}\n`);
  const stop = (): void => {
    for (const f of server.failures) process.stderr.write(`messages-api-local: ${f}\n`);
    void server.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`messages-api-local: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
