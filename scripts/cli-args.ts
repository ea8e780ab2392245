import { readFileSync } from 'node:fs';
import { type ParseArgsConfig, parseArgs } from 'node:util';

/**
 * The usage of a script: its first doc comment (`/** … *\/` at the top of the file), without the
 * comment markers.
 * @param scriptUrl the script's `import.meta.url`.
 */
export function scriptUsage(scriptUrl: string): string {
  const text = readFileSync(new URL(scriptUrl), 'utf8');
  const start = text.indexOf('/**');
  const end = text.indexOf('*/', start);
  if (start < 0 || end < 0) return '';
  return text
    .slice(start + 3, end)
    .replace(/^[ \t]*\* ?/gm, '')
    .trim();
}

/**
 * Parses a script's command line with node:util's `parseArgs` (strict unless `config.strict` says
 * otherwise) and a `--help` option added: `--help` prints the script's usage ({@link scriptUsage})
 * and exits 0; an unknown option, a missing value or a stray positional argument prints that
 * error and the usage on stderr and exits 2, instead of a stack trace.
 * @param scriptUrl the script's `import.meta.url`.
 * @param config as for `parseArgs`.
 * @returns what `parseArgs(config)` returns.
 */
export function parseScriptArgs<T extends ParseArgsConfig>(scriptUrl: string, config: T): ReturnType<typeof parseArgs<T>> {
  const withHelp = { ...config, options: { ...config.options, help: { type: 'boolean' as const } } };
  let parsed: ReturnType<typeof parseArgs<T>>;
  try {
    parsed = parseArgs(withHelp) as unknown as ReturnType<typeof parseArgs<T>>;
  } catch (err) {
    const code = (err as { code?: string }).code ?? '';
    if (!code.startsWith('ERR_PARSE_ARGS')) throw err;
    process.stderr.write(`${(err as Error).message}\n\n${scriptUsage(scriptUrl)}\n`);
    process.exit(2);
  }
  if ((parsed.values as Record<string, unknown>)['help']) {
    process.stdout.write(`${scriptUsage(scriptUrl)}\n`);
    process.exit(0);
  }
  return parsed;
}
