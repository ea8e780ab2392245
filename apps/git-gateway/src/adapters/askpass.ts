/**
 * Per-operation HTTP credentials for git through a one-shot `GIT_ASKPASS` helper.
 *
 * The helper script contains no secret: it prints `$GIT_GATEWAY_ASKPASS_USERNAME` when git asks
 * for a username and `$GIT_GATEWAY_ASKPASS_PASSWORD` otherwise. The values live only in the
 * environment of that one git process; nothing is written to the mirror config, to a
 * credential helper (`-c credential.helper=` clears configured helpers so e.g. `store` cannot
 * persist them) or to logs (callers pass the password in `redact`). The script's directory is
 * removed when the operation ends. Source: git's documented prompt order, gitcredentials(7)
 * ("GIT_ASKPASS … the program is called with a prompt as argument").
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** HTTP(S) basic credentials for one operation (a token is passed as the password). */
export interface GitCredentials {
  username: string;
  password: string;
}

/** What to add to one git invocation to use the credentials. */
export interface AskpassContext {
  /** Config arguments to place before the subcommand (`-c credential.helper=`). */
  configArgs: string[];
  /** Environment for the git process (`GIT_ASKPASS` and the two value variables). */
  env: Record<string, string>;
  /** Strings to redact from any error output. */
  redact: string[];
}

const SCRIPT = `#!/bin/sh
case "$1" in
  [Uu]sername*) printf '%s\\n' "$GIT_GATEWAY_ASKPASS_USERNAME" ;;
  *) printf '%s\\n' "$GIT_GATEWAY_ASKPASS_PASSWORD" ;;
esac
`;

/**
 * Runs `fn` with an askpass context for `credentials` (or an empty context when undefined) and
 * removes the helper afterwards, whether `fn` succeeds or throws.
 * @param credentials username/password (token) or undefined for anonymous/ssh-agent access.
 * @throws whatever `fn` throws; filesystem errors creating the temp helper.
 */
export async function withAskpass<T>(credentials: GitCredentials | undefined, fn: (ctx: AskpassContext) => Promise<T>): Promise<T> {
  if (credentials === undefined) {
    return fn({ configArgs: [], env: {}, redact: [] });
  }
  const dir = await mkdtemp(join(tmpdir(), 'git-gateway-askpass-'));
  try {
    const script = join(dir, 'askpass.sh');
    await writeFile(script, SCRIPT, { mode: 0o700 });
    await chmod(script, 0o700);
    return await fn({
      configArgs: ['-c', 'credential.helper='],
      env: {
        GIT_ASKPASS: script,
        GIT_GATEWAY_ASKPASS_USERNAME: credentials.username,
        GIT_GATEWAY_ASKPASS_PASSWORD: credentials.password,
      },
      redact: [credentials.password, encodeURIComponent(credentials.password)].filter((s) => s.length > 0),
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
